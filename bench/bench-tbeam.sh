#!/bin/sh
# bench-tbeam.sh: the major cycle's prediction with the drift's
# time-varying primary beam (uvm-image -K, IMAGE_BEAM_SLICES) against the
# constant beam (-K 1), on bench-offaxis.sh's case: one bright source
# (13.65 Jy, alpha -0.744) alone on the small array (20 antennas of the
# T, 4 x 48 channels over the full 187.5 MHz), noise 0.05 Jy a
# visibility, simulated with the Gaussian beam (-B gauss), imaged with -b
# gauss so that the beam the prediction applies is the simulator's: what
# is measured is the prediction, not a beam model's error. 2 deg east of
# the pointing, where the drift moves the beam across the source, with 6
# integrations (bench-offaxis.sh's) and 24 (a whole 5-minute group); 2
# deg north as the control (no first-order change in time). Figures: the
# peak, the residual rms within 60 pixels of it and over the image, their
# ratio, the sub-pixel peak (a quadratic fitted to the logs of the 3 x 3
# pixels) over the source's apparent flux (truth: the simulator's
# Gaussian beam computed here in numpy from the files' times and
# frequencies and the truth file's apparent positions, averaged with
# equal weights over every integration and channel), wall seconds and
# peak RSS. Writes bench/results/tbeam-offaxis.txt (BENCH_OUT elsewhere);
# BENCH_CASES picks cases (default "e6 n6 e24").
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
tmp=$(mktemp -d "${BENCH_TMP:-/tmp}/uvm-bench-tbeam.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
out=${BENCH_OUT:-bench/results/tbeam-offaxis.txt}

# sim NAME NTIMES NAME,RA,DEC,FLUX,MHZ,ALPHA: one simulated group in $tmp/NAME.
sim() {
	d=$tmp/$1
	mkdir "$d"
	printf '%s\n' "# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index" \
		"C0,150.0,33.16,0.001,1400,0" >"$d/c0.csv"
	printf '%s\n' "# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index" "$3" >"$d/s.csv"
	uvm-sim -L uvh5 -a 20 -s 4 -c 48 -t "$2" -N 0 -n 0.05 -G 0 -S 11 -B gauss \
		-K "$d/c0.csv" -k C0 -P "$d/s.csv" -R "$d/truth.json" -o "$d/sim" >/dev/null
}

# row LABEL SIM IMAGE-OPTIONS: image $tmp/SIM and print one row.
row() {
	d=$tmp/$2
	# shellcheck disable=SC2086
	/usr/bin/time -f "%e %M" -o "$d/time" uvm-image -P estimate -b gauss $3 -o "$d/img.fits" \
		"$d"/sim/*.hdf5 2>/dev/null
	/usr/bin/python3 tests/tbeam_eval.py "$d" "$1" "$(cat "$d/time")"
}

{
	bench_header "time-sliced primary beam in the major cycles (uvm-image -K): one bright source off axis"
	echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# case                                   peak Jy  truth Jy  pk/truth  rms near   rms all    pk/rms  wall s  RSS MB"
	echo "#                                                                     mJy/beam  mJy/beam"
	for c in ${BENCH_CASES:-e6 n6 e24}; do
		case $c in
		e6)
			sim e6 6 "S,152.389,33.16,13.65,1400,-0.744"
			for k in 1 2 3 6; do row "2 deg east, 6 int, -C 1 -K $k" e6 "-C 1 -K $k"; done
			for k in 1 3 6; do row "2 deg east, 6 int, -C 4 -K $k" e6 "-C 4 -K $k"; done ;;
		n6)
			sim n6 6 "S,150.0,35.16,13.65,1400,-0.744"
			for k in 1 3; do row "2 deg north, 6 int, -C 1 -K $k" n6 "-C 1 -K $k"; done ;;
		e24)
			sim e24 24 "S,152.389,33.16,13.65,1400,-0.744"
			for k in 1 3 6 12; do row "2 deg east, 24 int, -C 1 -K $k" e24 "-C 1 -K $k"; done ;;
		*) echo "bench-tbeam: unknown case '$c'" >&2; exit 64 ;;
		esac
	done
	echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
