// fsutil.h - small file-system helpers shared by the program stages:
// folders, reading a whole file, atomic writes.
#pragma once
#include <stddef.h>

// mkdir -p DIR (mode 0777 before the umask): 0, or -1 with errno set
// (ENAMETOOLONG for a path over 4095 bytes).
int fs_mkdir_p(const char *dir);
// mkdir -p of the folder that will hold the file `path` (nothing to do for a
// bare file name): 0, or -1 with errno set. Every program calls it for its
// output files once the inputs are checked, so `--out new/dir/x.h5` works.
int fs_mkdir_parent(const char *path);

// Reads a whole file into *data (malloc'ed, NUL-terminated; *len bytes
// before the NUL; len may be NULL). CD_OK; CD_EIO with errno kept (the
// caller names the file); CD_ENOMEM.
int fs_read_all(const char *path, char **data, size_t *len);

// Outputs are written atomically: to PATH.partial, renamed into place when
// complete, so a killed run never leaves a file that looks finished.
// fs_partial: "PATH.partial" into tmp (len bytes). CD_OK, or CD_EARG when it
// does not fit.
int fs_partial(const char *path, char *tmp, size_t len);
// Renames tmp to path. CD_OK, or CD_EIO with errno kept (tmp is removed
// then; the caller names the file).
int fs_commit(const char *tmp, const char *path);
// n bytes to path through PATH.partial + rename. CD_OK or CD_EIO/CD_EARG
// with a message naming the file.
int fs_write_atomic(const char *path, const void *data, size_t n);
