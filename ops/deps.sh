#!/bin/sh
# deps.sh: install the Debian packages uvmake needs, or say what to run.
#
#   ops/deps.sh           install what is missing (apt-get, needs root)
#   ops/deps.sh --check   exit 1 with the apt-get command if anything is missing
#
# Called by `make deps`, which `make test`, `make demo` and `make bench` run
# first, so a fresh Debian machine with only gcc and make gets everything.
set -eu
PKGS="libhdf5-dev hdf5-tools libsqlite3-dev sqlite3 libarchive-dev liblzf-dev
libfftw3-dev libcfitsio-dev wcslib-dev libpng-dev libssl-dev pkg-config rclone bats
bats-assert bats-support jq valgrind time procps util-linux parallel
prometheus hdf5-plugin-lzf chromium slurm-wlm munge aoflagger-dev g++
liberfa-dev libsep-dev python3-astropy python3-numpy python3-h5py mandoc
wsclean python3-casacore"
# (wsclean and python3-casacore: bench/bench-wsclean.sh only)

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
if [ "${1:-}" = "--check" ]; then
	echo "uvmake: missing Debian packages:$missing" >&2
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
