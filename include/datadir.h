// datadir.h - shipped data (datasets/: the part files, the GloVe subset, the
// class descriptions, the synthetic classes) found wherever the programs are
// installed or run from, so a Slurm job that runs in the submit folder, or an
// installed copy, finds it without a copy in the current folder.
//
// A relative path that is not there from the current folder is looked up
// below, in order:
//   $COCODIFF_HOME             (--data-dir DIR sets it; cli.h)
//   PROGRAM_DIR/../share/cocodiff   (make install PREFIX=...)
//   PROGRAM_DIR/..             (the build tree: bin/ next to datasets/)
// Absolute paths, and paths found from the current folder, are used as given.
#pragma once
#include <stddef.h>

// CD_OK with the path to open in out[cap]; CD_EIO when it is nowhere, with
// why = "PATH: not found (tried A, B, C)" naming every place looked at.
int datadir_find(const char *path, char *out, size_t cap, char *why, size_t whylen);
