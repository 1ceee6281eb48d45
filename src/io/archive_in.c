// archive_in.c - reading archive members through libarchive (see archive_in.h).
#include "archive_in.h"
#include "status.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ArchiveIn {
    struct archive *a;
    struct archive_entry *e;   // the current member (libarchive's, until the next header)
    char *path;
};

int archive_in_open(ArchiveIn **out, const char *path) {
    ArchiveIn *ai = cd_calloc(1, sizeof *ai);
    if (!ai) return CD_ENOMEM;
    ai->a = archive_read_new();
    ai->path = strdup(path);
    if (!ai->a || !ai->path) { archive_in_close(ai); return CD_ENOMEM; }
    archive_read_support_format_all(ai->a);
    archive_read_support_filter_all(ai->a);
    // 64 KiB reads: every prep rank walks the whole archive and skips the
    // members of the others, and libarchive skips by seeking only past the
    // block it holds. With 1 MiB blocks and NTU members of ~150 KB each rank
    // read the whole zip (863 of 897 MB on each of 2 ranks, 6,000-sample
    // synthetic zip); with 64 KiB, 546 MB. One rank reads the same bytes.
    if (archive_read_open_filename(ai->a, path, 1 << 16) != ARCHIVE_OK) {
        CD_ERR("%s: cannot open as an archive: %s", path, archive_error_string(ai->a));
        archive_in_close(ai);
        return CD_EIO;
    }
    *out = ai;
    return CD_OK;
}

int archive_in_next(ArchiveIn *ai, const char **name, int64_t *size, int *is_file) {
    struct archive_entry *e;
    int r = archive_read_next_header(ai->a, &e);
    if (r == ARCHIVE_EOF) return 1;
    if (r < ARCHIVE_WARN) {
        CD_ERR("%s: corrupt archive: %s", ai->path, archive_error_string(ai->a));
        return CD_EFORMAT;
    }
    ai->e = e;
    *name = archive_entry_pathname(e);
    if (!*name) *name = "";
    *size = archive_entry_size_is_set(e) ? (int64_t)archive_entry_size(e) : -1;
    // A hard link has a regular file's type and no data of its own.
    *is_file = archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e);
    return CD_OK;
}

int archive_in_is_dir(const ArchiveIn *ai) { return ai->e && archive_entry_filetype(ai->e) == AE_IFDIR; }

void archive_in_what(const ArchiveIn *ai, char *buf, size_t n) {
    const char *hard = ai->e ? archive_entry_hardlink(ai->e) : NULL;
    const char *sym = ai->e ? archive_entry_symlink(ai->e) : NULL;
    if (hard) {
        snprintf(buf, n, "a hard link to %s", hard);
        return;
    }
    switch (ai->e ? archive_entry_filetype(ai->e) : 0) {
    case AE_IFREG: snprintf(buf, n, "a regular file"); break;
    case AE_IFDIR: snprintf(buf, n, "a folder"); break;
    case AE_IFLNK: snprintf(buf, n, "a symbolic link to %s", sym ? sym : "?"); break;
    case AE_IFIFO: snprintf(buf, n, "a FIFO"); break;
    case AE_IFCHR: snprintf(buf, n, "a character device"); break;
    case AE_IFBLK: snprintf(buf, n, "a block device"); break;
    case AE_IFSOCK: snprintf(buf, n, "a socket"); break;
    default: snprintf(buf, n, "of an unknown file type"); break;
    }
}

int archive_in_read(ArchiveIn *ai, char **buf, size_t *cap, size_t *len, size_t max, char *why, size_t whylen) {
    size_t n = 0;
    for (;;) {
        if (n > max) {   // before growing further; the header's size may lie, the bytes do not
            cd_reject(why, whylen, "member larger than the limit of %.3g MiB (prep --max-member-mb)",
                      (double)max / 1048576.0);
            return CD_EFORMAT;
        }
        if (*cap < n + (1 << 16) + 1) {
            size_t nc = *cap ? *cap * 2 : (1 << 20);
            while (nc < n + (1 << 16) + 1) nc *= 2;
            char *nb = cd_realloc(*buf, nc);
            if (!nb) return CD_ENOMEM;
            *buf = nb;
            *cap = nc;
        }
        la_ssize_t got = archive_read_data(ai->a, *buf + n, *cap - n - 1);
        if (got == 0) break;
        if (got < 0) {
            cd_reject(why, whylen, "corrupt archive member: %s", archive_error_string(ai->a));
            return CD_EFORMAT;
        }
        n += (size_t)got;
    }
    (*buf)[n] = 0;
    *len = n;
    return CD_OK;
}

int archive_in_skip(ArchiveIn *ai) {
    if (archive_read_data_skip(ai->a) != ARCHIVE_OK) {
        CD_ERR("%s: cannot skip a member: %s", ai->path, archive_error_string(ai->a));
        return CD_EFORMAT;
    }
    return CD_OK;
}

void archive_in_close(ArchiveIn *ai) {
    if (!ai) return;
    if (ai->a) archive_read_free(ai->a);
    free(ai->path);
    free(ai);
}

int64_t archive_in_position(ArchiveIn *ai) { return (int64_t)archive_filter_bytes(ai->a, -1); }
