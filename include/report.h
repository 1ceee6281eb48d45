// report.h - one self-contained HTML page about runs (cocodiff-report), with
// a table of contents and every accuracy in %: training curves from each
// WORK_DIR/metrics.jsonl (loss, top-1 train/test, learning rate per epoch;
// several runs overlaid), and for each evaluation folder (cocodiff-eval's
// DIR/scores.h5 + metrics.json) the confusion matrix as a heat map and the
// per-class accuracy sorted (both without the classes that have no test
// sample), the most confused pairs of classes with their counts, and a 2-D
// PCA map of the per-sample score
// vectors coloured by class; for a run trained with the CoCoDiff module
// (its features.h5 and diversity.json) a PCA map of the real test features
// with the generated ones beside them and the diversity figures; for an ensemble folder (cocodiff-ensemble) the
// gain over the streams as bars and the same figures. SVG is drawn here
// (svg.h); all text is escaped. Written through OUT.partial + rename.
//
// defines: ReportOptions, report_run, ReportEpoch, report_read_metrics,
//          ReportPca2, report_pca2_fit, report_pca2_project
#pragma once
#include <stddef.h>
#include <stdint.h>

#define REPORT_MAX_EVAL 16
#define REPORT_MAX_RUNS 16

enum { REPORT_EXIT_OK = 0, REPORT_EXIT_ERROR = 1, REPORT_EXIT_USAGE = 2 };

typedef struct ReportOptions {
    const char *run[REPORT_MAX_RUNS];     // cocodiff-train work dirs (or metrics.jsonl files): their
    int nrun;                             // training curves overlaid (streams, seeds, settings)
    const char *eval[REPORT_MAX_EVAL];    // cocodiff-eval output folders
    int neval;
    const char *ensemble;                 // cocodiff-ensemble output folder, NULL: none
    const char *class_names;              // one name per line, NULL: the score files' names
    const char *features;                 // FEATURES.h5 (real vs generated); NULL: run's
                                          // features.h5 when the run folder has one
    const char *out;                      // the HTML file
} ReportOptions;

int report_run(const ReportOptions *o);   // REPORT_EXIT_*

// One line of metrics.jsonl; NaN for a value the line does not have.
typedef struct ReportEpoch {
    int epoch;
    double lr, train_loss, train_top1, test_top1, test_top5, test_loss;
    char build[96];   // the build that trained the epoch ("": a line from before builds were kept;
                      // a --version string, 80 characters at most: the Makefile)
} ReportEpoch;

// Reads every line (sorted by epoch; a later line for the same epoch, as
// after --resume, replaces the earlier). *ep malloc'ed. CD_OK; CD_EIO (no
// such file, message with a HINT), CD_EFORMAT (a line that is not JSON or
// has no epoch: file and line named; or no line at all).
int report_read_metrics(const char *path, ReportEpoch **ep, int *n);

// PCA to 2-D: the mean and the top two principal axes of n vectors of
// dimension D (LAPACK dsyev on the D x D covariance). Fitted on one set and
// applied to any other of the same D (e.g. generated samples' scores later).
typedef struct ReportPca2 {
    int D;
    double *mean;     // (D)
    double *axis;     // (2, D): axis 0 has the largest variance
    double var[2];    // variance along each axis
    double total_var; // trace of the covariance
} ReportPca2;

int report_pca2_fit(ReportPca2 *p, const float *x, int64_t n, int D);   // x: (n, D); CD_OK, CD_ENOMEM, CD_EARG
void report_pca2_project(const ReportPca2 *p, const float *x, int64_t n, float *xy);   // xy: (n, 2)
void report_pca2_free(ReportPca2 *p);
