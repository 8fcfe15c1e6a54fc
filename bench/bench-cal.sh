#!/bin/sh
# bench-cal.sh: uvm-calsolve and uvm-calapply on one full-size DSA-110
# calibrator group (uvm-sim defaults: 96 antennas in the real layout, 16 x
# 48 channels, 24 integrations, 2 pols; 3C48 transiting, -D all: delays up
# to 2 us, RFI, ripple, a dead and a garbage antenna), combined once.
#
# Per rep, in the same run: cat of the combined file (the bytes, from the
# page cache), uvm-calsolve on all cores, uvm-calapply on all cores (which
# writes and fsyncs the whole group again), each under GNU time: wall,
# user + sys CPU seconds, CPU% and peak RSS. Then uvm-calsolve -t 1 and
# uvm-calapply -t 1 once (the single-core figures) and a check that the
# tables and the calibrated files of 1 and N threads are identical.
# REPS runs (default 3), medians. Writes bench/results/cal.txt.
#
# Environment: BENCH_TMP (default /work/tmp-bench), REPS, KEEP=1, VIS (an
# already combined calibrator group with 3C48 transiting, to skip the
# 5-10 minutes of simulation), SIM_ARGS (e.g. "-a 24 -s 4 -c 24" to try
# the script quickly).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
root=$(pwd)
out=bench/results/cal.txt
reps=${REPS:-3}
mkdir -p "${BENCH_TMP:-/work/tmp-bench}" bench/results
tmp=$(mktemp -d "${BENCH_TMP:-/work/tmp-bench}/cal.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/bin" "$tmp/home"
cp -p bin/uvm-* "$tmp/bin/"
export PATH="$tmp/bin:$PATH" UVM_ROOT="$root"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
ncpu=$(nproc)

if [ -n "${VIS:-}" ]; then
	vis=$VIS
else
	uvm-sim ${SIM_ARGS:-} -N 0 -K ops/calibrators.csv -k 3C48 -C 0 -D all -o "$tmp/sim" >/dev/null
	uvm-combine -o "$tmp/vis.uvh5" "$tmp"/sim/*.hdf5
	rm -rf "$tmp/sim"
	vis=$tmp/vis.uvh5
fi
bytes=$(wc -c <"$vis")
# speed, not quality: a table the gate would reject is still written, so
# that uvm-calapply has one to apply (the simulated group passes anyway)
printf 'CAL_MIN_SNR=0\nCAL_MAX_FLAGGED=1\nCAL_MIN_GOOD_ANTPOL=0\n' >"$tmp/home/uvmake.conf"

# timed NAME CMD...: run CMD under GNU time, append "wall cpu cpu% rss_kb"
# to $tmp/NAME.
timed() {
	n=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" ||
		{ cat "$tmp/err" >&2; return 1; }
	awk '{ cpu = $2 + $3; printf "%s %.2f %.0f %s\n", $1, cpu, 100 * cpu / $1, $4 }' \
		"$tmp/time" >>"$tmp/$n"
}

cat "$vis" >/dev/null
for r in $(seq 1 "$reps"); do
	echo "$(elapsed cat "$vis")" >>"$tmp/cat"
	timed solve uvm-calsolve -D "$tmp/home" -g bench -k 3C48 -o "$tmp/N.cal.h5" "$vis"
	timed apply uvm-calapply -c "$tmp/N.cal.h5" -o "$tmp/N.uvh5" "$vis"
	[ "$r" = "$reps" ] || rm -f "$tmp/N.uvh5"
done
timed solve1 uvm-calsolve -t 1 -D "$tmp/home" -g bench -k 3C48 -o "$tmp/1.cal.h5" "$vis"
timed apply1 uvm-calapply -t 1 -c "$tmp/N.cal.h5" -o "$tmp/1.uvh5" "$vis"
# the same table and the same calibrated bytes for 1 and N threads
# (created time apart)
same_table=no
if h5diff --exclude-attribute / "$tmp/1.cal.h5" "$tmp/N.cal.h5" >/dev/null; then
	same_table=yes
fi
same_vis=no
cmp -s "$tmp/1.uvh5" "$tmp/N.uvh5" && same_vis=yes

col() { awk -v c="$2" '{ print $c }' "$tmp/$1" | median; }
{
	bench_header "uvm-calsolve and uvm-calapply on one full-size calibrator group (bench/bench-cal.sh)"
	echo "# load before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg); reps: $reps (medians)"
	echo "# sim: ${SIM_ARGS:-defaults} -N 0 -k 3C48 -C 0 -D all${VIS:+ (given: $VIS)}"
	echo "# cpu_s = user + sys; cpu% = cpu_s / wall (200 = both cores busy)"
	echo "group_bytes $bytes"
	echo "cat_s $(col cat 1)"
	printf '%-22s %8s %8s %6s %12s\n' stage wall_s cpu_s cpu% peak_rss_kb
	for s in solve solve1 apply apply1; do
		case $s in
		solve) name="uvm-calsolve (-t $ncpu)" ;;
		solve1) name="uvm-calsolve -t 1" ;;
		apply) name="uvm-calapply (-t $ncpu)" ;;
		apply1) name="uvm-calapply -t 1" ;;
		esac
		printf '%-22s %8s %8s %6s %12s\n' "$name" "$(col $s 1)" "$(col $s 2)" \
			"$(col $s 3)" "$(col $s 4)"
	done
	echo "calsolve_vs_cat $(awk -v a="$(col solve 1)" -v b="$(col cat 1)" 'BEGIN{printf "%.0f", a / b}')x"
	echo "calapply_vs_cat $(awk -v a="$(col apply 1)" -v b="$(col cat 1)" 'BEGIN{printf "%.0f", a / b}')x"
	echo "same_table_1_vs_${ncpu}_threads $same_table (datasets; attributes not compared)"
	echo "same_calibrated_bytes_1_vs_${ncpu}_threads $same_vis"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
