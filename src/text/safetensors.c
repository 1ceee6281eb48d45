// safetensors.c - safetensors reader (mmap + jansson) and a small writer.
//
// The reader validates the whole header at open, so later lookups cannot
// run off the mapping: every entry's data lies inside the file and its byte
// count equals numel * dtype size. Header lengths are capped (100 MB, the
// reference implementation's limit) and every size product is overflow
// checked. See safetensors.h.
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

#define ST_MAX_HEADER (100u * 1024u * 1024u)

struct SafeTensors {
    char *path;
    unsigned char *map;
    size_t size;
    int n;
    SafeTensor *t;
    json_t *meta;   // the __metadata__ object (owned), or NULL
};


static size_t dtype_size(const char *d) {
    static const struct { const char *name; size_t size; } T[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
        {"I16", 2}, {"I8", 1}, {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},
        {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (strcmp(d, T[i].name) == 0) return T[i].size;
    return 0;
}

static void shape_str(char *buf, size_t len, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

// ---------------------------------------------------------------------------
// Open / close

static int parse_entry(SafeTensors *st, SafeTensor *t, const char *name, json_t *v,
                       size_t data_size, char *why, size_t whylen) {
    const char *p = st->path;
    if (!json_is_object(v)) return cd_why(why, whylen, CD_EFORMAT, "%s: entry '%s' is not an object", p, name);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off) || json_array_size(off) != 2)
        return cd_why(why, whylen, CD_EFORMAT,
                    "%s: entry '%s' lacks dtype, shape or data_offsets [begin, end]", p, name);
    t->name = name;
    snprintf(t->dtype, sizeof t->dtype, "%s", json_string_value(dt));
    size_t es = dtype_size(json_string_value(dt));
    if (!es) return cd_why(why, whylen, CD_EFORMAT, "%s: tensor '%s' has unknown dtype '%s'", p, name,
                         json_string_value(dt));
    if (json_array_size(sh) > SAFETENSORS_MAX_DIMS)
        return cd_why(why, whylen, CD_EFORMAT, "%s: tensor '%s' has %zu dims (at most %d)", p, name,
                    json_array_size(sh), SAFETENSORS_MAX_DIMS);
    t->ndim = (int)json_array_size(sh);
    uint64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        json_t *d = json_array_get(sh, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > (1LL << 40))
            return cd_why(why, whylen, CD_EFORMAT, "%s: tensor '%s' has a bad shape entry", p, name);
        t->shape[i] = json_integer_value(d);
        numel *= (uint64_t)t->shape[i];
        if (numel > (1ULL << 40))
            return cd_why(why, whylen, CD_EFORMAT, "%s: tensor '%s' is too large", p, name);
    }
    json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b))
        return cd_why(why, whylen, CD_EFORMAT, "%s: tensor '%s' has bad data_offsets", p, name);
    uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e);
    if (end - begin != numel * es) {
        char s[128];
        shape_str(s, sizeof s, t->ndim, t->shape);
        return cd_why(why, whylen, CD_EFORMAT,
                    "%s: tensor '%s' (%s %s) needs %llu bytes but data_offsets give %llu", p,
                    name, t->dtype, s, (unsigned long long)(numel * es),
                    (unsigned long long)(end - begin));
    }
    if (end > data_size)
        return cd_why(why, whylen, CD_EFORMAT,
                    "%s: data of tensor '%s' ends at byte %llu of the data section, but the file "
                    "holds only %zu data bytes (truncated?)", p, name, (unsigned long long)end,
                    data_size);
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)(end - begin);
    t->data = st->map + (st->size - data_size) + begin;
    return CD_OK;
}

static int parse_header(SafeTensors *st, char *why, size_t whylen) {
    const char *p = st->path;
    if (st->size < 8)
        return cd_why(why, whylen, CD_EFORMAT, "%s: %zu bytes, too short for a safetensors header", p,
                    st->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | st->map[i];
    if (hlen > st->size - 8)
        return cd_why(why, whylen, CD_EFORMAT,
                    "%s: header length %llu runs beyond the file (%zu bytes; truncated or not "
                    "a safetensors file?)", p, (unsigned long long)hlen, st->size);
    if (hlen > ST_MAX_HEADER)
        return cd_why(why, whylen, CD_EFORMAT, "%s: header length %llu over the 100 MB limit", p,
                    (unsigned long long)hlen);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)st->map + 8, (size_t)hlen, 0, &jerr);
    if (!root)
        return cd_why(why, whylen, CD_EFORMAT, "%s: header is not valid JSON (%s at byte %d)", p,
                    jerr.text, jerr.position);
    int rc = CD_OK;
    if (!json_is_object(root)) {
        rc = cd_why(why, whylen, CD_EFORMAT, "%s: header is not a JSON object", p);
        goto out;
    }
    size_t data_size = st->size - 8 - (size_t)hlen;
    st->t = cd_calloc(json_object_size(root) + 1, sizeof *st->t);
    if (!st->t) { rc = cd_why(why, whylen, CD_ENOMEM, "%s: out of memory", p); goto out; }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            st->meta = json_incref(v);
            continue;
        }
        char *name = strdup(key);
        if (!name) { rc = cd_why(why, whylen, CD_ENOMEM, "%s: out of memory", p); goto out; }
        st->t[st->n].name = name;
        st->n++;
        rc = parse_entry(st, &st->t[st->n - 1], name, v, data_size, why, whylen);
        if (rc) goto out;
    }
out:
    json_decref(root);
    return rc;
}

int safetensors_open(SafeTensors **out, const char *path, char *why, size_t whylen) {
    *out = NULL;
    SafeTensors *st = cd_calloc(1, sizeof *st);
    if (!st) return cd_why(why, whylen, CD_ENOMEM, "%s: out of memory", path);
    st->path = strdup(path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        int e = errno;
        safetensors_close(st);
        return cd_why(why, whylen, CD_EIO, "%s: cannot open (%s)", path, strerror(e));
    }
    struct stat sb;
    int rc = CD_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = cd_why(why, whylen, CD_EIO, "%s: not a regular file", path);
    } else {
        st->size = (size_t)sb.st_size;
        if (st->size > 0) {
            void *m = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (m == MAP_FAILED) rc = cd_why(why, whylen, CD_EIO, "%s: mmap failed (%s)", path, strerror(errno));
            else st->map = m;
        }
    }
    close(fd);
    if (!rc) rc = parse_header(st, why, whylen);
    if (rc) {
        safetensors_close(st);
        return rc;
    }
    *out = st;
    return CD_OK;
}

void safetensors_close(SafeTensors *st) {
    if (!st) return;
    if (st->map) munmap(st->map, st->size);
    for (int i = 0; i < st->n; i++) free((char *)st->t[i].name);
    free(st->t);
    json_decref(st->meta);
    free(st->path);
    free(st);
}

// ---------------------------------------------------------------------------
// Lookup

const char *safetensors_path(const SafeTensors *st) { return st->path; }
int safetensors_count(const SafeTensors *st) { return st->n; }
const SafeTensor *safetensors_at(const SafeTensors *st, int i) {
    return (i >= 0 && i < st->n) ? &st->t[i] : NULL;
}

const SafeTensor *safetensors_find(const SafeTensors *st, const char *name) {
    for (int i = 0; i < st->n; i++)   // a few hundred entries: linear is fine
        if (strcmp(st->t[i].name, name) == 0) return &st->t[i];
    return NULL;
}

const char *safetensors_metadata(const SafeTensors *st, const char *key) {
    json_t *v = st->meta ? json_object_get(st->meta, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int safetensors_check_f32(const SafeTensors *st, const char *name, int ndim, int64_t *shape,
                          char *why, size_t whylen) {
    const SafeTensor *t = safetensors_find(st, name);
    if (!t) return cd_why(why, whylen, CD_EFORMAT, "%s: missing tensor '%s'", st->path, name);
    if (strcmp(t->dtype, "F32") && strcmp(t->dtype, "F16") && strcmp(t->dtype, "BF16"))
        return cd_why(why, whylen, CD_EFORMAT, "%s: tensor '%s' has dtype %s, expected F32 (or F16/BF16)",
                    st->path, name, t->dtype);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = shape[i] < 0 || shape[i] == t->shape[i];
    if (!same) {
        char got[160], want[160];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, shape);
        return cd_why(why, whylen, CD_EFORMAT, "%s: tensor '%s' has shape %s, expected %s (-1: any)",
                    st->path, name, got, want);
    }
    for (int i = 0; i < ndim; i++) shape[i] = t->shape[i];
    return CD_OK;
}

float safetensors_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13);           // inf / nan
    } else if (exp) {
        bits = sign | ((exp + 112) << 23) | (man << 13);   // normal: rebias 15 -> 127
    } else if (man) {                                      // subnormal: normalise
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FF) << 13);
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float safetensors_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int safetensors_read_f32(const SafeTensors *st, const char *name, int ndim, int64_t *shape,
                         float *out, char *why, size_t whylen) {
    int rc = safetensors_check_f32(st, name, ndim, shape, why, whylen);
    if (rc) return rc;
    const SafeTensor *t = safetensors_find(st, name);
    const unsigned char *d = t->data;
    if (t->dtype[0] == 'F' && t->dtype[1] == '3') {
        memcpy(out, d, t->nbytes);   // little-endian host (x86-64, aarch64)
    } else {
        int bf = t->dtype[0] == 'B';
        for (int64_t i = 0; i < t->numel; i++) {
            uint16_t h = (uint16_t)(d[2 * i] | (d[2 * i + 1] << 8));
            out[i] = bf ? safetensors_bf16_to_f32(h) : safetensors_f16_to_f32(h);
        }
    }
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Writer

int safetensors_write(const char *path, int n, const SafeTensorsEntry *e, const char *const *meta) {
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe != 1) {
        CD_ERR("%s: safetensors_write supports little-endian hosts only", path);
        return CD_EARG;
    }
    json_t *root = json_object();
    if (meta) {
        json_t *m = json_object();
        for (int i = 0; meta[i] && meta[i + 1]; i += 2) json_object_set_new(m, meta[i], json_string(meta[i + 1]));
        json_object_set_new(root, "__metadata__", m);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t es = dtype_size(e[i].dtype), numel = 1;
        if (!es) {
            CD_ERR("%s: tensor '%s': unknown dtype '%s'", path, e[i].name, e[i].dtype);
            json_decref(root);
            return CD_EARG;
        }
        json_t *sh = json_array();
        for (int d = 0; d < e[i].ndim; d++) {
            json_array_append_new(sh, json_integer(e[i].shape[d]));
            numel *= (size_t)e[i].shape[d];
        }
        json_t *o = json_object(), *offs = json_array();
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + numel * es)));
        json_object_set_new(o, "dtype", json_string(e[i].dtype));
        json_object_set_new(o, "shape", sh);
        json_object_set_new(o, "data_offsets", offs);
        json_object_set_new(root, e[i].name, o);
        off += numel * es;
    }
    char *hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!hdr) return CD_ENOMEM;
    size_t hlen = strlen(hdr), pad = (8 - hlen % 8) % 8;
    FILE *f = fopen(path, "wb");
    if (!f) {
        CD_ERR("%s: cannot create (%s)", path, strerror(errno));
        free(hdr);
        return CD_EIO;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(((uint64_t)(hlen + pad) >> (8 * i)) & 0xFF);
    int okw = fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, hlen, f) == hlen &&
              fwrite("        ", 1, pad, f) == pad;
    free(hdr);
    for (int i = 0; okw && i < n; i++) {
        size_t bytes = dtype_size(e[i].dtype);
        for (int d = 0; d < e[i].ndim; d++) bytes *= (size_t)e[i].shape[d];
        okw = fwrite(e[i].data, 1, bytes, f) == bytes;
    }
    if (fclose(f) != 0) okw = 0;
    if (!okw) {
        CD_ERR("%s: write failed", path);
        return CD_EIO;
    }
    return CD_OK;
}
