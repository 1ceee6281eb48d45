// crng.c - the counter-based random stream (see crng.h).
#include "crng.h"

#include <math.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL

uint64_t crng_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

Crng crng_make(uint64_t salt, uint64_t seed, int64_t step, int64_t index, int purpose) {
    uint64_t k = crng_mix64(seed ^ salt);
    k = crng_mix64(k + GOLDEN * ((uint64_t)step + 1));
    k = crng_mix64(k ^ (GOLDEN * 0x2545f4914f6cdd1dULL * ((uint64_t)index + 1)));
    k = crng_mix64(k + (uint64_t)purpose * 0xd1b54a32d192ed03ULL);
    return (Crng){k, 0};
}

uint64_t crng_u64(Crng *r) { return crng_mix64(r->key + GOLDEN * ++r->ctr); }

double crng_uniform(Crng *r) { return (double)(crng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

int64_t crng_below(Crng *r, int64_t n) {
    if (n <= 1) return 0;
    // rejection keeps it exactly uniform
    uint64_t un = (uint64_t)n, lim = UINT64_MAX - UINT64_MAX % un, x;
    do x = crng_u64(r);
    while (x >= lim);
    return (int64_t)(x % un);
}

void crng_normals(Crng *r, float *out, size_t n) {
    for (size_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - crng_uniform(r), u2 = crng_uniform(r);
        double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
        out[i] = (float)(rad * cos(th));
        if (i + 1 < n) out[i + 1] = (float)(rad * sin(th));
    }
}
