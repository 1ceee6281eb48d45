// fault.h - test-only fault injection: a kill or a stop at a named point.
//
// COCODIFF_TEST_KILL_AT=POINT@N makes the process SIGKILL itself (no
// handler runs, nothing is flushed) when fault_point(POINT, N) is reached,
// so the fault tests (tests/5560, tests/5570) can kill a run exactly
// between two writes instead of racing a timer. Unset, a point costs one
// getenv. Points: train "metrics", "epoch-file", "checkpoint" (N = step),
// "refresh" (after a checkpoint in cocodiff.refresh's phase; N = its step);
// prep "bench" (N = benchmark files written). COCODIFF_TEST_STOP_AT=POINT@N
// stops the process instead (SIGSTOP, a frozen rank): "h5-create" and
// "h5-close" (N = the rank) come right before a parallel HDF5 file's
// create and close (tests/5291).
#pragma once
#include <stdint.h>

void fault_point(const char *point, int64_t n);
