// eval.c - sharded evaluation of a CTR-GCN checkpoint (see eval.h).
//
// Flow: every rank builds the model from the checkpoint and reads the data
// file's header; the checkpoint must fit the data (classes, joints, persons,
// channels) or the run stops naming both files. Batches of `batch`
// consecutive samples go round-robin to the ranks (batch b on rank b mod N),
// each rank writes its score rows independently into one parallel HDF5 file,
// the confusion matrices are summed, and rank 0 writes metrics.json and the
// summary table. Errors every rank sees are agreed (dist_agree); nothing
// inside the batch loop is collective, so a rank that fails there only stops
// its own loop and the ranks agree afterwards.
#include "eval.h"
#include "blas.h"
#include "checkpoint.h"
#include "cli.h"
#include "config.h"
#include "ctrgcn.h"
#include "descriptions.h"
#include "feeder.h"
#include "fsutil.h"
#include "h5io_ckpt.h"
#include "h5io_prep.h"
#include "h5io_scores.h"
#include "loader.h"
#include "metrics.h"
#include "skeleton.h"
#include "status.h"
#include "stream.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---------------------------------------------------------------------------
// Setup

typedef struct Eval {
    const Dist *d;
    const EvalOptions *o;
    int group;                // 0 train, 1 test
    Ctrgcn *m;
    CheckpointInfo info;
    H5PrepReader *r;          // the data file, open for the sample names
    H5PrepInfo data;
    char stream[32];
    int window, B, K;
    int64_t topk_hits[EVAL_MAX_TOPK];   // o->topk[i]: samples whose class ranks within it
    Loader *l;
    char **class_names;       // (K)
    float *x, *logits;
    int32_t *labels;
    int64_t *index;
    char *names;
} Eval;

// The window the checkpoint was trained with (its config attribute's
// test_feeder_args.window_size, else train_feeder_args'), or the official
// feeder's of the data's layout (64; NW-UCLA 52): a checkpoint converted
// from PyTorch has no config. 0 when the config is there but unreadable
// (said): never a silent default window.
static int ckpt_window(const Eval *e) {
    char *yaml = NULL;
    const SkelLayout *layout = skel_layout_find(e->data.layout);
    int window = layout && layout->window > 0 ? layout->window : EVAL_DEFAULT_WINDOW;
    if (h5io_ckpt_read_config(e->o->checkpoint, &yaml) != CD_OK) return 0;
    if (!yaml) return window;
    Config c;
    char why[512] = "", name[4200];
    snprintf(name, sizeof name, "%.4000s (its config attribute)", e->o->checkpoint);
    if (config_load_text(&c, yaml, strlen(yaml), name, why, sizeof why) == CD_OK) {
        if (c.test_feeder_args.window_size > 0) window = c.test_feeder_args.window_size;
        else if (c.train_feeder_args.window_size > 0) window = c.train_feeder_args.window_size;
    } else {
        CD_ERR("%s: cannot read its config attribute (%s) (HINT: the file is damaged; --window N evaluates it anyway)",
               e->o->checkpoint, why);
        window = 0;
    }
    config_free(&c);
    free(yaml);
    return window;
}

// The checkpoint must fit the data file: one message naming both files and
// every value that disagrees.
static int check_fit(const Eval *e, char *why, size_t whylen) {
    const CtrgcnConfig *c = ctrgcn_config(e->m);
    struct { const char *what; int ckpt, data; } v[] = {
        {"classes", c->num_class, e->data.num_class},
        {"joints", c->num_point, e->data.V},
        {"persons", c->num_person, e->data.M},
        {"input channels", c->in_channels, SKEL_C},
    };
    char diff[512] = "";
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i].ckpt != v[i].data)
            snprintf(diff + strlen(diff), sizeof diff - strlen(diff), "%s%s %d in the checkpoint, %d in the data",
                     diff[0] ? "; " : "", v[i].what, v[i].ckpt, v[i].data);
    if (!diff[0]) return CD_OK;
    snprintf(why, whylen, "checkpoint %s does not fit data file %s (%s %s): %s", e->o->checkpoint, e->o->data,
             e->data.benchmark, e->data.layout, diff);
    return CD_EFORMAT;
}

static int load_class_names(Eval *e, char *why, size_t whylen) {
    const int K = e->K;
    e->class_names = cd_calloc((size_t)K, sizeof *e->class_names);
    if (!e->class_names) return CD_ENOMEM;
    char **v = NULL;
    int n = 0, rc = CD_OK;
    if (e->o->class_names) {
        DescClassList list;
        if ((rc = descriptions_list_load(e->o->class_names, 0, &list, why, whylen))) return rc;
        if (list.n != K) {
            snprintf(why, whylen, "%s lists %d class names, the checkpoint and %s have %d classes", e->o->class_names,
                     list.n, e->o->data, K);
            descriptions_list_free(&list);
            return CD_EFORMAT;
        }
        for (int k = 0; k < K && !rc; k++) if (!(e->class_names[k] = strdup(list.names[k]))) rc = CD_ENOMEM;
        descriptions_list_free(&list);
        return rc;
    }
    if (h5io_prep_class_names(e->o->data, &v, &n) == CD_OK && n == K) {
        for (int k = 0; k < K; k++) { e->class_names[k] = v[k]; v[k] = NULL; }
    } else {
        for (int k = 0; k < K && !rc; k++) {
            char id[16];
            snprintf(id, sizeof id, "%d", k);
            if (!(e->class_names[k] = strdup(id))) rc = CD_ENOMEM;
        }
    }
    h5io_strings_free(v, n);
    return rc;
}

static int setup(Eval *e, char *why, size_t whylen) {
    const EvalOptions *o = e->o;
    int rc = checkpoint_load_model(o->checkpoint, &e->m, &e->info, why, whylen);
    if (rc) return rc;
    // Forward only: no activations kept for backward, no gradients.
    if ((rc = ctrgcn_set_mode(e->m, CTRGCN_INFER)) || (rc = ctrgcn_set_threads(e->m, o->threads > 0 ? o->threads : 1))) {
        snprintf(why, whylen, "cannot set up the model for inference (%d threads): %s", o->threads > 0 ? o->threads : 1,
                 cd_status_str(rc));
        return rc;
    }
    if (h5io_prep_reader_open(&e->r, o->data) != CD_OK) {
        snprintf(why, whylen, "%s: not a readable cocodiff-prep file", o->data);
        return CD_EIO;
    }
    e->data = *h5io_prep_reader_info(e->r);
    if ((rc = check_fit(e, why, whylen))) return rc;
    if (e->data.n[e->group] < 1) {
        snprintf(why, whylen, "%s: /%s holds no samples", o->data, o->group);
        return CD_EFORMAT;
    }
    const char *ck = e->info.stream[0] ? e->info.stream : stream_of(0, 0)->name;
    if (!stream_find(ck)) {
        char names[160];
        stream_names(names, sizeof names, ", ", " or ");
        snprintf(why, whylen, "%s records the stream '%s' (HINT: %s)", o->checkpoint, ck, names);
        return CD_EFORMAT;
    }
    const Stream *st = stream_find(o->stream ? o->stream : ck);   // --stream: checked by the driver
    snprintf(e->stream, sizeof e->stream, "%s", st->name);          // "bone motion" -> bone_motion
    if (!e->info.stream[0] && !o->stream)   // never a silent default: a bone model on joint input is wrong, not an error
        log_warn(e->d, "eval | %s records no stream: evaluating it on the joint stream (HINT: pass --stream, or "
                 "convert with scripts/convert_ctrgcn.py --stream)", o->checkpoint);
    else if (strcmp(e->stream, ck))
        log_warn(e->d, "eval | %s was trained on the %s stream; evaluating it on the %s stream as asked",
                 o->checkpoint, e->info.stream[0] ? ck : "(unrecorded)", e->stream);
    e->K = ctrgcn_config(e->m)->num_class;
    e->B = o->batch > 0 ? o->batch : EVAL_DEFAULT_BATCH;
    int64_t w = o->window > 0 ? o->window : e->d->rank == 0 ? ckpt_window(e) : 0;
    if ((rc = dist_bcast_bytes(e->d, &w, sizeof w, 0))) return rc;
    if (w <= 0) return cd_why(why, whylen, CD_EFORMAT, "%s: no window to evaluate with", o->checkpoint);
    e->window = (int)w;

    FeederConfig f = feeder_config_official(skel_layout_find(e->data.layout), 0, st);
    f.window = e->window;
    // Whole batches per rank: the loader sees one rank, the caller shards.
    rc = loader_open(&e->l, o->data, e->group, &f, e->B, 0, 1, (uint64_t)e->info.seed, 0, 0, why, whylen);
    if (rc) return rc;
    if ((rc = load_class_names(e, why, whylen))) return rc;
    size_t sf = loader_sample_floats(e->l);
    e->x = cd_malloc((size_t)e->B * sf * sizeof(float));
    e->logits = cd_malloc((size_t)e->B * e->K * sizeof(float));
    e->labels = cd_malloc((size_t)e->B * sizeof(int32_t));
    e->index = cd_malloc((size_t)e->B * sizeof(int64_t));
    e->names = cd_malloc((size_t)e->B * e->data.name_len);
    if (!e->x || !e->logits || !e->labels || !e->index || !e->names) return CD_ENOMEM;
    if (e->d->rank == 0 && fs_mkdir_p(o->out_dir) != 0) {
        snprintf(why, whylen, "%s: cannot create the output folder: %s", o->out_dir, strerror(errno));
        return CD_EIO;
    }
    return CD_OK;
}

static void teardown(Eval *e) {
    ctrgcn_free(e->m);
    loader_free(e->l);
    h5io_prep_reader_close(e->r);
    if (e->class_names) h5io_strings_free(e->class_names, e->K);
    free(e->x);
    free(e->logits);
    free(e->labels);
    free(e->index);
    free(e->names);
}

// ---------------------------------------------------------------------------
// The sharded loop

// A batch whose scores hold a NaN or an infinity stops the run: such a score
// would rank first (eval.h), and no result is better than a wrong one.
static int check_finite(const Eval *e, int n) {
    char why[1024];
    int rc = metrics_check_finite(e->logits, n, e->K, e->names, (size_t)e->data.name_len, e->index[0], why, sizeof why);
    if (rc) CD_ERR("%s on %s /%s: %s; no scores written", e->o->checkpoint, e->o->data, e->o->group, why);
    return rc;
}

static int run_batches(Eval *e, H5ScoresFile *sf, Metrics *mt) {
    const int nb = loader_num_batches(e->l);
    int rc = CD_OK;
    int64_t done = 0;
    Progress p;
    progress_init(&p, "eval", "samples", loader_num_samples(e->l), 10.0);
    for (int b = e->d->rank; b < nb && rc == CD_OK; b += e->d->size) {
        int n = 0;
        if ((rc = loader_batch(e->l, 0, b, e->x, e->labels, e->index, &n))) break;
        for (int i = 1; i < n; i++)
            if (e->index[i] != e->index[0] + i) {   // shuffle is off: batches are runs of rows
                CD_ERR("eval: batch %d is not a run of consecutive rows", b);
                rc = CD_EARG;
            }
        if (rc || (rc = ctrgcn_forward(e->m, e->logits, e->x, n, e->window, 0))) break;
        if ((rc = h5io_prep_reader_read(e->r, e->group, e->index[0], n, NULL, NULL, NULL, e->names))) break;
        if ((rc = check_finite(e, n))) break;
        if ((rc = h5io_scores_write_rows(sf, e->index[0], n, e->logits, e->labels, e->names))) break;
        metrics_add(mt, e->logits, e->labels, n);
        for (int i = 0; i < n && e->o->ntopk; i++) {   // show_topk (main.py's top_k: rank below k)
            int r = metrics_rank(e->logits + (size_t)i * e->K, e->K, e->labels[i]);
            for (int j = 0; j < e->o->ntopk && j < EVAL_MAX_TOPK; j++) e->topk_hits[j] += r >= 0 && r < e->o->topk[j];
        }
        done += n;
        progress_update(&p, e->d, done * e->d->size);
    }
    if (rc) log_rank(e->d, "eval | stopped at an error (%s); see above", cd_status_str(rc));
    else progress_end(&p, e->d, done * e->d->size);
    return rc;
}

// ---------------------------------------------------------------------------
// Reports (rank 0)

static int write_json(const Eval *e, const Metrics *mt, const char *path) {
    const int K = e->K;
    json_t *root = json_object(), *names = json_array(), *acc = json_array(), *cnt = json_array(),
           *conf = json_array();
    for (int k = 0; k < K; k++) {
        json_array_append_new(names, json_string(e->class_names[k]));
        json_array_append_new(acc, isnan(mt->per_class[k]) ? json_null() : json_real(mt->per_class[k]));
        json_array_append_new(cnt, json_integer(mt->count[k]));
        json_t *row = json_array();
        for (int j = 0; j < K; j++) json_array_append_new(row, json_integer(mt->confusion[(size_t)k * K + j]));
        json_array_append_new(conf, row);
    }
    json_object_set_new(root, "checkpoint", json_string(e->o->checkpoint));
    json_object_set_new(root, "data", json_string(e->o->data));
    json_object_set_new(root, "group", json_string(e->o->group));
    json_object_set_new(root, "stream", json_string(e->stream));
    // this program's build, and the builds that trained the checkpoint (null: not recorded)
    json_object_set_new(root, "build", json_string(cli_version()));
    json_object_set_new(root, "checkpoint_builds", e->info.builds[0] ? json_string(e->info.builds) : json_null());
    json_object_set_new(root, "window", json_integer(e->window));
    json_object_set_new(root, "num_samples", json_integer(mt->n));
    json_object_set_new(root, "num_class", json_integer(K));
    json_object_set_new(root, "top1", json_real(mt->n ? (double)mt->correct1 / (double)mt->n : 0));
    json_object_set_new(root, "top5", json_real(mt->n ? (double)mt->correct5 / (double)mt->n : 0));
    json_object_set_new(root, "correct_top1", json_integer(mt->correct1));
    json_object_set_new(root, "correct_top5", json_integer(mt->correct5));
    json_object_set_new(root, "class_names", names);
    json_object_set_new(root, "class_count", cnt);
    json_object_set_new(root, "per_class_accuracy", acc);
    json_object_set_new(root, "confusion", conf);
    char tmp[4200];
    fs_partial(path, tmp, sizeof tmp);
    int rc = json_dump_file(root, tmp, JSON_COMPACT) == 0 ? CD_OK : CD_EIO;
    json_decref(root);
    if (!rc && fs_commit(tmp, path) != CD_OK) rc = CD_EIO;
    if (rc) {
        CD_ERR("%s: cannot write the metrics: %s", path, strerror(errno));
        remove(tmp);
    }
    return rc;
}

static int cmp_worst(const void *a, const void *b, void *ctx) {
    const double *acc = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    if (acc[i] != acc[j]) return acc[i] < acc[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static void print_table(const Eval *e, const Metrics *mt) {
    const Dist *d = e->d;
    log_info(d, "eval | %s on %s /%s: %lld samples, %d classes, stream %s, window %d, %d rank(s) x %d thread(s)",
             e->o->checkpoint, e->o->data, e->o->group, (long long)mt->n, e->K, e->stream, e->window, d->size,
             e->o->threads > 0 ? e->o->threads : 1);
    log_info(d, "eval | top-1 %6.2f%% (%lld/%lld) | top-5 %6.2f%% (%lld/%lld)",
             100.0 * (double)mt->correct1 / (double)mt->n, (long long)mt->correct1, (long long)mt->n,
             100.0 * (double)mt->correct5 / (double)mt->n, (long long)mt->correct5, (long long)mt->n);
    for (int j = 0; j < e->o->ntopk && j < EVAL_MAX_TOPK; j++)   // show_topk's other k
        if (e->o->topk[j] != 1 && e->o->topk[j] != 5)
            log_info(d, "eval | top-%d %6.2f%% (%lld/%lld)", e->o->topk[j], 100.0 * (double)e->topk_hits[j] / (double)mt->n,
                     (long long)e->topk_hits[j], (long long)mt->n);
    int *ids = cd_malloc((size_t)e->K * sizeof *ids), n = 0;
    if (!ids) return;
    for (int k = 0; k < e->K; k++) if (mt->count[k] > 0) ids[n++] = k;
    qsort_r(ids, (size_t)n, sizeof *ids, cmp_worst, mt->per_class);
    log_info(d, "eval | worst classes (of %d with samples):", n);
    log_info(d, "eval |   %5s  %-40s %9s %8s", "class", "name", "accuracy", "samples");
    for (int i = 0; i < n && i < 5; i++) {
        int k = ids[i];
        log_info(d, "eval |   %5d  %-40.40s %8.2f%% %8lld", k, e->class_names[k], 100.0 * mt->per_class[k],
                 (long long)mt->count[k]);
    }
    free(ids);
}

// ---------------------------------------------------------------------------
// Driver

int eval_run(const Dist *d, const EvalOptions *o) {
    Eval e;
    memset(&e, 0, sizeof e);
    e.d = d;
    e.o = o;
    e.group = !strcmp(o->group, "train") ? 0 : 1;
    blas_set_threads(1);   // inference passes run BLAS on one thread anyway; nothing else here uses it
    char why[2048] = "";
    int rc = setup(&e, why, sizeof why);
    if (rc && why[0] && d->rank == 0) CD_ERR("%s", why);
    else if (rc && why[0]) CD_ERR("[r%d] %s", d->rank, why);
    if ((rc = dist_agree(d, rc))) {
        teardown(&e);
        return EVAL_EXIT_ERROR;   // bad or mismatched input: the driver checked the usage
    }

    char final[4200], partial[4300];
    snprintf(final, sizeof final, "%.4000s/scores.h5", o->out_dir);
    fs_partial(final, partial, sizeof partial);
    H5ScoresSpec spec = {.n = loader_num_samples(e.l), .K = e.K, .name_len = e.data.name_len, .window = e.window,
                         .checkpoint = o->checkpoint, .data = o->data, .group = o->group, .stream = e.stream};
    H5ScoresFile *sf = NULL;
    rc = dist_agree(d, h5io_scores_create(&sf, d, partial, &spec));
    if (rc && sf) dist_abort(d, 1, "%s: creating the scores file failed on another rank", partial);
    Metrics mt;
    if (!rc) rc = dist_agree(d, metrics_init(&mt, e.K));
    if (rc) {
        if (d->rank == 0) CD_ERR("%s: cannot create the scores file", partial);
        h5io_scores_close(sf);
        teardown(&e);
        return EVAL_EXIT_ERROR;
    }

    double t0 = dist_wtime();
    rc = dist_agree(d, run_batches(&e, sf, &mt));
    int64_t sums[3] = {mt.n, mt.correct1, mt.correct5};
    if (!rc) rc = dist_allreduce_sum_i64(d, sums, 3);
    if (!rc) rc = dist_allreduce_sum_i64(d, e.topk_hits, EVAL_MAX_TOPK);
    if (!rc) rc = dist_allreduce_sum_i64(d, mt.confusion, e.K * e.K);
    if (!rc) {
        mt.n = sums[0];
        mt.correct1 = sums[1];
        mt.correct5 = sums[2];
        metrics_finish(&mt);
        rc = h5io_scores_write_metrics(sf, (const char *const *)e.class_names, mt.confusion, mt.per_class,
                                       (double)mt.correct1 / (double)mt.n, (double)mt.correct5 / (double)mt.n);
    }
    int crc = h5io_scores_close(sf);   // collective; returns the worst status of any rank
    if (!rc) rc = crc;
    rc = dist_agree(d, rc);
    if (!rc && d->rank == 0) {
        char json[4200];
        snprintf(json, sizeof json, "%.4000s/metrics.json", o->out_dir);
        if (fs_commit(partial, final) != CD_OK) {
            CD_ERR("%s: cannot rename into place: %s", final, strerror(errno));
            rc = CD_EIO;
        }
        if (!rc) rc = write_json(&e, &mt, json);
    }
    if (rc && d->rank == 0) remove(partial);
    rc = dist_agree(d, rc);
    if (!rc) {
        print_table(&e, &mt);
        log_info(d, "eval | wrote %s and %.4000s/metrics.json in %.1fs", final, o->out_dir, dist_wtime() - t0);
    }
    metrics_free(&mt);
    teardown(&e);
    return rc ? EVAL_EXIT_ERROR : EVAL_EXIT_OK;
}
