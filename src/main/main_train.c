// main_train.c - cocodiff-train: CTR-GCN training from a CTR-GCN-style YAML
// config, data-parallel over MPI ranks, checkpointed and resumable.
//
// USAGE: mpirun -np N cocodiff-train --config jobs/NAME.yaml [--set key=value ...]
//            [--resume] [--max-steps N] [--log-losses FILE]
//        cocodiff-train --config jobs/NAME.yaml --export OUT.h5 [--checkpoint CKPT]
//        cocodiff-train --checkpoint CKPT --export OUT.h5
#include "checkpoint.h"
#include "config.h"
#include "cli.h"
#include "dist.h"
#include "eval.h"
#include "h5io_errors.h"
#include "status.h"
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: cocodiff-train --config FILE.yaml [--set key=value ...] [--resume | --overwrite] [--max-steps N]\n"
            "                      [--log-losses FILE]\n"
            "       cocodiff-train --config FILE.yaml --export OUT.h5 [--checkpoint CKPT]\n"
            "  --config F     a CTR-GCN style config (base_lr, step, num_epoch, batch_size,\n"
            "                 train_feeder_args.data_path = a cocodiff-prep HDF5 file, ...)\n"
            "  --set K=V      override a key (dotted for nested ones: train_feeder_args.window_size=32)\n"
            "  --resume       continue from WORK_DIR/checkpoint-last.h5 when it exists\n"
            "  --overwrite    start over in a work dir that holds a run, deleting its outputs first\n"
            "                 (without either, such a work dir is refused)\n"
            "  --max-steps N  stop (with a checkpoint) after N more optimizer steps\n"
            "  --log-losses F rank 0 writes 'step loss top1 lr' of every step to F (9 digits;\n"
            "                 with cocodiff.module on also 'diff rec gen coarse')\n"
            "  --export OUT   write an inference checkpoint (backbone + head in /model, as a plain\n"
            "                 CTR-GCN checkpoint; no optimizer, no CoCoDiff module) of WORK_DIR/\n"
            "                 checkpoint-last.h5 (or of --checkpoint CKPT) to OUT, and exit\n"
            "Checkpoints: WORK_DIR/checkpoint-last.h5 every epoch (and cocodiff.checkpoint_steps);\n"
            "SIGTERM/SIGUSR1 checkpoint and stop with exit code 3. Metrics: WORK_DIR/metrics.jsonl.\n"
            "exit codes: 0 done, 1 error (bad data, NaN loss, I/O), 2 usage/config, 3 stopped by a signal\n"
            CLI_COMMON_USAGE);
}

// main.py's own flags, so a CTR-GCN command line works as it is:
//   --work-dir D --phase test --save-score True --weights W.h5 --device 0
//   --train_feeder_args bone=True --show-topk 1 5 --ignore-weights fc
// argv[*i] is "--NAME" with NAME (- or _) a key of the config vocabulary:
// its values (up to the next "--" flag) become --set assignments, appended
// to sets (strings in owned). A mapping key takes main.py's DictAction
// values "k=v, k2=v2"; a list key several values. Returns 1 when argv[*i]
// was such a flag (*i moved past its values), 0 when not, -1 on an error
// (printed on rank 0).
#define MAX_SETS 64
static int mainpy_flag(int argc, char **argv, int *i, const char **sets, int *nsets, char **owned, int *nowned,
                       int rank) {
    char key[128];
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) || strlen(a + 2) >= sizeof key) return 0;
    snprintf(key, sizeof key, "%s", a + 2);
    for (char *s = key; *s; s++) if (*s == '-') *s = '_';
    int kind = config_key_kind(key);
    if (kind == CONFIG_KEY_NONE) return 0;
    int j = *i + 1;
    while (j < argc && strncmp(argv[j], "--", 2)) j++;
    if (j == *i + 1) {
        if (rank == 0) fprintf(stderr, "cocodiff-train: %s needs a value (see --help)\n", a);
        return -1;
    }
    for (int v = *i + 1; v < j; v++) {   // one assignment per value (a mapping: per "k=v")
        const char *val = argv[v];
        char buf[4096];
        if (kind == CONFIG_KEY_MAP) {
            char items[4096], *save = NULL;
            snprintf(items, sizeof items, "%s", val);
            for (char *kv = strtok_r(items, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                while (*kv == ' ') kv++;
                if (!strchr(kv, '=') || *nowned == MAX_SETS || *nsets == MAX_SETS) {
                    if (rank == 0) fprintf(stderr, "cocodiff-train: %s wants key=value (e.g. bone=True), got '%s'\n", a, kv);
                    return -1;
                }
                snprintf(buf, sizeof buf, "%s.%s", key, kv);
                sets[(*nsets)++] = owned[(*nowned)++] = strdup(buf);
            }
            continue;
        }
        if (v > *i + 1) continue;   // a list: all values at once, below
        if (j - *i - 1 == 1) {
            snprintf(buf, sizeof buf, "%s=%s", key, val);
        } else {
            size_t n = (size_t)snprintf(buf, sizeof buf, "%s=[", key);
            for (int w = *i + 1; w < j && n < sizeof buf; w++)
                n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", w > *i + 1 ? ", " : "", argv[w]);
            if (n < sizeof buf) snprintf(buf + n, sizeof buf - n, "]");
        }
        if (*nowned == MAX_SETS || *nsets == MAX_SETS) {
            if (rank == 0) fprintf(stderr, "cocodiff-train: at most %d settings on the command line\n", MAX_SETS);
            return -1;
        }
        sets[(*nsets)++] = owned[(*nowned)++] = strdup(buf);
    }
    *i = j - 1;
    return 1;
}

// phase: test, as main.py's: evaluates `weights` on the test feeder's data
// (its split, window, stream, test_batch_size) and writes the scores,
// nothing trained: WORK_DIR/scores.h5 and metrics.json (cocodiff-eval's).
static int test_phase(const Dist *d, const Config *c) {
    const ConfigFeederArgs *te = &c->test_feeder_args;
    if (!te->data_path) {
        if (d->rank == 0) fprintf(stderr, "cocodiff-train: phase: test needs test_feeder_args.data_path\n");
        return TRAIN_EXIT_USAGE;
    }
    EvalOptions o = {.checkpoint = c->weights, .data = te->data_path, .out_dir = c->work_dir,
                     .stream = config_stream(c), .group = te->split, .batch = c->test_batch_size,
                     .threads = c->cocodiff.threads, .window = te->window_size > 0 ? te->window_size : 0,
                     .topk = c->show_topk.v, .ntopk = c->show_topk.n};
    log_info(d, "train | phase test: %s on %s /%s, nothing trained; scores in %s", c->weights, te->data_path, te->split,
             c->work_dir);
    int rc = eval_run(d, &o);
    return rc == EVAL_EXIT_OK ? TRAIN_EXIT_OK : rc == EVAL_EXIT_USAGE ? TRAIN_EXIT_USAGE : TRAIN_EXIT_ERROR;
}

// --export: rank 0 writes the inference checkpoint; every rank returns its code.
static int export_checkpoint(const Dist *d, const char *in, const char *out) {
    int64_t rc = CD_OK;
    if (d->rank == 0) {
        char why[1024] = "";
        rc = checkpoint_export(in, out, why, sizeof why);
        if (rc) fprintf(stderr, "cocodiff-train: --export: %s\n", why[0] ? why : cd_status_str((int)rc));
        else log_info(d, "train | exported the inference checkpoint %s (from %s)", out, in);
    }
    dist_bcast_bytes(d, &rc, sizeof rc, 0);
    return rc ? TRAIN_EXIT_ERROR : TRAIN_EXIT_OK;
}

int main(int argc, char **argv) {
    Dist d = {0};
    int start = cli_start(&d, &argc, &argv, "cocodiff-train");
    if (start != CLI_GO_ON) return start;
    h5io_errors_show(cd_verbose());
    const char *config = NULL, *sets[MAX_SETS], *export_out = NULL, *export_in = NULL;
    char *owned[MAX_SETS];
    int nsets = 0, nowned = 0, code = TRAIN_EXIT_OK, bad = 0, mp;
    TrainOptions o = {0};
    for (int i = 1; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            if (d.rank == 0) usage(stdout);
            dist_finalize(&d);
            return 0;
        } else if (!strcmp(argv[i], "--resume")) {
            o.resume = 1;
        } else if (!strcmp(argv[i], "--overwrite")) {
            o.overwrite = 1;
        } else if (i + 1 < argc && !strcmp(argv[i], "--config")) {
            config = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--set") && nsets < MAX_SETS) {
            sets[nsets++] = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--max-steps")) {
            char *end = NULL;
            long v = strtol(argv[++i], &end, 10);
            if (!*argv[i] || *end || v < 1 || v > 1000000000) {
                if (d.rank == 0) fprintf(stderr, "cocodiff-train: --max-steps '%s' is not a positive integer\n", argv[i]);
                bad = 1;
            }
            o.max_steps = (int)v;
        } else if (i + 1 < argc && !strcmp(argv[i], "--log-losses")) {
            o.log_losses = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--export")) {
            export_out = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--checkpoint")) {
            export_in = argv[++i];
        } else if ((mp = mainpy_flag(argc, argv, &i, sets, &nsets, owned, &nowned, d.rank)) != 0) {
            bad = mp < 0;
        } else {
            static const char *const valued[] = {"--config", "--set", "--max-steps", "--log-losses", "--export",
                                                 "--checkpoint", NULL};
            if (!strcmp(argv[i], "--set") && nsets == MAX_SETS) {
                if (d.rank == 0) fprintf(stderr, "cocodiff-train: at most %d --set\n", MAX_SETS);
            } else {
                cli_bad_option("cocodiff-train", d.rank, argv[i], valued);
            }
            bad = 1;
        }
    }
    if (!bad && o.resume && o.overwrite) {
        if (d.rank == 0) fprintf(stderr, "cocodiff-train: --resume continues a run, --overwrite starts it over: one of them\n");
        bad = 1;
    }
    if (!bad && export_in && !export_out) {
        if (d.rank == 0) fprintf(stderr, "cocodiff-train: --checkpoint goes with --export (see --help)\n");
        bad = 1;
    }
    if (!bad && export_out && export_in && !config) {
        code = export_checkpoint(&d, export_in, export_out);
        dist_finalize(&d);
        return code;
    }
    if (!bad && !config) {
        if (d.rank == 0) fprintf(stderr, "cocodiff-train: --config is required (see --help)\n");
        bad = 1;
    }
    Config cfg;
    char why[1024] = "";
    if (bad) config_init(&cfg);
    else if (config_read(&cfg, config, sets, nsets, why, sizeof why) != CD_OK) bad = 1;
    if (!bad && !cfg.work_dir) { snprintf(why, sizeof why, "%s: work_dir is not set", config); bad = 1; }
    if (bad) {
        if (d.rank == 0 && why[0]) fprintf(stderr, "cocodiff-train: %s\n", why);
        code = TRAIN_EXIT_USAGE;
    } else {
        if (config_ignored(&cfg)[0]) log_info(&d, "train | ignored config keys: %s", config_ignored(&cfg));
        if (!strcmp(cfg.phase, "test")) {
            code = test_phase(&d, &cfg);
        } else if (export_out) {
            char last[4200];
            snprintf(last, sizeof last, "%s/checkpoint-last.h5", cfg.work_dir);
            code = export_checkpoint(&d, export_in ? export_in : last, export_out);
        } else {
            code = train_run(&d, &cfg, &o);
        }
    }
    config_free(&cfg);
    for (int i = 0; i < nowned; i++) free(owned[i]);
    dist_finalize(&d);
    return code;
}
