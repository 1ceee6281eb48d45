// tap.h - a small TAP producer for the C tests (c-tap-harness's API shape).
// plan(n) first; every check prints one "ok N - name" / "not ok N - name";
// tap_done() returns the exit status (non-zero when anything failed or the
// plan was not met). Diagnostics go to stderr so prove always shows them.
#pragma once
#include <stddef.h>
#include <stdint.h>

void plan(int n);
void skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void skip(int n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int is_int(long long want, long long got, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int is_str(const char *want, const char *got, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int is_double(double want, double got, double eps, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// One check per tensor: |got-want| <= atol + rtol*|want| everywhere (NaN
// equals NaN); on failure diag's the worst index, both values and the count.
int is_tensor_close(const float *got, const float *want, size_t n, double atol, double rtol,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
// The same with the tolerance scaled to the tensor: |got - want| <= 1e-4
// max|want| + 1e-3 |want| (a team's or lanes' sums against one model's: the
// same sums in another order, and gradients near zero are rounding).
int is_tensor_close_scaled(const float *got, const float *want, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// Bitwise equality of two float arrays (for "exactly like the reference").
int is_tensor_equal(const float *got, const float *want, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int tap_done(void);

// Random inputs: uniform floats in [-1, 1) from a 64-bit LCG whose state the
// test holds (seed it with any value), and n of them malloc'ed (bails when
// out of memory).
float tap_urand(uint64_t *state);
float *tap_urand_fill(uint64_t *state, size_t n);
// n floats, malloc'ed and not set (bails when out of memory).
float *tap_floats(size_t n);

// Test data helpers.
// Path of the shared real data folder (env COCODIFF_REAL_DATA, else
// ../shared/data/real relative to the repo root); NULL when absent.
const char *tap_real_data(void);
// Path of the NW-UCLA archive (env COCODIFF_UCLA_ZIP, else
// ../shared/data/ucla/all_sqe.zip relative to the repo root); NULL when absent.
const char *tap_ucla_zip(void);
// Reads a whole file into a malloc'ed buffer (NUL-terminated); NULL if absent.
char *tap_slurp(const char *path, size_t *len);
// 1 when both files exist and hold the same bytes.
int tap_same_file(const char *a, const char *b);
// Writes text with LF line ends turned into CRLF to tap_tmpdir()/name and
// returns it read back (NUL-terminated, *olen its length); bails on I/O errors.
char *tap_crlf_copy(const char *text, size_t len, const char *name, size_t *olen);
// A fresh temporary directory for this test (removed by the test's end only
// when it passed; kept for inspection otherwise).
const char *tap_tmpdir(void);
// A small NTU60 X-Sub HDF5 file in tap_tmpdir() from bin/cocodiff-synth
// (samples, seed 3) and bin/cocodiff-prep; its path into path[n]. Skips the
// whole test when the programs are not built, bails when they fail.
void tap_ntu_h5(int samples, char *path, size_t n);
