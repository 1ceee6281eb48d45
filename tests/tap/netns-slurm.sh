# netns-slurm.sh - a Slurm cluster whose nodes are the namespace nodes of
# tests/tap/netns.sh (sourced after tap.sh, slurm.sh and netns.sh; call
# netns_up first). Node 1 is the head and login node: slurmctld runs there,
# and so do the client commands; every node runs its own slurmd (its
# NodeName is the node's hostname, NodeAddr its address). munge is a private
# munged (its own key and socket, AuthInfo=socket=...), so nothing of the
# machine's own munge or Slurm is used or touched; the daemons listen on the
# standard ports, but inside this run's namespaces. TmpFS is per node: the
# pmix plugin makes its per-step folder there (TmpFS/spmix_appdir_UID_JOB.STEP),
# and with a shared /tmp the second node's slurmstepd finds the first's folder
# and the step fails ("Cannot create directory ... File exists").
#   netns_slurm_up  starts it all, waits until every node is idle; skips the
#                   whole test when Slurm or munge is missing or the cluster
#                   does not come up (the logs are in $NSLURM_DIR). Holds the
#                   lock of tests/tap/slurm.sh while it runs, since those tests
#                   refuse to start beside a running slurmctld.
# Once it is up, sbatch, squeue, scontrol, sinfo and srun are shell functions
# that run the command on node 1, so slurm.sh's slurm_wait, slurm_state and
# slurm_field work unchanged; scripts that call them (slurm/submit-*) run
# through `netns_exec 1`. The daemons end with the nodes (netns_down).
NSLURM_DIR=$TMP/nslurm

_nslurm_wait_file() { # FILE: wait up to 5 s for it to be non-empty
    _k=0; while [ ! -s "$1" ] && [ $_k -lt 50 ]; do sleep 0.1; _k=$((_k + 1)); done
    [ -s "$1" ]
}

netns_slurm_up() {
    for c in slurmctld slurmd sbatch sinfo squeue scontrol srun munged munge flock; do
        command -v "$c" > /dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
            skip_all "$c not installed (scripts/install-deps.sh installs Slurm and munge)"
    done
    PATH=$PATH:/usr/sbin
    exec 8> "${TMPDIR:-/tmp}/cocodiff-slurm-test.lock"
    flock -w 600 8 || skip_all "another Slurm test held the lock for 10 minutes"
    _d=$NSLURM_DIR
    mkdir -p "$_d/ctld"
    dd if=/dev/urandom of="$_d/munge.key" bs=1024 count=1 2> /dev/null && chmod 0400 "$_d/munge.key"
    # --force: as root, in a folder only root can enter (munged warns, no more).
    netns_exec 1 munged --force --socket="$_d/munge.sock" --key-file="$_d/munge.key" --pid-file="$_d/munged.pid" \
        --log-file="$_d/munged.log" --seed-file="$_d/munged.seed" < /dev/null 8>&- > "$_d/munged.out" 2>&1 &&
        _nslurm_wait_file "$_d/munged.pid" || skip_all "munged did not start: $(tail -n 1 "$_d/munged.out")"
    _node=$(slurmd -C 2> /dev/null | head -1 | sed 's/^NodeName=[^ ]* //; s/ *UpTime=.*//')
    [ -n "$_node" ] || skip_all "slurmd -C failed"
    export SLURM_CONF=$_d/slurm.conf
    {
        cat <<EOF
ClusterName=cocodiffns
SlurmctldHost=$(netns_host 1)($(netns_addr 1))
AuthInfo=socket=$_d/munge.sock
StateSaveLocation=$_d/ctld
SlurmdSpoolDir=$_d/spool-%n
TmpFS=$_d/tmp-%n
SlurmctldPidFile=$_d/slurmctld.pid
SlurmdPidFile=$_d/slurmd-%n.pid
SlurmctldLogFile=$_d/slurmctld.log
SlurmdLogFile=$_d/slurmd-%n.log
EOF
        slurm_conf_policy
        _n=1
        while [ $_n -le "$NETNS_NODES" ]; do
            echo "NodeName=$(netns_host $_n) NodeAddr=$(netns_addr $_n) $_node State=UNKNOWN"
            _n=$((_n + 1))
        done
        echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
    } > "$SLURM_CONF"
    netns_exec 1 slurmctld -c -f "$SLURM_CONF" < /dev/null 8>&- > "$_d/slurmctld.out" 2>&1 &&
        _nslurm_wait_file "$_d/slurmctld.pid" || skip_all "slurmctld did not start (see $_d)"
    _n=1
    while [ $_n -le "$NETNS_NODES" ]; do
        _h=$(netns_host $_n)
        mkdir -p "$_d/spool-$_h" "$_d/tmp-$_h"
        netns_exec $_n slurmd -N "$_h" -f "$SLURM_CONF" < /dev/null 8>&- > "$_d/slurmd-$_h.out" 2>&1 &&
            _nslurm_wait_file "$_d/slurmd-$_h.pid" || skip_all "slurmd on node $_n did not start (see $_d)"
        _n=$((_n + 1))
    done
    sbatch() { netns_exec 1 sbatch "$@"; }
    squeue() { netns_exec 1 squeue "$@"; }
    scontrol() { netns_exec 1 scontrol "$@"; }
    sinfo() { netns_exec 1 sinfo "$@"; }
    srun() { netns_exec 1 srun "$@"; }
    _k=0
    while [ "$(sinfo -h -o %T 2> /dev/null | sort -u)" != idle ] || [ "$(sinfo -h -o %D 2> /dev/null)" != "$NETNS_NODES" ]; do
        _k=$((_k + 1))
        [ $_k -lt 100 ] || skip_all "the $NETNS_NODES nodes were not idle in 20 s ($(sinfo -h -o '%D %T' 2>&1 | tr '\n' ' '); logs in $_d)"
        sleep 0.2
    done
}
