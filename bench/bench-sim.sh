#!/bin/sh
# bench-sim.sh: how fast does uvm-sim write a full-size group, against the
# disk's own speed?
#
# usage: bench/bench-sim.sh [-r runs] [-d dir] [-- uvm-sim options]
#
# Times `uvm-sim -o DIR` writing one default group (96 antennas, 16
# subbands of 48 channels, 24 integrations: ~1.6 GB) into a temporary
# directory, `runs` times (default 3), and reports the median seconds and
# MB/s (bytes written / time); then, as the reference in the same run,
# `dd if=/dev/zero bs=1M count=<same MB> conv=fsync` into the same
# directory (median of as many runs). uvm-sim fsyncs every file, so both
# include the flush to disk. Peak RSS shows that memory stays bounded; the
# CPU time (user + sys) tells what the figures mean on a busy machine.
# Results in bench/results/sim.txt. Extra uvm-sim options after -- (e.g.
# -- -n 0 to leave out the noise).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
usage='usage: bench/bench-sim.sh [-r runs] [-d dir] [-- uvm-sim options]'
runs=3
base=${TMPDIR:-/tmp}
while getopts r:d:h opt; do
	case $opt in
	r) runs=$OPTARG ;;
	d) base=$OPTARG ;;
	h) echo "$usage"; exit 0 ;;
	*) echo "$usage" >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))
case $runs in '' | *[!0-9]* | 0) echo "$usage" >&2; exit 64 ;; esac
[ -x bin/uvm-sim ] || { echo "bench-sim: build first (make)" >&2; exit 69; }

work=$(mktemp -d "$base/bench-sim.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
out=bench/results/sim.txt
mkdir -p bench/results

: > "$work/t_sim"
: > "$work/c_sim"
: > "$work/t_dd"
: > "$work/rss"
bytes=0
i=0
while [ $i -lt "$runs" ]; do
	rm -rf "$work/out"
	sync
	/usr/bin/time -f '%e %U %S' -o "$work/time" uvm-sim "$@" -o "$work/out" ||
		{ echo "bench-sim: uvm-sim failed" >&2; exit 70; }
	awk '{print $1}' "$work/time" >> "$work/t_sim"
	awk '{print $2 + $3}' "$work/time" >> "$work/c_sim"
	bytes=$(du -sb "$work/out" | awk '{print $1}')
	i=$((i + 1))
done
rm -rf "$work/out"
sync
peak_rss_kb uvm-sim "$@" -o "$work/out" >> "$work/rss"
nfiles=$(ls "$work/out" | wc -l)
rm -rf "$work/out"
mb=$(( (bytes + 1048575) / 1048576 ))
i=0
while [ $i -lt "$runs" ]; do
	rm -f "$work/dd"
	sync
	elapsed dd if=/dev/zero of="$work/dd" bs=1M count="$mb" conv=fsync >> "$work/t_dd"
	i=$((i + 1))
done
rm -f "$work/dd"

ts=$(median < "$work/t_sim")
cs=$(median < "$work/c_sim")
td=$(median < "$work/t_dd")
rss=$(cat "$work/rss")
{
	bench_header "bench-sim: uvm-sim writing one full-size group vs dd"
	echo "# nproc: $(nproc); uname: $(uname -a)"
	echo "# uvm-sim options: ${*:-(defaults)}; $nfiles files, $bytes bytes; median of $runs runs"
	echo "# group cadence (real time): 309.2 s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# uvm-sim cpu (user + sys, two threads): $cs s per group (median)"
	echo "#"
	printf '%-28s %9s %9s %12s\n' what seconds MB/s peak_rss_kb
	awk -v t="$ts" -v b="$bytes" -v r="$rss" 'BEGIN{printf "%-28s %9.2f %9.1f %12s\n", "uvm-sim (one group)", t, b/1048576/t, r}'
	awk -v t="$td" -v m="$mb" 'BEGIN{printf "%-28s %9.2f %9.1f %12s\n", "dd conv=fsync (same MB)", t, m/t, "-"}'
	awk -v a="$ts" -v b="$td" 'BEGIN{printf "# uvm-sim takes %.2fx the time of dd for the same bytes\n", a/b}'
} > "$out"
cat "$out"
