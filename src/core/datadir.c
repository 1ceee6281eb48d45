// datadir.c - see datadir.h.
#include "datadir.h"

#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The folder holding this program (bin/), or "" when /proc does not say.
static void program_dir(char *buf, size_t n) {
    ssize_t k = readlink("/proc/self/exe", buf, n - 1);
    buf[k > 0 ? k : 0] = 0;
    char *s = strrchr(buf, '/');
    if (s) *s = 0;
    else buf[0] = 0;
}

int datadir_find(const char *path, char *out, size_t cap, char *why, size_t whylen) {
    if (path[0] == '/' || access(path, R_OK) == 0) {
        snprintf(out, cap, "%s", path);
        return CD_OK;
    }
    char bin[4096], roots[3][4200], tried[4096] = "";
    program_dir(bin, sizeof bin);
    const char *home = getenv("COCODIFF_HOME");
    int nr = 0;
    if (home && *home) snprintf(roots[nr++], sizeof roots[0], "%s", home);
    if (bin[0]) {
        snprintf(roots[nr++], sizeof roots[0], "%s/../share/cocodiff", bin);
        snprintf(roots[nr++], sizeof roots[0], "%s/..", bin);
    }
    size_t used = (size_t)snprintf(tried, sizeof tried, "./%s", path);
    for (int i = 0; i < nr; i++) {
        char p[8400];
        snprintf(p, sizeof p, "%.4100s/%.4000s", roots[i], path);
        // realpath drops the bin/.. detour so messages and logs name the real file.
        char *real = realpath(p, NULL);
        const char *shown = real ? real : p;
        if (real && access(real, R_OK) == 0) {
            snprintf(out, cap, "%s", real);
            free(real);
            return CD_OK;
        }
        if (used < sizeof tried)
            used += (size_t)snprintf(tried + used, sizeof tried - used, ", %s%s", shown,
                                     i == 0 && home && *home ? " (COCODIFF_HOME)" : "");
        free(real);
    }
    return cd_why(why, whylen, CD_EIO, "%s: not found (tried %s; HINT: run from the repository, install with "
                  "`make install`, or point --data-dir / COCODIFF_HOME at the folder holding datasets/)",
                  path, tried);
}
