#!/bin/sh
# Installs the Debian packages CoCoDiff-C builds, tests and runs with.
# Idempotent: does nothing (and needs no root) when everything is present.
# Slurm (slurmctld, slurmd, slurm-client) and munge are for slurm/ and the
# tests/7xxx-slurm-*.sh tests (a single-node cluster); --no-install-recommends
# keeps them to 6 packages (without it Slurm pulls ~34: rrd, influxdb, ipmi...).
# chromium and libxml2-utils (xmllint) are for the report's rendering test.
# iproute2 (ip, tc) is for the multi-node tests (tests/8xxx-netns-*.sh).
# clang and libclang-rt-dev (ASan/UBSan/libFuzzer run-times) are for
# `make check SANITIZE=1` and `make fuzz`; valgrind for `make valgrind`.
# Usage: scripts/install-deps.sh [--with-reference] [--if-root]   (as root for the install)
#   --with-reference also installs python3-numpy/h5py/torch, used only by the
#   scripts that regenerate reference tensors and by the benchmarks.
#   --if-root (make check, make demo): install only when that is possible
#   (root on Debian); otherwise say what is missing and go on: on a cluster
#   the libraries come from modules (README "Building on a cluster"), and
#   tests that need a missing tool skip.
set -eu
ref=0 ifroot=0
for a in "$@"; do
    case $a in
        --with-reference) ref=1;;
        --if-root) ifroot=1;;
        *) echo "usage: $0 [--with-reference] [--if-root]" >&2; exit 2;;
    esac
done
if ! command -v dpkg-query > /dev/null 2>&1; then
    echo "install-deps: not a Debian system: install MPI, parallel HDF5, OpenBLAS, libarchive, jansson," \
        "libyaml, libcurl, OpenSSL yourself (README \"Building on a cluster\")" >&2
    [ $ifroot = 1 ] && exit 0
    exit 1
fi

PKGS="build-essential pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools \
libopenblas-dev libarchive-dev libarchive-tools libjansson-dev libyaml-dev libcurl4-openssl-dev \
libssl-dev zlib1g-dev perl iproute2 \
slurmctld slurmd slurm-client munge \
chromium libxml2-utils jq \
clang libclang-rt-dev valgrind"
if [ $ref = 1 ]; then
    PKGS="$PKGS python3-numpy python3-h5py python3-torch"
fi

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
echo "install-deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
    if [ $ifroot = 1 ]; then
        echo "install-deps: not root, not installing:$missing (tests that need them skip)" >&2
        exit 0
    fi
    echo "install-deps: need root to install:$missing (run: sudo $0)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q -o DPkg::Lock::Timeout=600
# shellcheck disable=SC2086
apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends $missing
