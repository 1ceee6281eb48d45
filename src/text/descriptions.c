// descriptions.c - reading, checking and writing descriptions.tsv (format in
// datasets/README.md; API in descriptions.h).
#include "descriptions.h"
#include "fsutil.h"

#include "status.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const desc_part_names[DESC_NPARTS] = {"head", "hand", "arm", "hip", "leg", "foot"};

static const char *const field_names[DESC_NFIELDS] = {"id",  "name", "sentence", "head", "hand",
                                                      "arm", "hip",  "leg",      "foot"};
static const char header_line[] = "id\tname\tsentence\thead\thand\tarm\thip\tleg\tfoot";

// ---------------------------------------------------------------------------
// Small helpers


static int utf8_valid(const unsigned char *s) {
    while (*s) {
        unsigned c = *s;
        int k;
        unsigned min;
        if (c < 0x80) { s++; continue; }
        else if ((c & 0xe0) == 0xc0) k = 1, min = 0x80, c &= 0x1f;
        else if ((c & 0xf0) == 0xe0) k = 2, min = 0x800, c &= 0x0f;
        else if ((c & 0xf8) == 0xf0) k = 3, min = 0x10000, c &= 0x07;
        else return 0;
        s++;
        for (int i = 0; i < k; i++, s++) {
            if ((*s & 0xc0) != 0x80) return 0;
            c = (c << 6) | (*s & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    }
    return 1;
}

static int blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ') return 0;
    return 1;
}

// A field that may go into the file: not blank, no tab/CR/LF, valid UTF-8.
static const char *field_problem(const char *s) {
    if (!s || blank(s)) return "is empty";
    if (strpbrk(s, "\t\r\n")) return "contains a tab or newline";
    if (!utf8_valid((const unsigned char *)s)) return "is not valid UTF-8";
    return NULL;
}

// "123" -> 123; -1 for anything but a plain non-negative decimal int.
static int parse_id(const char *s) {
    if (!*s || strlen(s) > 9) return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    return (int)v;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = cd_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

// ---------------------------------------------------------------------------
// Building

Descriptions *descriptions_new(void) {
    return cd_calloc(1, sizeof(Descriptions));
}

static void class_clear(DescClass *c) {
    free(c->name);
    free(c->sentence);
    for (int p = 0; p < DESC_NPARTS; p++) free(c->part[p]);
    memset(c, 0, sizeof *c);
}

void descriptions_free(Descriptions *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) class_clear(&d->cls[i]);
    free(d->cls);
    free(d->preamble);
    free(d);
}

static int add_at_line(Descriptions *d, int id, const char *name, const char *sentence,
                       const char *const part[DESC_NPARTS], int line, char *why, size_t whylen) {
    const char *what;
    if (id < 0) return cd_why(why, whylen, CD_EFORMAT, "id %d is negative", id);
    if ((what = field_problem(name))) return cd_why(why, whylen, CD_EFORMAT, "field 'name' %s", what);
    if ((what = field_problem(sentence)))
        return cd_why(why, whylen, CD_EFORMAT, "field 'sentence' %s", what);
    for (int p = 0; p < DESC_NPARTS; p++)
        if ((what = field_problem(part[p])))
            return cd_why(why, whylen, CD_EFORMAT, "field '%s' %s", desc_part_names[p], what);
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 64;
        DescClass *c = cd_realloc(d->cls, (size_t)cap * sizeof *c);
        if (!c) return cd_why(why, whylen, CD_ENOMEM, "out of memory");
        d->cls = c;
        d->cap = cap;
    }
    DescClass *c = &d->cls[d->n];
    memset(c, 0, sizeof *c);
    c->id = id;
    c->line = line;
    int okay = (c->name = dup_str(name)) && (c->sentence = dup_str(sentence));
    for (int p = 0; p < DESC_NPARTS && okay; p++) okay = (c->part[p] = dup_str(part[p])) != NULL;
    if (!okay) {
        class_clear(c);
        return cd_why(why, whylen, CD_ENOMEM, "out of memory");
    }
    d->n++;
    return CD_OK;
}

int descriptions_add(Descriptions *d, int id, const char *name, const char *sentence,
                     const char *const part[DESC_NPARTS], char *why, size_t whylen) {
    return add_at_line(d, id, name, sentence, part, 0, why, whylen);
}

static int cmp_id(const void *a, const void *b) {
    const DescClass *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

void descriptions_sort(Descriptions *d) {
    if (d->n > 1) qsort(d->cls, (size_t)d->n, sizeof *d->cls, cmp_id);
}

int descriptions_find(const Descriptions *d, int id) {
    for (int i = 0; i < d->n; i++)
        if (d->cls[i].id == id) return i;
    return -1;
}

char *descriptions_coarse(const DescClass *c) {
    size_t a = strlen(c->name), b = strlen(c->sentence);
    char *s = cd_malloc(a + b + 3);
    if (!s) return NULL;
    memcpy(s, c->name, a);
    memcpy(s + a, ". ", 2);
    memcpy(s + a + 2, c->sentence, b + 1);
    return s;
}

// ---------------------------------------------------------------------------
// Reading

// Splits one row (in place) and checks the per-row rules. Returns the id, or
// -1 with why filled.
static int split_row(char *line, char *f[DESC_NFIELDS], char *why, size_t whylen) {
    int nf = 0;
    char *s = line;
    for (;;) {
        char *t = strchr(s, '\t');
        if (nf < DESC_NFIELDS) f[nf] = s;
        nf++;
        if (!t) break;
        *t = 0;
        s = t + 1;
    }
    if (nf != DESC_NFIELDS) {
        cd_why(why, whylen, 0, "%d field%s, want %d (%s)", nf, nf == 1 ? "" : "s", DESC_NFIELDS,
             "id name sentence head hand arm hip leg foot, tab-separated");
        return -1;
    }
    for (int i = 0; i < DESC_NFIELDS; i++) {
        const char *what = field_problem(f[i]);
        if (what) {
            cd_why(why, whylen, 0, "field '%s' %s", field_names[i], what);
            return -1;
        }
    }
    int id = parse_id(f[0]);
    if (id < 0) cd_why(why, whylen, 0, "id '%s' is not a non-negative integer", f[0]);
    return id;
}

// The shared reader. strict: first problem is an error. Otherwise (salvage)
// bad rows are reported and dropped.
static int read_file(const char *path, int strict, Descriptions **out, int *nbad, DescBadRowFn bad,
                     void *ctx, char *why, size_t whylen) {
    *out = NULL;
    if (nbad) *nbad = 0;
    char *buf = NULL;
    size_t len = 0;
    char b[96];
    if (fs_read_all(path, FS_MAX_DESCRIPTIONS, &buf, &len) != CD_OK) {
        if (!strict && errno == ENOENT) {
            *out = descriptions_new();
            return *out ? CD_OK : cd_why(why, whylen, CD_ENOMEM, "out of memory");
        }
        return cd_why(why, whylen, CD_EIO, "%s: cannot read: %s", path, fs_read_why(errno, FS_MAX_DESCRIPTIONS, b, sizeof b));
    }
    if (strlen(buf) != len) {
        free(buf);
        return cd_why(why, whylen, CD_EFORMAT, "%s: contains a NUL byte: not a text file", path);
    }
    Descriptions *d = descriptions_new();
    if (!d) {
        free(buf);
        return cd_why(why, whylen, CD_ENOMEM, "out of memory");
    }
    int rc = CD_OK, lineno = 0, have_header = 0, prev_id = -1;
    char rowwhy[256];
    char *s = buf;
    while (*s && rc == CD_OK) {
        char *nl = strchr(s, '\n');
        int complete = nl != NULL;
        if (nl) *nl = 0;
        char *line = s;
        s = nl ? nl + 1 : s + strlen(s);
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[--ll] = 0;
        if (ll && line[0] == '#' && !have_header && complete) {   // keep the preamble
            size_t pl = d->preamble ? strlen(d->preamble) : 0;
            char *np = cd_realloc(d->preamble, pl + ll + 2);
            if (!np) {
                rc = cd_why(why, whylen, CD_ENOMEM, "out of memory");
                break;
            }
            memcpy(np + pl, line, ll);
            np[pl + ll] = '\n';
            np[pl + ll + 1] = 0;
            d->preamble = np;
            continue;
        }
        if (ll == 0 || line[0] == '#') continue;
        if (!have_header) {
            if (!strcmp(line, header_line)) {
                have_header = 1;
                continue;
            }
            // An interrupted first write leaves a prefix of the header.
            if (!strict && !complete && !strncmp(line, header_line, ll)) break;
            rc = cd_why(why, whylen, CD_EFORMAT,
                      "%s:%d: the first line must be the header 'id<TAB>name<TAB>sentence<TAB>"
                      "head<TAB>hand<TAB>arm<TAB>hip<TAB>leg<TAB>foot'",
                      path, lineno);
            break;
        }
        char *f[DESC_NFIELDS];
        int id = -1;
        if (!strict && !complete)
            snprintf(rowwhy, sizeof rowwhy, "incomplete last line (no newline: interrupted write?)");
        else
            id = split_row(line, f, rowwhy, sizeof rowwhy);
        if (id >= 0) {
            int seen = descriptions_find(d, id);
            if (seen >= 0) {
                snprintf(rowwhy, sizeof rowwhy, "duplicate id %d (first on line %d)", id,
                         d->cls[seen].line);
                id = -1;
            } else if (strict && id < prev_id) {
                snprintf(rowwhy, sizeof rowwhy, "id %d after id %d: ids must increase", id,
                         prev_id);
                id = -1;
            }
        }
        if (id < 0) {
            if (strict) {
                rc = cd_why(why, whylen, CD_EFORMAT, "%s:%d: %s", path, lineno, rowwhy);
                break;
            }
            if (nbad) (*nbad)++;
            if (bad) bad(ctx, path, lineno, rowwhy);
            continue;
        }
        rc = add_at_line(d, id, f[1], f[2], (const char *const *)&f[3], lineno, rowwhy,
                         sizeof rowwhy);
        if (rc != CD_OK) cd_why(why, whylen, rc, "%s:%d: %s", path, lineno, rowwhy);
        prev_id = id;
    }
    free(buf);
    if (rc == CD_OK && strict && !have_header)
        rc = cd_why(why, whylen, CD_EFORMAT, "%s: no header line (empty file?)", path);
    if (rc == CD_OK && strict && d->n == 0)
        rc = cd_why(why, whylen, CD_EFORMAT, "%s: no classes after the header", path);
    if (rc != CD_OK) {
        descriptions_free(d);
        return rc;
    }
    if (!strict) descriptions_sort(d);
    *out = d;
    return CD_OK;
}

int descriptions_load(const char *path, Descriptions **out, char *why, size_t whylen) {
    return read_file(path, 1, out, NULL, NULL, NULL, why, whylen);
}

int descriptions_salvage(const char *path, Descriptions **out, int *nbad, DescBadRowFn bad,
                         void *ctx, char *why, size_t whylen) {
    return read_file(path, 0, out, nbad, bad, ctx, why, whylen);
}

// ---------------------------------------------------------------------------
// Class lists

void descriptions_list_free(DescClassList *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

int descriptions_list_load(const char *path, int id_base, DescClassList *out, char *why,
                           size_t whylen) {
    memset(out, 0, sizeof *out);
    out->id_base = id_base;
    char *buf = NULL;
    size_t len = 0;
    char b[96];
    if (fs_read_all(path, FS_MAX_DESCRIPTIONS, &buf, &len) != CD_OK)
        return cd_why(why, whylen, CD_EIO, "%s: cannot read: %s", path, fs_read_why(errno, FS_MAX_DESCRIPTIONS, b, sizeof b));
    int rc = CD_OK, cap = 0, lineno = 0, blank_line = 0;
    char *s = buf;
    while (*s && rc == CD_OK) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        char *line = s;
        s = nl ? nl + 1 : s + strlen(s);
        lineno++;
        while (*line == ' ' || *line == '\t') line++;
        size_t n = strlen(line);
        while (n && strchr(" \t\r", line[n - 1])) line[--n] = 0;
        if (n && line[n - 1] == '.') line[--n] = 0;
        while (n && strchr(" \t", line[n - 1])) line[--n] = 0;
        if (n == 0) {   // allowed only at the end of the file
            if (!blank_line) blank_line = lineno;
            continue;
        }
        if (blank_line) {
            rc = cd_why(why, whylen, CD_EFORMAT,
                      "%s:%d: empty line inside the class list (ids are line numbers)", path,
                      blank_line);
            break;
        }
        const char *what = field_problem(line);
        if (what) {
            rc = cd_why(why, whylen, CD_EFORMAT, "%s:%d: class name %s", path, lineno, what);
            break;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 128;
            char **nn = cd_realloc(out->names, (size_t)cap * sizeof *nn);
            if (!nn) {
                rc = cd_why(why, whylen, CD_ENOMEM, "out of memory");
                break;
            }
            out->names = nn;
        }
        if (!(out->names[out->n] = dup_str(line))) {
            rc = cd_why(why, whylen, CD_ENOMEM, "out of memory");
            break;
        }
        out->n++;
    }
    free(buf);
    if (rc == CD_OK && out->n == 0) rc = cd_why(why, whylen, CD_EFORMAT, "%s: no class names", path);
    if (rc != CD_OK) descriptions_list_free(out);
    return rc;
}

int descriptions_check_list(const Descriptions *d, const char *class_list_path, int id_base,
                            char *why, size_t whylen) {
    DescClassList l;
    int rc = descriptions_list_load(class_list_path, id_base, &l, why, whylen);
    if (rc != CD_OK) return rc;
    for (int i = 0; i < d->n && i < l.n && rc == CD_OK; i++) {
        const DescClass *c = &d->cls[i];
        if (c->id != i + id_base)
            rc = cd_why(why, whylen, CD_EFORMAT,
                      "class %d of the descriptions has id %d, the list %s wants %d ('%s')%s",
                      i + 1, c->id, class_list_path, i + id_base, l.names[i],
                      descriptions_find(d, i + id_base) < 0 ? " (that class is missing)" : "");
        else if (strcmp(c->name, l.names[i]))
            rc = cd_why(why, whylen, CD_EFORMAT, "id %d is '%s' in the descriptions but '%s' in %s",
                      c->id, c->name, l.names[i], class_list_path);
    }
    if (rc == CD_OK && d->n != l.n)
        rc = cd_why(why, whylen, CD_EFORMAT, "%d classes in the descriptions, %d in %s%s", d->n, l.n,
                  class_list_path,
                  d->n < l.n ? " (missing classes at the end)" : " (extra classes at the end)");
    descriptions_list_free(&l);
    return rc;
}

// ---------------------------------------------------------------------------
// Writing

static int put_row(FILE *f, const DescClass *c) {
    if (fprintf(f, "%d\t%s\t%s", c->id, c->name, c->sentence) < 0) return CD_EIO;
    for (int p = 0; p < DESC_NPARTS; p++)
        if (fprintf(f, "\t%s", c->part[p]) < 0) return CD_EIO;
    return fputc('\n', f) == EOF ? CD_EIO : CD_OK;
}

static int flush_sync(FILE *f) {
    if (fflush(f) != 0) return CD_EIO;
    if (fsync(fileno(f)) != 0 && errno != EINVAL && errno != EROFS) return CD_EIO;
    return CD_OK;
}

int descriptions_write_header(FILE *f) {
    if (fprintf(f, "%s\n", header_line) < 0) return CD_EIO;
    return flush_sync(f);
}

int descriptions_append_row(FILE *f, const DescClass *c) {
    int rc = put_row(f, c);
    return rc == CD_OK ? flush_sync(f) : rc;
}

int descriptions_write(const char *path, const Descriptions *d, char *why, size_t whylen) {
    for (int i = 0; i < d->n; i++) {
        const DescClass *c = &d->cls[i];
        const char *what = c->id < 0 ? "has a negative id" : field_problem(c->name);
        const char *fname = "name";
        if (!what && (what = field_problem(c->sentence))) fname = "sentence";
        for (int p = 0; p < DESC_NPARTS && !what; p++)
            if ((what = field_problem(c->part[p]))) fname = desc_part_names[p];
        if (what)
            return cd_why(why, whylen, CD_EFORMAT, "%s: class id %d: field '%s' %s", path, c->id,
                        fname, what);
    }
    for (const char *q = d->preamble; q && *q;) {   // only whole '#' lines
        const char *e = strchr(q, '\n');
        if (*q != '#' || !e)
            return cd_why(why, whylen, CD_EFORMAT, "%s: the preamble must be '#' lines", path);
        q = e + 1;
    }
    char tmp[4200];
    if (fs_partial(path, tmp, sizeof tmp)) return cd_why(why, whylen, CD_EARG, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return cd_why(why, whylen, CD_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    int rc = d->preamble && fputs(d->preamble, f) == EOF ? CD_EIO : CD_OK;
    if (rc == CD_OK && fprintf(f, "%s\n", header_line) < 0) rc = CD_EIO;
    for (int i = 0; i < d->n && rc == CD_OK; i++) rc = put_row(f, &d->cls[i]);
    if (rc == CD_OK) rc = flush_sync(f);
    if (fclose(f) != 0) rc = CD_EIO;
    if (rc == CD_OK) rc = fs_commit(tmp, path);
    else unlink(tmp);
    if (rc != CD_OK) cd_why(why, whylen, rc, "%s: write failed: %s", path, strerror(errno));
    return rc;
}
