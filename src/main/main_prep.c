// main_prep.c - cocodiff-prep: official NTU RGB+D / Kinetics-Skeleton / NW-UCLA
// archives to one parallel-HDF5 file per benchmark split.
//
// USAGE: mpirun -np N cocodiff-prep --dataset NAME (dataset.h: ntu60|ntu120|kinetics|ucla)
//            --input ARCHIVE [--input ARCHIVE ...] --out DIR
//            [--exclude LIST ...] [--strict] [--progress SECONDS]
#include "cli.h"
#include "dist.h"
#include "h5io_errors.h"
#include "prep.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    char names[128];
    dataset_names(names, sizeof names, "|");
    fprintf(f,
            "usage: cocodiff-prep --dataset %s --input ARCHIVE [--input ARCHIVE ...]\n"
            "                     --out DIR [--exclude LIST ...] [--strict] [--progress SECONDS]\n"
            "                     [--max-member-mb MB]\n"
            "\n", names);
    for (int i = 0; i < dataset_count(); i++) {   // "--dataset D: NAME writes BENCH.h5, ..."
        const DatasetFormat *ds = dataset_get(i);
        fprintf(f, "%-18s%s writes", i ? "" : "  --dataset D", ds->name);
        for (int b = 0; b < ds->nbench; b++) fprintf(f, "%s %s.h5", b ? "," : "", ds->bench[b]);
        fputc('\n', f);
    }
    fprintf(f,
            "  --input A       an archive as distributed (zip, tar, tar.gz, ...); repeat for several\n"
            "                  (NTU120 takes both NTU zips)\n"
            "  --out DIR       output folder (created); rejects go to DIR/<dataset>-rejects.tsv\n"
            "  --exclude LIST  a file of sample names to leave out, one per line (the official\n"
            "                  samples_with_missing_skeletons.txt); repeatable\n"
            "  --strict        fail (exit 3) on the first rejected sample instead of skipping it\n"
            "  --progress S    seconds between progress lines (default 10)\n"
            "  --max-member-mb MB  a larger archive member is rejected, never read whole (default %d;\n"
            "                  memory per rank stays about 12x this bound)\n"
            "exit codes: 0 ok, 1 error (I/O, corrupt archive, HDF5), 2 usage, 3 rejected sample with --strict\n"
            CLI_COMMON_USAGE, PREP_DEFAULT_MAX_MEMBER_MB);
}

static int parse_args(int argc, char **argv, PrepConfig *cfg, const Dist *d) {
    memset(cfg, 0, sizeof *cfg);
    cfg->progress_s = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (d->rank == 0) usage(stdout);
            return 1;
        } else if (!strcmp(a, "--strict")) {
            cfg->strict = 1;
            continue;
        }
        static const char *const valued[] = {"--dataset", "--input", "--exclude", "--out", "--progress",
                                             "--max-member-mb", NULL};
        if (!v) return cli_bad_option("cocodiff-prep", d->rank, a, valued);
        i++;
        if (!strcmp(a, "--dataset")) {
            if (!(cfg->dataset = dataset_find(v))) {
                char names[128];
                dataset_names(names, sizeof names, ", ");
                if (d->rank == 0) fprintf(stderr, "cocodiff-prep: unknown dataset '%s' (%s)\n", v, names);
                return CD_EARG;
            }
        } else if (!strcmp(a, "--input") || !strcmp(a, "--exclude")) {
            int isin = a[2] == 'i';
            int *n = isin ? &cfg->ninputs : &cfg->nexcludes;
            if (*n == PREP_MAX_INPUTS) {
                if (d->rank == 0) fprintf(stderr, "cocodiff-prep: at most %d %s files\n", PREP_MAX_INPUTS, a);
                return CD_EARG;
            }
            (isin ? cfg->inputs : cfg->excludes)[(*n)++] = v;
        } else if (!strcmp(a, "--out")) {
            cfg->out_dir = v;
        } else if (!strcmp(a, "--max-member-mb")) {
            char *e;
            cfg->max_member_mb = strtod(v, &e);
            if (*e || !(cfg->max_member_mb > 0 && cfg->max_member_mb <= 1048576)) {
                if (d->rank == 0) fprintf(stderr, "cocodiff-prep: --max-member-mb wants MiB in (0, 1048576], got '%s'\n", v);
                return CD_EARG;
            }
        } else if (!strcmp(a, "--progress")) {
            char *e;
            cfg->progress_s = strtod(v, &e);
            if (*e || cfg->progress_s < 0) {
                if (d->rank == 0) fprintf(stderr, "cocodiff-prep: --progress wants seconds, got '%s'\n", v);
                return CD_EARG;
            }
        } else {
            return cli_bad_option("cocodiff-prep", d->rank, a, valued);
        }
    }
    const char *missing = !cfg->dataset ? "--dataset" : !cfg->ninputs ? "--input" : !cfg->out_dir ? "--out" : NULL;
    if (missing) {
        if (d->rank == 0) fprintf(stderr, "cocodiff-prep: %s is required (see --help)\n", missing);
        return CD_EARG;
    }
    return CD_OK;
}

int main(int argc, char **argv) {
    Dist d = {0};
    int start = cli_start(&d, &argc, &argv, "cocodiff-prep");
    if (start != CLI_GO_ON) return start;
    h5io_errors_show(cd_verbose());
    PrepConfig cfg;
    int rc = parse_args(argc, argv, &cfg, &d);   // same argv on every rank
    int code = rc == 1 ? PREP_EXIT_OK : rc ? PREP_EXIT_USAGE : prep_run(&d, &cfg);
    dist_finalize(&d);
    return code;
}
