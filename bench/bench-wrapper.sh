#!/bin/bash
# bench-wrapper.sh: what the recipe wrapper (uvm-run) costs per job.
#
# 1. Median wall milliseconds of `uvm-run ... -- true` against `true` run
#    directly (N runs each, interleaved so that load changes hit both
#    alike; timed with $EPOCHREALTIME, no extra process per sample).
# 2. `make -j2` over M trivial targets (touch) through the wrapper against
#    the same makefile without it, plus the number of "database is
#    locked" messages (must be 0) and of job records (must be M).
# Writes bench/results/wrapper.txt. Usage: bench-wrapper.sh [N [M]]
# (defaults 200 and 10000). Needs bin/uvm-run (make).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-200}
M=${2:-10000}
root=$(pwd)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
RUN=$root/bin/uvm-run
[ -x "$RUN" ] || { echo "bench-wrapper: build bin/uvm-run first (make)" >&2; exit 66; }
TRUE=$(type -P true)
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-wrapper.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/d/state" "$work/d/out" "$work/plain/out"
printf '%s\n' DISK_MARGIN_MB=0 >"$work/d/uvmake.conf"
cd "$work/d"

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'; }

# warm up the page cache and create the database
"$RUN" -D . -s bench -t out/warm -- "$TRUE"
"$TRUE"
: >"$work/w.txt"
: >"$work/t.txt"
for i in $(seq 1 "$N"); do
	a=$EPOCHREALTIME
	"$RUN" -D . -s bench -t "out/x$i" -- "$TRUE"
	b=$EPOCHREALTIME
	"$TRUE"
	c=$EPOCHREALTIME
	ms "$a" "$b" >>"$work/w.txt"
	ms "$b" "$c" >>"$work/t.txt"
done
wmed=$(median <"$work/w.txt")
tmed=$(median <"$work/t.txt")
over=$(awk -v a="$wmed" -v b="$tmed" 'BEGIN { printf "%.3f", a - b }')

# make -j2 over M targets, with and without the wrapper
{
	echo "all: \$(patsubst %,out/t%,\$(shell seq 1 $M))"
	echo "out/%:"
	printf '\t%s -D %s -s bench -t $@ -- touch $@\n' "$RUN" "$work/d"
} >"$work/with.mk"
{
	echo "all: \$(patsubst %,out/t%,\$(shell seq 1 $M))"
	echo "out/%:"
	printf '\ttouch $@\n'
} >"$work/without.mk"
st_plain=0 st_with=0
a=$EPOCHREALTIME
make -s -j2 -C "$work/plain" -f "$work/without.mk" >"$work/plain.out" 2>&1 || st_plain=$?
b=$EPOCHREALTIME
make -s -j2 -C "$work/d" -f "$work/with.mk" >"$work/with.out" 2>&1 || st_with=$?
c=$EPOCHREALTIME
if [ $st_plain -ne 0 ] || [ $st_with -ne 0 ]; then
	echo "bench-wrapper: make failed (without: $st_plain, with: $st_with):" >&2
	tail -5 "$work/plain.out" "$work/with.out" >&2
fi
plain_s=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b - a }')
with_s=$(awk -v a="$b" -v b="$c" 'BEGIN { printf "%.2f", b - a }')
locked=$(grep -c "locked" "$work/with.out" || true)
jobs=$(sqlite3 "$work/d/state/pipeline.sqlite" "select count(*) from jobs where target like 'out/t%' and class = 'ok'")
per_job=$(awk -v a="$plain_s" -v b="$with_s" -v m="$M" 'BEGIN { printf "%.3f", (b - a) / m * 1000 }')
cd "$root"

mkdir -p bench/results
out=bench/results/wrapper.txt
{
	bench_header "uvm-run wrapper overhead"
	echo "# load average at start: $load0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "single job, median of $N runs (ms):"
	echo "  uvm-run -- true   $wmed"
	echo "  true              $tmed"
	echo "  overhead          $over"
	echo "make -j2 over $M trivial targets (s):"
	echo "  without wrapper   $plain_s"
	echo "  through uvm-run   $with_s"
	echo "  overhead per job  $per_job ms (wall, 2 jobs at a time)"
	echo "  job records       $jobs (expected $M)"
	echo "  'locked' messages $locked (expected 0)"
	echo "  make status       $st_plain without, $st_with with (expected 0 0)"
} >"$out.tmp.$$"
mv "$out.tmp.$$" "$out"
cat "$out"
[ "$jobs" -eq "$M" ] && [ "$locked" -eq 0 ] && [ $st_plain -eq 0 ] && [ $st_with -eq 0 ]
