// main_report.c - cocodiff-report: one self-contained HTML page (SVG figures)
// about a training run, its evaluations and a stream ensemble (see report.h).
//
// USAGE: cocodiff-report --run WORKDIR [--eval DIR ...] [--ensemble DIR]
//            [--class-names LIST] [--features F] --out report.html
#include "cli.h"
#include "h5io_errors.h"
#include "report.h"
#include "status.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: cocodiff-report --run WORKDIR [--eval DIR ...] [--ensemble DIR] [--class-names LIST]\n"
            "           --out report.html\n"
            "  --run D          cocodiff-train's work_dir (its metrics.jsonl, or that file itself): loss, top-1\n"
            "                   and learning-rate curves per epoch; repeatable (at most %d): the runs overlaid\n"
            "  --eval D         a cocodiff-eval output folder (scores.h5): confusion heat map, per-class accuracy,\n"
            "                   PCA map of the score vectors; repeatable (at most %d)\n"
            "  --ensemble D     a cocodiff-ensemble output folder: each stream's top-1 and the ensemble's\n"
            "  --class-names F  class names, one per line (line k = class k); default: the score files'\n"
            "  --features F     real vs generated features (cocodiff-train writes WORKDIR/features.h5 when the\n"
            "                   CoCoDiff module generates; used by default with --run WORKDIR)\n"
            "  --out F          the HTML page (self-contained: no scripts, no external files)\n"
            "At least one of --run, --eval, --ensemble. exit codes: 0 ok, 1 error (missing or bad input), 2 usage\n"
            CLI_COMMON_USAGE,
            REPORT_MAX_RUNS, REPORT_MAX_EVAL);
}

// A repeatable option's value into list[*n] (at most max): 0, or 1 after saying so.
static int push(const char **list, int *n, int max, const char *opt, const char *v) {
    if (*n >= max) {
        fprintf(stderr, "cocodiff-report: at most %d %s\n", max, opt);
        return 1;
    }
    list[(*n)++] = v;
    return 0;
}

int main(int argc, char **argv) {
    ReportOptions o = {0};
    int bad = 0, cr = cli_begin(&argc, argv, "cocodiff-report", 0);
    if (cr != CLI_GO) return cr == CLI_DONE ? REPORT_EXIT_OK : REPORT_EXIT_USAGE;
    h5io_errors_show(cd_verbose());
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return REPORT_EXIT_OK;
        } else if (v && !strcmp(a, "--run")) {
            bad = push(o.run, &o.nrun, REPORT_MAX_RUNS, a, v);
            i++;
        } else if (v && !strcmp(a, "--ensemble")) { o.ensemble = v; i++;
        } else if (v && !strcmp(a, "--class-names")) { o.class_names = v; i++;
        } else if (v && !strcmp(a, "--out")) { o.out = v; i++;
        } else if (v && !strcmp(a, "--features")) { o.features = v; i++;
        } else if (v && !strcmp(a, "--eval")) {
            bad = push(o.eval, &o.neval, REPORT_MAX_EVAL, a, v);
            i++;
        } else {
            static const char *const valued[] = {"--run", "--ensemble", "--class-names", "--out", "--features",
                                                 "--eval", NULL};
            cli_bad_option("cocodiff-report", 0, a, valued);
            bad = 1;
        }
    }
    if (!bad && !o.out) {
        fprintf(stderr, "cocodiff-report: --out is required (see --help)\n");
        bad = 1;
    }
    if (!bad && !o.nrun && !o.neval && !o.ensemble) {
        fprintf(stderr, "cocodiff-report: nothing to report: give --run, --eval or --ensemble (see --help)\n");
        bad = 1;
    }
    return bad ? REPORT_EXIT_USAGE : report_run(&o);
}
