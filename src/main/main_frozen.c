// main_frozen.c - cocodiff-frozen: the CoCoDiff module trained and measured
// on a frozen backbone's part tokens, and the frozen-backbone head
// experiment (frozen.h).
//
// USAGE: cocodiff-frozen --config JOB.yaml --run WORK_DIR --out DIR [--set key=value ...] [options]
#include "cli.h"
#include "config.h"
#include "dist.h"
#include "frozen.h"
#include "h5io_errors.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: cocodiff-frozen --config FILE.yaml --run WORK_DIR --out DIR [--set key=value ...]\n"
            "                       [--module-steps N] [--module-batch N] [--gen-start F]\n"
            "                       [--heads N] [--extra none,generated,noise] [--extra-weight W]\n"
            "                       [--head-epochs N] [--gen-copies N]\n"
            "  --config F        the job config: the module's cocodiff.* settings and text, seed, the\n"
            "                    SGD settings (base_lr, momentum, nesterov, weight_decay), batch_size\n"
            "  --run W           a cocodiff-train work dir run with cocodiff.dump_features: its\n"
            "                    parts-train.h5 / parts-test.h5 and checkpoint-last.h5 (the frozen head)\n"
            "  --out DIR         conditioning.json (the probe on the evaluated tokens), heads.tsv\n"
            "  --module-steps N  steps of the module alone on the training tokens (2000; 0: none)\n"
            "  --module-batch N  samples a module step (64)\n"
            "                    (optimizer and lr: cocodiff.module_optimizer, cocodiff.module_lr; x0.1 for\n"
            "                    the last fifth)\n"
            "  --gen-start F     generation from this fraction of the module steps on (0.5)\n"
            "  --heads N         then train N fresh linear heads (seeds 1..N) on the real training\n"
            "                    features plus --extra ones, and report their test top-1 (0: none)\n"
            "  --extra E,...     which extra features, each with its own heads (same seeds): none,\n"
            "                    generated (the module's, --gen-copies per training sample), noise (the\n"
            "                    real feature moved as far as its generated one, in a random direction)\n"
            "  --extra-weight W  weight of the extra features' loss (1); --head-epochs N (30)\n"
            CLI_COMMON_USAGE);
}

static int num(const char *s, double lo, double hi, double *v) {
    char *end = NULL;
    *v = strtod(s, &end);
    return *s && !*end && *v >= lo && *v <= hi;
}

// "none,generated,noise" (any of them, comma separated) into bits 1, 2, 4.
static int extras(const char *v, int *bits) {
    static const char *const names[3] = {"none", "generated", "noise"};
    *bits = 0;
    while (*v) {
        size_t n = strcspn(v, ",");
        int k = 0;
        while (k < 3 && (strlen(names[k]) != n || strncmp(v, names[k], n))) k++;
        if (k == 3) return 0;
        *bits |= 1 << k;
        v += n + (v[n] == ',');
    }
    return *bits != 0;
}

int main(int argc, char **argv) {
    Dist d;
    if (dist_init(&d, &argc, &argv) != CD_OK) return 1;
    int cr = cli_begin(&argc, argv, "cocodiff-frozen", d.rank);
    if (cr != CLI_GO) {
        dist_finalize(&d);
        return cr == CLI_DONE ? 0 : 2;
    }
    h5io_errors_show(cd_verbose());
    const char *config = NULL, *run = NULL, *sets[64];
    int nsets = 0, bad = 0, code = 0;
    FrozenOptions o;
    frozen_options_default(&o);
    static const char *const valued[] = {"--config", "--run", "--out", "--set", "--extra", "--module-steps",
                                         "--module-batch", "--gen-start", "--heads", "--extra-weight", "--head-epochs",
                                         "--gen-copies", NULL};
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (d.rank == 0) usage(stdout);
            dist_finalize(&d);
            return 0;
        }
        int known = 0;
        for (int k = 0; valued[k]; k++) known |= !strcmp(a, valued[k]);
        if (!known || !v) {
            cli_bad_option("cocodiff-frozen", d.rank, a, valued);
            bad = 1;
            break;
        }
        i++;
        if (!strcmp(a, "--config")) config = v;
        else if (!strcmp(a, "--run")) run = v;
        else if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--set") && nsets < 64) sets[nsets++] = v;
        else if (!strcmp(a, "--extra") && extras(v, &o.extras)) ;
        else if (!strcmp(a, "--module-steps") && num(v, 0, 1e8, &x)) o.module_steps = (int)x;
        else if (!strcmp(a, "--module-batch") && num(v, 1, 1e5, &x)) o.module_batch = (int)x;
        else if (!strcmp(a, "--gen-start") && num(v, 0, 1, &x)) o.gen_start = x;
        else if (!strcmp(a, "--heads") && num(v, 0, 1e6, &x)) o.heads = (int)x;
        else if (!strcmp(a, "--extra-weight") && num(v, 0, 1e6, &x)) o.extra_weight = x;
        else if (!strcmp(a, "--head-epochs") && num(v, 1, 1e6, &x)) o.head_epochs = (int)x;
        else if (!strcmp(a, "--gen-copies") && num(v, 1, 1e3, &x)) o.gen_copies = (int)x;
        else {
            if (d.rank == 0) fprintf(stderr, "cocodiff-frozen: %s '%s' is out of range or not one of its values (see --help)\n", a, v);
            bad = 1;
        }
    }
    if (!bad && (!config || !run || !o.out)) {
        if (d.rank == 0) fprintf(stderr, "cocodiff-frozen: --config, --run and --out are required (see --help)\n");
        bad = 1;
    }
    Config cfg;
    char why[1024] = "";
    if (bad) config_init(&cfg);
    else if (config_read(&cfg, config, sets, nsets, why, sizeof why) != CD_OK) bad = 1;
    if (!bad && !cfg.cocodiff.text && o.module_steps > 0) {
        snprintf(why, sizeof why, "cocodiff.text is not set (the module needs the class texts)");
        bad = 1;
    }
    char ptr[4200], pte[4200], ck[4200];
    if (bad) {
        if (d.rank == 0 && why[0]) fprintf(stderr, "cocodiff-frozen: %s\n", why);
        code = 2;
    } else {
        snprintf(ptr, sizeof ptr, "%s/parts-train.h5", run);
        snprintf(pte, sizeof pte, "%s/parts-test.h5", run);
        snprintf(ck, sizeof ck, "%s/checkpoint-last.h5", run);
        o.parts_train = ptr;
        o.parts_test = pte;
        o.checkpoint = ck;
        code = frozen_run(&d, &cfg, &o);
    }
    config_free(&cfg);
    dist_finalize(&d);
    return code;
}
