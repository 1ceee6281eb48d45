// checkpoint.c - CTR-GCN <-> HDF5 checkpoints (see checkpoint.h).
#include "checkpoint.h"
#include "cli.h"
#include "h5io_ckpt.h"
#include "fsutil.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Bounds on what a checkpoint may describe (checked before building it).
#define CKPT_MAX_CLASSES (1 << 20)
#define CKPT_MAX_WIDTH 65536
#define CKPT_MAX_PERSONS 16

static void to_h5(Ctrgcn *m, const CtrgcnTensor *t, H5Tensor *h, const float *data) {
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", t->name);
    h->dtype = t->kind == CK_COUNTER;
    h->ndim = t->ndim;
    for (int k = 0; k < t->ndim; k++) h->shape[k] = t->shape[k];
    h->numel = t->numel;
    h->data = data ? (void *)data : ctrgcn_tensor_data(m, t);
}

int checkpoint_save(const char *path, Ctrgcn *m, const OptimSgd *opt, const CheckpointInfo *info,
                    const H5TensorGroup *extra, int nextra) {
    int n = ctrgcn_num_tensors(m), np = 0;
    H5Tensor *model = cd_calloc((size_t)n, sizeof *model), *mom = cd_calloc((size_t)n, sizeof *mom);
    if (!model || !mom) { free(model); free(mom); return CD_ENOMEM; }
    for (int i = 0; i < n; i++) {
        const CtrgcnTensor *t = ctrgcn_tensor(m, i);
        to_h5(m, t, &model[i], NULL);
        if (opt && opt->buf && t->kind == CK_PARAM) to_h5(m, t, &mom[np++], opt->buf + t->offset);
    }
    const CtrgcnConfig *c = ctrgcn_config(m);
    H5CkptMeta meta = {0};
    meta.has_meta = 1;
    if (info) {
        meta.epoch = info->epoch;
        meta.step = info->step;
        meta.seed = info->seed;
        snprintf(meta.stream, sizeof meta.stream, "%s", info->stream);
        meta.config_yaml = (char *)info->config_yaml;
        meta.builds = (char *)info->builds;
    }
    meta.build = (char *)cli_version();
    snprintf(meta.graph, sizeof meta.graph, "%s", c->layout->graph);
    meta.nstrides = CTRGCN_UNITS;
    for (int l = 0; l < CTRGCN_UNITS; l++) meta.strides[l] = c->stride[l];
    if (opt && opt->buf) {
        meta.has_optimizer = 1;
        meta.opt_steps = opt->steps;
        meta.momentum = opt->momentum;
        meta.weight_decay = opt->weight_decay;
        meta.nesterov = opt->nesterov;
    }
    if (info && info->inference) meta.no_rng = 1;
    int rc = h5io_ckpt_write_groups(path, &meta, model, n, mom, np, extra, nextra);
    free(model);
    free(mom);
    return rc;
}

static int model_of(const CheckpointFile *f, Ctrgcn **out, CheckpointInfo *info, char *why, size_t whylen);

int checkpoint_builds_extend(const H5CkptMeta *meta, const char *now, char *out, size_t n, char *prev, size_t prevn) {
    const char *had = meta && meta->builds && meta->builds[0] ? meta->builds
                    : meta && meta->build && meta->build[0] ? meta->build : "unrecorded";
    const char *last = strrchr(had, ' ');
    last = last ? last + 1 : had;
    if (!strcmp(last, now)) {
        snprintf(out, n, "%s", had);
        return 0;
    }
    if (prev) snprintf(prev, prevn, "%s", last);
    // Oldest first: drop whole leading names until "... rest now" fits.
    const char *rest = had;
    size_t need = strlen(had) + 1 + strlen(now) + 1;
    while (need > n && (rest = strchr(rest, ' '))) {
        rest++;
        need = 4 + strlen(rest) + 1 + strlen(now) + 1;
    }
    if (!rest) snprintf(out, n, "%s", now);   // now alone (out holds at least that much)
    else snprintf(out, n, "%s%s %s", rest == had ? "" : "... ", rest, now);
    return 1;
}

int checkpoint_export(const char *in, const char *out, char *why, size_t whylen) {
    Ctrgcn *m = NULL;
    CheckpointInfo info;
    CheckpointFile f;
    int rc = checkpoint_read(&f, in, 0, NULL, 0, why, whylen);   // read once: the model and its config
    if (!rc) rc = model_of(&f, &m, &info, why, whylen);
    if (rc) {
        checkpoint_file_free(&f);
        return rc;
    }
    info.config_yaml = f.meta.config_yaml;
    info.inference = 1;   // builds: the training's (fill_info); build: this program's
    if (fs_mkdir_parent(out) != 0) {
        snprintf(why, whylen, "%s: cannot create its folder: %s", out, strerror(errno));
        rc = CD_EIO;
    } else if ((rc = checkpoint_save(out, m, NULL, &info, NULL, 0))) {
        snprintf(why, whylen, "%s: cannot write the inference checkpoint", out);
    }
    checkpoint_file_free(&f);
    ctrgcn_free(m);
    return rc;
}

static int ignored(const char *name, const char *const *ignore, int n) {
    for (int i = 0; i < n; i++)
        if (ignore[i] && !strncmp(name, ignore[i], strlen(ignore[i]))) return 1;
    return 0;
}

static void fill_info(CheckpointInfo *info, const H5CkptMeta *meta) {
    if (!info) return;
    memset(info, 0, sizeof *info);
    info->epoch = meta->epoch;
    info->step = meta->step;
    info->seed = meta->seed;
    snprintf(info->stream, sizeof info->stream, "%s", meta->stream);
    snprintf(info->builds, sizeof info->builds, "%s", meta->builds ? meta->builds : "");
}

static int load_tensors(const char *path, Ctrgcn *m, const H5Tensor *t, int n, const char *const *ignore,
                        int nignore, int counts[2], char *why, size_t whylen) {
    int loaded = 0, skipped = 0;
    for (int i = 0; i < ctrgcn_num_tensors(m); i++) {
        const CtrgcnTensor *mt = ctrgcn_tensor(m, i);
        if (ignored(mt->name, ignore, nignore)) { skipped++; continue; }
        const H5Tensor *h = h5io_tensor_find(t, n, mt->name);
        if (!h) {
            cd_reject(why, whylen, "%s: no tensor '%s' in /model (HINT: a checkpoint of another "
                      "architecture? use ignore_weights to skip it)", path, mt->name);
            return CD_EFORMAT;
        }
        int same = h->numel == mt->numel && (h->dtype == 1) == (mt->kind == CK_COUNTER) &&
                   (h->ndim == mt->ndim || (h->ndim <= 1 && mt->ndim <= 1 && h->numel == 1));
        for (int k = 0; same && k < mt->ndim && h->ndim == mt->ndim; k++) same = h->shape[k] == mt->shape[k];
        if (!same) {
            char a[64] = "", b[64] = "";
            for (int k = 0; k < h->ndim; k++) snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", k ? "," : "", (long long)h->shape[k]);
            for (int k = 0; k < mt->ndim; k++) snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", k ? "," : "", (long long)mt->shape[k]);
            cd_reject(why, whylen, "%s: tensor '%s' has shape (%s) %s, the model wants (%s) %s", path, mt->name, a,
                      h->dtype ? "int64" : "float32", b, mt->kind == CK_COUNTER ? "int64" : "float32");
            return CD_EFORMAT;
        }
        memcpy(ctrgcn_tensor_data(m, mt), h->data, mt->numel * (mt->kind == CK_COUNTER ? 8 : 4));
        loaded++;
    }
    if (counts) counts[0] = loaded, counts[1] = skipped;
    return loaded ? CD_OK : CD_EFORMAT;
}

int checkpoint_read(CheckpointFile *f, const char *path, int with_optimizer, const char *const *extra, int nextra,
                    char *why, size_t whylen) {
    memset(f, 0, sizeof *f);
    if (nextra > CHECKPOINT_MAX_EXTRA) return cd_why(why, whylen, CD_EARG, "%s: %d extra groups", path, nextra);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->with_optimizer = with_optimizer;
    f->nextra = nextra;
    for (int k = 0; k < nextra; k++) f->extra_name[k] = extra[k];
    int rc = h5io_ckpt_read_all(path, &f->meta, &f->model, &f->nmodel, with_optimizer ? &f->momentum : NULL,
                                with_optimizer ? &f->nmomentum : NULL, extra, nextra, f->extra, f->nx);
    if (rc) {
        memset(f, 0, sizeof *f);
        return cd_why(why, whylen, rc, "%s: not a readable checkpoint", path);
    }
    return CD_OK;
}

const H5Tensor *checkpoint_file_group(const CheckpointFile *f, const char *group, int *n) {
    for (int k = 0; k < f->nextra; k++)
        if (!strcmp(f->extra_name[k], group) && f->extra[k]) {
            *n = f->nx[k];
            return f->extra[k];
        }
    *n = 0;
    return NULL;
}

void checkpoint_file_free(CheckpointFile *f) {
    if (!f) return;
    h5io_tensors_free(f->model, f->nmodel);
    h5io_tensors_free(f->momentum, f->nmomentum);
    for (int k = 0; k < f->nextra; k++) h5io_tensors_free(f->extra[k], f->nx[k]);
    h5io_ckpt_meta_free(&f->meta);
    memset(f, 0, sizeof *f);
}

int checkpoint_restore(const CheckpointFile *f, Ctrgcn *m, OptimSgd *opt, const char *const *ignore, int nignore,
                       CheckpointInfo *info, char *why, size_t whylen) {
    const char *path = f->path;
    const H5Tensor *t = f->model, *mom = f->momentum;
    const int n = f->nmodel, nm = f->nmomentum;
    int counts[2] = {0, 0};
    int rc = load_tensors(path, m, t, n, ignore, nignore, counts, why, whylen);
    if (!rc && opt) {
        if (!f->meta.has_optimizer) {
            cd_reject(why, whylen, "%s: no optimizer state to resume from", path);
            rc = CD_EFORMAT;
        } else {
            for (int i = 0; i < ctrgcn_num_tensors(m) && !rc; i++) {
                const CtrgcnTensor *mt = ctrgcn_tensor(m, i);
                if (mt->kind != CK_PARAM) continue;
                const H5Tensor *h = h5io_tensor_find(mom, nm, mt->name);
                if (!h || h->numel != mt->numel || h->dtype) {
                    cd_reject(why, whylen, "%s: momentum of '%s' missing or of the wrong size", path, mt->name);
                    rc = CD_EFORMAT;
                    break;
                }
                memcpy(opt->buf + mt->offset, h->data, mt->numel * sizeof(float));
            }
            opt->steps = f->meta.opt_steps;
        }
    }
    fill_info(info, &f->meta);
    if (info) {
        info->loaded = counts[0];
        info->skipped = counts[1];
        for (int i = 0; i < n; i++) {   // the file's tensors that no model tensor is called
            int found = 0;
            for (int k = 0; k < ctrgcn_num_tensors(m) && !found; k++) found = !strcmp(ctrgcn_tensor(m, k)->name, t[i].name);
            info->unused += !found;
        }
    }
    return rc;
}

int checkpoint_load_into(const char *path, Ctrgcn *m, OptimSgd *opt, const char *const *ignore,
                         int nignore, CheckpointInfo *info, char *why, size_t whylen) {
    CheckpointFile f;
    int rc = checkpoint_read(&f, path, opt != NULL, NULL, 0, why, whylen);
    if (!rc) rc = checkpoint_restore(&f, m, opt, ignore, nignore, info, why, whylen);
    checkpoint_file_free(&f);
    return rc;
}

// The model a checkpoint read describes, built and loaded (checkpoint_load_model).
static int model_of(const CheckpointFile *f, Ctrgcn **out, CheckpointInfo *info, char *why, size_t whylen) {
    const char *path = f->path;
    const H5CkptMeta meta = f->meta;
    const H5Tensor *t = f->model;
    const int n = f->nmodel;
    int rc = CD_OK;
    CtrgcnConfig c;
    memset(&c, 0, sizeof c);
    const H5Tensor *fc = h5io_tensor_find(t, n, "fc.weight"), *pa = h5io_tensor_find(t, n, "l1.gcn1.PA");
    const H5Tensor *dbn = h5io_tensor_find(t, n, "data_bn.weight"), *c3 = h5io_tensor_find(t, n, "l1.gcn1.convs.0.conv3.weight");
    if (!fc || !pa || !dbn || !c3 || fc->ndim != 2 || pa->ndim != 3 || c3->ndim < 2) {
        snprintf(why, whylen, "%s: not a CTR-GCN checkpoint (needs fc.weight, l1.gcn1.PA, data_bn.weight, "
                 "l1.gcn1.convs.0.conv3.weight)", path);
        rc = CD_EFORMAT;
    }
    // The shapes size the model: bounded and consistent before anything is
    // built from them (a crafted zero-sized tensor divided by zero here).
    if (!rc && (fc->shape[0] < 1 || fc->shape[0] > CKPT_MAX_CLASSES || c3->shape[1] < 1 || c3->shape[1] > CKPT_MAX_WIDTH ||
                pa->shape[1] < 1 || pa->shape[1] > CKPT_MAX_WIDTH || dbn->numel % (size_t)(c3->shape[1] * pa->shape[1]) ||
                dbn->numel / (size_t)(c3->shape[1] * pa->shape[1]) < 1 ||
                dbn->numel / (size_t)(c3->shape[1] * pa->shape[1]) > CKPT_MAX_PERSONS)) {
        snprintf(why, whylen, "%s: fc.weight %lld classes, l1.gcn1.PA %lld joints, %lld input channels and "
                 "data_bn.weight %zu values do not describe a CTR-GCN (classes 1..%d, persons 1..%d)", path,
                 (long long)fc->shape[0], (long long)pa->shape[1], (long long)c3->shape[1], dbn->numel,
                 CKPT_MAX_CLASSES, CKPT_MAX_PERSONS);
        rc = CD_EFORMAT;
    }
    if (!rc && meta.nstrides && meta.nstrides != CTRGCN_UNITS) {
        snprintf(why, whylen, "%s: attribute strides has %d values, not one per unit (%d)", path, meta.nstrides,
                 CTRGCN_UNITS);
        rc = CD_EFORMAT;
    }
    for (int l = 0; l < meta.nstrides && !rc; l++)
        if (meta.strides[l] < 1 || meta.strides[l] > 8) {
            snprintf(why, whylen, "%s: attribute strides: unit %d has stride %d (1..8)", path, l + 1, meta.strides[l]);
            rc = CD_EFORMAT;
        }
    if (!rc) {
        c.num_class = (int)fc->shape[0];
        c.num_point = (int)pa->shape[1];
        c.in_channels = (int)c3->shape[1];
        c.num_person = (int)(dbn->numel / ((size_t)c.num_point * c.in_channels));
        if (!(c.layout = skel_layout_of_joints(c.num_point))) {
            char names[200];
            skel_layout_names(names, sizeof names);
            snprintf(why, whylen, "%s: %d joints: no skeleton layout has that many (%s)", path, c.num_point, names);
            rc = CD_EFORMAT;
        }
        for (int l = 0; l < CTRGCN_UNITS && !rc; l++) {
            char name[64];
            snprintf(name, sizeof name, "l%d.gcn1.bn.weight", l + 1);
            const H5Tensor *bn = h5io_tensor_find(t, n, name);
            if (!bn) {
                snprintf(why, whylen, "%s: no %s (not a 10-unit CTR-GCN)", path, name);
                rc = CD_EFORMAT;
                break;
            }
            if (bn->numel < 1 || bn->numel > CKPT_MAX_WIDTH) {
                snprintf(why, whylen, "%s: %s has %zu values (a unit's width: 1..%d)", path, name, bn->numel, CKPT_MAX_WIDTH);
                rc = CD_EFORMAT;
                break;
            }
            c.width[l] = (int)bn->numel;
            c.stride[l] = meta.nstrides == CTRGCN_UNITS ? meta.strides[l] : (l == 4 || l == 7) ? 2 : 1;
        }
    }
    Ctrgcn *m = NULL;
    if (!rc && (rc = ctrgcn_create(&m, &c)) != CD_OK) snprintf(why, whylen, "%s: cannot build the model it describes", path);
    if (!rc) rc = load_tensors(path, m, t, n, NULL, 0, NULL, why, whylen);
    fill_info(info, &meta);
    if (rc) { ctrgcn_free(m); return rc; }
    *out = m;
    return CD_OK;
}

int checkpoint_load_model(const char *path, Ctrgcn **out, CheckpointInfo *info, char *why, size_t whylen) {
    CheckpointFile f;
    int rc = checkpoint_read(&f, path, 0, NULL, 0, why, whylen);
    if (!rc) rc = model_of(&f, out, info, why, whylen);
    checkpoint_file_free(&f);
    return rc;
}
