// checksum.h - SHA-256 of whole files (recorded in outputs for provenance) and
// of buffers (tests compare whole tensors by digest).
#pragma once
#include <stddef.h>

// Writes the lowercase hex digest (65 bytes with NUL) of the file's bytes.
int checksum_sha256_file(const char *path, char hex[65]);
// The same of a buffer in memory. CD_OK, or CD_ENOMEM when OpenSSL fails.
int checksum_sha256_buf(const void *data, size_t len, char hex[65]);
