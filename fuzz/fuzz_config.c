// fuzz_config.c - a job config (YAML, config.h) as cocodiff-train reads it:
// config_load, config_check, the derived values, and printing it back (what
// the trainer writes to work_dir/config.yaml).
#include "fuzz.h"

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], why[1024];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0) return 0;
    Config c;
    if (config_load(&c, path, why, sizeof why) == 0 && config_check(&c, why, sizeof why) == 0) {
        config_stream(&c);
        config_parts_path(&c);
        config_gen_start_epoch(&c);
        FILE *f = fopen("/dev/null", "w");
        if (f) { config_print(&c, f); fclose(f); }
    }
    config_free(&c);
    close(fd);
    return 0;
}
