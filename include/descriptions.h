// descriptions.h - the class descriptions file (datasets/*/descriptions.tsv):
// per class an id, the official name, one sentence about the whole action and
// six body-part texts. Format: datasets/README.md.
//
// Reading comes in two strengths:
//   descriptions_load     strict: any problem is an error naming file and line
//                         (what the text stage uses);
//   descriptions_salvage  lenient: keeps every valid row, reports each bad one
//                         through a callback (what cocodiff-describe uses to
//                         resume an interrupted run).
// Writing: descriptions_write (whole file, through PATH.partial + rename) and
// descriptions_append_row (one flushed row, for incremental output).
//
// defines: DESC_NPARTS, desc_part_names, DescClass, Descriptions,
//          descriptions_load, descriptions_salvage, descriptions_check_list,
//          descriptions_write, descriptions_append_row, descriptions_free, ...
#pragma once
#include <stddef.h>
#include <stdio.h>

#define DESC_NPARTS 6    // head, hand, arm, hip, leg, foot (column order)
#define DESC_NFIELDS 9   // id, name, sentence + the parts

// "head", "hand", "arm", "hip", "leg", "foot" (the column names).
extern const char *const desc_part_names[DESC_NPARTS];

typedef struct DescClass {
    int id;                          // official class id (NTU 1-based, Kinetics 0-based)
    char *name;                      // official class name (NTU's without the period)
    char *sentence;                  // one sentence; coarse text = "name. sentence"
    char *part[DESC_NPARTS];         // fine texts, in desc_part_names order
    int line;                        // source line in the file, 0 if not read from one
} DescClass;

typedef struct Descriptions {
    int n, cap;
    DescClass *cls;                  // n classes; in id order after load/salvage
    char *preamble;                  // the '#' lines before the header, each with its
                                     // '\n' (NULL if none); written back by
                                     // descriptions_write. Later comments are dropped.
} Descriptions;

// Strict reader. *out (free with descriptions_free) gets the classes in file
// order. Checks: the header line, 9 tab-separated fields per row, no empty
// field, valid UTF-8, integer id >= 0, ids strictly increasing (duplicates
// named as such), at least one class. Lines starting with '#' and empty lines
// are skipped; a trailing '\r' is dropped. On error returns CD_EIO or
// CD_EFORMAT with why = "PATH:LINE: problem" and *out = NULL.
int descriptions_load(const char *path, Descriptions **out, char *why, size_t whylen);

// Called by descriptions_salvage for each row it drops.
typedef void (*DescBadRowFn)(void *ctx, const char *path, int line, const char *why);

// Lenient reader for resuming. A missing or empty file gives 0 classes. Rows
// that fail the per-row checks, rows whose id was already seen and a last line
// without its newline (an interrupted write) are dropped and reported through
// bad (may be NULL); *nbad counts them (may be NULL). Valid rows are kept and
// sorted by id. The header must be right (else CD_EFORMAT: it may not be a
// descriptions file, so the caller must not overwrite it).
int descriptions_salvage(const char *path, Descriptions **out, int *nbad, DescBadRowFn bad,
                         void *ctx, char *why, size_t whylen);

// An official class list: one name per line, id = line index + id_base;
// a trailing '.' and whitespace are stripped (NTU's "drink water.").
typedef struct DescClassList {
    int n, id_base;
    char **names;                    // names[i] has id i + id_base
} DescClassList;
int descriptions_list_load(const char *path, int id_base, DescClassList *out, char *why,
                           size_t whylen);
void descriptions_list_free(DescClassList *l);

// d agrees with the official list at class_list_path: same class count, and
// class i has id i + id_base and the list's name. CD_OK, or CD_EIO/CD_EFORMAT
// with why naming the first disagreement.
int descriptions_check_list(const Descriptions *d, const char *class_list_path, int id_base,
                            char *why, size_t whylen);

// Building: an empty set, adding a copy of one class (fields validated: not
// empty, no tab/newline; CD_EFORMAT with why otherwise), sorting by id, lookup.
Descriptions *descriptions_new(void);
int descriptions_add(Descriptions *d, int id, const char *name, const char *sentence,
                     const char *const part[DESC_NPARTS], char *why, size_t whylen);
void descriptions_sort(Descriptions *d);
int descriptions_find(const Descriptions *d, int id);   // index, or -1
// The coarse text "name. sentence", whole, in a new string the caller frees;
// NULL when out of memory. (A fixed buffer cut long sentences silently.)
char *descriptions_coarse(const DescClass *c);

// Writes the header and every class to path through path.partial + fsync +
// rename, so a reader never sees half a file. CD_OK or CD_EIO/CD_EFORMAT.
int descriptions_write(const char *path, const Descriptions *d, char *why, size_t whylen);
// Writes the header line / one class row to f and flushes it (fflush + fsync).
int descriptions_write_header(FILE *f);
int descriptions_append_row(FILE *f, const DescClass *c);

void descriptions_free(Descriptions *d);
