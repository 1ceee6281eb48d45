#!/bin/sh
# scripts/valgrind-run.sh TEST... - `make valgrind`: each unit test under
# valgrind memcheck (through prove --exec), failing on any memory error and
# on definite or indirect leaks. Suppressions: Open MPI's own file and
# tests/sanitize/valgrind.supp (Open MPI's start-up state; the file says
# why). OPENBLAS_CORETYPE=Haswell: valgrind does not emulate AVX-512, which
# OpenBLAS would otherwise pick on such CPUs. Logs: build/valgrind/PID.log
# (those with errors are printed).
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
logs=$repo/build/valgrind
rm -rf "$logs" && mkdir -p "$logs" || exit 1
supp=""
for f in /usr/share/openmpi/openmpi-valgrind.supp "$repo/tests/sanitize/valgrind.supp"; do
    [ -f "$f" ] && supp="$supp --suppressions=$f"
done
export OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1
vg="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
--errors-for-leak-kinds=definite,indirect --num-callers=50 $supp --log-file=$logs/%p.log"
prove -j2 --timer --exec "$vg" "$@"
rc=$?
# A log without a summary is a child that exec'd another program (not traced).
bad=$(grep -l "ERROR SUMMARY: [1-9]" "$logs"/*.log 2>/dev/null)
for f in $bad; do echo "== $f"; cat "$f"; done
n=$(grep -l "ERROR SUMMARY" "$logs"/*.log 2>/dev/null | wc -l)
if [ -n "$bad" ]; then
    echo "valgrind: errors in $(echo "$bad" | wc -l) of $n runs (above)" >&2
    [ $rc -ne 0 ] || rc=1
else
    echo "valgrind: $n runs, 0 errors"
fi
exit $rc
