// 2220-job-configs.c - every jobs/*.yaml loads (config_load + config_check)
// and says what its name says: benchmark (data file, feeder, classes,
// joints, persons, graph, rotation, window), stream (the feeders' bone/vel
// flags and cocodiff.stream), and the official CTR-GCN schedule (the
// synthetic benchmark's short one for synth-*, config/ucla/default.yaml's
// for ucla-*, repeat 5 included). A BENCHMARK-STREAM-cocodiff.yaml variant is the same config with
// the CoCoDiff module on (cocodiff.module, cocodiff.text). One ok per file,
// plus one for the set of files being complete.
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "status.h"
#include "tap/tap.h"

// Schedules: the official NTU/Kinetics one, the synthetic benchmark's short
// one, the official NW-UCLA one (config/ucla/default.yaml).
enum { OFFICIAL, SMALL, UCLA };

typedef struct Bench {
    const char *name, *data;
    int K, V, M, rot, schedule;
    const char *graph;
} Bench;

static const Bench BENCH[] = {
    {"ntu60-xsub", "data/ntu60-xsub.h5", 60, 25, 2, 1, OFFICIAL, "graph.ntu_rgb_d.Graph"},
    {"ntu60-xview", "data/ntu60-xview.h5", 60, 25, 2, 1, OFFICIAL, "graph.ntu_rgb_d.Graph"},
    {"ntu120-xsub", "data/ntu120-xsub.h5", 120, 25, 2, 1, OFFICIAL, "graph.ntu_rgb_d.Graph"},
    {"ntu120-xset", "data/ntu120-xset.h5", 120, 25, 2, 1, OFFICIAL, "graph.ntu_rgb_d.Graph"},
    {"kinetics", "data/kinetics.h5", 400, 18, 2, 0, OFFICIAL, "graph.kinetics.Graph"},
    {"synth", "demo-out/prep/ntu60-xsub.h5", 60, 25, 2, 1, SMALL, "graph.ntu_rgb_d.Graph"},
    {"ucla", "data/ucla.h5", 10, 20, 1, 0, UCLA, "graph.ucla.Graph"},
};
#define NBENCH (int)(sizeof BENCH / sizeof BENCH[0])
// File-name suffix -> stream.
static const char *const SUFFIX[4] = {"joint", "bone", "joint-motion", "bone-motion"};
static const char *const STREAM[4] = {"joint", "bone", "joint_motion", "bone_motion"};

static int bad;
#define CK(cond, ...)                  \
    do {                               \
        if (!(cond)) { diag(__VA_ARGS__); bad++; } \
    } while (0)

static int eq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static void check_feeder(const char *f, const char *which, const ConfigFeederArgs *a, const Bench *b, int s,
                         int train) {
    CK(eq(a->data_path, b->data), "%s: %s.data_path is %s, want %s", f, which, a->data_path ? a->data_path : "null", b->data);
    CK(eq(a->split, train ? "train" : "test"), "%s: %s.split", f, which);
    int window = b->schedule == UCLA ? 52 : 64;
    CK(a->window_size == window, "%s: %s.window_size %d, want %d", f, which, a->window_size, window);
    CK(a->bone == (s & 1) && a->vel == (s >> 1), "%s: %s bone %d vel %d, want the %s stream", f, which, a->bone,
       a->vel, STREAM[s]);
    if (b->schedule == UCLA) {   // feeder_ucla: no crop or rotation keys; repeat 5 for training
        CK(a->repeat == (train ? 5 : 1) && !a->random_rot, "%s: %s repeat %d, want %d", f, which, a->repeat,
           train ? 5 : 1);
    } else if (train) {
        CK(a->n_p_interval == 2 && a->p_interval[0] == 0.5 && a->p_interval[1] == 1.0, "%s: train p_interval", f);
        CK(a->random_rot == b->rot, "%s: train random_rot %d, want %d", f, a->random_rot, b->rot);
    } else {
        CK(a->n_p_interval == 1 && a->p_interval[0] == 0.95, "%s: test p_interval", f);
        CK(!a->random_rot, "%s: test random_rot", f);
    }
}

static void check_one(const char *f, const Config *c, const Bench *b, int s, int module) {
    check_feeder(f, "train_feeder_args", &c->train_feeder_args, b, s, 1);
    check_feeder(f, "test_feeder_args", &c->test_feeder_args, b, s, 0);
    CK(eq(config_stream(c), STREAM[s]) && eq(c->cocodiff.stream, STREAM[s]), "%s: stream %s / cocodiff.stream %s, want %s",
       f, config_stream(c), c->cocodiff.stream ? c->cocodiff.stream : "null", STREAM[s]);
    CK(c->model_args.num_class == b->K, "%s: num_class %d, want %d", f, c->model_args.num_class, b->K);
    CK(c->model_args.num_point == b->V, "%s: num_point %d, want %d", f, c->model_args.num_point, b->V);
    CK(c->model_args.num_person == b->M, "%s: num_person %d, want %d", f, c->model_args.num_person, b->M);
    const char *feeder = b->schedule == UCLA ? "feeders.feeder_ucla.Feeder" : "feeders.feeder_ntu.Feeder";
    CK(eq(c->feeder, feeder), "%s: feeder %s, want %s", f, c->feeder, feeder);
    CK(eq(c->model_args.graph, b->graph), "%s: graph %s, want %s", f, c->model_args.graph, b->graph);
    char wd[128];
    snprintf(wd, sizeof wd, "work_dir/%s-%s%s", b->name, SUFFIX[s], module ? "-cocodiff" : "");
    CK(c->cocodiff.module == module && (!module || c->cocodiff.text), "%s: cocodiff.module %d (text %s), want %d with a text file",
       f, c->cocodiff.module, c->cocodiff.text ? c->cocodiff.text : "null", module);
    CK(eq(c->work_dir, wd), "%s: work_dir %s, want %s", f, c->work_dir, wd);
    double decay = b->schedule == UCLA ? 0.0001 : 0.0004;
    CK(c->base_lr == 0.1 && c->weight_decay == decay && c->lr_decay_rate == 0.1 && c->nesterov &&
           eq(c->optimizer, "SGD"), "%s: optimizer settings (base_lr 0.1, weight_decay %g, nesterov)", f, decay);
    if (b->schedule == UCLA) {
        CK(c->cocodiff.base_channel == 64 && c->num_epoch == 65 && c->step.n == 1 && c->step.v[0] == 50 &&
               c->batch_size == 16 && c->test_batch_size == 64 && c->warm_up_epoch == 5,
           "%s: the official NW-UCLA schedule (base 64, 65 epochs, step [50], batch 16, test batch 64, "
           "warm-up 5)", f);
    } else if (b->schedule == SMALL) {
        CK(c->cocodiff.base_channel == 16 && c->num_epoch == 8 && c->step.n == 1 && c->step.v[0] == 6 &&
               c->batch_size == 16 && c->warm_up_epoch == 1,
           "%s: the synthetic schedule (base 16, 8 epochs, step [6], batch 16, warm-up 1)", f);
    } else {
        CK(c->cocodiff.base_channel == 64 && c->num_epoch == 65 && c->step.n == 2 && c->step.v[0] == 35 &&
               c->step.v[1] == 55 && c->batch_size == 64 && c->test_batch_size == 64 && c->warm_up_epoch == 5,
           "%s: the official schedule (base 64, 65 epochs, step [35, 55], batch 64, warm-up 5)", f);
    }
}

int main(void) {
    glob_t g;
    if (glob("jobs/*.yaml", 0, NULL, &g) != 0) bail("no jobs/*.yaml (run from the repo root)");
    plan((int)g.gl_pathc + 1);
    int seen[NBENCH][4] = {{0}};
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *f = g.gl_pathv[i], *base = strrchr(f, '/') + 1;
        bad = 0;
        Config c;
        char why[1024] = "";
        int rc = config_load(&c, f, why, sizeof why);
        if (rc == CD_OK) rc = config_check(&c, why, sizeof why);
        if (rc != CD_OK) { diag("%s", why); bad++; }
        int bi = -1, si = -1, mi = 0;
        for (int b = 0; b < NBENCH; b++)
            for (int s = 0; s < 4; s++)
                for (int m = 0; m < 2; m++) {
                    char name[96];
                    snprintf(name, sizeof name, "%s-%s%s.yaml", BENCH[b].name, SUFFIX[s], m ? "-cocodiff" : "");
                    if (!strcmp(base, name)) { bi = b; si = s; mi = m; }
                }
        if (bi < 0) { diag("%s: name is not BENCHMARK-STREAM[-cocodiff].yaml", f); bad++; }
        if (rc == CD_OK && bi >= 0) {
            check_one(f, &c, &BENCH[bi], si, mi);
            if (!mi) seen[bi][si]++;
        }
        ok(bad == 0, "%s loads, checks and matches its name", f);
        config_free(&c);
    }
    int missing = 0;
    for (int b = 0; b < NBENCH; b++)
        for (int s = 0; s < 4; s++)
            if (!seen[b][s]) { diag("missing or broken: jobs/%s-%s.yaml", BENCH[b].name, SUFFIX[s]); missing++; }
    ok(missing == 0, "all %d benchmark x stream configs are there", NBENCH * 4);
    globfree(&g);
    return tap_done();
}
