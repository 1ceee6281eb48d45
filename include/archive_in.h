// archive_in.h - streaming members out of any archive libarchive reads
// (zip, tar, tar.gz, ...), without extracting anything to disk.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct ArchiveIn ArchiveIn;

int archive_in_open(ArchiveIn **a, const char *path);
// Moves to the next member. Returns CD_OK with *name (valid until the next
// call) and *is_file, 1 at the end, or CD_EFORMAT for a corrupt archive.
// *is_file: a regular file with data of its own (not a hard link, link,
// folder, FIFO or device).
int archive_in_next(ArchiveIn *a, const char **name, int64_t *size, int *is_file);
// Whether the current member is a folder; and what it is, in words for a
// message ("a symbolic link to X", "a hard link to X", "a FIFO", ...).
int archive_in_is_dir(const ArchiveIn *a);
void archive_in_what(const ArchiveIn *a, char *buf, size_t n);
// Reads the current member whole into *buf (grown as needed, NUL-terminated).
// CD_OK, or CD_EFORMAT with why for a corrupt member or one of more than max
// bytes (memory stays bounded by max: a 2 MB zip can hold a 1 GiB member).
int archive_in_read(ArchiveIn *a, char **buf, size_t *cap, size_t *len, size_t max, char *why, size_t whylen);
int archive_in_skip(ArchiveIn *a);
void archive_in_close(ArchiveIn *a);

// Bytes of the archive file consumed so far (for progress and ETA).
int64_t archive_in_position(ArchiveIn *a);
