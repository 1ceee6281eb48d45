// 3400-descriptions.c - the descriptions.tsv reader, validator and writer
// (descriptions.h) on small hand-made files: a good file (comments, blank
// lines, CRLF, no final newline), every rejection with file:line in the
// message, class-list agreement, the lenient salvage reader used to resume,
// and a write/read round trip. The shipped files are checked against the
// official lists when both are there (NW-UCLA's, which has no list file,
// against ucla.h's class names).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "descriptions.h"
#include "status.h"
#include "tap/tap.h"
#include "ucla.h"

#define HDR "id\tname\tsentence\thead\thand\tarm\thip\tleg\tfoot\n"
#define ROW(id, name) id "\t" name "\tA person does " name ".\thd\thn\tar\thp\tlg\tft\n"

static char why[1024];

// Writes text to a file in the test's temp folder; returns its path (static
// buffers in rotation, enough for a few live paths).
static const char *put_file(const char *name, const char *text) {
    static char paths[4][4096];
    static int k;
    char *p = paths[k++ % 4];
    snprintf(p, 4096, "%s/%s", tap_tmpdir(), name);
    FILE *f = fopen(p, "wb");
    if (!f || fputs(text, f) == EOF || fclose(f) != 0) bail("cannot write %s", p);
    return p;
}

static int contains(const char *hay, const char *needle) {
    return hay && strstr(hay, needle) != NULL;
}

// Expects the strict reader to reject text with a message holding both
// ":LINE:" and `what`.
static void rejects(const char *name, const char *text, int line, const char *what) {
    const char *p = put_file(name, text);
    Descriptions *d = (Descriptions *)1;
    why[0] = 0;
    int rc = descriptions_load(p, &d, why, sizeof why);
    char at[32];
    snprintf(at, sizeof at, ":%d:", line);
    if (!ok(rc == CD_EFORMAT && d == NULL && contains(why, p) && contains(why, at) &&
                contains(why, what),
            "%s rejected at line %d: %s", name, line, what))
        diag("   rc %d, why: %s", rc, why);
}

static void test_good(void) {
    const char *p = put_file("good.tsv", "# comment line\n"
                                         "\n" HDR
                                         "# another comment\n" ROW("1", "drink water")
                                         "2\teat meal/snack\tS.\tH\tN\tA\tP\tL\tF\r\n"
                                         "\n"
                                         "7\tpick up\tS7.\th7\tn7\ta7\tp7\tl7\tf7");   // no final \n
    Descriptions *d = NULL;
    int rc = descriptions_load(p, &d, why, sizeof why);
    if (!ok(rc == CD_OK && d, "good file loads")) {
        diag("   %s", why);
        skip(9, "no descriptions");
        return;
    }
    is_int(3, d->n, "3 classes");
    ok(d->cls[0].id == 1 && d->cls[1].id == 2 && d->cls[2].id == 7, "ids 1, 2, 7");
    is_str("eat meal/snack", d->cls[1].name, "name with a slash");
    is_str("A person does drink water.", d->cls[0].sentence, "sentence");
    is_str("F", d->cls[1].part[5], "CRLF dropped from the last field");
    is_str("f7", d->cls[2].part[5], "last line without a newline");
    ok(!strcmp(d->cls[2].part[0], "h7") && !strcmp(d->cls[2].part[3], "p7"),
       "parts in head..foot order");
    char *coarse = descriptions_coarse(&d->cls[2]);
    is_str("pick up. S7.", coarse, "coarse text");
    free(coarse);
    is_str("# comment line\n", d->preamble, "comments before the header kept as the preamble");
    descriptions_free(d);
}

static void test_part_names(void) {
    const char *want[] = {"head", "hand", "arm", "hip", "leg", "foot"};
    int same = DESC_NPARTS == 6;
    for (int i = 0; i < DESC_NPARTS && same; i++) same = !strcmp(want[i], desc_part_names[i]);
    ok(same, "DESC_NPARTS = 6: head hand arm hip leg foot");
}

static void test_rejects(void) {
    rejects("missing-part.tsv", HDR ROW("1", "a") "2\tb\tS.\thd\thn\tar\thp\tlg\n", 3,
            "8 fields, want 9");
    rejects("empty-field.tsv", HDR ROW("1", "a") "2\tb\tS.\thd\thn\tar\t\tlg\tft\n", 3,
            "field 'hip' is empty");
    rejects("blank-field.tsv", HDR "1\t   \tS.\thd\thn\tar\thp\tlg\tft\n", 2,
            "field 'name' is empty");
    rejects("ten-fields.tsv", HDR ROW("1", "a") "2\tb\tS.\thd\thn\tar\thp\tlg\tft\tx\n", 3,
            "10 fields, want 9");
    rejects("one-field.tsv", HDR "just text\n", 2, "1 field, want 9");
    rejects("duplicate.tsv", "# c\n" HDR ROW("1", "a") ROW("2", "b") ROW("2", "c"), 5,
            "duplicate id 2 (first on line 4)");
    rejects("decreasing.tsv", HDR ROW("1", "a") ROW("5", "b") ROW("3", "c"), 4,
            "id 3 after id 5");
    rejects("bad-id.tsv", HDR ROW("1", "a") ROW("A002", "b"), 3, "id 'A002' is not");
    rejects("negative-id.tsv", HDR ROW("-1", "a"), 2, "id '-1' is not");
    rejects("bad-header.tsv", "id\tname\tsentence\thead\thands\tarm\thip\tleg\tfoot\n" ROW("1", "a"),
            1, "header");
    rejects("no-header.tsv", ROW("1", "a"), 1, "header");
    rejects("bad-utf8.tsv", HDR "1\tcaf\xc3\tS.\thd\thn\tar\thp\tlg\tft\n", 2,
            "'name' is not valid UTF-8");

    const char *p = put_file("header-only.tsv", "# nothing yet\n" HDR);
    Descriptions *d = NULL;
    int rc = descriptions_load(p, &d, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, "no classes"), "header only: no classes (%s)", why);
    p = put_file("empty.tsv", "");
    rc = descriptions_load(p, &d, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, "no header"), "empty file: no header (%s)", why);
    rc = descriptions_load("/nonexistent/descriptions.tsv", &d, why, sizeof why);
    ok(rc == CD_EIO && d == NULL && contains(why, "/nonexistent/descriptions.tsv"),
       "missing file: CD_EIO naming it (%s)", why);
}

static void test_lists(void) {
    const char *tsv = put_file("three.tsv", HDR ROW("1", "drink water") ROW("2", "eat meal/snack")
                                                ROW("3", "touch other person's pocket"));
    Descriptions *d = NULL;
    if (descriptions_load(tsv, &d, why, sizeof why) != CD_OK) bail("three.tsv: %s", why);
    const char *list = put_file("list.txt", "drink water.\neat meal/snack.\r\n"
                                            "touch other person's pocket.\n\n");
    int rc = descriptions_check_list(d, list, 1, why, sizeof why);
    if (!ok(rc == CD_OK, "agrees with an NTU-style list (periods, CRLF, trailing blank line)"))
        diag("   %s", why);
    rc = descriptions_check_list(d, list, 0, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, "has id 1") && contains(why, "wants 0"),
       "id base 0: ids disagree (%s)", why);
    list = put_file("list-name.txt", "drink water\neat meal\ntouch other person's pocket\n");
    rc = descriptions_check_list(d, list, 1, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, "id 2") && contains(why, "'eat meal'"),
       "name mismatch named (%s)", why);
    list = put_file("list-more.txt", "drink water\neat meal/snack\ntouch other person's pocket\n"
                                     "drop\n");
    rc = descriptions_check_list(d, list, 1, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, "3 classes in the descriptions, 4 in"),
       "class count mismatch (%s)", why);
    list = put_file("list-gap.txt", "drink water\n\neat meal/snack\n");
    rc = descriptions_check_list(d, list, 1, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, ":2:") && contains(why, "empty line"),
       "blank line inside a list (%s)", why);
    descriptions_free(d);

    // A list with a missing class in the middle of the descriptions.
    tsv = put_file("gap.tsv", HDR ROW("1", "a") ROW("3", "c"));
    if (descriptions_load(tsv, &d, why, sizeof why) != CD_OK) bail("gap.tsv: %s", why);
    list = put_file("abc.txt", "a\nb\nc\n");
    rc = descriptions_check_list(d, list, 1, why, sizeof why);
    ok(rc == CD_EFORMAT && contains(why, "wants 2 ('b')") && contains(why, "missing"),
       "a missing class is named (%s)", why);
    descriptions_free(d);

    DescClassList l;
    rc = descriptions_list_load(put_file("k.txt", "abseiling\nair drumming\n"), 0, &l, why,
                                sizeof why);
    ok(rc == CD_OK && l.n == 2 && l.id_base == 0 && !strcmp(l.names[1], "air drumming"),
       "class list loads");
    descriptions_list_free(&l);
}

static void bad_row(void *ctx, const char *path, int line, const char *reason) {
    (void)path;
    char *log = ctx;
    size_t n = strlen(log);
    snprintf(log + n, 1024 - n, "%d:%s;", line, reason);
}

static void test_salvage(void) {
    const char *p = put_file("resume.tsv", HDR ROW("4", "d") ROW("1", "a")
                                               "2\tb\tS.\thd\thn\tar\t\tlg\tft\n"   // empty hip
                                               ROW("1", "a again") ROW("3", "c")
                                               "5\te\tS.\thd\thn\tar\thp\tlg\tf");   // cut off
    Descriptions *d = NULL;
    int nbad = -1;
    char log[1024] = "";
    int rc = descriptions_salvage(p, &d, &nbad, bad_row, log, why, sizeof why);
    if (!ok(rc == CD_OK && d, "salvage reads a damaged file")) {
        diag("   %s", why);
        skip(4, "nothing salvaged");
        return;
    }
    ok(d->n == 3 && d->cls[0].id == 1 && d->cls[1].id == 3 && d->cls[2].id == 4,
       "keeps the valid rows 1, 3, 4 in id order");
    is_str("a", d->cls[0].name, "first of a duplicate id wins");
    is_int(3, nbad, "3 bad rows");
    ok(contains(log, "4:field 'hip' is empty") && contains(log, "5:duplicate id 1") &&
           contains(log, "7:incomplete last line"),
       "each bad row reported with its line (%s)", log);
    descriptions_free(d);

    rc = descriptions_salvage(put_file("absent-check", "") , &d, &nbad, NULL, NULL, why,
                              sizeof why);
    ok(rc == CD_OK && d && d->n == 0, "empty file: 0 classes");
    descriptions_free(d);
    char gone[4200];
    snprintf(gone, sizeof gone, "%s/does-not-exist.tsv", tap_tmpdir());
    rc = descriptions_salvage(gone, &d, &nbad, NULL, NULL, why, sizeof why);
    ok(rc == CD_OK && d && d->n == 0, "missing file: 0 classes");
    descriptions_free(d);
    rc = descriptions_salvage(put_file("partial-header.tsv", "id\tname\tsent"), &d, &nbad, NULL,
                              NULL, why, sizeof why);
    ok(rc == CD_OK && d && d->n == 0, "interrupted header: 0 classes");
    descriptions_free(d);
    rc = descriptions_salvage(put_file("other.tsv", "label\tcount\n1\t2\n"), &d, &nbad, NULL, NULL,
                              why, sizeof why);
    ok(rc == CD_EFORMAT && d == NULL && contains(why, ":1:"),
       "another kind of file is refused, not salvaged (%s)", why);
}

static void test_write(void) {
    Descriptions *d = descriptions_new();
    const char *parts[DESC_NPARTS] = {"Head.", "Hand.", "Arm.", "Hip.", "Leg.", "Foot é."};
    int rc = descriptions_add(d, 5, "e", "S5.", parts, why, sizeof why);
    rc |= descriptions_add(d, 0, "abseiling", "S0.", parts, why, sizeof why);
    ok(rc == CD_OK && d->n == 2, "add two classes");
    d->preamble = strdup("# written by 3400\n# second note\n");
    const char *bad[DESC_NPARTS] = {"Head.", "Hand\there.", "Arm.", "Hip.", "Leg.", "Foot."};
    rc = descriptions_add(d, 6, "f", "S6.", bad, why, sizeof why);
    ok(rc == CD_EFORMAT && d->n == 2 && contains(why, "'hand' contains a tab"),
       "add refuses a tab (%s)", why);
    descriptions_sort(d);
    ok(d->cls[0].id == 0 && descriptions_find(d, 5) == 1 && descriptions_find(d, 6) == -1,
       "sort and find");
    char path[4200], partial[4300];
    snprintf(path, sizeof path, "%s/written.tsv", tap_tmpdir());
    snprintf(partial, sizeof partial, "%s.partial", path);
    rc = descriptions_write(path, d, why, sizeof why);
    ok(rc == CD_OK && access(partial, F_OK) != 0, "write, no .partial left");
    Descriptions *back = NULL;
    rc = descriptions_load(path, &back, why, sizeof why);
    int same = rc == CD_OK && back->n == 2;
    for (int i = 0; same && i < 2; i++) {
        same = back->cls[i].id == d->cls[i].id && !strcmp(back->cls[i].name, d->cls[i].name) &&
               !strcmp(back->cls[i].sentence, d->cls[i].sentence);
        for (int p = 0; same && p < DESC_NPARTS; p++)
            same = !strcmp(back->cls[i].part[p], d->cls[i].part[p]);
    }
    ok(same && back->preamble && !strcmp(back->preamble, d->preamble),
       "round trip keeps every field and the preamble");
    descriptions_free(back);
    rc = descriptions_write("/nonexistent/dir/x.tsv", d, why, sizeof why);
    ok(rc == CD_EIO && contains(why, "/nonexistent/dir/x.tsv"), "unwritable path (%s)", why);
    descriptions_free(d);
}

// The shipped descriptions, when they are there, must match the official lists.
static void test_shipped(void) {
    const char *real = tap_real_data();
    struct {
        const char *tsv, *list;
        int base;
    } sets[] = {{"datasets/ntu60/descriptions.tsv", "lists/ntu60_classes.txt", 1},
                {"datasets/ntu120/descriptions.tsv", "lists/ntu120_classes.txt", 1},
                {"datasets/kinetics400/descriptions.tsv", "lists/kinetics400_classes.txt", 0}};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) {
        char list[4200];
        snprintf(list, sizeof list, "%s/%s", real ? real : "", sets[i].list);
        if (!real || access(sets[i].tsv, R_OK) != 0 || access(list, R_OK) != 0) {
            skip(1, "%s or %s not there", sets[i].tsv, sets[i].list);
            continue;
        }
        Descriptions *d = NULL;
        int rc = descriptions_load(sets[i].tsv, &d, why, sizeof why);
        if (rc == CD_OK) rc = descriptions_check_list(d, list, sets[i].base, why, sizeof why);
        if (!ok(rc == CD_OK, "%s valid and agrees with %s", sets[i].tsv, sets[i].list))
            diag("   %s", why);
        descriptions_free(d);
    }
}

// NW-UCLA has no class-list file: its list is ucla.h's (labels 0..9, ids 1..10).
static void test_shipped_ucla(void) {
    char list[4200];
    snprintf(list, sizeof list, "%s/ucla_classes.txt", tap_tmpdir());
    FILE *f = fopen(list, "w");
    for (int l = 0; f && l < UCLA_NUM_CLASS; l++) fprintf(f, "%s\n", ucla_class_name(l));
    if (!f || fclose(f) != 0) bail("cannot write %s", list);
    Descriptions *d = NULL;
    int rc = descriptions_load("datasets/ucla/descriptions.tsv", &d, why, sizeof why);
    if (rc == CD_OK) rc = descriptions_check_list(d, list, 1, why, sizeof why);
    if (!ok(rc == CD_OK, "datasets/ucla/descriptions.tsv valid and agrees with the NW-UCLA classes of ucla.h"))
        diag("   %s", why);
    descriptions_free(d);
}

int main(void) {
    plan(10 + 1 + 15 + 7 + 9 + 6 + 3 + 1);
    test_good();
    test_part_names();
    test_rejects();
    test_lists();
    test_salvage();
    test_write();
    test_shipped();
    test_shipped_ucla();
    return tap_done();
}
