#!/usr/bin/env bats
# uvm-mosaic: a simulated drift of three groups (no gain errors, known
# sources) is imaged group by group and measured by uvm-qa; the mosaic of
# the three must hold every truth source in its field at its catalogue
# position (< 0.1 beam) with its intrinsic flux (5%): the primary beam is
# undone. A noise-only drift checks the noise: the mosaic's rms must be
# the inverse-variance expectation 1/sqrt(sum B_i^2 / rms_i^2) at the grid
# centre (B_i from each group's pointing in the truth file, rms_i from its
# qa.json), well below a single image's.

load test_helper
bats_require_minimum_version 1.5.0

USAGE="usage: uvm-mosaic [-b] [-H hour] -o mosaic.fits qa.json..."

# The drift straddles 12:30, the hour's mid-time: the grid centre (the
# meridian then) lies among the three pointings.
setup_file() {
	local d=$BATS_FILE_TMPDIR k g gn
	local sim="-L uvh5 -a 20 -s 2 -c 8 -t 6 -g 3 -G 0 -T 2025-10-24T12:28:00"
	uvm-sim $sim -n 0.05 -N 12 -S 3 -R "$d/truth.json" -o "$d/sim" >/dev/null
	uvm-sim $sim -n 1 -N 0 -S 11 -R "$d/ntruth.json" -o "$d/nsim" >/dev/null
	# deployment configs: square grids (uvm-qa fits sub-pixel peaks on
	# square images only); the noise images pass a gate without limits
	mkdir -p "$d/home" "$d/nhome"
	printf 'MOSAIC_NPIX=768\n' >"$d/home/uvmake.conf"
	printf 'MOSAIC_NPIX=200\nQA_MAX_RMS_JY=0\nQA_MIN_DR=0\n' >"$d/nhome/uvmake.conf"
	for k in 0 1 2; do
		g=$(jq -r ".groups[$k].id" "$d/truth.json")
		gn=$(jq -r ".groups[$k].id" "$d/ntruth.json")
		mkdir -p "$d/p/$g" "$d/n/$gn"
		# natural weighting, CLEAN to 5 sigma, no mask: the former
		# defaults, under which this field was measured; with uvm-image's
		# Briggs 0 and deep CLEAN the peaks of sources 1-2 deg out drop by
		# 3-5% here, smeared by channels of 11.7 MHz (2 x 8 over the band)
		(cd "$d/sim" && uvm-image -n 768 -c 13 -W natural -a 0 -A 5 -P estimate -o "$d/p/$g/image.fits" \
			$(jq -r ".groups[$k].files[]" "$d/truth.json")) 2>/dev/null
		UVM_HOME=$d/nhome uvm-qa -o "$d/p/$g/qa.json" "$d/p/$g/image.fits" 2>/dev/null
		(cd "$d/nsim" && uvm-image -n 512 -c 13 -i 0 -P estimate -o "$d/n/$gn/image.fits" \
			$(jq -r ".groups[$k].files[]" "$d/ntruth.json")) 2>/dev/null
		UVM_HOME=$d/nhome uvm-qa -o "$d/n/$gn/qa.json" "$d/n/$gn/image.fits" 2>/dev/null
	done
	UVM_HOME=$d/home uvm-mosaic -o "$d/m.fits" "$d"/p/*/qa.json 2>/dev/null
	UVM_HOME=$d/nhome uvm-mosaic -o "$d/nm.fits" "$d"/n/*/qa.json 2>/dev/null
}

setup() {
	d=$BATS_FILE_TMPDIR
	t=$BATS_TEST_TMPDIR
}

# header FILE: the primary header's cards, one per line.
header() {
	head -c 28800 "$1" | fold -w 80 | sed '/^END *$/q'
}

# history FILE: the HISTORY text of the primary header, cards joined
# (cfitsio cuts a long entry into 72-character cards)
history() {
	header "$1" | grep '^HISTORY ' | cut -c9-80 | tr -d '\n'
}

# key FILE KEY: a numeric header value
key() {
	header "$1" | sed -n "s/^$2 *= *\([-+0-9.E]*\).*/\1/p" | head -1
}

@test "uvm-mosaic: usage" {
	run -0 uvm-mosaic --help
	assert_output "$USAGE"
	run -64 uvm-mosaic
	assert_output "$USAGE"
	run -64 uvm-mosaic -o m.fits
	run -64 uvm-mosaic qa.json
	run -64 uvm-mosaic -x -o m.fits qa.json
}

@test "uvm-mosaic: every truth source in the field at its position (< 0.1 beam) with its intrinsic flux (5%)" {
	ra0=$(key "$d/m.fits" CRVAL1)
	uvm-qa -j "$d/m.fits" >"$t/mq.json" 2>/dev/null || true
	run jq -n --slurpfile t "$d/truth.json" --slurpfile q "$t/mq.json" \
		--slurpfile i "$d/p/$(jq -r '.groups[1].id' "$d/truth.json")/qa.json" --argjson ra0 "$ra0" '
	  (3.141592653589793 / 180) as $rad | ($i[0].beam.bmaj_arcsec) as $bm | ($i[0].freq_hz) as $f |
	  ($t[0].groups[0].dec_deg) as $dec0 |
	  [$t[0].sources[]
	   | select(((.ra_deg - $ra0) * (($dec0 * $rad) | cos) | fabs) < 1.1 and
	            ((.dec_deg - $dec0) | fabs) < 1.1)
	   | . as $s
	   | ($s.flux_jy * (($f / $s.ref_freq_hz) | pow(.; $s.spectral_index))) as $S
	   | [$q[0].sources[]
	      | {d: ((((.ra_deg - $s.ra_deg) * (($s.dec_deg * $rad) | cos) * 3600) as $a
	              | ((.dec_deg - $s.dec_deg) * 3600) as $b | ($a * $a + $b * $b) | sqrt)),
	         f: .peak_jy}]
	   | min_by(.d)
	   | {name: $s.name, d_beam: (.d / $bm), ratio: (.f / $S), beam: ($s.apparent_flux_jy[1] / $S)}]'
	assert_success
	echo "$output"
	# at least 5 sources, some attenuated by more than 20% by the beam:
	# the check is not vacuous
	[ "$(echo "$output" | jq length)" -ge 5 ]
	[ "$(echo "$output" | jq '[.[] | select(.beam < 0.8)] | length')" -ge 2 ]
	run jq -e 'all(.[]; .d_beam < 0.1 and (.ratio - 1 | fabs) < 0.05)' <<<"$output"
	assert_success
}

@test "uvm-mosaic: noise = 1/sqrt(sum B^2/rms^2) at the centre (10%), below a single image's" {
	ra0=$(key "$d/nm.fits" CRVAL1)
	dec0=$(key "$d/nm.fits" CRVAL2)
	mrms=$(uvm-qa -j "$d/nm.fits" 2>/dev/null | jq .rms_jy)
	# expected: each group's Gaussian beam (FWHM 1.2 c/(f D)) at the
	# centre, from its pointing (meridian at mid-time) and qa rms
	run jq -n --slurpfile t "$d/ntruth.json" --argjson ra0 "$ra0" --argjson dec0 "$dec0" \
		--argjson m "$mrms" --slurpfile q0 "$d/n/$(jq -r '.groups[0].id' "$d/ntruth.json")/qa.json" \
		--slurpfile q1 "$d/n/$(jq -r '.groups[1].id' "$d/ntruth.json")/qa.json" \
		--slurpfile q2 "$d/n/$(jq -r '.groups[2].id' "$d/ntruth.json")/qa.json" '
	  (3.141592653589793 / 180) as $rad | ($q0[0].freq_hz) as $f |
	  (1.2 * 299792458 / ($f * 4.65)) as $fwhm |
	  [$q0[0].rms_jy, $q1[0].rms_jy, $q2[0].rms_jy] as $rms |
	  [range(0; 3) | . as $k | $t[0].groups[$k]
	   | ((.phase_ra_deg - $ra0) * ($dec0 * $rad | cos) * $rad) as $th
	   | ((-4 * (2 | log) * $th * $th / ($fwhm * $fwhm)) | exp) as $b
	   | $b * $b / ($rms[$k] * $rms[$k])] | add | (1 / sqrt) as $exp |
	  {measured: $m, expected: $exp, single: $rms[1], ratio: ($m / $exp), gain: ($exp / $rms[1])}'
	assert_success
	echo "$output"
	run jq -e '(.ratio - 1 | fabs) < 0.1 and .gain < 0.65 and .measured < 0.7 * .single' <<<"$output"
	assert_success
}

@test "uvm-mosaic: FITS layout: SIN grid at the hour's mid-time meridian, beam, WEIGHT and RMS, HISTORY" {
	run header "$d/m.fits"
	assert_line --regexp "^CTYPE1  = 'RA---SIN'"
	assert_line --regexp "^CTYPE2  = 'DEC--SIN'"
	assert_line --regexp "^BUNIT   = 'Jy/beam '"
	assert_line --regexp "^RADESYS = 'ICRS    '"
	assert_line --regexp "^MOSHOUR = '20251024T12'"
	assert_line --regexp "^DATE-OBS= '2025-10-24T12:00:00.000'"
	assert_line --regexp "^NINPUT  =                    3"
	assert_line --regexp "^BMAJ    = "
	[[ "$(history "$d/m.fits")" == *"used $d/p/20251024T122813/image.fits: rms "* ]]
	# the meridian at 12:30 UTC from OVRO, in ICRS (astropy: 101.9565 deg;
	# the apparent sidereal angle is 102.38 deg)
	run key "$d/m.fits" CRVAL1
	run awk -v x="$output" 'BEGIN { exit !(x > 101.94 && x < 101.97) }'
	assert_success
	run grep -ao "XTENSION= 'IMAGE   '" "$d/m.fits"
	[ "${#lines[@]}" -eq 2 ]
	grep -aq "EXTNAME = 'WEIGHT  '" "$d/m.fits"
	grep -aq "EXTNAME = 'RMS     '" "$d/m.fits"
	! grep -q "^DATE    =" <(header "$d/m.fits") || false
}

@test "uvm-mosaic: idempotent: the same bytes again, whatever the order of the operands" {
	UVM_HOME=$d/nhome uvm-mosaic -o "$t/a.fits" "$d"/n/*/qa.json 2>/dev/null
	UVM_HOME=$d/nhome uvm-mosaic -o "$t/b.fits" $(ls -r "$d"/n/*/qa.json) 2>/dev/null
	cmp "$t/a.fits" "$d/nm.fits"
	cmp "$t/b.fits" "$d/nm.fits"
	no_temps "$t"
}

@test "uvm-mosaic: failed and bad inputs are skipped and listed; none passing: 69, or a blank mosaic with -b" {
	cp -r "$d/n" "$t/n"
	gs=($(ls "$t/n"))
	printf '{"rms_jy": 0.5, "checks": [{"name": "x", "pass": true}], "pass": false}\n' \
		>"$t/n/${gs[0]}/qa.json"
	echo 'not json' >"$t/n/${gs[1]}/qa.json"
	run -0 env UVM_HOME="$d/nhome" uvm-mosaic -o "$t/m.fits" "$t"/n/*/qa.json
	assert_output "uvm-mosaic: warning: '$t/m.fits': 1 image(s) used, 2 skipped (listed in its HISTORY)"
	h=$(history "$t/m.fits")
	[[ $h == *"skipped $t/n/${gs[0]}/qa.json: failed the quality gate"* ]]
	[[ $h == *"skipped $t/n/${gs[1]}/qa.json: not a QA report"* ]]
	[[ $h == *"used $t/n/${gs[2]}/image.fits: rms "* ]]
	run header "$t/m.fits"
	assert_line --regexp "^NINPUT  =                    1"
	rm -r "$t/n/${gs[2]}"
	run -69 uvm-mosaic -o "$t/x.fits" "$t/n/${gs[0]}/qa.json"
	assert_output "uvm-mosaic: no input passed the quality gate (1 skipped)"
	[ ! -e "$t/x.fits" ]
	run -0 uvm-mosaic -b -H 20251024T12 -o "$t/x.fits" "$t/n/${gs[0]}/qa.json"
	assert_line "uvm-mosaic: warning: '$t/x.fits': 0 image(s) used, 1 skipped (listed in its HISTORY)"
	assert_line "uvm-mosaic: warning: '$t/x.fits': no image passed the quality gate: blank mosaic"
	run header "$t/x.fits"
	assert_line --regexp "^NINPUT  =                    0"
	assert_line --regexp "^MOSHOUR = '20251024T12'"
}

@test "uvm-mosaic: exit statuses: 66 report missing, 65 no usable input, 64 bad hour or config" {
	run -66 uvm-mosaic -o "$t/m.fits" "$d/n/nothere/qa.json"
	assert_output "uvm-mosaic: cannot open '$d/n/nothere/qa.json': No such file or directory"
	mkdir "$t/g"
	echo 'garbage' >"$t/g/qa.json"
	run -65 uvm-mosaic -o "$t/m.fits" "$t/g/qa.json"
	assert_output "uvm-mosaic: no usable input, 1 of 1 bad: '$t/g/qa.json': not a QA report"
	printf '{"rms_jy": 0.01, "pass": true}\n' >"$t/g/qa.json"
	echo 'SIMPLE  = junk' >"$t/g/image.fits"
	run -65 uvm-mosaic -o "$t/m.fits" "$t/g/qa.json"
	assert_output "uvm-mosaic: no usable input, 1 of 1 bad: '$t/g/qa.json': image: not a FITS file"
	run -64 uvm-mosaic -b -H 20251024T13x -o "$t/m.fits" "$d/n/$(ls "$d/n" | head -1)/qa.json"
	mkdir "$t/h"
	echo 'PB_MODEL=flat' >"$t/h/uvmake.conf"
	run -64 env UVM_HOME="$t/h" uvm-mosaic -o "$t/m.fits" "$d"/n/*/qa.json
	assert_output "uvm-mosaic: bad PB_MODEL 'flat' (taper, airy or gauss)"
	echo 'PB_MODEL=airy' >"$t/h/uvmake.conf"
	run -0 env UVM_HOME="$t/h" uvm-mosaic -o "$t/m.fits" "$d"/n/*/qa.json
	run header "$t/m.fits"
	assert_line --regexp "^PBTYPE  = 'airy    '"
	[ ! -e "$t/nothere" ]
	no_temps "$t"
}

@test "uvm-mosaic: a config from before PB_MODEL: MOSAIC_BEAM and MOSAIC_DISH_M still work, named once, the images' beam used" {
	mkdir "$t/h"
	# what uvm-init wrote then: the same beam as PB_MODEL's is silent
	printf 'MOSAIC_BEAM=airy\nMOSAIC_DISH_M=4.65\nPB_MODEL=airy\n' >"$t/h/uvmake.conf"
	run -0 --separate-stderr env UVM_HOME="$t/h" uvm-mosaic -o "$t/m.fits" "$d"/n/*/qa.json
	[ -z "$stderr" ]
	# another beam or dish: the images' model wins, and the log says so
	printf 'MOSAIC_BEAM=gaussian\nMOSAIC_DISH_M=5\n' >"$t/h/uvmake.conf"
	run -0 --separate-stderr env UVM_HOME="$t/h" uvm-mosaic -o "$t/m.fits" "$d"/n/*/qa.json
	[ "$stderr" = "uvm-mosaic: warning: MOSAIC_BEAM=gaussian is no longer used: mosaics use PB_MODEL (airy), the images' beam; remove the key
uvm-mosaic: warning: MOSAIC_DISH_M is no longer used: mosaics use the images' 4.65 m dish; remove the key" ]
	run header "$t/m.fits"
	assert_line --regexp "^PBTYPE  = 'airy    '"
	assert_line --regexp "^DISHDIAM= +4.65"
	[ ! -e "$t/nothere" ]
	no_temps "$t"
}

@test "uvm-mosaic: a full file system: 74, no temporary left; a directory in the way: 73" {
	mnt=$t/small
	tiny_fs "$mnt" 200 || skip "cannot mount a tmpfs here"
	run -74 uvm-mosaic -o "$mnt/m.fits" "$d"/n/*/qa.json
	assert_output --partial "uvm-mosaic: cannot write '$mnt/m.fits': No space left on device"
	no_temps "$mnt"
	[ ! -e "$mnt/m.fits" ]
	umount "$mnt"
	mkdir "$t/m.fits"
	run -73 uvm-mosaic -o "$t/m.fits" "$d"/n/*/qa.json
	assert_output "uvm-mosaic: cannot create '$t/m.fits': exists and is not a regular file"
}

@test "uvm-mosaic: hostile names: a directory with spaces, quotes, brackets and a newline" {
	g=$(ls "$d/n" | head -1)
	h="$t/we'ird [1]!"$'\n'"x"
	mkdir -p "$h"
	cp "$d/n/$g/qa.json" "$d/n/$g/image.fits" "$h/"
	run -0 uvm-mosaic -o "$h/m[0].fits" "$h/qa.json"
	[ -f "$h/m[0].fits" ]
	[[ "$(history "$h/m[0].fits")" == *"used $t/we\\x27ird [1]!\\x0ax/image.fits"* ]]
	no_temps "$t"
}
