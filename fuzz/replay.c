// replay.c - a main() for a fuzz target without libFuzzer: runs
// LLVMFuzzerTestOneInput once on every file named (directories: on every
// file inside, sorted). A crash or sanitizer report is the failure; the exit
// status is 0 otherwise. Prints "replay: N inputs".
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "replay: cannot open %s\n", path); return -1; }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (!buf) { fprintf(stderr, "replay: out of memory on %s\n", path); return -1; }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}


int main(int argc, char **argv) {
    int count = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) || !S_ISDIR(st.st_mode)) {
            if (run_file(argv[i])) bad = 1; else count++;
            continue;
        }
        struct dirent **ents;
        int n = scandir(argv[i], &ents, NULL, alphasort);
        if (n < 0) { fprintf(stderr, "replay: cannot list %s\n", argv[i]); bad = 1; continue; }
        for (int j = 0; j < n; j++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], ents[j]->d_name);
            if (ents[j]->d_name[0] != '.' && !stat(p, &st) && S_ISREG(st.st_mode)) {
                if (run_file(p)) bad = 1; else count++;
            }
            free(ents[j]);
        }
        free(ents);
    }
    printf("replay: %d inputs\n", count);
    return bad;
}
