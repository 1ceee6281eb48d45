// status.c - status strings, error messages and checked allocation.
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *cd_status_str(int status) {
    switch (status) {
    case CD_OK: return "ok";
    case CD_EIO: return "i/o error";
    case CD_EFORMAT: return "format error";
    case CD_ENOMEM: return "out of memory";
    case CD_EARG: return "bad argument";
    case CD_EMPI: return "MPI error";
    case CD_EHDF5: return "HDF5 error";
    case CD_EREJECT: return "sample rejected";
    default: return "unknown error";
    }
}

static int verbose;   // see cd_set_verbose

void cd_set_verbose(int on) { verbose = on; }
int cd_verbose(void) { return verbose; }

void cd_err_at(const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    // One fprintf per message so lines from several ranks do not interleave.
    if (verbose) fprintf(stderr, "error: %s (%s:%d)\n", msg, file, line);
    else fprintf(stderr, "error: %s\n", msg);
}

static void vwhy(char *why, size_t whylen, const char *fmt, va_list ap) {
    if (why && whylen) vsnprintf(why, whylen, fmt, ap);
}

int cd_why(char *why, size_t whylen, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwhy(why, whylen, fmt, ap);
    va_end(ap);
    return rc;
}

int cd_reject(char *why, size_t whylen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwhy(why, whylen, fmt, ap);
    va_end(ap);
    return CD_EREJECT;
}

void *cd_malloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) cd_err_at(file, line, "out of memory allocating %zu bytes", n);
    return p;
}

void *cd_calloc_at(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) cd_err_at(file, line, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *cd_realloc_at(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) cd_err_at(file, line, "out of memory reallocating to %zu bytes", n);
    return q;
}
