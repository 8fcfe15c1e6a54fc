#!/bin/bash
# bench-upgrade.sh: what an upgrade costs the running daemon and the
# installer.
#
# 1. Re-execution: the installed uvm-watch on an idle deployment (cycle
#    command `true`), sent SIGHUP N times; per signal, milliseconds from
#    the kill to the new image's "watching" line (its own time stamp):
#    the --version probe, the execve, start-up to armed watches. Against a
#    plain run of the same program (`uvm-watch --version`) in the same run.
# 2. make install of the tree's version into a scratch prefix, repeated
#    (every run after the first re-installs and switches), against `cp -a`
#    of the same version tree.
# Writes bench/results/upgrade.txt. Usage: bench-upgrade.sh [N] (default
# 20). Needs bin/ (make).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-20}
root=$(pwd)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-upgrade.XXXXXX")
wpid=
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; rm -rf "$work"' EXIT
P=$work/prefix
make --no-print-directory install PREFIX="$P" >"$work/install.log" 2>&1
v=$(readlink "$P/lib/uvmake/current")

# ms_of ISO: a log time stamp (UTC, ms) as epoch seconds
ms_of() { date -u -d "$1" +%s.%N; }

d=$work/d
(unset UVM_ROOT; PATH="$P/bin:/usr/bin:/bin" uvm-init "$d" >/dev/null)
env -u UVM_ROOT PATH="$P/bin:/usr/bin:/bin" uvm-watch -D "$d" -c true -r 0 2>"$work/watch.log" &
wpid=$!
n_watching() { grep -c "uvm-watch: info: watching" "$work/watch.log" || true; }
until [ "$(n_watching)" -ge 1 ] && grep -q "cycle 1 finished" "$work/watch.log"; do sleep 0.05; done
: >"$work/reexec.ms"
: >"$work/version.ms"
for i in $(seq 1 "$N"); do
	k=$(n_watching)
	t0=$(now_s)
	kill -HUP "$wpid"
	until [ "$(n_watching)" -gt "$k" ]; do sleep 0.01; done
	t1=$(ms_of "$(grep "uvm-watch: info: watching" "$work/watch.log" | tail -1 | cut -d' ' -f1)")
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f\n", (b-a)*1000}' >>"$work/reexec.ms"
	elapsed "$P/bin/uvm-watch" --version | awk '{printf "%.1f\n", $1*1000}' >>"$work/version.ms"
	# let the catch-up cycle finish before the next signal
	until [ "$(grep -c "finished ok" "$work/watch.log")" -gt "$k" ]; do sleep 0.02; done
done
kill -0 "$wpid"
[ "$(readlink "/proc/$wpid/exe")" = "$P/lib/uvmake/$v/bin/uvm-watch" ]
kill -TERM "$wpid"
wait "$wpid" || true
wpid=

: >"$work/install.s"
: >"$work/cp.s"
for i in $(seq 1 5); do
	elapsed make --no-print-directory install PREFIX="$P" >>"$work/install.s"
	rm -rf "$work/copy"
	elapsed cp -a "$P/lib/uvmake/$v" "$work/copy" >>"$work/cp.s"
done
size=$(du -sm "$P/lib/uvmake/$v" | cut -f1)

{
	bench_header "upgrade: uvm-watch re-execution and make install"
	echo "# load before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# version $v, $N SIGHUPs, 5 installs; medians (min, max)"
	printf 're-exec: SIGHUP to the new image watching: %s ms (%s, %s)\n' "$(median <"$work/reexec.ms")" \
		"$(sort -g "$work/reexec.ms" | head -1)" "$(sort -g "$work/reexec.ms" | tail -1)"
	printf 'reference: uvm-watch --version run directly: %s ms\n' "$(median <"$work/version.ms")"
	printf 'make install (up to date, re-install and switch), %s MB tree: %s s\n' "$size" "$(median <"$work/install.s")"
	printf 'reference: cp -a of the same tree: %s s\n' "$(median <"$work/cp.s")"
} | tee bench/results/upgrade.txt
