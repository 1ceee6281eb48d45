// fastfloat.c - exact fast decimal-to-float conversion (see fastfloat.h).
#include "fastfloat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const float pow10_f32[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                  1e6f, 1e7f, 1e8f, 1e9f, 1e10f};
static const double pow10_f64[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static const char *fallback(const char *start, float *out) {
    char *e;
    *out = strtof(start, &e);
    return e == start ? NULL : e;
}

const char *ff_parse_f32(const char *p, float *out) {
    const char *start = p;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = (*p++ == '-');
    uint64_t mant = 0;
    int digits = 0, exp10 = 0, any = 0;
    while (*p == '0') { p++; any = 1; }   // leading zeros are not significant
    while ((unsigned)(*p - '0') < 10) {
        if (digits < 19) mant = mant * 10 + (uint64_t)(*p - '0');
        else exp10++;
        digits++;
        p++;
        any = 1;
    }
    if (*p == '.') {
        p++;
        if (digits == 0)
            while (*p == '0') { p++; exp10--; any = 1; }
        while ((unsigned)(*p - '0') < 10) {
            if (digits < 19) { mant = mant * 10 + (uint64_t)(*p - '0'); exp10--; }
            digits++;
            p++;
            any = 1;
        }
    }
    if (!any) return fallback(start, out);   // "nan", "inf", or not a number
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        int eneg = 0, e = 0, edigits = 0;
        if (*q == '-' || *q == '+') eneg = (*q++ == '-');
        while ((unsigned)(*q - '0') < 10) {
            if (e < 10000) e = e * 10 + (*q - '0');
            q++;
            edigits++;
        }
        if (edigits) {   // "1e" alone: strtof stops before the 'e', as we do
            exp10 += eneg ? -e : e;
            p = q;
        }
    }
    // Strings strtof reads differently from us (inf, nan, hex) start with a
    // letter or "0x": the 'x' stops us right after "0", so hand those over.
    if (*p == 'x' || *p == 'X') return fallback(start, out);
    if (digits > 19) return fallback(start, out);
    if (mant == 0) {
        *out = neg ? -0.0f : 0.0f;
        return p;
    }
    float f;
    if (mant <= (1u << 24) && exp10 >= -10 && exp10 <= 10) {
        // Both operands are exact floats: one correctly rounded operation.
        f = (float)mant;
        f = exp10 < 0 ? f / pow10_f32[-exp10] : f * pow10_f32[exp10];
    } else if (mant <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        // The exact value correctly rounded to double; rounding that double to
        // float is only wrong when it landed exactly on a float halfway point.
        double d = (double)mant;
        d = exp10 < 0 ? d / pow10_f64[-exp10] : d * pow10_f64[exp10];
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        int biased = (int)((bits >> 52) & 0x7ff);
        if ((bits & 0x1fffffff) == 0x10000000 || biased < 1023 - 126 || biased > 1023 + 127)
            return fallback(start, out);   // halfway case, or subnormal/overflow float
        f = (float)d;
    } else {
        return fallback(start, out);
    }
    *out = neg ? -f : f;
    return p;
}
