# slurm.sh - a real single-node Slurm cluster for the tests/7xxx-slurm-*.sh
# tests (sourced after tap.sh). Follows ../shared/design/hpc-notes.md §6.
#   slurm_up        starts munged (unless one answers), slurmctld and slurmd
#                   with a private slurm.conf in $SLURM_DIR (exported as
#                   SLURM_CONF, so sbatch/squeue and the jobs use it), waits
#                   for `sinfo` to say idle, and stops what it started, by PID,
#                   when the test exits. Skips the whole test (1..0 # SKIP)
#                   when Slurm or munge is not installed, not root, or the
#                   cluster does not come up. Tests hold a lock (flock) while
#                   the cluster is theirs, so `prove -j` runs them one at a time.
#                   COCODIFF_SLURM_EXISTING=1: use the cluster `sinfo` already
#                   reaches instead (nothing started or stopped).
#   slurm_wait J... waits (up to $SLURM_WAIT_S, default 120 s) until the jobs
#                   (ids or array ids) have left the queue and prints nothing;
#                   status 1 on timeout.
#   slurm_state J   the job's final state (COMPLETED, FAILED, CANCELLED, ...;
#                   for an array: every task's state, sorted and unique).
#   slurm_field J F a field of `scontrol show job -o J` (first task).
#   slurm_tiny_streams
#                   $TMP/tiny-{joint,bone,joint-motion,bone-motion}.yaml:
#                   train.sh's config (train_config) for each stream
#   slurm_pipeline_ok T0
#                   after `slurm/submit-pipeline ... $TMP/tiny` (stdout in
#                   $TMP/submit.out, outputs in $TMP/run, submitted at T0):
#                   sets train, evalj, ens, rep (the job ids), waits for them and
#                   checks in 7 TAP lines that every job COMPLETED and every
#                   stream and the ensemble wrote its outputs.
# Daemons get stdin from /dev/null (with it closed, jobs end "launch failed
# requeued held"); DependencyParameters=kill_invalid_depend is set.
SLURM_DIR=$TMP/slurm
_slurm_pids=""
_slurm_started=""

_slurm_stop() {
    for p in $_slurm_pids; do
        kill "$p" 2>/dev/null || continue
        i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
        kill -KILL "$p" 2>/dev/null
    done
    _slurm_pids=""
}
_slurm_exit() {
    st=$?
    _slurm_stop
    exit $st
}

_slurm_pid_of() { # FILE: the pid written there (wait up to 5 s for it)
    i=0; while [ ! -s "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    cat "$1" 2>/dev/null
}

# The settings every test cluster shares: no cgroups, no accounting, pmix,
# failed dependencies cancel their dependants.
slurm_conf_policy() {
    cat <<EOF
SlurmUser=root
AuthType=auth/munge
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
DependencyParameters=kill_invalid_depend
ReturnToService=2
MinJobAge=600
KillWait=5
EOF
}

slurm_up() {
    if [ "${COCODIFF_SLURM_EXISTING:-0}" = 1 ]; then
        sinfo -h > /dev/null 2>&1 || skip_all "COCODIFF_SLURM_EXISTING=1 but sinfo reaches no cluster"
        return 0
    fi
    for c in slurmctld slurmd sbatch sinfo squeue scontrol srun munged munge flock; do
        command -v "$c" > /dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
            skip_all "$c not installed (scripts/install-deps.sh installs Slurm and munge)"
    done
    [ "$(id -u)" = 0 ] || skip_all "starting a Slurm cluster needs root"
    PATH=$PATH:/usr/sbin
    # One cluster at a time on this machine (the ports are fixed).
    exec 8> "${TMPDIR:-/tmp}/cocodiff-slurm-test.lock"
    flock -w 600 8 || skip_all "another Slurm test held the lock for 10 minutes"
    trap _slurm_exit EXIT
    trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
    # An already running slurmctld (a developer's, or a leftover) owns the ports.
    if pgrep -x slurmctld > /dev/null 2>&1 || pgrep -x slurmd > /dev/null 2>&1; then
        skip_all "a slurmctld/slurmd is already running (set COCODIFF_SLURM_EXISTING=1 to use it)"
    fi
    mkdir -p "$SLURM_DIR/ctld" "$SLURM_DIR/d"
    # munge: reuse a running munged, else start one (and stop it at exit).
    if ! munge -n < /dev/null 2>/dev/null | unmunge > /dev/null 2>&1; then
        [ -s /etc/munge/munge.key ] ||
            { mungekey -c -k /etc/munge/munge.key 2>/dev/null ||
              dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null; }
        chown munge:munge /etc/munge/munge.key 2>/dev/null; chmod 0400 /etc/munge/munge.key
        install -d -o munge -g munge -m 0755 /run/munge
        rm -f /run/munge/munged.pid
        runuser -u munge -- /usr/sbin/munged < /dev/null 8>&- > "$SLURM_DIR/munged.out" 2>&1 ||
            skip_all "munged did not start: $(tail -1 "$SLURM_DIR/munged.out")"
        _slurm_pids="$(_slurm_pid_of /run/munge/munged.pid)"
        munge -n < /dev/null 2>/dev/null | unmunge > /dev/null 2>&1 || skip_all "munge does not work"
    fi
    node=$(slurmd -C 2>/dev/null | head -1)
    case $node in NodeName=*) ;; *) skip_all "slurmd -C failed";; esac
    export SLURM_CONF=$SLURM_DIR/slurm.conf
    cat > "$SLURM_CONF" <<EOF
ClusterName=cocodifftest
SlurmctldHost=$(hostname -s)
StateSaveLocation=$SLURM_DIR/ctld
SlurmdSpoolDir=$SLURM_DIR/d
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
$(slurm_conf_policy)
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    slurmctld -c -f "$SLURM_CONF" < /dev/null 8>&- > /dev/null 2>&1 || skip_all "slurmctld did not start"
    _slurm_pids="$(_slurm_pid_of "$SLURM_DIR/slurmctld.pid") $_slurm_pids"
    slurmd -f "$SLURM_CONF" < /dev/null 8>&- > /dev/null 2>&1 || skip_all "slurmd did not start"
    _slurm_pids="$(_slurm_pid_of "$SLURM_DIR/slurmd.pid") $_slurm_pids"
    i=0
    while [ "$(sinfo -h -o %T 2>/dev/null)" != idle ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || skip_all "the cluster did not become idle in 20 s (logs: $SLURM_DIR)"
        sleep 0.2
    done
}

slurm_wait() {
    lim=$(( ${SLURM_WAIT_S:-120} * 5 )); i=0
    while [ -n "$(squeue -h -j "$(echo "$*" | tr ' ' ,)" -o %i 2>/dev/null)" ]; do
        i=$((i + 1)); [ $i -lt $lim ] || return 1
        sleep 0.2
    done
}

slurm_state() {
    scontrol show job -o "$1" 2>/dev/null | sed -n 's/.* JobState=\([A-Z_]*\) .*/\1/p' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

slurm_field() {
    scontrol show job -o "$1" 2>/dev/null | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

slurm_tiny_streams() {
    train_config "$TMP/base.yaml" "$TMP/unused"
    for _s in "joint False False" "bone True False" "joint-motion False True" "bone-motion True True"; do
        set -- $_s
        awk -v b="$2" -v v="$3" '{ print } /^  data_path:/ { print "  bone: " b; print "  vel: " v }' "$TMP/base.yaml" \
            > "$TMP/tiny-$1.yaml"
    done
}

slurm_pipeline_ok() {
    train=$(awk '$1 == "train" { print $2 }' "$TMP/submit.out")
    evalj=$(awk '$1 == "eval" { print $2 }' "$TMP/submit.out")
    ens=$(awk '$1 == "ensemble" { print $2 }' "$TMP/submit.out")
    rep=$(awk '$1 == "report" { print $2 }' "$TMP/submit.out")
    case "$train $evalj" in *[0-9]" "[0-9]*) true;; *) false;; esac
    ok $? "prints the train and eval job ids ($train, $evalj${ens:+, ensemble $ens})"
    slurm_wait $train $evalj $ens $rep
    ok $? "all jobs left the queue in time ($(( $(date +%s) - $1 )) s)"
    is COMPLETED "$(slurm_state "$train")" "train array: every task COMPLETED"
    is COMPLETED "$(slurm_state "$evalj")" "eval array: every task COMPLETED"
    _n=0
    for _s in joint bone joint-motion bone-motion; do
        grep -q '"test_top1":[0-9.e-]*' "$TMP/run/tiny-$_s/metrics.jsonl" 2>/dev/null &&
            grep -q '"top1":[ ]*[0-9.e-]*' "$TMP/run/tiny-$_s/eval/metrics.json" 2>/dev/null &&
            h5dump -H "$TMP/run/tiny-$_s/eval/scores.h5" > /dev/null 2>&1 && _n=$((_n + 1))
    done
    is 4 $_n "every stream: metrics.jsonl with test_top1, eval/metrics.json with top1, eval/scores.h5"
    if [ -x "$REPO/bin/cocodiff-ensemble" ]; then
        is COMPLETED "$(slurm_state "$ens")" "ensemble job COMPLETED"
        grep -q '"top1":[ ]*[0-9.e-]*' "$TMP/run/ensemble/metrics.json" 2>/dev/null &&
            grep -q '"streams"' "$TMP/run/ensemble/metrics.json"
        ok $? "ensemble/metrics.json has top1 and the streams"
    else
        skip 2 "bin/cocodiff-ensemble not built"
    fi
}
