// ensemble.c - stream ensemble of score files (see ensemble.h).
//
// Flow: every rank reads every input (score files are small: N x K floats),
// checks that they agree row by row with the first, fuses the scores and
// computes the metrics (metrics.h, the same rules as cocodiff-eval).
// The scores file is written with the collective h5io_scores_* writer (rank
// 0 writes all rows), so it has exactly cocodiff-eval's layout; rank 0 then
// renames it and writes metrics.json. Nothing here depends on the rank count.
#include "ensemble.h"
#include "fsutil.h"
#include "h5io_scores.h"
#include "metrics.h"
#include "status.h"
#include "stream.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------
// Pure parts (tested without files)

void ensemble_default_weights(const char *const *streams, int n, double *w) {
    // every stream that has a weight, each once: their weights (ensemble.py's
    // four); else 1 each
    int weighted = 0;
    for (int i = 0; i < stream_count(); i++) weighted += stream_get(i)->weight > 0;
    int all = n == weighted;
    for (int s = 0; s < n && all; s++) {
        all = stream_find(streams[s]) != NULL && stream_find(streams[s])->weight > 0;
        for (int r = 0; r < s && all; r++) all = strcmp(streams[r], streams[s]) != 0;
    }
    for (int s = 0; s < n; s++) w[s] = all ? stream_find(streams[s])->weight : 1.0;
}

int ensemble_parse_weights(const char *s, double *w, int max, int *n, char *why, size_t whylen) {
    *n = 0;
    const char *p = s;
    while (1) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v)) {
            snprintf(why, whylen, "--weights '%s': expected comma-separated numbers (e.g. 0.6,0.6,0.4,0.4)", s);
            return CD_EARG;
        }
        if (*n >= max) {
            snprintf(why, whylen, "--weights '%s': more than %d values", s, max);
            return CD_EARG;
        }
        w[(*n)++] = v;
        if (*end == '\0') return CD_OK;
        if (*end != ',') {
            snprintf(why, whylen, "--weights '%s': unexpected '%c' after %g", s, *end, v);
            return CD_EARG;
        }
        p = end + 1;
    }
}

void ensemble_fuse(float *out, const float *const *in, const double *w, int nstreams, size_t nk) {
    for (size_t i = 0; i < nk; i++) {
        double acc = 0;
        for (int s = 0; s < nstreams; s++) acc += w[s] * (double)in[s][i];
        out[i] = (float)acc;
    }
}

int ensemble_check_rows(const H5Scores *a, const char *apath, const H5Scores *b, const char *bpath, char *why,
                        size_t whylen) {
    if (a->K != b->K) {
        snprintf(why, whylen, "%s has %d classes, %s has %d: the streams must score the same classes", apath, a->K,
                 bpath, b->K);
        return CD_EFORMAT;
    }
    if (a->n != b->n) {
        snprintf(why, whylen, "%s has %lld samples, %s has %lld: the streams must score the same test set", apath,
                 (long long)a->n, bpath, (long long)b->n);
        return CD_EFORMAT;
    }
    for (int64_t i = 0; i < a->n; i++) {
        const char *na = h5io_scores_name(a, i), *nb = h5io_scores_name(b, i);
        if (strcmp(na, nb)) {
            snprintf(why, whylen, "sample names differ at row %lld: '%s' in %s, '%s' in %s (HINT: evaluate every "
                     "stream on the same prep file and group)", (long long)i, na, apath, nb, bpath);
            return CD_EFORMAT;
        }
        if (a->label[i] != b->label[i]) {
            snprintf(why, whylen, "labels differ at row %lld (%s): %d in %s, %d in %s", (long long)i, na,
                     a->label[i], apath, b->label[i], bpath);
            return CD_EFORMAT;
        }
    }
    return CD_OK;
}

// ---------------------------------------------------------------------------
// Files

typedef struct Ens {
    const Dist *d;
    const EnsembleOptions *o;
    int S, K;
    int64_t n;
    double w[ENSEMBLE_MAX_STREAMS];
    H5Scores in[ENSEMBLE_MAX_STREAMS];
    Metrics m[ENSEMBLE_MAX_STREAMS + 1];   // streams, then the ensemble (index S)
    float *fused;                               // (n, K)
} Ens;

static json_t *metrics_json(const Ens *e) {
    const Metrics *mt = &e->m[e->S];
    const int K = e->K;
    json_t *root = json_object(), *names = json_array(), *acc = json_array(), *cnt = json_array(),
           *conf = json_array(), *streams = json_array(), *weights = json_array();
    for (int k = 0; k < K; k++) {
        json_array_append_new(names, json_string(e->in[0].class_names[k]));
        json_array_append_new(acc, isnan(mt->per_class[k]) ? json_null() : json_real(mt->per_class[k]));
        json_array_append_new(cnt, json_integer(mt->count[k]));
        json_t *row = json_array();
        for (int j = 0; j < K; j++) json_array_append_new(row, json_integer(mt->confusion[(size_t)k * K + j]));
        json_array_append_new(conf, row);
    }
    for (int s = 0; s < e->S; s++) {
        const Metrics *ms = &e->m[s];
        json_t *o = json_object();
        json_object_set_new(o, "scores", json_string(e->o->scores[s]));
        json_object_set_new(o, "stream", json_string(e->in[s].stream));
        json_object_set_new(o, "checkpoint", json_string(e->in[s].checkpoint));
        json_object_set_new(o, "weight", json_real(e->w[s]));
        json_object_set_new(o, "top1", json_real((double)ms->correct1 / (double)ms->n));
        json_object_set_new(o, "top5", json_real((double)ms->correct5 / (double)ms->n));
        json_object_set_new(o, "correct_top1", json_integer(ms->correct1));
        json_array_append_new(streams, o);
        json_array_append_new(weights, json_real(e->w[s]));
    }
    json_object_set_new(root, "kind", json_string("ensemble"));
    json_object_set_new(root, "data", json_string(e->in[0].data));
    json_object_set_new(root, "group", json_string(e->in[0].group));
    json_object_set_new(root, "stream", json_string("ensemble"));
    json_object_set_new(root, "weights", weights);
    json_object_set_new(root, "num_samples", json_integer(mt->n));
    json_object_set_new(root, "num_class", json_integer(K));
    json_object_set_new(root, "top1", json_real((double)mt->correct1 / (double)mt->n));
    json_object_set_new(root, "top5", json_real((double)mt->correct5 / (double)mt->n));
    json_object_set_new(root, "correct_top1", json_integer(mt->correct1));
    json_object_set_new(root, "correct_top5", json_integer(mt->correct5));
    json_object_set_new(root, "class_names", names);
    json_object_set_new(root, "class_count", cnt);
    json_object_set_new(root, "per_class_accuracy", acc);
    json_object_set_new(root, "confusion", conf);
    json_object_set_new(root, "streams", streams);   // last: one line of greps finds the summary first
    return root;
}

// Collective: DIR/scores.h5 through .partial + rename (rank 0 renames).
static int write_scores(Ens *e, const char *final) {
    const Dist *d = e->d;
    char partial[4200], desc[2048] = "ensemble:";
    fs_partial(final, partial, sizeof partial);
    for (int s = 0; s < e->S; s++) {
        size_t l = strlen(desc);
        snprintf(desc + l, sizeof desc - l, "%s %g*%s", s ? " +" : "", e->w[s], e->o->scores[s]);
    }
    const H5Scores *a = &e->in[0];
    H5ScoresSpec spec = {.n = e->n, .K = e->K, .name_len = a->name_len > 0 ? a->name_len : 1, .window = a->window,
                         .checkpoint = desc, .data = a->data, .group = a->group[0] ? a->group : "test",
                         .stream = "ensemble"};
    // Names packed as the writer wants them: n rows of name_len bytes.
    char *names = cd_calloc((size_t)(e->n ? e->n : 1), (size_t)spec.name_len);
    int rc = names ? CD_OK : CD_ENOMEM;
    for (int64_t i = 0; !rc && i < e->n; i++)
        memcpy(names + (size_t)i * (size_t)spec.name_len, h5io_scores_name(a, i),
               strnlen(h5io_scores_name(a, i), (size_t)spec.name_len));
    H5ScoresFile *sf = NULL;
    if ((rc = dist_agree(d, rc))) { free(names); return rc; }
    rc = dist_agree(d, h5io_scores_create(&sf, d, partial, &spec));
    if (rc && sf) dist_abort(d, 1, "%s: creating the scores file failed on another rank", partial);
    if (rc) { free(names); CD_ERR("%s: cannot create the scores file", partial); return rc; }
    if (d->rank == 0) h5io_scores_write_rows(sf, 0, e->n, e->fused, a->label, names);   // errors kept in sf
    const Metrics *mt = &e->m[e->S];
    h5io_scores_write_metrics(sf, (const char *const *)a->class_names, mt->confusion, mt->per_class,
                              (double)mt->correct1 / (double)mt->n, (double)mt->correct5 / (double)mt->n);
    rc = h5io_scores_close(sf);
    free(names);
    if (!rc && d->rank == 0 && fs_commit(partial, final)) {
        CD_ERR("%s: cannot rename to %s: %s", partial, final, strerror(errno));
        rc = CD_EIO;
    }
    return dist_agree(d, rc);
}

static int write_json(const Ens *e, const char *final) {
    char partial[4200];
    fs_partial(final, partial, sizeof partial);
    json_t *root = metrics_json(e);
    int rc = root && json_dump_file(root, partial, JSON_COMPACT | JSON_REAL_PRECISION(10)) == 0 ? CD_OK : CD_EIO;
    json_decref(root);
    if (!rc) rc = fs_commit(partial, final);
    if (rc) CD_ERR("%s: cannot write the metrics: %s", final, strerror(errno));
    return rc;
}

static void print_table(const Ens *e) {
    if (e->d->rank != 0) return;
    printf("ensemble | %lld samples, %d classes, %d streams\n", (long long)e->n, e->K, e->S);
    printf("ensemble | %-12s %7s %8s %8s  %s\n", "stream", "weight", "top-1", "top-5", "scores");
    for (int s = 0; s <= e->S; s++) {
        const Metrics *m = &e->m[s];
        double t1 = 100.0 * (double)m->correct1 / (double)m->n, t5 = 100.0 * (double)m->correct5 / (double)m->n;
        if (s < e->S)
            printf("ensemble | %-12.12s %7.3f %7.2f%% %7.2f%%  %s\n", e->in[s].stream[0] ? e->in[s].stream : "?",
                   e->w[s], t1, t5, e->o->scores[s]);
        else
            printf("ensemble | %-12s %7s %7.2f%% %7.2f%%  %s/scores.h5\n", "ensemble", "", t1, t5, e->o->out_dir);
    }
    double best = 0;
    for (int s = 0; s < e->S; s++) if (e->m[s].correct1 > best) best = (double)e->m[s].correct1;
    printf("ensemble | gain over the best stream: %+.2f points top-1\n",
           100.0 * ((double)e->m[e->S].correct1 - best) / (double)e->n);
    fflush(stdout);
}

// ---------------------------------------------------------------------------
// Driver

// Scores with a NaN or an infinity never count as right (metrics.h): refuse them.
// what: the file, or how the rows were made. Every rank sees the same
// inputs: rank 0 says it.
static int check_finite(const Ens *e, const H5Scores *s, const float *scores, const char *what) {
    char why[1024];
    int rc = metrics_check_finite(scores, s->n, s->K, s->names, (size_t)s->name_len + 1, 0, why, sizeof why);
    if (rc && e->d->rank == 0) CD_ERR("%s: %s; refusing to ensemble", what, why);
    return rc;
}

static int load(Ens *e) {
    char why[8192];
    for (int s = 0; s < e->S; s++)
        if (h5io_scores_read(e->o->scores[s], &e->in[s]) ||
            check_finite(e, &e->in[s], e->in[s].scores, e->o->scores[s]))
            return CD_EFORMAT;
    for (int s = 1; s < e->S; s++)
        if (ensemble_check_rows(&e->in[0], e->o->scores[0], &e->in[s], e->o->scores[s], why, sizeof why)) {
            CD_ERR("%s", why);
            return CD_EFORMAT;
        }
    e->K = e->in[0].K;
    e->n = e->in[0].n;
    if (e->n < 1) {
        CD_ERR("%s: no samples to ensemble", e->o->scores[0]);
        return CD_EFORMAT;
    }
    return CD_OK;
}

static int compute(Ens *e) {
    size_t nk = (size_t)e->n * (size_t)e->K;
    const float *in[ENSEMBLE_MAX_STREAMS];
    if (!(e->fused = cd_malloc(nk * sizeof *e->fused))) return CD_ENOMEM;
    for (int s = 0; s < e->S; s++) in[s] = e->in[s].scores;
    ensemble_fuse(e->fused, in, e->w, e->S, nk);
    if (check_finite(e, &e->in[0], e->fused, "the weighted sum (float32 overflow)")) return CD_EFORMAT;
    for (int s = 0; s <= e->S; s++) {
        if (metrics_init(&e->m[s], e->K)) return CD_ENOMEM;
        metrics_add(&e->m[s], s < e->S ? e->in[s].scores : e->fused, e->in[0].label, e->n);
        metrics_finish(&e->m[s]);
    }
    return CD_OK;
}

int ensemble_run(const Dist *d, const EnsembleOptions *o) {
    Ens *e = cd_calloc(1, sizeof *e);
    if (!e) return ENSEMBLE_EXIT_ERROR;
    e->d = d;
    e->o = o;
    e->S = o->nstreams;
    int rc = load(e);
    if (o->weights) memcpy(e->w, o->weights, (size_t)e->S * sizeof *e->w);
    else if (!rc) {   // by the streams the inputs record
        const char *streams[ENSEMBLE_MAX_STREAMS];
        for (int s = 0; s < e->S; s++) streams[s] = e->in[s].stream;
        ensemble_default_weights(streams, e->S, e->w);
    }
    if (!rc) rc = compute(e);
    if (!rc && fs_mkdir_p(o->out_dir)) {
        CD_ERR("%s: cannot create the output folder: %s", o->out_dir, strerror(errno));
        rc = CD_EIO;
    }
    rc = dist_agree(d, rc);
    char final[4200];
    snprintf(final, sizeof final, "%.4000s/scores.h5", o->out_dir);
    if (!rc) rc = write_scores(e, final);
    if (!rc && d->rank == 0) {
        char json[4200];
        snprintf(json, sizeof json, "%.4000s/metrics.json", o->out_dir);
        rc = write_json(e, json);
        if (!rc) print_table(e);
    }
    rc = dist_agree(d, rc);
    for (int s = 0; s < e->S; s++) h5io_scores_free(&e->in[s]);
    for (int s = 0; s <= e->S; s++) metrics_free(&e->m[s]);
    free(e->fused);
    free(e);
    return rc ? ENSEMBLE_EXIT_ERROR : ENSEMBLE_EXIT_OK;
}
