// stream.c - the table of input streams (stream.h).
#include "stream.h"

#include <stdio.h>
#include <string.h>

// ensemble.py: alpha = [0.6, 0.6, 0.4, 0.4] for joint, bone, joint motion,
// bone motion when all four are given (and 1 each otherwise).
// Rows name their fields, so a new step's flag (stream.h) needs no other row.
static const Stream streams[] = {
    {.name = "joint", .job = "joint", .weight = 0.6},
    {.name = "bone", .job = "bone", .bone = 1, .weight = 0.6},
    {.name = "joint_motion", .alias = "motion", .job = "joint-motion", .vel = 1, .weight = 0.4},
    {.name = "bone_motion", .alias = "bone motion", .job = "bone-motion", .bone = 1, .vel = 1, .weight = 0.4},
};
#define NSTREAMS ((int)(sizeof streams / sizeof streams[0]))

const Stream *stream_find(const char *name) {
    for (int i = 0; name && i < NSTREAMS; i++)
        if (!strcmp(streams[i].name, name) || (streams[i].alias && !strcmp(streams[i].alias, name))) return &streams[i];
    return NULL;
}

const Stream *stream_of(int bone, int vel) {
    for (int i = 0; i < NSTREAMS; i++)
        if (streams[i].bone == (bone != 0) && streams[i].vel == (vel != 0)) return &streams[i];
    return &streams[0];
}

int stream_count(void) { return NSTREAMS; }
const Stream *stream_get(int i) { return i >= 0 && i < NSTREAMS ? &streams[i] : NULL; }

void stream_names(char *buf, size_t len, const char *sep, const char *last) {
    if (!len) return;
    buf[0] = '\0';
    for (int i = 0; i < NSTREAMS; i++) {
        size_t n = strlen(buf);
        if (n < len) snprintf(buf + n, len - n, "%s%s", i == 0 ? "" : i + 1 == NSTREAMS ? last : sep, streams[i].name);
    }
}

void stream_names_aliases(char *buf, size_t len) {
    stream_names(buf, len, ", ", " or ");
    for (int i = 0, k = 0; i < NSTREAMS; i++) {
        size_t n = strlen(buf);
        if (streams[i].alias && n < len)
            snprintf(buf + n, len - n, "%s'%s'", k++ ? ", " : " (or ", streams[i].alias);
    }
    if (strchr(buf, '(') && strlen(buf) + 1 < len) strcat(buf, ")");
}
