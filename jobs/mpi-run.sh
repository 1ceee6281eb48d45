#!/bin/sh
# jobs/mpi-run.sh - runs one of bin/cocodiff-* with the launcher of the
# allocation: srun inside a Slurm job (all its tasks), else `mpirun -np $NP`.
# The job scripts in slurm/ and jobs/ use it.
# Usage: jobs/mpi-run.sh PROGRAM [ARGS...]   (PROGRAM: e.g. cocodiff-train)
#   env: COCODIFF_SRUN_MPI  srun's MPI plugin: pmix (default; Debian's Open
#                           MPI), pmi2 (MPICH, Intel MPI, Open MPI built with
#                           it), ...: `srun --mpi=list` shows the site's
#        COCODIFF_LAUNCHER  srun (default inside a job) or mpirun (Open MPI
#                           built with Slurm support reads the allocation)
#        NP (ranks outside Slurm, default 2), SRUN_FLAGS / MPIRUN_FLAGS (extra
#        launcher flags), HDF5_USE_FILE_LOCKING (default FALSE, for Lustre/NFS).
# A job that shares cores among its tasks (sbatch --overcommit, so
# SLURM_OVERCOMMIT=1) runs with Open MPI's mpi_yield_when_idle (unless the
# environment sets it): a rank waiting in a collective then gives its core
# to the rank it waits for instead of polling on it. Open MPI turns it on by
# itself only when mpirun sees more ranks than slots, which srun and a
# hostfile of one slot a node hide (docs/scaling.md section 3: without it a
# waiting rank burned 0.27 CPU s a step, 45% more CPU, at 4 ranks on 2 cores).
# srun since Slurm 22.05 does not take the job's --cpus-per-task by itself:
# it is passed on (SRUN_CPUS_PER_TASK), so each rank gets its CPUs for its
# BLAS threads.
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
[ "${SLURM_OVERCOMMIT:-0}" = 1 ] && export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
launcher=${COCODIFF_LAUNCHER:-srun}
if [ -n "${SLURM_JOB_ID:-}" ] && [ -n "${SLURM_NTASKS:-}" ] && [ "$launcher" = srun ] &&
   command -v srun > /dev/null 2>&1; then
    [ -n "${SLURM_CPUS_PER_TASK:-}" ] && export SRUN_CPUS_PER_TASK=${SRUN_CPUS_PER_TASK:-$SLURM_CPUS_PER_TASK}
    # shellcheck disable=SC2086
    exec srun --mpi="${COCODIFF_SRUN_MPI:-pmix}" ${SRUN_FLAGS:-} "$prog" "$@"
elif [ -n "${SLURM_JOB_ID:-}" ] && [ -n "${SLURM_NTASKS:-}" ]; then
    # mpirun inside the allocation: one rank per task, the allocation's nodes.
    # shellcheck disable=SC2086
    exec mpirun -np "$SLURM_NTASKS" -x OPENBLAS_NUM_THREADS ${MPIRUN_FLAGS:-} "$prog" "$@"
else
    # shellcheck disable=SC2086
    exec mpirun -np "${NP:-2}" -x OPENBLAS_NUM_THREADS ${MPIRUN_FLAGS:-} "$prog" "$@"
fi
