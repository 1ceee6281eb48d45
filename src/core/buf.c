// buf.c - the growable byte buffer (see buf.h).
#include "buf.h"
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(Buf *b, size_t extra) {
    if (b->err) return b->err;
    if (b->n + extra + 1 <= b->cap) return CD_OK;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra + 1) cap *= 2;
    char *p = cd_realloc(b->p, cap);
    if (!p) return b->err = CD_ENOMEM;
    b->p = p;
    b->cap = cap;
    return CD_OK;
}

int buf_append(Buf *b, const void *data, size_t n) {
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return CD_OK;
}

int buf_printf(Buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (m < 0) return CD_EARG;
    int rc = buf_reserve(b, (size_t)m);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)m + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)m;
    return CD_OK;
}

void buf_free(Buf *b) {
    if (!b) return;
    free(b->p);
    memset(b, 0, sizeof *b);
}
