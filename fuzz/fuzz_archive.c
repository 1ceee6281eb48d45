// fuzz_archive.c - any archive libarchive reads (zip, tar, tar.gz, ...)
// through archive_in.h, member by member as cocodiff-prep reads them: every
// regular member read whole (and handed to the NTU or Kinetics parser by its
// name), the others skipped.
#include "fuzz.h"

#include "archive_in.h"
#include "kinetics.h"
#include "ntu.h"
#include "skeleton.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static float out[SKEL_T * SKEL_M * NTU_V * SKEL_C];
    char path[64], why[512];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0) return 0;
    ArchiveIn *a = NULL;
    if (archive_in_open(&a, path) == 0) {
        char *buf = NULL;
        size_t cap = 0, len = 0;
        const char *name;
        int64_t msize;
        int is_file, rc, frames, label;
        for (int m = 0; m < 64 && (rc = archive_in_next(a, &name, &msize, &is_file)) == 0; m++) {
            size_t nl = strlen(name);
            if (!is_file) { archive_in_skip(a); continue; }
            if (archive_in_read(a, &buf, &cap, &len, (size_t)64 << 20, why, sizeof why)) break;
            if (nl > 9 && !strcmp(name + nl - 9, ".skeleton"))
                ntu_prepare(buf, len, 0, out, &frames, why, sizeof why);
            else if (nl > 5 && !strcmp(name + nl - 5, ".json"))
                kinetics_prepare(buf, len, out, &label, &frames, why, sizeof why);
        }
        free(buf);
        archive_in_close(a);
    }
    close(fd);
    return 0;
}
