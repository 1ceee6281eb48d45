// loader.c - data-parallel batches from a cocodiff-prep HDF5 file (see
// loader.h for the batch/rank arithmetic). Padded samples are read with
// serial HDF5 through one H5PrepReader the loader keeps open, one call per
// run of consecutive dataset indices (at most LOADER_STAGE samples), and
// transformed with feeder_transform; raw sequences are read whole at open
// and transformed with the layout's seq_transform. Both are keyed by (seed,
// epoch, sample key), so results do not depend on rank count.
#include "loader.h"
#include "h5io_prep.h"
#include "skeleton.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// Salt of the epoch-permutation stream (kept apart from the per-sample ones).
#define PERM_SALT 0x7065726d75746531ULL   // "permute1"

struct Loader {
    char *path;
    H5PrepReader *r;           // open from loader_open to loader_free
    int group;
    FeederConfig f;
    int C, T, V, M, num_class;
    int64_t n;                 // samples an epoch visits: nbase x repeat
    int64_t nbase;             // the group's samples, or the subset's
    int64_t ngroup;            // samples in the group
    int seq;                   // the file keeps raw sequences (h5io_prep.h)
    double *seqs;              // (rows, V, C) the group's frames (raw sequences)
    int64_t *seq_off;          // (ngroup) first row of each sequence
    int32_t *seq_len;          // (ngroup) its frames
    int64_t *sel;              // (n) the subset's dataset indices; NULL: the whole group
    int B, rank, nranks, shuffle, drop_last, nb, max_local;
    uint64_t seed;
    int32_t *labels;           // (ngroup)
    int64_t *order;            // (n) for order_epoch
    int order_epoch, have_order;
    float *stage;              // (LOADER_STAGE, C, T, V, M) stored samples
    struct Slot { int64_t idx, key; int pos; } *slots;   // (max_local)
};

static const char *group_name(int g) { return g == 0 ? "train" : "test"; }


// ---------------------------------------------------------------------------
// Open / free.

static int check_args(const char *path, int group, const FeederConfig *f, int B, int rank,
                      int nranks, char *why, size_t whylen) {
    if (!path || !f) return cd_why(why, whylen, CD_EARG, "loader: no file or feeder config");
    if (group != 0 && group != 1)
        return cd_why(why, whylen, CD_EARG, "%s: group %d: must be 0 (train) or 1 (test)", path, group);
    if (B < 1) return cd_why(why, whylen, CD_EARG, "%s: global batch %d must be >= 1", path, B);
    if (nranks < 1 || rank < 0 || rank >= nranks)
        return cd_why(why, whylen, CD_EARG, "%s: rank %d of %d is out of range", path, rank, nranks);
    struct stat st;
    if (stat(path, &st) != 0)
        return cd_why(why, whylen, CD_EIO, "%s: %s (HINT: run cocodiff-prep first)", path, strerror(errno));
    return CD_OK;
}

// Raw sequences: reads the group's lengths, offsets and frames (all of
// them: NW-UCLA's /train is 20 MB) and checks that the sequences tile seq.
static int load_seqs(Loader *l, const H5PrepInfo *info, char *why, size_t whylen) {
    const char *p = l->path, *g = group_name(l->group);
    const int64_t N = l->ngroup, rows = info->rows[l->group];
    l->seq_off = cd_malloc((size_t)N * sizeof *l->seq_off);
    l->seq_len = cd_malloc((size_t)N * sizeof *l->seq_len);
    l->seqs = cd_malloc((size_t)(rows ? rows : 1) * l->V * l->C * sizeof *l->seqs);
    if (!l->seq_off || !l->seq_len || !l->seqs) return cd_why(why, whylen, CD_ENOMEM, "%s: out of memory", p);
    int rc = h5io_prep_reader_read(l->r, l->group, 0, N, NULL, NULL, l->seq_len, NULL);
    if (!rc) rc = h5io_prep_reader_read_offsets(l->r, l->group, 0, N, l->seq_off);
    if (rc) return cd_why(why, whylen, rc, "%s: cannot read /%s/frames and /%s/offset", p, g, g);
    for (int64_t i = 0, next = 0; i < N; next += l->seq_len[i++])
        if (l->seq_len[i] < 1 || l->seq_off[i] != next || l->seq_off[i] + l->seq_len[i] > rows)
            return cd_why(why, whylen, CD_EFORMAT, "%s: /%s sequence %lld: offset %lld, %d frames do not follow "
                          "the previous one within /%s/seq's %lld rows", p, g, (long long)i,
                          (long long)l->seq_off[i], l->seq_len[i], g, (long long)rows);
    if (rows && (rc = h5io_prep_reader_read_seq(l->r, l->group, 0, rows, l->seqs)))
        return cd_why(why, whylen, rc, "%s: cannot read /%s/seq", p, g);
    return CD_OK;
}

// Reads the group's labels and sample 0, and checks them against the header.
static int check_data(Loader *l, const H5PrepInfo *info, char *why, size_t whylen) {
    const char *p = l->path, *g = group_name(l->group);
    int rc = h5io_prep_reader_read(l->r, l->group, 0, l->ngroup, NULL, l->labels, NULL, NULL);
    if (rc) return cd_why(why, whylen, rc, "%s: cannot read /%s/label", p, g);
    for (int64_t i = 0; i < l->ngroup; i++)
        if (l->labels[i] < 0 || l->labels[i] >= info->num_class)
            return cd_why(why, whylen, CD_EFORMAT, "%s: /%s/label[%lld] = %d is outside [0, %d)", p, g,
                        (long long)i, l->labels[i], info->num_class);
    if (l->seq) return load_seqs(l, info, why, whylen);
    int32_t frames = 0;
    rc = h5io_prep_reader_read(l->r, l->group, 0, 1, l->stage, NULL, &frames, NULL);
    if (rc) return cd_why(why, whylen, rc, "%s: cannot read /%s sample 0", p, g);
    int valid = feeder_valid_frames(l->stage, l->C, l->T, l->V, l->M);
    if (frames < 0 || frames > l->T || valid > frames)
        return cd_why(why, whylen, CD_EFORMAT,
                    "%s: /%s sample 0 has %d non-zero frames but /%s/frames says %d "
                    "(HINT: not a (N, 3, 300, V, 2) file?)", p, g, valid, g, frames);
    return CD_OK;
}

// Subset indices: each within the group, none twice.
static int check_subset(const char *path, int group, int64_t ngroup, const int64_t *sel, int64_t n, char *why,
                        size_t whylen) {
    unsigned char *seen = cd_calloc((size_t)ngroup, 1);
    if (!seen) return cd_why(why, whylen, CD_ENOMEM, "%s: out of memory", path);
    int rc = CD_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (sel[i] < 0 || sel[i] >= ngroup)
            rc = cd_why(why, whylen, CD_EARG, "%s: subset index %lld is outside /%s's [0, %lld)", path,
                      (long long)sel[i], group_name(group), (long long)ngroup);
        else if (seen[sel[i]]++)
            rc = cd_why(why, whylen, CD_EARG, "%s: subset index %lld given twice", path, (long long)sel[i]);
    }
    free(seen);
    return rc;
}

// The file's header against the feeder and the arguments; *n and *nb get
// the loader's samples and batches.
static int check_header(const H5PrepInfo *info, const char *path, int group, const int64_t *subset, int64_t nsub,
                        const FeederConfig *f, int B, int drop_last, int64_t *n, int64_t *nb, char *why,
                        size_t whylen) {
    int rc;
    const SkelLayout *layout = skel_layout_find(info->layout);
    if (!layout || strcmp(layout->name, info->layout) || info->V != layout->V)
        return cd_why(why, whylen, CD_EFORMAT, "%s: unknown layout '%s' with %d joints", path,
                    info->layout, info->V);
    if (f->layout != layout)
        return cd_why(why, whylen, CD_EARG, "%s: the file's layout is %s, the feeder's %s", path,
                    info->layout, f->layout ? f->layout->name : "(none)");
    if (info->seq != (layout->seq_transform != NULL))
        return cd_why(why, whylen, CD_EFORMAT, "%s: holds %s, but %s reads %s (HINT: rerun cocodiff-prep)", path,
                      info->seq ? "raw sequences" : "padded samples", layout->feeder,
                      layout->seq_transform ? "raw sequences" : "padded samples");
    if (info->num_class < 1)
        return cd_why(why, whylen, CD_EFORMAT, "%s: num_class %d", path, info->num_class);
    if (info->n[group] < 1)
        return cd_why(why, whylen, CD_EFORMAT, "%s: /%s holds no samples", path, group_name(group));
    char fwhy[200];
    if (feeder_config_check(f, SKEL_C, info->V, fwhy, sizeof fwhy))
        return cd_why(why, whylen, CD_EARG, "%s: %s", path, fwhy);
    if (subset && (rc = check_subset(path, group, info->n[group], subset, nsub, why, whylen))) return rc;
    *n = (subset ? nsub : info->n[group]) * (f->repeat > 1 ? f->repeat : 1);
    *nb = drop_last ? *n / B : (*n + B - 1) / B;
    if (*nb < 1 || *nb > INT32_MAX)
        return cd_why(why, whylen, CD_EARG, "%s: /%s%s has %lld samples: %lld batches of %d%s", path,
                    group_name(group), subset ? " subset" : "", (long long)*n, (long long)*nb, B,
                    drop_last ? " with drop_last" : "");
    return CD_OK;
}

int loader_open(Loader **lp, const char *path, int group, const FeederConfig *f, int B, int rank,
                int nranks, uint64_t seed, int shuffle, int drop_last, char *why, size_t whylen) {
    return loader_open_subset(lp, path, group, NULL, 0, f, B, rank, nranks, seed, shuffle, drop_last, why, whylen);
}

int loader_open_subset(Loader **lp, const char *path, int group, const int64_t *subset, int64_t nsub,
                       const FeederConfig *f, int B, int rank, int nranks, uint64_t seed, int shuffle,
                       int drop_last, char *why, size_t whylen) {
    *lp = NULL;
    int rc = check_args(path, group, f, B, rank, nranks, why, whylen);
    if (rc) return rc;
    H5PrepReader *r;
    if (h5io_prep_reader_open(&r, path) != CD_OK)
        return cd_why(why, whylen, CD_EFORMAT,
                    "%s: not a %s file of version %d (HINT: is this a cocodiff-prep output?)", path,
                    H5IO_FORMAT, H5IO_FORMAT_VERSION);
    const H5PrepInfo info = *h5io_prep_reader_info(r);
    int64_t n = 0, nb = 0;
    Loader *l = NULL;
    if ((rc = check_header(&info, path, group, subset, nsub, f, B, drop_last, &n, &nb, why, whylen)) ||
        !(l = cd_calloc(1, sizeof *l))) {
        h5io_prep_reader_close(r);
        return rc ? rc : cd_why(why, whylen, CD_ENOMEM, "%s: out of memory", path);
    }
    *l = (Loader){.r = r, .group = group, .f = *f, .C = SKEL_C, .T = SKEL_T, .V = info.V, .M = info.M,
                  .num_class = info.num_class, .n = n, .nbase = subset ? nsub : info.n[group],
                  .ngroup = info.n[group], .seq = info.seq, .B = B, .rank = rank, .nranks = nranks,
                  .shuffle = shuffle, .drop_last = drop_last, .nb = (int)nb, .seed = seed};
    // The largest slice: a full batch's, or the last partial one's.
    int64_t bl = n < B ? n : B;
    l->max_local = (int)((rank + 1) * bl / nranks - rank * bl / nranks);
    int64_t last = n - (nb - 1) * B;
    int ml = (int)((rank + 1) * last / nranks - rank * last / nranks);
    if (ml > l->max_local) l->max_local = ml;
    size_t raw = (size_t)l->C * l->T * l->V * l->M;
    l->path = strdup(path);
    l->labels = cd_malloc((size_t)l->ngroup * sizeof *l->labels);
    l->order = cd_malloc((size_t)n * sizeof *l->order);
    l->stage = l->seq ? NULL : cd_malloc(LOADER_STAGE * raw * sizeof(float));
    l->slots = cd_malloc(((size_t)l->max_local + 1) * sizeof *l->slots);
    if (subset && (l->sel = cd_malloc((size_t)n * sizeof *l->sel))) memcpy(l->sel, subset, (size_t)n * sizeof *l->sel);
    if (!l->path || !l->labels || !l->order || (!l->seq && !l->stage) || !l->slots || (subset && !l->sel))
        rc = cd_why(why, whylen, CD_ENOMEM, "%s: out of memory", path);
    if (!rc) rc = check_data(l, &info, why, whylen);
    if (rc) {
        loader_free(l);
        return rc;
    }
    *lp = l;
    return CD_OK;
}

void loader_free(Loader *l) {
    if (!l) return;
    h5io_prep_reader_close(l->r);
    free(l->path);
    free(l->labels);
    free(l->sel);
    free(l->order);
    free(l->stage);
    free(l->slots);
    free(l->seqs);
    free(l->seq_off);
    free(l->seq_len);
    free(l);
}

// ---------------------------------------------------------------------------
// Accessors.

int loader_num_batches(const Loader *l) { return l->nb; }
int64_t loader_num_samples(const Loader *l) { return l->n; }
int loader_num_class(const Loader *l) { return l->num_class; }
int loader_max_local(const Loader *l) { return l->max_local; }
size_t loader_sample_floats(const Loader *l) {
    return (size_t)l->C * l->f.window * l->V * l->M;
}
void loader_sample_dims(const Loader *l, int *C, int *window, int *V, int *M) {
    *C = l->C;
    *window = l->f.window;
    *V = l->V;
    *M = l->M;
}

// ---------------------------------------------------------------------------
// Order and batches.

// A permutation of the epoch's positions 0..n-1 seeded by (seed, epoch)
// (the identity without shuffle). Position q reads sample q mod nbase (the
// official repeat: index i reads sequence i mod len(data_dict)).
static void make_positions(const Loader *l, int epoch, int64_t *order) {
    for (int64_t i = 0; i < l->n; i++) order[i] = i;
    if (!l->shuffle) return;
    FeederRng r = feeder_rng(l->seed ^ PERM_SALT, epoch, -1);
    for (int64_t i = l->n - 1; i > 0; i--) {   // Fisher-Yates
        int64_t j = feeder_rng_below(&r, i + 1);
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

// The dataset index of position q.
static int64_t index_of(const Loader *l, int64_t q) {
    int64_t k = q % l->nbase;
    return l->sel ? l->sel[k] : k;
}

// The key of position q's draws: its dataset index, plus ngroup for each
// repetition before it (each visit of a repeated sample draws anew).
static int64_t key_of(const Loader *l, int64_t q) { return index_of(l, q) + q / l->nbase * l->ngroup; }

int loader_order(Loader *l, int epoch, int64_t *order) {
    make_positions(l, epoch, order);
    for (int64_t i = 0; i < l->n; i++) order[i] = index_of(l, order[i]);
    return CD_OK;
}

static int cmp_slot(const void *a, const void *b) {
    int64_t x = ((const struct Slot *)a)->idx, y = ((const struct Slot *)b)->idx;
    return (x > y) - (x < y);
}

int loader_batch(Loader *l, int epoch, int b, float *x, int32_t *label, int64_t *index,
                 int *n_local) {
    *n_local = 0;
    if (b < 0 || b >= l->nb) {
        CD_ERR("%s: batch %d of %d is out of range", l->path, b, l->nb);
        return CD_EARG;
    }
    if (!l->have_order || l->order_epoch != epoch) {
        make_positions(l, epoch, l->order);   // positions: index_of and key_of read them
        l->order_epoch = epoch;
        l->have_order = 1;
    }
    int64_t start = (int64_t)b * l->B;
    int64_t n = l->n - start < l->B ? l->n - start : l->B;
    int64_t lo = start + l->rank * n / l->nranks, hi = start + (l->rank + 1) * n / l->nranks;
    int nl = (int)(hi - lo);
    for (int i = 0; i < nl; i++) {
        int64_t q = l->order[lo + i];
        l->slots[i] = (struct Slot){index_of(l, q), key_of(l, q), i};
    }
    size_t raw = (size_t)l->C * l->T * l->V * l->M, sf = loader_sample_floats(l);
    for (int i = 0; l->seq && i < nl; i++) {
        const struct Slot *s = &l->slots[i];
        int rc = l->f.layout->seq_transform(&l->f, x + (size_t)s->pos * sf,
                                            l->seqs + (size_t)l->seq_off[s->idx] * l->V * l->C,
                                            l->seq_len[s->idx], l->seed, epoch, s->key);
        if (rc) return rc;
    }
    if (!l->seq) qsort(l->slots, (size_t)nl, sizeof *l->slots, cmp_slot);
    for (int k = 0; !l->seq && k < nl;) {
        int j = k + 1;
        while (j < nl && j - k < LOADER_STAGE && l->slots[j].idx == l->slots[j - 1].idx + 1) j++;
        int rc = h5io_prep_reader_read(l->r, l->group, l->slots[k].idx, j - k, l->stage, NULL, NULL, NULL);
        if (rc) return rc;
        for (int q = k; q < j; q++) {
            rc = feeder_transform(&l->f, x + (size_t)l->slots[q].pos * sf, l->stage + (size_t)(q - k) * raw,
                                  l->C, l->T, l->V, l->M, l->seed, epoch, l->slots[q].key);
            if (rc) return rc;
        }
        k = j;
    }
    for (int i = 0; i < nl; i++) {
        int64_t idx = index_of(l, l->order[lo + i]);
        if (label) label[i] = l->labels[idx];
        if (index) index[i] = idx;
    }
    *n_local = nl;
    return CD_OK;
}
