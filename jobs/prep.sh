#!/bin/sh
# jobs/prep.sh - the prep stage as a job body: runs cocodiff-prep with the
# launcher of the allocation (srun under Slurm, else mpirun).
# Usage: jobs/prep.sh DATASET OUT_DIR ARCHIVE [ARCHIVE ...]
#   env: NP (ranks when not under Slurm, default 2), EXCLUDE (a missing-skeleton
#   list), PREP_FLAGS (extra flags, e.g. --strict)
set -eu
[ $# -ge 3 ] || { echo "usage: $0 DATASET OUT_DIR ARCHIVE [ARCHIVE ...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
dataset=$1 out=$2
shift 2
args="--dataset $dataset --out $out"
for a in "$@"; do args="$args --input $a"; done
[ -n "${EXCLUDE:-}" ] && args="$args --exclude $EXCLUDE"
export OPENBLAS_NUM_THREADS=1
# As root (containers, CI) Open MPI refuses to start - and exits 0 - unless told.
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# Parallel HDF5 on shared file systems: flock is often unsupported there.
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}
if [ -n "${SLURM_NTASKS:-}" ]; then
    # shellcheck disable=SC2086
    exec srun --mpi=pmix "$here/bin/cocodiff-prep" $args ${PREP_FLAGS:-}
else
    # shellcheck disable=SC2086
    exec mpirun -np "${NP:-2}" "$here/bin/cocodiff-prep" $args ${PREP_FLAGS:-}
fi
