// checksum.c - SHA-256 through OpenSSL's EVP interface (the only file that
// includes openssl headers).
#include "checksum.h"
#include "status.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

static void to_hex(const unsigned char md[32], char hex[65]) {
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = 0;
}

int checksum_sha256_file(const char *path, char hex[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        CD_ERR("%s: cannot open to checksum", path);
        return CD_EIO;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    enum { BUF = 1 << 20 };
    unsigned char *buf = cd_malloc(BUF);
    int rc = (ctx && buf && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) ? CD_OK : CD_ENOMEM;
    size_t n;
    while (rc == CD_OK && (n = fread(buf, 1, BUF, f)) > 0)
        if (EVP_DigestUpdate(ctx, buf, n) != 1) rc = CD_EIO;
    if (rc == CD_OK && ferror(f)) {
        CD_ERR("%s: read error while checksumming", path);
        rc = CD_EIO;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (rc == CD_OK && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32) {
        to_hex(md, hex);
    } else if (rc == CD_OK) {
        rc = CD_EIO;
    }
    EVP_MD_CTX_free(ctx);
    free(buf);
    fclose(f);
    return rc;
}

int checksum_sha256_buf(const void *data, size_t len, char hex[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) return CD_ENOMEM;
    to_hex(md, hex);
    return CD_OK;
}
