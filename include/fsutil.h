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

// Reads a whole file of at most max bytes into *data (malloc'ed,
// NUL-terminated; *len bytes before the NUL; len may be NULL). CD_OK; CD_EIO
// with errno kept (the caller names the file; EFBIG when it holds more than
// max bytes: /dev/zero or a runaway file is never read to the memory limit);
// CD_ENOMEM.
int fs_read_all(const char *path, size_t max, char **data, size_t *len);
// The limits of the text files read whole (docs/reliability.md): a job
// config or a part file, and a descriptions TSV (NTU-120's is 60 kB).
#define FS_MAX_CONFIG ((size_t)16 << 20)
#define FS_MAX_DESCRIPTIONS ((size_t)256 << 20)
// strerror(err), or for EFBIG "larger than the N MiB limit" (max bytes).
const char *fs_read_why(int err, size_t max, char *buf, size_t n);

// An input a program reads more than once or whose size it needs (prep reads
// each archive on every rank and again for its checksum): a regular file
// (or a link to one). CD_OK, or CD_EIO with a message naming path, what it
// is for, and what it is instead (a pipe, a character device, a folder):
// a pipe's bytes would be split between the readers, /dev/zero never ends.
int fs_need_regular(const char *path, const char *what);

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
// n bytes to path (not atomic: for PATH.partial itself), checked to the
// close; a failed file is removed. CD_OK or CD_EIO with why naming path.
int fs_write_file_why(const char *path, const void *data, size_t n, char *why, size_t whylen);
// fs_write_atomic, the message into why instead of stderr.
int fs_write_atomic_why(const char *path, const void *data, size_t n, char *why, size_t whylen);
