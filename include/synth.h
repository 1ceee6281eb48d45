// synth.h - cocodiff-synth's writers: NTU .skeleton text and Kinetics-Skeleton
// JSON clips generated from the kinematic body (synth_body.h) performing the
// action classes (synth_actions.h), packed into the official archive layouts
// through archive_out.h. Everything is a pure function of (seed, arguments):
// the same call gives a byte-identical archive.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dist.h"
#include "synth_actions.h"

typedef enum SynthFormat { SYNTH_NTU = 1, SYNTH_KINETICS = 2 } SynthFormat;

typedef struct SynthConfig {
    SynthFormat format;
    int64_t samples;          // how many samples (clips) to write
    uint64_t seed;
    const char *out;          // archive path (.zip, .tar, .tar.gz, .tgz)
    double progress_every_s;  // progress line period (0 = none)
} SynthConfig;

// Writes the whole archive. CD_OK or a CD_E* status (message already printed).
// With progress_every_s > 0 it logs progress and a summary (rate, MB/s).
int synth_ntu_write(const SynthConfig *cfg, const SynthActions *acts, const Dist *d);
int synth_kinetics_write(const SynthConfig *cfg, const SynthActions *acts, const Dist *d);
// The most distinct NTU names (setup, camera, performer, replication, action)
// the class list allows.
int64_t synth_ntu_max_samples(const SynthActions *acts);

// ---------------------------------------------------------------- text
// Fast number formatting into a Buf (buf.h): the writers format tens of
// millions of numbers, where snprintf would dominate the run time.
// The callers reserve room first: at most 32 bytes per number.
void synth_buf_puts(Buf *b, const char *s);
void synth_buf_int(Buf *b, int64_t v);
// Like C#'s float.ToString() of the Kinect SDK files: 7 significant digits,
// trailing zeros trimmed, "E-05" style exponent below 1e-4 ("0" for zero).
void synth_buf_g7(Buf *b, double v);
// Fixed 3 decimals like OpenPose JSON ("0.618", "-0.012", "0.000").
void synth_buf_f3(Buf *b, double v);
