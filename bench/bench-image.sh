#!/bin/sh
# bench-image.sh: uvm-image on one full-size group (96 antennas, 16 x 48
# channels, 24 integrations: 84 M Stokes I visibilities, a 2048^2 image):
# wall time, CPU time and peak RSS with FFTW_MEASURE plans made from
# scratch (wisdom written), with MEASURE plans from the wisdom, and with
# FFTW_ESTIMATE plans; the time to read the input once (cat) is the
# reference floor. The group is simulated with uvm-sim and combined with
# uvm-combine when it exists (else the 16 subband files are imaged
# directly). Writes bench/results/image.txt.
#
# Environment: BENCH_TMP (default /tmp) for the ~3 GB of data; NPIX
# (default 2048); KEEP=1 keeps the data.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
out=bench/results/image.txt
npix=${NPIX:-2048}
tmp=$(mktemp -d "${BENCH_TMP:-/tmp}/uvm-bench-image.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM

uvm-sim -N 10 -n 0.5 -G 0 -R "$tmp/truth.json" -o "$tmp/sim" >/dev/null
if command -v uvm-combine >/dev/null 2>&1; then
	uvm-combine -o "$tmp/vis.uvh5" "$tmp"/sim/*.hdf5
	set -- "$tmp/vis.uvh5"
	input="one combined file, $(du -m "$tmp/vis.uvh5" | cut -f1) MB"
else
	set -- "$tmp"/sim/*.hdf5
	input="16 subband files, $(du -sm "$tmp/sim" | cut -f1) MB"
fi

# phase NAME: "cpu/wall" seconds of a phase from the debug log.
phase() {
	sed -n "s/.*debug: $1[^:]*: \([0-9.]*\) s cpu, \([0-9.]*\) s wall/\1\/\2/p" "$tmp/log"
}

# run LABEL ARGS...: one imaging run; prints a result line.
run() {
	label=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" \
		env UVM_DEBUG=1 uvm-image -n "$npix" -o "$tmp/img.fits" "$@" 2>"$tmp/log"
	read -r wall user sys rss <"$tmp/time"
	printf '%-24s wall %6.1f s cpu %6.1f s rss %4d MB | plan %-11s grid %-11s fft %-9s clean %s\n' \
		"$label" "$wall" "$(echo "$user $sys" | awk '{print $1 + $2}')" $((rss / 1024)) \
		"$(phase planned)" "$(phase gridded)" "$(phase transformed)" "$(phase cleaned)"
}

# reading the input once: through a pipe, so that cat cannot splice its
# way around the copy
readall() { cat "$@" | wc -c; }
sync
cat_s=$(elapsed readall "$@")
{
	bench_header "uvm-image: one full-size group, ${npix}x${npix} image"
	echo "# input: $input; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# reference: reading the input once (cat | wc -c, page cache warm): ${cat_s} s"
	echo "# phases: cpu/wall seconds (planning includes opening the input; gridding"
	echo "# and CLEAN run in 2 threads, so their cpu can exceed their wall time)"
	run "MEASURE, no wisdom" -w "$tmp/wisdom" "$@"
	run "MEASURE, wisdom reused" -w "$tmp/wisdom" "$@"
	run "ESTIMATE" -P estimate "$@"
	uvm-qa "$tmp/img.fits" | sed -n 's/^\(rms_jy\|peak_jy\|dynamic_range\|beam_arcsec\|n_sources\) /# image: \1 /p'
} | tee "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
