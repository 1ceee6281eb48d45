# netns.sh - several "nodes" on one machine for the tests/8xxx-netns-*.sh
# tests (sourced after tap.sh). A node is a Linux network namespace with its
# own hostname (a UTS namespace per command entering it); the nodes' eth0
# are veth links to a bridge that lives in a namespace of its own (the
# "switch"), so nothing is added to the machine's own network: the test
# subnet exists only inside this run's namespaces. Open MPI runs across them
# with an rsh agent (tests/tap/netns-rsh) and TCP only (`--mca btl tcp,self`,
# pml ob1): no shared memory between ranks, hence none between nodes. The
# file system is shared, as a cluster's parallel file system would be.
#   netns_up N      makes nodes 1..N (names cocodiff-XXXXXXXX-n1..nN, random
#                   per run, so tests running at once never collide; the
#                   switch is cocodiff-XXXXXXXX-sw) on 10.A.B.0/24 (A, B
#                   random), node I at 10.A.B.(10+I). Everything it made is
#                   removed at exit (trap: processes left in the nodes are
#                   killed, then the namespaces deleted). Skips the whole
#                   test (1..0 # SKIP) when namespaces cannot be made: not
#                   root, no ip/unshare/mpirun, or the kernel refuses.
#   netns_host I    node I's hostname (= its namespace's name)
#   netns_addr I    node I's address
#   netns_exec I CMD...
#                   runs CMD on node I (its network, its hostname)
#   netns_mpirun NODES PPN [MPIRUN_ARGS...] PROG [ARGS...]
#                   mpirun, started on node 1 as on a cluster's first node,
#                   with PPN ranks on each of nodes 1..NODES (ranks 0..PPN-1
#                   on node 1, and so on); OPENBLAS_NUM_THREADS goes with -x,
#                   and OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE where set:
#                   the agent's clean environment would otherwise let a
#                   node's OpenBLAS pick other kernels than this shell's
#                   (AVX-512 ones where the CPU has it, against a Haswell
#                   CORETYPE here), whose last bits differ.
#                   A guard stops mpirun after $NETNS_MPIRUN_TIMEOUT s (300):
#                   a hang fails the test instead of holding CI. Open MPI's
#                   mpi_yield_when_idle is $NETNS_YIELD (1: the nodes share
#                   this machine's cores, and a waiting rank should give its
#                   core up; 0 to measure polling, docs/scaling.md).
#                   Ranks are not bound (--bind-to none): every node sees
#                   this machine's cores as its own, and Open MPI's default
#                   for 2 ranks (bind to core) put each node's first rank on
#                   core 0: 2 nodes x 1 rank ran on ONE core. $NETNS_BIND
#                   (default none) names another policy.
#   netns_pids I    the pids of the processes on node I
#   netns_tx_bytes I
#                   bytes node I has sent over its link so far
#   netns_shape RATE [BURST]
#                   token-bucket shaping (tc tbf) of every node's eth0 egress
#                   (so of both directions of every link) to RATE (tc units:
#                   1gbit, 25gbit); BURST (default 256kb) must hold at least
#                   a timer tick of RATE (about RATE x 1 ms: 3200kb at
#                   25gbit) or tbf caps below RATE; status 1 when tc refuses.
#                   netem (delay) is not available on these kernels, so
#                   latency enters a model as a stated figure. To time an
#                   all-reduce over shaped links (issue 17 part 2):
#                     netns_up 2; netns_shape 25gbit 3200kb
#                     netns_mpirun 2 1 PROG   # PROG times MPI_Allreduce
# netns_up sets the EXIT trap (do not set another after it).
NETNS_NAME=""
NETNS_NODES=0
NETNS_NET=""
NETNS_DIR=$TMP/netns
NETNS_AGENT=$REPO/tests/tap/netns-rsh

netns_host() { echo "$NETNS_NAME-n$1"; }
netns_addr() { echo "$NETNS_NET.$((10 + $1))"; }
netns_pids() { ip netns pids "$(netns_host "$1")" 2>/dev/null; }
# ip netns exec mounts the namespace's own /sys (netns_exec keeps the
# machine's, which slurmd needs for /sys/fs/cgroup).
netns_tx_bytes() { ip netns exec "$(netns_host "$1")" cat /sys/class/net/eth0/statistics/tx_bytes; }

netns_exec() {
    _h=$(netns_host "$1"); shift
    nsenter --net="/run/netns/$_h" unshare --uts /bin/sh -c 'hostname "$0" && exec "$@"' "$_h" "$@"
}

# Kills what still runs on the nodes (TERM, then KILL after 3 s), then
# deletes the namespaces. Only processes inside this run's namespaces.
netns_down() {
    [ -n "$NETNS_NAME" ] || return 0
    _i=1; _all=""
    while [ $_i -le "$NETNS_NODES" ]; do _all="$_all $(netns_pids $_i)"; _i=$((_i + 1)); done
    if [ -n "$(echo $_all)" ]; then
        kill $_all 2>/dev/null
        _i=0
        while [ $_i -lt 30 ]; do
            _left=""; for _p in $_all; do kill -0 "$_p" 2>/dev/null && _left="$_left $_p"; done
            [ -n "$_left" ] || break
            sleep 0.1; _i=$((_i + 1))
        done
        [ -n "$_left" ] && kill -KILL $_left 2>/dev/null
    fi
    _i=1
    while [ $_i -le "$NETNS_NODES" ]; do ip netns del "$(netns_host $_i)" 2>/dev/null; _i=$((_i + 1)); done
    ip netns del "$NETNS_NAME-sw" 2>/dev/null
    NETNS_NAME=""
}
_netns_exit() {
    st=$?
    netns_down
    exit $st
}

netns_up() {
    [ "$(id -u)" = 0 ] || skip_all "network namespaces need root"
    PATH=$PATH:/usr/sbin:/sbin
    for c in ip unshare mpirun; do
        command -v "$c" > /dev/null 2>&1 || skip_all "$c not installed"
    done
    unshare --uts true 2> /dev/null || skip_all "unshare --uts fails (no UTS namespaces)"
    NETNS_NODES=$1
    set -- $(od -An -N6 -tu1 /dev/urandom)
    NETNS_NAME=cocodiff-$(printf '%02x%02x%02x%02x' "$1" "$2" "$3" "$4")
    NETNS_NET=10.$((100 + $5 % 150)).$6
    trap _netns_exit EXIT
    trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
    mkdir -p "$NETNS_DIR"
    _sw=$NETNS_NAME-sw
    ip netns add "$_sw" 2> "$NETNS_DIR/err" || skip_all "ip netns add fails: $(cat "$NETNS_DIR/err")"
    ip -n "$_sw" link add br0 type bridge && ip -n "$_sw" link set br0 up ||
        skip_all "no bridge in a namespace"
    _i=1
    while [ $_i -le "$NETNS_NODES" ]; do
        _h=$(netns_host $_i)
        { ip netns add "$_h" &&
            ip link add eth0 netns "$_h" type veth peer name p$_i netns "$_sw" &&
            ip -n "$_sw" link set p$_i master br0 && ip -n "$_sw" link set p$_i up &&
            ip -n "$_h" addr add "$(netns_addr $_i)/24" dev eth0 &&
            ip -n "$_h" link set eth0 up && ip -n "$_h" link set lo up; } 2> "$NETNS_DIR/err" ||
            skip_all "node $_i: $(cat "$NETNS_DIR/err")"
        _i=$((_i + 1))
    done
    netns_exec 1 true 2> "$NETNS_DIR/err" || skip_all "cannot enter a node: $(cat "$NETNS_DIR/err")"
}

netns_mpirun() {
    _nodes=$1 _ppn=$2; shift 2
    _hf=$NETNS_DIR/hosts-$_nodes-$_ppn
    _i=1; : > "$_hf"
    while [ $_i -le "$_nodes" ]; do echo "$(netns_host $_i) slots=$_ppn" >> "$_hf"; _i=$((_i + 1)); done
    netns_exec 1 timeout -k 10 "${NETNS_MPIRUN_TIMEOUT:-300}" mpirun --hostfile "$_hf" -np $((_nodes * _ppn)) --map-by slot \
        --mca plm_rsh_agent "$NETNS_AGENT" --mca pml ob1 --mca btl tcp,self --mca mpi_yield_when_idle "${NETNS_YIELD:-1}" \
        --bind-to "${NETNS_BIND:-none}" \
        --mca btl_tcp_if_include "$NETNS_NET.0/24" --mca oob_tcp_if_include "$NETNS_NET.0/24" \
        -x OPENBLAS_NUM_THREADS ${OPENBLAS_CORETYPE:+-x OPENBLAS_CORETYPE} ${OPENBLAS_L2_SIZE:+-x OPENBLAS_L2_SIZE} "$@"
}

netns_shape() {
    _i=1
    while [ $_i -le "$NETNS_NODES" ]; do
        tc -n "$(netns_host $_i)" qdisc replace dev eth0 root tbf rate "$1" burst "${2:-256kb}" latency 50ms || return 1
        _i=$((_i + 1))
    done
}
