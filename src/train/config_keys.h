// config_keys.h - the config module's private view of its key table, shared
// by config.c (the table, defaults, checks, printing) and config_read.c
// (YAML). Not a public header: callers use config.h.
#pragma once
#include <stddef.h>

#include "config.h"

typedef enum KeyType {
    K_MAP,     // a nested mapping (its keys follow it in the table)
    K_STR,     // char * (null -> NULL)
    K_INT,     // int
    K_FLOAT,   // double
    K_BOOL,    // int 0/1
    K_INTS,    // ConfigIntList
    K_FLOATS,  // int n at off, double v[2] at off2 (p_interval)
    K_STRS,    // ConfigStrList
    K_ENUM,    // char * from choices
    K_F32,     // float
    K_F32PAIR, // two floats at off, off2 ([lo, hi])
    K_CHOICE,  // int: the index of the value in choices
    K_STREAM,  // char *: a stream's name (stream.h) or null
} KeyType;

enum {
    KF_IGNORED = 1,    // accepted, no effect here
    KF_SCALAR_OK = 2,  // a list key that also takes one scalar
    KF_NULLABLE = 4,   // K_ENUM: null allowed
};

typedef struct KeyDef {
    const char *path;     // dotted
    KeyType type;
    size_t off, off2;
    unsigned flags;
    int minn, maxn;       // list lengths
    const char *choices;  // K_ENUM: "a|b|c"
} KeyDef;

#define OFF(f) offsetof(Config, f)

// The keys: the table's rows, then the module's options (config_key_at fills
// tmp for those).
int config_nkeys(void);
const KeyDef *config_key_at(int i, KeyDef *tmp);
// The key of a dotted path (len bytes), or -1.
int config_key_find(const char *path, size_t len);
const char *config_leaf(const char *path);   // the last component of a path
void *config_field(Config *c, size_t off);
const void *config_cfield(const Config *c, size_t off);
// *dst = a copy of s (NULL for NULL). CD_OK or CD_ENOMEM.
int config_set_str(char **dst, const char *s);
