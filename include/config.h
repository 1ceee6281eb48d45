// config.h - the training configuration, in CTR-GCN's own vocabulary.
//
// PURPOSE: a CTR-GCN user's YAML (config/*/default.yaml of the official code)
// loads unchanged. Defaults are main.py get_parser()'s defaults, the feeder
// arguments' defaults are feeders/feeder_ntu.py Feeder.__init__'s and the
// model arguments' are model/ctrgcn.py Model.__init__'s. Our own settings live
// under a `cocodiff:` mapping, so a CTR-GCN file never collides with them.
//
// Differences from main.py, on purpose:
//   - an UNKNOWN key is an error naming the file, the line and the closest
//     known key ("did you mean 'base_lr'?"); main.py asserts ("WRONG ARG").
//   - a wrong type is an error naming file, line, key and expected type
//     (main.py would pass a string for base_lr on until it crashes).
//   - a duplicated key in one mapping is an error (PyYAML keeps the last).
//   - optimizer: only SGD; 'Adam' is a clear "not supported" error.
//   - numbers like 1e-4 are floats (PyYAML would read a string, which
//     argparse then converts for top-level keys; the effect is the same).
//
// Keys (dotted = nested mapping). I = accepted, ignored (no effect here; the
// keys that appeared are listed by config_ignored() for the trainer's log).
//
//   key                          type         default                 notes
//   work_dir                     string       ./work_dir/temp         outputs
//   model_saved_name             string       ''                      I (tensorboard dir)
//   config                       string       (the loaded path)       informative
//   phase                        train|test   train                   test: evaluate weights on the
//                                                                     test feeder's data, write the
//                                                                     scores (cocodiff-eval's), no training
//   save_score                   bool         false                   phase test: scores written anyway;
//                                                                     train: refused (use phase test)
//   seed                         int          1                       (+ rank per rank)
//   log_interval                 int          100                     iterations
//   save_interval                int          1                       epochs
//   save_epoch                   int          30                      first epoch saved
//   eval_interval                int          1                       epochs (main.py: every epoch)
//   print_log                    bool         true                    I (rank 0 logs)
//   show_topk                    int list     [1, 5]                  printed after every evaluation
//   feeder                       string       feeder.feeder           checked: the graph's layout's
//                                                                     (SkelLayout.feeder:
//                                                                     feeders.feeder_ntu.Feeder, or
//                                                                     feeders.feeder_ucla.Feeder with
//                                                                     graph.ucla.Graph)
//   num_worker                   int          32                      I
//   train_feeder_args.*          mapping      Feeder defaults:
//     data_path                  string       null
//     label_path                 string       null
//     split                      train|test   train (test_feeder_args:    the prep file's group to read
//                                             test: official configs
//                                             set it, Feeder's is train)
//     debug                      bool         false                   I (as in the official feeders:
//     random_choose              bool         false                   I  stored, never used)
//     random_shift               bool         false                   I
//     random_move                bool         false                   I
//     window_size                int          -1
//     normalization              bool         false                   I
//     random_rot                 bool         false
//     p_interval                 1-2 floats   [1]                     a scalar x means [x]
//     vel                        bool         false                   motion stream
//     bone                       bool         false                   bone stream
//     use_mmap                   bool         false                   I
//     repeat                     int          1                       train: the epoch visits each
//                                                                     sample repeat times (feeder_ucla's
//                                                                     key; any feeder here); test: I
//   test_feeder_args.*           mapping      same keys, same defaults
//   model                        string       null                    checked: model.ctrgcn.Model
//   model_args.*                 mapping      Model defaults:
//     num_class                  int          60
//     num_point                  int          25
//     num_person                 int          2
//     graph                      string       null                    checked: a skeleton layout's
//                                                                     name (skeleton.h: graph.ntu_rgb_d.Graph,
//                                                                     graph.kinetics.Graph, ...)
//     graph_args.labeling_mode   string       spatial                 checked: spatial
//     in_channels                int          3
//     drop_out                   float        0
//     adaptive                   bool         true                    false: refused (not implemented)
//   weights                      string       null                    initial weights
//   ignore_weights               string list  []
//   base_lr                      float        0.01
//   step                         int list     [20, 40, 60]            epochs (a scalar is an error)
//   device                       int or list  0                       I (one process per rank)
//   optimizer                    SGD          SGD                     Adam: "not supported"
//   nesterov                     bool         false
//   batch_size                   int          256                     global (all ranks)
//   test_batch_size              int          256
//   start_epoch                  int          0
//   num_epoch                    int          80
//   weight_decay                 float        0.0005                  on every parameter
//   lr_decay_rate                float        0.1
//   warm_up_epoch                int          0
//   cocodiff.sync_bn             bool         true                    BN statistics over the
//                                                                     global batch (= CTR-GCN
//                                                                     on one GPU)
//   cocodiff.checkpoint_steps    int          0                       also every N iterations (0 off)
//   cocodiff.stream              string       null                    a stream (stream.h: joint, bone,
//                                                                     ...); null: from the feeders'
//                                                                     bone/vel flags, set: must agree
//                                                                     with them
//   cocodiff.metrics_file        string       metrics.jsonl           relative to work_dir
//   cocodiff.threads             int          1                       compute threads per rank: training
//                                                                     splits each rank's batch over them
//                                                                     (ctrgcn_team.h; BN over the rank's
//                                                                     whole batch; the module's step between
//                                                                     the passes); at one sample per rank
//                                                                     its persons and frames
//   cocodiff.base_channel        int          64                      CTR-GCN width of units 1-4 (x2, x4 later)
//   cocodiff.folds               int          0                       cross-validation (fold.h): 0 off;
//                                                                     K >= 2: train on the TRAIN split
//                                                                     less fold `fold`, evaluate (test
//                                                                     transform) on that fold; the test
//                                                                     split is not used. Folds by
//                                                                     subject (NTU performer; else a
//                                                                     hash of the name), round-robin
//                                                                     over the sorted subjects
//   cocodiff.fold                int          0                       held-out fold, 0..folds-1
//   cocodiff.train_fraction      float        1                       low data: per class this share of
//                                                                     the training samples (at least
//                                                                     one; the same subset for every
//                                                                     seed; after the fold split)
//   cocodiff.dump_features       int          0                       after training, the part tokens
//                                                                     of the training samples (N passes,
//                                                                     training transform) and the
//                                                                     evaluated ones in WORK_DIR/
//                                                                     parts-{train,test}.h5 (dump.h);
//                                                                     0: none
//   cocodiff.momentum            float        0.9                     main.py hard-codes 0.9
//   cocodiff.bucket_mb           float        1                       gradient all-reduce buckets
//                                                                     (MiB, overlapped with
//                                                                     backward); 0: one blocking
//                                                                     all-reduce after backward
//   cocodiff.accumulate          int          1                       gradient accumulation: an optimizer
//                                                                     step sums the gradients of this
//                                                                     many consecutive batches of
//                                                                     batch_size (forward + backward
//                                                                     each; ONE all-reduce, ONE step), so
//                                                                     the step's batch is batch_size x
//                                                                     accumulate; the same samples as
//                                                                     that larger batch_size, but BN sees
//                                                                     each batch of batch_size (its
//                                                                     statistics, its running-statistic
//                                                                     updates); the module's losses
//                                                                     accumulate too; an epoch is
//                                                                     floor(batches / accumulate) steps;
//                                                                     checkpoints fall between steps
//   cocodiff.lr_batch            int          0                       linear lr scaling: base_lr is the
//                                                                     rate for a step of lr_batch samples;
//                                                                     the run uses base_lr x batch_size x
//                                                                     accumulate / lr_batch (the module's
//                                                                     lr too, unless module_lr is set);
//                                                                     0: base_lr as given. Warm-up:
//                                                                     warm_up_epoch (docs/training.md)
//   cocodiff.probe_scales        float list   []                      guidance scales at which the end-of-
//                                                                     training probe (conditioning.h)
//                                                                     also measures the class-text figures
//                                                                     of both modules (diversity.json
//                                                                     "by_scale"); []: the generation
//                                                                     scale (cocodiff.cfg_scale) only; a
//                                                                     finished run resumed with it reruns
//                                                                     only the probe (cdtrain.h)
// The CoCoDiff module (docs/method.md "CoCoDiff module"; training only):
//   cocodiff.module              bool         false                   train with the module
//   cocodiff.text                string       null                    cocodiff-embed HDF5; required
//                                                                     with module on: K = num_class,
//                                                                     class_id -> label (id - 1 when
//                                                                     class_id[0] == 1, else id)
//   cocodiff.parts               string       null                    part file; null: the graph's
//                                                                     layout's (SkelLayout.parts,
//                                                                     datasets/parts/ntu25.tsv, ...)
//   cocodiff.<option>                                                 the module's own options, one
//                                                                     per row of its table
//                                                                     (src/model/cocodiff_options.c:
//                                                                     guidance, ddim_steps, l_diff,
//                                                                     ...; the table is the list),
//                                                                     read straight into
//                                                                     CocodiffConfig (cocodiff.h says
//                                                                     what each does); the table holds
//                                                                     each one's type, default, range
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "cocodiff.h"
#include "optim.h"
#include "skeleton.h"

#define CONFIG_LIST_MAX 16      // entries of an int / float list (step, show_topk, device)
#define CONFIG_STR_LIST_MAX 32  // entries of ignore_weights
#define CONFIG_PROBE_SCALES_MAX 8   // entries of cocodiff.probe_scales
#define CONFIG_MAX_THREADS 256  // cocodiff.threads: BLAS and the module's threads per rank

typedef struct ConfigIntList {
    int n;
    int v[CONFIG_LIST_MAX];
} ConfigIntList;

typedef struct ConfigStrList {
    int n;
    char *v[CONFIG_STR_LIST_MAX];   // owned
} ConfigStrList;

// train_feeder_args / test_feeder_args (feeders/feeder_ntu.py Feeder).
typedef struct ConfigFeederArgs {
    char *data_path;       // NULL when unset
    char *label_path;      // NULL when unset
    char *split;           // "train" / "test"
    int debug, random_choose, random_shift, random_move;
    int window_size;       // frames after crop-resize (-1: unset)
    int normalization, random_rot;
    int n_p_interval;      // 1 or 2
    double p_interval[2];  // crop ratio (fixed when one, [lo, hi] when two)
    int vel, bone, use_mmap;
    int repeat;            // train: epoch = repeat x the samples (feeder_ucla's key); test: ignored
} ConfigFeederArgs;

// model_args (model/ctrgcn.py Model).
typedef struct ConfigModelArgs {
    int num_class, num_point, num_person;
    char *graph;           // "graph.ntu_rgb_d.Graph"
    char *labeling_mode;   // graph_args.labeling_mode
    int in_channels;
    double drop_out;
    int adaptive;
} ConfigModelArgs;

// cocodiff: our own settings (see the table above).
typedef struct ConfigCocodiff {
    int sync_bn;
    int checkpoint_steps;
    char *stream;          // NULL: derived, see config_stream()
    char *metrics_file;
    int threads;
    double momentum;
    int base_channel;      // width of the first units (official 64; tests use 8)
    int folds, fold;       // cross-validation: K folds of the train split (0: off), held-out fold
    double train_fraction; // share of each class's training samples kept (1: all)
    int dump_features;     // passes of the training samples in parts-train.h5 (0: no dump)
    double bucket_mb;      // gradient all-reduce bucket, MiB (0: one blocking call after backward)
    int accumulate;        // batches of batch_size per optimizer step (1: none)
    int lr_batch;          // the step size base_lr is for (linear scaling; 0: off)
    int n_probe_scales;    // cocodiff.probe_scales: guidance scales the final probe measures (0: cfg_scale's only)
    double probe_scales[CONFIG_PROBE_SCALES_MAX];
    // the CoCoDiff module (see the table above)
    int module;
    char *text;            // NULL when unset
    char *parts;           // NULL: by the graph (config_parts_path)
    CocodiffConfig options;   // cocodiff.<option> (cocodiff_options.c), defaults cocodiff_config_default's
} ConfigCocodiff;

typedef struct Config {
    char *work_dir, *model_saved_name, *config, *phase;
    int save_score, seed, log_interval, save_interval, save_epoch, eval_interval, print_log;
    ConfigIntList show_topk;
    char *feeder;
    int num_worker;
    ConfigFeederArgs train_feeder_args, test_feeder_args;
    char *model;
    ConfigModelArgs model_args;
    char *weights;
    ConfigStrList ignore_weights;
    double base_lr;
    ConfigIntList step;
    ConfigIntList device;
    char *optimizer;       // "SGD"
    int nesterov;
    int batch_size, test_batch_size, start_epoch, num_epoch;
    double weight_decay, lr_decay_rate;
    int warm_up_epoch;
    ConfigCocodiff cocodiff;
    // Ignored keys (I above) that the file or --set gave, ", "-separated.
    char ignored[512];
} Config;

// Fills c with the defaults (main.py's). Returns CD_OK or CD_ENOMEM.
int config_init(Config *c);

// config_init, then the YAML file at path on top. On error returns CD_EIO
// (cannot read), CD_EFORMAT (not YAML / not a mapping) or CD_EARG (unknown
// key, wrong type, bad value) and writes "path:line: what" into why. c is
// always left freeable (config_free).
int config_load(Config *c, const char *path, char *why, size_t whylen);
// The same from YAML text in memory (len bytes; e.g. the config a checkpoint
// stores); name is what the messages call it. c->config is not set.
int config_load_text(Config *c, const char *text, size_t len, const char *name, char *why, size_t whylen);

// config_load of path (which initialises c), the overrides sets[0..nsets) in order
// (config_set), then config_check: what a program's --config and --set
// give. CD_OK, or the first error's code with its reason in why.
int config_read(Config *c, const char *path, const char *const *sets, int nsets, char *why, size_t whylen);

// Applies one override "key=value" (dotted keys for nested mappings, value in
// YAML: "train_feeder_args.window_size=32", "step=[10,20]",
// "model_args.graph_args={labeling_mode: spatial}"), with the same checks as
// the file. Returns CD_OK or CD_EARG with "--set ...: what" in why.
int config_set(Config *c, const char *assignment, char *why, size_t whylen);

// Whether path (dotted) is a key of the vocabulary: CONFIG_KEY_NONE,
// CONFIG_KEY_VALUE (a value or a list), CONFIG_KEY_MAP (a nested mapping:
// train_feeder_args, model_args, ...). For main.py-style flags.
enum { CONFIG_KEY_NONE = 0, CONFIG_KEY_VALUE = 1, CONFIG_KEY_MAP = 2 };
int config_key_kind(const char *path);

// Checks across keys, for the trainer to call after the overrides: feeder,
// model, graph and labeling_mode are the ones implemented here; positive
// batch sizes and epochs; cocodiff.stream agrees with both feeders' bone/vel
// flags; cocodiff.folds 0 or >= 2 and cocodiff.fold within it. Returns CD_OK
// or CD_EARG with the reason in why.
int config_check(const Config *c, char *why, size_t whylen);

// The name of the run's stream (stream.h): cocodiff.stream when set (its
// bone/vel flags agree with the feeders', config_check), else the one
// train_feeder_args' bone and vel flags give.
const char *config_stream(const Config *c);

// The learning-rate schedule of base_lr, lr_decay_rate, warm_up_epoch, step.
OptimSchedule config_lr_schedule(const Config *c);
// base_lr after cocodiff.lr_batch's linear scaling (base_lr itself when 0).
double config_base_lr(const Config *c);
// optim_sgd_init with CTR-GCN's settings: cocodiff.momentum (0.9),
// weight_decay, nesterov. Returns CD_EARG when c->optimizer is not SGD.
int config_sgd_init(OptimSgd *o, size_t n, const Config *c);
// The skeleton layout of model_args.graph (skeleton.h), NULL when unknown
// (config_check rejects that).
const SkelLayout *config_layout(const Config *c);
// The part file of cocodiff.parts, or the graph's layout's default
// (SkelLayout.parts, e.g. "datasets/parts/ntu25.tsv").
const char *config_parts_path(const Config *c);
// The first 0-based epoch with generation (cocodiff.gen_start_epoch, or
// warm_up_epoch when it is -1).
int config_gen_start_epoch(const Config *c);

// The ignored keys that were given (", "-separated; "" when none).
const char *config_ignored(const Config *c);

// Writes the effective configuration as YAML (every key, in the table's
// order) that config_load reads back to an equal Config. Returns CD_OK or
// CD_EIO.
int config_print(const Config *c, FILE *f);

// 0 when a and b hold the same values for every key; otherwise 1, with the
// first differing key's dotted name in key[keylen] (when key is not NULL).
int config_diff(const Config *a, const Config *b, char *key, size_t keylen);

// Frees the strings; c is then all zero. NULL is fine.
void config_free(Config *c);
