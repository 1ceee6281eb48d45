// 4100-h5-hostile.c - every reader of our HDF5 files against crafted copies
// (issue 12, finding 2: an attribute stored as an array overflowed a stack or
// heap buffer; a zero-sized tensor divided by zero).
//
// Good files of each kind are written here with the library's own writers
// (prepared skeletons from bin/cocodiff-prep, a CTR-GCN checkpoint with its
// optimizer, scores, text embeddings, features). For each attribute a
// reader uses, a copy gets it as a 4,096-element array, as the other type
// class, and (where the format requires it) without it; for each dataset a
// reader uses, a copy gets every dimension 0, its last one longer, and the
// other type class (strings <-> numbers). The reader must refuse each copy with a message naming the file and
// the attribute or dataset, and never crash (a crash ends this program).
//
// Also a tool for the shell tests (no TAP then):
//   --list FILE                       every attribute: "OBJECT<TAB>NAME"
//   --attr FILE OBJ NAME N|other|rm    N-element array / other class / removed
//   --dims FILE DSET D0 [D1 ...]      the dataset recreated with these dims
//   --type FILE DSET                  the dataset recreated with the other
//                                     class (numbers <-> strings)
//   --flip FILE DSET BYTE             flips bit 0 of a byte of the dataset's
//                                     stored data, in place (not through HDF5)
#include <fcntl.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "dist.h"
#include "h5io_embed.h"
#include "h5io_features.h"
#include "h5io_prep.h"
#include "h5io_scores.h"
#include "optim.h"
#include "skeleton.h"
#include "status.h"
#include "tap/tap.h"

// ---------------------------------------------------------------------------
// Crafting (HDF5 API, except --flip)

static hid_t open_obj(hid_t f, const char *obj) { return H5Oopen(f, obj, H5P_DEFAULT); }

// Replaces attribute name of obj: mode "rm", "other" (a scalar of the other
// class: string <-> number) or an element count (array of the same class).
static int craft_attr(const char *path, const char *obj, const char *name, const char *mode) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), o = f >= 0 ? open_obj(f, obj) : -1;
    if (o < 0 || H5Aexists(o, name) <= 0) { if (o >= 0) H5Oclose(o); if (f >= 0) H5Fclose(f); return -1; }
    hid_t a = H5Aopen(o, name, H5P_DEFAULT), t = H5Aget_type(a);
    H5T_class_t cls = H5Tget_class(t);
    H5Tclose(t);
    H5Aclose(a);
    int rc = H5Adelete(o, name) < 0 ? -1 : 0;
    if (!rc && strcmp(mode, "rm")) {
        hsize_t n = strcmp(mode, "other") ? (hsize_t)atoll(mode) : 1;
        int is_str = (cls == H5T_STRING) != !strcmp(mode, "other");
        hid_t s = strcmp(mode, "other") ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
        hid_t ft = is_str ? H5Tcopy(H5T_C_S1) : cls == H5T_FLOAT ? H5Tcopy(H5T_IEEE_F64LE) : H5Tcopy(H5T_STD_I64LE);
        if (is_str) H5Tset_size(ft, 8);
        char *buf = calloc(n, 8);
        for (hsize_t i = 0; i < n && buf; i++) {
            if (is_str) memcpy(buf + 8 * i, "joint", 5);
            else if (cls == H5T_FLOAT) ((double *)buf)[i] = 16;
            else ((int64_t *)buf)[i] = 16;   // 16: a plausible window, epoch, version...
        }
        a = buf ? H5Acreate2(o, name, ft, s, H5P_DEFAULT, H5P_DEFAULT) : -1;
        rc = a >= 0 && H5Awrite(a, ft, buf) >= 0 ? 0 : -1;
        if (a >= 0) H5Aclose(a);
        free(buf);
        H5Tclose(ft);
        H5Sclose(s);
    }
    H5Oclose(o);
    if (H5Fclose(f) < 0) rc = -1;
    return rc;
}

// Recreates dataset dset with dims (rank nd; nd 0: scalar) and, with as_str,
// the other type class (strings for numbers, integers for strings).
// Zero-filled. The file's promise of checksums goes (the new dataset has
// none): what is tested is the reader's structural checks, not the CRC.
static int craft_dset(const char *path, const char *dset, int nd, const hsize_t *dims, int as_str) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), ds = f >= 0 ? H5Dopen2(f, dset, H5P_DEFAULT) : -1;
    if (ds < 0) { if (f >= 0) H5Fclose(f); return -1; }
    hid_t t = H5Dget_type(ds);
    if (as_str && H5Tget_class(t) == H5T_STRING) {   // the other class: strings become integers
        H5Tclose(t);
        t = H5Tcopy(H5T_STD_I32LE);
    } else if (as_str) {
        H5Tclose(t);
        t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, 8);
    }
    H5Dclose(ds);
    int rc = H5Ldelete(f, dset, H5P_DEFAULT) < 0 ? -1 : 0;
    if (!rc && H5Aexists(f, "checksums") > 0 && H5Adelete(f, "checksums") < 0) rc = -1;
    hsize_t n = 1;
    for (int i = 0; i < nd; i++) n *= dims[i];
    hid_t s = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
    void *buf = calloc(n ? n : 1, H5Tget_size(t));
    ds = rc ? -1 : H5Dcreate2(f, dset, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0 || (n && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)) rc = -1;
    if (ds >= 0) H5Dclose(ds);
    free(buf);
    H5Sclose(s);
    H5Tclose(t);
    if (H5Fclose(f) < 0) rc = -1;
    return rc;
}

// The dims of a dataset (its rank; -1 when missing).
static int dset_dims(const char *path, const char *dset, hsize_t dims[8]) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), ds = f >= 0 ? H5Dopen2(f, dset, H5P_DEFAULT) : -1;
    int nd = -1;
    if (ds >= 0) {
        hid_t s = H5Dget_space(ds);
        nd = H5Sget_simple_extent_ndims(s);
        if (nd > 8 || H5Sget_simple_extent_dims(s, dims, NULL) < 0) nd = -1;
        H5Sclose(s);
        H5Dclose(ds);
    }
    if (f >= 0) H5Fclose(f);
    return nd;
}

// Flips bit 0 of byte `byte` of a contiguous dataset's stored data, with
// pwrite on the file (a disk error, not an HDF5 write).
static int flip_bit(const char *path, const char *dset, long long byte) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), ds = f >= 0 ? H5Dopen2(f, dset, H5P_DEFAULT) : -1;
    haddr_t off = ds >= 0 ? H5Dget_offset(ds) : HADDR_UNDEF;
    hsize_t size = ds >= 0 ? H5Dget_storage_size(ds) : 0;
    if (ds >= 0) H5Dclose(ds);
    if (f >= 0) H5Fclose(f);
    if (off == HADDR_UNDEF || byte < 0 || (hsize_t)byte >= size) return -1;
    int fd = open(path, O_RDWR);
    unsigned char c = 0;   // flipped below even when the read failed (rc -1: nothing is written); clang warned
    int rc = fd >= 0 && pread(fd, &c, 1, (off_t)(off + (haddr_t)byte)) == 1 ? 0 : -1;
    c ^= 1;
    if (!rc && pwrite(fd, &c, 1, (off_t)(off + (haddr_t)byte)) != 1) rc = -1;
    if (fd >= 0 && close(fd)) rc = -1;
    return rc;
}

static herr_t list_attr(hid_t o, const char *name, const H5A_info_t *info, void *obj) {
    (void)o; (void)info;
    printf("%s\t%s\n", (const char *)obj, name);
    return 0;
}

static herr_t list_obj(hid_t f, const char *name, const H5O_info_t *info, void *unused) {
    (void)info; (void)unused;
    char obj[512];
    snprintf(obj, sizeof obj, "%s%s", name[0] == '.' ? "/" : "/", name[0] == '.' ? "" : name);
    hid_t o = H5Oopen(f, name, H5P_DEFAULT);
    hsize_t idx = 0;
    if (o >= 0) H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, list_attr, obj);
    if (o >= 0) H5Oclose(o);
    return 0;
}

static int tool(int argc, char **argv) {
    const char *op = argv[1], *path = argv[2];
    int rc = -1;
    if (!strcmp(op, "--list"))  {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        rc = f >= 0 && H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, list_obj, NULL) >= 0 ? 0 : -1;
        if (f >= 0) H5Fclose(f);
    } else if (!strcmp(op, "--attr") && argc == 6) {
        rc = craft_attr(path, argv[3], argv[4], argv[5]);
    } else if ((!strcmp(op, "--dims") && argc >= 4) || (!strcmp(op, "--type") && argc == 4)) {
        hsize_t dims[8];
        int nd = argc - 4;
        for (int i = 0; i < nd && i < 8; i++) dims[i] = (hsize_t)atoll(argv[4 + i]);
        if (!strcmp(op, "--type")) nd = dset_dims(path, argv[3], dims);
        rc = nd >= 0 && nd <= 8 ? craft_dset(path, argv[3], nd, dims, !strcmp(op, "--type")) : -1;
    } else if (!strcmp(op, "--flip") && argc == 5) {
        rc = flip_bit(path, argv[3], atoll(argv[4]));
    } else if (!strcmp(op, "--str") && argc == 6) {   // OBJ NAME VALUE: a string attribute, replaced
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), o = f >= 0 ? open_obj(f, argv[3]) : -1;
        if (o >= 0 && H5Aexists(o, argv[4]) > 0) H5Adelete(o, argv[4]);
        hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
        H5Tset_size(t, strlen(argv[5]) + 1);
        hid_t a = o >= 0 ? H5Acreate2(o, argv[4], t, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
        rc = a >= 0 && H5Awrite(a, t, argv[5]) >= 0 ? 0 : -1;
        if (a >= 0) H5Aclose(a);
        H5Sclose(sp);
        H5Tclose(t);
        if (o >= 0) H5Oclose(o);
        if (f >= 0 && H5Fclose(f) < 0) rc = -1;
    }
    if (rc) fprintf(stderr, "4100-h5-hostile: %s %s failed\n", op, path);
    return rc ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Good files

static const char *T;
static Dist dist;

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", T, name); }

static void make_ckpt(const char *path) {
    CtrgcnConfig c;
    ctrgcn_config_default(&c, 5, skel_layout_of_joints(25), 8);
    Ctrgcn *m = NULL;
    OptimSgd o;
    if (ctrgcn_create(&m, &c) || optim_sgd_init(&o, ctrgcn_num_params(m), 0.9, 4e-4, 1)) bail("model");
    o.steps = 3;
    CheckpointInfo info = {.epoch = 1, .step = 3, .seed = 7, .stream = "joint",
                           .config_yaml = "test_feeder_args: {window_size: 16}\n"};
    if (checkpoint_save(path, m, &o, &info, NULL, 0)) bail("checkpoint_save");
    optim_sgd_free(&o);
    ctrgcn_free(m);
}

static void make_scores(const char *path) {
    enum { N = 4, K = 3 };
    H5ScoresSpec s = {.n = N, .K = K, .name_len = 6, .window = 16, .checkpoint = "c.h5", .data = "d.h5",
                      .group = "test", .stream = "joint"};
    float sc[N * K] = {3, 1, 0, 0, 2, 1, 1, 0, 2, 0, 0, 1};
    int32_t lab[N] = {0, 1, 2, 1};
    const char names[N * 6] = "S0001\0S0002\0S0003\0S0004";
    const char *cn[K] = {"a", "b", "c"};
    int64_t conf[K * K] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    double pc[K] = {1, 0.5, 1};
    H5ScoresFile *f;
    if (h5io_scores_create(&f, &dist, path, &s) || h5io_scores_write_rows(f, 0, N, sc, lab, names) ||
        h5io_scores_write_metrics(f, cn, conf, pc, 0.75, 1) || h5io_scores_close(f))
        bail("scores");
}

static void make_embed(const char *path) {
    enum { K = 3, D = 4, P = 6 };
    float coarse[K * D], fine[K * P * D], pc[D] = {0};
    for (int i = 0; i < K * D; i++) coarse[i] = 0.5f;
    for (int i = 0; i < K * P * D; i++) fine[i] = 0.5f;
    int32_t id[K] = {0, 1, 2};
    const char *cn[K] = {"a", "b", "c"}, *pn[P] = {"head", "hands", "arms", "hips", "legs", "feet"};
    H5EmbedSpec s = {.encoder = "glove", .weights = "w", .weights_sha256 = "0", .descriptions = "d",
                     .descriptions_sha256 = "0", .K = K, .D = D, .nparts = P, .coarse = coarse, .fine = fine,
                     .sif_pc = pc, .class_id = id, .class_name = cn, .part_name = pn, .sif_a = 1e-3};
    if (h5io_embed_write(path, &s)) bail("embed");
}

static void make_features(const char *path) {
    float real[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    int32_t lab[3] = {0, 1, 2};
    int64_t idx[3] = {0, 1, 2};
    H5Features x = {.n = 3, .C = 4, .real = real, .generated = real, .label = lab, .index = idx};
    snprintf(x.data, sizeof x.data, "d.h5");
    snprintf(x.split, sizeof x.split, "test");
    snprintf(x.checkpoint, sizeof x.checkpoint, "c.h5");
    if (h5io_features_write(path, &x)) bail("features");
}

// ---------------------------------------------------------------------------
// Readers, each as a program uses it: CD_OK or the error

static int read_prep(const char *path) {
    H5PrepReader *r;
    int rc = h5io_prep_reader_open(&r, path);
    for (int g = 0; g < 2 && !rc; g++) {
        const H5PrepInfo *in = h5io_prep_reader_info(r);
        size_t n = (size_t)in->n[g];
        float *x = cd_malloc((n ? n : 1) * 3 * 300 * (size_t)in->V * 2 * sizeof(float));
        int32_t *lab = cd_malloc((n ? n : 1) * 4), *fr = cd_malloc((n ? n : 1) * 4);
        char *names = cd_malloc((n ? n : 1) * (size_t)in->name_len);
        rc = x && lab && fr && names ? h5io_prep_reader_read(r, g, 0, (int64_t)n, x, lab, fr, names) : CD_ENOMEM;
        free(x); free(lab); free(fr); free(names);
    }
    h5io_prep_reader_close(r);
    char **cn;
    int k;
    if (!rc && !(rc = h5io_prep_class_names(path, &cn, &k))) h5io_strings_free(cn, k);
    return rc;
}

static char why[1024];

static int read_ckpt(const char *path) {
    Ctrgcn *m = NULL;
    why[0] = 0;
    int rc = checkpoint_load_model(path, &m, NULL, why, sizeof why);
    if (!rc) {   // --resume: the same model with its optimizer
        OptimSgd o;
        if (optim_sgd_init(&o, ctrgcn_num_params(m), 0.9, 4e-4, 1)) bail("optim");
        rc = checkpoint_load_into(path, m, &o, NULL, 0, NULL, why, sizeof why);
        optim_sgd_free(&o);
    }
    ctrgcn_free(m);
    if (rc && why[0]) fprintf(stderr, "%s\n", why);
    return rc;
}

static int read_scores(const char *path) {
    H5Scores s;
    int rc = h5io_scores_read(path, &s);
    h5io_scores_free(&s);
    return rc;
}

static int read_embed(const char *path) {
    H5Embed e;
    int rc = h5io_embed_read(path, &e);
    h5io_embed_free(&e);
    return rc;
}

static int read_features(const char *path) {
    H5Features x;
    int rc = h5io_features_read(path, &x);
    h5io_features_free(&x);
    return rc;
}

typedef struct Kind {
    const char *name, *file;
    int (*read)(const char *path);
    const char *attrs;      // "OBJ NAME[!]" lines: read by the reader; '!' required
    const char *dsets;      // datasets the reader reads
} Kind;

static const Kind kinds[] = {
    {"prep", "ntu60-xsub.h5", read_prep,
     "/ format!\n/ format_version!\n/ dataset!\n/ benchmark!\n/ layout!\n/ num_joints!\n/ num_class!\n"
     "/ samples\n/ num_person\n",
     "/train/x\n/train/label\n/train/frames\n/train/name\n/test/x\n/test/label\n/test/name\n/class_name\n"},
    {"checkpoint", "ckpt.h5", read_ckpt,
     "/ format\n/ format_version\n/ epoch\n/ step\n/ stream\n/ graph\n/ config\n/ strides\n"
     "/optimizer steps!\n/optimizer momentum!\n/optimizer weight_decay!\n/optimizer nesterov!\n",
     "/model/fc.weight\n/model/l1.gcn1.PA\n/model/data_bn.weight\n/model/l1.gcn1.convs.0.conv3.weight\n"
     "/model/l1.gcn1.bn.weight\n/model/data_bn.num_batches_tracked\n/rng/seed\n/optimizer/momentum/fc.weight\n"},
    {"scores", "scores.h5", read_scores,
     "/ format!\n/ format_version!\n/ checkpoint!\n/ data!\n/ group!\n/ stream!\n/ window!\n"
     "/metrics top1!\n/metrics top5!\n",
     "/scores\n/label\n/name\n/class_name\n"},
    {"embeddings", "emb.h5", read_embed,
     "/ format!\n/ format_version!\n/ num_class!\n/ dim!\n/ encoder!\n", "/coarse\n/fine\n/class_id\n"},
    {"features", "feat.h5", read_features,
     "/ format!\n/ format_version!\n/ data!\n/ split!\n/ checkpoint!\n", "/real\n/generated\n/label\n/index\n"},
};

static int copy_file(const char *from, const char *to) {
    size_t n;
    char *b = tap_slurp(from, &n);
    FILE *f = b ? fopen(to, "wb") : NULL;
    int rc = f && fwrite(b, 1, n, f) == n ? 0 : -1;
    if (f && fclose(f)) rc = -1;
    free(b);
    return rc;
}

// Runs k's reader on path in a child process (a crash is a failed check,
// not the end of the test) with stderr in a file; *msg gets what it printed.
// Returns the reader's status, or 1000 + the signal that ended it.
static int run_reader(const Kind *k, const char *path, char *msg, size_t cap) {
    char log[4200];
    path_of(log, sizeof log, "reader.log");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        close(fd);
        alarm(60);   // a hang is a failure too
        int rc = k->read(path);
        fflush(stderr);
        _exit(rc == CD_OK ? 0 : 100 - rc);
    }
    int st = 0, rc;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) bail("fork/waitpid");
    if (WIFSIGNALED(st)) rc = 1000 + WTERMSIG(st);
    else rc = WEXITSTATUS(st) == 0 ? CD_OK : 100 - WEXITSTATUS(st);
    size_t n;
    char *b = tap_slurp(log, &n);
    snprintf(msg, cap, "%s", b ? b : "");
    free(b);
    return rc;
}

// One crafted copy: the reader must refuse it and name the file and `what`.
static void expect_refused(const Kind *k, const char *path, const char *what, const char *desc) {
    char msg[4096];
    int rc = run_reader(k, path, msg, sizeof msg);
    char *nl = strchr(msg, '\n');
    if (nl && nl[1] == 0) *nl = 0;
    int good = rc < 0 && strstr(msg, path) && strstr(msg, what);
    ok(good, "%s: %s: refused naming the file and '%s'", k->name, desc, what);
    if (!good) diag(rc >= 1000 ? "killed by signal %d; said: %.300s" : "status %d; said: %.300s", rc % 1000, msg);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strncmp(argv[1], "--", 2)) return tool(argc, argv);
    if (dist_init(&dist, &argc, &argv)) bail("dist_init");
    int n = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        const char *a = kinds[i].attrs;
        for (const char *p = a; *p; p = strchr(p, '\n') + 1) n += 2 + (strchr(p, '!') && strchr(p, '!') < strchr(p, '\n'));
        n += 5 * count_lines(kinds[i].dsets) + 1;
    }
    plan(n);
    char prep[4200];
    tap_ntu_h5(40, prep, sizeof prep);
    T = tap_tmpdir();
    char p[4200], q[4200];
    path_of(p, sizeof p, "ckpt.h5"); make_ckpt(p);
    path_of(p, sizeof p, "scores.h5"); make_scores(p);
    path_of(p, sizeof p, "emb.h5"); make_embed(p);
    path_of(p, sizeof p, "feat.h5"); make_features(p);
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        const Kind *k = &kinds[i];
        char good[4200], msg[4096];
        path_of(good, sizeof good, k->file);
        is_int(CD_OK, run_reader(k, good, msg, sizeof msg), "%s: the good file reads", k->name);
        if (msg[0]) diag("%.300s", msg);
        char line[256];
        for (const char *s = k->attrs; *s; s = strchr(s, '\n') + 1) {
            snprintf(line, sizeof line, "%.*s", (int)(strchr(s, '\n') - s), s);
            char *name = strchr(line, ' ') + 1;
            int required = name[strlen(name) - 1] == '!';
            name[-1] = 0;
            if (required) name[strlen(name) - 1] = 0;
            const char *modes[3] = {"4096", "other", "rm"};
            const char *desc[3] = {"as a 4,096-element array", "as a scalar of the other type", "removed"};
            for (int m = 0; m < 2 + required; m++) {
                snprintf(q, sizeof q, "%s/%s-%s-%s", T, k->name, name, modes[m]);
                if (copy_file(good, q) || craft_attr(q, line, name, modes[m])) bail("crafting %s", q);
                char d[300];
                snprintf(d, sizeof d, "attribute %s%s%s %s", line, strcmp(line, "/") ? "/" : "", name, desc[m]);
                expect_refused(k, q, name, d);
            }
        }
        for (const char *s = k->dsets; *s; s = strchr(s, '\n') + 1) {
            snprintf(line, sizeof line, "%.*s", (int)(strchr(s, '\n') - s), s);
            hsize_t dims[8];
            int nd = dset_dims(good, line, dims);
            if (nd < 0) bail("%s: no %s", good, line);
            const char *base = strrchr(line, '/') + 1;
            for (int m = 0; m < 3; m++) {
                snprintf(q, sizeof q, "%s/%s-%s-%d", T, k->name, base, m);
                hsize_t d2[8];
                memcpy(d2, dims, sizeof d2);
                int nd2 = nd ? nd : 1;
                if (!nd) d2[0] = 1;
                for (int i = 0; m == 0 && i < nd2; i++) d2[i] = 0;
                if (m == 1) d2[nd2 - 1] += 1;
                if (copy_file(good, q) || craft_dset(q, line, nd2, d2, m == 2)) bail("crafting %s", q);
                const char *desc[3] = {"every dimension 0", "its last dimension one longer", "the other type class"};
                char d[300];
                snprintf(d, sizeof d, "dataset %s with %s", line, desc[m]);
                expect_refused(k, q, base, d);
            }
            // Issue 12, finding 4: a flipped bit in the stored data, and the
            // dataset's checksum removed, are refused (before: read silently).
            hid_t f = H5Fopen(good, H5F_ACC_RDONLY, H5P_DEFAULT), ds = H5Dopen2(f, line, H5P_DEFAULT);
            long long size = (long long)H5Dget_storage_size(ds);
            H5Dclose(ds);
            H5Fclose(f);
            snprintf(q, sizeof q, "%s/%s-%s-flip", T, k->name, base);
            if (copy_file(good, q) || flip_bit(q, line, size / 2)) bail("flipping a bit of %s", q);
            char d[400];
            snprintf(d, sizeof d, "dataset %s with bit 0 of byte %lld flipped", line, size / 2);
            expect_refused(k, q, "fails its checksum", d);
            snprintf(q, sizeof q, "%s/%s-%s-nocrc", T, k->name, base);
            if (copy_file(good, q) || craft_attr(q, line, "crc32", "rm")) bail("crafting %s", q);
            snprintf(d, sizeof d, "dataset %s without its crc32", line);
            expect_refused(k, q, "has no checksum", d);
        }
    }
    dist_finalize(&dist);
    return tap_done();
}
