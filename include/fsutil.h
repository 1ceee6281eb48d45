// fsutil.h - small file-system helpers shared by the program stages.
#pragma once

// mkdir -p DIR (mode 0777 before the umask): 0, or -1 with errno set
// (ENAMETOOLONG for a path over 4095 bytes).
int fs_mkdir_p(const char *dir);
