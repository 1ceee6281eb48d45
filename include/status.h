// status.h - status codes and error reporting shared by every module.
//
// Library functions return an int status (CD_OK or a negative CD_E*) and say
// what went wrong once, through CD_ERR, as "file:line: message" on stderr.
// Only program drivers decide to stop. Functions that judge untrusted input
// (a .skeleton member, a JSON clip) instead fill a caller buffer with the
// reason, so the driver can record it in the rejects report and go on.
#pragma once
#include <stddef.h>

enum {
    CD_OK = 0,
    CD_EIO = -1,       // reading or writing a file failed
    CD_EFORMAT = -2,   // input does not follow its format
    CD_ENOMEM = -3,    // allocation failed
    CD_EARG = -4,      // bad argument or option
    CD_EMPI = -5,      // an MPI call failed
    CD_EHDF5 = -6,     // an HDF5 call failed
    CD_EREJECT = -7,   // one sample was rejected (recoverable)
};

const char *cd_status_str(int status);

// Prints "error: message" on stderr; with the verbose setting also the
// source line that raised it: "error: message (src/file.c:N)".
void cd_err_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define CD_ERR(...) cd_err_at(__FILE__, __LINE__, __VA_ARGS__)

// The verbose setting (cli.h --verbose), off by default. The one program-wide
// setting besides the MPI context: written once by cli_begin before any
// work, read by the error printers (here and HDF5's, h5io_errors.h).
void cd_set_verbose(int on);
int cd_verbose(void);

// Writes a reason into why[whylen] (truncating; why may be NULL) and
// returns rc: for functions that explain a failure to their caller.
int cd_why(char *why, size_t whylen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// Writes a reason into why[whylen] (truncating) and returns CD_EREJECT.
int cd_reject(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Allocation that reports file and line on failure (returns NULL then).
void *cd_malloc_at(size_t n, const char *file, int line);
void *cd_calloc_at(size_t n, size_t size, const char *file, int line);
void *cd_realloc_at(void *p, size_t n, const char *file, int line);
#define cd_malloc(n) cd_malloc_at((n), __FILE__, __LINE__)
#define cd_calloc(n, s) cd_calloc_at((n), (s), __FILE__, __LINE__)
#define cd_realloc(p, n) cd_realloc_at((p), (n), __FILE__, __LINE__)
