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
