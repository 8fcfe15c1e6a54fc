#!/usr/bin/env bats
# mosaic-sky: uvm-mosaic against a known answer computed without it. Two
# apparent images of one hour, twenty minutes apart (tests/mosaic_sky.py:
# point sources seen through the group-averaged Airy beam, computed there
# with numpy and astropy and a Bessel function of its own, and convolved
# with a Gaussian restoring beam), with different noise levels (weights);
# the mosaic must equal sum w B I / sum w B^2 evaluated analytically at
# every pixel near a source to 0.5% of the brightest source. The same
# inputs mosaicked with the wrong beam (PB_MODEL=gauss) must miss: the
# comparison can fail.

load test_helper
bats_require_minimum_version 1.5.0

sky() {
	/usr/bin/python3 -W ignore "$UVM_ROOT/tests/mosaic_sky.py" "$@" 2>/dev/null
}

setup_file() {
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/g1" "$d/g2" "$d/home" "$d/ghome"
	sky make "$d/g1" --npix 512 --cell 20 --dec 37.2 --mjd 60000.512 --nsrc 8 --seed 3 --rms 0.001 2>/dev/null
	sky make "$d/g2" --npix 512 --cell 20 --dec 37.2 --mjd 60000.526 --nsrc 8 --seed 4 --rms 0.002 2>/dev/null
	# the first and the last group of an hour at a fine cell (1.5"): each
	# 13,000 pixels from the mid-hour meridian, the grid's centre
	mkdir -p "$d/e1" "$d/e2"
	sky make "$d/e1" --npix 512 --cell 1.5 --dec 37.2 --mjd 60000.50174 --nsrc 8 --seed 3 --rms 0.001
	sky make "$d/e2" --npix 512 --cell 1.5 --dec 37.2 --mjd 60000.53993 --nsrc 8 --seed 4 --rms 0.001
	printf 'PB_MODEL=airy\n' >"$d/home/uvmake.conf"
	printf 'PB_MODEL=gauss\n' >"$d/ghome/uvmake.conf"
}

setup() {
	d=$BATS_FILE_TMPDIR
	t=$BATS_TEST_TMPDIR
}

@test "mosaic-sky: two overlapping inputs: the mosaic is sum w B I / sum w B^2 of the analytic sky (0.5% of the peak)" {
	UVM_HOME=$d/home run -0 uvm-mosaic -o "$t/m.fits" "$d/g1/qa.json" "$d/g2/qa.json"
	run -0 sky check "$t/m.fits" "$d/g1/truth.json" "$d/g2/truth.json"
	echo "$output"
	run jq -e '.pixels > 1000 and .max_err_rel_peak < 0.005' <<<"$output"
	assert_success
}

@test "mosaic-sky: one input: the sky itself where the beam is divided out (0.5% of the peak)" {
	UVM_HOME=$d/home run -0 uvm-mosaic -o "$t/m.fits" "$d/g1/qa.json"
	run -0 sky check "$t/m.fits" "$d/g1/truth.json"
	echo "$output"
	run jq -e '.pixels > 500 and .max_err_rel_peak < 0.005' <<<"$output"
	assert_success
}

@test "mosaic-sky: the wrong beam (gauss for an Airy sky) misses by more than 2%: the check can fail" {
	UVM_HOME=$d/ghome run -0 uvm-mosaic -o "$t/m.fits" "$d/g1/qa.json" "$d/g2/qa.json"
	run -0 sky check "$t/m.fits" "$d/g1/truth.json" "$d/g2/truth.json"
	echo "$output"
	run jq -e '.max_err_rel_peak > 0.02' <<<"$output"
	assert_success
}

@test "mosaic-sky: the hour's first and last groups: the grid spans the inputs, not twice their distance from mid-hour (0.5% of the peak)" {
	# the first group alone: a grid of its own size (its centre, the
	# meridian at mid-hour, off the grid)
	UVM_HOME=$d/home run -0 uvm-mosaic -o "$t/m1.fits" "$d/e1/qa.json"
	run -0 sky check "$t/m1.fits" "$d/e1/truth.json"
	echo "$output"
	run jq -e '.pixels > 500 and .max_err_rel_peak < 0.005' <<<"$output"
	assert_success
	nx=$(head -c 2880 "$t/m1.fits" | fold -w 80 | sed -n 's/^NAXIS1 *= *\([0-9]*\).*/\1/p')
	[ "$nx" -le 520 ]
	# both: 55 minutes of drift apart, wider than 16384 pixels
	UVM_HOME=$d/home run -0 uvm-mosaic -o "$t/m2.fits" "$d/e1/qa.json" "$d/e2/qa.json"
	run -0 sky check "$t/m2.fits" "$d/e1/truth.json" "$d/e2/truth.json"
	echo "$output"
	run jq -e '.pixels > 1000 and .max_err_rel_peak < 0.005' <<<"$output"
	assert_success
}
