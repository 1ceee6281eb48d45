// 3100-synth-kinetics - cocodiff-synth's Kinetics-Skeleton writer: the
// archive layout, every clip parses with jansson and follows the ST-GCN
// format, the label files agree with the clips, and kinetics_prepare (the
// project's own reader) accepts every clip with a skeleton.
#include "archive_in.h"
#include "kinetics.h"
#include "skeleton.h"
#include "status.h"
#include "synth.h"
#include "tap/tap.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 70
static const char *classes = "datasets/synth/actions.json";

static int gen(const SynthActions *acts, const char *path, uint64_t seed) {
    SynthConfig cfg = {SYNTH_KINETICS, N, seed, path, 0.0};
    Dist d = {0, 1, NULL, NULL};
    return synth_kinetics_write(&cfg, acts, &d);
}

static int three_decimals(double v) { return fabs(v * 1000 - round(v * 1000)) < 1e-6; }

// Checks one clip; returns a reason or NULL. Counts frames and people.
static const char *check_clip(json_t *clip, int *frames, int *empty, int *multi) {
    json_t *data = json_object_get(clip, "data");
    if (!json_is_array(data)) return "no data array";
    if (!json_is_string(json_object_get(clip, "label"))) return "no label";
    if (!json_is_integer(json_object_get(clip, "label_index"))) return "no label_index";
    size_t i, k;
    json_t *fr, *person;
    json_array_foreach(data, i, fr) {
        json_t *fi = json_object_get(fr, "frame_index"), *sk = json_object_get(fr, "skeleton");
        if (!json_is_integer(fi) || json_integer_value(fi) != (json_int_t)i + 1)
            return "frame_index not 1, 2, ...";
        if (json_integer_value(fi) >= 300) return "frame_index >= 300";
        if (!json_is_array(sk)) return "skeleton is not an array";
        (*frames)++;
        *empty += json_array_size(sk) == 0;
        *multi += json_array_size(sk) >= 2;
        json_array_foreach(sk, k, person) {
            json_t *pose = json_object_get(person, "pose"), *score = json_object_get(person, "score");
            if (json_array_size(pose) != 36 || json_array_size(score) != 18) return "pose/score sizes";
            for (size_t j = 0; j < 36; j++) {
                double v = json_number_value(json_array_get(pose, j));
                if (v < 0 || v > 1 || !three_decimals(v)) return "pose value outside [0,1]";
            }
            for (size_t j = 0; j < 18; j++) {
                double s = json_number_value(json_array_get(score, j));
                if (s < 0 || s > 1 || !three_decimals(s)) return "score outside [0,1]";
            }
        }
    }
    return NULL;
}

int main(void) {
    FILE *f = fopen(classes, "r");
    if (!f) skip_all("no %s (run from the repository root)", classes);
    fclose(f);
    plan(11);
    SynthActions acts;
    if (synth_actions_load(classes, &acts) != CD_OK) bail("cannot load %s", classes);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/k.zip", tap_tmpdir());
    snprintf(b, sizeof b, "%s/k2.zip", tap_tmpdir());
    is_int(CD_OK, gen(&acts, a, 11), "generate %d clips", N);
    gen(&acts, b, 11);
    size_t na, nb;
    char *x = tap_slurp(a, &na), *y = tap_slurp(b, &nb);
    ok(x && y && na == nb && memcmp(x, y, na) == 0, "same seed, same bytes");
    free(x);
    free(y);

    ArchiveIn *in;
    if (archive_in_open(&in, a) != CD_OK) bail("cannot reopen %s", a);
    json_t *labels[2] = {NULL, NULL};
    int clips = 0, bad_names = 0, bad = 0, mismatch = 0, nodata = 0, frames = 0, empty = 0;
    int multi = 0, rejects = 0, seen[1000] = {0}, split[2] = {0, 0};
    char *buf = NULL, why[256];
    size_t cap = 0, len;
    float *out = malloc(sizeof(float) * SKEL_T * 2 * 18 * 3);
    const char *name;
    int64_t size;
    int is_file;
    while (archive_in_next(in, &name, &size, &is_file) == CD_OK) {
        if (!is_file) continue;
        if (archive_in_read(in, &buf, &cap, &len, SIZE_MAX, why, sizeof why) != CD_OK) bail("read %s", name);
        json_error_t err;
        json_t *j = json_loadb(buf, len, 0, &err);
        if (!j) {
            if (bad++ < 3) diag("%s does not parse: %s", name, err.text);
            continue;
        }
        if (!strcmp(name, "kinetics_train_label.json") || !strcmp(name, "kinetics_val_label.json")) {
            labels[name[9] == 'v'] = j;
            continue;
        }
        int val = !strncmp(name, "kinetics_val/", 13);
        const char *id = name + (val ? 13 : 15);
        if ((!val && strncmp(name, "kinetics_train/", 15)) || strlen(id) != 16 ||
            strcmp(id + 11, ".json")) {
            bad_names++;
            json_decref(j);
            continue;
        }
        clips++;
        split[val]++;
        char vid[12];
        memcpy(vid, id, 11);
        vid[11] = 0;
        const char *r = check_clip(j, &frames, &empty, &multi);
        if (r && bad++ < 3) diag("%s: %s", name, r);
        json_t *ent = labels[val] ? json_object_get(labels[val], vid) : NULL;
        int has = json_array_size(json_object_get(j, "data")) > 0;
        int li = (int)json_integer_value(json_object_get(j, "label_index"));
        if (!ent || json_is_true(json_object_get(ent, "has_skeleton")) != has ||
            json_integer_value(json_object_get(ent, "label_index")) != li ||
            strcmp(json_string_value(json_object_get(ent, "label")),
                   json_string_value(json_object_get(j, "label"))) != 0) {
            if (mismatch++ < 3) diag("%s disagrees with its label file", name);
        }
        if (li >= 0 && li < 1000) seen[li]++;
        nodata += !has;
        int fr, lab;
        if (has && kinetics_prepare(buf, len, out, &lab, &fr, why, sizeof why) != CD_OK &&
            rejects++ < 3)
            diag("%s rejected by kinetics_prepare: %s", name, why);
        json_decref(j);
    }
    archive_in_close(in);
    free(buf);
    free(out);
    ok(labels[0] && labels[1], "both label files are there and parse");
    int nlab = (labels[0] ? (int)json_object_size(labels[0]) : 0) +
               (labels[1] ? (int)json_object_size(labels[1]) : 0);
    ok(clips == N && nlab == N && bad_names == 0,
       "%d clips under kinetics_{train,val}/<11-char id>.json, %d labels", clips, nlab);
    ok(split[0] > 0 && split[1] > 0, "train %d / val %d clips", split[0], split[1]);
    is_int(0, bad, "every clip parses and follows the ST-GCN format");
    is_int(0, mismatch, "label files agree with the clips (label, label_index, has_skeleton)");
    int missing = 0;
    for (int i = 0; i < acts.n; i++) missing += seen[i] == 0;
    is_int(0, missing, "every class appears (label_index 0..%d)", acts.n - 1);
    ok(empty > 0 && multi > 0, "%d frames: %d with \"skeleton\": [], %d with several people",
       frames, empty, multi);
    diag("%d clips without skeleton", nodata);
    is_int(0, rejects, "kinetics_prepare accepts every clip with a skeleton");
    json_decref(labels[0]);
    json_decref(labels[1]);
    // A damaged class file is refused with a clear error, not half-loaded.
    char bad_path[600];
    snprintf(bad_path, sizeof bad_path, "%s/bad.json", tap_tmpdir());
    FILE *bf = fopen(bad_path, "w");
    fputs("{\"classes\": [{\"id\": 1, \"name\": \"x\", \"persons\": 1, \"duration\": 2, "
          "\"parts\": {\"tail\": [[0, 1]]}}]}", bf);
    fclose(bf);
    SynthActions bad_acts;
    is_int(CD_EFORMAT, synth_actions_load(bad_path, &bad_acts), "unknown body part refused");
    synth_actions_free(&acts);
    return tap_done();
}
