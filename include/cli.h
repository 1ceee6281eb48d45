// cli.h - the command line every cocodiff-* program shares.
//
// cli_begin takes the options common to all programs out of argv before the
// program parses its own:
//   --version       prints "PROGRAM VERSION" (rank 0); the program exits 0
//   --verbose       error messages also name the source line that raised
//                   them, and HDF5 prints its own error stack (both off by
//                   default: one line per error)
//   --data-dir DIR  where shipped data (datasets/...) is looked up when a
//                   relative path is not found from the current folder; the
//                   same as COCODIFF_HOME=DIR (see datadir.h)
// cli_bad_option words a program's bad option the same way everywhere.
// cli_start is every MPI program's first line: MPI, then cli_begin.
#pragma once
#include "dist.h"

enum { CLI_GO = 0, CLI_DONE = 1 };

#define CLI_COMMON_USAGE                                                                         \
    "common options: --version; --verbose (source lines and HDF5's own error stack in errors);\n" \
    "  --data-dir DIR (shipped data: part files, GloVe subset, descriptions; = COCODIFF_HOME)\n"

// CLI_GO: go on with the rest of argv (*argc shrunk); CLI_DONE: --version was
// printed, exit 0; CD_EARG: a usage error was printed on rank 0 (exit 2).
// Sets the error verbosity (status.h cd_set_verbose) for the whole program.
int cli_begin(int *argc, char **argv, const char *prog, int rank);

// dist_init, then cli_begin. Returns CLI_GO to go on, else the exit code the
// program returns at once (MPI finalised): 0 after --version, 1 when MPI
// cannot start, 2 for a usage error. Every program's exit codes agree on
// those three (*_EXIT_OK, *_EXIT_ERROR, *_EXIT_USAGE).
#define CLI_GO_ON (-1)
int cli_start(Dist *d, int *argc, char ***argv, const char *prog);

// For an argument a the program's parser did not take: prints on rank 0
// "PROG: OPTION needs a value" when a is one of `valued` (the program's
// options that take a value, NULL-terminated) and came last, else
// "PROG: unknown option 'a' (see --help)". Returns CD_EARG.
int cli_bad_option(const char *prog, int rank, const char *a, const char *const *valued);

// "0.1.0+gabcdef0" (the VERSION file and the git commit it was built from),
// "0.1.0+gabcdef0-dirty" when tracked files (Markdown documents aside)
// differed from that commit, "0.1.0"
// built without git (the Makefile's build/version.h).
const char *cli_version(void);
