// main_embed.c - cocodiff-embed: class descriptions to text embeddings.
//
// USAGE: mpirun -np N cocodiff-embed --descriptions FILE.tsv --out FILE.h5
//            [--encoder glove|clip] [--glove SUBSET.bin] [--sif-a A]
//            [--clip-model model.safetensors --clip-vocab vocab.json --clip-merges merges.txt]
//            [--classes LIST [--id-base 0|1]] [--strict-oov]
#include "cli.h"
#include "datadir.h"
#include "dist.h"
#include "embed.h"
#include "h5io_errors.h"
#include "sif.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_GLOVE "datasets/glove/glove-6b-100d-subset.bin"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cocodiff-embed --descriptions FILE.tsv --out FILE.h5 [--encoder glove|clip]\n"
            "       [--glove SUBSET.bin] [--sif-a A] [--classes LIST [--id-base 0|1]] [--strict-oov]\n"
            "       [--clip-model model.safetensors --clip-vocab vocab.json --clip-merges merges.txt]\n"
            "\n"
            "  --descriptions F  class descriptions (datasets/*/descriptions.tsv)\n"
            "  --out F           output HDF5 file (/coarse (K, D), /fine (K, 6, D), /class_id, ...)\n"
            "  --encoder E       glove (default: GloVe 6B 100-d + SIF, offline) or clip (ViT-B/32 text tower)\n"
            "  --glove F         GloVe subset file (default " DEFAULT_GLOVE ")\n"
            "Relative input paths not found from the current folder are looked up in --data-dir /\n"
            "COCODIFF_HOME, then next to the installed programs (share/cocodiff), then the build tree.\n"
            "  --sif-a A         SIF weight parameter a (default 1e-3)\n"
            "  --classes LIST    check the descriptions against an official class list (one name per\n"
            "                    line); --id-base: id of its first line (1 for NTU, 0 for Kinetics; default 1)\n"
            "  --strict-oov      a word missing from GloVe is an error (default: reported)\n"
            "  --clip-*          the Hugging Face openai/clip-vit-base-patch32 files\n"
            "exit codes: 0 ok, 1 error (bad descriptions or weights, I/O), 2 usage\n" CLI_COMMON_USAGE);
}

static int parse(int argc, char **argv, EmbedConfig *c, const Dist *d) {
    memset(c, 0, sizeof *c);
    c->glove = DEFAULT_GLOVE;
    c->sif_a = SIF_A;
    c->id_base = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (d->rank == 0) usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--strict-oov")) { c->strict_oov = 1; continue; }
        static const char *const valued[] = {"--descriptions", "--out", "--glove", "--classes", "--clip-model",
                                             "--clip-vocab", "--clip-merges", "--id-base", "--sif-a", "--encoder",
                                             NULL};
        if (!v) return cli_bad_option("cocodiff-embed", d->rank, a, valued);
        i++;
        char *end = NULL;
        if (!strcmp(a, "--descriptions")) c->descriptions = v;
        else if (!strcmp(a, "--out")) c->out = v;
        else if (!strcmp(a, "--glove")) c->glove = v;
        else if (!strcmp(a, "--classes")) c->class_list = v;
        else if (!strcmp(a, "--clip-model")) c->clip_model = v;
        else if (!strcmp(a, "--clip-vocab")) c->clip_vocab = v;
        else if (!strcmp(a, "--clip-merges")) c->clip_merges = v;
        else if (!strcmp(a, "--id-base")) {
            c->id_base = (int)strtol(v, &end, 10);
            if (*end || c->id_base < 0) { if (d->rank == 0) fprintf(stderr, "cocodiff-embed: bad --id-base '%s'\n", v); return CD_EARG; }
        } else if (!strcmp(a, "--sif-a")) {
            c->sif_a = strtod(v, &end);
            if (*end || c->sif_a <= 0) { if (d->rank == 0) fprintf(stderr, "cocodiff-embed: bad --sif-a '%s'\n", v); return CD_EARG; }
        } else if (!strcmp(a, "--encoder")) {
            if (!strcmp(v, "glove")) c->encoder = EMBED_GLOVE;
            else if (!strcmp(v, "clip")) c->encoder = EMBED_CLIP;
            else { if (d->rank == 0) fprintf(stderr, "cocodiff-embed: unknown encoder '%s' (glove, clip)\n", v); return CD_EARG; }
        } else {
            return cli_bad_option("cocodiff-embed", d->rank, a, valued);
        }
    }
    const char *missing = !c->descriptions ? "--descriptions" : !c->out ? "--out" : NULL;
    if (!missing && c->encoder == EMBED_CLIP)
        missing = !c->clip_model ? "--clip-model" : !c->clip_vocab ? "--clip-vocab" : !c->clip_merges ? "--clip-merges" : NULL;
    if (missing) {
        if (d->rank == 0) fprintf(stderr, "cocodiff-embed: %s is required (see --help)\n", missing);
        return CD_EARG;
    }
    return CD_OK;
}

// The input files, relative ones looked up where the shipped data is
// (datadir.h): the README's commands work from any folder.
static int find_inputs(EmbedConfig *c, const Dist *d, char buf[3][4200]) {
    const char **files[3] = {&c->descriptions, &c->glove, &c->class_list};
    const char *what[3] = {"--descriptions", "--glove", "--classes"};
    char why[8192];
    for (int i = 0; i < 3; i++) {
        if (!*files[i] || (i == 1 && c->encoder != EMBED_GLOVE)) continue;
        if (datadir_find(*files[i], buf[i], sizeof buf[i], why, sizeof why) != CD_OK) {
            if (d->rank == 0) fprintf(stderr, "cocodiff-embed: %s %s\n", what[i], why);
            return CD_EIO;
        }
        *files[i] = buf[i];
    }
    return CD_OK;
}

int main(int argc, char **argv) {
    Dist d = {0};
    int start = cli_start(&d, &argc, &argv, "cocodiff-embed");
    if (start != CLI_GO_ON) return start;
    h5io_errors_show(cd_verbose());
    EmbedConfig cfg;
    char found[3][4200];
    int rc = parse(argc, argv, &cfg, &d);
    int code = rc == 1 ? EMBED_EXIT_OK : rc ? EMBED_EXIT_USAGE
             : find_inputs(&cfg, &d, found) ? EMBED_EXIT_ERROR : embed_run(&d, &cfg);
    dist_finalize(&d);
    return code;
}
