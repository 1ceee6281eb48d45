#!/bin/bash
# 7030-slurm-requeue: preemption-safe training on a real single-node Slurm
# cluster. slurm/train.sbatch (--requeue, --signal=B:USR1@60) is sent USR1
# mid-run the way Slurm does before the time limit (scancel --signal=USR1
# --batch): the script forwards it to the srun step, cocodiff-train
# checkpoints and exits 3, the script requeues the job and the next run
# resumes; the final checkpoint is byte-identical to an uninterrupted run's.
. "$(dirname "$0")/tap/tap.sh"
. "$(dirname "$0")/tap/train.sh"
. "$(dirname "$0")/tap/slurm.sh"
slurm_up
plan 8
train_data
W=$TMP/w
train_config "$TMP/c.yaml" "$W"
# 24 steps (6 epochs of 4), a checkpoint every step, evaluation every epoch
S=(--set num_epoch=6 --set step=[3] --set eval_interval=1 --set cocodiff.checkpoint_steps=1)
cd "$TMP" || exit 1
NP=1 "$REPO/jobs/mpi-run.sh" cocodiff-train --config "$TMP/c.yaml" "${S[@]}" --resume > "$TMP/ref.log" 2>&1
ok $? "uninterrupted run (mpirun, 1 rank)"
mv "$W/checkpoint-last.h5" "$TMP/ref.h5"; rm -rf "$W"

t0=$(date +%s)
J=$(sbatch --parsable --ntasks=1 -o "$TMP/train-%j.out" "$REPO/slurm/train.sbatch" "$TMP/c.yaml" -- "${S[@]}" \
    --log-losses "$TMP/losses")
# wait for 3 steps, then the signal Slurm sends before the time limit
i=0; while [ "$(cat "$TMP/losses" 2>/dev/null | wc -l)" -lt 3 ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
scancel --signal=USR1 --batch "$J"
ok $? "USR1 sent to the batch script of job $J after 3 steps"
# the job is requeued; let a requeued (pending, BeginTime) job start now
# (a loaded machine can take a while: keep nudging until it runs again)
i=0
while [ "$(slurm_field "$J" Restarts)" != 1 ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
# A requeued job waits ~2 min (BeginTime = requeue + credential lifetime + 1)
# because slurmd revokes the old run's credentials at the requeue and refuses
# any credential of the job issued in the same second or earlier (it compares
# whole seconds: ctime <= revoked), so slurmctld kills a restart that comes
# too soon ("Job credential revoked"). The test moves the start up, but only
# once the job is PENDING (the old run has been killed and has completed) and
# the clock has passed the second in which it was seen PENDING: the new
# allocation's credential is then strictly younger than the revocation.
i=0 pend=""
while [ $i -lt 600 ]; do
    case "$(slurm_state "$J")" in
        RUNNING|COMPLETED|FAILED|CANCELLED|TIMEOUT|"") break ;;
        PENDING)
            [ -n "$pend" ] || pend=$(date +%s)
            [ "$(date +%s)" -gt "$pend" ] && scontrol update jobid="$J" StartTime=now > /dev/null 2>&1 ;;
    esac
    sleep 0.2; i=$((i + 1))
done
SLURM_WAIT_S=300 slurm_wait "$J"
ok $? "job left the queue ($(( $(date +%s) - t0 )) s)"
is "COMPLETED 1" "$(slurm_state "$J") $(slurm_field "$J" Restarts)" "job COMPLETED after 1 requeue"
log=$TMP/train-$J.out
grep -q "got SIGUSR1" "$log" && grep -q "cocodiff-train exit 3" "$log" && grep -q "requeueing" "$log"
ok $? "log: USR1 forwarded, training exited 3, job requeued"
grep -q "signal 10: checkpointed at step" "$log"
ok $? "cocodiff-train checkpointed on the signal"
grep -q "(restart 1)" "$log" && grep -q "cocodiff-train exit 0" "$log"
ok $? "the requeued run (restart 1) resumed and finished; the log was appended"
cmp -s "$TMP/ref.h5" "$W/checkpoint-last.h5"
ok $? "final checkpoint (step $(step_of "$W/checkpoint-last.h5")) byte-identical to the uninterrupted run's"
[ "$_tap_fail" = 0 ] || { cat "$log" >&2; scontrol show job "$J" >&2; }
cd / && done_testing
