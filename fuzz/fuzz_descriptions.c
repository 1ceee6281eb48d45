// fuzz_descriptions.c - the class descriptions TSV (descriptions.h) through
// all three readers: strict (cocodiff-embed), salvage (cocodiff-describe
// resuming) and the one-name-per-line class list (--class-names).
#include "fuzz.h"

#include "descriptions.h"

static void on_bad(void *ctx, const char *path, int line, const char *why) {
    (void)path; (void)line; (void)why;
    ++*(int *)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], why[1024];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0) return 0;
    Descriptions *d = NULL;
    if (descriptions_load(path, &d, why, sizeof why) == 0 && d) {
        descriptions_sort(d);
        for (int i = 0; i < d->n; i++) {
            free(descriptions_coarse(&d->cls[i]));
            descriptions_find(d, d->cls[i].id);
        }
    }
    descriptions_free(d);
    d = NULL;
    int nbad = 0, seen = 0;
    descriptions_salvage(path, &d, &nbad, on_bad, &seen, why, sizeof why);
    descriptions_free(d);
    DescClassList l;
    memset(&l, 0, sizeof l);
    if (descriptions_list_load(path, (int)(size & 1), &l, why, sizeof why) == 0) descriptions_list_free(&l);
    close(fd);
    return 0;
}
