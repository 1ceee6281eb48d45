// stream.h - the input streams of CTR-GCN's multi-stream training: the same
// skeletons fed as joints, bones (joint minus its bone partner, SkelLayout's
// bone pairs), or their motion (frame t+1 minus frame t), each trained as its
// own model and fused by the ensemble. One table (stream.c) names them for
// every stage: the config's cocodiff.stream and the feeders' bone/vel flags,
// checkpoints and score files (their `stream` attribute), cocodiff-eval
// --stream, the ensemble's default weights, and slurm/submit-pipeline's job
// configs (cocodiff-eval --list-streams).
//
// A new stream is a row in stream.c; one with a new step (not bone or vel)
// also a flag here and the step in feeder.c's feeder_transform (and, for
// NW-UCLA's raw sequences, in feeder_ucla.c). A config selects it with
// cocodiff.stream; slurm/submit-pipeline runs it from jobs/<stem>-<job>.yaml.
//
// defines: Stream, stream_find, stream_of, stream_count, stream_get, stream_names
#pragma once
#include <stddef.h>

typedef struct Stream {
    const char *name;   // "joint", "bone", "joint_motion", "bone_motion"
    const char *alias;  // also accepted for it (the official feeder_ucla data_path
                        // words: "motion", "bone motion"), or NULL
    const char *job;    // the job config's suffix: jobs/<stem>-<job>.yaml ("joint-motion")
    int bone, vel;      // the feeder's steps, in this order, and its flags
                        // (train_feeder_args / test_feeder_args bone, vel)
    double weight;      // CTR-GCN's ensemble.py weight when all the weighted streams
                        // are fused; 0: none (the ensemble's default is then 1 each)
} Stream;

// The stream called name (its name or alias, not its job suffix), or NULL.
const Stream *stream_find(const char *name);
// The stream of the feeder's flags (never NULL: every combination is one).
const Stream *stream_of(int bone, int vel);
// The streams in table order: i in [0, stream_count()).
int stream_count(void);
const Stream *stream_get(int i);
// The names joined by sep, the last two by last ("joint, bone, joint_motion or
// bone_motion"), into buf (truncated to len); with aliases, then " (or
// 'motion', 'bone motion')".
void stream_names(char *buf, size_t len, const char *sep, const char *last);
void stream_names_aliases(char *buf, size_t len);
