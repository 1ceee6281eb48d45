#!/bin/sh
# jobs/prep.sh - the prep stage as a job body: runs cocodiff-prep with the
# launcher of the allocation (jobs/mpi-run.sh: srun under Slurm, else mpirun).
# Usage: jobs/prep.sh DATASET OUT_DIR ARCHIVE [ARCHIVE ...]
#   env: NP (ranks when not under Slurm, default 2), EXCLUDE (a missing-skeleton
#   list), PREP_FLAGS (extra flags, e.g. --strict), and mpi-run.sh's
set -eu
[ $# -ge 3 ] || { echo "usage: $0 DATASET OUT_DIR ARCHIVE [ARCHIVE ...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
dataset=$1 out=$2
shift 2
args="--dataset $dataset --out $out"
for a in "$@"; do args="$args --input $a"; done
[ -n "${EXCLUDE:-}" ] && args="$args --exclude $EXCLUDE"
# shellcheck disable=SC2086
exec "$here/jobs/mpi-run.sh" cocodiff-prep $args ${PREP_FLAGS:-}
