// fuzz_ntu.c - NTU RGB+D .skeleton text (ntu.h): parse, denoise and
// normalise as cocodiff-prep does for every member, with both actor
// conventions, and the sample-name parser on the first 20 bytes.
#include "fuzz.h"

#include "ntu.h"
#include "skeleton.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static float out[SKEL_T * SKEL_M * NTU_V * SKEL_C];
    char *text = fuzz_text(data, size), why[512];
    int frames = 0;
    ntu_prepare(text, size, size & 1, out, &frames, why, sizeof why);
    NtuName nm;
    char name[21];
    memcpy(name, text, size < 20 ? size : 20);
    name[size < 20 ? size : 20] = 0;
    ntu_name_parse(name, &nm);
    free(text);
    return 0;
}
