// clip_unicode.h - the Unicode classes and case mapping CLIP's tokenizer needs.
//
// Tables generated from the `regex` module the official tokenizer uses
// (\p{L}, \p{N}, \s) and from Python's str.lower, by
// scripts/ref/make_clip_reference.py --emit-unicode src/text/clip_unicode.c.
// All of Unicode is covered; only one-to-many lowercasing (U+0130 'İ' ->
// "i\u0307") is not done (the character is kept as is).
#pragma once
#include <stddef.h>
#include <stdint.h>

int clip_uni_is_letter(uint32_t cp);   // regex \p{L}
int clip_uni_is_number(uint32_t cp);   // regex \p{N}
int clip_uni_is_space(uint32_t cp);    // regex \s (Unicode)
uint32_t clip_uni_lower(uint32_t cp);  // Python str.lower for one code point

// Decodes one UTF-8 sequence at s[0..n): returns its length (1..4) and the
// code point in *cp. Invalid bytes decode as themselves (length 1, cp = the
// byte | 0xDC00 marker bit), so no input is ever rejected.
int clip_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
// Writes cp as UTF-8 into out (room for 4); returns the length.
int clip_utf8_encode(uint32_t cp, char *out);
