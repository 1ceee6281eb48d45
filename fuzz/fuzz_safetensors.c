// fuzz_safetensors.c - a safetensors file (safetensors.h: the CLIP weights
// cocodiff-embed maps): open and validate, then every entry's metadata and,
// for float tensors, the data read as float32.
#include "fuzz.h"

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], why[1024];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0) return 0;
    SafeTensors *st = NULL;
    if (safetensors_open(&st, path, why, sizeof why) == 0) {
        safetensors_metadata(st, "format");
        for (int i = 0; i < safetensors_count(st); i++) {
            const SafeTensor *t = safetensors_at(st, i);
            if (safetensors_find(st, t->name) != t && !safetensors_find(st, t->name)) abort();
            int64_t shape[SAFETENSORS_MAX_DIMS];
            for (int k = 0; k < SAFETENSORS_MAX_DIMS; k++) shape[k] = -1;
            if (t->numel > (1 << 20) || safetensors_check_f32(st, t->name, t->ndim, shape, why, sizeof why)) continue;
            float *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *out);
            if (out) safetensors_read_f32(st, t->name, t->ndim, shape, out, why, sizeof why);
            free(out);
        }
        safetensors_close(st);
    }
    close(fd);
    return 0;
}
