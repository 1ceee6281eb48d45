# slurm/common.sh - sourced by the slurm/*.sbatch job scripts: finds the
# repository (COCODIFF_HOME, which slurm/submit-* export; else the folder
# above the script when run by hand; else the submit directory) and sets R.
# Under Slurm the batch script runs from a copy in the spool, so $0 does not
# lead back to the repository. An installed copy (make install) works the
# same: PREFIX/share/cocodiff holds slurm/, jobs/ and a bin/ link.
#
# COCODIFF_ENV=FILE (submit-* --env FILE): sourced here, before anything
# runs, for the site's environment: `module load openmpi hdf5 openblas`,
# `spack load ...`, LD_LIBRARY_PATH. sbatch passes it on to the jobs.
if [ -n "${COCODIFF_HOME:-}" ]; then
    R=$COCODIFF_HOME
elif [ -x "$(dirname "$0")/../jobs/mpi-run.sh" ]; then
    R=$(cd "$(dirname "$0")/.." && pwd)
else
    R=${SLURM_SUBMIT_DIR:-$(pwd)}
fi
[ -x "$R/jobs/mpi-run.sh" ] || {
    echo "$(basename "$0"): cannot find the CoCoDiff-C repository (set COCODIFF_HOME or submit from its root)" >&2
    exit 2
}
if [ -n "${COCODIFF_ENV:-}" ]; then
    [ -r "$COCODIFF_ENV" ] || { echo "$(basename "$0"): COCODIFF_ENV=$COCODIFF_ENV is not readable" >&2; exit 2; }
    set +u   # module and spack scripts read unset variables
    # shellcheck disable=SC1090
    . "$COCODIFF_ENV"
    set -u
fi
# stamp TEXT: a log line with the time, the job and the array task.
stamp() {
    echo "[$(date '+%F %T')] ${SLURM_JOB_NAME:-local} job ${SLURM_JOB_ID:-none}${SLURM_ARRAY_TASK_ID:+ task $SLURM_ARRAY_TASK_ID} on $(hostname -s): $*"
}
