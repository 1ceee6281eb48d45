// main_synth.c - cocodiff-synth, the bundled synthetic benchmark generator.
//
// USAGE: cocodiff-synth --format ntu|kinetics --samples N --out ARCHIVE
//                       [--seed S] [--classes FILE] [--quiet]
// Writes N samples of a 25-joint kinematic body performing NTU action classes
// (datasets/synth/actions.json) in the NTU .skeleton or Kinetics-Skeleton
// JSON format, packed like the official archives (.zip, .tar, .tar.gz).
// Same seed and arguments -> byte-identical archive. Serial; runs under
// mpirun too (rank 0 writes). Exit 0 ok, 1 runtime error, 2 usage error.
#include "cli.h"
#include "datadir.h"
#include "dist.h"
#include "fsutil.h"
#include "status.h"
#include "synth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: cocodiff-synth --format ntu|kinetics --samples N --out ARCHIVE\n"
            "                      [--seed S] [--classes FILE] [--quiet]\n"
            "  --format   ntu: nturgb+d_skeletons/SsssCcccPpppRrrrAaaa.skeleton members;\n"
            "             kinetics: kinetics_{train,val}/<id>.json + label files\n"
            "  --samples  number of samples, >= 1\n"
            "  --out      archive to write: .zip, .tar, .tar.gz or .tgz\n"
            "  --seed     64-bit seed (default 1)\n"
            "  --classes  action class file (default datasets/synth/actions.json)\n"
            "  --quiet    no progress lines\n" CLI_COMMON_USAGE);
}


static int parse_args(int argc, char **argv, SynthConfig *cfg, const char **classes) {
    const char *fmt = NULL, *samples = NULL;
    cfg->seed = 1;
    cfg->progress_every_s = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quiet")) {
            cfg->progress_every_s = 0;
            continue;
        }
        static const char *const valued[] = {"--format", "--samples", "--out", "--classes", "--seed", NULL};
        if (!v) return cli_bad_option("cocodiff-synth", 0, a, valued);
        if (!strcmp(a, "--format")) fmt = v;
        else if (!strcmp(a, "--samples")) samples = v;
        else if (!strcmp(a, "--out")) cfg->out = v;
        else if (!strcmp(a, "--classes")) *classes = v;
        else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            cfg->seed = strtoull(v, &end, 0);
            if (errno || *end || !*v || v[0] == '-') {
                fprintf(stderr, "error: --seed wants a non-negative integer, got '%s'\n", v);
                return CD_EARG;
            }
        } else {
            return cli_bad_option("cocodiff-synth", 0, a, valued);
        }
        i++;
    }
    if (!fmt || !samples || !cfg->out) {
        fprintf(stderr, "error: --format, --samples and --out are required\n");
        return CD_EARG;
    }
    if (!strcmp(fmt, "ntu")) cfg->format = SYNTH_NTU;
    else if (!strcmp(fmt, "kinetics")) cfg->format = SYNTH_KINETICS;
    else {
        fprintf(stderr, "error: unknown --format '%s' (ntu or kinetics)\n", fmt);
        return CD_EARG;
    }
    char *end;
    errno = 0;
    long long n = strtoll(samples, &end, 10);
    if (errno || *end || !*samples || n < 1) {
        fprintf(stderr, "error: --samples wants an integer >= 1, got '%s'\n", samples);
        return CD_EARG;
    }
    cfg->samples = n;
    return CD_OK;
}

int main(int argc, char **argv) {
    Dist d = {0};
    int start = cli_start(&d, &argc, &argv, "cocodiff-synth");
    if (start != CLI_GO_ON) return start;
    SynthConfig cfg = {0};
    char pathbuf[4096];
    const char *classes = NULL;
    int rc = parse_args(argc, argv, &cfg, &classes);
    if (rc != CD_OK) {
        if (d.rank == 0) usage(stderr);
        dist_finalize(&d);
        return 2;
    }
    char why[8192];
    if (datadir_find(classes ? classes : "datasets/synth/actions.json", pathbuf, sizeof pathbuf, why, sizeof why)) {
        if (d.rank == 0) fprintf(stderr, "cocodiff-synth: --classes %s\n", why);
        dist_finalize(&d);
        return 1;
    }
    classes = pathbuf;
    int code = 0;
    if (d.rank == 0) {   // serial: one writer, other ranks only wait
        SynthActions acts;
        rc = synth_actions_load(classes, &acts);
        if (rc == CD_OK && fs_mkdir_parent(cfg.out) != 0) {
            fprintf(stderr, "error: %s: cannot create its folder: %s\n", cfg.out, strerror(errno));
            synth_actions_free(&acts);
            rc = CD_EIO;
        } else if (rc == CD_OK) {
            log_info(&d, "synth | %s | %lld samples | %d classes from %s | seed %llu -> %s",
                     cfg.format == SYNTH_NTU ? "ntu" : "kinetics", (long long)cfg.samples, acts.n,
                     classes, (unsigned long long)cfg.seed, cfg.out);
            rc = cfg.format == SYNTH_NTU ? synth_ntu_write(&cfg, &acts, &d)
                                         : synth_kinetics_write(&cfg, &acts, &d);
            synth_actions_free(&acts);
        }
        code = rc == CD_OK ? 0 : rc == CD_EARG ? 2 : 1;
        if (rc != CD_OK) fprintf(stderr, "error: cocodiff-synth failed: %s\n", cd_status_str(rc));
    }
    dist_bcast_bytes(&d, &code, sizeof code, 0);
    dist_finalize(&d);
    return code;
}
