#!/bin/bash
# 8020-netns-slurm-pipeline: slurm/submit-pipeline (as tests/7000 runs it) on
# a 2-node Slurm cluster made of namespace nodes (tests/tap/netns-slurm.sh:
# slurmctld and a slurmd on node 1, a slurmd on node 2, a private munged).
# Every train and eval job spans both nodes (--ntasks 2, one per node:
# srun --mpi=pmix starts one rank on each); the four streams train as an
# array, evaluate, and the ensemble runs; the joint stream's model equals a
# single-node mpirun -np 2 run of the same config.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
. "$(dirname "$0")/tap/slurm.sh"
. "$(dirname "$0")/tap/netns.sh"
. "$(dirname "$0")/tap/netns-slurm.sh"
netns_up 2
netns_slurm_up
plan 12
train_data
slurm_tiny_streams
cd "$TMP" || exit 1
t0=$(date +%s)
# Open MPI over TCP only inside the jobs too (sbatch passes the environment on).
OMPI_MCA_btl=tcp,self OMPI_MCA_pml=ob1 netns_exec 1 "$REPO/slurm/submit-pipeline" --out "$TMP/run" --ntasks 2 \
    --sbatch '--ntasks-per-node=1' --set num_epoch=1 --set eval_interval=1 "$TMP/tiny" > "$TMP/submit.out" 2> "$TMP/submit.err"
ok $? "submit-pipeline on node 1 exits 0"
slurm_pipeline_ok $t0
nodes_of() { scontrol show hostnames "$(slurm_field "$1" NodeList)" | tr '\n' ' '; }
is "$(netns_host 1) $(netns_host 2) $(netns_host 1) $(netns_host 2) " "$(nodes_of "${train}_0")$(nodes_of "${evalj}_0")" \
    "train and eval task 0 each ran on both nodes"
grep -q "2 rank(s)" "$TMP/run/logs/tiny-train-${train}_0.out" && grep -q "cocodiff-train exit 0" "$TMP/run/logs/tiny-train-${train}_0.out"
ok $? "the train log shows 2 ranks and how training ended"
# The same training on one node (work_dir differs, so compare the tensors).
cd "$REPO" || exit 1
run_mpi 2 "$TRAIN" --config "$TMP/tiny-joint.yaml" --set num_epoch=1 --set eval_interval=1 --set work_dir="$TMP/one" \
    > "$TMP/one.log" 2>&1
ok $? "the joint stream on one node, mpirun -np 2"
h5diff "$TMP/one/checkpoint-last.h5" "$TMP/run/tiny-joint/checkpoint-last.h5" /model /model > /dev/null &&
    h5diff "$TMP/one/checkpoint-last.h5" "$TMP/run/tiny-joint/checkpoint-last.h5" /optimizer /optimizer > /dev/null
ok $? "its /model and /optimizer equal the 2-node Slurm run's (h5diff, exact)"
[ "$_tap_fail" = 0 ] || { diag "submit: $(cat "$TMP/submit.out" "$TMP/submit.err")"; tail -n 5 "$TMP"/run/logs/*.out >&2; }
done_testing
