#!/bin/sh
# bench-image.sh: uvm-image on one full-size group (96 antennas, 16 x 48
# channels, 24 integrations: 84 M Stokes I samples, 1.4 GB combined):
# wall time, CPU time and CPU% of the whole run and of each phase (read
# into the store, first gridding, FFTs, CLEAN's minor cycles, the major
# cycles' degridding and gridding), peak RSS, the number of major cycles
# and the gridding throughput (visibilities gridded or degridded per
# CPU-second, i.e. per core), at 2048^2 (MEASURE plans made from scratch,
# then reused from the wisdom; on 1 thread and on all) and 4096^2 (wisdom
# made then reused). The reference, in the same run, is reading the input
# once (cat through a pipe). Writes bench/results/image.txt.
#
# Environment: BENCH_TMP (default /tmp) for the ~3 GB of data; VIS=path
# images that combined file instead of simulating one; KEEP=1 keeps the
# data; SIZES (default "2048 4096").
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
out=bench/results/image.txt
tmp=$(mktemp -d "${BENCH_TMP:-/tmp}/uvm-bench-image.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM

if [ -n "${VIS:-}" ]; then
	set -- "$VIS"
else
	uvm-sim -N 10 -n 0.5 -G 0 -R "$tmp/truth.json" -o "$tmp/sim" >/dev/null
	uvm-combine -o "$tmp/vis.uvh5" "$tmp"/sim/*.hdf5
	rm -rf "$tmp/sim"
	set -- "$tmp/vis.uvh5"
fi
input="one combined file, $(du -m "$1" | cut -f1) MB"

# lap NAME: "cpu wall" seconds of the debug line "NAME...: C s cpu, W s wall".
lap() {
	sed -n "s/.*debug: $1.*: \([0-9.]*\) s cpu, \([0-9.]*\) s wall.*/\1 \2/p" "$tmp/log" |
		awk '{c += $1; w += $2} END {printf "%.2f %.2f", c, w}'
}

# cw C W: "C/W s (P%)": cpu, wall and cpu% of a phase.
cw() {
	awk -v c="$1" -v w="$2" 'BEGIN {printf "%.1f/%.1f s (%3.0f%%)", c, w, (w > 0 ? 100 * c / w : 0)}'
}

# run LABEL NPIX ARGS...: one imaging run; prints a result line.
run() {
	label=$1 npix=$2
	shift 2
	/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" \
		env UVM_DEBUG=1 uvm-image -n "$npix" -o "$tmp/img.fits" "$@" 2>"$tmp/log"
	read -r wall user sys rss <"$tmp/time"
	cpu=$(echo "$user $sys" | awk '{print $1 + $2}')
	set -- $(sed -n 's/.*major cycles: degrid \([0-9.]*\) s cpu, \([0-9.]*\) s wall; grid \([0-9.]*\) s cpu, \([0-9.]*\) s wall.*/\1 \2 \3 \4/p' "$tmp/log")
	deg_c=${1:-0} deg_w=${2:-0} grd_c=${3:-0} grd_w=${4:-0}
	set -- $(sed -n 's/.*major cycles: fft \([0-9.]*\) s cpu, \([0-9.]*\) s wall.*/\1 \2/p' "$tmp/log")
	mfft_c=${1:-0} mfft_w=${2:-0}
	nmaj=$(grep -c 'debug: major [0-9]* done' "$tmp/log" || true)
	nvis=$(sed -n 's/.*debug: gridded and transformed \([0-9]*\) visibilities.*/\1/p' "$tmp/log")
	avg=$(sed -n 's/.*info: averaging \([0-9]*\) channel.*/\1/p' "$tmp/log")
	set -- $(lap transformed)
	fft_c=$(echo "$1 $mfft_c" | awk '{print $1 + $2}') fft_w=$(echo "$2 $mfft_w" | awk '{print $1 + $2}')
	printf '%-26s wall %6.1f s, cpu %6.1f s (%3.0f%%), rss %5d MB, %d major cycles, %s channels averaged\n' \
		"$label" "$wall" "$cpu" "$(echo "$cpu $wall" | awk '{print 100 * $1 / $2}')" \
		$((rss / 1024)) "$nmaj" "$avg"
	printf '    plan+open %s | read %s | fft %s | clean %s\n' "$(cw $(lap planned))" \
		"$(cw $(lap read))" "$(cw "$fft_c" "$fft_w")" "$(cw $(lap minor))"
	printf '    per visibility, all passes: degrid (and weights) %s | grid %s | %.1f M vis per cpu-s\n' \
		"$(cw "$deg_c" "$deg_w")" "$(cw "$grd_c" "$grd_w")" \
		"$(echo "$nvis $nmaj $deg_c $grd_c" | awk '{print $1 * ($2 + 1) / ($3 + $4) / 1e6}')"
}

# reading the input once: through a pipe, so that cat cannot splice its
# way around the copy
readall() { cat "$@" | wc -c; }
sync
cat_s=$(elapsed readall "$@")
{
	bench_header "uvm-image: one full-size group, 2048^2 and 4096^2"
	echo "# input: $input; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# reference: reading the input once (cat | wc -c, page cache warm): ${cat_s} s"
	echo "# phases: cpu/wall seconds (cpu% = cpu/wall; 200% is both cores); clean: the"
	echo "# minor cycles; degrid: per-visibility weights, kernel placement and, in the"
	echo "# major cycles, the model's degridding; grid: spreading onto the grids"
	for n in ${SIZES:-2048 4096}; do
		run "$n MEASURE, no wisdom" "$n" -w "$tmp/wisdom" "$@"
		run "$n MEASURE, wisdom" "$n" -w "$tmp/wisdom" "$@"
		[ "$n" != 2048 ] || run "$n wisdom, 1 thread" "$n" -j 1 -w "$tmp/wisdom" "$@"
		uvm-qa "$tmp/img.fits" | sed -n "s/^\(rms_jy\|peak_jy\|dynamic_range\|beam_arcsec\) /# image $n: \1 /p"
	done
} | tee "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
