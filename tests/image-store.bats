#!/usr/bin/env bats
# uvm-image's visibility store: read once, channels averaged, gridded and
# degridded on several threads. Known answers: the same image bit for bit
# whatever the number of threads (each grid cell is added to by one thread
# in visibility order), and the bandwidth smearing of averaged channels
# equal to the direct average of the simulated phasors
# (tests/smear_ref.py, numpy on the files' uvw) off-centre, none at the
# phase centre.

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
}

ref() {
	/usr/bin/python3 "$UVM_ROOT/tests/smear_ref.py" "$@"
}

# same_data A B: the two FITS files' primary and RESIDUAL pixels are equal.
same_data() {
	/usr/bin/python3 -c '
import sys, numpy as np
from astropy.io import fits
a, b = fits.open(sys.argv[1]), fits.open(sys.argv[2])
sys.exit(0 if all(np.array_equal(a[i].data, b[i].data) for i in (0, 1)) else 1)' "$1" "$2"
}

@test "image-store: 1, 2 and 3 threads give bit-identical images through six major cycles" {
	uvm-sim -L uvh5 -a 20 -s 2 -c 8 -t 6 -G 0 -n 0.05 -N 6 -S 3 -o g >/dev/null
	for j in 1 2 3; do
		UVM_DEBUG=1 uvm-image -n 512 -c 26 -P estimate -j $j -o img$j.fits g/*.hdf5 2>log$j
	done
	# CLEAN ran: components, and all six major cycles (degridding) done
	[ "$(grep -c 'major [0-9]* done' log1)" -eq 6 ]
	grep -q 'clean [1-9][0-9]* iter' log1
	grep -q '3 threads' log3
	same_data img1.fits img2.fits
	same_data img1.fits img3.fits
}

@test "image-store: averaged channels lose the predicted smearing off-centre, nothing at the centre" {
	local ra dec far cen pred
	uvm-sim -a 2 -s 1 -c 1 -t 2 -N 0 -d 54.57 -T 2025-10-24T12:00:00 -R t0.json -o probe >/dev/null
	read -r ra dec < <(jq -r '.groups[0] | "\(.phase_ra_deg) \(.phase_dec_deg)"' t0.json)
	# one 2 Jy source 0.4 deg north of the phase centre, one at it
	awk -v ra="$ra" -v dec="$dec" 'BEGIN { printf "F,%.6f,%.6f,2,1400,0\n", ra, dec + 0.4 }' >far.csv
	awk -v ra="$ra" -v dec="$dec" 'BEGIN { printf "C,%.6f,%.6f,2,1400,0\n", ra, dec }' >cen.csv
	for s in far cen; do
		uvm-sim -a 32 -s 2 -c 64 -t 2 -G 0 -n 0 -N 0 -d 54.57 -T 2025-10-24T12:00:00 \
			-P $s.csv -o $s >/dev/null
		for f in 1 16; do
			uvm-image -n 768 -i 0 -W natural -f $f -P estimate -o $s$f.fits $s/*.hdf5 2>log.$s$f
		done
	done
	grep -q 'averaging 16 channels of 1465 kHz' log.far16
	far=$(awk -v a="$(ref peak far16.fits "$ra" "$(echo "$dec + 0.4" | bc -l)")" \
		-v b="$(ref peak far1.fits "$ra" "$(echo "$dec + 0.4" | bc -l)")" 'BEGIN { print a / b }')
	cen=$(awk -v a="$(ref peak cen16.fits "$ra" "$dec")" -v b="$(ref peak cen1.fits "$ra" "$dec")" \
		'BEGIN { print a / b }')
	pred=$(ref ratio 16 0 0.4 "$dec" far/*.hdf5)
	echo "far: measured $far predicted $pred; centre $cen"
	# a loss the test can see (16%), matched to 0.5% of the peak
	awk -v m="$far" -v p="$pred" -v c="$cen" 'BEGIN {
		exit !(p < 0.9 && (m - p < 0.005 && p - m < 0.005) && (c - 1 < 1e-4 && 1 - c < 1e-4)) }'
}

@test "image-store: -f and -j take IMAGE_CHAN_AVG and IMAGE_THREADS, flags win; bad values are 64" {
	uvm-sim -a 8 -s 1 -c 8 -t 2 -G 0 -n 0.1 -N 2 -o g >/dev/null
	mkdir home
	printf 'IMAGE_CHAN_AVG=4\nIMAGE_THREADS=2\n' >home/uvmake.conf
	UVM_HOME=$PWD/home UVM_DEBUG=1 uvm-image -n 128 -P estimate -o a.fits g/*.hdf5 2>log
	grep -q 'averaging 4 channels' log
	grep -q '(first gridding included; 2 threads)' log
	UVM_HOME=$PWD/home uvm-image -n 128 -P estimate -f 2 -o b.fits g/*.hdf5 2>log
	grep -q 'averaging 2 channels' log
	run -64 uvm-image -n 128 -f -1 -o c.fits g/*.hdf5
	run -64 uvm-image -n 128 -j x -o c.fits g/*.hdf5
	[ ! -e c.fits ]
}

# CHANOUT and SPECTERM of a FITS file, as "C T".
chanout() {
	/usr/bin/python3 -c 'from astropy.io import fits; import sys
h = fits.getheader(sys.argv[1]); print(h["CHANOUT"], h["SPECTERM"])' "$1"
}

@test "image-store: -C and -F take IMAGE_CHANNELS_OUT and IMAGE_SPECTRAL_TERMS, flags win; empty sub-bands dropped; bad values are 64" {
	uvm-sim -a 8 -s 2 -c 8 -t 2 -G 0 -n 0.1 -N 2 -o g >/dev/null
	uvm-image -n 128 -P estimate -f 1 -o d.fits g/*.hdf5 2>/dev/null
	# four sub-bands by default, two terms
	[ "$(chanout d.fits)" = "4 2" ]
	mkdir home
	printf 'IMAGE_CHANNELS_OUT=3\nIMAGE_SPECTRAL_TERMS=1\n' >home/uvmake.conf
	UVM_HOME=$PWD/home uvm-image -n 128 -P estimate -f 1 -o a.fits g/*.hdf5 2>/dev/null
	[ "$(chanout a.fits)" = "3 1" ]
	UVM_HOME=$PWD/home uvm-image -n 128 -P estimate -f 1 -C 1 -F 3 -o b.fits g/*.hdf5 2>log
	# one band: one term, whatever -F asks
	[ "$(chanout b.fits)" = "1 1" ]
	grep -q '1 sub-band(s) with data, 1 spectral term(s)' log
	# two averaged bins (one a file) in 4 sub-bands: the middle two are empty
	uvm-image -n 128 -P estimate -f 8 -C 4 -o e.fits g/*.hdf5 2>log
	[ "$(chanout e.fits)" = "2 2" ]
	grep -q '2 sub-band(s) with data, 2 spectral term(s)' log
	run -64 uvm-image -n 128 -C 0 -o c.fits g/*.hdf5
	run -64 uvm-image -n 128 -C 17 -o c.fits g/*.hdf5
	run -64 uvm-image -n 128 -F 5 -o c.fits g/*.hdf5
	[ ! -e c.fits ]
}
