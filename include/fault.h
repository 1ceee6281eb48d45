// fault.h - test-only fault injection: a kill at a named point of a stage.
//
// COCODIFF_TEST_KILL_AT=POINT@N makes the process SIGKILL itself (no
// handler runs, nothing is flushed) when fault_point(POINT, N) is reached,
// so the fault tests (tests/5560, tests/5570) can kill a run exactly
// between two writes instead of racing a timer. Unset, a point costs one
// getenv. Points: train "metrics", "epoch-file", "checkpoint" (N = step);
// prep "bench" (N = benchmark files written).
#pragma once
#include <stdint.h>

void fault_point(const char *point, int64_t n);
