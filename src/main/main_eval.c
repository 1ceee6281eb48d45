// main_eval.c - cocodiff-eval: scores, top-1/top-5, per-class accuracy and
// the confusion matrix of a CTR-GCN checkpoint on a cocodiff-prep file,
// sharded over MPI ranks (see eval.h).
//
// USAGE: mpirun -np N cocodiff-eval --checkpoint CKPT.h5 --data SPLIT.h5 --out DIR
//            [--stream NAME] [--batch N] [--group test|train]
//            [--class-names LIST] [--threads N]
//        cocodiff-eval --list-streams    (one line per stream: name, job config suffix)
#include "cli.h"
#include "dist.h"
#include "eval.h"
#include "h5io_errors.h"
#include "status.h"
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    char streams[160];
    stream_names(streams, sizeof streams, "|", "|");
    fprintf(f,
            "usage: cocodiff-eval --checkpoint CKPT.h5 --data SPLIT.h5 --out DIR\n"
            "           [--stream %s] [--batch N] [--group test|train]\n"
            "           [--class-names LIST] [--threads N]\n"
            "       cocodiff-eval --list-streams\n"
            "  --checkpoint F   a cocodiff-train checkpoint or converted official weights (/model/<key>)\n"
            "  --data F         a cocodiff-prep HDF5 file; its /test group is evaluated (--group train: /train)\n"
            "  --out DIR        writes DIR/scores.h5 (raw logits, labels, names, metrics) and DIR/metrics.json\n"
            "  --stream S       input stream (default: the checkpoint's, joint when it records none);\n"
            "                   also the official data_path words motion, 'bone motion'\n"
            "  --batch N        samples per forward pass (default %d); results do not depend on the rank count\n"
            "  --class-names F  class names, one per line (line k = class k)\n"
            "  --threads N      threads per rank, each on a share of every batch (default 1); results\n"
            "                   do not depend on it\n"
            "  --list-streams   prints the streams, one line each: name and job config suffix\n"
            "The window is the checkpoint config's window_size (else 64), the crop CTR-GCN's test crop\n"
            "(p_interval [0.95]). exit codes: 0 ok, 1 error (unreadable file, checkpoint that does not fit\n"
            "the data, I/O), 2 usage\n" CLI_COMMON_USAGE,
            streams, EVAL_DEFAULT_BATCH);
}

int main(int argc, char **argv) {
    Dist d = {0};
    int start = cli_start(&d, &argc, &argv, "cocodiff-eval");
    if (start != CLI_GO_ON) return start;
    h5io_errors_show(cd_verbose());
    EvalOptions o = {.group = "test"};
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "--list-streams")) {
            for (int k = 0; d.rank == 0 && a[2] == 'l' && k < stream_count(); k++)
                printf("%s %s\n", stream_get(k)->name, stream_get(k)->job);
            if (d.rank == 0 && a[2] != 'l') usage(stdout);
            dist_finalize(&d);
            return EVAL_EXIT_OK;
        } else if (v && !strcmp(a, "--checkpoint")) { o.checkpoint = v; i++;
        } else if (v && !strcmp(a, "--data")) { o.data = v; i++;
        } else if (v && !strcmp(a, "--out")) { o.out_dir = v; i++;
        } else if (v && !strcmp(a, "--stream")) { o.stream = v; i++;
        } else if (v && !strcmp(a, "--group")) { o.group = v; i++;
        } else if (v && !strcmp(a, "--class-names")) { o.class_names = v; i++;
        } else if (v && !strcmp(a, "--threads")) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 1 || t > 1024) {
                if (d.rank == 0) fprintf(stderr, "cocodiff-eval: --threads '%s': expected an integer from 1 to 1024\n", v);
                bad = 1;
            }
            o.threads = (int)t;
            i++;
        } else if (v && !strcmp(a, "--batch")) {
            char *end;
            long b = strtol(v, &end, 10);
            if (*end || b < 1 || b > 1 << 20) {
                if (d.rank == 0) fprintf(stderr, "cocodiff-eval: --batch '%s': expected a positive integer\n", v);
                bad = 1;
            }
            o.batch = (int)b;
            i++;
        } else {
            static const char *const valued[] = {"--checkpoint", "--data", "--out", "--stream", "--group",
                                                 "--class-names", "--threads", "--batch", NULL};
            cli_bad_option("cocodiff-eval", d.rank, a, valued);
            bad = 1;
        }
    }
    if (!bad && (!o.checkpoint || !o.data || !o.out_dir)) {
        if (d.rank == 0) fprintf(stderr, "cocodiff-eval: --checkpoint, --data and --out are required (see --help)\n");
        bad = 1;
    }
    if (!bad && o.stream && !stream_find(o.stream)) {
        char streams[200];
        stream_names_aliases(streams, sizeof streams);
        if (d.rank == 0) fprintf(stderr, "cocodiff-eval: --stream '%s': expected %s\n", o.stream, streams);
        bad = 1;
    }
    if (!bad && strcmp(o.group, "test") && strcmp(o.group, "train")) {
        if (d.rank == 0) fprintf(stderr, "cocodiff-eval: --group '%s': expected test or train\n", o.group);
        bad = 1;
    }
    int code = bad ? EVAL_EXIT_USAGE : eval_run(&d, &o);
    dist_finalize(&d);
    return code;
}
