# tap.sh - TAP for the shell tests (sourced). plan N; ok COND-STATUS "name";
# skip_all "why"; done_testing (exit status). Also: REPO, REAL (real data
# folder or empty), TMP (a temporary folder removed when all passed), and
# run_mpi NP CMD... (mpirun as root, oversubscribed, one BLAS thread).
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
_tap_n=0
_tap_fail=0
_tap_plan=-1
REAL=${COCODIFF_REAL_DATA:-$REPO/../shared/data/real}
[ -d "$REAL" ] || REAL=""
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cocodiff-test-XXXXXX")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1

plan() { _tap_plan=$1; echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; rm -rf "$TMP"; exit 0; }
diag() { echo "# $*" >&2; }
# ok STATUS NAME: STATUS 0 passes (use: cmd; ok $? "name")
ok() {
    _tap_n=$((_tap_n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2"; else echo "not ok $_tap_n - $2"; _tap_fail=$((_tap_fail + 1)); fi
}
is() { # is WANT GOT NAME
    _tap_n=$((_tap_n + 1))
    if [ "$1" = "$2" ]; then echo "ok $_tap_n - $3"; else
        echo "not ok $_tap_n - $3"; diag "   want: $1"; diag "    got: $2"; _tap_fail=$((_tap_fail + 1)); fi
}
skip() { # skip N WHY
    i=0; while [ $i -lt "$1" ]; do _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # skip $2"; i=$((i + 1)); done
}
# run_mpi NP CMD...: CMD on NP ranks. mpirun is ended after
# COCODIFF_TEST_MPI_TIMEOUT seconds (900): under heavy load a rank once failed
# inside MPI_Init ("OPAL ERROR: Unreachable") and mpirun never exited, which
# held a whole `make check` for 30 minutes; a hang is a failure (exit 124).
run_mpi() {
    np=$1; shift
    timeout -k 10 "${COCODIFF_TEST_MPI_TIMEOUT:-900}" mpirun -np "$np" --oversubscribe -x OPENBLAS_NUM_THREADS "$@"
    _rc=$?
    [ $_rc -eq 124 ] && echo "run_mpi: mpirun ended after ${COCODIFF_TEST_MPI_TIMEOUT:-900} s (a hang): $*" >&2
    return $_rc
}
# every_rank NP LOG CMD...: runs CMD on NP ranks (mpirun, ended after 300 s:
# a hang is a failure) with each rank's output in LOG.RANK, all of it in LOG,
# each exit code in LOG.rc.RANK; prints the distinct codes ("1 " when every
# rank exited 1; "" when mpirun was killed).
every_rank() {
    np=$1 log=$2; shift 2
    rm -f "$log".rc.*
    timeout -k 10 300 mpirun -np "$np" --oversubscribe -x OPENBLAS_NUM_THREADS \
        sh -c '"$@" > "$0.$OMPI_COMM_WORLD_RANK" 2>&1; echo $? > "$0.rc.$OMPI_COMM_WORLD_RANK"' "$log" "$@"
    cat "$log".[0-9] > "$log" 2>/dev/null
    cat "$log".rc.* 2>/dev/null | sort -u | tr '\n' ' '
}
# fails_everywhere ID NAME WANT CMD...: four checks: CMD exits 1 on 1 rank
# (no signal; a hang is killed at 300 s) and on every one of 2 ranks, and
# its output says WANT (grep -E) both times. Logs: $TMP/ID-1.log,
# $TMP/ID-2.log (and per rank).
fails_everywhere() {
    _id=$1 _name=$2 _want=$3; shift 3
    timeout -k 10 300 "$@" > "$TMP/$_id-1.log" 2>&1
    _rc=$?
    is 1 "$_rc" "$_name, 1 rank: exit 1 (no signal, no hang)"
    [ "$_rc" = 1 ] || sed 's/^/#   /' "$TMP/$_id-1.log" | tail -5 >&2
    grep -Eq -- "$_want" "$TMP/$_id-1.log"
    ok $? "$_name, 1 rank: the message says '$_want'"
    is "1 " "$(every_rank 2 "$TMP/$_id-2.log" "$@")" "$_name, 2 ranks: exit 1 on every rank"
    grep -Eq -- "$_want" "$TMP/$_id-2.log"
    ok $? "$_name, 2 ranks: the message says '$_want'"
}
done_testing() {
    if [ "$_tap_plan" -ge 0 ] && [ "$_tap_n" -ne "$_tap_plan" ]; then
        diag "planned $_tap_plan tests but ran $_tap_n"; exit 1; fi
    if [ "$_tap_fail" -ne 0 ]; then diag "failed $_tap_fail of $_tap_n (kept $TMP)"; exit 1; fi
    rm -rf "$TMP"
    exit 0
}
