#!/bin/sh
# bench-combine.sh: uvm-combine on a full-size simulated group (uvm-sim
# defaults: 96 antennas, 16 subbands of 48 channels, 24 integrations),
# against the floor of reading the inputs once (cat to /dev/null) plus
# writing the output's bytes once (dd, fsync'ed like our outputs), all in
# the same run. Reports seconds, MB/s of input, the ratio to the floor,
# and peak RSS against the size of one subband file.
#
# Writes bench/results/combine.txt. BENCH_DIR (default /var/tmp) holds the
# ~3 GB of scratch data, removed at the end; RUNS (default 3) repetitions,
# medians reported.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
RUNS=${RUNS:-3}
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/bench-combine.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
OUT=bench/results/combine.txt
mkdir -p bench/results

uvm-sim -N 0 -o "$W/in" >/dev/null
set -- "$W"/in/*.hdf5
nin=$#
in_bytes=$(cat "$@" | wc -c)
sub_bytes=$(wc -c < "$1")

cat "$@" > /dev/null # warm the page cache: every run below reads from memory
: > "$W/t.combine"
: > "$W/t.cat"
: > "$W/t.dd"
: > "$W/rss"
for i in $(seq "$RUNS"); do
	rm -f "$W/out.uvh5"
	/usr/bin/time -f '%e %M' -o "$W/time" uvm-combine -o "$W/out.uvh5" "$@"
	awk '{ print $1 }' "$W/time" >> "$W/t.combine"
	awk '{ print $2 }' "$W/time" >> "$W/rss"
	out_bytes=$(wc -c < "$W/out.uvh5")
	elapsed cat "$@" >> "$W/t.cat"
	rm -f "$W/dd.out"
	elapsed dd if=/dev/zero of="$W/dd.out" bs=1M count=$((out_bytes / 1048576)) conv=fsync >> "$W/t.dd"
done
tc=$(median < "$W/t.combine")
tcat=$(median < "$W/t.cat")
tdd=$(median < "$W/t.dd")
rss=$(sort -n "$W/rss" | tail -1)

{
	bench_header "uvm-combine: one full-size group ($nin subbands) into one ascending UVH5"
	echo "# inputs: $nin files, $in_bytes bytes ($((sub_bytes / 1048576)) MiB a subband); output $out_bytes bytes"
	echo "# medians of $RUNS runs, page cache warm; floor = cat inputs >/dev/null + dd of the output size (fsync)"
	awk -v tc="$tc" -v tcat="$tcat" -v tdd="$tdd" -v ib="$in_bytes" -v rss="$rss" -v sb="$sub_bytes" 'BEGIN {
		printf "combine_seconds %.2f\n", tc
		printf "combine_MB_per_s %.0f\n", ib / 1e6 / tc
		printf "floor_seconds %.2f (cat %.2f + dd %.2f)\n", tcat + tdd, tcat, tdd
		printf "ratio_to_floor %.2f\n", tc / (tcat + tdd)
		printf "peak_rss_MB %.1f\n", rss / 1024
		printf "subband_file_MB %.1f\n", sb / 1048576
		printf "peak_rss_over_subband %.2f\n", rss * 1024 / sb
	}'
	echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"
