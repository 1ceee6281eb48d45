// archive_out.c - writing zip / tar / tar.gz archives through libarchive.
// The only file of cocodiff-synth that includes archive.h. Members get fixed
// metadata (mtime, owner, mode) so the same content gives the same bytes;
// parent folders are added once, before their first member, as in the
// official distributions. Written to PATH.partial, renamed on close.
#include "archive_out.h"
#include "fsutil.h"
#include "status.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARCHIVE_OUT_MTIME 1500000000   // 2017-07-14, a fixed member time

struct ArchiveOut {
    struct archive *a;
    struct archive_entry *e;
    char *path, *partial;
    char **dirs;   // folders already written
    int ndirs, capdirs;
};

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int set_format(struct archive *a, const char *path) {
    int r;
    if (ends_with(path, ".zip")) {
        r = archive_write_set_format_zip(a);
        // Level 1 deflate: ~3x smaller than the text, several times faster
        // than the default level (the generator is otherwise deflate-bound).
        if (r == ARCHIVE_OK) archive_write_set_options(a, "zip:compression-level=1");
        return r == ARCHIVE_OK ? CD_OK : CD_EIO;
    }
    if (ends_with(path, ".tar.gz") || ends_with(path, ".tgz")) {
        r = archive_write_set_format_pax_restricted(a);
        if (r == ARCHIVE_OK) r = archive_write_add_filter_gzip(a);
        // No time stamp in the gzip header: same input, same bytes.
        if (r == ARCHIVE_OK) archive_write_set_options(a, "gzip:!timestamp,gzip:compression-level=1");
        return r == ARCHIVE_OK ? CD_OK : CD_EIO;
    }
    if (ends_with(path, ".tar")) {
        r = archive_write_set_format_pax_restricted(a);
        return r == ARCHIVE_OK ? CD_OK : CD_EIO;
    }
    return CD_EARG;
}

int archive_out_open(ArchiveOut **out, const char *path) {
    *out = NULL;
    ArchiveOut *ao = cd_calloc(1, sizeof *ao);
    if (!ao) return CD_ENOMEM;
    size_t n = strlen(path);
    ao->path = cd_malloc(n + 1);
    ao->partial = cd_malloc(n + 9);
    ao->a = archive_write_new();
    ao->e = archive_entry_new();
    if (!ao->path || !ao->partial || !ao->a || !ao->e) {
        archive_out_abort(ao);
        return CD_ENOMEM;
    }
    memcpy(ao->path, path, n + 1);
    fs_partial(path, ao->partial, n + 9);
    int rc = set_format(ao->a, path);
    if (rc == CD_EARG) {
        CD_ERR("cannot tell the archive format of %s (HINT: name it .zip, .tar, .tar.gz or .tgz)",
               path);
    } else if (rc != CD_OK) {
        CD_ERR("libarchive cannot set up %s: %s", path, archive_error_string(ao->a));
    } else if (archive_write_open_filename(ao->a, ao->partial) != ARCHIVE_OK) {
        CD_ERR("cannot write %s: %s", ao->partial, archive_error_string(ao->a));
        rc = CD_EIO;
    }
    if (rc != CD_OK) {
        free(ao->partial);   // nothing was created: do not remove someone's file
        ao->partial = NULL;
        archive_out_abort(ao);
        return rc;
    }
    *out = ao;
    return CD_OK;
}

static int write_header(ArchiveOut *ao, const char *name, int is_dir, size_t len) {
    struct archive_entry *e = ao->e;
    archive_entry_clear(e);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, is_dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, is_dir ? 0755 : 0644);
    archive_entry_set_size(e, is_dir ? 0 : (la_int64_t)len);
    archive_entry_set_mtime(e, ARCHIVE_OUT_MTIME, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    if (archive_write_header(ao->a, e) != ARCHIVE_OK) {
        CD_ERR("cannot add %s to %s: %s", name, ao->partial, archive_error_string(ao->a));
        return CD_EIO;
    }
    return CD_OK;
}

// Adds the folders of `member` not yet written ("a/", then "a/b/").
static int add_dirs(ArchiveOut *ao, const char *member) {
    for (const char *s = strchr(member, '/'); s; s = strchr(s + 1, '/')) {
        size_t n = (size_t)(s - member) + 1;
        int seen = 0;
        for (int i = 0; i < ao->ndirs && !seen; i++)
            seen = strlen(ao->dirs[i]) == n && memcmp(ao->dirs[i], member, n) == 0;
        if (seen) continue;
        if (ao->ndirs == ao->capdirs) {
            int cap = ao->capdirs ? 2 * ao->capdirs : 8;
            char **d = cd_realloc(ao->dirs, (size_t)cap * sizeof *d);
            if (!d) return CD_ENOMEM;
            ao->dirs = d;
            ao->capdirs = cap;
        }
        char *dir = cd_malloc(n + 1);
        if (!dir) return CD_ENOMEM;
        memcpy(dir, member, n);
        dir[n] = 0;
        ao->dirs[ao->ndirs++] = dir;
        int rc = write_header(ao, dir, 1, 0);
        if (rc != CD_OK) return rc;
    }
    return CD_OK;
}

int archive_out_add(ArchiveOut *ao, const char *member, const void *data, size_t len) {
    if (!ao) return CD_EARG;
    int rc = add_dirs(ao, member);
    if (rc == CD_OK) rc = write_header(ao, member, 0, len);
    const char *p = data;
    size_t left = len;
    while (rc == CD_OK && left > 0) {
        la_ssize_t w = archive_write_data(ao->a, p, left);
        if (w <= 0) {
            CD_ERR("cannot write %s into %s: %s", member, ao->partial, archive_error_string(ao->a));
            rc = CD_EIO;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    return rc;
}

static void ao_free(ArchiveOut *ao) {
    if (ao->a) archive_write_free(ao->a);
    if (ao->e) archive_entry_free(ao->e);
    for (int i = 0; i < ao->ndirs; i++) free(ao->dirs[i]);
    free(ao->dirs);
    free(ao->path);
    free(ao->partial);
    free(ao);
}

int archive_out_close(ArchiveOut *ao) {
    if (!ao) return CD_EARG;
    int rc = CD_OK;
    if (archive_write_close(ao->a) != ARCHIVE_OK) {
        CD_ERR("cannot finish %s: %s", ao->partial, archive_error_string(ao->a));
        rc = CD_EIO;
    } else if (fs_commit(ao->partial, ao->path) != CD_OK) {
        CD_ERR("cannot rename %s to %s", ao->partial, ao->path);
        rc = CD_EIO;
    }
    if (rc != CD_OK) remove(ao->partial);
    ao_free(ao);
    return rc;
}

void archive_out_abort(ArchiveOut *ao) {
    if (!ao) return;
    if (ao->a) {
        archive_write_free(ao->a);   // closes the file
        ao->a = NULL;
    }
    if (ao->partial) remove(ao->partial);
    ao_free(ao);
}
