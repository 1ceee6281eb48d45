// ucla_ref.h - the NW-UCLA reference tables of tests/data/ucla (made by
// scripts/ref/make_ucla_reference.py from the official feeder): split.tsv
// (every data_dict entry: name, split, label, frames) and test-sha256.tsv
// (the SHA-256 of each validation sequence's test-path output per stream).
#pragma once

#define UCLA_REF_N 1484   // entries of the official data_dict

typedef struct UclaRefEntry {
    char name[16];              // aAA_sSS_eEE_vVV
    int split, label, frames;   // official (split 1: val; label 0..9)
    char sha[4][65];            // val only: joint, bone, motion, bone motion
    int seen;                   // for the caller
} UclaRefEntry;

// Reads dir/split.tsv and dir/test-sha256.tsv into e[UCLA_REF_N]; returns
// the entries read. Bails on a missing file or a bad row.
int ucla_ref_tables(const char *dir, UclaRefEntry *e);
// The entry called name, or NULL.
UclaRefEntry *ucla_ref_find(UclaRefEntry *e, int n, const char *name);
