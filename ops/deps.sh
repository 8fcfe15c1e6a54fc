#!/bin/sh
# deps.sh: install the Debian packages uvmake needs, or say what to run.
#
#   ops/deps.sh [set...]           install what is missing (apt-get, needs root)
#   ops/deps.sh --check [set...]   exit 1 with the apt-get command if anything is missing
#   ops/deps.sh --list [set...]    print the packages, one a line
#
# The packages come in sets, so that each caller asks for what it needs and
# no more: building must not need a browser or Slurm.
#   build   compiling the programs (`make all san`; the Makefile's deps-ok
#           checks exactly this before the first compile; debian/control's
#           Build-Depends, less debhelper, is the same list)
#   run     what the programs and shell programs call at run time besides
#           their libraries (make, flock, rclone; jq and sqlite3 for
#           uvm-demo); the package's Depends and Recommends
#   test    the suite and the demo's checks (bats, Python with astropy,
#           h5dump, mandoc, Prometheus' promtool, chromium, Slurm...)
#   bench   bench/bench-wsclean.sh's comparison (wsclean, python3-casacore)
# No set named means all of them: `make deps`, which `make test`, `make
# demo` and `make bench` run first, so a fresh Debian machine with only gcc
# and make gets everything.
set -eu
BUILD="gcc g++ make pkg-config libhdf5-dev libsqlite3-dev libarchive-dev liblzf-dev
libfftw3-dev libcfitsio-dev wcslib-dev libpng-dev libssl-dev aoflagger-dev liberfa-dev
libsep-dev"
RUN="make util-linux rclone jq sqlite3"
TEST="bats bats-assert bats-support hdf5-tools hdf5-plugin-lzf valgrind time procps
parallel prometheus chromium slurm-wlm munge python3-astropy python3-numpy python3-h5py
mandoc"
BENCH="wsclean python3-casacore"

usage='usage: ops/deps.sh [--check | --list] [build | run | test | bench]...'
mode=install
case ${1:-} in
--check) mode=check; shift ;;
--list) mode=list; shift ;;
-h|--help) echo "$usage"; exit 0 ;;
esac
[ $# -gt 0 ] || set -- build run test bench
PKGS=
for s in "$@"; do
	case $s in
	build) PKGS="$PKGS $BUILD" ;;
	run) PKGS="$PKGS $RUN" ;;
	test) PKGS="$PKGS $TEST" ;;
	bench) PKGS="$PKGS $BENCH" ;;
	*) echo "$usage" >&2; exit 64 ;;
	esac
done
PKGS=$(printf '%s\n' $PKGS | awk '!seen[$0]++')
if [ "$mode" = list ]; then
	printf '%s\n' $PKGS
	exit 0
fi

missing=""
for p in $PKGS; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$s" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$mode" = check ]; then
	echo "uvmake: missing Debian packages ($*):$missing" >&2
	echo "uvmake: run 'make deps' (as root) or: sudo apt-get update && sudo $cmd" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO=sudo
	else
		echo "uvmake: missing Debian packages:$missing" >&2
		echo "uvmake: as root run: apt-get update && $cmd" >&2
		exit 1
	fi
else
	SUDO=
fi
echo "uvmake: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
