// fuzz_ucla.c - one NW-UCLA sequence JSON (ucla.h), as cocodiff-prep reads
// every member of all_sqe.zip, and the member-name parser on the input's
// first line (a path such as all_sqe/a01_s01_e00_v01.json).
#include "fuzz.h"

#include "ucla.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size), why[512], path[256], name[UCLA_NAME_LEN + 1];
    double *xyz = NULL;
    int frames = 0, label, split;
    ucla_parse(text, size, &xyz, &frames, why, sizeof why);
    free(xyz);
    size_t n = strcspn(text, "\n");
    snprintf(path, sizeof path, "%.*s", (int)(n < sizeof path - 1 ? n : sizeof path - 1), text);
    UclaName u;
    ucla_member(path, name, &u, &label, &split, why, sizeof why);
    free(text);
    return 0;
}
