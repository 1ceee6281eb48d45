// prep.c - the prep stage: stream the official archives, prepare every
// sample like the reference code, and write one HDF5 file per benchmark.
//
// Work split: every rank walks every archive's headers; each regular member
// is parsed by one rank (member_owner: round robin, fewer to the ranks that
// also hash an input; label files by every rank). Prepared
// samples go to a per-rank spill file (unlinked at once, so a killed run
// leaves nothing behind) and only their metadata is gathered. All ranks then
// sort the metadata by name - so the output order and content do not depend
// on the number of ranks - and each rank writes its own samples into the
// shared files with parallel HDF5. Files are written as NAME.partial and
// renamed together once all of them are complete (commit_outputs).
#include "prep.h"
#include "fault.h"
#include "archive_in.h"
#include "buf.h"
#include "checksum.h"
#include "datadir.h"
#include "dataset.h"
#include "descriptions.h"
#include "fsutil.h"
#include "h5io_prep.h"
#include "prof.h"
#include "skeleton.h"
#include "status.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// One accepted sample; gathered to every rank as raw bytes (same binary).
typedef struct PrepMeta {
    DatasetSample s;        // name, 0-based class, the format's part
    char member[88];        // member path (for reports), truncated if long
    int64_t order;          // global member index: archive order
    int64_t spill_off;      // byte offset in the owner's spill file
    int32_t rank;           // owner
    int32_t frames;         // non-empty frames (HDF5 /frames); NOT a length (sequences: T)
    int32_t span;           // frames spilled and stored: skel_span (gaps included); sequences: T
    int32_t input;          // index of the archive
} PrepMeta;

// Where a run's time goes: each phase's wall time and the main thread's
// CPU time (the checksum thread's is kept apart), logged at the end as the
// slowest rank's wall and the ranks' CPU, largest and summed. On a loaded
// machine a phase's wall exceeds its CPU by the waits for a core; a phase
// whose summed CPU does not fall with more ranks is the serial part.
enum { PH_SCAN, PH_EXCHANGE, PH_CREATE, PH_SAMPLES, PH_CLOSE, PH_COMMIT, PH_N };
static const char *const phase_name[PH_N] = {"scan", "exchange", "create", "samples", "close", "commit"};

typedef struct Phases {
    double wall[PH_N], cpu[PH_N];
    double at_wall, at_cpu;   // the current phase's start
} Phases;

static void phase_start(Phases *ph) {
    ph->at_wall = dist_wtime();
    ph->at_cpu = prof_thread_cpu();
}

// Ends phase k and starts the next one.
static void phase_end(Phases *ph, int k) {
    double w = dist_wtime(), c = prof_thread_cpu();
    ph->wall[k] += w - ph->at_wall;
    ph->cpu[k] += c - ph->at_cpu;
    ph->at_wall = w;
    ph->at_cpu = c;
}

typedef struct Prep {
    const Dist *d;
    const PrepConfig *cfg;
    const DatasetFormat *fmt;   // cfg->dataset
    int V;
    int seq;                    // the format keeps raw sequences (prepare_seq)
    size_t sample_floats;       // SKEL_T * 2 * V * 3
    float *x;                   // one prepared sample (padded formats)
    double *sx;                 // one raw sequence read back (sequence formats)
    size_t sx_cap;              // doubles sx holds
    FILE *spill;
    int64_t spill_off;
    Buf metas;                  // PrepMeta records of this rank
    Buf rejects;                // "name\tmember\treason\n" lines of this rank
    char **excl;                // sorted names to exclude
    size_t nexcl;
    void *side[DATASET_MAX_PARTS];   // the format's side files, once read (NULL: not yet)
    char **class_names;         // num_class names for /class_name (NULL: none to write)
    int64_t n_outside, n_excluded, n_rejected, n_done, bytes_text;
    Phases ph;
    double hash_cpu;            // the checksum thread's CPU seconds
} Prep;

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

// s with control bytes (tab, newline, ESC: a member name is the archive
// maker's) and backslashes written as \xNN, so one reject is one line of
// three fields that a terminal shows as text (issue 12, finding 8).
static const char *tsv_field(const char *s, char *out, size_t cap) {
    size_t o = 0;
    for (; *s && o + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == '\\') o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else out[o++] = (char)c;
    }
    out[o] = 0;
    return out;
}

static int reject(Prep *p, const char *name, const char *member, const char *why) {
    p->n_rejected++;
    char a[1024], b[1024], c[1024];
    tsv_field(name, a, sizeof a);
    tsv_field(member, b, sizeof b);
    tsv_field(why, c, sizeof c);
    if (p->cfg->strict)
        dist_abort(p->d, PREP_EXIT_REJECT, "--strict: %s (%s): %s", a, b, c);
    return buf_printf(&p->rejects, "%s\t%s\t%s\n", a, b, c);
}

// ---------------------------------------------------------------------------
// Exclusion lists (e.g. the official samples_with_missing_skeletons.txt)

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int load_excludes(Prep *p) {
    for (int i = 0; i < p->cfg->nexcludes; i++) {
        const char *path = p->cfg->excludes[i];
        FILE *f = fopen(path, "r");
        if (!f) {
            CD_ERR("%s: cannot open the exclusion list: %s", path, strerror(errno));
            return CD_EIO;
        }
        char line[512];
        while (fgets(line, sizeof line, f)) {
            size_t n = strcspn(line, " \t\r\n");
            line[n] = 0;
            char *dot = strstr(line, ".skeleton");
            if (dot) *dot = 0;
            if (!line[0] || line[0] == '#') continue;
            char **ne = cd_realloc(p->excl, (p->nexcl + 1) * sizeof *ne);
            if (!ne) { fclose(f); return CD_ENOMEM; }
            p->excl = ne;
            if (!(p->excl[p->nexcl++] = strdup(line))) { fclose(f); return CD_ENOMEM; }
        }
        fclose(f);
    }
    if (p->nexcl) qsort(p->excl, p->nexcl, sizeof *p->excl, cmp_str);   // qsort(NULL, 0) is undefined
    return CD_OK;
}

static int excluded(const Prep *p, const char *name) {
    return p->nexcl && bsearch(&name, p->excl, p->nexcl, sizeof *p->excl, cmp_str) != NULL;
}

// ---------------------------------------------------------------------------
// One member

// Bytes a sample of `span` frames takes in the spill: its first span
// (M, V, C) floats, or a raw sequence's span (V, C) doubles.
static size_t spill_bytes(const Prep *p, int span) {
    return p->seq ? (size_t)span * p->V * SKEL_C * sizeof(double) : (size_t)span * SKEL_M * p->V * SKEL_C * sizeof(float);
}

static int spill_sample(Prep *p, PrepMeta *m, const void *data) {
    size_t n = spill_bytes(p, m->span);
    if (n && fwrite(data, 1, n, p->spill) != n) {
        CD_ERR("cannot write the spill file in %s: %s (HINT: is the disk full?)", p->cfg->out_dir,
               strerror(errno));
        return CD_EIO;
    }
    m->spill_off = p->spill_off;
    m->rank = p->d->rank;
    p->spill_off += (int64_t)n;
    return buf_append(&p->metas, m, sizeof *m);
}

static size_t max_member(const Prep *p) {
    double mb = p->cfg->max_member_mb > 0 ? p->cfg->max_member_mb : PREP_DEFAULT_MAX_MEMBER_MB;
    return (size_t)(mb * 1048576.0);
}

// The format's preparation of one member into m (and the spill).
static int prepare_member(Prep *p, PrepMeta *m, const char *text, size_t len, char *why, size_t whylen) {
    int frames = 0, label = m->s.label, rc;
    double *seq = NULL;
    if (p->seq) rc = p->fmt->prepare_seq(text, len, &seq, &frames, &label, why, whylen);
    else rc = p->fmt->prepare(text, len, p->x, &label, &frames, why, whylen);
    if (rc) return rc;
    m->s.label = label;
    m->frames = frames;
    m->span = p->seq ? frames : skel_span(p->x, p->V);
    p->n_done++;
    rc = spill_sample(p, m, p->seq ? (const void *)seq : (const void *)p->x);
    free(seq);
    return rc;
}

static int handle_member(Prep *p, ArchiveIn *a, int input, const char *member, int64_t order,
                         char **buf, size_t *cap) {
    char why[512] = "";
    PrepMeta m;
    memset(&m, 0, sizeof m);
    m.order = order;
    m.input = input;
    snprintf(m.member, sizeof m.member, "%s", member);
    int rc = p->fmt->member(member, &m.s, why, sizeof why);
    if (rc == CD_EREJECT) return reject(p, m.s.name[0] ? m.s.name : base_name(member), member, why);
    if (rc == DATASET_OUTSIDE) {
        p->n_outside++;
        return archive_in_skip(a);
    }
    if (rc) return rc;
    if (excluded(p, m.s.name)) {
        p->n_excluded++;
        return archive_in_skip(a);
    }
    size_t len;
    rc = archive_in_read(a, buf, cap, &len, max_member(p), why, sizeof why);
    if (rc == CD_EFORMAT) return reject(p, m.s.name, member, why);
    if (rc) return rc;
    p->bytes_text += (int64_t)len;
    rc = prepare_member(p, &m, *buf, len, why, sizeof why);
    return rc == CD_EREJECT ? reject(p, m.s.name, member, why) : rc;
}

// The part whose side file this member is, or -1.
static int side_of(const DatasetFormat *fmt, const char *member) {
    for (int k = 0; k < DATASET_MAX_PARTS; k++)
        if (fmt->side[k] && strcmp(base_name(member), fmt->side[k]) == 0) return k;
    return -1;
}

static int read_side(Prep *p, ArchiveIn *a, const char *input, const char *member, int part, char **buf,
                     size_t *cap) {
    char why[512] = "";
    size_t len;
    int rc = archive_in_read(a, buf, cap, &len, max_member(p), why, sizeof why);
    if (rc == CD_OK && p->side[part]) {
        CD_ERR("%s: a second %s", input, member);
        return CD_EFORMAT;
    }
    if (rc == CD_OK) rc = p->fmt->side_read(&p->side[part], part, *buf, len, why, sizeof why);
    if (rc) CD_ERR("%s: %s: %s", input, member, why[0] ? why : cd_status_str(rc));
    return rc == CD_OK ? CD_OK : CD_EFORMAT;
}

// Members never read, each a reject with its reason (they used to be
// skipped uncounted, or read as samples): anything but a regular file with
// data of its own (links, FIFOs, devices: an extractor would make them
// something else than a sample), and names that would leave the folder an
// extractor writes to (absolute, or a ".." component). 1 with why filled.
static int member_refused(const ArchiveIn *a, const char *member, int is_file, char *why, size_t whylen) {
    if (!is_file) {
        char what[384];
        archive_in_what(a, what, sizeof what);
        snprintf(why, whylen, "the member is %s, not a regular file: not read", what);
        return 1;
    }
    int up = 0;
    for (const char *s = member; *s && !up; s = strchr(s, '/') ? strchr(s, '/') + 1 : "")
        up = s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == 0);
    if (member[0] == '/' || up) {
        snprintf(why, whylen, "the member's name %s: not read (it would leave the folder an extractor writes to)",
                 member[0] == '/' ? "is an absolute path" : "has a '..' component");
        return 1;
    }
    return 0;
}

// A refused member in the rejects report, under its sample name when it has one.
static int reject_refused(Prep *p, const char *member, const char *why) {
    DatasetSample s;
    char ignored[256];
    memset(&s, 0, sizeof s);
    int rc = p->fmt->member(member, &s, ignored, sizeof ignored);
    return reject(p, rc == CD_OK && s.name[0] ? s.name : base_name(member), member, why);
}

// Who parses which member. A rank that hashes an input (hash_inputs: input
// i on rank i % size) does so on top of its members, so it takes fewer:
// rank r's share of the members is s_r = (1 + A) / size - A h_r (never
// below 0), h_r the fraction of the input bytes it hashes and A the cost of
// hashing an archive byte against scanning it. A = 0.084 is bench-prep's
// 6,000-sample NTU zip on one quiet core (SHA-256 0.72 s, inflate and parse
// 8.6 s); with k % size the hashing rank was the last to finish (2 ranks:
// 1.67x one rank end to end instead of 1.7x). Each member goes to the rank
// whose count is furthest below its share, ties to the lower rank: with
// equal shares that is k % size. Every rank walks the same sequence; the
// output never depends on who parsed what.
#define PREP_HASH_COST 0.084

typedef struct Owners {
    int n;
    double *share;    // [n] s_r above
    int64_t *taken;   // [n] members given to each rank so far
} Owners;

static int owners_init(Owners *o, const Dist *d, const int64_t *bytes, int ninputs, int64_t total) {
    o->n = d->size;
    o->share = cd_calloc((size_t)o->n, sizeof *o->share);
    o->taken = cd_calloc((size_t)o->n, sizeof *o->taken);
    if (!o->share || !o->taken) return CD_ENOMEM;
    for (int r = 0; r < o->n; r++) o->share[r] = (1.0 + PREP_HASH_COST) / o->n;
    for (int i = 0; i < ninputs && total > 0; i++)
        o->share[i % o->n] -= PREP_HASH_COST * (double)bytes[i] / (double)total;
    for (int r = 0; r < o->n; r++)
        if (o->share[r] < 0) o->share[r] = 0;
    return CD_OK;
}

static int member_owner(Owners *o) {
    int best = -1;
    double best_pass = 0;
    for (int r = 0; r < o->n; r++) {
        if (o->share[r] <= 0) continue;
        double pass = (double)(o->taken[r] + 1) / o->share[r];
        if (best < 0 || pass < best_pass) best = r, best_pass = pass;
    }
    o->taken[best]++;
    return best;
}

static void owners_free(Owners *o) {
    free(o->share);
    free(o->taken);
}

// Walks every input archive; returns a status all ranks agree on.
static int scan_inputs(Prep *p) {
    const Dist *d = p->d;
    int64_t total_bytes = 0, base = 0, order = 0;
    int64_t *in_bytes = cd_calloc((size_t)p->cfg->ninputs + 1, sizeof *in_bytes);
    if (!in_bytes) return dist_agree(d, CD_ENOMEM);
    for (int i = 0; i < p->cfg->ninputs; i++) {
        struct stat st;
        if (stat(p->cfg->inputs[i], &st) == 0) in_bytes[i] = (int64_t)st.st_size;
        total_bytes += in_bytes[i];
    }
    Owners own = {0};
    int orc = owners_init(&own, d, in_bytes, p->cfg->ninputs, total_bytes);
    free(in_bytes);
    if (orc) {
        owners_free(&own);
        return dist_agree(d, orc);
    }
    Progress prog;
    progress_init(&prog, "prep", "MB", (total_bytes + (1 << 20) - 1) >> 20, p->cfg->progress_s);
    char *buf = NULL;
    size_t cap = 0;
    int rc = CD_OK;
    for (int i = 0; i < p->cfg->ninputs && rc == CD_OK; i++) {
        const char *in = p->cfg->inputs[i];
        ArchiveIn *a = NULL;
        rc = archive_in_open(&a, in);
        int64_t members = 0;
        while (rc == CD_OK) {
            const char *member;
            int64_t size;
            int is_file, part;
            int r = archive_in_next(a, &member, &size, &is_file);
            if (r == 1) break;
            if (r) { rc = r; break; }
            if (!is_file && archive_in_is_dir(a)) continue;   // folders are structure
            members++;
            char odd[512];
            int refused = member_refused(a, member, is_file, odd, sizeof odd);
            if (!refused && (part = side_of(p->fmt, member)) >= 0) {
                rc = read_side(p, a, in, member, part, &buf, &cap);
                continue;
            }
            int64_t k = order++;
            if (member_owner(&own) != d->rank) {
                rc = archive_in_skip(a);
                continue;
            }
            if (refused) rc = reject_refused(p, member, odd);
            else rc = handle_member(p, a, i, member, k, &buf, &cap);
            progress_update(&prog, d, (base + archive_in_position(a)) >> 20);
        }
        if (a) base += archive_in_position(a);
        if (rc == CD_EFORMAT) CD_ERR("%s: giving up on this archive after %lld members", in, (long long)members);
        archive_in_close(a);
    }
    free(buf);
    owners_free(&own);
    rc = dist_agree(d, rc);
    if (rc == CD_OK) progress_end(&prog, d, base >> 20);
    return rc;
}

// ---------------------------------------------------------------------------
// Gathering, checking and ordering

static int cmp_meta(const void *a, const void *b) {
    const PrepMeta *x = a, *y = b;
    int c = strcmp(x->s.name, y->s.name);
    return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

// Drops duplicates and samples the format's side files do not vouch for.
// Every rank computes the same; only rank 0 records the rejects.
static int64_t check_metas(Prep *p, PrepMeta *all, int64_t n, Buf *rej) {
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        PrepMeta *m = &all[i];
        char why[256] = "";
        if (k > 0 && strcmp(all[k - 1].s.name, m->s.name) == 0) {
            snprintf(why, sizeof why, "duplicate sample: also %s of input %d, which is kept",
                     all[k - 1].member, all[k - 1].input + 1);
        } else if (p->fmt->vouch && p->fmt->vouch(p->side[m->s.part], &m->s, why, sizeof why) == DATASET_EXCLUDE) {
            p->n_excluded++;
            continue;
        }
        if (why[0]) {
            p->n_rejected++;
            if (p->d->rank == 0) buf_printf(rej, "%s\t%s\t%s\n", m->s.name, m->member, why);
            continue;
        }
        all[k++] = *m;
    }
    return k;
}

// After the scan: a format with side files needs at least one of them.
static int sides_present(const Prep *p) {
    char names[256] = "";
    int want = 0;
    for (int k = 0; k < DATASET_MAX_PARTS; k++) {
        if (!p->fmt->side[k]) continue;
        if (p->side[k]) return CD_OK;
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", want++ ? " or " : "", p->fmt->side[k]);
    }
    if (!want) return CD_OK;
    if (p->d->rank == 0) CD_ERR("no %s in the inputs", names);
    return CD_EFORMAT;
}

// The side files' checks once every sample is known: a sample of part p
// needs its side file. Rank 0 says which is missing.
static int check_sides(const Prep *p, const PrepMeta *all, int64_t n) {
    for (int part = 0; part < DATASET_MAX_PARTS; part++)
        if (p->fmt->side[part] && !p->side[part])
            for (int64_t i = 0; i < n; i++)
                if (all[i].s.part == part) {
                    if (p->d->rank == 0)
                        CD_ERR("clips of %s but no %s in the inputs", p->fmt->part_name[part], p->fmt->side[part]);
                    return CD_EFORMAT;
                }
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Output

static int cmp_line(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Sorts the report's lines and puts the header first.
static void sort_lines(Buf *b) {
    static const char header[] = "# name\tmember\treason\n";
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) n += b->p[i] == '\n';
    char **lines = cd_calloc(n + 1, sizeof *lines);
    Buf out = {0};
    if (!lines || buf_append(&out, header, strlen(header))) { free(lines); return; }
    size_t k = 0;
    for (char *s = b->p, *e; s && k < n && (e = strchr(s, '\n')); s = e + 1) {
        *e = 0;
        lines[k++] = s;
    }
    qsort(lines, k, sizeof *lines, cmp_line);
    for (size_t i = 0; i < k; i++) buf_printf(&out, "%s\n", lines[i]);
    free(lines);
    free(b->p);
    *b = out;
}


// Reads sample m back from this rank's spill: into p->x (padded) or p->sx.
static int spill_read(Prep *p, const PrepMeta *m) {
    size_t nb = spill_bytes(p, m->span);
    void *dst = p->x;
    if (p->seq) {
        size_t need = nb / sizeof(double);
        if (need > p->sx_cap) {
            double *nx = cd_realloc(p->sx, need * sizeof *nx);
            if (!nx) return CD_ENOMEM;
            p->sx = nx;
            p->sx_cap = need;
        }
        dst = p->sx;
    }
    if (fseeko(p->spill, (off_t)m->spill_off, SEEK_SET) != 0 || fread(dst, 1, nb, p->spill) != nb) {
        CD_ERR("cannot read back the spill file (sample %s)", m->s.name);
        return CD_EIO;
    }
    return CD_OK;
}

// One benchmark file of the run being written: where each sample goes.
typedef struct BenchOut {
    H5PrepFile *f;
    int64_t *pos;        // each sample's index in its group
    int64_t *row;        // sequences: its first row in the group's seq
    int64_t cnt[2], rows[2];
    char path[4096];
} BenchOut;

// Each sample's place in benchmark b; returns the names' width (NUL included).
static int64_t bench_places(Prep *p, BenchOut *o, int b, const PrepMeta *all, int64_t n) {
    int name_len = 1;
    for (int64_t i = 0; i < n; i++) {
        int g = p->fmt->group(b, &all[i].s);
        o->pos[i] = o->cnt[g]++;
        o->row[i] = o->rows[g];
        o->rows[g] += all[i].span;
        int l = (int)strlen(all[i].s.name) + 1;
        if (l > name_len) name_len = l;
    }
    return name_len;
}

// Collective: creates benchmark b's file (PATH.partial) and writes its
// labels, frames, names (and offsets).
static int bench_create(Prep *p, BenchOut *o, int b, const PrepMeta *all, int64_t n, const char *sources) {
    const Dist *d = p->d;
    int name_len = bench_places(p, o, b, all, n);
    char tmp[4200];
    snprintf(o->path, sizeof o->path, "%s/%s.h5", p->cfg->out_dir, p->fmt->bench[b]);
    fs_partial(o->path, tmp, sizeof tmp);
    H5PrepSpec spec = {
        .dataset = p->fmt->name,
        .benchmark = p->fmt->bench[b],
        .layout = p->fmt->layout->name,
        .V = p->V,
        .num_class = p->fmt->num_class,
        .name_len = name_len,
        .n = {o->cnt[0], o->cnt[1]},
        .sources = sources,
        .class_names = (const char *const *)p->class_names,
        .M = p->fmt->layout->M,
        .seq = p->seq,
        .rows = {p->seq ? o->rows[0] : 0, p->seq ? o->rows[1] : 0},
    };
    int rc = dist_agree(d, h5io_prep_create(&o->f, d, tmp, &spec));
    if (rc) o->f = NULL;   // failed on some rank: not closed (a collective) anywhere; the .partial is removed
    for (int g = 0; g < 2 && rc == CD_OK; g++) {
        int64_t k = o->cnt[g] ? o->cnt[g] : 1;
        int32_t *label = cd_malloc((size_t)k * sizeof *label);
        int32_t *frames = cd_malloc((size_t)k * sizeof *frames);
        int64_t *offset = cd_malloc((size_t)k * sizeof *offset);
        char *names = cd_calloc((size_t)k, (size_t)name_len);
        if (!label || !frames || !offset || !names) rc = CD_ENOMEM;
        for (int64_t i = 0; i < n && rc == CD_OK; i++) {
            if (p->fmt->group(b, &all[i].s) != g) continue;
            label[o->pos[i]] = all[i].s.label;
            frames[o->pos[i]] = all[i].frames;
            offset[o->pos[i]] = o->row[i];
            memcpy(names + o->pos[i] * name_len, all[i].s.name, strlen(all[i].s.name));
        }
        rc = dist_agree(d, rc);
        if (rc == CD_OK) rc = h5io_prep_write_meta(o->f, g, label, frames, names, p->seq ? offset : NULL);
        free(label);
        free(frames);
        free(offset);
        free(names);
    }
    return rc;
}

// Each rank writes the samples it prepared, straight from its spill, one
// benchmark file after the other: rank r starts with the (r % nb)-th, so
// that ranks write into different files at a time, and all agree (wait for
// each other) before the next. Writes into one file serialise on its lock
// (a tmpfs or local file system's inode lock): two ranks writing into the
// same file spent several seconds spinning on it (system time), more than
// the writes took. A sample's CRC is computed by its first write only.
static int write_samples(Prep *p, BenchOut *out, const PrepMeta *all, int64_t n) {
    const Dist *d = p->d;
    const int nb = p->fmt->nbench;
    uint32_t *crc = p->seq ? NULL : cd_malloc((size_t)(n ? n : 1) * sizeof *crc);
    int rc = p->seq || crc ? CD_OK : CD_ENOMEM;
    for (int j = 0; j < nb; j++) {
        int b = (d->rank + j) % nb;
        for (int64_t i = 0; i < n && rc == CD_OK; i++) {
            if (all[i].rank != d->rank) continue;
            int g = p->fmt->group(b, &all[i].s);
            if ((rc = spill_read(p, &all[i]))) break;
            rc = p->seq ? h5io_prep_write_seq(out[b].f, g, out[b].row[i], p->sx, all[i].span)
                        : h5io_prep_write_sample(out[b].f, g, out[b].pos[i], p->x, all[i].span, &crc[i], j > 0);
        }
        rc = dist_agree(d, rc);
    }
    free(crc);
    return rc;
}

// The write phase: every benchmark file created, filled and closed (as
// PATH.partial; commit_outputs renames them). Its rate (bench-prep prints
// it) is the bytes of sample data written (padded samples: their frames;
// the padding is left as holes, h5io_prep_write_sample) over the slowest
// rank's wall time from the first create to the last close.
static int write_benches(Prep *p, const PrepMeta *all, int64_t n, const char *sources) {
    const Dist *d = p->d;
    const int nb = p->fmt->nbench;
    BenchOut out[DATASET_MAX_BENCH];
    memset(out, 0, sizeof out);
    int rc = CD_OK;
    for (int b = 0; b < nb && rc == CD_OK; b++) {
        out[b].pos = cd_malloc((size_t)(n ? n : 1) * sizeof *out[b].pos);
        out[b].row = cd_malloc((size_t)(n ? n : 1) * sizeof *out[b].row);
        if (!out[b].pos || !out[b].row) rc = CD_ENOMEM;
    }
    rc = dist_agree(d, rc);
    double t_write = dist_wtime(), bytes = 0, size = 0;
    for (int64_t i = 0; i < n; i++) {
        bytes += (double)nb * (double)spill_bytes(p, all[i].span);
        size += (double)nb * (p->seq ? (double)spill_bytes(p, all[i].span)
                                     : (double)SKEL_C * SKEL_T * p->V * SKEL_M * sizeof(float));
    }
    for (int b = 0; b < nb && rc == CD_OK; b++) rc = bench_create(p, &out[b], b, all, n, sources);
    phase_end(&p->ph, PH_CREATE);
    if (rc == CD_OK) rc = write_samples(p, out, all, n);
    phase_end(&p->ph, PH_SAMPLES);
    for (int b = 0; b < nb; b++) {
        if (!out[b].f) continue;
        int crc = h5io_prep_close(out[b].f);   // collective; agrees on errors
        rc = dist_agree(d, rc ? rc : crc);   // renamed into place by commit_outputs, with the others
    }
    phase_end(&p->ph, PH_CLOSE);
    t_write = dist_wtime() - t_write;
    if (rc == CD_OK) rc = dist_allreduce_max_f64(d, &t_write, 1);
    for (int b = 0; b < nb && rc == CD_OK; b++) {
        log_info(d, "prep | wrote %s: train %lld, test %lld samples", out[b].path, (long long)out[b].cnt[0],
                 (long long)out[b].cnt[1]);
        for (int g = 0; g < 2; g++)   // a subset of the archives, or a wrong --dataset
            if (!out[b].cnt[g])
                log_warn(d, "prep | %s: the %s split is empty (no input sample falls into it): training or "
                         "evaluating on it will fail", out[b].path, g ? "test" : "train");
    }
    if (rc == CD_OK)
        log_info(d, "prep | write phase: %d file(s), %.1f MB of samples (%.1f MB with the padding) in %.2fs: "
                 "%.1f MB/s, %.1f MB/s per rank", nb, bytes / 1e6, size / 1e6, t_write, bytes / 1e6 / t_write,
                 bytes / 1e6 / t_write / d->size);
    for (int b = 0; b < nb; b++) {
        free(out[b].pos);
        free(out[b].row);
    }
    return rc;
}

// Rank 0, once every file of the run is complete as PATH.partial: renames
// them into place one after the other, the rejects report last, so that a
// run killed while writing leaves the previous run's files, all of them,
// never some of each (the renames take microseconds). On an error (or with
// rc != CD_OK from the writes) the .partial files are removed. Collective
// through the final agreement.
static int commit_outputs(Prep *p, int rc, const Buf *rej, const char *rpath) {
    char path[4200], tmp[4300];
    if (p->d->rank == 0) {
        fs_partial(rpath, tmp, sizeof tmp);
        char why[2048];
        if (rc == CD_OK && (rc = fs_write_file_why(tmp, rej->p ? rej->p : "", rej->n, why, sizeof why))) CD_ERR("%s", why);
        for (int b = 0; b <= p->fmt->nbench; b++) {
            if (b < p->fmt->nbench) snprintf(path, sizeof path, "%s/%s.h5", p->cfg->out_dir, p->fmt->bench[b]);
            else snprintf(path, sizeof path, "%s", rpath);
            fs_partial(path, tmp, sizeof tmp);
            if (rc != CD_OK) unlink(tmp);
            else if (fs_commit(tmp, path) != CD_OK) {
                CD_ERR("%s: cannot rename into place: %s", path, strerror(errno));
                rc = CD_EIO;
            }
        }
    }
    return dist_agree(p->d, rc);
}

// Collective: "prep | phases: scan 7.10s wall, cpu 6.90 max / 13.70 sum,
// ..." on rank 0, the last entry the checksum thread's CPU.
static void log_phases(Prep *p) {
    double mx[2 * PH_N + 1], sum[PH_N + 1];
    for (int k = 0; k < PH_N; k++) {
        mx[k] = p->ph.wall[k];
        mx[PH_N + k] = sum[k] = p->ph.cpu[k];
    }
    mx[2 * PH_N] = sum[PH_N] = p->hash_cpu;
    if (dist_allreduce_max_f64(p->d, mx, 2 * PH_N + 1) || dist_allreduce_sum_f64(p->d, sum, PH_N + 1)) return;
    char line[1024];
    size_t o = 0;
    for (int k = 0; k < PH_N && o < sizeof line; k++)
        o += (size_t)snprintf(line + o, sizeof line - o, "%s %.2fs wall, cpu %.2f max / %.2f sum, ", phase_name[k],
                              mx[k], mx[PH_N + k], sum[k]);
    if (o < sizeof line) snprintf(line + o, sizeof line - o, "checksums cpu %.2f max / %.2f sum", mx[2 * PH_N], sum[PH_N]);
    log_info(p->d, "prep | phases (slowest rank's wall; main threads' CPU): %s", line);
}

// Input checksums ("sha256  bytes  file" per input) are computed by a
// thread on rank i % size while the scan runs: hashing a multi-GB archive up
// front would hold every rank back for seconds.
typedef struct Hasher {
    const Dist *d;
    const PrepConfig *cfg;
    Buf lines;
    int rc, started;
    double cpu;   // the thread's CPU seconds
    pthread_t thread;
} Hasher;

static void *hash_inputs(void *arg) {
    Hasher *h = arg;
    for (int i = h->d->rank; i < h->cfg->ninputs && h->rc == CD_OK; i += h->d->size) {
        char hex[65];
        struct stat st;
        h->rc = checksum_sha256_file(h->cfg->inputs[i], hex);
        if (h->rc == CD_OK && stat(h->cfg->inputs[i], &st) != 0) h->rc = CD_EIO;
        if (h->rc == CD_OK)
            h->rc = buf_printf(&h->lines, "%03d %s  %lld  %s\n", i, hex, (long long)st.st_size,
                               base_name(h->cfg->inputs[i]));
    }
    h->cpu = prof_thread_cpu();
    return NULL;
}

static void checksums_start(Hasher *h, const Dist *d, const PrepConfig *cfg) {
    memset(h, 0, sizeof *h);
    h->d = d;
    h->cfg = cfg;
    h->started = pthread_create(&h->thread, NULL, hash_inputs, h) == 0;
    if (!h->started) {   // no thread: hash inline (its CPU time is the scan's)
        hash_inputs(h);
        h->cpu = 0;
    }
}

// Collective: joins the thread and gives every rank the ordered lines.
static int checksums_finish(Hasher *h, char **out) {
    const Dist *d = h->d;
    const PrepConfig *cfg = h->cfg;
    if (h->started) pthread_join(h->thread, NULL);
    h->started = 0;
    Buf mine = h->lines;
    int rc = h->rc;
    rc = dist_agree(d, rc);
    void *all = NULL;
    size_t n = 0;
    if (rc == CD_OK) rc = dist_allgather_bytes(d, mine.p ? mine.p : "", mine.n, &all, &n, NULL);
    free(mine.p);
    if (rc) return rc;
    // Order the lines by input index, then drop the index.
    char *lines[PREP_MAX_INPUTS] = {0};
    char *text = cd_calloc(n + 1, 1);
    if (!text) { free(all); return CD_ENOMEM; }
    memcpy(text, all, n);
    free(all);
    for (char *s = text, *e; *s; s = e + 1) {
        e = strchr(s, '\n');
        if (!e) break;
        *e = 0;
        int i = atoi(s);
        if (i >= 0 && i < PREP_MAX_INPUTS) lines[i] = s + 4;
    }
    Buf res = {0};
    for (int i = 0; i < cfg->ninputs; i++) buf_printf(&res, "%s\n", lines[i] ? lines[i] : "?");
    free(text);
    *out = res.p;
    return res.p ? CD_OK : CD_ENOMEM;
}

// ---------------------------------------------------------------------------

static void prep_free(Prep *p) {
    free(p->x);
    free(p->sx);
    if (p->spill) fclose(p->spill);
    free(p->metas.p);
    free(p->rejects.p);
    for (size_t i = 0; i < p->nexcl; i++) free(p->excl[i]);
    free(p->excl);
    for (int k = 0; k < DATASET_MAX_PARTS; k++)
        if (p->side[k]) p->fmt->side_free(p->side[k]);
    for (int k = 0; p->class_names && k < p->fmt->num_class; k++) free(p->class_names[k]);
    free(p->class_names);
}

// The format's class names from its shipped list, each after its official
// number when the format numbers them ("A001 drink water"), so eval, the
// ensemble and the report show them without a flag. Every rank reads the
// same small file. Not having the list only costs the names: a warning.
static void load_class_names(Prep *p) {
    const DatasetFormat *f = p->fmt;
    char path[4200], why[8192];
    Descriptions *desc = NULL;
    if (!f->classes) return;
    if (datadir_find(f->classes, path, sizeof path, why, sizeof why) != CD_OK ||
        descriptions_load(path, &desc, why, sizeof why) != CD_OK) {
        log_warn(p->d, "prep | no class names in the output: %s", why);
        return;
    }
    char **v = cd_calloc((size_t)f->num_class, sizeof *v);
    int have = 0;
    for (int i = 0; v && i < desc->n; i++) {
        int k = desc->cls[i].id - f->class_id_base;
        if (k < 0 || k >= f->num_class || v[k]) continue;
        char code[32] = "", name[512];
        if (f->class_code) snprintf(code, sizeof code, f->class_code, desc->cls[i].id);
        snprintf(name, sizeof name, "%s%s%s", code, code[0] ? " " : "", desc->cls[i].name);
        if ((v[k] = strdup(name))) have++;
    }
    descriptions_free(desc);
    if (have != f->num_class) {
        log_warn(p->d, "prep | no class names in the output: %s names %d of the %d classes", path, have, f->num_class);
        for (int k = 0; v && k < f->num_class; k++) free(v[k]);
        free(v);
        return;
    }
    p->class_names = v;
}

static int prep_setup(Prep *p) {
    p->V = p->fmt->layout->V;
    p->seq = p->fmt->prepare_seq != NULL;
    p->sample_floats = (size_t)SKEL_T * SKEL_M * p->V * SKEL_C;
    if (!p->seq && !(p->x = cd_malloc(p->sample_floats * sizeof(float)))) return CD_ENOMEM;
    // The inputs first: a typo in an archive's name leaves nothing behind.
    // Regular files only: every rank reads each one, and a thread again for
    // its checksum (a pipe's bytes would be split between them).
    for (int i = 0; i < p->cfg->ninputs; i++)
        if (fs_need_regular(p->cfg->inputs[i], "input archive")) return CD_EIO;
    for (int i = 0; i < p->cfg->nexcludes; i++)
        if (fs_need_regular(p->cfg->excludes[i], "exclusion list")) return CD_EIO;
    int rc = load_excludes(p);
    if (rc) return rc;
    if (fs_mkdir_p(p->cfg->out_dir) != 0) {
        CD_ERR("%s: cannot create the output folder: %s", p->cfg->out_dir, strerror(errno));
        return CD_EIO;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/.prep-spill-r%d-%ld", p->cfg->out_dir, p->d->rank, (long)getpid());
    p->spill = fopen(path, "w+b");
    if (!p->spill) {
        CD_ERR("%s: cannot create a spill file: %s", path, strerror(errno));
        return CD_EIO;
    }
    unlink(path);   // lives until closed, never outlives the process
    return CD_OK;
}

int prep_run(const Dist *d, const PrepConfig *cfg) {
    Prep p;
    memset(&p, 0, sizeof p);
    p.d = d;
    p.cfg = cfg;
    p.fmt = cfg->dataset;
    double t0 = dist_wtime();
    phase_start(&p.ph);
    log_info(d, "prep | dataset %s | %d input(s) | %d rank(s) | out %s", p.fmt->name, cfg->ninputs,
             d->size, cfg->out_dir);
    int rc = dist_agree(d, prep_setup(&p)), set_up = rc == CD_OK;
    char *sources = NULL;
    Hasher hasher;
    if (rc == CD_OK) {
        checksums_start(&hasher, d, cfg);
        rc = scan_inputs(&p);
        int hrc = checksums_finish(&hasher, &sources);
        p.hash_cpu = hasher.cpu;
        if (rc == CD_OK) rc = hrc;
    }
    if (rc == CD_OK) rc = sides_present(&p);
    double t_scan = dist_wtime() - t0;
    phase_end(&p.ph, PH_SCAN);

    void *allm = NULL, *allr = NULL;
    size_t nm = 0, nr = 0;
    if (rc == CD_OK) rc = dist_allgather_bytes(d, p.metas.p ? p.metas.p : "", p.metas.n, &allm, &nm, NULL);
    if (rc == CD_OK) rc = dist_allgather_bytes(d, p.rejects.p ? p.rejects.p : "", p.rejects.n, &allr, &nr, NULL);
    int64_t counts[5] = {p.n_outside, p.n_excluded, p.n_rejected, p.n_done, p.bytes_text};
    if (rc == CD_OK) rc = dist_allreduce_sum_i64(d, counts, 5);
    Buf rej = {0};
    int64_t n = (int64_t)(nm / sizeof(PrepMeta));
    PrepMeta *all = allm;
    if (rc == CD_OK) {
        if (nr) buf_append(&rej, allr, nr);
        qsort(all, (size_t)n, sizeof *all, cmp_meta);
        int64_t before = p.n_rejected, ex_before = p.n_excluded;
        rc = check_sides(&p, all, n);
        if (rc == CD_OK) n = check_metas(&p, all, n, &rej);
        counts[2] += p.n_rejected - before;
        counts[1] += p.n_excluded - ex_before;
        if (rc == CD_OK && cfg->strict && counts[2] > 0) {
            if (d->rank == 0) {
                const char *first = rej.p ? rej.p : "?";
                CD_ERR("--strict: %lld sample(s) rejected; first: %.*s", (long long)counts[2],
                       (int)strcspn(first, "\n"), first);
            }
            rc = CD_EREJECT;
        }
        if (rc == CD_OK && n == 0) {   // point at the rejects report only when it has something
            if (d->rank == 0 && counts[2])
                CD_ERR("no sample could be prepared from the inputs: %lld rejected (see %s/%s-rejects.tsv)",
                       (long long)counts[2], cfg->out_dir, p.fmt->name);
            else if (d->rank == 0)
                CD_ERR("no sample of %s in the inputs: %lld member(s) outside the dataset, %lld excluded "
                       "(HINT: is --dataset right for these archives?)", p.fmt->name, (long long)counts[0],
                       (long long)counts[1]);
            rc = CD_EFORMAT;
        }
    }
    char rpath[4200];
    snprintf(rpath, sizeof rpath, "%s/%s-rejects.tsv", cfg->out_dir, p.fmt->name);
    if (d->rank == 0 && set_up && rc != CD_ENOMEM) {   // not for unusable inputs: nothing was read
        sort_lines(&rej);   // the same report whatever the number of ranks
        // A run that stops here writes the report alone; otherwise it goes
        // into place with the sample files (commit_outputs).
        if (rc != CD_OK) fs_write_atomic(rpath, rej.p ? rej.p : "", rej.n);
        if (counts[2]) log_warn(d, "prep | %lld sample(s) rejected: see %s", (long long)counts[2], rpath);
    }
    rc = dist_agree(d, rc);
    log_info(d, "prep | %lld prepared, %lld rejected, %lld excluded, %lld outside the dataset | %.1f MB text | %.1fs",
             (long long)n, (long long)counts[2], (long long)counts[1], (long long)counts[0],
             (double)counts[4] / 1e6, t_scan);
    log_info(d, "prep | %.1f samples/s, %.1f MB/s of text (%.1f MB/s per rank)", (double)counts[3] / t_scan,
             (double)counts[4] / 1e6 / t_scan, (double)counts[4] / 1e6 / t_scan / d->size);

    if (rc == CD_OK) load_class_names(&p);
    int wrote = rc == CD_OK;
    phase_end(&p.ph, PH_EXCHANGE);
    if (rc == CD_OK) rc = write_benches(&p, all, n, sources);
    for (int b = 0; b < p.fmt->nbench && rc == CD_OK && d->rank == 0; b++) fault_point("bench", b + 1);
    if (wrote) rc = commit_outputs(&p, rc, &rej, rpath);
    phase_end(&p.ph, PH_COMMIT);
    if (rc == CD_OK) log_phases(&p);
    if (rc == CD_OK) log_info(d, "prep | done in %.1fs", dist_wtime() - t0);
    free(allm);
    free(allr);
    free(rej.p);
    free(sources);
    prep_free(&p);
    return rc == CD_OK ? PREP_EXIT_OK : rc == CD_EREJECT ? PREP_EXIT_REJECT : PREP_EXIT_ERROR;
}
