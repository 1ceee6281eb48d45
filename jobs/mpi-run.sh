#!/bin/sh
# jobs/mpi-run.sh - runs one of bin/cocodiff-* with the launcher of the
# allocation: `srun --mpi=pmix` inside a Slurm job (all its tasks), else
# `mpirun -np $NP`. The job scripts in slurm/ and jobs/ use it.
# Usage: jobs/mpi-run.sh PROGRAM [ARGS...]   (PROGRAM: e.g. cocodiff-train)
#   env: NP (ranks outside Slurm, default 2), SRUN_FLAGS / MPIRUN_FLAGS (extra
#   launcher flags), HDF5_USE_FILE_LOCKING (default FALSE, for Lustre/NFS).
# The launcher is exec'd: signals sent to this script's pid reach srun/mpirun,
# which forward SIGUSR1/SIGTERM to the ranks.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 PROGRAM [ARGS...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
prog=$1; shift
case $prog in */*) ;; *) prog=$here/bin/$prog;; esac
[ -x "$prog" ] || { echo "mpi-run: $prog not built (run make)" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# As root (containers, CI) Open MPI refuses to start - and exits 0 - unless told.
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}
if [ -n "${SLURM_JOB_ID:-}" ] && [ -n "${SLURM_NTASKS:-}" ] && command -v srun > /dev/null 2>&1; then
    # shellcheck disable=SC2086
    exec srun --mpi=pmix ${SRUN_FLAGS:-} "$prog" "$@"
else
    # shellcheck disable=SC2086
    exec mpirun -np "${NP:-2}" -x OPENBLAS_NUM_THREADS ${MPIRUN_FLAGS:-} "$prog" "$@"
fi
