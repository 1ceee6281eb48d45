// workdir.c - see workdir.h.
#include "workdir.h"

#include "status.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// epochNNN.h5 (three or more digits), as train.c names them.
static int is_epoch_file(const char *name) {
    if (strncmp(name, "epoch", 5)) return 0;
    const char *s = name + 5;
    size_t digits = strspn(s, "0123456789");
    return digits >= 3 && !strcmp(s + digits, ".h5");
}

// The first checkpoint of a run in dir (checkpoint-last.h5, else an
// epochNNN.h5) into out; 0 when there is none.
static int find_checkpoint(const char *dir, char *out, size_t n) {
    snprintf(out, n, "%s/checkpoint-last.h5", dir);
    if (access(out, F_OK) == 0) return 1;
    DIR *dp = opendir(dir);
    int found = 0;
    for (struct dirent *e; dp && !found && (e = readdir(dp));)
        if (is_epoch_file(e->d_name)) {
            snprintf(out, n, "%s/%s", dir, e->d_name);
            found = 1;
        }
    if (dp) closedir(dp);
    return found;
}

int workdir_check(const char *dir, int resume, int overwrite, char *why, size_t whylen) {
    char ck[4200];
    if (resume || overwrite || !find_checkpoint(dir, ck, sizeof ck)) return CD_OK;
    return cd_why(why, whylen, CD_EARG,
                  "%s holds an earlier run (%s): pass --resume to continue it, or --overwrite to start over "
                  "(deletes its checkpoints, metrics, logs, features and evaluation)", dir, ck);
}

static int remove_one(const char *dir, const char *name, int *removed, char *why, size_t whylen) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (unlink(p) == 0) {
        (*removed)++;
        return CD_OK;
    }
    if (errno == ENOENT) return CD_OK;
    return cd_why(why, whylen, CD_EIO, "--overwrite: cannot delete %s: %s", p, strerror(errno));
}

int workdir_clear(const char *dir, const char *metrics_file, int *removed, char *why, size_t whylen) {
    static const char *const outputs[] = {
        "config.yaml", "checkpoint-last.h5", "checkpoint-last.h5.partial", "best.h5", "metrics.jsonl",
        "log.txt", "features.h5", "diversity.json", "eval/scores.h5", "eval/metrics.json",
        "scores.h5", "scores.h5.partial", "metrics.json",   // phase: test run in the work dir
    };
    *removed = 0;
    int rc = CD_OK;
    for (size_t i = 0; i < sizeof outputs / sizeof *outputs && !rc; i++)
        rc = remove_one(dir, outputs[i], removed, why, whylen);
    if (!rc && metrics_file && strcmp(metrics_file, "metrics.jsonl"))
        rc = remove_one(dir, metrics_file, removed, why, whylen);
    DIR *dp = rc ? NULL : opendir(dir);
    for (struct dirent *e; dp && !rc && (e = readdir(dp));)
        if (is_epoch_file(e->d_name)) rc = remove_one(dir, e->d_name, removed, why, whylen);
    if (dp) closedir(dp);
    if (!rc) {   // the pipeline's eval/ folder, when nothing else is in it
        char p[4200];
        snprintf(p, sizeof p, "%s/eval", dir);
        rmdir(p);
    }
    return rc;
}
