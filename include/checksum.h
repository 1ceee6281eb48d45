// checksum.h - SHA-256 of whole files, recorded in outputs for provenance.
#pragma once

// Writes the lowercase hex digest (65 bytes with NUL) of the file's bytes.
int checksum_sha256_file(const char *path, char hex[65]);
