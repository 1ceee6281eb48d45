// fsutil.c - see fsutil.h.
#include "fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
