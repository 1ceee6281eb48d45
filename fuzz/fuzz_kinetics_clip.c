// fuzz_kinetics_clip.c - one Kinetics-Skeleton clip JSON (kinetics.h), as
// cocodiff-prep prepares every member of a Kinetics archive.
#include "fuzz.h"

#include "kinetics.h"
#include "skeleton.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static float out[SKEL_T * SKEL_M * KINETICS_V * SKEL_C];
    char *text = fuzz_text(data, size), why[512];
    int label = 0, frames = 0;
    kinetics_prepare(text, size, out, &label, &frames, why, sizeof why);
    free(text);
    return 0;
}
