// cli.c - see cli.h.
#include "cli.h"

#include "status.h"
#include "version.h"   // build/version.h, written by the Makefile

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_version(void) { return CD_VERSION; }

int cli_begin(int *argc, char **argv, const char *prog, int rank) {
    int n = 1, verbose = 0, version = 0;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (!strcmp(a, "--version")) {
            version = 1;
        } else if (!strcmp(a, "--data-dir")) {
            if (i + 1 >= *argc) {
                if (rank == 0) fprintf(stderr, "%s: --data-dir needs a value\n", prog);
                return CD_EARG;
            }
            // The environment carries it to every place that looks data up,
            // and to the programs a job script starts after this one.
            setenv("COCODIFF_HOME", argv[++i], 1);
        } else {
            argv[n++] = argv[i];
        }
    }
    argv[n] = NULL;
    *argc = n;
    cd_set_verbose(verbose);
    if (version) {
        if (rank == 0) printf("%s %s\n", prog, CD_VERSION);
        return CLI_DONE;
    }
    return CLI_GO;
}

int cli_bad_option(const char *prog, int rank, const char *a, const char *const *valued) {
    int known = 0;
    for (int i = 0; valued && valued[i]; i++) known |= !strcmp(valued[i], a);
    if (rank == 0) {
        if (known) fprintf(stderr, "%s: %s needs a value (see --help)\n", prog, a);
        else fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, a);
    }
    return CD_EARG;
}

int cli_start(Dist *d, int *argc, char ***argv, const char *prog) {
    if (dist_init(d, argc, argv) != CD_OK) return 1;
    int cr = cli_begin(argc, *argv, prog, d->rank);
    if (cr == CLI_GO) return CLI_GO_ON;
    dist_finalize(d);
    return cr == CLI_DONE ? 0 : 2;
}
