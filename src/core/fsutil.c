// fsutil.c - see fsutil.h.
#include "fsutil.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// mkdir that is content with a folder already there (not with a file).
static int mkdir_one(const char *p) {
    struct stat st;
    if (mkdir(p, 0777) == 0) return 0;
    if (errno != EEXIST) return -1;
    if (stat(p, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
}

int fs_mkdir_p(const char *dir) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) { errno = ENAMETOOLONG; return -1; }
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir_one(p) != 0) return -1;
        *s = '/';
    }
    return mkdir_one(p);
}

int fs_mkdir_parent(const char *path) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) { errno = ENAMETOOLONG; return -1; }
    char *slash = strrchr(p, '/');
    if (!slash || slash == p) return 0;   // "x.h5" or "/x.h5": the folder exists
    *slash = 0;
    return fs_mkdir_p(p);
}

int fs_read_all(const char *path, size_t max, char **data, size_t *len) {
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return CD_EIO;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    int rc = b ? CD_OK : CD_ENOMEM;
    while (!rc) {
        if (n > max) {
            fclose(f);
            free(b);
            errno = EFBIG;
            return CD_EIO;
        }
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { rc = CD_ENOMEM; break; }
            b = nb;
        }
        size_t k = fread(b + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
    }
    if (!rc && ferror(f)) {
        rc = CD_EIO;
        errno = EIO;
    }
    fclose(f);
    if (rc) {
        free(b);
        if (rc == CD_ENOMEM) errno = ENOMEM;
        return rc;
    }
    b[n] = 0;
    *data = b;
    if (len) *len = n;
    return CD_OK;
}

const char *fs_read_why(int err, size_t max, char *buf, size_t n) {
    if (err != EFBIG) return strerror(err);
    snprintf(buf, n, "larger than the %zu MiB limit of this kind of file", max >> 20);
    return buf;
}

static const char *file_kind(mode_t m) {
    return S_ISFIFO(m) ? "a pipe" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
         : S_ISDIR(m) ? "a folder" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int fs_need_regular(const char *path, const char *what) {
    struct stat st;
    if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
        CD_ERR("%s: cannot read the %s: %s", path, what, strerror(errno));
        return CD_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        CD_ERR("%s: the %s is %s, not a regular file (it is read more than once: save it to a file first)", path,
               what, file_kind(st.st_mode));
        return CD_EIO;
    }
    return CD_OK;
}

int fs_partial(const char *path, char *tmp, size_t len) {
    int n = snprintf(tmp, len, "%s.partial", path);
    return n >= 0 && (size_t)n < len ? CD_OK : CD_EARG;
}

int fs_commit(const char *tmp, const char *path) {
    if (rename(tmp, path) == 0) return CD_OK;
    int e = errno;
    remove(tmp);
    errno = e;
    return CD_EIO;
}

int fs_write_file_why(const char *path, const void *data, size_t n, char *why, size_t whylen) {
    FILE *f = fopen(path, "wb");
    if (!f) return cd_why(why, whylen, CD_EIO, "%.900s: cannot write: %s", path, strerror(errno));
    int ok = fwrite(data, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;   // a full disk often shows only here
    if (!ok) {
        int rc = cd_why(why, whylen, CD_EIO, "%.900s: cannot write: %s", path, strerror(errno));
        remove(path);
        return rc;
    }
    return CD_OK;
}

int fs_write_atomic_why(const char *path, const void *data, size_t n, char *why, size_t whylen) {
    char tmp[4200];
    if (fs_partial(path, tmp, sizeof tmp)) return cd_why(why, whylen, CD_EARG, "%.900s: path too long", path);
    int rc = fs_write_file_why(tmp, data, n, why, whylen);
    if (rc) return rc;
    if (fs_commit(tmp, path))
        return cd_why(why, whylen, CD_EIO, "%.900s: cannot rename %.900s into place: %s", path, tmp, strerror(errno));
    return CD_OK;
}

int fs_write_atomic(const char *path, const void *data, size_t n) {
    char why[2048];
    int rc = fs_write_atomic_why(path, data, n, why, sizeof why);
    if (rc) CD_ERR("%s", why);
    return rc;
}
