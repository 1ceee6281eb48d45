#!/bin/bash
# 0220-slurm-scripts: the Slurm scripts' command lines and wiring without a
# cluster (issue 14, points 6 and 7): slurm/submit-pipeline --dry-run prints
# the sbatch commands it would run; jobs/mpi-run.sh runs against stand-in
# srun/mpirun that print their arguments. (tests/7000 and 7050 run the same
# on a real Slurm cluster.)
. "$(dirname "$0")/tap/tap.sh"
plan 17
SP=$REPO/slurm/submit-pipeline
cd "$TMP" || exit 1
for s in joint bone joint-motion bone-motion; do
    printf 'work_dir: x\ntrain_feeder_args:\n  data_path: data/ntu60-xsub.h5\ncocodiff:\n  threads: 3\n' > "exp-$s.yaml"
done
dry() { "$SP" --dry-run "$@" > dry.out 2> dry.err; }
sb() { grep "job-name=[^ ]*-$1 " dry.err; }   # the sbatch line of a stage

dry exp --out r --ntasks 1; a=$(cat dry.err)
dry --out r --ntasks 1 exp; b=$(cat dry.err)
dry --out r exp --ntasks 1; c=$(cat dry.err)
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ]
ok $? "options before, after or around the config stem give the same jobs"
dry exp --no-such 1; rc=$?
[ $rc = 2 ] && [ "$(cat dry.err)" = "submit-pipeline: unknown option --no-such (see --help)" ]
ok $? "an unknown option: exit 2 and one line saying so ($(head -1 dry.err))"
dry exp --out; rc=$?
[ $rc = 2 ] && grep -q -e "--out needs a value" dry.err
ok $? "an option without its value: exit 2, 'needs a value'"
dry --out r; rc=$?
[ $rc = 2 ] && grep -q "no config stem given" dry.err
ok $? "no config: exit 2 with the reason (not only the usage)"

dry exp --name e1 --prep "ntu60 prepped a.zip b.zip" --embed datasets/ntu60/descriptions.tsv
is "prep embed train eval ensemble report" "$(awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }' dry.out)" \
    "stages: prep embed train eval ensemble report"
sb train | grep -q -e "--set train_feeder_args.data_path=$TMP/prepped/ntu60-xsub.h5 --set test_feeder_args.data_path=$TMP/prepped/ntu60-xsub.h5"
ok $? "prep's output folder is training's data path (the file the configs' data_path names)"
sb embed | grep -q "embed.sbatch datasets/ntu60/descriptions.tsv $TMP/runs/e1/text/ntu60-glove.h5" &&
    sb train | grep -q -e "--set cocodiff.text=$TMP/runs/e1/text/ntu60-glove.h5"
ok $? "embed writes runs/NAME/text/ntu60-glove.h5 (after the dataset), training gets it as cocodiff.text"
sb train | grep -q "dependency=afterok:<prep>:<embed>" && sb report | grep -q "dependency=afterok:<ensemble>" &&
    sb report | grep -q -e "--run $TMP/runs/e1/exp-joint --run $TMP/runs/e1/exp-bone .*--eval $TMP/runs/e1/exp-joint/eval .* --ensemble $TMP/runs/e1/ensemble"
ok $? "train waits for prep and embed; the report job comes after the ensemble, with every stream's run and evaluation"
is "e1-prep e1-embed e1-train e1-eval e1-ensemble e1-report" \
    "$(grep -o 'job-name=[^ ]*' dry.err | sed 's/job-name=//' | tr '\n' ' ' | sed 's/ $//')" "job names are NAME-STAGE"

dry exp --train-mem 32G --train-time 2:00:00 --eval-ntasks 4 --eval-cpus 2 --report-time 5 --prep-ntasks 8 --prep "ntu60 p a.zip"
sb train | grep -q -e "--mem=32G" && sb train | grep -q -e "--time=2:00:00" && sb eval | grep -q -e "--ntasks=4 .*--cpus-per-task=2" &&
    sb report | grep -q -e "--time=5" && sb prep | grep -q -e "--ntasks=8" && ! sb eval | grep -q -e "--mem"
ok $? "per-stage ntasks, time, memory and CPUs go to their own stage"
sb train | grep -q -e "--cpus-per-task=3" && ! sb train | grep -q "cocodiff.threads"
ok $? "train's CPUs per task default to the configs' cocodiff.threads (3)"
dry exp --train-cpus 4
sb train | grep -q -e "--cpus-per-task=4 .*--set cocodiff.threads=4"
ok $? "--train-cpus 4: --cpus-per-task 4 and cocodiff.threads 4"
dry exp --train-cpus 4 --set cocodiff.threads=2; rc=$?
[ $rc = 2 ] && grep -q "one setting" dry.err
ok $? "--train-cpus that disagrees with --set cocodiff.threads: exit 2"

# jobs/mpi-run.sh against stand-ins for srun and mpirun.
mkdir -p fake
for l in srun mpirun; do printf '#!/bin/sh\necho "%s $* SRUN_CPUS_PER_TASK=${SRUN_CPUS_PER_TASK:-}"\n' "$l" > fake/$l; chmod +x fake/$l; done
run() { env PATH="$TMP/fake:$PATH" SLURM_JOB_ID=1 SLURM_NTASKS=3 SLURM_CPUS_PER_TASK=2 "$@" "$REPO/jobs/mpi-run.sh" cocodiff-eval --x 2>&1; }
is "srun --mpi=pmix $REPO/bin/cocodiff-eval --x SRUN_CPUS_PER_TASK=2 | srun --mpi=pmi2 $REPO/bin/cocodiff-eval --x SRUN_CPUS_PER_TASK=2 | mpirun -np 3 -x OPENBLAS_NUM_THREADS $REPO/bin/cocodiff-eval --x SRUN_CPUS_PER_TASK=" \
    "$(run) | $(run COCODIFF_SRUN_MPI=pmi2) | $(run COCODIFF_LAUNCHER=mpirun)" \
    "mpi-run.sh: srun --mpi=pmix by default, COCODIFF_SRUN_MPI=pmi2, COCODIFF_LAUNCHER=mpirun; the job's CPUs per task passed to srun"

# Cores shared among the tasks (--overcommit): Open MPI yields while it waits.
mkdir -p fake-yield
printf '#!/bin/sh\necho "yield=${OMPI_MCA_mpi_yield_when_idle:-unset}"\n' > fake-yield/srun
chmod +x fake-yield/srun
yrun() { env PATH="$TMP/fake-yield:$PATH" SLURM_JOB_ID=1 SLURM_NTASKS=3 "$@" "$REPO/jobs/mpi-run.sh" cocodiff-eval 2>&1; }
is "yield=unset yield=1 yield=0" "$(yrun) $(yrun SLURM_OVERCOMMIT=1) $(yrun SLURM_OVERCOMMIT=1 OMPI_MCA_mpi_yield_when_idle=0)" \
    "mpi-run.sh: mpi_yield_when_idle 1 under --overcommit (SLURM_OVERCOMMIT=1), unless the environment says otherwise"

# The environment hook: every job script sources COCODIFF_ENV first.
echo 'echo "hook ran in $0"' > env.sh
COCODIFF_ENV=$TMP/env.sh COCODIFF_HOME=$REPO bash "$REPO/slurm/report.sbatch" > hook.out 2>&1
grep -q "hook ran in" hook.out
ok $? "COCODIFF_ENV is sourced by the job scripts (slurm/common.sh)"
dry exp --env no-such-env.sh; rc=$?
[ $rc = 2 ] && grep -q "no-such-env.sh: not readable" dry.err
ok $? "--env FILE that is not there: exit 2 at submission, not in every job"
done_testing
