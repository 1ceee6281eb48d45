// 0110-progress.c - progress lines (dist.h): a line never reads 100% or more
// before the end, even when `done` is an estimate that overshoots (rank 0's
// count x ranks, as eval and embed pass it), and the last line, from
// progress_end, reads total/total (100.0%) with the time it took.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist.h"
#include "tap/tap.h"

// Runs the calls with stdout (where rank 0 logs) sent to a file; returns its text.
static char *capture(Dist *d, int64_t total, const int64_t *done, int n, int64_t end) {
    char path[] = "/tmp/cocodiff-progress-XXXXXX";
    int fd = mkstemp(path), saved = dup(1);
    fflush(stdout);
    dup2(fd, 1);
    Progress p;
    progress_init(&p, "stage", "items", total, 0.0);   // every call prints
    for (int i = 0; i < n; i++) progress_update(&p, d, done[i]);
    progress_end(&p, d, end);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    FILE *f = fdopen(fd, "r");
    rewind(f);
    char *text = calloc(1, 8192);
    size_t got = fread(text, 1, 8191, f);
    text[got] = 0;
    fclose(f);
    unlink(path);
    return text;
}

int main(int argc, char **argv) {
    Dist d;
    if (dist_init(&d, &argc, &argv)) bail("dist_init");
    plan(6);
    const int64_t done[] = {5, 9, 12, 20};
    char *t = capture(&d, 10, done, 4, 12);
    ok(strstr(t, "stage | 5/10 items (50.0%)") != NULL, "a line in the middle reads 5/10 (50.0%%)");
    const char *full = strstr(t, "10/10 items (100.0%)");
    ok(full && strstr(t, "100.0%") == full + strlen("10/10 items (") && !strstr(full + 20, "100.0%") &&
           strstr(full, "done in"),
       "100%% only on the last line, which says done");
    ok(!strstr(t, "12/10") && !strstr(t, "20/10") && !strstr(t, "(120.0%)"), "an estimate past the total never shows");
    int lines = 0;
    for (const char *c = t; *c; c++) lines += *c == '\n';
    is_int(5, lines, "five lines: four updates and the end");
    ok(strstr(t, "stage | 9/10 items (90.0%)") != NULL, "an overshooting estimate reads total - 1 (9/10)");
    free(t);
    const int64_t none[] = {0};
    t = capture(&d, 0, none, 0, 7);
    ok(strstr(t, "stage | 7 items |") != NULL && strstr(t, "done in"), "without a total: the count and the time");
    free(t);
    dist_finalize(&d);
    return tap_done();
}
