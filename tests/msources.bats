#!/usr/bin/env bats
# The msources stage (rules/stages, rules/msources.mk): the source
# catalogue of an hour's mosaic, mosaics/H.sources.json, made by
# uvm-sources on the mosaic exactly as the recipe runs it. A simulated
# hour: three groups of a drift (20 antennas, no gain errors, 12 random
# sources each, simulated through the tapered dish), imaged, measured by
# uvm-qa and mosaicked as the pipeline does; the catalogue must hold the
# hour's sources at the positions astropy computes from the truth (the
# CIRS places the data hold, taken to ICRS) and with their intrinsic
# fluxes: the mosaic is primary-beam corrected (tests/msources_check.py).

load test_helper

setup_file() {
	local d=$BATS_FILE_TMPDIR/home k g
	local sim="-L uvh5 -a 20 -s 2 -c 8 -t 6 -g 3 -G 0 -T 2025-10-24T12:28:00"
	mkdir -p "$d/mosaics"
	# an Airy sky: the pipeline's default model (this checks the mosaic
	# catalogue, not the beam: tests/pbcor.bats does that)
	uvm-sim $sim -B airy -n 0.05 -N 12 -S 3 -R "$BATS_FILE_TMPDIR/truth.json" -o "$BATS_FILE_TMPDIR/sim" >/dev/null
	# the truth as the reference catalogue, in the calibrator format
	jq -r '"# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index",
	  (.sources[] | "\(.name),\(.ra_deg),\(.dec_deg),\(.flux_jy),\(.ref_freq_hz / 1e6),\(.spectral_index)")' \
		"$BATS_FILE_TMPDIR/truth.json" >"$d/reference.csv"
	# square grids (uvm-qa), a gate every image passes, the reference
	printf 'MOSAIC_NPIX=768\nQA_MAX_RMS_JY=0\nQA_MIN_DR=0\nSOURCES_REFERENCE=%s\n' \
		"$d/reference.csv" >"$d/uvmake.conf"
	for k in 0 1 2; do
		g=$(jq -r ".groups[$k].id" "$BATS_FILE_TMPDIR/truth.json")
		mkdir -p "$d/products/$g"
		# natural weighting and a 5-sigma CLEAN, as tests/uvm-mosaic.bats
		# (the field measured there), so the peaks are the fluxes
		(cd "$BATS_FILE_TMPDIR/sim" && uvm-image -n 768 -c 13 -W natural -a 0 -A 5 -P estimate \
			-o "$d/products/$g/image.fits" $(jq -r ".groups[$k].files[]" "$BATS_FILE_TMPDIR/truth.json")) 2>/dev/null
		UVM_HOME=$d uvm-qa -o "$d/products/$g/qa.json" "$d/products/$g/image.fits" 2>/dev/null
	done
	# the recipes of the mosaic and msources stages, in the deployment
	(cd "$d" && UVM_HOME=$d uvm-mosaic -b -H 20251024T12 -o mosaics/20251024T12.fits products/*/qa.json &&
		UVM_HOME=$d uvm-sources -o mosaics/20251024T12.sources.json mosaics/20251024T12.fits) 2>/dev/null
}

setup() {
	d=$BATS_FILE_TMPDIR/home
	t=$BATS_TEST_TMPDIR
}

check() {
	/usr/bin/python3 "$BATS_TEST_DIRNAME/msources_check.py" "$BATS_FILE_TMPDIR/truth.json" "$@"
}

@test "msources: the stage reads the mosaic, per hour, with the catalogue's settings" {
	run -0 awk '$1 == "msources" { print $2, $3, $4, $10 }' "$UVM_ROOT/rules/stages"
	assert_output "mosaics/{H}.sources.json mosaic hour SOURCES_*,XMATCH_*"
	grep -q 'uvm-sources -o $@ $<' "$UVM_ROOT/rules/msources.mk"
}

@test "msources: every source above 20 sigma at its astropy position (< 0.05 beam median, 0.15 each) with its intrinsic flux (median peak 3%, each 10%)" {
	run -0 check "$d/mosaics/20251024T12.sources.json" "$d/mosaics/20251024T12.fits"
	echo "$output" | jq -c '.[]'
	# enough of the hour's sources, from every group: not vacuous
	jq -e '[.[] | select(.snr >= 20)] | length >= 6 and
	  ([.[].name[3:6]] | unique | length) == 3' <<<"$output"
	jq -e '[.[] | select(.snr >= 20)] | all(.offset_beam < 0.15 and (.peak_ratio - 1 | fabs) < 0.10)' <<<"$output"
	jq -e '[.[] | select(.snr >= 20) | .offset_beam] | sort | .[length / 2 | floor] < 0.05' <<<"$output"
	jq -e '[.[] | select(.snr >= 20) | .peak_ratio] | sort | (.[length / 2 | floor] - 1 | fabs) < 0.03' <<<"$output"
}

@test "msources: the cross-match with SOURCES_REFERENCE is in the catalogue and passes the gate" {
	run -0 jq -c '.crossmatch' "$d/mosaics/20251024T12.sources.json"
	echo "$output"
	jq -e '.n_matched >= 8 and .completeness >= 0.8 and .offset_beam < 0.05 and
	  .flux_ratio > 0.9 and .flux_ratio < 1.12 and .pass == true' <<<"$output"
	# the mosaic's frequency (its FREQ card: no spectral axis) scales the reference
	jq -e '.freq_hz > 1.3e9 and .freq_hz < 1.5e9' "$d/mosaics/20251024T12.sources.json"
}

@test "msources: a blank mosaic (no image of the hour passed QA) gets an empty catalogue, not an error" {
	mkdir -p "$t/h"
	printf 'QA_MAX_RMS_JY=1e-9\n' >"$t/h/uvmake.conf"
	for q in "$d"/products/*; do
		mkdir -p "$t/p/${q##*/}"
		cp "$q/image.fits" "$t/p/${q##*/}/"
		UVM_HOME=$t/h uvm-qa -o "$t/p/${q##*/}/qa.json" "$q/image.fits" 2>/dev/null
	done
	UVM_HOME=$t/h uvm-mosaic -b -H 20251024T12 -o "$t/m.fits" "$t"/p/*/qa.json 2>/dev/null
	run -0 uvm-sources -o "$t/m.sources.json" "$t/m.fits"
	jq -e '.n_sources == 0 and .sources == []' "$t/m.sources.json"
	# no rms or beam on a blank image: null, not C's "nan" (the soak's
	# comparison, Python's json, refused one)
	strict_json "$t/m.sources.json"
	no_temps "$t"
}

@test "msources: the same bytes again from the same mosaic" {
	(cd "$d" && UVM_HOME=$d uvm-sources -o "$t/again.json" mosaics/20251024T12.fits) 2>/dev/null
	cmp <(jq 'del(.image)' "$t/again.json") <(jq 'del(.image)' "$d/mosaics/20251024T12.sources.json")
}
