#!/bin/sh
# Runs a command (make check SANITIZE=1: prove over the tests) with the
# sanitizers' reports sent to files, then prints every report and fails when
# there is one, even from a program whose exit status a test expected to be
# non-zero or ignored (a crash inside an error path still counts).
#   ASan: exit code 86 on an error or a leak; allocator_may_return_null so
#         that a test of an allocation failure sees NULL as in production;
#         the fast unwinder (the slow one, which sees through libraries
#         without frame pointers, doubles the run time; lsan.supp covers the
#         one Open MPI leak it would be needed for);
#         LeakSanitizer with tests/sanitize/lsan.supp (Open MPI's start-up
#         state; the file says why); intercept_tls_get_addr=0: up to LLVM 16
#         (Debian's clang 14 here) the runtime's __tls_get_addr interceptor
#         can take a dynamic TLS block that merely starts at a particular
#         offset in its page for a pre-2.25 glibc header and read the words
#         before it as an address and a size (reported and fixed upstream);
#         LeakSanitizer's tracer then dies at exit ("Tracer caught signal
#         11"), depending only on the heap's layout (tests/4100 on every run
#         of one build; not once in 8 runs of another; docs/reliability.md).
#         The blocks stay reachable through the thread's DTV, so no leak
#         check is lost.
#   UBSan: every kind -fsanitize=undefined checks, stops at the first
#          (-fno-sanitize-recover=all), with a stack.
# Usage: scripts/sanitize-run.sh REPORT_DIR COMMAND...
set -u
dir=$1; shift
repo=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$dir" && mkdir -p "$dir" || exit 1
dir=$(cd "$dir" && pwd)
export ASAN_OPTIONS="log_path=$dir/asan:exitcode=86:allocator_may_return_null=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:intercept_tls_get_addr=0"
export LSAN_OPTIONS="suppressions=$repo/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="log_path=$dir/ubsan:exitcode=86:halt_on_error=1:print_stacktrace=1:report_error_type=1"
"$@"
rc=$?
n=$(find "$dir" -type f | wc -l)
if [ "$n" -gt 0 ]; then
    for f in "$dir"/*; do echo "== $f"; cat "$f"; done
    echo "sanitize: $n report(s) in $dir (above)" >&2
    [ $rc -ne 0 ] || rc=1
else
    echo "sanitize: no ASan/UBSan/LSan report"
fi
exit $rc
