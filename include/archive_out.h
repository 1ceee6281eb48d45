// archive_out.h - writing archives (zip, tar, tar.gz) through libarchive.
// Used by cocodiff-synth to pack samples in the official distribution's
// layout. The archive is written to PATH.partial and renamed on close, so an
// interrupted run never leaves a file that looks complete.
#pragma once
#include <stddef.h>

typedef struct ArchiveOut ArchiveOut;

// Format from the file name: .zip, .tar, .tar.gz/.tgz. CD_OK or CD_EARG/CD_EIO.
int archive_out_open(ArchiveOut **a, const char *path);
int archive_out_add(ArchiveOut *a, const char *member, const void *data, size_t len);
// Finishes and renames into place; on error removes the partial file.
int archive_out_close(ArchiveOut *a);
// Drops the partial file without publishing it.
void archive_out_abort(ArchiveOut *a);
