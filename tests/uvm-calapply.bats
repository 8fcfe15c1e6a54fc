#!/usr/bin/env bats
# uvm-calapply: usage; gains solved on a simulated 3C48 transit applied to
# the same group give visibilities equal to the truth's sky model (3C48
# through the primary beam, computed here from the truth JSON and the
# file's uvw and LST) within the thermal noise; the table used and its
# fallback level recorded in the output and on stdout; the registry's
# fallback chain (ok, stale, last-good, none) with rows written directly
# in SQLite; solution flags and channels without gains propagate as flags;
# bad or missing inputs 65/66 (blame file naming a corrupt table); a full
# file system 74 without temporary, also in the middle of the data while
# workers encode; an idempotent re-run.

bats_require_minimum_version 1.5.0
load test_helper

USAGE_TEXT='usage: uvm-calapply [-D home] [-c caltable] [-t threads] -o out vis.uvh5'
NOISE=0.3

LZF_LIB=$(ls /usr/lib/*/liblzf.so.1 2>/dev/null | head -1)

h5vals() {
	LD_PRELOAD=$LZF_LIB h5dump -y -w 0 -m "${3:-%.17g}" -d "$2" "$1" |
		awk '/DATA \{/{f=1;next} /^ *\}$/{f=0} f' | tr -d ' {}' | tr ',' '\n' |
		grep -v '^$' | sed 's/^FALSE$/0/; s/^TRUE$/1/'
}

# A calibrator group, its table, and the same group with one subband less.
setup_file() {
	cd "$BATS_FILE_TMPDIR"
	uvm-sim -L uvh5 -a 12 -s 2 -c 4 -t 6 -N 0 -n $NOISE -K "$UVM_ROOT/ops/calibrators.csv" \
		-k 3C48 -C 0 -R cal.json -o cal >/dev/null
	uvm-combine -o cal.uvh5 cal/*.hdf5
	uvm-combine -m sb00 -o half.uvh5 cal/*_sb01.hdf5
	mkdir -p solve/state
	uvm-calsolve -D solve -g G1 -o G1.cal.h5 cal.uvh5 2>/dev/null
	uvm-calsolve -D solve -g GH -o half.cal.h5 half.uvh5 2>/dev/null
	printf 'CAL_FLAG_SNR=1e9\nCAL_MAX_FLAGGED=1\nCAL_MIN_SNR=0\nCAL_MIN_GOOD_ANTPOL=0\n' > solve/uvmake.conf
	uvm-calsolve -D solve -g GF -o flagged.cal.h5 cal.uvh5 2>/dev/null
	rm solve/uvmake.conf
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	D=$BATS_FILE_TMPDIR
	mkdir -p home/state home/caltables
}

teardown() {
	if [ -n "${MNT:-}" ]; then
		umount "$MNT" 2>/dev/null || true
	fi
}

# residual VIS TRUTH: "rms n nflagged" - rms |V - model| over unflagged
# cross-correlations, the model being the truth's sources seen through the
# primary beam from each integration's drift centre (RA = LST, Dec =
# pointing), with the file's own uvw (SCIENCE.md convention).
residual() {
	{
		echo "P $(jq -r '.groups[0].dec_deg' "$2") $(jq -r '.telescope.dish_diameter_m' "$2")"
		jq -r '.sources[] | "S \(.app_ra_deg[0]) \(.app_dec_deg[0]) \(.flux_jy) \(.ref_freq_hz) \(.spectral_index)"' "$2"
		h5vals "$1" /Header/freq_array | sed 's/^/F /'
		h5vals "$1" /Header/ant_1_array | sed 's/^/A /'
		h5vals "$1" /Header/ant_2_array | sed 's/^/B /'
		h5vals "$1" /Header/lst_array | sed 's/^/L /'
		h5vals "$1" /Header/uvw_array | paste -d' ' - - - | sed 's/^/U /'
		h5vals "$1" /Data/visdata %.9g | paste -d' ' - - | sed 's/^/V /'
		h5vals "$1" /Data/flags | sed 's/^/G /'
	} | awk '
	function sep(r1, d1, r2, d2,  a, b, x) {
		a = sin((d2 - d1) / 2); b = sin((r2 - r1) / 2); x = a * a + cos(d1) * cos(d2) * b * b
		return 2 * atan2(sqrt(x), sqrt(1 - x)) }
	BEGIN { pi = 3.141592653589793; c = 299792458; rad = pi / 180 }
	$1 == "P" { dec0 = $2 * rad; D = $3; next }
	$1 == "S" { ns++; sra[ns] = $2 * rad; sdec[ns] = $3 * rad; sf[ns] = $4; sref[ns] = $5; sal[ns] = $6; next }
	$1 == "F" { fr[nf++] = $2; next }
	$1 == "A" { a1[na++] = $2; next }
	$1 == "B" { a2[nb++] = $2; next }
	$1 == "L" { lst[nl++] = $2; next }
	$1 == "U" { uu[nu] = $2; vv[nu] = $3; ww[nu] = $4; nu++; next }
	$1 == "V" { vr[nv] = $2; vi[nv] = $3; nv++; next }
	$1 == "G" { fl[ng++] = $2; next }
	END {
		np = nv / (na * nf)
		for (r = 0; r < na; r++) {
			if (a1[r] == a2[r]) continue
			for (f = 0; f < nf; f++) {
				lam = c / fr[f]; mr = 0; mi = 0
				for (s = 1; s <= ns; s++) {
					da = sra[s] - lst[r]
					l = cos(sdec[s]) * sin(da)
					m = sin(sdec[s]) * cos(dec0) - cos(sdec[s]) * sin(dec0) * cos(da)
					n = sin(sdec[s]) * sin(dec0) + cos(sdec[s]) * cos(dec0) * cos(da)
					th = sep(sra[s], sdec[s], lst[r], dec0); fw = 1.2 * lam / D
					S = sf[s] * exp(sal[s] * log(fr[f] / sref[s])) * exp(-4 * log(2) * th * th / (fw * fw))
					ph = 2 * pi * (uu[r] * l + vv[r] * m + ww[r] * (n - 1)) / lam
					mr += S * cos(ph); mi += S * sin(ph) }
				for (p = 0; p < np; p++) {
					k = (r * nf + f) * np + p
					if (fl[k]) { nfl++; continue }
					dr = vr[k] - mr; di = vi[k] - mi; s2 += dr * dr + di * di; cnt++ } } }
		printf "%.6f %d %d\n", cnt ? sqrt(s2 / cnt) : -1, cnt, nfl
	}'
}

# mid_mjd VIS: the data mid-time, MJD.
mid_mjd() {
	h5vals "$1" /Header/time_array | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.9f\n", (a + b) / 2 - 2400000.5 }'
}

# add_row GROUP PATH TRANSIT START END STATUS: a registry row, directly.
add_row() {
	sqlite3 home/state/calibration.sqlite "INSERT INTO caltables (path, grp, calibrator,
		transit_mjd, mjd_start, mjd_end, frac_flagged, median_snr, residual_rms, created, status)
		VALUES ('$2', '$1', '3C48', $3, $4, $5, 0, 50, 0.03, 0, '$6')"
}

# A registry with its schema (made by a real solve, then emptied).
make_registry() {
	uvm-calsolve -D home -g X -o home/caltables/X.cal.h5 "$D/cal.uvh5" 2>/dev/null
	sqlite3 home/state/calibration.sqlite "DELETE FROM caltables"
	rm home/caltables/X.cal.h5
}

@test "usage text on --help; bad usage exits 64" {
	run -0 uvm-calapply --help
	assert_output "$USAGE_TEXT"
	run -64 uvm-calapply
	assert_output "$USAGE_TEXT"
	run -64 uvm-calapply -o out.uvh5
	run -64 uvm-calapply -c t.cal.h5 out.uvh5
	[ ! -e out.uvh5 ]
}

@test "calibrated visibilities equal the truth's sky model within the noise" {
	# before: far from the model (gains up to tens of percent, phases)
	read -r rms n nfl < <(residual "$D/cal.uvh5" "$D/cal.json")
	echo "uncalibrated rms=$rms n=$n"
	awk -v r=$rms 'BEGIN { exit !(r > 5) }'
	run -0 uvm-calapply -c "$D/G1.cal.h5" -o out.uvh5 "$D/cal.uvh5"
	assert_output "cal_table=$D/G1.cal.h5 cal_level=ok calibrator=3C48 cal_group=G1 age_hours=0.00 flagged=0.0000"
	no_temps .
	# after: the residual is the thermal noise, sqrt(2) n per complex
	# sample, plus the gain errors (< 1%, ~0.1 Jy on 16 Jy): within 15%
	read -r rms n nfl < <(residual out.uvh5 "$D/cal.json")
	echo "calibrated rms=$rms n=$n flagged=$nfl"
	[ "$n" -eq $((66 * 6 * 8 * 2)) ]
	[ "$nfl" -eq 0 ]
	awk -v r=$rms -v s=$NOISE 'BEGIN { e = sqrt(2) * s; exit !(r > 0.85 * e && r < 1.15 * e) }'
	run -0 uvm-dump out.uvh5
	assert_line 'vis_units=Jy'
	assert_line "extra.cal_table=$D/G1.cal.h5"
	assert_line 'extra.cal_level=ok'
	assert_line 'extra.cal_calibrator=3C48'
	assert_line 'extra.cal_group=G1'
	h5dump -y -d /Header/history out.uvh5 | grep -q "uvm-calapply: calibrated with '$D/G1.cal.h5' (calibrator 3C48, group G1, level ok)"
	# weights: nsamples times (|g1 g2| / m^2)^2, m the median gain
	# amplitude, with the truth's gains (the table's are within ~1% of
	# them): every cross-correlation sample within 6%
	m=$(jq -r '.gains.values[0][][][][] | (.[0] * .[0] + .[1] * .[1]) | sqrt' "$D/cal.json" |
		sort -g | awk '{ v[n++] = $1 } END { print v[int(n / 2)] }')
	{
		h5vals "$D/cal.uvh5" /Header/ant_1_array | sed 's/^/A /'
		h5vals "$D/cal.uvh5" /Header/ant_2_array | sed 's/^/B /'
		h5vals "$D/cal.uvh5" /Data/nsamples | sed 's/^/I /'
		h5vals out.uvh5 /Data/nsamples | sed 's/^/O /'
		jq -r '.gains.antennas | to_entries[] | "N \(.value.number) \(.key)"' "$D/cal.json"
		jq -r '.gains.values[0] | to_entries[] | .key as $t | .value | to_entries[] |
			.key as $a | .value | to_entries[] | .key as $p | .value | to_entries[] |
			"T \($t) \($a) \($p) \(.key) \(.value[0]) \(.value[1])"' "$D/cal.json"
	} | awk -v nf=8 -v np=2 -v nt=6 -v m=$m '
	$1 == "A" { a1[na++] = $2; next }
	$1 == "B" { a2[nb++] = $2; next }
	$1 == "I" { ni[nI++] = $2; next }
	$1 == "O" { no[nO++] = $2; next }
	$1 == "N" { idx[$2] = $3; next }
	$1 == "T" { amp[$2, $3, $4, $5] = sqrt($6^2 + $7^2); next }
	END {
		nbl = na / nt
		for (r = 0; r < na; r++) {
			if (a1[r] == a2[r]) continue
			t = int(r / nbl)
			for (f = 0; f < nf; f++) for (p = 0; p < np; p++) {
				k = (r * nf + f) * np + p
				w = (amp[t, idx[a1[r]], p, f] * amp[t, idx[a2[r]], p, f] / (m * m))^2
				e = no[k] / (ni[k] * w) - 1; if (e < 0) e = -e; if (e > me) me = e; cnt++ } }
		printf "%d samples, largest weight error %.4f\n", cnt, me
		exit !(cnt == 66 * 6 * 8 * 2 && me < 0.06)
	}'
}

@test "without -c the registry chooses: ok, stale, last-good, none" {
	make_registry
	M=$(mid_mjd "$D/cal.uvh5")
	cp "$D/G1.cal.h5" home/caltables/A.cal.h5
	cp "$D/G1.cal.h5" home/caltables/B.cal.h5
	# none: no good row (a rejected one does not count)
	add_row R caltables/A.cal.h5 "$M" "$M-0.5" "$M+0.5" rejected
	run -69 uvm-calapply -D home -o out.uvh5 "$D/cal.uvh5"
	assert_output --partial "no calibration table available"
	[ ! -e out.uvh5 ]
	# last-good: 10 days away
	add_row A caltables/A.cal.h5 "$M+10" "$M+9.5" "$M+10.5" good
	run -0 uvm-calapply -D home -o out.uvh5 "$D/cal.uvh5"
	assert_output --partial "alert: no calibration within 72 h"
	assert_line --partial "cal_table=caltables/A.cal.h5 cal_level=last-good"
	# stale: 1.5 days away, within CAL_MAX_AGE_HOURS
	add_row B caltables/B.cal.h5 "$M-1.5" "$M-2" "$M-1" good
	run -0 uvm-calapply -D home -o out.uvh5 "$D/cal.uvh5"
	assert_output --partial "stale calibration"
	assert_line --partial "cal_table=caltables/B.cal.h5 cal_level=stale"
	run -0 uvm-dump out.uvh5
	assert_line 'extra.cal_level=stale'
	# CAL_MAX_AGE_HOURS shorter: the same table becomes last-good
	echo CAL_MAX_AGE_HOURS=24 > home/uvmake.conf
	run -0 uvm-calapply -D home -o out.uvh5 "$D/cal.uvh5"
	assert_line --partial "cal_table=caltables/B.cal.h5 cal_level=last-good"
	rm home/uvmake.conf
	# ok: a covering window wins over a nearer transit that does not cover
	sqlite3 home/state/calibration.sqlite "UPDATE caltables SET transit_mjd = $M + 0.01,
		mjd_start = $M + 0.005, mjd_end = $M + 1 WHERE grp = 'A'"
	sqlite3 home/state/calibration.sqlite "UPDATE caltables SET transit_mjd = $M - 0.4,
		mjd_start = $M - 0.9, mjd_end = $M + 0.001 WHERE grp = 'B'"
	run -0 uvm-calapply -D home -o out.uvh5 "$D/cal.uvh5"
	assert_output --regexp '^cal_table=caltables/B.cal.h5 cal_level=ok calibrator=3C48 cal_group=G1 age_hours=9.60'
	# a registered table whose file is gone is skipped
	rm home/caltables/B.cal.h5
	run -0 uvm-calapply -D home -o out.uvh5 "$D/cal.uvh5"
	assert_line --partial "cal_table=caltables/A.cal.h5 cal_level=stale"
	# a deployment without a registry yet
	mkdir -p empty/state
	run -69 uvm-calapply -D empty -o out2.uvh5 "$D/cal.uvh5"
	[ ! -e out2.uvh5 ]
	[ ! -e empty/state/calibration.sqlite ]
}

@test "flagged solutions and channels without gains are flagged, set to zero" {
	run -0 uvm-calapply -c "$D/flagged.cal.h5" -o all.uvh5 "$D/cal.uvh5"
	assert_output --partial "flagged=1.0000"
	[ "$(h5vals all.uvh5 /Data/flags | sort -u)" = 1 ]
	[ "$(h5vals all.uvh5 /Data/visdata %.9g | sort -u)" = 0 ]
	# a table solved on one subband covers half of the channels
	run -0 uvm-calapply -c "$D/half.cal.h5" -o half.uvh5 "$D/cal.uvh5"
	assert_output --partial "4 channels and 0 antennas without gains"
	assert_output --partial "flagged=0.5000"
	# the flagged channels are the ones the table lacks, the others calibrated
	read -r rms n nfl < <(residual half.uvh5 "$D/cal.json")
	[ "$nfl" -eq $((66 * 6 * 4 * 2)) ]
	awk -v r=$rms -v s=$NOISE 'BEGIN { e = sqrt(2) * s; exit !(r > 0.85 * e && r < 1.15 * e) }'
}

@test "bad inputs: corrupt table 65 blamed, missing 66, foreign table 69" {
	echo garbage > bad.cal.h5
	run -65 env UVM_BLAME_FILE=blame uvm-calapply -c bad.cal.h5 -o out.uvh5 "$D/cal.uvh5"
	assert_output --partial "'bad.cal.h5' is not an HDF5 file"
	[ "$(cat blame)" = bad.cal.h5 ]
	run -65 uvm-calapply -c "$D/G1.cal.h5" -o out.uvh5 bad.cal.h5
	run -66 uvm-calapply -c nosuch.cal.h5 -o out.uvh5 "$D/cal.uvh5"
	run -66 uvm-calapply -c "$D/G1.cal.h5" -o out.uvh5 nosuch.uvh5
	# a UVH5 file is not a table
	run -65 uvm-calapply -c "$D/cal.uvh5" -o out.uvh5 "$D/cal.uvh5"
	assert_output --partial "is not a calibration table"
	[ ! -e out.uvh5 ]
	# a table from another array shares no antenna: not applicable
	run -0 uvm-sim -a 4 -s 1 -c 4 -t 2 -N 0 -o other
	run -0 uvm-combine -o other.uvh5 other/*.hdf5
	run -69 uvm-calapply -c "$D/half.cal.h5" -o out.uvh5 other.uvh5
	assert_output --partial "shares no antenna, channel or polarization"
}

@test "full file system 74 with no temporary; idempotent re-run" {
	MNT=$BATS_TEST_TMPDIR/mnt
	tiny_fs "$MNT" 16 || skip "cannot mount tmpfs"
	run -74 uvm-calapply -c "$D/G1.cal.h5" -o "$MNT/out.uvh5" "$D/cal.uvh5"
	no_temps "$MNT"
	[ ! -e "$MNT/out.uvh5" ]
	# stdout is checked too
	run -74 sh -c "uvm-calapply -c '$D/G1.cal.h5' -o out.uvh5 '$D/cal.uvh5' > /dev/full"
	assert_output --partial "write error"
	run -0 uvm-calapply -c "$D/G1.cal.h5" -o out.uvh5 "$D/cal.uvh5"
	uvm-dump -d out.uvh5 > first
	run -0 uvm-calapply -c "$D/G1.cal.h5" -o out.uvh5 "$D/cal.uvh5"
	uvm-dump -d out.uvh5 | diff first -
	no_temps .
}

@test "a full file system in the middle of the data: 74 naming the rows, no temporary, on 1 and 3 threads" {
	MNT=$BATS_TEST_TMPDIR/mnt
	# the header fits in 96 KiB (~70), the 6 blocks of data do not (~175
	# in all); each size
	# fails at a later block, while workers are encoding the next ones
	for k in 96 112 128 144; do
		tiny_fs "$MNT" $k || skip "cannot mount tmpfs"
		for t in 1 3; do
			run -74 uvm-calapply -t $t -c "$D/G1.cal.h5" -o "$MNT/out.uvh5" "$D/cal.uvh5"
			assert_output --regexp "cannot write '/Data/visdata' rows [0-9]+-[0-9]+ of '$MNT/out.uvh5': No space left on device"
			no_temps "$MNT"
			[ ! -e "$MNT/out.uvh5" ]
		done
		umount "$MNT"
	done
}

@test "threads: the same bytes on 1, 2 and 3 threads, block after block" {
	# 6 blocks of rows (one per integration), each shared among the threads
	for t in 1 2 3; do
		run -0 uvm-calapply -t $t -c "$D/G1.cal.h5" -o out$t.uvh5 "$D/cal.uvh5"
		echo "$output" >line$t
	done
	[ "$(h5vals out1.uvh5 /Header/Nblts)" -gt 6 ]
	cmp out1.uvh5 out2.uvh5
	cmp out1.uvh5 out3.uvh5
	cmp line1 line2
	cmp line1 line3
	# and they are calibrated: not the input's visibilities (run: a bare
	# "! cmd" does not fail a bats test)
	run -1 cmp -s <(h5vals out1.uvh5 /Data/visdata) <(h5vals "$D/cal.uvh5" /Data/visdata)
	run -64 uvm-calapply -t x -c "$D/G1.cal.h5" -o bad.uvh5 "$D/cal.uvh5"
	[ ! -e bad.uvh5 ]
}
