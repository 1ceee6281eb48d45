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
    Dist d;
    if (dist_init(&d, &argc, &argv) != CD_OK) return TRAIN_EXIT_ERROR;
    int cr = cli_begin(&argc, argv, "cocodiff-train", d.rank);
    if (cr != CLI_GO) {
        dist_finalize(&d);
        return cr == CLI_DONE ? TRAIN_EXIT_OK : TRAIN_EXIT_USAGE;
    }
    h5io_errors_show(cd_verbose());
    const char *config = NULL, *sets[64], *export_out = NULL, *export_in = NULL;
    int nsets = 0, code = TRAIN_EXIT_OK, bad = 0;
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
        } else if (i + 1 < argc && !strcmp(argv[i], "--set") && nsets < 64) {
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
        } else {
            static const char *const valued[] = {"--config", "--set", "--max-steps", "--log-losses", "--export",
                                                 "--checkpoint", NULL};
            if (!strcmp(argv[i], "--set") && nsets == 64) {
                if (d.rank == 0) fprintf(stderr, "cocodiff-train: at most 64 --set\n");
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
        if (export_out) {
            char last[4200];
            snprintf(last, sizeof last, "%s/checkpoint-last.h5", cfg.work_dir);
            code = export_checkpoint(&d, export_in ? export_in : last, export_out);
        } else {
            code = train_run(&d, &cfg, &o);
        }
    }
    config_free(&cfg);
    dist_finalize(&d);
    return code;
}
