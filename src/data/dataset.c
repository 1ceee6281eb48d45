// dataset.c - the table of dataset formats and skeleton layouts (dataset.h,
// skeleton.h). A dataset is its own file plus one line here.
#include "dataset.h"

#include <stdio.h>
#include <string.h>

// --- the table -----------------------------------------------------------------

extern const DatasetFormat dataset_ntu60, dataset_ntu120;   // ntu.c
extern const DatasetFormat dataset_kinetics;                 // kinetics.c
extern const DatasetFormat dataset_ucla;                     // ucla.c
static const DatasetFormat *const formats[] = {&dataset_ntu60, &dataset_ntu120, &dataset_kinetics,
                                               &dataset_ucla};

extern const SkelLayout skel_ntu25;        // ntu.c
extern const SkelLayout skel_openpose18;   // kinetics.c
extern const SkelLayout skel_ucla20;       // ucla.c
static const SkelLayout *const layouts[] = {&skel_ntu25, &skel_openpose18, &skel_ucla20};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

// --- lookups -------------------------------------------------------------------

const DatasetFormat *dataset_find(const char *name) {
    for (size_t i = 0; name && i < COUNT(formats); i++)
        if (!strcmp(formats[i]->name, name)) return formats[i];
    return NULL;
}

int dataset_count(void) { return (int)COUNT(formats); }
const DatasetFormat *dataset_get(int i) { return i >= 0 && i < (int)COUNT(formats) ? formats[i] : NULL; }

// Appends s to buf (len bytes in all), truncating.
static void append(char *buf, size_t len, const char *s) {
    size_t n = strlen(buf);
    if (n < len) snprintf(buf + n, len - n, "%s", s);
}

void dataset_names(char *buf, size_t len, const char *sep) {
    if (!len) return;
    buf[0] = '\0';
    for (size_t i = 0; i < COUNT(formats); i++) {
        if (i) append(buf, len, sep);
        append(buf, len, formats[i]->name);
    }
}

const SkelLayout *skel_layout_find(const char *name) {
    for (size_t i = 0; name && i < COUNT(layouts); i++) {
        const SkelLayout *l = layouts[i];
        if (!strcmp(l->name, name) || !strcmp(l->graph, name) || !strcmp(l->aliases[0], name) ||
            !strcmp(l->aliases[1], name))
            return l;
    }
    return NULL;
}

const SkelLayout *skel_layout_get(int i) { return i >= 0 && i < (int)COUNT(layouts) ? layouts[i] : NULL; }

const SkelLayout *skel_layout_of_joints(int V) {
    const SkelLayout *found = NULL;
    for (size_t i = 0; i < COUNT(layouts); i++)
        if (layouts[i]->V == V) {
            if (found) return NULL;
            found = layouts[i];
        }
    return found;
}

void skel_layout_names(char *buf, size_t len) {
    if (!len) return;
    buf[0] = '\0';
    for (size_t i = 0; i < COUNT(layouts); i++) {
        if (i) append(buf, len, i + 1 == COUNT(layouts) ? " or " : ", ");
        append(buf, len, layouts[i]->aliases[1]);
    }
}
