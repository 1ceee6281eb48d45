// fault.c - test-only fault injection (see fault.h).
#include "fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static int at(const char *var, const char *point, int64_t n) {
    const char *s = getenv(var);
    size_t k = strlen(point);
    return s && strncmp(s, point, k) == 0 && s[k] == '@' && strtoll(s + k + 1, NULL, 10) == n;
}

void fault_point(const char *point, int64_t n) {
    if (at("COCODIFF_TEST_KILL_AT", point, n)) raise(SIGKILL);
    if (at("COCODIFF_TEST_STOP_AT", point, n)) raise(SIGSTOP);
}
