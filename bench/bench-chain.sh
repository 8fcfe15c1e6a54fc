#!/bin/sh
# bench-chain.sh: the whole science chain on one full-size DSA-110 group
# (uvm-sim defaults: 96 antennas, 16 subbands of 48 channels, 24
# integrations, ~97 MB a subband file; 3C48 transiting, so the group is
# also a calibrator group). Each stage alone, with its wall time and peak
# RSS: uvm-verify on the 16 files (sum of the walls, largest RSS),
# uvm-combine, uvm-flag, uvm-calsolve, uvm-calapply, uvm-image at NPIX
# (default 2048, the deployment default; 0: the primary beam to its first
# null) with the PB-corrected image and FFTW MEASURE wisdom made
# beforehand, uvm-sources, uvm-qa; then end to end
# through uvm-make (JOBS=2) for the same group as a TARGET group (its table
# already registered, no calibrator catalogue): the 16 files copied into
# incoming/, timed until qa.json exists. Reference in the same run:
# reading the 16 files once with cat, cold (page cache dropped, when
# /proc/sys/vm/drop_caches is writable) and warm. Gridding throughput in
# visibilities per second per core from uvm-image's debug timings.
# REPS runs (default 3), medians reported. Writes bench/results/chain.txt.
#
# Environment: BENCH_TMP (default /work/tmp-bench) for the ~10 GB of data;
# NPIX; REPS; KEEP=1 keeps the data; SIM_ARGS (uvm-sim options, e.g. a
# small group to try the script: SIM_ARGS="-a 8 -s 4 -c 4 -t 3" NPIX=128).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
root=$(pwd)
out=bench/results/chain.txt
npix=${NPIX:-2048}
reps=${REPS:-3}
mkdir -p "${BENCH_TMP:-/work/tmp-bench}"
tmp=$(mktemp -d "${BENCH_TMP:-/work/tmp-bench}/chain.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
# the programs copied once, so a rebuild of bin/ during the runs changes
# nothing measured (the rules stay the tree's: RULES_DIR below)
mkdir "$tmp/bin"
cp -p bin/uvm-* "$tmp/bin/"
export PATH="$tmp/bin:$PATH" UVM_ROOT="$root"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

uvm-sim ${SIM_ARGS:-} -N 10 -n 0.5 -K ops/calibrators.csv -k 3C48 -C 0 -R "$tmp/truth.json" -o "$tmp/sim" >/dev/null
g=$(jq -r '.groups[0].id' "$tmp/truth.json")
set -- "$tmp"/sim/*.hdf5
nfiles=$#
bytes=$(cat "$@" | wc -c)
uvm-init "$tmp/home" >/dev/null
printf '# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index\n' >"$tmp/none.csv"

# timed STAGE CMD...: run CMD, append "STAGE wall rss_kb" to the rep's record
timed() {
	stage=$1
	shift
	/usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" ||
		{ echo "bench-chain: $stage failed:" >&2; tail -3 "$tmp/err" >&2; exit 1; }
	echo "$stage $(cat "$tmp/time")" >>"$tmp/rec"
}

# cat_s: seconds to read the 16 files once (through a pipe)
readall() { cat "$@" | wc -c; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; }

# The FFTW wisdom for the image size, made once, outside the timings.
uvm-combine -o "$tmp/vis.uvh5" "$@"
uvm-image -n "$npix" -i 0 -w "$tmp/wisdom" -o "$tmp/image.fits" "$tmp/vis.uvh5" 2>/dev/null
rm -f "$tmp/vis.uvh5" "$tmp/image.fits"

: >"$tmp/all"
r=0
while [ $r -lt "$reps" ]; do
	r=$((r + 1))
	: >"$tmp/rec"
	if drop; then
		echo "cat_cold $(elapsed readall "$@") 0" >>"$tmp/rec"
	fi
	echo "cat_warm $(elapsed readall "$@") 0" >>"$tmp/rec"
	# verify: one job a subband; the record is their sum and largest RSS
	vw=0 vr=0
	for f in "$@"; do
		/usr/bin/time -f "%e %M" -o "$tmp/time" uvm-verify -q -o "$tmp/v.ok" "$f"
		read -r w k <"$tmp/time"
		vw=$(echo "$vw $w" | awk '{print $1 + $2}')
		[ "$k" -gt "$vr" ] && vr=$k
	done
	echo "verify_x$nfiles $vw $vr" >>"$tmp/rec"
	timed combine uvm-combine -o "$tmp/vis.uvh5" "$@"
	timed flag uvm-flag -D "$tmp/home" -r "$tmp/flag.json" -o "$tmp/flag.uvh5" "$tmp/vis.uvh5"
	timed calsolve uvm-calsolve -D "$tmp/home" -g "$g" -o "$tmp/home/caltables/$g.cal.h5" "$tmp/flag.uvh5"
	timed calapply uvm-calapply -D "$tmp/home" -c "$tmp/home/caltables/$g.cal.h5" -o "$tmp/cal.uvh5" "$tmp/flag.uvh5"
	timed image env UVM_DEBUG=1 uvm-image -n "$npix" -w "$tmp/wisdom" -p "$tmp/image.pb.fits" -o "$tmp/image.fits" "$tmp/cal.uvh5"
	# gridding: visibilities and cpu seconds from the debug log
	sed -n 's/.*debug: gridded \([0-9]*\) visibilities: \([0-9.]*\) s cpu, \([0-9.]*\) s wall.*/grid_vis_per_cpu_s \1 \2 \3/p' \
		"$tmp/err" | awk '{printf "%s %.0f %.2f\n", $1, $2 / $3, $4}' >>"$tmp/rec"
	timed sources uvm-sources -o "$tmp/sources.json" "$tmp/image.pb.fits"
	timed qa uvm-qa -o "$tmp/qa.json" "$tmp/image.fits"
	rm -f "$tmp/vis.uvh5" "$tmp/flag.uvh5" "$tmp/cal.uvh5"

	# end to end: a fresh deployment, the table registered, the files land
	e=$tmp/e2e
	rm -rf "$e"
	uvm-init "$e" >/dev/null
	cp "$tmp/wisdom" "$e/state/fftw.wisdom"
	uvm-combine -o "$tmp/vis.uvh5" "$@"
	uvm-flag -D "$e" -o "$tmp/flag.uvh5" "$tmp/vis.uvh5" 2>>"$tmp/e2e.log"
	uvm-calsolve -D "$e" -g T0 -o "$e/caltables/T0.cal.h5" "$tmp/flag.uvh5" 2>>"$tmp/e2e.log" ||
		{ echo "bench-chain: no table for the end-to-end run" >&2; tail -3 "$tmp/e2e.log" >&2; exit 1; }
	# no calibrator catalogue from here on: the group is a target group
	cat >>"$e/uvmake.conf" <<-CONF
	JOBS=2
	SUBBANDS=$nfiles
	IMAGE_NPIX=$npix
	IMAGE_FFTW_PLAN=measure
	CALIBRATORS=$tmp/none.csv
	RULES_DIR=$root/rules
	CONF
	rm -f "$tmp/vis.uvh5" "$tmp/flag.uvh5"
	sync
	t0=$(now_s)
	cp "$@" "$e/incoming/"
	t1=$(now_s)
	n=0
	while [ ! -f "$e/products/$g/qa.json" ] && [ $n -lt 5 ]; do
		uvm-make -D "$e" >>"$tmp/e2e.log" 2>&1 || true
		n=$((n + 1))
	done
	t2=$(now_s)
	[ -f "$e/products/$g/qa.json" ] || { echo "bench-chain: end to end made no qa.json" >&2; tail "$tmp/e2e.log" >&2; exit 1; }
	echo "e2e_copy $(echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}') 0" >>"$tmp/rec"
	echo "e2e_make $(echo "$t1 $t2" | awk '{printf "%.3f", $2 - $1}') 0" >>"$tmp/rec"
	echo "e2e_total $(echo "$t0 $t2" | awk '{printf "%.3f", $2 - $1}') 0" >>"$tmp/rec"
	echo "e2e_cycles $n 0" >>"$tmp/rec"
	# the stage walls of the e2e jobs, from the wrapper's records
	sqlite3 "$e/state/pipeline.sqlite" \
		"select 'e2e_job_' || stage, sum(ended - started), count(*) from jobs group by stage" 2>/dev/null |
		tr '|' ' ' >>"$tmp/rec" || true
	rm -rf "$e"
	sed "s/^/$r /" "$tmp/rec" >>"$tmp/all"
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# med KEY COL: the median over the reps of column COL of KEY's rows
med() { awk -v k="$1" -v c="$2" '$2 == k {print $(c + 2)}' "$tmp/all" | median 2>/dev/null || echo -; }
{
	bench_header "uvm chain: one full-size group, stage by stage and end to end"
	echo "# group: $nfiles subband files, $bytes bytes (uvm-sim defaults, 3C48 transiting); image ${npix}x${npix}, MEASURE wisdom"
	echo "# load average: at start $load0, at end $load1 (the machine is shared)"
	echo "# medians of $reps runs; wall seconds; rss peak resident set in MB"
	printf '%-28s %10s %8s\n' stage wall_s rss_MB
	for k in cat_cold cat_warm "verify_x$nfiles" combine flag calsolve calapply image sources qa; do
		w=$(med "$k" 1)
		[ "$w" = - ] && continue
		k2=$(med "$k" 2)
		printf '%-28s %10s %8s\n' "$k" "$w" "$(echo "$k2" | awk '{printf "%.0f", $1 / 1024}')"
	done
	s=$(for k in "verify_x$nfiles" combine flag calapply image sources qa; do med "$k" 1; done | awk '{s += $1} END {printf "%.2f", s}')
	printf '%-28s %10s\n' "sum (target group, serial)" "$s"
	echo "# gridding: $(med grid_vis_per_cpu_s 1) visibilities per cpu second (per core), grid wall $(med grid_vis_per_cpu_s 2) s"
	echo "# end to end through uvm-make (JOBS=2), target group, table registered:"
	printf '%-28s %10s\n' "copy $nfiles files to incoming" "$(med e2e_copy 1)"
	printf '%-28s %10s\n' "uvm-make (qa.json, mosaic)" "$(med e2e_make 1)"
	printf '%-28s %10s\n' "total (copy + make)" "$(med e2e_total 1)"
	for k in $(awk '!/^#/ && NF { print $1 }' rules/stages); do
		w=$(med "e2e_job_$k" 1)
		[ "$w" = - ] || printf '%-28s %10.2f  (sum of job walls in the wrapper records)\n' "  e2e $k" "$w"
	done
	tot=$(med e2e_total 1)
	echo "# goal: whole chain under 60 s on 2 cores for a target group: $(echo "$tot" | awk '{print ($1 < 60) ? "met" : "NOT met"}') ($tot s)"
} | tee "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
