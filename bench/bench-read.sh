#!/bin/sh
# bench-read.sh: how fast does the UVH5 reader go through a file, against
# the cost of just reading its bytes?
#
# usage: bench/bench-read.sh [-r runs] [-b other_verify] [file]
#
# From page cache (one warm-up read first), runs `cat file >/dev/null` and
# `uvm-dump -d file` (header, then every row one integration at a time with
# visibilities converted to complex float, flags and nsamples decompressed,
# checksums summed) and `uvm-verify -q file` (the pipeline's first job on
# every subband: every check of the header and of every sample) `runs`
# times each (default 5), interleaved, and reports the medians of the wall
# and of the CPU (user + system: steadier on a shared machine), their
# ratios to cat's, the decoded data rate and the peak RSS. It generates
# nothing: give it a file (e.g. one subband written by uvm-sim), or set
# UVM_BENCH_FILE; with neither it says so and exits 0, so `make bench`
# still runs the others. Results in bench/results/read.txt. With -b, a
# second uvm-verify binary (e.g. main's, before a change) runs in the same
# rotation and its ratio to cat is reported beside this tree's: the A/B
# that the load of a shared machine cannot skew, since both see it.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
usage='usage: bench/bench-read.sh [-r runs] [-b other_verify] [file]'
runs=5
other=
while getopts r:b:h opt; do
	case $opt in
	r) runs=$OPTARG ;;
	b) other=$OPTARG ;;
	h) echo "$usage"; exit 0 ;;
	*) echo "$usage" >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || { echo "$usage" >&2; exit 64; }
file=${1:-${UVM_BENCH_FILE:-}}
if [ -z "$file" ]; then
	echo "bench-read: no file given, skipped ($usage)"
	exit 0
fi
[ -r "$file" ] || { echo "bench-read: cannot read '$file'" >&2; exit 66; }
command -v uvm-dump >/dev/null || { echo "bench-read: uvm-dump not built (make)" >&2; exit 69; }

uvm-dump -d "$file" >/dev/null # checks the file, warms the cache
cat "$file" >/dev/null

# wallcpu CMD...: "wall cpu" seconds of one run (GNU time's CPU has 10 ms
# steps: the command runs 5 times and the sums are divided; the wall is
# taken with nanoseconds around the 5)
tf=${TMPDIR:-/tmp}/bench-read.$$
wallcpu() {
	t0=$(now_s)
	/usr/bin/time -f '%U %S' -o "$tf" sh -c 'for k in 1 2 3 4 5; do "$@" >/dev/null || exit 1; done' sh "$@" ||
		{ echo "bench-read: $* failed" >&2; exit 70; }
	t1=$(now_s)
	awk -v a="$t0" -v b="$t1" '{printf "%.4f %.4f\n", (b - a) / 5, ($1 + $2) / 5}' "$tf"
}
uvm-verify -q "$file" || { echo "bench-read: uvm-verify rejects '$file'" >&2; exit 65; }
[ -z "$other" ] || "$other" -q "$file" || { echo "bench-read: $other rejects '$file'" >&2; exit 65; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$tf.all"
i=0
while [ $i -lt "$runs" ]; do
	echo "cat $(wallcpu cat "$file")" >>"$tf.all"
	echo "dump $(wallcpu uvm-dump -d "$file")" >>"$tf.all"
	echo "verify $(wallcpu uvm-verify -q "$file")" >>"$tf.all"
	[ -z "$other" ] || echo "other $(wallcpu "$other" -q "$file")" >>"$tf.all"
	i=$((i + 1))
done
col() { awk -v k="$1" -v c="$2" '$1 == k {print $c}' "$tf.all" | median; }
cat_s=$(col cat 2) cat_cpu=$(col cat 3)
dump_s=$(col dump 2) dump_cpu=$(col dump 3)
verify_s=$(col verify 2) verify_cpu=$(col verify 3)
if [ -n "$other" ]; then
	other_s=$(col other 2) other_cpu=$(col other 3)
else
	other_s=0 other_cpu=0
fi
rm -f "$tf" "$tf.all"
bytes=$(wc -c <"$file")
eval "$(uvm-dump "$file" | awk -F= '$1 == "Nblts" || $1 == "Nfreqs" || $1 == "Npols" { print $1 "=" $2 }')"
# decoded bytes: complex64 + flag byte + float32 nsamples per sample
decoded=$((Nblts * Nfreqs * Npols * 13))
if [ -x /usr/bin/time ]; then
	rss=$(peak_rss_kb uvm-dump -d "$file")
	vrss=$(peak_rss_kb uvm-verify -q "$file")
else
	rss=n/a vrss=n/a
fi

out=bench/results/read.txt
mkdir -p bench/results
{
	bench_header "bench-read: uvm-dump -d and uvm-verify vs cat, from page cache, median of $runs"
	echo "# load average: before $load0, after $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: the CPU ratios are the steadier)"
	echo "# file: $file ($bytes bytes; Nblts=$Nblts Nfreqs=$Nfreqs Npols=$Npols)"
	echo "# reproduce: bench/bench-read.sh -r $runs${other:+ -b OTHER_VERIFY} FILE (FILE: one subband of uvm-sim's defaults)"
	[ -z "$other" ] || echo "# other: $other, in the same rotation"
	echo "# each figure: the median over $runs rounds of the mean of 5 back-to-back runs"
	awk -v c="$cat_s" -v cc="$cat_cpu" -v d="$dump_s" -v dc="$dump_cpu" -v v="$verify_s" \
	    -v vc="$verify_cpu" -v b="$bytes" -v x="$decoded" -v r="$rss" -v vr="$vrss" \
	    -v o="$other_s" -v oc="$other_cpu" 'BEGIN {
		printf "cat_s=%.4f\n", c
		printf "cat_cpu_s=%.4f\n", cc
		printf "cat_MBps=%.0f\n", b / c / 1e6
		printf "dump_s=%.4f\n", d
		printf "dump_cpu_s=%.4f\n", dc
		printf "dump_decoded_MBps=%.0f\n", x / d / 1e6
		printf "ratio_dump_over_cat=%.2f\n", d / c
		printf "dump_peak_rss_kb=%s\n", r
		printf "verify_s=%.4f\n", v
		printf "verify_cpu_s=%.4f\n", vc
		printf "ratio_verify_over_cat=%.2f (goal 2, aim 1.5)\n", v / c
		printf "ratio_verify_cpu_over_cat_cpu=%.2f\n", (cc > 0) ? vc / cc : 0
		printf "verify_peak_rss_kb=%s\n", vr
		if (o > 0) {
			printf "other_verify_s=%.4f\n", o
			printf "other_verify_cpu_s=%.4f\n", oc
			printf "ratio_other_verify_over_cat=%.2f\n", o / c
			printf "ratio_other_verify_cpu_over_cat_cpu=%.2f\n", (cc > 0) ? oc / cc : 0
		}
	}'
} | tee "$out"
