#!/bin/sh
# bench-chain.sh: the whole science chain on one full-size DSA-110 group
# (uvm-sim defaults: 96 antennas, 16 subbands of 48 channels, 24
# integrations, ~97 MB a subband file; 3C48 transiting, so the group is
# also a calibrator group). Each stage alone, with its wall time and peak
# RSS and CPU% ((user + sys) / wall x 100: 200 is both cores busy):
# uvm-verify on the 16 files (sums of the walls and CPU, largest RSS),
# uvm-combine, uvm-flag, uvm-calsolve, uvm-calapply, uvm-image at NPIX
# (default 0: the program's own size, the primary beam to its first null;
# 2048 is the deployment's IMAGE_NPIX) with the PB-corrected image and
# FFTW MEASURE wisdom made beforehand, uvm-sources, uvm-qa; then end to
# end through uvm-make (JOBS=2), twice: the group as a TARGET group (its
# table already registered, no calibrator catalogue) and as the
# CALIBRATOR group it is (the catalogue, no table: calsolve runs in the
# chain); each time the 16 files copied into incoming/ and timed until
# qa.json exists, with the wall and CPU% of every stage's jobs from the
# wrapper's records. Reference in the same run:
# reading the 16 files once with cat, cold (page cache dropped, when
# /proc/sys/vm/drop_caches is writable) and warm; and the machine's CPU
# speed at the time, gzip -1 of one subband file on one core (cpu_ref: a
# shared VM's speed drifts by a third within an hour, which neither cat
# nor the load average shows; compare runs by it). Gridding throughput in
# visibilities per second per core from uvm-image's debug timings.
# REPS runs (default 3), medians reported. Writes bench/results/chain.txt.
#
# Environment: BENCH_TMP (default /work/tmp-bench) for the ~10 GB of data;
# NPIX; REPS; KEEP=1 keeps the data; E2E=target or calibrator (default
# both); SIM_ARGS (uvm-sim options, e.g. a
# small group to try the script: SIM_ARGS="-a 8 -s 4 -c 4 -t 3" NPIX=128);
# CONF_EXTRA (config lines for the end-to-end deployment, e.g.
# "IMAGE_BEAM_SLICES=1") with IMAGE_ARGS (the same as uvm-image options
# for the stage alone, e.g. "-K 1"); OUT (default bench/results/chain.txt).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
root=$(pwd)
out=${OUT:-bench/results/chain.txt}
npix=${NPIX:-0}
e2e_kinds=${E2E:-target calibrator}
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
files=$*
bytes=$(cat "$@" | wc -c)
uvm-init "$tmp/home" >/dev/null
printf '# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index\n' >"$tmp/none.csv"

# timed STAGE CMD...: run CMD, append "STAGE wall rss_kb cpu_s" to the
# rep's record
timed() {
	stage=$1
	shift
	/usr/bin/time -f "%e %M %U %S" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" ||
		{ echo "bench-chain: $stage failed:" >&2; tail -3 "$tmp/err" >&2; exit 1; }
	awk -v s="$stage" '{print s, $1, $2, $3 + $4}' "$tmp/time" >>"$tmp/rec"
}

# cat_s: seconds to read the 16 files once (through a pipe)
readall() { cat "$@" | wc -c; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; }
cpuref() { gzip -1 -c "$1" | wc -c; }

# The FFTW wisdom for the image size, made once, outside the timings.
uvm-combine -o "$tmp/vis.uvh5" "$@"
uvm-image -n "$npix" -i 0 -w "$tmp/wisdom" -o "$tmp/image.fits" "$tmp/vis.uvh5" 2>"$tmp/err"
# the size the program chose, for the header
isize=$(sed -n 's/.*info: .image \([0-9]*\) x \([0-9]*\) of \([0-9.]*\) arcsec.*/\1x\2 of \3 arcsec (auto)/p' "$tmp/err" | head -n 1)
[ -n "$isize" ] || isize=$(sed -n "s/.*'[^']*': \([0-9]*x[0-9]*\), cell \([0-9.]*\) arcsec.*/\1 of \2 arcsec/p" "$tmp/err" | head -n 1)
rm -f "$tmp/vis.uvh5" "$tmp/image.fits"

# e2e KIND: the chain end to end through uvm-make for the group as a
# target group (KIND target: its table registered beforehand, no
# calibrator catalogue) or as a calibrator group (KIND calibrator: the
# operators' catalogue, no table: calsolve is one of the jobs); records
# e2e_KIND_* rows (copy, make, total, cycles, every stage's job walls,
# CPU seconds and largest RSS from the wrapper's records)
e2e() {
	e=$tmp/e2e
	rm -rf "$e"
	uvm-init "$e" >/dev/null
	cp "$tmp/wisdom" "$e/state/fftw.wisdom"
	if [ "$1" = target ]; then
		uvm-combine -o "$tmp/vis.uvh5" $files
		uvm-flag -D "$e" -o "$tmp/flag.uvh5" "$tmp/vis.uvh5" 2>>"$tmp/e2e.log"
		uvm-calsolve -D "$e" -g T0 -o "$e/caltables/T0.cal.h5" "$tmp/flag.uvh5" 2>>"$tmp/e2e.log" ||
			{ echo "bench-chain: no table for the end-to-end run" >&2; tail -3 "$tmp/e2e.log" >&2; exit 1; }
		rm -f "$tmp/vis.uvh5" "$tmp/flag.uvh5"
		cal=$tmp/none.csv
	else
		cal=$root/ops/calibrators.csv
	fi
	cat >>"$e/uvmake.conf" <<-CONF
	JOBS=2
	SUBBANDS=$nfiles
	IMAGE_NPIX=$npix
	IMAGE_FFTW_PLAN=measure
	CALIBRATORS=$cal
	RULES_DIR=$root/rules
	${CONF_EXTRA:-}
	CONF
	sync
	t0=$(now_s)
	cp $files "$e/incoming/"
	t1=$(now_s)
	n=0
	while [ ! -f "$e/products/$g/qa.json" ] && [ $n -lt 5 ]; do
		uvm-make -D "$e" >>"$tmp/e2e.log" 2>&1 || true
		n=$((n + 1))
	done
	t2=$(now_s)
	[ -f "$e/products/$g/qa.json" ] || { echo "bench-chain: end to end ($1) made no qa.json" >&2; tail "$tmp/e2e.log" >&2; exit 1; }
	echo "e2e_$1_copy $(echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}') 0" >>"$tmp/rec"
	echo "e2e_$1_make $(echo "$t1 $t2" | awk '{printf "%.3f", $2 - $1}') 0" >>"$tmp/rec"
	echo "e2e_$1_total $(echo "$t0 $t2" | awk '{printf "%.3f", $2 - $1}') 0" >>"$tmp/rec"
	echo "e2e_$1_cycles $n 0" >>"$tmp/rec"
	# the stage walls, CPU and RSS of the e2e jobs, from the wrapper's records
	sqlite3 "$e/state/pipeline.sqlite" \
		"select 'e2e_$1_job_' || stage, sum(ended - started), max(maxrss_kb), sum(cpu_s)
		 from jobs group by stage" 2>/dev/null | tr '|' ' ' >>"$tmp/rec" || true
	rm -rf "$e"
}

: >"$tmp/all"
r=0
while [ $r -lt "$reps" ]; do
	r=$((r + 1))
	: >"$tmp/rec"
	if drop; then
		echo "cat_cold $(elapsed readall "$@") 0" >>"$tmp/rec"
	fi
	echo "cat_warm $(elapsed readall "$@") 0" >>"$tmp/rec"
	# the machine's CPU speed now (a shared VM's drifts by half an hour
	# to the next, which cat does not see): gzip -1 of the first
	# subband file, one core, warm
	echo "cpu_ref $(elapsed cpuref "$1") 0" >>"$tmp/rec"
	# verify: one job a subband; the record is their sums and largest RSS
	vw=0 vr=0 vc=0
	for f in "$@"; do
		/usr/bin/time -f "%e %M %U %S" -o "$tmp/time" uvm-verify -q -o "$tmp/v.ok" "$f"
		read -r w k u sy <"$tmp/time"
		vw=$(echo "$vw $w" | awk '{print $1 + $2}')
		vc=$(echo "$vc $u $sy" | awk '{print $1 + $2 + $3}')
		[ "$k" -gt "$vr" ] && vr=$k
	done
	echo "verify_x$nfiles $vw $vr $vc" >>"$tmp/rec"
	timed combine uvm-combine -o "$tmp/vis.uvh5" "$@"
	timed flag uvm-flag -D "$tmp/home" -r "$tmp/flag.json" -o "$tmp/flag.uvh5" "$tmp/vis.uvh5"
	timed calsolve uvm-calsolve -D "$tmp/home" -g "$g" -o "$tmp/home/caltables/$g.cal.h5" "$tmp/flag.uvh5"
	timed calapply uvm-calapply -D "$tmp/home" -c "$tmp/home/caltables/$g.cal.h5" -o "$tmp/cal.uvh5" "$tmp/flag.uvh5"
	timed image env UVM_DEBUG=1 uvm-image ${IMAGE_ARGS:-} -n "$npix" -w "$tmp/wisdom" -p "$tmp/image.pb.fits" -o "$tmp/image.fits" "$tmp/cal.uvh5"
	# gridding: visibilities and cpu seconds from the debug log
	sed -n 's/.*debug: gridded and transformed \([0-9]*\) visibilities in [0-9]* sub-band(s): \([0-9.]*\) s cpu, \([0-9.]*\) s wall.*/grid_vis_per_cpu_s \1 \2 \3/p' \
		"$tmp/err" | awk '{printf "%s %.0f %.2f\n", $1, $2 / $3, $4}' >>"$tmp/rec"
	timed sources uvm-sources -o "$tmp/sources.json" "$tmp/image.pb.fits"
	timed qa uvm-qa -o "$tmp/qa.json" "$tmp/image.fits"
	rm -f "$tmp/vis.uvh5" "$tmp/flag.uvh5" "$tmp/cal.uvh5"

	for kind in $e2e_kinds; do
		e2e "$kind"
	done
	sed "s/^/$r /" "$tmp/rec" >>"$tmp/all"
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# med KEY COL: the median over the reps of column COL of KEY's rows
med() { awk -v k="$1" -v c="$2" '$2 == k {print $(c + 2)}' "$tmp/all" | median 2>/dev/null || echo -; }
{
	bench_header "uvm chain: one full-size group, stage by stage and end to end"
	echo "# group: $nfiles subband files, $bytes bytes (uvm-sim defaults, 3C48 transiting); image $isize, MEASURE wisdom"
	echo "# load average: at start $load0, at end $load1 (the machine is shared)"
	echo "# medians of $reps runs; wall seconds; rss peak resident set in MB"
	printf '%-28s %10s %8s %6s %7s\n' stage wall_s rss_MB cpu% cpu_s
	for k in cat_cold cat_warm cpu_ref "verify_x$nfiles" combine flag calsolve calapply image sources qa; do
		w=$(med "$k" 1)
		[ "$w" = - ] && continue
		k2=$(med "$k" 2)
		c=$(awk -v k="$k" '$2 == k && $3 > 0 && NF >= 5 {print 100 * $5 / $3}' "$tmp/all" | median 2>/dev/null || echo -)
		printf '%-28s %10s %8s %6s %7s\n' "$k" "$w" "$(echo "$k2" | awk '{printf "%.0f", $1 / 1024}')" \
			"$(echo "$c" | awk '$1 == "-" {print; next} {printf "%.0f", $1}')" "$(med "$k" 3)"
	done
	s=$(for k in "verify_x$nfiles" combine flag calapply image sources qa; do med "$k" 1; done | awk '{s += $1} END {printf "%.2f", s}')
	printf '%-28s %10s\n' "sum (target group, serial)" "$s"
	echo "# first gridding pass with its FFTs: $(med grid_vis_per_cpu_s 1) visibilities per cpu second (per core), wall $(med grid_vis_per_cpu_s 2) s"
	for kind in $e2e_kinds; do
		if [ "$kind" = target ]; then
			echo "# end to end through uvm-make (JOBS=2), target group, table registered:"
		else
			echo "# end to end through uvm-make (JOBS=2), calibrator group (calsolve in the chain):"
		fi
		printf '%-28s %10s\n' "copy $nfiles files to incoming" "$(med "e2e_${kind}_copy" 1)"
		printf '%-28s %10s\n' "uvm-make (qa.json, mosaic)" "$(med "e2e_${kind}_make" 1)"
		printf '%-28s %10s\n' "total (copy + make)" "$(med "e2e_${kind}_total" 1)"
		printf '%-28s %10s %8s %6s %7s  (jobs of the stage, from the wrapper records)\n' "" wall_s rss_MB cpu% cpu_s
		for k in $(awk '!/^#/ && NF { print $1 }' rules/stages); do
			w=$(med "e2e_${kind}_job_$k" 1)
			[ "$w" = - ] && continue
			c=$(awk -v k="e2e_${kind}_job_$k" '$2 == k && $3 > 0 {print 100 * $5 / $3}' "$tmp/all" | median 2>/dev/null || echo -)
			printf '%-28s %10.2f %8.0f %6s %7.1f\n' "  e2e $k" "$w" "$(med "e2e_${kind}_job_$k" 2 | awk '{print $1 / 1024}')" \
				"$(echo "$c" | awk '$1 == "-" {print; next} {printf "%.0f", $1}')" "$(med "e2e_${kind}_job_$k" 3)"
		done
		tot=$(med "e2e_${kind}_total" 1)
		lim=60
		[ "$kind" = target ] || lim=90
		echo "# goal: whole chain under $lim s on 2 cores for a $kind group: $(echo "$tot $lim" | awk '{print ($1 < $2) ? "met" : "NOT met"}') ($tot s)"
	done
	echo "# reproduce: bench/bench-chain.sh (env: NPIX=${NPIX:-0} REPS=$reps E2E=\"$e2e_kinds\"${SIM_ARGS:+ SIM_ARGS=\"$SIM_ARGS\"}${CONF_EXTRA:+ CONF_EXTRA=\"$CONF_EXTRA\" IMAGE_ARGS=\"${IMAGE_ARGS:-}\"})"
} | tee "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
