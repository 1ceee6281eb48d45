// buf.h - the growable byte buffer every module appends text or records to
// (reports, rejects lists, gathered metadata, synthetic archives, HTTP
// replies). The bytes stay NUL-terminated, so text can be used as a string.
//
//   Buf b = {0};
//   buf_printf(&b, "%s\t%d\n", name, k);
//   buf_append(&b, data, n);
//   if (b.err) ...           // an append failed: it and every later one dropped
//   use b.p (n bytes + NUL); buf_free(&b);
//
// defines: Buf, buf_reserve, buf_append, buf_printf, buf_free
#pragma once
#include <stddef.h>

typedef struct Buf {
    char *p;         // the bytes, NUL-terminated (NULL while nothing was added)
    size_t n, cap;   // bytes used (the NUL not counted) / allocated
    int err;         // CD_ENOMEM once an append failed: later appends are dropped
} Buf;

// Room for extra more bytes (and the NUL). CD_OK or CD_ENOMEM (sticky).
// Writers that store bytes themselves after it (synth's number formatting)
// advance n and leave the NUL to the next buf_append / buf_printf.
int buf_reserve(Buf *b, size_t extra);
// Appends n bytes. CD_OK or CD_ENOMEM.
int buf_append(Buf *b, const void *data, size_t n);
// Appends printf-formatted text (any length). CD_OK, CD_ENOMEM or CD_EARG
// (a format error).
int buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(Buf *b);   // NULL is fine; leaves an empty buffer
