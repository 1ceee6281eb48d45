// crng.h - a counter-based random stream: splitmix64's finaliser over a key
// (derived from a salt, the run seed, a step, an index and a purpose) and a
// counter. A draw depends only on those numbers, never on what was drawn
// before elsewhere, so results do not depend on the number of ranks or on
// which other draws a run makes (the CoCoDiff module, its conditioning probe,
// the frozen-backbone harness).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct Crng {
    uint64_t key, ctr;
} Crng;

uint64_t crng_mix64(uint64_t z);
// The stream of (seed, step, index, purpose) under salt (a constant per user).
Crng crng_make(uint64_t salt, uint64_t seed, int64_t step, int64_t index, int purpose);
uint64_t crng_u64(Crng *r);
double crng_uniform(Crng *r);              // [0, 1), 53 bits
int64_t crng_below(Crng *r, int64_t n);    // uniform in [0, n) (0 when n <= 1)
void crng_normals(Crng *r, float *out, size_t n);   // standard normals (Box-Muller, both outputs used)
