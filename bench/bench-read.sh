#!/bin/sh
# bench-read.sh: how fast does the UVH5 reader go through a file, against
# the cost of just reading its bytes?
#
# usage: bench/bench-read.sh [-r runs] [file]
#
# From page cache (one warm-up read first), runs `cat file >/dev/null` and
# `uvm-dump -d file` (header, then every row one integration at a time with
# visibilities converted to complex float, flags and nsamples decompressed,
# checksums summed) `runs` times each (default 5) and reports the medians,
# their ratio, the decoded data rate and uvm-dump's peak RSS. It generates
# nothing: give it a file (e.g. one subband written by uvm-sim), or set
# UVM_BENCH_FILE; with neither it says so and exits 0, so `make bench`
# still runs the others. Results in bench/results/read.txt.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
usage='usage: bench/bench-read.sh [-r runs] [file]'
runs=5
while getopts r:h opt; do
	case $opt in
	r) runs=$OPTARG ;;
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

i=0 cats= dumps=
while [ $i -lt "$runs" ]; do
	cats="$cats $(elapsed cat "$file")"
	dumps="$dumps $(elapsed uvm-dump -d "$file")"
	i=$((i + 1))
done
cat_s=$(echo "$cats" | tr ' ' '\n' | grep . | median)
dump_s=$(echo "$dumps" | tr ' ' '\n' | grep . | median)
bytes=$(wc -c <"$file")
eval "$(uvm-dump "$file" | awk -F= '$1 == "Nblts" || $1 == "Nfreqs" || $1 == "Npols" { print $1 "=" $2 }')"
# decoded bytes: complex64 + flag byte + float32 nsamples per sample
decoded=$((Nblts * Nfreqs * Npols * 13))
if [ -x /usr/bin/time ]; then
	rss=$(peak_rss_kb uvm-dump -d "$file")
else
	rss=n/a
fi

out=bench/results/read.txt
mkdir -p bench/results
{
	bench_header "bench-read: uvm-dump -d vs cat, from page cache, median of $runs"
	echo "# file: $file ($bytes bytes; Nblts=$Nblts Nfreqs=$Nfreqs Npols=$Npols)"
	awk -v c="$cat_s" -v d="$dump_s" -v b="$bytes" -v x="$decoded" -v r="$rss" 'BEGIN {
		printf "cat_s=%.4f\n", c
		printf "cat_MBps=%.0f\n", b / c / 1e6
		printf "dump_s=%.4f\n", d
		printf "dump_decoded_MBps=%.0f\n", x / d / 1e6
		printf "ratio_dump_over_cat=%.2f\n", d / c
		printf "dump_peak_rss_kb=%s\n", r
	}'
} | tee "$out"
