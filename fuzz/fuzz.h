// fuzz.h - helpers shared by the fuzz targets (fuzz/fuzz_*.c, one per
// parser; built with libFuzzer by `make fuzz`, and with fuzz/replay.c into
// plain programs that tests/9000-fuzz-replay.sh runs over the regression
// inputs in tests/data/fuzz/).
//
// Readers that take a path (libarchive, libyaml through config_load, mmap in
// safetensors) get the input as an anonymous in-memory file: a memfd, named
// by its /proc/self/fd path. HDF5 resolves the real path of a symbolic link
// (and /memfd:... does not exist), so its readers get a fresh regular file
// per input instead (fuzz_tmpfile: a new inode each time, as HDF5 would
// share an open file of the same inode between inputs).
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   // memfd_create
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// The input in a memfd; its path into path[n]. Returns the fd (close it when
// done) or -1.
static inline int fuzz_file(const uint8_t *data, size_t size, char *path, size_t n) {
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) { close(fd); return -1; }
        done += (size_t)w;
    }
    snprintf(path, n, "/proc/self/fd/%d", fd);
    return fd;
}

// A NUL-terminated copy (the text parsers want text[len] == 0). free() it.
static inline char *fuzz_text(const uint8_t *data, size_t size) {
    char *t = malloc(size + 1);
    if (!t) abort();
    if (size) memcpy(t, data, size);
    t[size] = 0;
    return t;
}

// The input in a new regular file (under /dev/shm when it exists: memory,
// not disk); its path into path[n]. Returns 0, or -1. Unlink it when done.
static inline int fuzz_tmpfile(const uint8_t *data, size_t size, char *path, size_t n) {
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(path, n, "%s/cocodiff-fuzz-%d.h5", dir, (int)getpid());
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) break;
        done += (size_t)w;
    }
    close(fd);
    if (done < size) { unlink(path); return -1; }
    return 0;
}
