// fastfloat.h - decimal text to float, the same float strtof returns, faster.
//
// NTU .skeleton files are ~95% decimal numbers, so their parse speed is the
// prep stage's speed. The fast paths are exact (Clinger's: one correctly
// rounded IEEE operation on exactly representable operands); anything else
// falls back to strtof, so the result is always strtof's.
#pragma once

// Parses one number starting at p (no leading blanks; [+-]digits[.digits]
// [(e|E)[+-]digits]). Returns the first character after it, or NULL when p
// does not start with a number. The text must be readable (and end in a
// non-number character, e.g. NUL) past the number: strtof may look at it.
const char *ff_parse_f32(const char *p, float *out);
