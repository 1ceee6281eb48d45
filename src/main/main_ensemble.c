// main_ensemble.c - cocodiff-ensemble: CTR-GCN's stream ensemble (weighted
// sum of raw scores) of cocodiff-eval score files (see ensemble.h).
//
// USAGE: cocodiff-ensemble --scores A.h5 --scores B.h5 ... [--weights W1,W2,...] --out DIR
#include "cli.h"
#include "dist.h"
#include "ensemble.h"
#include "h5io_errors.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: cocodiff-ensemble --scores A.h5 --scores B.h5 ... [--weights W1,W2,...] --out DIR\n"
            "  --scores F     a scores.h5 written by cocodiff-eval (one per stream, at most %d); every file\n"
            "                 must list the same samples (names, labels) in the same order and the same classes\n"
            "  --weights L    one weight per --scores, comma-separated. Default: when the inputs are all the\n"
            "                 streams (their stream attribute), each once, CTR-GCN's weight of each (joint 0.6,\n"
            "                 bone 0.6, joint_motion 0.4, bone_motion 0.4); else 1 each\n"
            "  --out DIR      writes DIR/scores.h5 (fused scores, cocodiff-eval's layout) and DIR/metrics.json\n"
            "                 (top-1/top-5, per-class accuracy, confusion and each stream's top-1)\n"
            "The fused score is sum_s w_s * scores_s (raw logits, as ensemble.py). exit codes: 0 ok, 1 error\n"
            "(unreadable or disagreeing inputs, I/O), 2 usage\n" CLI_COMMON_USAGE,
            ENSEMBLE_MAX_STREAMS);
}

int main(int argc, char **argv) {
    Dist d = {0};
    int start = cli_start(&d, &argc, &argv, "cocodiff-ensemble");
    if (start != CLI_GO_ON) return start;
    h5io_errors_show(cd_verbose());
    EnsembleOptions o = {0};
    double w[ENSEMBLE_MAX_STREAMS];
    int nw = -1, bad = 0;
    char why[1024];
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (d.rank == 0) usage(stdout);
            dist_finalize(&d);
            return ENSEMBLE_EXIT_OK;
        } else if (v && !strcmp(a, "--scores")) {
            if (o.nstreams >= ENSEMBLE_MAX_STREAMS) {
                if (d.rank == 0) fprintf(stderr, "cocodiff-ensemble: at most %d --scores\n", ENSEMBLE_MAX_STREAMS);
                bad = 1;
            } else {
                o.scores[o.nstreams++] = v;
            }
            i++;
        } else if (v && !strcmp(a, "--weights")) {
            if (ensemble_parse_weights(v, w, ENSEMBLE_MAX_STREAMS, &nw, why, sizeof why)) {
                if (d.rank == 0) fprintf(stderr, "cocodiff-ensemble: %s\n", why);
                bad = 1;
            }
            i++;
        } else if (v && !strcmp(a, "--out")) { o.out_dir = v; i++;
        } else {
            static const char *const valued[] = {"--scores", "--weights", "--out", NULL};
            cli_bad_option("cocodiff-ensemble", d.rank, a, valued);
            bad = 1;
        }
    }
    if (!bad && (o.nstreams < 1 || !o.out_dir)) {
        if (d.rank == 0) fprintf(stderr, "cocodiff-ensemble: at least one --scores and --out are required (see --help)\n");
        bad = 1;
    }
    if (!bad && nw >= 0 && nw != o.nstreams) {
        if (d.rank == 0)
            fprintf(stderr, "cocodiff-ensemble: --weights gives %d values for %d --scores files\n", nw, o.nstreams);
        bad = 1;
    }
    if (nw >= 0) o.weights = w;
    int code = bad ? ENSEMBLE_EXIT_USAGE : ensemble_run(&d, &o);
    dist_finalize(&d);
    return code;
}
