// keep_dso.c - linked into every program and test of a SANITIZE=1 build
// only (Makefile): dlclose does nothing, so the shared objects Open MPI
// loads as plugins (mca_*.so) stay mapped until exit. LeakSanitizer then
// names them in the stacks of the allocations they never free, and
// lsan.supp can suppress those by module; after a real dlclose the frames
// read "<unknown module>" and nothing could tell them from our own leaks.
// The executable's definition takes precedence over libc's for every
// library that calls dlclose.
int dlclose(void *handle);

int dlclose(void *handle) {
    (void)handle;
    return 0;
}
