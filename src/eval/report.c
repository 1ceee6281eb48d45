// report.c - the HTML report of a run (see report.h).
//
// Flow: read everything first (metrics.jsonl, each score file, the ensemble's
// metrics.json), so a missing or bad input stops the program before any
// output exists; then build the page in memory (svg.h buffers) and write it
// through OUT.partial + rename. Confusion and per-class accuracy are
// recomputed from the scores with metrics.h (cocodiff-eval's rules).
#include "report.h"
#include "descriptions.h"
#include "metrics.h"
#include "fsutil.h"
#include "h5io_features.h"
#include "h5io_scores.h"
#include "status.h"
#include "svg.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// LAPACK (OpenBLAS ships it), as in sif.c.
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info);

#define REPORT_MAX_POINTS 6000   // map points per set (an even subsample beyond)

// ---------------------------------------------------------------------------
// metrics.jsonl

static double num_or_nan(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int cmp_epoch(const void *a, const void *b) {
    const ReportEpoch *x = a, *y = b;
    return (x->epoch > y->epoch) - (x->epoch < y->epoch);
}

int report_read_metrics(const char *path, ReportEpoch **ep, int *n) {
    *ep = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        CD_ERR("%s: cannot open the training metrics: %s (HINT: --run takes cocodiff-train's work_dir, which "
               "holds metrics.jsonl after the first epoch)", path, strerror(errno));
        return CD_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = CD_OK, cnt = 0, alloc = 0, lineno = 0;
    ReportEpoch *v = NULL;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        json_t *e = o ? json_object_get(o, "epoch") : NULL;
        if (!o || !json_is_integer(e)) {
            CD_ERR("%s:%d: not a metrics line (%s)", path, lineno, o ? "no integer \"epoch\"" : jerr.text);
            json_decref(o);
            rc = CD_EFORMAT;
            break;
        }
        ReportEpoch r = {.epoch = (int)json_integer_value(e), .lr = num_or_nan(o, "lr"),
                         .train_loss = num_or_nan(o, "train_loss"), .train_top1 = num_or_nan(o, "train_top1"),
                         .test_top1 = num_or_nan(o, "test_top1"), .test_top5 = num_or_nan(o, "test_top5"),
                         .test_loss = num_or_nan(o, "test_loss")};
        json_decref(o);
        int i = 0;
        while (i < cnt && v[i].epoch != r.epoch) i++;   // a resumed run may repeat an epoch: keep the last
        if (i == cnt) {
            if (cnt == alloc) {
                alloc = alloc ? 2 * alloc : 64;
                ReportEpoch *nv = cd_realloc(v, (size_t)alloc * sizeof *v);
                if (!nv) { rc = CD_ENOMEM; break; }
                v = nv;
            }
            cnt++;
        }
        v[i] = r;
    }
    free(line);
    fclose(f);
    if (!rc && cnt == 0) {
        CD_ERR("%s: no epochs yet (HINT: the file gets one line at the end of every epoch)", path);
        rc = CD_EFORMAT;
    }
    if (rc) { free(v); return rc; }
    qsort(v, (size_t)cnt, sizeof *v, cmp_epoch);
    *ep = v;
    *n = cnt;
    return CD_OK;
}

// ---------------------------------------------------------------------------
// PCA

int report_pca2_fit(ReportPca2 *p, const float *x, int64_t n, int D) {
    memset(p, 0, sizeof *p);
    if (D < 2 || n < 2) {
        CD_ERR("PCA needs at least 2 vectors of dimension >= 2 (got %lld of %d)", (long long)n, D);
        return CD_EARG;
    }
    int col = 0;
    int64_t bad = metrics_first_nonfinite(x, n, D, &col);
    if (bad >= 0) {   // LAPACK would only print an "illegal value" line
        CD_ERR("PCA: vector %lld holds a non-finite value in dimension %d", (long long)bad, col);
        return CD_EARG;
    }
    p->D = D;
    p->mean = cd_calloc((size_t)D, sizeof *p->mean);
    p->axis = cd_calloc(2 * (size_t)D, sizeof *p->axis);
    double *C = cd_calloc((size_t)D * D, sizeof *C), *w = cd_malloc((size_t)D * sizeof *w), *r = cd_malloc((size_t)D * sizeof *r);
    int rc = p->mean && p->axis && C && w && r ? CD_OK : CD_ENOMEM;
    for (int64_t i = 0; !rc && i < n; i++)
        for (int j = 0; j < D; j++) p->mean[j] += x[(size_t)i * D + j];
    for (int j = 0; !rc && j < D; j++) p->mean[j] /= (double)n;
    for (int64_t i = 0; !rc && i < n; i++) {   // upper triangle of (X - m)^T (X - m)
        for (int j = 0; j < D; j++) r[j] = x[(size_t)i * D + j] - p->mean[j];
        for (int a = 0; a < D; a++)
            for (int b = a; b < D; b++) C[(size_t)a * D + b] += r[a] * r[b];
    }
    if (!rc) {
        for (int a = 0; a < D; a++)
            for (int b = a; b < D; b++) C[(size_t)b * D + a] = C[(size_t)a * D + b] /= (double)(n - 1);
        for (int a = 0; a < D; a++) p->total_var += C[(size_t)a * D + a];
        int lwork = -1, info = 0;
        double q;
        dsyev_("V", "U", &D, C, &D, w, &q, &lwork, &info);
        lwork = info == 0 ? (int)q : 3 * D;
        double *work = cd_malloc((size_t)lwork * sizeof *work);
        if (!work) rc = CD_ENOMEM;
        else dsyev_("V", "U", &D, C, &D, w, work, &lwork, &info);
        free(work);
        if (!rc && info != 0) {
            CD_ERR("LAPACK dsyev failed (info %d) on the %d x %d score covariance", info, D, D);
            rc = CD_EARG;
        }
    }
    // Eigenvalues ascend; eigenvector i is column i (contiguous: C[i*D ..]).
    for (int a = 0; !rc && a < 2; a++) {
        const double *e = C + (size_t)(D - 1 - a) * D;
        int big = 0;
        for (int j = 1; j < D; j++) if (fabs(e[j]) > fabs(e[big])) big = j;
        double sign = e[big] < 0 ? -1 : 1;   // largest component positive: a stable orientation
        for (int j = 0; j < D; j++) p->axis[(size_t)a * D + j] = sign * e[j];
        p->var[a] = w[D - 1 - a];
    }
    free(C); free(w); free(r);
    if (rc) report_pca2_free(p);
    return rc;
}

void report_pca2_project(const ReportPca2 *p, const float *x, int64_t n, float *xy) {
    const int D = p->D;
    for (int64_t i = 0; i < n; i++)
        for (int a = 0; a < 2; a++) {
            double s = 0;
            for (int j = 0; j < D; j++) s += (x[(size_t)i * D + j] - p->mean[j]) * p->axis[(size_t)a * D + j];
            xy[2 * i + a] = (float)s;
        }
}

void report_pca2_free(ReportPca2 *p) {
    if (!p) return;
    free(p->mean);
    free(p->axis);
    memset(p, 0, sizeof *p);
}

// ---------------------------------------------------------------------------
// Inputs

typedef struct ScoresIn {
    const char *dir;
    H5Scores s;
    Metrics m;
    const char *const *names;   // class names used on the page (K)
} ScoresIn;

typedef struct StreamTop {
    char stream[64], scores[1024];
    double top1;
} StreamTop;

typedef struct Report {
    const ReportOptions *o;
    ReportEpoch *ep;
    int nep;
    ScoresIn ev[REPORT_MAX_EVAL], ens;
    int has_ens;
    StreamTop *st;   // the ensemble's streams
    int nst;
    DescClassList list;
    int has_list;
    H5Features feat;       // real vs generated features (has_feat)
    int has_feat;
    char feat_path[4200];
    json_t *diversity;     // the run's diversity.json, NULL when absent
} Report;

static int load_scores(Report *r, const char *dir, ScoresIn *in) {
    char p[4200];
    snprintf(p, sizeof p, "%.4000s/scores.h5", dir);
    in->dir = dir;
    int rc = h5io_scores_read(p, &in->s);
    if (rc) return rc;
    if (in->s.n < 1) { CD_ERR("%s: no samples", p); return CD_EFORMAT; }
    if (r->has_list && r->list.n != in->s.K) {
        CD_ERR("%s lists %d class names, %s has %d classes", r->o->class_names, r->list.n, p, in->s.K);
        return CD_EFORMAT;
    }
    char why[1024];   // a non-finite score would break the PCA (metrics.h)
    if ((rc = metrics_check_finite(in->s.scores, in->s.n, in->s.K, in->s.names, (size_t)in->s.name_len + 1, 0,
                                why, sizeof why))) {
        CD_ERR("%s: %s", p, why);
        return rc;
    }
    in->names = r->has_list ? (const char *const *)r->list.names : (const char *const *)in->s.class_names;
    if ((rc = metrics_init(&in->m, in->s.K))) return rc;
    metrics_add(&in->m, in->s.scores, in->s.label, in->s.n);
    metrics_finish(&in->m);
    return CD_OK;
}

static int load_ensemble_streams(Report *r) {
    char p[4200];
    snprintf(p, sizeof p, "%.4000s/metrics.json", r->o->ensemble);
    json_error_t jerr;
    json_t *root = json_load_file(p, 0, &jerr), *streams = root ? json_object_get(root, "streams") : NULL;
    if (!json_is_array(streams)) {
        CD_ERR("%s: %s (HINT: --ensemble takes a cocodiff-ensemble output folder)", p,
               root ? "no \"streams\" list" : jerr.text);
        json_decref(root);
        return CD_EFORMAT;
    }
    r->nst = (int)json_array_size(streams);
    r->st = cd_calloc((size_t)(r->nst ? r->nst : 1), sizeof *r->st);
    if (!r->st) { json_decref(root); return CD_ENOMEM; }
    for (int i = 0; i < r->nst; i++) {
        json_t *s = json_array_get(streams, (size_t)i);
        const char *name = json_string_value(json_object_get(s, "stream")),
                   *sc = json_string_value(json_object_get(s, "scores"));
        snprintf(r->st[i].stream, sizeof r->st[i].stream, "%s", name && *name ? name : "stream");
        snprintf(r->st[i].scores, sizeof r->st[i].scores, "%s", sc ? sc : "");
        r->st[i].top1 = num_or_nan(s, "top1");
    }
    json_decref(root);
    return CD_OK;
}

static int load_all(Report *r) {
    const ReportOptions *o = r->o;
    char why[2048];
    int rc = CD_OK;
    if (o->class_names) {
        if ((rc = descriptions_list_load(o->class_names, 0, &r->list, why, sizeof why))) {
            CD_ERR("%s", why);
            return rc;
        }
        r->has_list = 1;
    }
    if (o->run) {
        struct stat st;
        char p[4200];
        if (stat(o->run, &st) == 0 && S_ISREG(st.st_mode)) snprintf(p, sizeof p, "%.4000s", o->run);
        else snprintf(p, sizeof p, "%.4000s/metrics.jsonl", o->run);
        if ((rc = report_read_metrics(p, &r->ep, &r->nep))) return rc;
    }
    for (int i = 0; i < o->neval; i++)
        if ((rc = load_scores(r, o->eval[i], &r->ev[i]))) return rc;
    if (o->ensemble) {
        if ((rc = load_scores(r, o->ensemble, &r->ens)) || (rc = load_ensemble_streams(r))) return rc;
        r->has_ens = 1;
    }
    // Generated features: named, or the run folder's when it has them.
    struct stat fs;
    if (o->features) snprintf(r->feat_path, sizeof r->feat_path, "%.4000s", o->features);
    else if (o->run && stat(o->run, &fs) == 0 && S_ISDIR(fs.st_mode))
        snprintf(r->feat_path, sizeof r->feat_path, "%.4000s/features.h5", o->run);
    if (r->feat_path[0] && (o->features || stat(r->feat_path, &fs) == 0)) {
        if ((rc = h5io_features_read(r->feat_path, &r->feat))) return rc;
        r->has_feat = 1;
        if (!r->feat.generated) {
            CD_ERR("%s: no /generated features to map (HINT: a parts-*.h5 dump holds real features only; pass the "
                   "run's features.h5)", r->feat_path);
            return CD_EFORMAT;
        }
        for (int s = 0; s < 2; s++) {   // a NaN would break the PCA (LAPACK) and the figures
            int col = 0;
            int64_t i = metrics_first_nonfinite(s ? r->feat.generated : r->feat.real, r->feat.n, r->feat.C, &col);
            if (i >= 0) {
                CD_ERR("%s: /%s row %lld holds a non-finite value in column %d (HINT: the run that wrote it "
                       "diverged)", r->feat_path, s ? "generated" : "real", (long long)i, col);
                return CD_EFORMAT;
            }
        }
        for (int64_t i = 0; i < r->feat.n; i++)
            if (r->feat.label[i] < 0) {
                CD_ERR("%s: negative label at row %lld", r->feat_path, (long long)i);
                return CD_EFORMAT;
            }
        char dj[4300];
        snprintf(dj, sizeof dj, "%.4000s", r->feat_path);
        char *slash = strrchr(dj, '/');
        snprintf(slash ? slash + 1 : dj, sizeof dj - (size_t)(slash ? slash + 1 - dj : 0), "diversity.json");
        if (stat(dj, &fs) == 0) r->diversity = json_load_file(dj, 0, NULL);
    }
    return CD_OK;
}

static void free_all(Report *r) {
    free(r->ep);
    for (int i = 0; i < REPORT_MAX_EVAL; i++) {
        h5io_scores_free(&r->ev[i].s);
        metrics_free(&r->ev[i].m);
    }
    h5io_scores_free(&r->ens.s);
    metrics_free(&r->ens.m);
    free(r->st);
    if (r->has_list) descriptions_list_free(&r->list);
    if (r->has_feat) h5io_features_free(&r->feat);
    json_decref(r->diversity);
}

// ---------------------------------------------------------------------------
// Page sections

static void training_section(SvgBuf *b, const Report *r) {
    const int n = r->nep;
    double *x = cd_malloc((size_t)n * 7 * sizeof *x);
    if (!x) { b->err = CD_ENOMEM; return; }
    double *lr = x + n, *tl = x + 2 * n, *t1 = x + 3 * n, *vt1 = x + 4 * n, *vt5 = x + 5 * n, *vl = x + 6 * n;
    int best = -1;
    for (int i = 0; i < n; i++) {
        const ReportEpoch *e = &r->ep[i];
        x[i] = e->epoch; lr[i] = e->lr; tl[i] = e->train_loss; t1[i] = e->train_top1;
        vt1[i] = e->test_top1; vt5[i] = e->test_top5; vl[i] = e->test_loss;
        if (!isnan(e->test_top1) && (best < 0 || e->test_top1 > r->ep[best].test_top1)) best = i;
    }
    svg_printf(b, "<section id=\"training\"><h2>Training</h2>\n<table><tr><th>work dir</th><td>");
    svg_escape(b, r->o->run);
    svg_printf(b, "</td></tr><tr><th>epochs logged</th><td>%d (epoch %d to %d)</td></tr>", n, r->ep[0].epoch,
               r->ep[n - 1].epoch);
    svg_printf(b, "<tr><th>last epoch</th><td>train loss %.4f, train top-1 %.2f%%, lr %.4g</td></tr>",
               r->ep[n - 1].train_loss, 100 * r->ep[n - 1].train_top1, r->ep[n - 1].lr);
    if (best >= 0)
        svg_printf(b, "<tr><th>best test top-1</th><td>%.2f%% at epoch %d (top-5 %.2f%%)</td></tr>",
                   100 * r->ep[best].test_top1, r->ep[best].epoch, 100 * r->ep[best].test_top5);
    else
        svg_printf(b, "<tr><th>best test top-1</th><td>no evaluated epoch yet</td></tr>");
    svg_printf(b, "</table>\n<div class=\"row\">\n");
    SvgSeries loss[2] = {{"train loss", x, tl, n, "#1f77b4", 0}, {"test loss", x, vl, n, "#d62728", 1}};
    SvgLineChart c1 = {"Loss per epoch", "epoch", "cross-entropy", 420, 300, 1, 0};
    svg_line_chart(b, &c1, loss, 2);
    SvgSeries acc[3] = {{"train top-1", x, t1, n, "#1f77b4", 0}, {"test top-1", x, vt1, n, "#d62728", 0},
                        {"test top-5", x, vt5, n, "#ff7f0e", 1}};
    SvgLineChart c2 = {"Top-1 accuracy per epoch", "epoch", "accuracy", 420, 300, 1, 0};
    svg_line_chart(b, &c2, acc, 3);
    SvgSeries lrs[1] = {{"learning rate", x, lr, n, "#2ca02c", 0}};
    SvgLineChart c3 = {"Learning rate per epoch", "epoch", "lr", 420, 300, 1, 0};
    svg_line_chart(b, &c3, lrs, 1);
    svg_printf(b, "</div></section>\n");
    free(x);
}

static int cmp_acc(const void *a, const void *b) {
    const SvgBar *x = a, *y = b;
    if (isnan(x->value) != isnan(y->value)) return isnan(x->value) ? 1 : -1;   // classes without samples last
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return strcmp(x->label, y->label);
}

// The scores' figures: confusion heat map, per-class bars, PCA map.
static void scores_figures(SvgBuf *b, const ScoresIn *in, const char *what) {
    const int K = in->s.K;
    char title[512];
    snprintf(title, sizeof title, "Confusion matrix (%s)", what);
    svg_heatmap(b, title, in->m.confusion, K, in->names);

    SvgBar *bars = cd_malloc((size_t)K * sizeof *bars);
    if (!bars) { b->err = CD_ENOMEM; return; }
    for (int k = 0; k < K; k++) bars[k] = (SvgBar){in->names[k], in->m.per_class[k], NULL};
    qsort(bars, (size_t)K, sizeof *bars, cmp_acc);
    for (int k = 0; k < K; k++)
        bars[k].color = isnan(bars[k].value) ? NULL : bars[k].value < 0.5 ? "#d62728" : bars[k].value < 0.8 ? "#ff7f0e" : "#2ca02c";
    snprintf(title, sizeof title, "Per-class accuracy, worst first (%s)", what);
    svg_hbars(b, title, bars, K, 1.0, 620);
    free(bars);

    // Map: set 0 = the test samples' score vectors. Generated samples'
    // features go in as a second set (another marker) through the same fit.
    int64_t n = in->s.n, step = (n + REPORT_MAX_POINTS - 1) / REPORT_MAX_POINTS, m = (n + step - 1) / step;
    ReportPca2 p;
    if (report_pca2_fit(&p, in->s.scores, n, K) != CD_OK) {
        svg_printf(b, "<p class=\"note\">No PCA map: too few samples or classes.</p>\n");
        return;
    }
    float *sub = cd_malloc((size_t)m * (size_t)K * sizeof *sub), *xy = cd_malloc((size_t)m * 2 * sizeof *xy);
    int32_t *cls = cd_malloc((size_t)m * sizeof *cls);
    if (sub && xy && cls) {
        for (int64_t i = 0; i < m; i++) {
            memcpy(sub + (size_t)i * K, in->s.scores + (size_t)(i * step) * K, (size_t)K * sizeof *sub);
            cls[i] = in->s.label[i * step];
        }
        report_pca2_project(&p, sub, m, xy);
        char setname[128], xl[64], yl[64];
        snprintf(setname, sizeof setname, "test samples (score vectors)%s", step > 1 ? ", subsampled" : "");
        snprintf(xl, sizeof xl, "PC 1 (%.1f%% of the variance)", p.total_var > 0 ? 100 * p.var[0] / p.total_var : 0);
        snprintf(yl, sizeof yl, "PC 2 (%.1f%%)", p.total_var > 0 ? 100 * p.var[1] / p.total_var : 0);
        SvgPointSet sets[1] = {{setname, xy, cls, m, SVG_MARKER_CIRCLE}};
        snprintf(title, sizeof title, "PCA map of the per-sample scores, coloured by true class (%s)", what);
        svg_scatter(b, title, xl, yl, sets, 1, in->names, K, 900, 560);
    } else {
        b->err = CD_ENOMEM;
    }
    free(sub); free(xy); free(cls);
    report_pca2_free(&p);
}

static void scores_summary(SvgBuf *b, const ScoresIn *in) {
    const H5Scores *s = &in->s;
    svg_printf(b, "<table><tr><th>folder</th><td>");
    svg_escape(b, in->dir);
    svg_printf(b, "</td></tr><tr><th>checkpoint</th><td>");
    svg_escape(b, s->checkpoint);
    svg_printf(b, "</td></tr><tr><th>data</th><td>");
    svg_escape(b, s->data);
    svg_printf(b, " /");
    svg_escape(b, s->group);
    svg_printf(b, "</td></tr><tr><th>samples, classes</th><td>%lld, %d</td></tr>"
               "<tr><th>top-1</th><td><b>%.2f%%</b> (%lld)</td></tr><tr><th>top-5</th><td>%.2f%% (%lld)</td></tr>"
               "</table>\n", (long long)s->n, s->K, 100.0 * (double)in->m.correct1 / (double)in->m.n,
               (long long)in->m.correct1, 100.0 * (double)in->m.correct5 / (double)in->m.n, (long long)in->m.correct5);
}

static void eval_section(SvgBuf *b, const ScoresIn *in, int i) {
    char what[128];
    snprintf(what, sizeof what, "%s stream", in->s.stream[0] ? in->s.stream : "?");
    svg_printf(b, "<section class=\"eval\" id=\"eval%d\"><h2>Evaluation: ", i);
    svg_escape(b, what);
    svg_printf(b, "</h2>\n");
    scores_summary(b, in);
    scores_figures(b, in, what);
    svg_printf(b, "</section>\n");
}

static void ensemble_section(SvgBuf *b, const Report *r) {
    const ScoresIn *in = &r->ens;
    double top = (double)in->m.correct1 / (double)in->m.n, lo = top, best = 0;
    SvgBar *bars = cd_calloc((size_t)r->nst + 1, sizeof *bars);
    if (!bars) { b->err = CD_ENOMEM; return; }
    for (int i = 0; i < r->nst; i++) {
        bars[i] = (SvgBar){r->st[i].stream, r->st[i].top1, "#7f9fc6"};
        if (r->st[i].top1 < lo) lo = r->st[i].top1;
        if (r->st[i].top1 > best) best = r->st[i].top1;
    }
    bars[r->nst] = (SvgBar){"ensemble", top, "#2a5a9a"};
    svg_printf(b, "<section id=\"ensemble\"><h2>Stream ensemble</h2>\n<p>Weighted sum of the streams' raw scores "
               "(CTR-GCN's ensemble). Gain over the best stream: <b>%+.2f</b> points top-1.</p>\n",
               100 * (top - best));
    scores_summary(b, in);
    svg_printf(b, "<table><tr><th>stream</th><th>top-1</th><th>scores</th></tr>");
    for (int i = 0; i < r->nst; i++) {
        svg_printf(b, "<tr><td>");
        svg_escape(b, r->st[i].stream);
        svg_printf(b, "</td><td>%.2f%%</td><td>", 100 * r->st[i].top1);
        svg_escape(b, r->st[i].scores);
        svg_printf(b, "</td></tr>");
    }
    svg_printf(b, "</table>\n");
    // The y axis starts below the lowest bar so small gains show.
    double floor_ = fmax(0, floor((lo - 0.1) * 10) / 10);
    svg_vbars(b, "Top-1: each stream and the ensemble", bars, r->nst + 1, floor_, fmin(1, fmax(top, best) + 0.05),
              120 + 110 * (r->nst + 1), 340);
    free(bars);
    scores_figures(b, in, "ensemble");
    svg_printf(b, "</section>\n");
}

static const char *CSS =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}h1{font-size:22px}"
    "h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}"
    "table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;"
    "font-size:13px}th{background:#f4f4f4}figure{margin:8px 16px 8px 0;display:inline-block;vertical-align:top}"
    ".row{display:flex;flex-wrap:wrap}.meta,.note{color:#555;font-size:13px}";

// Does generation follow the text (conditioning.h)? The probe's figures
// under the class texts and the two controls, against chance.
static void conditioning_table(SvgBuf *b, const json_t *c) {
    if (!json_is_object(c)) return;
    double chance = json_number_value(json_object_get(c, "chance"));
    svg_printf(b, "<h3>Does generation follow the text?</h3>\n<p>From each test sample's latent noised to t = %lld "
               "of the diffusion steps, features generated under its own class text and under another class's "
               "text (same noise); and %lld features per class generated from pure noise. <b>swap</b>: distance "
               "between the own-text and wrong-text generations over the distance from the source; "
               "<b>steer</b>: share of wrong-text generations the frozen head puts in the wrong text's class; "
               "<b>from noise</b>: share of pure-noise generations it puts in the conditioning class; "
               "<b>own text</b>: its top-1 on the own-text generations (real features: %.1f%%). The controls "
               "swap each class's text for another class's (shuffled) or for random vectors; chance is %.1f%%.</p>\n",
               (long long)json_integer_value(json_object_get(c, "t_probe")),
               (long long)json_integer_value(json_object_get(c, "noise_per_class")),
               100 * json_number_value(json_object_get(c, "real_head_top1")), 100 * chance);
    static const char *const modes[][2] = {
        {"text", "class texts"}, {"shuffled_text", "shuffled texts (control)"}, {"random_text", "random texts (control)"}};
    svg_printf(b, "<table><tr><th></th><th>swap</th><th>steer</th><th>from noise</th><th>own text</th></tr>");
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        const json_t *m = json_object_get(c, modes[i][0]);
        if (!json_is_object(m)) continue;
        svg_printf(b, "<tr><th>%s</th><td>%.3f</td><td>%.1f%%</td><td>%.1f%%</td><td>%.1f%%</td></tr>", modes[i][1],
                   json_number_value(json_object_get(m, "swap")), 100 * json_number_value(json_object_get(m, "steer")),
                   100 * json_number_value(json_object_get(m, "from_noise")),
                   100 * json_number_value(json_object_get(m, "own_head_top1")));
    }
    svg_printf(b, "</table>\n");
}

// Real test features and the module's generated ones in one PCA map (fit on
// the real ones), with the diversity figures the trainer measured.
static void features_section(SvgBuf *b, const Report *r) {
    const H5Features *f = &r->feat;
    int K = 0;
    for (int64_t i = 0; i < f->n; i++)
        if (f->label[i] + 1 > K) K = f->label[i] + 1;
    const char *const *names = NULL;
    if (r->has_list && r->list.n >= K) { names = (const char *const *)r->list.names; K = r->list.n; }
    else if (r->o->neval && r->ev[0].s.K >= K) { names = r->ev[0].names; K = r->ev[0].s.K; }
    char (*gen)[24] = NULL;
    const char **gnames = NULL;
    if (!names) {
        gen = cd_malloc((size_t)K * sizeof *gen);
        gnames = cd_malloc((size_t)K * sizeof *gnames);
        if (!gen || !gnames) { free(gen); free(gnames); b->err = CD_ENOMEM; return; }
        for (int k = 0; k < K; k++) { snprintf(gen[k], sizeof gen[k], "class %d", k); gnames[k] = gen[k]; }
        names = gnames;
    }
    svg_printf(b, "<section id=\"generated\"><h2>CoCoDiff: generated vs real features</h2>\n<p>Each test sample's "
               "pooled backbone feature h<sub>0</sub> (circles) and one feature the module generated from that "
               "sample's latent under its class text (crosses), projected on the real features' two principal axes. "
               "File ");
    svg_escape(b, r->feat_path);
    svg_printf(b, " (%lld samples, %d dimensions).</p>\n", (long long)f->n, f->C);
    if (r->diversity) {
        static const char *const rows[][3] = {
            {"within-class mean pairwise distance", "real_pairwise_distance", "generated_pairwise_distance"},
            {"within-class covariance trace", "real_covariance_trace", "generated_covariance_trace"},
            {"frozen FC head top-1", "real_head_top1", "generated_head_top1"},
            {"distance to the class's real centroid", "real_to_centroid", "generated_to_centroid"},
        };
        svg_printf(b, "<table><tr><th></th><th>real</th><th>generated</th></tr>");
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            svg_printf(b, "<tr><th>%s</th><td>%.4g</td><td>%.4g</td></tr>", rows[i][0],
                       json_number_value(json_object_get(r->diversity, rows[i][1])),
                       json_number_value(json_object_get(r->diversity, rows[i][2])));
        svg_printf(b, "<tr><th>nearest real centroid is the own class</th><td></td><td>%.4g</td></tr>"
                   "<tr><th>distance to the source sample</th><td></td><td>%.4g</td></tr></table>\n",
                   json_number_value(json_object_get(r->diversity, "generated_nearest_centroid_own")),
                   json_number_value(json_object_get(r->diversity, "generated_to_source")));
        conditioning_table(b, json_object_get(r->diversity, "conditioning"));
    }
    ReportPca2 p;
    if (report_pca2_fit(&p, f->real, f->n, f->C) != CD_OK) {
        svg_printf(b, "<p class=\"note\">No map: too few samples.</p></section>\n");
        free(gen); free(gnames);
        return;
    }
    int64_t step = (f->n + REPORT_MAX_POINTS / 2 - 1) / (REPORT_MAX_POINTS / 2), m = (f->n + step - 1) / step;
    float *sub = cd_malloc((size_t)m * (size_t)f->C * sizeof *sub), *xy = cd_malloc((size_t)m * 4 * sizeof *xy);
    int32_t *cls = cd_malloc((size_t)m * sizeof *cls);
    if (sub && xy && cls) {
        for (int64_t i = 0; i < m; i++) cls[i] = f->label[i * step];
        for (int s = 0; s < 2; s++) {
            const float *src = s ? f->generated : f->real;
            for (int64_t i = 0; i < m; i++)
                memcpy(sub + (size_t)i * f->C, src + (size_t)(i * step) * f->C, (size_t)f->C * sizeof *sub);
            report_pca2_project(&p, sub, m, xy + (size_t)s * m * 2);
        }
        char xl[64], yl[64];
        snprintf(xl, sizeof xl, "PC 1 (%.1f%% of the real variance)", p.total_var > 0 ? 100 * p.var[0] / p.total_var : 0);
        snprintf(yl, sizeof yl, "PC 2 (%.1f%%)", p.total_var > 0 ? 100 * p.var[1] / p.total_var : 0);
        SvgPointSet sets[2] = {{step > 1 ? "real (subsampled)" : "real", xy, cls, m, SVG_MARKER_CIRCLE},
                               {"generated", xy + (size_t)m * 2, cls, m, SVG_MARKER_CROSS}};
        svg_scatter(b, "PCA map of real and generated features, coloured by class", xl, yl, sets, 2, names, K, 900, 560);
    } else {
        b->err = CD_ENOMEM;
    }
    svg_printf(b, "</section>\n");
    free(sub); free(xy); free(cls); free(gen); free(gnames);
    report_pca2_free(&p);
}

static void page(SvgBuf *b, const Report *r) {
    const ReportOptions *o = r->o;
    svg_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>CoCoDiff-C report: ");
    svg_escape(b, o->run ? o->run : o->ensemble ? o->ensemble : o->neval ? o->eval[0] : "");
    svg_printf(b, "</title>\n<style>%s</style></head><body>\n<h1>CoCoDiff-C report</h1>\n<p class=\"meta\">", CSS);
    if (o->run) { svg_printf(b, "run "); svg_escape(b, o->run); svg_printf(b, "; "); }
    svg_printf(b, "%d evaluation(s)%s. Figures are SVG drawn by cocodiff-report; hover for values.</p>\n", o->neval,
               r->has_ens ? ", one stream ensemble" : "");
    if (r->nep) training_section(b, r);
    if (r->has_feat) features_section(b, r);
    if (r->has_ens) ensemble_section(b, r);
    for (int i = 0; i < o->neval; i++) eval_section(b, &r->ev[i], i);
    svg_printf(b, "</body></html>\n");
}

// ---------------------------------------------------------------------------
// Driver

int report_run(const ReportOptions *o) {
    Report *r = cd_calloc(1, sizeof *r);
    if (!r) return REPORT_EXIT_ERROR;
    r->o = o;
    int rc = load_all(r);
    SvgBuf b = {0};
    if (!rc) {
        page(&b, r);
        rc = b.err;
    }
    if (!rc) {
        char partial[4200];
        snprintf(partial, sizeof partial, "%.4000s.partial", o->out);
        FILE *f = fs_mkdir_parent(o->out) == 0 ? fopen(partial, "w") : NULL;
        if (!f || fwrite(b.s, 1, b.n, f) != b.n || fclose(f) || rename(partial, o->out)) {
            CD_ERR("%s: cannot write the report: %s", o->out, strerror(errno));
            if (f) remove(partial);
            rc = CD_EIO;
        } else {
            printf("report | wrote %s (%.1f KiB): %d epochs, %d evaluation(s)%s\n", o->out, (double)b.n / 1024, r->nep,
                   o->neval, r->has_ens ? ", ensemble" : "");
        }
    }
    svg_buf_free(&b);
    free_all(r);
    free(r);
    return rc ? REPORT_EXIT_ERROR : REPORT_EXIT_OK;
}
