#!/usr/bin/env bats
# Astrometry against an independent reference (issue 15): sources at known
# ICRS positions, files in the DSA-110 writer's layout from uvm-sim, and
# positions checked with astropy (tests/astro_ref.py), never with uvmake's
# own geometry:
#   - the simulator's visibilities against a model astropy places (so the
#     image test below is not the program compared with itself);
#   - the image: each source's peak against the pixel astropy.wcs gives for
#     its ICRS position, and CRVAL against astropy's ICRS position of the
#     apparent meridian point at the pointing declination at mid-time.
# UT1-UTC is 0 on both sides (no IERS table, no network).

bats_require_minimum_version 1.5.0
load test_helper

ref() {
	/usr/bin/python3 "$UVM_ROOT/tests/astro_ref.py" "$@"
}

# sources DEC: six sources about the group's ICRS phase centre, out to 1.5
# deg (the half-power radius is 1.6 deg at 1.4 GHz), written to src.csv.
sources() {
	uvm-sim -a 2 -s 1 -c 1 -t 6 -N 0 -d "$1" -T 2025-10-24T12:00:00 -R t0.json -o probe >/dev/null
	read -r ra dec < <(jq -r '.groups[0] | "\(.phase_ra_deg) \(.phase_dec_deg)"' t0.json)
	awk -v ra="$ra" -v dec="$dec" 'BEGIN {
		split("0 0.8 -1.2 0.4 -0.6 1.1", dx, " "); split("0 0.3 0.5 -1.3 -0.7 1.0", dy, " ")
		for (i = 1; i <= 6; i++)
			printf "S%d,%.6f,%.6f,%.2f,1400,0\n", i, ra + dx[i] / cos(dec * 3.141592653589793 / 180),
			    dec + dy[i], 2 + 0.3 * i }' > src.csv
}

# group DEC: a real-layout group (32 of the 117 stations, 2 subbands),
# noise- and gain-free, with the sources of src.csv, through the Gaussian
# beam tests/astro_ref.py models the visibilities with.
group() {
	uvm-sim -a 32 -s 2 -c 16 -t 6 -G 0 -n 0 -N 0 -B gauss -d "$1" -T 2025-10-24T12:00:00 \
		-P src.csv -R t.json -o g >/dev/null
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

@test "simulator: the visibilities put ICRS sources where astropy says (Dec +54.57, +16.27)" {
	for d in 54.57 16.27; do
		rm -rf g probe
		sources $d
		group $d
		run -0 ref vis "$(ls g/*_sb00.hdf5)" t.json
		echo "dec $d: $output"
		# 0.01 rad on 2.5 km baselines is 0.03 arcsec
		awk -v e="$(sed 's/.*max_phase_err=\([^ ]*\).*/\1/' <<<"$output")" 'BEGIN { exit !(e < 0.01) }'
	done
}

# image_check DEC: every source within 0.1 beam and 2 arcsec of its ICRS
# truth; CRVAL within 1 arcsec of astropy's; RADESYS ICRS.
image_check() {
	sources "$1"
	group "$1"
	uvm-image -n 1536 -c 8 -P estimate -o img.fits g/*.hdf5 2>/dev/null
	run -0 ref image img.fits t.json "$1"
	echo "$output"
	[ "$(jq -r .radesys <<<"$output")" = ICRS ]
	jq -e '.crval_err_arcsec < 1' <<<"$output"
	jq -e '[.sources[] | select(.err_arcsec < 2 and .err_beam < 0.1)] | length == 6' <<<"$output"
}

@test "image at Dec +54.57: every source at its ICRS position (astropy), CRVAL the pointing" {
	image_check 54.57
}

@test "image at Dec +16.27: every source at its ICRS position (astropy), CRVAL the pointing" {
	image_check 16.27
}

@test "image header: ICRS, no equinox, HISTORY says ERFA and UT1-UTC = 0" {
	sources 54.57
	uvm-sim -a 8 -s 1 -c 4 -t 2 -G 0 -n 0 -N 0 -d 54.57 -T 2025-10-24T12:00:00 -P src.csv -o g >/dev/null
	uvm-image -n 256 -c 30 -P estimate -o img.fits g/*.hdf5 2>/dev/null
	run -0 /usr/bin/python3 -c '
import sys, warnings; warnings.filterwarnings("ignore")
from astropy.io import fits
h = fits.getheader(sys.argv[1])
print(h["RADESYS"], "EQUINOX" in h, "UT1-UTC taken as 0" in " ".join(str(x) for x in h["HISTORY"]).replace("\n", ""))
' img.fits
	assert_output "ICRS False True"
}

# cal_group DEC NAME: a real-layout calibrator group pointed at DEC with the
# VLA calibrator NAME transiting at mid-time (off the pointing by its
# declination difference), combined into cal.uvh5.
cal_group() {
	uvm-sim -a 24 -s 2 -c 4 -t 6 -N 0 -n 1 -d "$1" -K "$UVM_ROOT/ops/calibrators.csv" \
		-k "$2" -C 0 -o cal >/dev/null
	uvm-combine -o cal.uvh5 cal/*.hdf5
	mkdir -p home/state home/caltables
}

@test "calibration at the two main pointings with a VLA catalogue source: +54.57, +16.27" {
	# the catalogue alone chooses the calibrator (no -k to uvm-calsolve)
	cal_group 54.57 0834+555
	run -0 uvm-calsolve -j -D home -g G54 -o home/caltables/G54.cal.h5 cal.uvh5
	json=$(grep '^{' <<<"$output")
	[ "$(jq -r .status <<<"$json")" = good ]
	[ "$(jq -r .calibrator <<<"$json")" = 0834+555 ]
	rm -rf cal cal.uvh5
	cal_group 16.27 3C138
	run -0 uvm-calsolve -j -D home -g G16 -o home/caltables/G16.cal.h5 cal.uvh5
	json=$(grep '^{' <<<"$output")
	[ "$(jq -r .status <<<"$json")" = good ]
	[ "$(jq -r .calibrator <<<"$json")" = 3C138 ]
}

@test "calibrator coverage: every observed pointing sees calibrators above 1 Jy (bench/cal_coverage.py)" {
	run -0 /usr/bin/python3 "$UVM_ROOT/bench/cal_coverage.py" "$UVM_ROOT/ops/calibrators.csv"
	echo "$output"
	for p in +54.57 +16.27 +50.50 +65.70; do
		n=$(awk -v p="$p" '$1 == p { print $2 }' <<<"$output")
		[ "$n" -ge 5 ]
	done
}
