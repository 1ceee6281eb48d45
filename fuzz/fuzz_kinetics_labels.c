// fuzz_kinetics_labels.c - a Kinetics label file (kinetics_{train,val}_label
// .json, kinetics.h), then look-ups of a few ids, as cocodiff-prep does.
#include "fuzz.h"

#include "kinetics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size), why[512];
    KineticsLabels *l = NULL;
    if (kinetics_labels_parse(text, size, &l, why, sizeof why) == 0 && l) {
        static const char *ids[] = {"", "__NrybzYzUg", "a", "0"};
        int li = 0, hs = 0;
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) kinetics_labels_find(l, ids[i], &li, &hs);
        kinetics_labels_count(l);
    }
    kinetics_labels_free(l);
    free(text);
    return 0;
}
