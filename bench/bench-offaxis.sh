#!/bin/sh
# bench-offaxis.sh: what limits CLEAN around a bright source far out in
# the primary beam (issue 17's residual and spurious figures). One source
# of 4.1-4.3 Jy apparent, alone, on the small array (20 antennas of the
# T, 4 x 48 channels over the full 187.5 MHz), noise 0.05 Jy a visibility
# so that CLEAN's errors stand far above it; simulated with the Gaussian
# beam, imaged with uvm-image's defaults. Each case changes one thing:
# where the source is (phase centre; 2 deg east, where the drift moves
# the pointing toward or away from it; 2 deg north, where it does not to
# first order), how many integrations (1: no time variation at all), the
# source's spectral index (-3.15: what the Gaussian beam's narrowing with
# frequency makes of a -0.74 source 2 deg out), and channel averaging
# (-f 1: none), and the deconvolution: -C 1 is one band (a flat
# component per pixel, main before joined-channel CLEAN), the default
# -C 4 -F 2 CLEANs 4 sub-bands jointly with 2-term spectra. Figures: the peak, the residual rms within 60 pixels
# (7 arcmin) of it and over the image, their ratio (the local dynamic
# range) and the catalogue entries uvm-sources finds (1 is right).
# Writes bench/results/offaxis.txt.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
tmp=$(mktemp -d "${BENCH_TMP:-/tmp}/uvm-bench-offaxis.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# case LABEL NTIMES IMAGE-OPTIONS NAME,RA,DEC,FLUX,MHZ,ALPHA: one row.
# A 1 mJy calibrator at (150, 33.16) fixes the group's time so that the
# pointing is there at mid-time.
case_row() {
	label=$1 nt=$2 iopt=$3 src=$4
	d=$tmp/$label
	mkdir "$d"
	printf '%s\n' "# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index" \
		"C0,150.0,33.16,0.001,1400,0" >"$d/c0.csv"
	printf '%s\n' "# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index" "$src" >"$d/s.csv"
	uvm-sim -L uvh5 -a 20 -s 4 -c 48 -t "$nt" -N 0 -n 0.05 -G 0 -S 11 -B gauss \
		-K "$d/c0.csv" -k C0 -P "$d/s.csv" -o "$d/sim" >/dev/null
	# shellcheck disable=SC2086
	/usr/bin/time -f "%e %M" -o "$d/time" uvm-image -P estimate $iopt -o "$d/img.fits" \
		"$d"/sim/*.hdf5 2>/dev/null
	uvm-sources -o "$d/cat.json" "$d/img.fits" 2>/dev/null
	/usr/bin/python3 - "$d" "$label" "$(cat "$d/time")" <<'PY'
import json, sys
import numpy as np
from astropy.io import fits
d, label, (wall, rss) = sys.argv[1], sys.argv[2], sys.argv[3].split()
img = fits.getdata(d + "/img.fits", 0).astype(float).squeeze()
res = fits.getdata(d + "/img.fits", "RESIDUAL").astype(float).squeeze()
y, x = np.unravel_index(np.nanargmax(img), img.shape)
near = res[max(0, y - 60):y + 60, max(0, x - 60):x + 60]
pk, rn, rg = img[y, x], near.std(), res.std()
n = json.load(open(d + "/cat.json"))["n_sources"]
print(f"{label:<44}{pk:8.3f}{rn * 1e3:10.2f}{rg * 1e3:10.2f}{pk / rn:10.0f}{n:6d}"
      f"{float(wall):8.0f}{int(rss) // 1024:8d}")
PY
	rm -rf "$d"
}

{
	bench_header "CLEAN around one bright source: on and off axis, time, spectrum, averaging"
	echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# case                                        peak Jy  rms near   rms all    pk/rms  cat  wall s  RSS MB"
	echo "#                                                      mJy/beam   mJy/beam"
	case_row "centre, alpha -0.74, 1 integration" 1 "" "S,150.0,33.16,4.15,1400,-0.744"
	case_row "centre, alpha -3.15, 1 integration, -C 1" 1 "-C 1" "S,150.0,33.16,4.15,1400,-3.15"
	case_row "centre, alpha -3.15, 1 integration" 1 "" "S,150.0,33.16,4.15,1400,-3.15"
	case_row "2 deg east, 1 integration, -C 1" 1 "-C 1" "S,152.389,33.16,13.65,1400,-0.744"
	case_row "2 deg east, 1 integration" 1 "" "S,152.389,33.16,13.65,1400,-0.744"
	case_row "2 deg east, 1 integration, -F 3" 1 "-F 3" "S,152.389,33.16,13.65,1400,-0.744"
	case_row "2 deg east, 1 integration, -C 8" 1 "-C 8" "S,152.389,33.16,13.65,1400,-0.744"
	case_row "2 deg east, 6 integrations, -C 1" 6 "-C 1" "S,152.389,33.16,13.65,1400,-0.744"
	case_row "2 deg east, 6 integrations" 6 "" "S,152.389,33.16,13.65,1400,-0.744"
	case_row "2 deg north, 6 integrations" 6 "" "S,150.0,35.16,13.65,1400,-0.744"
	case_row "2 deg east, 6 integrations, -f 1" 6 "-f 1" "S,152.389,33.16,13.65,1400,-0.744"
} | tee bench/results/offaxis.txt
