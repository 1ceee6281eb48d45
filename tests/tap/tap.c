// tap.c - the TAP producer behind tap.h.
#include "tap/tap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int planned = -1, ran = 0, failed = 0;
static char tmpdir[4096];

void plan(int n) {
    planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

void skip_all(const char *fmt, ...) {
    va_list ap;
    char msg[512];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("1..0 # SKIP %s\n", msg);
    exit(0);
}

void bail(const char *fmt, ...) {
    va_list ap;
    char msg[512];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("Bail out! %s\n", msg);
    fflush(stdout);
    exit(255);
}

void diag(const char *fmt, ...) {
    va_list ap;
    char msg[2048];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "# %s\n", msg);
}

static int report(int cond, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    ran++;
    if (!cond) failed++;
    printf("%sok %d - %s\n", cond ? "" : "not ", ran, msg);
    fflush(stdout);
    return cond;
}

int ok(int cond, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = report(cond, fmt, ap);
    va_end(ap);
    return r;
}

void skip(int n, const char *fmt, ...) {
    va_list ap;
    char msg[512];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (int i = 0; i < n; i++) printf("ok %d # skip %s\n", ++ran, msg);
}

int is_int(long long want, long long got, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = report(want == got, fmt, ap);
    va_end(ap);
    if (!r) diag("   want: %lld\n#    got: %lld", want, got);
    return r;
}

int is_str(const char *want, const char *got, const char *fmt, ...) {
    int same = (want == NULL && got == NULL) || (want && got && strcmp(want, got) == 0);
    va_list ap;
    va_start(ap, fmt);
    int r = report(same, fmt, ap);
    va_end(ap);
    if (!r) diag("   want: '%s'\n#    got: '%s'", want ? want : "(null)", got ? got : "(null)");
    return r;
}

int is_double(double want, double got, double eps, const char *fmt, ...) {
    int same = (isnan(want) && isnan(got)) || want == got || fabs(want - got) <= eps;
    va_list ap;
    va_start(ap, fmt);
    int r = report(same, fmt, ap);
    va_end(ap);
    if (!r) diag("   want: %.9g\n#    got: %.9g (eps %g)", want, got, eps);
    return r;
}

static int tensor_close(const float *got, const float *want, size_t n, double atol, double rtol,
                        const char *fmt, va_list ap) {
    size_t bad = 0, worst = 0;
    double worst_excess = -1, max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        double a = got[i], b = want[i];
        if (isnan(a) && isnan(b)) continue;
        double diff = fabs(a - b), tol = atol + rtol * fabs(b);
        if (isnan(diff) || diff > tol) {
            bad++;
            double ex = isnan(diff) ? INFINITY : diff - tol;
            if (ex > worst_excess) { worst_excess = ex; worst = i; }
        }
        if (diff > max_abs) max_abs = diff;
    }
    int r = report(bad == 0, fmt, ap);
    if (!r)
        diag("   %zu of %zu values off (atol %g, rtol %g); worst at [%zu]: got %.9g want %.9g",
             bad, n, atol, rtol, worst, got[worst], want[worst]);
    else
        diag("   max abs diff %.3g over %zu values", max_abs, n);
    return r;
}

int is_tensor_close(const float *got, const float *want, size_t n, double atol, double rtol,
                    const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = tensor_close(got, want, n, atol, rtol, fmt, ap);
    va_end(ap);
    return r;
}

int is_tensor_close_scaled(const float *got, const float *want, size_t n, const char *fmt, ...) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s = fmax(s, fabs(want[i]));
    va_list ap;
    va_start(ap, fmt);
    int r = tensor_close(got, want, n, 1e-4 * s, 1e-3, fmt, ap);
    va_end(ap);
    return r;
}

int is_tensor_equal(const float *got, const float *want, size_t n, const char *fmt, ...) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
            if (!bad) first = i;
            bad++;
        }
    va_list ap;
    va_start(ap, fmt);
    int r = report(bad == 0, fmt, ap);
    va_end(ap);
    if (!r)
        diag("   %zu of %zu values differ; first at [%zu]: got %.9g want %.9g", bad, n, first,
             got[first], want[first]);
    return r;
}

int tap_done(void) {
    if (planned >= 0 && ran != planned) {
        diag("planned %d tests but ran %d", planned, ran);
        return 1;
    }
    if (failed) {
        diag("failed %d of %d tests", failed, ran);
        return 1;
    }
    if (tmpdir[0]) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) diag("could not remove %s", tmpdir);
    }
    return 0;
}

const char *tap_real_data(void) {
    static char path[4096];
    const char *env = getenv("COCODIFF_REAL_DATA");
    struct stat st;
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        // Tests run from the repo root (make check); shared/ sits beside it.
        snprintf(path, sizeof path, "../shared/data/real");
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    return path;
}

const char *tap_ucla_zip(void) {
    static char path[4096];
    const char *env = getenv("COCODIFF_UCLA_ZIP");
    struct stat st;
    snprintf(path, sizeof path, "%s", env && *env ? env : "../shared/data/ucla/all_sqe.zip");
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return NULL;
    return path;
}

char *tap_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) { free(buf); buf = NULL; }
            else buf = nb;
        }
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int tap_same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = tap_slurp(a, &na), *y = tap_slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

const char *tap_tmpdir(void) {
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/cocodiff-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) bail("cannot create a temporary directory");
    }
    return tmpdir;
}

char *tap_crlf_copy(const char *text, size_t len, const char *name, size_t *olen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", tap_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) bail("cannot write %s", path);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) fputc('\r', f);
        fputc(text[i], f);
    }
    if (fclose(f) != 0) bail("cannot write %s", path);
    return tap_slurp(path, olen);
}

void tap_ntu_h5(int samples, char *path, size_t n) {
    const char *T = tap_tmpdir();
    if (access("bin/cocodiff-synth", X_OK) || access("bin/cocodiff-prep", X_OK))
        skip_all("bin/cocodiff-synth or bin/cocodiff-prep not built (run make)");
    char cmd[6 * 4096 + 512];
    snprintf(cmd, sizeof cmd,
             "bin/cocodiff-synth --format ntu --samples %d --seed 3 --out %s/x.zip >%s/log 2>&1 && "
             "bin/cocodiff-prep --dataset ntu60 --input %s/x.zip --out %s/ >>%s/log 2>&1",
             samples, T, T, T, T, T);
    if (system(cmd) != 0) bail("synth/prep failed; see %s/log", T);
    snprintf(path, n, "%s/ntu60-xsub.h5", T);
}

float tap_urand(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*state >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

float *tap_floats(size_t n) {
    float *p = malloc(n * sizeof *p);
    if (!p) bail("out of memory");
    return p;
}

float *tap_urand_fill(uint64_t *state, size_t n) {
    float *p = malloc(n * sizeof *p);
    if (!p) bail("out of memory");
    for (size_t i = 0; i < n; i++) p[i] = tap_urand(state);
    return p;
}
