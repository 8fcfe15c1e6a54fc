#!/bin/bash
# bench-prov.sh: what provenance costs a job, and what uvm-why costs.
#
# 1. Median wall milliseconds of `uvm-run -s image -t products/G/image.fits
#    -i products/G/cal.uvh5 -- true` in a deployment that streamed one
#    small group (so the wrapper records the input with its time and the
#    image settings in the job row), against `true`
#    run directly and, when BASE_RUN names a uvm-run built without
#    provenance (e.g. of the commit before it), against that; N runs each,
#    interleaved so that load changes hit all alike (each in a subshell
#    that enters the deployment, the same for all three).
# 2. Median wall milliseconds of `uvm-why` on the image, against `cat` of
#    the generated makefile.
# Writes bench/results/prov.txt. Usage: [BASE_RUN=path] bench-prov.sh [N]
# (default 100). Needs bin/ (make).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-100}
root=$(pwd)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
export PATH="$root/bin:$PATH" UVM_ROOT="$root"
BASE=${BASE_RUN:-}
TRUE=$(type -P true)
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-prov.XXXXXX")
trap 'rm -rf "$work"' EXIT
d=$work/d
uvm-init "$d" >/dev/null
printf '%s\n' SUBBANDS=4 PARTIAL_MIN=3 GROUP_TOLERANCE=20 GROUP_SECONDS=39 IMAGE_NPIX=64 \
	IMAGE_FFTW_PLAN=estimate CAL_MIN_SNR=3 CAL_MAX_FLAGGED=0.9 >>"$d/uvmake.conf"
uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -S 7 -n 0.05 -K ops/calibrators.csv -k 3C48 -C 0 \
	-o "$d/incoming" >/dev/null
uvm-make -D "$d" >/dev/null 2>&1
G=$(ls "$d/products")
img=products/$G/image.fits
# the base wrapper gets a copy with a database of its own schema
cp -a "$d" "$work/b"
rm -f "$work/b/state/pipeline.sqlite"*
cd "$d"

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'; }
job() { (cd "$2" && "$1" -D . -s image -t "$img" -i "products/$G/cal.uvh5" -- "$TRUE"); }

job "$root/bin/uvm-run" "$d"
[ -z "$BASE" ] || job "$BASE" "$work/b"
: >"$work/new.txt"; : >"$work/base.txt"; : >"$work/true.txt"
: >"$work/why.txt"; : >"$work/cat.txt"
for i in $(seq 1 "$N"); do
	a=$EPOCHREALTIME
	job "$root/bin/uvm-run" "$d"
	b=$EPOCHREALTIME
	(cd "$d" && "$TRUE")
	c=$EPOCHREALTIME
	ms "$a" "$b" >>"$work/new.txt"
	ms "$b" "$c" >>"$work/true.txt"
	if [ -n "$BASE" ]; then
		a=$EPOCHREALTIME
		job "$BASE" "$work/b"
		b=$EPOCHREALTIME
		ms "$a" "$b" >>"$work/base.txt"
	fi
	a=$EPOCHREALTIME
	"$root/bin/uvm-why" -D . "$img" >/dev/null || true
	b=$EPOCHREALTIME
	cat state/pipeline.mk >/dev/null
	c=$EPOCHREALTIME
	ms "$a" "$b" >>"$work/why.txt"
	ms "$b" "$c" >>"$work/cat.txt"
done
recorded=$(sqlite3 state/pipeline.sqlite "select count(*) from jobs where target = '$img' and json_valid(provenance) and provenance like '%\"settings\":{\"IMAGE_%'")
cd "$root"
mkdir -p bench/results
out=bench/results/prov.txt
{
	bench_header "provenance: cost per job, and of uvm-why"
	echo "# load average at start: $load0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "job through uvm-run (image target, one input), median of $N runs (ms):"
	echo "  uvm-run with provenance      $(median <"$work/new.txt")"
	[ -z "$BASE" ] || echo "  uvm-run without (BASE_RUN)   $(median <"$work/base.txt")"
	echo "  (cd d && true)               $(median <"$work/true.txt")"
	echo "  job rows with a valid record of the image settings: $recorded of $((N + 2)) (the pipeline's, the warm-up, N)"
	echo "uvm-why on the image, median of $N runs (ms):"
	echo "  uvm-why                      $(median <"$work/why.txt")"
	echo "  cat state/pipeline.mk        $(median <"$work/cat.txt")"
} >"$out.tmp.$$"
mv "$out.tmp.$$" "$out"
cat "$out"
