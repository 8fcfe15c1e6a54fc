#!/usr/bin/env bats
# uvm-image: a simulated group (no gain errors, six random sources, known
# truth) is imaged; each source of the truth inside the field must be in
# the restored image at its catalogue position (through the FITS WCS, read
# by uvm-qa with wcslib) and with its apparent flux from the truth file.

load test_helper

USAGE="usage: uvm-image [-n npix] [-c cell_arcsec] [-i niter] [-g gain] [-t threshold_jy]
                 [-M nmajor] [-m mgain] [-a automask] [-A autothreshold]
                 [-p pbcor.fits] [-b beam] [-x pb_cut]
                 [-W weighting] [-P plan] [-w wisdom] [-f chanavg] [-j threads]
                 [-C channels_out] [-F terms] [-K slices]
                 -o image.fits vis.uvh5..."

# One simulated group (-L uvh5: the synthetic 1.45 km T, sized for this
# grid; the real layout is imaged in astrometry.bats) and its image, shared by the tests (imaging takes
# seconds under the sanitizers). -c 13: the 1.45 km array's longest
# baseline still fits the grid; 1280 pixels cover +-2.3 deg.
setup_file() {
	local d=$BATS_FILE_TMPDIR
	uvm-sim -L uvh5 -a 20 -s 2 -c 8 -t 6 -G 0 -n 0.05 -N 6 -S 3 -R "$d/truth.json" -o "$d/sim" >/dev/null
	uvm-image -n 1280 -c 13 -P estimate -W natural -o "$d/img.fits" "$d"/sim/*.hdf5 2>"$d/image.err"
	uvm-qa -j "$d/img.fits" >"$d/qa.json"
}

setup() {
	d=$BATS_FILE_TMPDIR
	t=$BATS_TEST_TMPDIR
}

# header FILE: the primary header's cards, one per line.
header() {
	head -c 28800 "$1" | fold -w 80 | sed '/^END *$/q'
}

# primary_data FILE N: the N x N float pixels of the primary HDU.
primary_data() {
	local off
	off=$(grep -abo -m1 -E 'END {77}' "$1" | head -1 | cut -d: -f1)
	off=$(((off / 2880 + 1) * 2880))
	tail -c +$((off + 1)) "$1" | head -c $(($2 * $2 * 4))
}

@test "uvm-image: usage" {
	run -0 uvm-image --help
	assert_output "$USAGE"
	run -64 uvm-image
	assert_output "$USAGE"
	run -64 uvm-image -o x.fits
	run -64 uvm-image -n 101 -o x.fits in.uvh5
	assert_line "uvm-image: bad value for -n: '101'"
	run -64 uvm-image -W fancy -o x.fits in.uvh5
	run -64 uvm-image -P slow -o x.fits in.uvh5
	run -64 uvm-image -g 0 -o x.fits in.uvh5
	run -64 uvm-image -x -o x.fits in.uvh5
}

@test "uvm-image: every truth source at its position (< 0.1 beam) with its apparent flux (5%)" {
	run jq -n --slurpfile t "$d/truth.json" --slurpfile q "$d/qa.json" '
	  ($t[0].groups[0]) as $g | ($q[0].beam.bmaj_arcsec) as $bm | (3.141592653589793 / 180) as $rad |
	  [$t[0].sources[]
	   | select(((.ra_deg - $g.phase_ra_deg) * (($g.dec_deg * $rad) | cos) | fabs) < 2 and
	            ((.dec_deg - $g.dec_deg) | fabs) < 2)
	   | . as $s
	   | [$q[0].sources[]
	      | {d: ((((.ra_deg - $s.ra_deg) * (($s.dec_deg * $rad) | cos) * 3600) as $a
	              | ((.dec_deg - $s.dec_deg) * 3600) as $b | ($a * $a + $b * $b) | sqrt)),
	         f: .peak_jy}]
	   | min_by(.d)
	   | {name: $s.name, d_beam: (.d / $bm), ratio: (.f / $s.apparent_flux_jy[0])}]'
	assert_success
	echo "$output"
	# at least 5 of the 6 sources are in the field: the check is not vacuous
	[ "$(echo "$output" | jq length)" -ge 5 ]
	run jq -e 'all(.[]; .d_beam < 0.1 and (.ratio - 1 | fabs) < 0.05)' <<<"$output"
	assert_success
}

@test "uvm-image: FITS header: SIN WCS at the group's mid-time meridian, beam, units, group" {
	run header "$d/img.fits"
	assert_line --regexp "^CTYPE1  = 'RA---SIN'"
	assert_line --regexp "^CTYPE2  = 'DEC--SIN'"
	assert_line --regexp "^CTYPE3  = 'FREQ    '"
	assert_line --regexp "^CTYPE4  = 'STOKES  '"
	assert_line --regexp "^BUNIT   = 'Jy/beam '"
	assert_line --regexp "^CRPIX1  = +6.41000+E\+02"
	assert_line --regexp "^CDELT2  = 3.6111111111111"
	assert_line --regexp "^BMAJ    = "
	assert_line --regexp "^BMIN    = "
	assert_line --regexp "^BPA     = "
	assert_line --regexp "^PV2_2   = "
	assert_line --regexp "^DATE-OBS= '2025-10-24T12:00:00.000'"
	assert_line --regexp "^TELESCOP= 'DSA-110 '"
	assert_line --regexp "^OBSERVER= "
	assert_line --regexp "^HISTORY "
	assert_line --regexp "^RADESYS = 'ICRS *'"
	refute_line --regexp "^EQUINOX ="
	assert_line --regexp "^TIMESYS = 'UTC *'"
	assert_line --regexp "^MJD-OBS = +[0-9.]+ "
	assert_line --regexp "^MJD-AVG = +[0-9.]+ "
	# no DATE (when the file was written): products hold no wall-clock time
	refute_line --regexp "^DATE    ="
	id=$(jq -r '.groups[0].id' "$d/truth.json")
	assert_line --regexp "^GROUPID = '$id'"
	assert_line --regexp "^OBJECT  = '$id'"
	# MJD-OBS is DATE-OBS (to 1 ms) and the start of the group's data (the
	# truth's start_jd); MJD-AVG its mid-time (mid_jd)
	key() { header "$d/img.fits" | sed -n "s/^$1 *= *'\{0,1\}\([^ '/]*\).*/\1/p"; }
	dobs=$(key DATE-OBS)
	sdate=$(date -u -d "${dobs}Z" +%s.%N)
	run jq -n --argjson mjd "$(key MJD-OBS)" --argjson avg "$(key MJD-AVG)" --argjson unix "$sdate" \
		--slurpfile t "$d/truth.json" '
	  ($t[0].groups[0]) as $g |
	  [(($unix / 86400 + 40587 - $mjd) * 86400 | fabs) < 0.001,
	   (($g.start_jd - 2400000.5 - $mjd) * 86400 | fabs) < 0.001,
	   (($g.mid_jd - 2400000.5 - $avg) * 86400 | fabs) < 0.001] | all'
	assert_output true
	# phase centre = the truth's ICRS position of the mid-time meridian at
	# the pointing dec (astropy checks it independently: astrometry.bats)
	crval1=$(header "$d/img.fits" | sed -n "s/^CRVAL1  = *\([^ /]*\).*/\1/p")
	crval2=$(header "$d/img.fits" | sed -n "s/^CRVAL2  = *\([^ /]*\).*/\1/p")
	run jq -n --argjson a "$crval1" --argjson b "$crval2" --slurpfile t "$d/truth.json" \
		'(($a - $t[0].groups[0].phase_ra_deg) | fabs) < 1e-4 and (($b - $t[0].groups[0].phase_dec_deg) | fabs) < 1e-6'
	assert_output true
	# wcslib accepted the header (uvm-qa measures through it) and the beam is in arcsec
	run jq -e '.beam.bmaj_arcsec > 30 and .beam.bmaj_arcsec < 60 and .beam.bmin_arcsec > 30' "$d/qa.json"
	assert_success
	run jq -r '.group' "$d/qa.json"
	assert_output "$id"
}

@test "uvm-image: the restored image carries the residual as extension RESIDUAL" {
	run grep -c "EXTNAME = 'RESIDUAL'" "$d/img.fits"
	assert_output 1
	run jq -r '.rms_from' "$d/qa.json"
	assert_output residual
}

@test "uvm-image: missing input is 66, corrupt input 65, nothing left behind" {
	run -66 uvm-image -n 64 -o "$t/x.fits" "$t/nope.uvh5"
	assert_output --partial "cannot open '$t/nope.uvh5'"
	f=$(ls "$d"/sim/*.hdf5 | head -1)
	head -c 50000 "$f" >"$t/trunc.hdf5"
	run -65 uvm-image -n 64 -o "$t/x.fits" "$t/trunc.hdf5"
	echo "not hdf5" >"$t/text.hdf5"
	run -65 uvm-image -n 64 -o "$t/x.fits" "$t/text.hdf5"
	mkfifo "$t/fifo"
	run -65 timeout 20 uvm-image -n 64 -o "$t/x.fits" "$t/fifo"
	run -65 uvm-image -n 64 -o "$t/x.fits" "$t"
	[ ! -e "$t/x.fits" ]
	no_temps "$t"
}

@test "uvm-image: a block that cannot be read mid-file is one clear line and 74, nothing left behind" {
	# the read runs ahead on a thread of its own: its error must come back
	# as the reader's own (dataset and rows), with libhdf5 kept quiet there
	uvm-combine -o "$t/all.uvh5" "$d"/sim/*.hdf5
	/usr/bin/python3 - "$t/all.uvh5" <<-'PY'
	import h5py, sys
	with h5py.File(sys.argv[1], "r") as f:
	    d = f["Data/flags"].id
	    c = d.get_chunk_info(d.get_num_chunks() * 2 // 3)
	with open(sys.argv[1], "r+b") as g:
	    g.seek(c.byte_offset)
	    g.write(b"\xff" * c.size)
	PY
	run -74 uvm-image -n 64 -P estimate -o "$t/x.fits" "$t/all.uvh5"
	assert_line --regexp "^uvm-image: cannot read '/Data/flags' rows [0-9]+-[0-9]+ in '$t/all.uvh5': "
	refute_output --partial "HDF5-DIAG"
	[ ! -e "$t/x.fits" ]
	no_temps "$t"
}

@test "uvm-image: no cross-correlations (one antenna) is 65" {
	uvm-sim -a 1 -s 1 -c 4 -t 2 -o "$t/one" >/dev/null
	run -65 uvm-image -n 64 -o "$t/x.fits" "$t"/one/*.hdf5
	[ ! -e "$t/x.fits" ]
}

@test "uvm-image: unwritable outputs are 73/74 and leave no temporary" {
	f=$(ls "$d"/sim/*.hdf5 | head -1)
	run -73 uvm-image -n 64 -P estimate -o "$t/no/such/dir/x.fits" "$f"
	# what is not a regular file is never replaced by the atomic rename
	mkfifo "$t/fifo"
	ln -s "$t/target" "$t/link"
	mkdir "$t/dir"
	run -73 uvm-image -n 64 -P estimate -o "$t/fifo" "$f"
	run -73 uvm-image -n 64 -P estimate -o "$t/link" "$f"
	run -73 uvm-image -n 64 -P estimate -o "$t/dir" "$f"
	[ -p "$t/fifo" ] && [ -L "$t/link" ] && [ ! -e "$t/target" ] && [ -d "$t/dir" ]
	run -73 uvm-image -n 64 -P estimate -o /proc/uvm-image.fits "$f"
	mkdir "$t/full"
	if tiny_fs "$t/full" 64; then
		run -74 uvm-image -n 512 -c 13 -P estimate -o "$t/full/x.fits" "$f"
		umount "$t/full"
	fi
	no_temps "$t"
}

@test "uvm-image: FFTW wisdom is created, then reused unchanged" {
	f=$(ls "$d"/sim/*.hdf5 | head -1)
	run -0 env UVM_DEBUG=1 uvm-image -n 96 -c 13 -i 10 -w "$t/w" -o "$t/a.fits" "$f"
	assert_line "uvm-image: debug: fft 120x120: wisdom none, saved"
	head -c 16 "$t/w" | grep -q '^(fftw-3'
	cp "$t/w" "$t/w0"
	run -0 env UVM_DEBUG=1 uvm-image -n 96 -c 13 -i 10 -w "$t/w" -o "$t/b.fits" "$f"
	assert_line "uvm-image: debug: fft 120x120: wisdom loaded, unchanged"
	assert_line "uvm-image: debug: fft 192x192: wisdom loaded, unchanged"
	cmp "$t/w" "$t/w0"
	# UVM_HOME: the default wisdom is state/fftw.wisdom
	mkdir -p "$t/home/state"
	run -0 env UVM_HOME="$t/home" uvm-image -n 96 -c 13 -i 10 -o "$t/c.fits" "$f"
	[ -s "$t/home/state/fftw.wisdom" ]
	no_temps "$t"
}

@test "uvm-image: re-running gives the same image; hostile output names are plain names" {
	f=$(ls "$d"/sim/*.hdf5 | head -1)
	uvm-image -n 256 -c 13 -P estimate -o "$t/a.fits" "$f"
	uvm-image -n 256 -c 13 -P estimate -o "$t/a.fits" "$f"
	uvm-image -n 256 -c 13 -P estimate -o "$t/!b[1] x.fits" "$f"
	# (the reports differ only in the image's name, also in their provenance)
	uvm-qa -j "$t/a.fits" | jq -S 'del(.image) | .provenance.inputs[].path = "-"' >"$t/a.json"
	uvm-qa -j "$t/!b[1] x.fits" | jq -S 'del(.image) | .provenance.inputs[].path = "-"' >"$t/b.json"
	diff "$t/a.json" "$t/b.json"
	# the restored image (the primary data) is bit-identical
	cmp <(primary_data "$t/a.fits" 256) <(primary_data "$t/!b[1] x.fits" 256)
	no_temps "$t"
}

@test "uvm-image: uniform weighting gives a narrower beam than natural; NaN samples are skipped" {
	uvm-sim -L uvh5 -a 20 -s 1 -c 4 -t 2 -G 0 -n 0.05 -N 2 -S 5 -F nan:0 -o "$t/s" >/dev/null
	run -0 uvm-image -n 256 -c 13 -P estimate -i 0 -W natural -o "$t/n.fits" "$t"/s/*.hdf5
	run -0 uvm-image -n 256 -c 13 -P estimate -i 0 -W uniform -o "$t/u.fits" "$t"/s/*.hdf5
	run -0 uvm-image -n 256 -c 13 -P estimate -i 0 -W briggs:0.5 -o "$t/b.fits" "$t"/s/*.hdf5
	# beam areas (bmaj x bmin): the major axes alone are too close to call
	bn=$(uvm-qa -j "$t/n.fits" | jq '.beam.bmaj_arcsec * .beam.bmin_arcsec')
	bu=$(uvm-qa -j "$t/u.fits" | jq '.beam.bmaj_arcsec * .beam.bmin_arcsec')
	bb=$(uvm-qa -j "$t/b.fits" | jq '.beam.bmaj_arcsec * .beam.bmin_arcsec')
	echo "natural $bn briggs $bb uniform $bu"
	jq -ne "$bu < $bb and $bb < $bn"
	# the NaN samples of the fault did not reach the image
	uvm-qa -j "$t/n.fits" 2>/dev/null >"$t/n.json"
	jq -e '.checks[] | select(.name == "finite_fraction") | .value == 1' "$t/n.json"
	jq -e '.rms_jy > 0' "$t/n.json"
}

@test "uvm-image: one combined file images like the subband files it was made of" {
	command -v uvm-combine >/dev/null || skip "uvm-combine not built"
	uvm-combine -o "$t/vis.uvh5" "$d"/sim/*.hdf5
	uvm-image -n 256 -c 13 -P estimate -o "$t/a.fits" "$t/vis.uvh5" 2>/dev/null
	uvm-image -n 256 -c 13 -P estimate -o "$t/b.fits" "$d"/sim/*.hdf5 2>/dev/null
	a=$(uvm-qa -j "$t/a.fits" 2>/dev/null)
	b=$(uvm-qa -j "$t/b.fits" 2>/dev/null)
	jq -n --argjson a "$a" --argjson b "$b" -e '
	  [.rms_jy, .peak_jy, .beam.bmaj_arcsec, .peak_pos.ra_deg] as $k |
	  ($a | [.rms_jy, .peak_jy, .beam.bmaj_arcsec, .peak_pos.ra_deg]) as $x |
	  ($b | [.rms_jy, .peak_jy, .beam.bmaj_arcsec, .peak_pos.ra_deg]) as $y |
	  [range(4) | (($x[.] - $y[.]) / $y[.] | fabs) < 1e-4] | all'
}

@test "uvm-image: the default field is the primary beam to its first null at the lowest frequency" {
	uvm-sim -L uvh5 -a 6 -s 2 -c 4 -t 2 -G 0 -n 0.05 -N 0 -S 5 -o "$t/s" >/dev/null
	fmin=$(/usr/bin/python3 -c 'import h5py, glob, sys
print(min(h5py.File(f)["Header/freq_array"][:].min() for f in glob.glob(sys.argv[1] + "/*.hdf5")))' "$t/s")
	for b in airy gauss; do
		run -0 uvm-image -c 60 -i 0 -P estimate -b "$b" -o "$t/$b.fits" "$t"/s/*.hdf5
		# Airy: first null 1.2197 lambda/D; Gaussian (FWHM 1.2 lambda/D):
		# where it falls to 1%; both sides, in 60 arcsec cells, rounded up
		# to the next even size with factors 2, 3, 5, 7 only
		want=$(/usr/bin/python3 -c 'import math, sys
lam = 299792458.0 / float(sys.argv[1])
r = 1.2197 * lam / 4.65 if sys.argv[2] == "airy" else 1.2 * lam / 4.65 * math.sqrt(math.log(100) / (4 * math.log(2)))
n = math.ceil(2 * r / math.radians(60 / 3600))
def ok(m):
    for p in (2, 3, 5, 7):
        while m % p == 0: m //= p
    return m == 1
n += n % 2
while not ok(n): n += 2
print(n)' "$fmin" "$b")
		assert_line --partial "info: image $want x $want of 60 arcsec"
		[ "$(/usr/bin/python3 -c 'from astropy.io import fits; import sys; print(fits.getheader(sys.argv[1])["NAXIS1"])' "$t/$b.fits")" = "$want" ]
	done
	# -n still decides; 0 and auto are the default
	run -0 uvm-image -n 64 -c 60 -i 0 -P estimate -o "$t/n.fits" "$t"/s/*.hdf5
	refute_line --partial "info: image"
	run -0 uvm-image -n auto -c 60 -i 0 -P estimate -o "$t/n.fits" "$t"/s/*.hdf5
	assert_line --partial "info: image"
	run -64 uvm-image -n 8 -o x.fits in.uvh5
}
