// fault.c - test-only fault injection (see fault.h).
#include "fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void fault_point(const char *point, int64_t n) {
    const char *s = getenv("COCODIFF_TEST_KILL_AT");
    size_t k = strlen(point);
    if (s && strncmp(s, point, k) == 0 && s[k] == '@' && strtoll(s + k + 1, NULL, 10) == n) raise(SIGKILL);
}
