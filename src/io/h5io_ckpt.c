// h5io_ckpt.c - checkpoint files (layout in h5io_ckpt.h): tensors by name in
// groups, the run's metadata as attributes; written to PATH.partial and
// renamed into place.
#include "h5io_ckpt.h"
#include "fsutil.h"
#include "h5io_util.h"
#include "status.h"

#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---------------------------------------------------------------------------
// Writing

static int write_tensor(hid_t g, const H5Tensor *t) {
    hsize_t dims[8];
    for (int i = 0; i < t->ndim; i++) dims[i] = (hsize_t)t->shape[i];
    hid_t ft = t->dtype ? H5T_STD_I64LE : H5T_IEEE_F32LE, mt = t->dtype ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT;
    // Datasets named like state_dict keys contain dots, never slashes.
    return h5io_dset_write(g, t->name, ft, mt, t->ndim, dims, t->data);
}

// Opens (or creates, without timestamps) each '/'-separated component of
// group below loc. Returns the innermost group or -1.
static hid_t open_or_make_groups(hid_t loc, const char *group) {
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", group);
    hid_t cur = H5Gopen2(loc, "/", H5P_DEFAULT);
    for (char *tok = strtok_r(buf, "/", &save); tok && cur >= 0; tok = strtok_r(NULL, "/", &save)) {
        hid_t next = H5Lexists(cur, tok, H5P_DEFAULT) > 0 ? H5Gopen2(cur, tok, H5P_DEFAULT) : h5io_group_create(cur, tok);
        H5Gclose(cur);
        cur = next;
    }
    return cur;
}

int h5io_ckpt_write(const char *path, const H5CkptMeta *meta, const H5Tensor *model, int nmodel,
                    const H5Tensor *momentum, int nmomentum) {
    return h5io_ckpt_write_groups(path, meta, model, nmodel, momentum, nmomentum, NULL, 0);
}

int h5io_ckpt_write_groups(const char *path, const H5CkptMeta *meta, const H5Tensor *model, int nmodel,
                           const H5Tensor *momentum, int nmomentum, const H5TensorGroup *groups, int ngroups) {
    char tmp[4200];
    fs_partial(path, tmp, sizeof tmp);
    hid_t f = h5io_create_serial(tmp);
    if (f < 0) {
        CD_ERR("%s: cannot create the checkpoint: %s", tmp, h5io_write_reason(tmp, errno));
        unlink(tmp);
        return CD_EIO;
    }
    int rc = h5io_attr_put_str(f, "format", H5IO_CKPT_FORMAT) || h5io_attr_put_i64(f, "format_version", H5IO_CKPT_FORMAT_VERSION)
                 ? CD_EHDF5 : CD_OK;
    if (!rc && meta) {
        rc = h5io_attr_put_i64(f, "epoch", meta->epoch) || h5io_attr_put_i64(f, "step", meta->step) ||
                     h5io_attr_put_str(f, "stream", meta->stream) || h5io_attr_put_str(f, "graph", meta->graph) ||
                     h5io_attr_put_str(f, "config", meta->config_yaml ? meta->config_yaml : "") ||
                     (meta->build && meta->build[0] && h5io_attr_put_str(f, "build", meta->build)) ||
                     (meta->builds && meta->builds[0] && h5io_attr_put_str(f, "builds", meta->builds))
                 ? CD_EHDF5 : CD_OK;
        if (!rc && meta->nstrides > 0) {
            hsize_t n = (hsize_t)meta->nstrides;
            hid_t s = H5Screate_simple(1, &n, NULL), a = H5Acreate2(f, "strides", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
            if (a < 0 || H5Awrite(a, H5T_NATIVE_INT32, meta->strides) < 0) rc = CD_EHDF5;
            if (a >= 0) H5Aclose(a);
            H5Sclose(s);
        }
    }
    hid_t g = rc ? -1 : h5io_group_create(f, "model");
    if (!rc && g < 0) rc = CD_EHDF5;
    for (int i = 0; i < nmodel && !rc; i++) rc = write_tensor(g, &model[i]);
    if (g >= 0) H5Gclose(g);
    if (!rc && meta && meta->has_optimizer) {
        hid_t o = h5io_group_create(f, "optimizer"), mg = o >= 0 ? h5io_group_create(o, "momentum") : -1;
        if (o < 0 || mg < 0) rc = CD_EHDF5;
        if (!rc)
            rc = h5io_attr_put_i64(o, "steps", meta->opt_steps) || h5io_attr_put_f64(o, "momentum", meta->momentum) ||
                         h5io_attr_put_f64(o, "weight_decay", meta->weight_decay) || h5io_attr_put_i64(o, "nesterov", meta->nesterov)
                     ? CD_EHDF5 : CD_OK;
        for (int i = 0; i < nmomentum && !rc; i++) rc = write_tensor(mg, &momentum[i]);
        if (mg >= 0) H5Gclose(mg);
        if (o >= 0) H5Gclose(o);
    }
    for (int k = 0; k < ngroups && !rc; k++) {
        hid_t g2 = open_or_make_groups(f, groups[k].group);
        if (g2 < 0) rc = CD_EHDF5;
        for (int i = 0; i < groups[k].n && !rc; i++) rc = write_tensor(g2, &groups[k].t[i]);
        if (g2 >= 0) H5Gclose(g2);
    }
    if (!rc && meta && !meta->no_rng) {
        hid_t r = h5io_group_create(f, "rng");
        H5Tensor seed = {.name = "seed", .dtype = 1, .ndim = 0, .numel = 1, .data = (void *)&meta->seed};
        rc = r >= 0 ? write_tensor(r, &seed) : CD_EHDF5;
        if (r >= 0) H5Gclose(r);
    }
    rc = h5io_end_write(f, tmp, rc, NULL);   // a failed file removed, with a message
    if (!rc && fs_commit(tmp, path) != CD_OK) {
        CD_ERR("%s: cannot rename the checkpoint into place: %s", path, strerror(errno));
        rc = CD_EIO;
    }
    return rc;
}

// ---------------------------------------------------------------------------
// Reading

typedef struct ReadCtx {
    H5Tensor *t;
    int n, cap, rc;
    const char *path;
} ReadCtx;

static herr_t read_one(hid_t g, const char *name, const H5L_info_t *info, void *vctx) {
    (void)info;
    ReadCtx *c = vctx;
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0) return 0;   // a subgroup: not a tensor
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        H5Tensor *nt = realloc(c->t, (size_t)c->cap * sizeof *nt);
        if (!nt) { H5Dclose(ds); c->rc = CD_ENOMEM; return -1; }
        c->t = nt;
    }
    H5Tensor *t = &c->t[c->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    hid_t s = H5Dget_space(ds), ty = H5Dget_type(ds);
    hsize_t dims[8];
    int nd = H5Sget_simple_extent_ndims(s);
    if (nd < 0 || nd > 8 || H5Sget_simple_extent_dims(s, dims, NULL) != nd) {
        CD_ERR("%s: tensor %s has %d dimensions; at most 8 are read", c->path, name, nd);
        c->rc = CD_EFORMAT;
        goto out;
    }
    t->ndim = nd;
    t->numel = 1;
    for (int i = 0; i < nd; i++) {
        t->shape[i] = (int64_t)dims[i];
        // A bound before multiplying and allocating: no model tensor of ours comes near it.
        if (dims[i] > H5IO_CKPT_MAX_NUMEL || (dims[i] && t->numel > H5IO_CKPT_MAX_NUMEL / dims[i])) {
            CD_ERR("%s: tensor %s has more than %lld elements", c->path, name, (long long)H5IO_CKPT_MAX_NUMEL);
            c->rc = CD_EFORMAT;
            goto out;
        }
        t->numel *= dims[i];
    }
    H5T_class_t cls = H5Tget_class(ty);
    if (cls == H5T_INTEGER) t->dtype = 1;
    else if (cls == H5T_FLOAT) t->dtype = 0;
    else { CD_ERR("%s: tensor %s is neither float nor integer", c->path, name); c->rc = CD_EFORMAT; goto out; }
    t->data = malloc(t->numel * (t->dtype ? 8 : 4) + 1);
    if (!t->data || H5Dread(ds, t->dtype ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0) {
        CD_ERR("%s: cannot read tensor %s", c->path, name);
        free(t->data);
        c->rc = CD_EFORMAT;
        goto out;
    }
    if (h5io_crc_check(ds, c->path, t->data, t->numel * (t->dtype ? 8 : 4))) {   // a flipped bit is refused, named
        free(t->data);
        c->rc = CD_EFORMAT;
        goto out;
    }
    c->n++;
out:
    H5Tclose(ty);
    H5Sclose(s);
    H5Dclose(ds);
    return c->rc ? -1 : 0;
}

static int read_group(hid_t f, const char *path, const char *group, H5Tensor **out, int *n) {
    ReadCtx c = {NULL, 0, 0, CD_OK, path};
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) { *out = NULL; *n = 0; return CD_EFORMAT; }
    hsize_t idx = 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, read_one, &c);
    H5Gclose(g);
    if (c.rc) { h5io_tensors_free(c.t, c.n); return c.rc; }
    *out = c.t;
    *n = c.n;
    return CD_OK;
}

// The string attributes. Each is optional, but one that is there must be
// readable: a stream silently taken as the default would evaluate a bone
// model on joint input.
static int read_text_attrs(hid_t f, const char *path, H5CkptMeta *meta) {
    const char *names[] = {"stream", "graph", "config", "build", "builds"};
    char *v[5] = {NULL, NULL, NULL, NULL, NULL};
    int rc = CD_OK;
    for (int i = 0; i < 5 && !rc; i++)
        if (h5io_attr_string(f, names[i], &v[i]) == CD_EFORMAT) {
            CD_ERR("%s: attribute '%s' is not a string (HINT: write it as a str or np.bytes_ scalar, as "
                   "scripts/convert_ctrgcn.py does)", path, names[i]);
            rc = CD_EFORMAT;
        }
    if (!rc && v[0] && strlen(v[0]) >= sizeof meta->stream) {
        CD_ERR("%s: attribute 'stream' is '%.40s...', not a stream name", path, v[0]);
        rc = CD_EFORMAT;
    }
    if (!rc) {
        snprintf(meta->stream, sizeof meta->stream, "%s", v[0] ? v[0] : "");
        snprintf(meta->graph, sizeof meta->graph, "%s", v[1] ? v[1] : "");
        meta->config_yaml = v[2];
        meta->build = v[3];
        meta->builds = v[4];
        v[2] = v[3] = v[4] = NULL;
    }
    for (int i = 0; i < 5; i++) free(v[i]);
    return rc;
}

// The optional strides attribute: 1 to 16 integers.
static int read_strides(hid_t f, const char *path, H5CkptMeta *meta) {
    if (H5Aexists(f, "strides") <= 0) return CD_OK;
    hid_t a = H5Aopen(f, "strides", H5P_DEFAULT), s = a >= 0 ? H5Aget_space(a) : -1, t = a >= 0 ? H5Aget_type(a) : -1;
    hssize_t n = s >= 0 && H5Sget_simple_extent_ndims(s) == 1 ? H5Sget_simple_extent_npoints(s) : -1;
    int rc = CD_EFORMAT;
    if (t >= 0 && H5Tget_class(t) == H5T_INTEGER && n >= 1 && n <= 16 && H5Aread(a, H5T_NATIVE_INT32, meta->strides) >= 0) {
        meta->nstrides = (int)n;
        rc = CD_OK;
    } else
        CD_ERR("%s: attribute strides is not a list of 1 to 16 integers", path);
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    if (a >= 0) H5Aclose(a);
    return rc;
}

// 1 when group ('/'-separated below the root) exists: H5Lexists on each
// component, as a missing parent would be an error.
static int group_exists(hid_t f, const char *group) {
    H5ioQuiet q = h5io_quiet_begin();
    char buf[256], sofar[256] = "", *save = NULL;
    int have = 1;
    snprintf(buf, sizeof buf, "%s", group);
    for (char *tok = strtok_r(buf, "/", &save); tok && have; tok = strtok_r(NULL, "/", &save)) {
        size_t l = strlen(sofar);
        snprintf(sofar + l, sizeof sofar - l, "%s%s", l ? "/" : "", tok);
        have = H5Lexists(f, sofar, H5P_DEFAULT) > 0;
    }
    h5io_quiet_end(q);
    return have;
}

// The extra groups of h5io_ckpt_read_all: each present one read, an absent one empty.
static int read_extra(hid_t f, const char *path, const char *const *extra, int nextra, H5Tensor **xt, int *xn) {
    int rc = CD_OK;
    for (int k = 0; k < nextra; k++) xt[k] = NULL, xn[k] = 0;
    for (int k = 0; k < nextra && !rc; k++)
        if (group_exists(f, extra[k])) rc = read_group(f, path, extra[k], &xt[k], &xn[k]);
    return rc;
}

int h5io_ckpt_read(const char *path, H5CkptMeta *meta, H5Tensor **model, int *nmodel,
                   H5Tensor **momentum, int *nmomentum) {
    return h5io_ckpt_read_all(path, meta, model, nmodel, momentum, nmomentum, NULL, 0, NULL, NULL);
}

int h5io_ckpt_read_all(const char *path, H5CkptMeta *meta, H5Tensor **model, int *nmodel, H5Tensor **momentum,
                       int *nmomentum, const char *const *extra, int nextra, H5Tensor **xt, int *xn) {
    memset(meta, 0, sizeof *meta);
    *model = NULL;
    *nmodel = 0;
    if (momentum) { *momentum = NULL; *nmomentum = 0; }
    hid_t f = h5io_open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open the checkpoint as HDF5", path);
        return CD_EIO;
    }
    int rc = read_group(f, path, "model", model, nmodel);
    if (rc == CD_EFORMAT && !*model) CD_ERR("%s: no /model group (HINT: is this a checkpoint?)", path);
    char fmt[64] = "";
    if (!rc && H5Aexists(f, "format") > 0) {   // optional, but when there it must say what we read
        int64_t ver = 0;
        if (h5io_attr_need_str(f, path, "format", fmt, sizeof fmt) || h5io_attr_need_i64(f, path, "format_version", &ver))
            rc = CD_EFORMAT;
        else if (strcmp(fmt, H5IO_CKPT_FORMAT) || ver < 1 || ver > H5IO_CKPT_FORMAT_VERSION) {
            CD_ERR("%s: format '%s' version %lld, this build reads %s version <= %d", path, fmt, (long long)ver,
                   H5IO_CKPT_FORMAT, H5IO_CKPT_FORMAT_VERSION);
            rc = CD_EFORMAT;
        }
    }
    // Every attribute is optional (a file converted from PyTorch weights may
    // carry /model alone), but one that is there must be readable.
    if (!rc) {
        int e = h5io_attr_opt_i64(f, path, "epoch", &meta->epoch);
        meta->has_meta = e == CD_OK;
        if (e == CD_EFORMAT || h5io_attr_opt_i64(f, path, "step", &meta->step) == CD_EFORMAT) rc = CD_EFORMAT;
    }
    if (!rc) rc = read_text_attrs(f, path, meta);
    if (!rc) rc = read_strides(f, path, meta);
    if (!rc && H5Lexists(f, "rng", H5P_DEFAULT) > 0) {
        int64_t one[1];
        if (h5io_dset_check(f, path, "/rng/seed", H5T_INTEGER, 0, one) ||
            h5io_dset_read(f, "/rng/seed", H5T_NATIVE_INT64, &meta->seed)) {
            CD_ERR("%s: /rng/seed is not one integer", path);
            rc = CD_EFORMAT;
        }
    }
    if (!rc && momentum) {
        H5ioQuiet q = h5io_quiet_begin();
        hid_t o = H5Gopen2(f, "optimizer", H5P_DEFAULT);
        h5io_quiet_end(q);
        if (o >= 0) {
            meta->has_optimizer = 1;
            int64_t nest = 0;
            if (h5io_attr_need_i64(o, path, "steps", &meta->opt_steps) || h5io_attr_need_i64(o, path, "nesterov", &nest) ||
                h5io_attr_need_f64(o, path, "momentum", &meta->momentum) ||
                h5io_attr_need_f64(o, path, "weight_decay", &meta->weight_decay))
                rc = CD_EFORMAT;
            meta->nesterov = (int)nest;
            H5Gclose(o);
            if (!rc) rc = read_group(f, path, "optimizer/momentum", momentum, nmomentum);
        }
    }
    if (!rc && nextra) rc = read_extra(f, path, extra, nextra, xt, xn);
    H5Fclose(f);
    if (rc) {
        for (int k = 0; k < nextra; k++) { h5io_tensors_free(xt[k], xn[k]); xt[k] = NULL; xn[k] = 0; }
        h5io_tensors_free(*model, *nmodel);
        *model = NULL;
        *nmodel = 0;
        if (momentum) { h5io_tensors_free(*momentum, *nmomentum); *momentum = NULL; *nmomentum = 0; }
        h5io_ckpt_meta_free(meta);
    }
    return rc;
}

int h5io_ckpt_read_group(const char *path, const char *group, H5Tensor **t, int *n) {
    *t = NULL;
    *n = 0;
    hid_t f = h5io_open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open the checkpoint as HDF5", path);
        return CD_EIO;
    }
    int rc = group_exists(f, group) ? read_group(f, path, group, t, n) : CD_EFORMAT;
    H5Fclose(f);
    return rc;
}

const H5Tensor *h5io_tensor_find(const H5Tensor *t, int n, const char *name) {
    for (int i = 0; i < n; i++) if (!strcmp(t[i].name, name)) return &t[i];
    return NULL;
}

void h5io_tensors_free(H5Tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) free(t[i].data);
    free(t);
}

void h5io_ckpt_meta_free(H5CkptMeta *m) {
    if (!m) return;
    free(m->config_yaml);
    free(m->build);
    free(m->builds);
    m->config_yaml = m->build = m->builds = NULL;
}

// ---------------------------------------------------------------------------
// The config attribute alone

int h5io_ckpt_read_config(const char *path, char **yaml) {
    *yaml = NULL;
    hid_t f = h5io_open_quiet(path);
    if (f < 0) {
        CD_ERR("%s: cannot open the checkpoint as HDF5", path);
        return CD_EIO;
    }
    int rc = CD_OK;
    if (h5io_attr_string(f, "config", yaml) == CD_EFORMAT) {   // there but unreadable: never a default
        CD_ERR("%s: attribute 'config' is not a string (HINT: the file is damaged)", path);
        rc = CD_EFORMAT;
    }
    if (*yaml && !(*yaml)[0]) {   // an empty config is none
        free(*yaml);
        *yaml = NULL;
    }
    H5Fclose(f);
    return rc;
}
