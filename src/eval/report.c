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
        json_t *b = json_object_get(o, "build");
        if (json_is_string(b)) snprintf(r.build, sizeof r.build, "%s", json_string_value(b));
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

typedef struct RunIn {
    const char *path;      // --run as given
    char name[256];        // its legend entry: the work dir's name
    ReportEpoch *ep;
    int nep;
} RunIn;

typedef struct Report {
    const ReportOptions *o;
    RunIn run[REPORT_MAX_RUNS];
    int nep;               // epochs of all runs (0: no training section)
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
    for (int i = 0; i < o->nrun; i++) {
        struct stat st;
        char p[4200];
        RunIn *ri = &r->run[i];
        ri->path = o->run[i];
        int file = stat(o->run[i], &st) == 0 && S_ISREG(st.st_mode);
        if (file) snprintf(p, sizeof p, "%.4000s", o->run[i]);
        else snprintf(p, sizeof p, "%.4000s/metrics.jsonl", o->run[i]);
        if ((rc = report_read_metrics(p, &ri->ep, &ri->nep))) return rc;
        r->nep += ri->nep;
        // The legend: the work dir's own name (a file: its folder's).
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%.4000s", o->run[i]);
        size_t l = strlen(tmp);
        while (l > 1 && tmp[l - 1] == '/') tmp[--l] = 0;
        if (file && strrchr(tmp, '/')) *strrchr(tmp, '/') = 0;
        const char *base = strrchr(tmp, '/');
        snprintf(ri->name, sizeof ri->name, "%s", base ? base + 1 : file ? "run" : tmp);
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
    else if (o->nrun && stat(o->run[0], &fs) == 0 && S_ISDIR(fs.st_mode))
        snprintf(r->feat_path, sizeof r->feat_path, "%.4000s/features.h5", o->run[0]);
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
    for (int i = 0; i < REPORT_MAX_RUNS; i++) free(r->run[i].ep);
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

// A run's colour: the first stays the single-run figures' blue.
static const char *const RUN_COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define RUN_COLOR(i) RUN_COLORS[(i) % (int)(sizeof RUN_COLORS / sizeof RUN_COLORS[0])]

// Per epoch of one run, the columns the charts draw; accuracies in %.
typedef struct RunCols {
    double *x, *lr, *tl, *t1, *vt1, *vt5, *vl;
} RunCols;

static int run_cols(const RunIn *ri, RunCols *c) {
    const int n = ri->nep;
    double *m = cd_malloc((size_t)(n ? n : 1) * 7 * sizeof *m);
    if (!m) return CD_ENOMEM;
    *c = (RunCols){m, m + n, m + 2 * n, m + 3 * n, m + 4 * n, m + 5 * n, m + 6 * n};
    for (int i = 0; i < n; i++) {
        const ReportEpoch *e = &ri->ep[i];
        c->x[i] = e->epoch; c->lr[i] = e->lr; c->tl[i] = e->train_loss; c->t1[i] = 100 * e->train_top1;
        c->vt1[i] = 100 * e->test_top1; c->vt5[i] = 100 * e->test_top5; c->vl[i] = e->test_loss;
    }
    return CD_OK;
}

// The builds that trained a run's epochs, in order, each once: "0.1.0+gabc
// + 0.1.0+gdef" (a run resumed by another build), "not recorded" for lines
// from before builds were kept.
static void run_builds(Buf *b, const ReportEpoch *ep, int n) {
    for (int i = 0; i < n; i++) {
        const char *s = ep[i].build[0] ? ep[i].build : "not recorded";
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = !strcmp(s, ep[j].build[0] ? ep[j].build : "not recorded");
        if (seen) continue;
        if (i) buf_printf(b, " + ");
        svg_escape(b, s);
    }
}

// One table row per run: the epochs, the last one, the best test top-1, the builds.
static void runs_table(Buf *b, const Report *r) {
    buf_printf(b, "<table><tr><th>run</th><th>work dir</th><th>epochs logged</th><th>last epoch</th>"
               "<th>best test top-1</th><th>build</th></tr>\n");
    for (int k = 0; k < r->o->nrun; k++) {
        const RunIn *ri = &r->run[k];
        const int n = ri->nep;
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!isnan(ri->ep[i].test_top1) && (best < 0 || ri->ep[i].test_top1 > ri->ep[best].test_top1)) best = i;
        buf_printf(b, "<tr><td style=\"color:%s\"><b>", RUN_COLOR(k));
        svg_escape(b, ri->name);
        buf_printf(b, "</b></td><td>");
        svg_escape(b, ri->path);
        buf_printf(b, "</td><td>%d (epoch %d to %d)</td><td>train loss %.4f, train top-1 %.2f%%, lr %.4g</td><td>", n,
                   ri->ep[0].epoch, ri->ep[n - 1].epoch, ri->ep[n - 1].train_loss, 100 * ri->ep[n - 1].train_top1,
                   ri->ep[n - 1].lr);
        if (best >= 0)
            buf_printf(b, "%.2f%% at epoch %d (top-5 %.2f%%)", 100 * ri->ep[best].test_top1, ri->ep[best].epoch,
                       100 * ri->ep[best].test_top5);
        else
            buf_printf(b, "no evaluated epoch yet");
        buf_printf(b, "</td><td>");
        run_builds(b, ri->ep, n);
        buf_printf(b, "</td></tr>\n");
    }
    buf_printf(b, "</table>\n");
}

// The curves; one run: train and test in one colour each, as before; several
// runs: one colour per run, test solid and train dashed.
static void training_section(Buf *b, const Report *r) {
    const int nr = r->o->nrun, multi = nr > 1;
    RunCols cols[REPORT_MAX_RUNS];
    SvgSeries loss[2 * REPORT_MAX_RUNS], acc[3 * REPORT_MAX_RUNS], lrs[REPORT_MAX_RUNS];
    char names[REPORT_MAX_RUNS][4][300];
    int nl = 0, na = 0, nlr = 0, k;
    for (k = 0; k < nr; k++) {
        if (run_cols(&r->run[k], &cols[k])) break;
        const RunCols *c = &cols[k];
        const int n = r->run[k].nep;
        const char *rn = r->run[k].name;
        snprintf(names[k][0], sizeof names[k][0], multi ? "%s train" : "train loss", rn);
        snprintf(names[k][1], sizeof names[k][1], multi ? "%s test" : "test loss", rn);
        snprintf(names[k][2], sizeof names[k][2], multi ? "%s test top-1" : "test top-1", rn);
        snprintf(names[k][3], sizeof names[k][3], multi ? "%s train top-1" : "train top-1", rn);
        const char *ca = multi ? RUN_COLOR(k) : "#1f77b4", *cb = multi ? RUN_COLOR(k) : "#d62728";
        loss[nl++] = (SvgSeries){names[k][0], c->x, c->tl, n, ca, multi};
        loss[nl++] = (SvgSeries){names[k][1], c->x, c->vl, n, cb, !multi};
        acc[na++] = (SvgSeries){names[k][3], c->x, c->t1, n, ca, multi};
        acc[na++] = (SvgSeries){names[k][2], c->x, c->vt1, n, cb, 0};
        if (!multi) acc[na++] = (SvgSeries){"test top-5", c->x, c->vt5, n, "#ff7f0e", 1};
        lrs[nlr++] = (SvgSeries){multi ? r->run[k].name : "learning rate", c->x, c->lr, n, multi ? RUN_COLOR(k) : "#2ca02c", 0};
    }
    if (k < nr) {
        b->err = CD_ENOMEM;
    } else {
        buf_printf(b, "<section id=\"training\"><h2>Training</h2>\n");
        runs_table(b, r);
        buf_printf(b, "<div class=\"row\">\n");
        SvgLineChart c1 = {"Loss per epoch", "epoch", "cross-entropy", 420, 300, 1, 0};
        svg_line_chart(b, &c1, loss, nl);
        SvgLineChart c2 = {"Top-1 accuracy per epoch", "epoch", "top-1 (%)", 420, 300, 1, 0};
        svg_line_chart(b, &c2, acc, na);
        SvgLineChart c3 = {"Learning rate per epoch", "epoch", "lr", 420, 300, 1, 0};
        svg_line_chart(b, &c3, lrs, nlr);
        buf_printf(b, "</div></section>\n");
    }
    for (int i = 0; i < k; i++) free(cols[i].x);
}

static int cmp_acc(const void *a, const void *b) {
    const SvgBar *x = a, *y = b;
    if (isnan(x->value) != isnan(y->value)) return isnan(x->value) ? 1 : -1;   // classes without samples last
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return strcmp(x->label, y->label);
}

// The confusion matrix over the classes that take part: those with test
// samples and those predicted; the others' rows and columns are all zero.
static void confusion_figure(Buf *b, const ScoresIn *in, const char *title) {
    const int K = in->s.K;
    const int64_t *c = in->m.confusion;
    int *keep = cd_malloc((size_t)K * sizeof *keep), n = 0;
    int64_t *sub = keep ? cd_malloc((size_t)K * K * sizeof *sub) : NULL;
    const char **names = sub ? cd_malloc((size_t)K * sizeof *names) : NULL;
    if (!names) { free(keep); free(sub); b->err = CD_ENOMEM; return; }
    for (int k = 0; k < K; k++) {
        int64_t col = 0;
        for (int i = 0; i < K; i++) col += c[(size_t)i * K + k];
        if (in->m.count[k] > 0 || col > 0) keep[n++] = k;
    }
    for (int i = 0; i < n; i++) {
        names[i] = in->names[keep[i]];
        for (int j = 0; j < n; j++) sub[(size_t)i * n + j] = c[(size_t)keep[i] * K + keep[j]];
    }
    svg_heatmap(b, title, sub, n, names);
    if (n < K)
        buf_printf(b, "<p class=\"note\">%d of the %d classes have neither a test sample nor a prediction and are "
                   "left out.</p>\n", K - n, K);
    free(keep); free(sub); free(names);
}

typedef struct ConfusedPair { int t, p; int64_t c; } ConfusedPair;

static int cmp_pair(const void *a, const void *b) {
    const ConfusedPair *x = a, *y = b;
    if (x->c != y->c) return x->c > y->c ? -1 : 1;
    return x->t != y->t ? x->t - y->t : x->p - y->p;
}

// The most confused pairs: the largest off-diagonal cells, with the share
// of the true class's samples they take.
static void confused_pairs(Buf *b, const ScoresIn *in, const char *what) {
    const int K = in->s.K, top = 10;
    int64_t nz = 0;
    for (int64_t i = 0; i < (int64_t)K * K; i++) nz += i / K != i % K && in->m.confusion[i] > 0;
    if (!nz) {
        buf_printf(b, "<p class=\"note\">No two classes are confused (%s).</p>\n", what);
        return;
    }
    ConfusedPair *p = cd_malloc((size_t)nz * sizeof *p);
    if (!p) { b->err = CD_ENOMEM; return; }
    int64_t n = 0;
    for (int t = 0; t < K; t++)
        for (int q = 0; q < K; q++)
            if (t != q && in->m.confusion[(size_t)t * K + q] > 0) p[n++] = (ConfusedPair){t, q, in->m.confusion[(size_t)t * K + q]};
    qsort(p, (size_t)n, sizeof *p, cmp_pair);
    buf_printf(b, "<table class=\"pairs\"><caption>Most confused pairs (%s)</caption><tr><th>true class</th>"
               "<th>predicted as</th><th>samples</th><th>of the true class</th></tr>\n", what);
    for (int64_t i = 0; i < n && i < top; i++) {
        buf_printf(b, "<tr><td>");
        svg_escape(b, in->names[p[i].t]);
        buf_printf(b, "</td><td>");
        svg_escape(b, in->names[p[i].p]);
        buf_printf(b, "</td><td>%lld</td><td>%.2f%%</td></tr>\n", (long long)p[i].c,
                   100.0 * (double)p[i].c / (double)in->m.count[p[i].t]);
    }
    buf_printf(b, "</table>\n");
    free(p);
}

// The scores' figures: confusion heat map, the most confused pairs,
// per-class bars (classes with test samples), PCA map.
static void scores_figures(Buf *b, const ScoresIn *in, const char *what) {
    const int K = in->s.K;
    char title[512];
    snprintf(title, sizeof title, "Confusion matrix (%s)", what);
    confusion_figure(b, in, title);
    confused_pairs(b, in, what);

    SvgBar *bars = cd_malloc((size_t)K * sizeof *bars);
    if (!bars) { b->err = CD_ENOMEM; return; }
    int nb = 0;
    for (int k = 0; k < K; k++)
        if (in->m.count[k] > 0) bars[nb++] = (SvgBar){in->names[k], in->m.per_class[k], NULL};
    qsort(bars, (size_t)nb, sizeof *bars, cmp_acc);
    for (int k = 0; k < nb; k++)
        bars[k].color = bars[k].value < 0.5 ? "#d62728" : bars[k].value < 0.8 ? "#ff7f0e" : "#2ca02c";
    snprintf(title, sizeof title, "Per-class accuracy, worst first (%s; %d classes with test samples%s)", what, nb,
             nb < K ? ", the others left out" : "");
    svg_hbars(b, title, bars, nb, 1.0, 620);
    free(bars);

    // Map: set 0 = the test samples' score vectors. Generated samples'
    // features go in as a second set (another marker) through the same fit.
    int64_t n = in->s.n, step = (n + REPORT_MAX_POINTS - 1) / REPORT_MAX_POINTS, m = (n + step - 1) / step;
    ReportPca2 p;
    if (report_pca2_fit(&p, in->s.scores, n, K) != CD_OK) {
        buf_printf(b, "<p class=\"note\">No PCA map: too few samples or classes.</p>\n");
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

static void scores_summary(Buf *b, const ScoresIn *in) {
    const H5Scores *s = &in->s;
    buf_printf(b, "<table><tr><th>folder</th><td>");
    svg_escape(b, in->dir);
    buf_printf(b, "</td></tr><tr><th>checkpoint</th><td>");
    svg_escape(b, s->checkpoint);
    buf_printf(b, "</td></tr><tr><th>data</th><td>");
    svg_escape(b, s->data);
    buf_printf(b, " /");
    svg_escape(b, s->group);
    buf_printf(b, "</td></tr><tr><th>samples, classes</th><td>%lld, %d</td></tr>"
               "<tr><th>top-1</th><td><b>%.2f%%</b> (%lld)</td></tr><tr><th>top-5</th><td>%.2f%% (%lld)</td></tr>"
               "</table>\n", (long long)s->n, s->K, 100.0 * (double)in->m.correct1 / (double)in->m.n,
               (long long)in->m.correct1, 100.0 * (double)in->m.correct5 / (double)in->m.n, (long long)in->m.correct5);
}

static void eval_section(Buf *b, const ScoresIn *in, int i) {
    char what[128];
    snprintf(what, sizeof what, "%s stream", in->s.stream[0] ? in->s.stream : "?");
    buf_printf(b, "<section class=\"eval\" id=\"eval%d\"><h2>Evaluation: ", i);
    svg_escape(b, what);
    buf_printf(b, "</h2>\n");
    scores_summary(b, in);
    scores_figures(b, in, what);
    buf_printf(b, "</section>\n");
}

static void ensemble_section(Buf *b, const Report *r) {
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
    buf_printf(b, "<section id=\"ensemble\"><h2>Stream ensemble</h2>\n<p>Weighted sum of the streams' raw scores "
               "(CTR-GCN's ensemble). Gain over the best stream: <b>%+.2f</b> points top-1.</p>\n",
               100 * (top - best));
    scores_summary(b, in);
    buf_printf(b, "<table><tr><th>stream</th><th>top-1</th><th>scores</th></tr>");
    for (int i = 0; i < r->nst; i++) {
        buf_printf(b, "<tr><td>");
        svg_escape(b, r->st[i].stream);
        buf_printf(b, "</td><td>%.2f%%</td><td>", 100 * r->st[i].top1);
        svg_escape(b, r->st[i].scores);
        buf_printf(b, "</td></tr>");
    }
    buf_printf(b, "</table>\n");
    // The y axis starts below the lowest bar so small gains show.
    double floor_ = fmax(0, floor((lo - 0.1) * 10) / 10);
    svg_vbars(b, "Top-1: each stream and the ensemble", bars, r->nst + 1, floor_, fmin(1, fmax(top, best) + 0.05),
              120 + 110 * (r->nst + 1), 340);
    free(bars);
    scores_figures(b, in, "ensemble");
    buf_printf(b, "</section>\n");
}

static const char *CSS =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}h1{font-size:22px}"
    "h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}"
    "table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;"
    "font-size:13px}th{background:#f4f4f4}figure{margin:8px 16px 8px 0;display:inline-block;vertical-align:top}"
    ".row{display:flex;flex-wrap:wrap}.meta,.note{color:#555;font-size:13px}";

// Does generation follow the text (conditioning.h)? The probe's figures
// under the class texts and the two controls, against chance: the
// co-trained module's ("conditioning"), then cocodiff.refresh's fresh
// module's ("conditioning_refreshed") when the run has one.
static void conditioning_rows(Buf *b, const json_t *c);
static void conditioning_table(Buf *b, const json_t *div) {
    const json_t *c = json_object_get(div, "conditioning"), *r = json_object_get(div, "conditioning_refreshed");
    if (!json_is_object(c)) return;
    double chance = json_number_value(json_object_get(c, "chance"));
    buf_printf(b, "<h3>Does generation follow the text?</h3>\n<p>From each test sample's latent noised to t = %lld "
               "of the diffusion steps, features generated under its own class text and under another class's "
               "text (same noise); and %lld features per class generated from pure noise. <b>swap</b>: distance "
               "between the own-text and wrong-text generations over the distance from the source; "
               "<b>steer</b>: share of wrong-text generations the frozen head puts in the wrong text's class; "
               "<b>from noise</b>: share of pure-noise generations it puts in the conditioning class; "
               "<b>own text</b>: its top-1 on the own-text generations (real features: %.1f%%), split by the "
               "head's verdict on each sample's real feature: <b>kept</b> among the samples whose real feature it "
               "classifies right, <b>fixed</b> among those it gets wrong (own text = (right &times; kept + wrong "
               "&times; fixed) / samples; a fixed sample is the text overriding its source). The controls "
               "swap each class's text for another class's (shuffled) or for random vectors; chance is %.1f%%.</p>\n",
               (long long)json_integer_value(json_object_get(c, "t_probe")),
               (long long)json_integer_value(json_object_get(c, "noise_per_class")),
               100 * json_number_value(json_object_get(c, "real_head_top1")), 100 * chance);
    const json_t *tg = json_object_get(c, "t_gen_steps");
    if (json_array_size(tg) == 2)
        buf_printf(b, "<p><b>own text at t_gen</b>, <b>kept</b> and <b>fixed</b> there: the same own-text figure for "
                   "generations from each sample's latent noised to a t drawn per sample in [%lld, %lld], the range "
                   "the trainer generates its features from (cocodiff.t_gen): the features that reach the head in "
                   "training.</p>\n", (long long)json_integer_value(json_array_get(tg, 0)),
                   (long long)json_integer_value(json_array_get(tg, 1)));
    if (!json_is_object(r)) {
        conditioning_rows(b, c);
        return;
    }
    buf_printf(b, "<p>The co-trained module (the one that generated features during training):</p>\n");
    conditioning_rows(b, c);
    buf_printf(b, "<p>The refreshed module (%lld steps of %lld after training, from fresh weights, on the final "
               "backbone's training features; it never reached the backbone):</p>\n",
               (long long)json_integer_value(json_object_get(r, "refresh_steps")),
               (long long)json_integer_value(json_object_get(r, "refresh_batch")));
    conditioning_rows(b, r);
}

// A share in percent, "-" where diversity.json has none (the group is empty, or an older run).
static void share_cell(Buf *b, const json_t *m, const char *key) {
    const json_t *v = json_object_get(m, key);
    if (json_is_number(v)) buf_printf(b, "<td>%.1f%%</td>", 100 * json_number_value(v));
    else buf_printf(b, "<td>-</td>");
}

static void conditioning_row(Buf *b, const json_t *m) {
    buf_printf(b, "<td>%.3f</td><td>%.1f%%</td><td>%.1f%%</td><td>%.1f%%</td>",
               json_number_value(json_object_get(m, "swap")), 100 * json_number_value(json_object_get(m, "steer")),
               100 * json_number_value(json_object_get(m, "from_noise")),
               100 * json_number_value(json_object_get(m, "own_head_top1")));
    share_cell(b, m, "own_kept");
    share_cell(b, m, "own_fixed");
    share_cell(b, m, "own_tgen_head_top1");
    share_cell(b, m, "own_tgen_kept");
    share_cell(b, m, "own_tgen_fixed");
    buf_printf(b, "</tr>");
}

// The columns after the row's name: the four figures and own text's split (with its group sizes), then own
// text and its split at the trainer's t_gen ("-" for a run from before them).
static void conditioning_head(Buf *b, const json_t *c) {
    buf_printf(b, "<th>swap</th><th>steer</th><th>from noise</th><th>own text</th>");
    const json_t *r = json_object_get(c, "real_right"), *w = json_object_get(c, "real_wrong");
    if (json_is_integer(r) && json_is_integer(w))
        buf_printf(b, "<th>own text, kept (%lld real right)</th><th>own text, fixed (%lld real wrong)</th>",
                   (long long)json_integer_value(r), (long long)json_integer_value(w));
    else
        buf_printf(b, "<th>own text, kept</th><th>own text, fixed</th>");
    buf_printf(b, "<th>own text at t_gen</th><th>at t_gen, kept</th><th>at t_gen, fixed</th></tr>");
}

// The probe's modes at the generation scale, then (cocodiff.probe_scales)
// the class texts at each scale measured.
static void conditioning_rows(Buf *b, const json_t *c) {
    static const char *const modes[][2] = {
        {"text", "class texts"}, {"shuffled_text", "shuffled texts (control)"}, {"random_text", "random texts (control)"}};
    buf_printf(b, "<table><tr><th></th>");
    conditioning_head(b, c);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        const json_t *m = json_object_get(c, modes[i][0]);
        if (!json_is_object(m)) continue;
        buf_printf(b, "<tr><th>%s</th>", modes[i][1]);
        conditioning_row(b, m);
    }
    buf_printf(b, "</table>\n");
    const json_t *bs = json_object_get(c, "by_scale");
    if (json_array_size(bs) < 2) return;
    double w = json_number_value(json_object_get(c, "guidance_scale"));
    buf_printf(b, "<table><tr><th>class texts at guidance scale</th>");
    conditioning_head(b, c);
    for (size_t i = 0; i < json_array_size(bs); i++) {
        const json_t *e = json_array_get(bs, i);
        double s = json_number_value(json_object_get(e, "guidance_scale"));
        buf_printf(b, "<tr><th>%g%s</th>", s, (float)s == (float)w ? " (generation)" : "");
        conditioning_row(b, e);
    }
    buf_printf(b, "</table>\n");
}

// Real test features and the module's generated ones in one PCA map (fit on
// the real ones), with the diversity figures the trainer measured.
static void features_section(Buf *b, const Report *r) {
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
    buf_printf(b, "<section id=\"generated\"><h2>CoCoDiff: generated vs real features</h2>\n<p>Each test sample's "
               "pooled backbone feature h<sub>0</sub> (circles) and one feature the module generated from that "
               "sample's latent under its class text (crosses), projected on the real features' two principal axes. "
               "File ");
    svg_escape(b, r->feat_path);
    buf_printf(b, " (%lld samples, %d dimensions).</p>\n", (long long)f->n, f->C);
    if (r->diversity) {
        static const char *const rows[][3] = {
            {"within-class mean pairwise distance", "real_pairwise_distance", "generated_pairwise_distance"},
            {"within-class covariance trace", "real_covariance_trace", "generated_covariance_trace"},
            {"frozen FC head top-1", "real_head_top1", "generated_head_top1"},
            {"distance to the class's real centroid", "real_to_centroid", "generated_to_centroid"},
        };
        buf_printf(b, "<table><tr><th></th><th>real</th><th>generated</th></tr>");
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            int pct = i == 2;   // the head's top-1: a share, in % as every accuracy here
            buf_printf(b, pct ? "<tr><th>%s</th><td>%.2f%%</td><td>%.2f%%</td></tr>" : "<tr><th>%s</th><td>%.4g</td><td>%.4g</td></tr>",
                       rows[i][0], (pct ? 100 : 1) * json_number_value(json_object_get(r->diversity, rows[i][1])),
                       (pct ? 100 : 1) * json_number_value(json_object_get(r->diversity, rows[i][2])));
        }
        buf_printf(b, "<tr><th>nearest real centroid is the own class</th><td></td><td>%.2f%%</td></tr>"
                   "<tr><th>distance to the source sample</th><td></td><td>%.4g</td></tr></table>\n",
                   100 * json_number_value(json_object_get(r->diversity, "generated_nearest_centroid_own")),
                   json_number_value(json_object_get(r->diversity, "generated_to_source")));
        conditioning_table(b, r->diversity);
    }
    ReportPca2 p;
    if (report_pca2_fit(&p, f->real, f->n, f->C) != CD_OK) {
        buf_printf(b, "<p class=\"note\">No map: too few samples.</p></section>\n");
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
    buf_printf(b, "</section>\n");
    free(sub); free(xy); free(cls); free(gen); free(gnames);
    report_pca2_free(&p);
}

// The table of contents: one link per section, in page order.
static void contents(Buf *b, const Report *r) {
    const ReportOptions *o = r->o;
    buf_printf(b, "<nav id=\"contents\"><h2>Contents</h2><ol>\n");
    if (r->nep) buf_printf(b, "<li><a href=\"#training\">Training</a> (%d run%s)</li>\n", o->nrun, o->nrun == 1 ? "" : "s");
    if (r->has_feat) buf_printf(b, "<li><a href=\"#generated\">CoCoDiff: generated vs real features</a></li>\n");
    if (r->has_ens) buf_printf(b, "<li><a href=\"#ensemble\">Stream ensemble</a></li>\n");
    for (int i = 0; i < o->neval; i++) {
        buf_printf(b, "<li><a href=\"#eval%d\">Evaluation: ", i);
        svg_escape(b, r->ev[i].s.stream[0] ? r->ev[i].s.stream : "?");
        buf_printf(b, " stream</a> (");
        svg_escape(b, o->eval[i]);
        buf_printf(b, ")</li>\n");
    }
    buf_printf(b, "</ol></nav>\n");
}

static void page(Buf *b, const Report *r) {
    const ReportOptions *o = r->o;
    buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>CoCoDiff-C report: ");
    svg_escape(b, o->nrun ? o->run[0] : o->ensemble ? o->ensemble : o->neval ? o->eval[0] : "");
    buf_printf(b, "</title>\n<style>%s</style></head><body>\n<h1>CoCoDiff-C report</h1>\n<p class=\"meta\">", CSS);
    if (o->nrun) buf_printf(b, "%d run(s); ", o->nrun);
    buf_printf(b, "%d evaluation(s)%s. Accuracies in %%. Figures are SVG drawn by cocodiff-report; hover for "
               "values.</p>\n", o->neval, r->has_ens ? ", one stream ensemble" : "");
    contents(b, r);
    if (r->nep) training_section(b, r);
    if (r->has_feat) features_section(b, r);
    if (r->has_ens) ensemble_section(b, r);
    for (int i = 0; i < o->neval; i++) eval_section(b, &r->ev[i], i);
    buf_printf(b, "</body></html>\n");
}

// ---------------------------------------------------------------------------
// Driver

int report_run(const ReportOptions *o) {
    Report *r = cd_calloc(1, sizeof *r);
    if (!r) return REPORT_EXIT_ERROR;
    r->o = o;
    int rc = load_all(r);
    Buf b = {0};
    if (!rc) {
        page(&b, r);
        rc = b.err;
    }
    if (!rc) {
        char partial[4200];
        fs_partial(o->out, partial, sizeof partial);
        FILE *f = fs_mkdir_parent(o->out) == 0 ? fopen(partial, "w") : NULL;
        if (!f || fwrite(b.p, 1, b.n, f) != b.n || fclose(f) || fs_commit(partial, o->out)) {
            CD_ERR("%s: cannot write the report: %s", o->out, strerror(errno));
            if (f) remove(partial);
            rc = CD_EIO;
        } else {
            printf("report | wrote %s (%.1f KiB): %d epochs, %d evaluation(s)%s\n", o->out, (double)b.n / 1024, r->nep,
                   o->neval, r->has_ens ? ", ensemble" : "");
        }
    }
    buf_free(&b);
    free_all(r);
    free(r);
    return rc ? REPORT_EXIT_ERROR : REPORT_EXIT_OK;
}
