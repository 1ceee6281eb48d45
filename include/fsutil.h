// fsutil.h - small file-system helpers shared by the program stages.
#pragma once

// mkdir -p DIR (mode 0777 before the umask): 0, or -1 with errno set
// (ENAMETOOLONG for a path over 4095 bytes).
int fs_mkdir_p(const char *dir);
// mkdir -p of the folder that will hold the file `path` (nothing to do for a
// bare file name): 0, or -1 with errno set. Every program calls it for its
// output files once the inputs are checked, so `--out new/dir/x.h5` works.
int fs_mkdir_parent(const char *path);
