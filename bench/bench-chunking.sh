#!/bin/sh
# bench-chunking.sh: are files chunked as the DSA-110 correlator's writer
# chunks them read as fast as our own?
#
# usage: bench/bench-chunking.sh [-r runs]
#
# The writer (dsa110-meridian-fs, dsamfs/uvh5_utils.py) creates its /Data
# datasets empty with an unlimited row axis and h5py's automatic chunks,
# which split frequency and polarization into pieces of 6-12 KB, and grows
# them one integration at a time. This script simulates one full-size
# group in our own layout (uvm-sim: one chunk per integration, flags and
# nsamples LZF), copies every file with the writer's chunking
# (tests/dsa110_file.py --writer-chunks --rechunk: same values, only the
# storage differs) and times, from the page cache, medians of `runs`
# (default 3):
#   - uvm-verify of one subband in each layout against `cat` of that file;
#   - uvm-combine of each group against `cat` of that group;
#   - uvm-verify of the combined product (LZF flags and nsamples) against
#     `cat` of it;
# with the peak RSS of every program (GNU time). Results in
# bench/results/chunking.txt. BENCH_DIR (default /var/tmp) holds ~4 GB of
# scratch data, removed at the end; BENCH_GROUP names a directory holding
# a uvm-sim -N 0 group already (left alone) to save simulating one. On a
# loaded machine compare the CPU seconds (user + system), reported too.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
usage='usage: bench/bench-chunking.sh [-r runs]'
runs=3
while getopts r:h opt; do
	case $opt in
	r) runs=$OPTARG ;;
	h) echo "$usage"; exit 0 ;;
	*) echo "$usage" >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { echo "$usage" >&2; exit 64; }
command -v uvm-combine >/dev/null || { echo "bench-chunking: programs not built (make)" >&2; exit 69; }
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/bench-chunking.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
OUT=bench/results/chunking.txt
mkdir -p bench/results "$W/writer"

if [ -n "${BENCH_GROUP:-}" ]; then
	ln -s "$(cd "$BENCH_GROUP" && pwd)" "$W/own"
else
	mkdir "$W/own"
	uvm-sim -N 0 -o "$W/own" >/dev/null
fi
for f in "$W"/own/*.hdf5; do
	/usr/bin/python3 tests/dsa110_file.py --writer-chunks --rechunk "$f" "$W/writer/${f##*/}"
done
own1=$(ls "$W"/own/*.hdf5 | head -1)
wri1="$W/writer/${own1##*/}"
chunks=$(h5dump -p -H -d /Data/visdata "$wri1" | awk '/CHUNKED/ { $1 = ""; print; exit }')
for l in own writer; do
	uvm-verify "$W/$l/${own1##*/}" >/dev/null # the copy is valid; warms the cache
	cat "$W"/$l/*.hdf5 >/dev/null
done

# timed LABEL CMD...: run CMD under GNU time, append "seconds rss_kb
# cpu_seconds" to $W/t.LABEL.
timed() {
	lab=$1
	shift
	/usr/bin/time -f '%e %M %U %S' -o "$W/time" "$@" >/dev/null
	awk '{ print $1, $2, $3 + $4 }' "$W/time" >>"$W/t.$lab"
}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
	for l in own writer; do
		timed cat1_$l cat "$W/$l/${own1##*/}"
		timed verify_$l uvm-verify "$W/$l/${own1##*/}"
		timed catg_$l cat "$W"/$l/*.hdf5
		rm -f "$W/out.uvh5"
		timed combine_$l uvm-combine -o "$W/out.uvh5" "$W"/$l/*.hdf5
	done
	# the product: UVH5 1.2, flags and nsamples LZF, one chunk an integration
	timed cat_prod cat "$W/out.uvh5"
	timed verify_prod uvm-verify "$W/out.uvh5"
done
med() { awk '{ print $1 }' "$W/t.$1" | median; }
cpumed() { awk '{ print $3 }' "$W/t.$1" | median; }
rss() { awk '{ print $2 }' "$W/t.$1" | sort -n | tail -1; }

{
	bench_header "bench-chunking: uvm-verify and uvm-combine on the writer's chunking vs ours, medians of $runs, page cache warm"
	echo "# group: 16 subbands of uvm-sim -N 0; load average at the start: $load0"
	echo "# own: $(du -sbL "$W/own" | cut -f1) bytes; writer: $(du -sb "$W/writer" | cut -f1) bytes; writer's visdata chunks:$chunks"
	for l in own writer; do
		awk -v l=$l -v c1="$(med cat1_$l)" -v v="$(med verify_$l)" -v vr="$(rss verify_$l)" \
		    -v cg="$(med catg_$l)" -v m="$(med combine_$l)" -v mr="$(rss combine_$l)" \
		    -v c1c="$(cpumed cat1_$l)" -v vc="$(cpumed verify_$l)" -v cgc="$(cpumed catg_$l)" \
		    -v mc="$(cpumed combine_$l)" 'BEGIN {
			printf "%s_cat_subband_s=%.3f\n", l, c1
			printf "%s_verify_s=%.3f\n", l, v
			printf "%s_verify_over_cat=%.2f\n", l, v / c1
			printf "%s_verify_peak_rss_MB=%.0f\n", l, vr / 1024
			printf "%s_cat_subband_cpu_s=%.3f\n", l, c1c
			printf "%s_verify_cpu_s=%.3f\n", l, vc
			printf "%s_cat_group_s=%.3f\n", l, cg
			printf "%s_combine_s=%.2f\n", l, m
			printf "%s_combine_over_cat=%.2f\n", l, m / cg
			printf "%s_combine_peak_rss_MB=%.0f\n", l, mr / 1024
			printf "%s_cat_group_cpu_s=%.3f\n", l, cgc
			printf "%s_combine_cpu_s=%.2f\n", l, mc
		}'
	done
	awk -v c="$(med cat_prod)" -v v="$(med verify_prod)" -v cc="$(cpumed cat_prod)" \
	    -v vc="$(cpumed verify_prod)" -v r="$(rss verify_prod)" 'BEGIN {
		printf "product_cat_s=%.3f\nproduct_verify_s=%.3f\nproduct_verify_over_cat=%.2f\n", c, v, v / c
		printf "product_cat_cpu_s=%.3f\nproduct_verify_cpu_s=%.3f\n", cc, vc
		printf "product_verify_peak_rss_MB=%.0f\n", r / 1024
	}'
	awk -v a="$(med verify_writer)" -v b="$(med verify_own)" -v c="$(med combine_writer)" \
	    -v d="$(med combine_own)" 'BEGIN {
		printf "verify_writer_over_own=%.2f\n", a / b
		printf "combine_writer_over_own=%.2f\n", c / d
	}'
	echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"
