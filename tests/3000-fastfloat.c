// 3000-fastfloat: ff_parse_f32 returns exactly strtof's float, for edge
// cases, random decimals, and every number of the real NTU samples.
#include "fastfloat.h"
#include "tap/tap.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int same_as_strtof(const char *s, const char **why) {
    float a = 0, b;
    char *e;
    const char *q = ff_parse_f32(s, &a);
    b = strtof(s, &e);
    if (e == s) { *why = "strtof parses nothing"; return q == NULL; }
    if (!q) { *why = "ff_parse_f32 returned NULL"; return 0; }
    if (q != e) { *why = "end pointer differs"; return 0; }
    if (memcmp(&a, &b, sizeof a) != 0) { *why = "value differs"; return 0; }
    return 1;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int main(void) {
    plan(4);
    static const char *edge[] = {
        "0", "-0", "0.0", "-0.000", "1", "-1", "0.2181153", "-4.248406E-05", "1.960929e-05",
        "3.785547", "1036.233", "72057594037931101", "1e10", "1e-10", "1e38", "3.4028235e38",
        "3.5e38", "1e-38", "1.17549435e-38", "1e-45", "1e-46", "123456789012345678901234",
        "0.000000000000000000000000001", "16777217", "16777216", "16777219", "0.1", "0.3",
        "2.5", ".5", "5.", "+7.25", "1e", "1e+", "7E+2", "nan", "inf", "-inf", "0x1p3",
        "9007199254740993", "4.0000001", "0.99999999999", "33554431", "1.00000005960464477539",
        "1.0000000596046447753906250001", "1.0000000596046447753906249999",
        "340282356779733661637539395458142568448", "-", "abc", ""};
    int bad = 0;
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        const char *why = "";
        if (!same_as_strtof(edge[i], &why)) { diag("edge case '%s': %s", edge[i], why); bad++; }
    }
    ok(bad == 0, "edge cases match strtof (%zu strings)", sizeof edge / sizeof edge[0]);

    uint64_t s = 42;
    bad = 0;
    char buf[64];
    for (int i = 0; i < 2000000 && bad < 5; i++) {
        uint64_t r = rng_next(&s);
        int digits = 1 + (int)(r % 12), point = (int)((r >> 8) % (digits + 1)), ex = (int)((r >> 16) % 61) - 30;
        char *p = buf;
        if (r & (1ull << 40)) *p++ = '-';
        for (int k = 0; k < digits; k++) {
            if (k == point && k) *p++ = '.';
            *p++ = (char)('0' + rng_next(&s) % 10);
        }
        if (r & (1ull << 41)) p += sprintf(p, "e%d", ex);
        *p = 0;
        const char *why = "";
        if (!same_as_strtof(buf, &why)) { diag("random '%s': %s", buf, why); bad++; }
    }
    ok(bad == 0, "2M random decimals match strtof");

    // Values on both sides of float halfway points (the double-rounding trap).
    bad = 0;
    for (int i = 0; i < 200000 && bad < 5; i++) {
        uint64_t r = rng_next(&s);
        float f = (float)((double)(r % 1000000) / 997.0);
        uint32_t bits;
        memcpy(&bits, &f, 4);
        bits++;
        float g;
        memcpy(&g, &bits, 4);
        double mid = ((double)f + (double)g) / 2;
        snprintf(buf, sizeof buf, "%.17g", mid);
        const char *why = "";
        if (!same_as_strtof(buf, &why)) { diag("halfway '%s': %s", buf, why); bad++; }
        snprintf(buf, sizeof buf, "%.25g", mid);
        if (!same_as_strtof(buf, &why)) { diag("halfway '%s': %s", buf, why); bad++; }
    }
    ok(bad == 0, "decimals at float halfway points match strtof");

    const char *real = tap_real_data();
    if (!real) {
        skip(1, "no real data (../shared/data/real)");
        return tap_done();
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/ntu", real);
    DIR *dp = opendir(dir);
    long n = 0;
    bad = 0;
    struct dirent *de;
    while (dp && (de = readdir(dp))) {
        if (!strstr(de->d_name, ".skeleton")) continue;
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len;
        char *text = tap_slurp(path, &len);
        if (!text) continue;
        for (char *t = strtok(text, " \t\r\n"); t; t = strtok(NULL, " \t\r\n")) {
            const char *why = "";
            n++;
            if (!same_as_strtof(t, &why) && bad++ < 5) diag("%s: '%s': %s", de->d_name, t, why);
        }
        free(text);
    }
    if (dp) closedir(dp);
    ok(bad == 0 && n > 100000, "every number of the real NTU samples matches strtof (%ld numbers)", n);
    return tap_done();
}
