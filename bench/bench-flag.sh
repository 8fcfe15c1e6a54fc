#!/bin/sh
# bench-flag.sh: uvm-flag on one full-size DSA-110 group (uvm-sim
# defaults: 96 antennas, 16 x 48 channels, 24 integrations, 2 pols) with
# every defect injected (uvm-sim -D all), combined once.
#
# Per rep, in the same run: cat of the combined file (the bytes), uvm-dump
# -d (uvmake's reader over every dataset), and uvm-flag on all cores,
# whose own timings split reading, statistics, AOFlagger and writing.
# Throughput: visibilities (Nblts x Nfreqs x Npols) per second per core
# for the statistics + AOFlagger phases (wall x threads). Then uvm-flag -j 1
# once (single-core throughput) and one score against the injected mask
# (tests/flag-score.sh: recall, false flags, dead/bad antennas).
# REPS runs (default 3), medians. Writes bench/results/flag.txt.
#
# Peak RSS is measured on the default run (all cores): the group is held
# as amplitudes and flags, 5 bytes a sample (flag_run.c).
#
# Environment: BENCH_TMP (default /work/tmp-bench), REPS, KEEP=1,
# SIM_ARGS (e.g. SIM_ARGS="-a 16 -s 4 -c 24" to try the script quickly),
# VIS and TRUTH (an already combined group simulated with -D all and its
# truth file, to skip the simulation).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
root=$(pwd)
out=bench/results/flag.txt
reps=${REPS:-3}
mkdir -p "${BENCH_TMP:-/work/tmp-bench}"
tmp=$(mktemp -d "${BENCH_TMP:-/work/tmp-bench}/flag.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/bin"
cp -p bin/uvm-* "$tmp/bin/"
export PATH="$tmp/bin:$PATH" UVM_ROOT="$root"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
ncpu=$(nproc)

if [ -n "${VIS:-}" ]; then
	ln -s "$(realpath "$VIS")" "$tmp/vis.uvh5"
	cp "$TRUTH" "$tmp/truth.json"
else
	uvm-sim ${SIM_ARGS:-} -D all -R "$tmp/truth.json" -o "$tmp/sim" >/dev/null
	uvm-combine -o "$tmp/vis.uvh5" "$tmp"/sim/*.hdf5
	rm -rf "$tmp/sim"
fi
bytes=$(wc -c <"$tmp/vis.uvh5")
nvis=$(uvm-dump "$tmp/vis.uvh5" | awk -F= '$1=="Nblts"{b=$2} $1=="Nfreqs"{f=$2} $1=="Npols"{p=$2} END{print b*f*p}')

: >"$tmp/rec"
for r in $(seq 1 "$reps"); do
	cat_s=$(elapsed sh -c "cat '$tmp/vis.uvh5' >/dev/null")
	dump_s=$(elapsed uvm-dump -d "$tmp/vis.uvh5")
	t0=$(now_s)
	line=$(uvm-flag -r "$tmp/report.json" -o "$tmp/out.uvh5" "$tmp/vis.uvh5")
	wall=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN{printf "%.3f", b-a}')
	echo "$cat_s $dump_s $wall $line" | tr '=' ' ' |
		awk '{print $1, $2, $3, $5, $7, $9, $11}' >>"$tmp/rec"
	rm -f "$tmp/out.uvh5"
done
col() { awk -v c="$1" '{print $c}' "$tmp/rec" | median; }
cat_s=$(col 1) dump_s=$(col 2) wall=$(col 3) read_s=$(col 4) stats_s=$(col 5)
ao_s=$(col 6) write_s=$(col 7)
line1=$(uvm-flag -j 1 -o "$tmp/out1.uvh5" "$tmp/vis.uvh5" | tr '=' ' ')
ao1_s=$(echo "$line1" | awk '{print $6}')
stats1_s=$(echo "$line1" | awk '{print $4}')
score=$(tests/flag-score.sh "$tmp/out1.uvh5" "$tmp/truth.json")
rss=$(peak_rss_kb uvm-flag -o "$tmp/out2.uvh5" "$tmp/vis.uvh5")
same=no
cmp -s "$tmp/out1.uvh5" "$tmp/out2.uvh5" && same=yes

{
	bench_header "uvm-flag on one full-size group with every defect (bench/bench-flag.sh)"
	echo "# load before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg); reps: $reps (medians); sim: ${SIM_ARGS:-defaults} -D all${VIS:+ (given: $VIS)}"
	echo "# aoflagger: $(jq -r .aoflagger_version "$tmp/report.json"), strategy ops/aoflagger/dsa110.lua"
	echo "group_bytes $bytes"
	echo "visibilities $nvis"
	echo "cat_s $cat_s"
	echo "uvm_dump_read_s $dump_s"
	echo "uvm_flag_wall_s $wall (threads $ncpu)"
	echo "uvm_flag_read_s $read_s"
	echo "uvm_flag_stats_s $stats_s"
	echo "uvm_flag_aoflagger_s $ao_s"
	echo "uvm_flag_write_s $write_s"
	awk -v n="$nvis" -v s="$stats_s" -v a="$ao_s" -v c="$ncpu" 'BEGIN {
		printf "flag_throughput_vis_per_s_per_core %.3g (statistics + AOFlagger, wall x %d threads)\n", n / ((s + a) * c), c
		printf "aoflagger_throughput_vis_per_s_per_core %.3g\n", n / (a * c) }'
	awk -v n="$nvis" -v s="$stats1_s" -v a="$ao1_s" 'BEGIN {
		printf "single_thread: stats_s %.3f aoflagger_s %.3f, %.3g vis/s\n", s, a, n / (s + a) }'
	echo "read_vis_per_s $(awk -v n="$nvis" -v r="$read_s" 'BEGIN{printf "%.3g", n / r}') (uvm-flag's own read)"
	echo "peak_rss_kb $rss (group held as amplitudes + flags: $(awk -v n="$nvis" 'BEGIN{printf "%.0f", n * 5 / 1024}') kB)"
	echo "same_output_1_vs_${ncpu}_threads $same"
	echo "score $score"
	echo "flagged $(jq -c '{flagged_fraction, flagged_by, dead: [.dead_antennas[].antenna], bad: [.bad_antennas[].antenna], bad_channels, bad_integrations}' "$tmp/report.json")"
	echo "injected $(jq -c '.defects | {dead_antennas, bad_antennas, rfi_channels: [.rfi_channels[].channel], bursts: [.rfi_bursts[].time], baseline_events: (.rfi_baselines | length)}' "$tmp/truth.json")"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
