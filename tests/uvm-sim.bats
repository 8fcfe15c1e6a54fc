#!/usr/bin/env bats
# uvm-sim: usage, the correlator-like file stream (names, shapes,
# frequencies), known answers (a source at the phase centre, uvw from the
# antenna positions, integration-centre times), determinism, every fault,
# exit statuses with forced write failures leaving no temporary or
# *_incomplete file, and an idempotent re-run. Small groups throughout.

bats_require_minimum_version 1.5.0
load test_helper

USAGE_TEXT='usage: uvm-sim [-L layout] [-a nants] [-s nsub] [-c nchan] [-t ntimes] [-g ngroups]
              [-d dec_deg] [-S seed] [-T start] [-K catalogue -k name -C group]
              [-N nsrc] [-Y sky] [-P sources] [-n noise_jy] [-G gain_level] [-p pace]
              [-j jitter_s] [-F fault] [-D defects] [-B beam] [-R truth.json] -o dir'

NAME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}_sb[0-9]{2}\.hdf5$'

setup() {
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	if [ -n "${MNT:-}" ]; then
		umount "$MNT" 2>/dev/null || true
	fi
}

# h5vals FILE DATASET: the values of a dataset, one per line (compound
# members in order), full precision.
h5vals() {
	h5dump -y -w 0 -m '%.17g' -d "$2" "$1" | awk '/DATA \{/{f=1;next} /^ *\}$/{f=0} f' |
		tr -d ' {}' | tr ',' '\n' | grep -v '^$'
}

# sb FILE_GLOB_DIR N: the file of subband N in DIR (one expected).
sbfile() {
	local f
	f=$(ls "$1"/*_sb"$(printf %02d "$2")".hdf5)
	echo "$f"
}

@test "usage text on --help, and on bad usage exit 64" {
	run uvm-sim --help
	assert_success
	assert_output "$USAGE_TEXT"
	run -64 uvm-sim
	assert_output "$USAGE_TEXT"
	run -64 uvm-sim -a 0 -o out
	assert_line --index 0 "uvm-sim: bad value for -a: '0'"
	run -64 uvm-sim -F bogus:1 -o out
	run -64 uvm-sim -s 4 -F truncate:4 -o out
	run -64 uvm-sim -k 3C48 -o out
	run -64 uvm-sim -o out extra
	[ ! -e out ]
}

@test "one small group: 4 files named like the correlator's, sb00 is the group id" {
	run sim_small -R truth.json -o out
	assert_success
	[ "$(ls out | wc -l)" -eq 4 ]
	for f in out/*; do
		[[ "$(basename "$f")" =~ $NAME_RE ]]
	done
	[ -z "$(find out -name '*incomplete*')" ]
	no_temps .
	for n in 0 1 2 3; do
		[ -f "$(sbfile out $n)" ]
	done
	sb0=$(basename "$(sbfile out 0)")
	id=$(echo "$sb0" | cut -c1-19 | tr -d ':-')
	[ "$(jq -r '.groups[0].id' truth.json)" = "$id" ]
	[ "$(jq -r '.groups[0].files | sort | join(" ")' truth.json)" = "$(ls out | sort | tr '\n' ' ' | sed 's/ $//')" ]
	# jittered: all within jitter_s of the nominal start (12 s cap for a 38.6 s group)
	[ "$(jq -r '.jitter_s' truth.json)" = 12 ]
}

@test "-T sets the start; with -j 0 every file time is the start" {
	run uvm-sim -a 3 -s 3 -c 1 -t 1 -j 0 -T 2025-01-02T03:04:05 -R t.json -o out
	assert_success
	[ "$(ls out | tr '\n' ' ')" = "2025-01-02T03:04:05_sb00.hdf5 2025-01-02T03:04:05_sb01.hdf5 2025-01-02T03:04:05_sb02.hdf5 " ]
	[ "$(jq -r '.groups[0].id' t.json)" = 20250102T030405 ]
	# JD of 2025-01-02T03:04:05Z is 2460677.627835648
	awk -v j="$(jq -r '.groups[0].start_jd' t.json)" 'BEGIN{d=j-2460677.627835648; exit !(d*d < 1e-16)}'
	run -64 uvm-sim -T 2025-01-02 -o out
}

@test "each file has Nblts = Nbls x Ntimes, Nfreqs, Npols, autocorrelations included" {
	sim_small -L uvh5 -o out
	for f in out/*.hdf5; do
		run uvm-dump "$f"
		assert_success
		assert_line "Nbls=21"
		assert_line "Nblts=63"
		assert_line "Ntimes=3"
		assert_line "Nfreqs=4"
		assert_line "Npols=2"
		assert_line "polarizations=xx,yy"
		assert_line "vistype=complex64"
		assert_line "version=1.2"
		assert_line "extra.phasing=meridian"
	done
	f=$(sbfile out 2)
	# rows time-major, ant_1 <= ant_2, autocorrelations first in each block
	[ "$(h5vals "$f" /Header/ant_1_array | head -6 | tr '\n' ' ')" = "0 0 0 0 0 0 " ]
	[ "$(h5vals "$f" /Header/ant_2_array | head -7 | tr '\n' ' ')" = "0 1 2 3 4 5 1 " ]
	[ "$(h5vals "$f" /Header/ant_1_array | sed -n 22p)" = 0 ]
	[ "$(h5vals "$f" /Header/ant_1_array | sort -n | uniq -c | awk '{print $1}' | tr '\n' ' ')" = "18 15 12 9 6 3 " ]
}

# The default layout is the DSA-110 writer's (shared/data/dsa110/LAYOUT.md,
# dsamfs/uvh5_utils.py), checked here with h5py, not with our reader.
@test "default layout: the DSA-110 writer's, on the real station list" {
	sim_small -d 54.57 -o out
	f=$(sbfile out 1)
	run /usr/bin/python3 - "$f" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
h = f["Header"]
out = []
out.append("version" in h)
out.append("phase_center_catalog" in h)
out.append(h["phase_type"][()].decode())
out.append(h["telescope_name"][()].decode())
out.append(int(h["Nants_telescope"][()]))
out.append(int(h["Nants_data"][()]))
out.append(h["antenna_names"].dtype.str)
out.append(h["antenna_names"][0].decode() + "," + h["antenna_names"][116].decode())
out.append(h["uvw_array"].dtype.str)
out.append(h["freq_array"].shape)
out.append(h["channel_width"].shape)
out.append(bool(h["channel_width"][()] > 0 and np.all(np.diff(h["freq_array"][0]) < 0)))
out.append(f["Data"]["visdata"].shape)
out.append("%.6f" % np.degrees(h["extra_keywords"]["phase_center_dec"][()]))
out.append("%.6f" % np.degrees(h["phase_center_app_dec"][()]))
out.append(float(h["extra_keywords"]["ha_phase_center"][()]))
out.append(int(h["extra_keywords"]["phase_center_epoch"][()]))
out.append(h["ant_1_array"].dtype.str)
a1, a2 = h["ant_1_array"][:21], h["ant_2_array"][:21]
out.append(int(np.sum(a1 > a2)))
out.append(int(np.sum(a1 == a2)))
out.append(bool(f["Data"]["flags"][()].any()))
print(" ".join(str(x) for x in out))
PY
	assert_success
	assert_output "False False drift OVRO_MMA 117 6 |S4 1,117 <f4 (1, 4) () True (63, 1, 4, 2) 54.570000 54.570000 0.0 2000 <i8 5 6 False"
	# before June 2022: no scalar app dec; uvm-verify accepts both
	sim_small -L dsa110-2021 -o old
	run -0 uvm-dump "$(sbfile old 1)"
	assert_line 'phase_center_app_dec=absent'
	assert_line 'pointing_dec_deg=33.16'
	run -0 uvm-verify out/*.hdf5 old/*.hdf5
	assert_output ''
}

@test "frequencies descend inside each file and sb00 is the highest band" {
	sim_small -o out
	prev=1e12
	for n in 0 1 2 3; do
		h5vals "$(sbfile out $n)" /Header/freq_array > f$n
		[ "$(wc -l < f$n)" -eq 4 ]
		sort -g -r f$n | cmp - f$n
		awk -v p="$prev" 'NR==1 && !($1 < p) {exit 1}' f$n
		prev=$(tail -1 f$n)
	done
	[ "$(head -1 f0)" = 1493140625 ]
	[ "$(tail -1 f3)" = 1317359375 ]
	[ "$(h5vals "$(sbfile out 0)" /Header/channel_width | head -1)" = 11718750 ]
}

@test "known answer: a calibrator transiting at the phase centre gives its flux, real" {
	printf '# test\nCAL,10.0,40.0,7.5,1400,0\n' > cal.csv
	run uvm-sim -a 4 -s 2 -c 3 -t 1 -N 0 -G 0 -n 0 -K cal.csv -k CAL -C 0 -R t.json -o out
	assert_success
	[ "$(jq -r '.groups[0].calibrator' t.json)" = CAL ]
	# pointed at the calibrator's apparent (CIRS) declination: 40 deg in
	# ICRS is within a degree of it
	awk -v d="$(jq -r '.dec_deg' t.json)" 'BEGIN { exit !(d > 39.5 && d < 40.5 && d != 40) }'
	for f in out/*.hdf5; do
		h5vals "$f" /Data/visdata > v
		# rows: (0,0) (0,1) (0,2) (0,3) (1,1) ...; 3 channels x 2 pols x (re, im)
		awk 'BEGIN{bad=0} { row=int((NR-1)/12); re=(NR%2==1) }
		     row==0||row==4||row==7||row==9 { if (re && $1 != 5807.5) bad=1; if (!re && $1 != 0) bad=1; next }
		     re { if ($1 < 7.5-1e-5 || $1 > 7.5+1e-5) bad=1 }
		     !re { if ($1 > 1e-4 || $1 < -1e-4) bad=1 }
		     END { if (NR != 120) bad=1; exit bad }' v
	done
}

@test "known answer: -P places a source; at the phase centre it gives its flux" {
	uvm-sim -a 5 -s 1 -c 2 -t 1 -N 0 -R t0.json -o out0
	# the phase centre at mid-time, in ICRS (sources are given in ICRS)
	ra=$(jq -r '.groups[0].phase_ra_deg' t0.json)
	dec=$(jq -r '.groups[0].phase_dec_deg' t0.json)
	printf 'SRC,%s,%s,2.25,1400,0\n' "$ra" "$dec" > src.csv
	run uvm-sim -a 5 -s 1 -c 2 -t 1 -N 0 -G 0 -n 0 -P src.csv -R t.json -o out
	assert_success
	[ "$(jq -r '.sources[0].name' t.json)" = SRC ]
	awk '{ if (NR%2==1 && ($1 < 2.25-1e-5 || $1 > 2.25+1e-5) && $1 != 5802.25) exit 1;
	       if (NR%2==0 && ($1 > 1e-4 || $1 < -1e-4)) exit 1 }' <(h5vals out/*.hdf5 /Data/visdata)
	# apparent flux in the truth: at the phase centre, no attenuation
	awk -v a="$(jq -r '.sources[0].apparent_flux_jy[0]' t.json)" 'BEGIN{exit !(a > 2.2499 && a < 2.2501)}'
	# a source 20 degrees away is outside the Gaussian beam (no sidelobes):
	# nothing but the autos
	printf 'FAR,%s,53.16,100,1400,0\n' "$ra" > far.csv
	uvm-sim -a 5 -s 1 -c 2 -t 1 -N 0 -G 0 -n 0 -B gauss -P far.csv -o far
	awk '{ if ($1 != 0 && $1 != 5800 && ($1 > 1e-6 || $1 < -1e-6)) exit 1 }' <(h5vals far/*.hdf5 /Data/visdata)
	# the dish (default) sees it in its far sidelobes, at their level:
	# the tapered aperture's power pattern there is about 1e-4 (5e-4 at most)
	uvm-sim -a 5 -s 1 -c 2 -t 1 -N 0 -G 0 -n 0 -P far.csv -o farsl
	# (the autocorrelations, 5800 Jy of SEFD, carry it too)
	awk '{ if ($1 > 1000 ? $1 > 5800.05 : ($1 > 5e-2 || $1 < -5e-2)) exit 1 }' <(h5vals farsl/*.hdf5 /Data/visdata)
	! awk '{ if ($1 < 1000 && ($1 > 1e-6 || $1 < -1e-6)) exit 1 }' <(h5vals farsl/*.hdf5 /Data/visdata) || false
}

@test "uvw = pos(ant_2) - pos(ant_1): u is the east offset, |uvw| is the baseline length" {
	sim_small -R t.json -o out
	f=$(sbfile out 1)
	h5vals "$f" /Header/uvw_array | head -63 > uvw
	h5vals "$f" /Header/antenna_positions > pos
	# rows (by index in the active list) 3 = (0,3), 7 = (1,2), 14 = (2,5);
	# positions are per station (antenna number); uvw are float32
	for rb in "3 0 3" "7 1 2" "14 2 5"; do
		set -- $rb
		n1=$(jq -r ".antennas[$2].number" t.json)
		n2=$(jq -r ".antennas[$3].number" t.json)
		[ "$(h5vals "$f" /Header/ant_1_array | sed -n "$(($1 + 1))p")" = "$n1" ]
		[ "$(h5vals "$f" /Header/ant_2_array | sed -n "$(($1 + 1))p")" = "$n2" ]
		u=$(sed -n "$(($1 * 3 + 1))p" uvw)
		de=$(jq -r ".antennas[$3].enu_m[0] - .antennas[$2].enu_m[0]" t.json)
		awk -v u="$u" -v d="$de" 'BEGIN{exit !((u-d)^2 < 1e-6)}'
		l1=$(sed -n "$(($1 * 3 + 1)),$(($1 * 3 + 3))p" uvw | awk '{s+=$1*$1} END{printf "%.9f", sqrt(s)}')
		l2=$(awk -v a="$n1" -v b="$n2" 'NR>3*a && NR<=3*a+3 {p[NR-3*a]=$1} NR>3*b && NR<=3*b+3 {q[NR-3*b]=$1}
			END{printf "%.9f", sqrt((q[1]-p[1])^2+(q[2]-p[2])^2+(q[3]-p[3])^2)}' pos)
		awk -v a="$l1" -v b="$l2" 'BEGIN{exit !((a-b)^2 < 1e-6)}'
	done
	# autocorrelations have uvw 0
	[ "$(sed -n '1,3p' uvw | tr '\n' ' ')" = "0 0 0 " ]
}

@test "time_array is the JD at the centre of each integration" {
	sim_small -R t.json -o out
	t0=$(jq -r '.groups[0].start_jd' t.json)
	h5vals "$(sbfile out 0)" /Header/time_array | awk -v t0="$t0" '
		{ i=int((NR-1)/21); want=t0 + (i+0.5)*12.884902/86400; d=$1-want; if (d<0) d=-d; if (d > 2e-9) exit 1 }'
	h5vals "$(sbfile out 0)" /Header/integration_time | sort -u | grep -qx 12.884902
}

@test "same seed gives identical visdata; another seed differs" {
	sim_small -S 5 -o a
	sim_small -S 5 -o b
	sim_small -S 6 -o c
	[ "$(ls a)" = "$(ls b)" ]
	for n in 0 3; do
		cmp <(h5vals "$(sbfile a $n)" /Data/visdata) <(h5vals "$(sbfile b $n)" /Data/visdata)
		! cmp -s <(h5vals "$(sbfile a $n)" /Data/visdata) <(h5vals "$(sbfile c $n)" /Data/visdata) || false
	done
}

@test "idempotent re-run into the same directory" {
	sim_small -o out
	ls out > first
	run sim_small -o out
	assert_success
	ls out | cmp - first
	no_temps out
}

@test "two groups follow each other; -g files are grouped by timestamp" {
	run sim_small -g 2 -R t.json -o out
	assert_success
	[ "$(ls out | wc -l)" -eq 8 ]
	[ "$(jq -r '.groups | length' t.json)" -eq 2 ]
	s0=$(jq -r '.groups[0].start_jd' t.json)
	s1=$(jq -r '.groups[1].start_jd' t.json)
	awk -v a="$s0" -v b="$s1" 'BEGIN{d=(b-a)*86400-3*12.884902; exit !(d*d < 1e-6)}'
}

@test "faults: truncate, flip, shape, nan, missing, duplicate, late" {
	sim_small -o clean
	run sim_small -F truncate:0 -F flip:1 -F shape:2 -F nan:3 -R t.json -o f1
	assert_success
	# truncate: half the size
	[ "$(stat -c %s "$(sbfile f1 0)")" -eq $(($(stat -c %s "$(sbfile clean 0)") / 2)) ]
	# flip: same size, other bytes, unreadable
	[ "$(stat -c %s "$(sbfile f1 1)")" -eq "$(stat -c %s "$(sbfile clean 1)")" ]
	run -65 uvm-dump "$(sbfile f1 1)"
	# shape: Nfreqs header says 5, the data hold 4 channels
	[ "$(h5vals "$(sbfile f1 2)" /Header/Nfreqs)" = 5 ]
	h5dump -H -d /Data/visdata "$(sbfile f1 2)" | grep -q '( 63, 1, 4, 2 )'
	# nan: NaN visibilities, none flagged (flags are HDF5's boolean enum,
	# which h5dump prints FALSE and TRUE)
	h5vals "$(sbfile f1 3)" /Data/visdata | grep -qi nan
	h5vals "$(sbfile f1 3)" /Data/flags | grep -qx FALSE
	! h5vals "$(sbfile f1 3)" /Data/flags | grep -qvx FALSE || false
	! h5vals "$(sbfile clean 3)" /Data/visdata | grep -qi nan || false
	[ "$(jq -r '[.faults[].kind] | join(",")' t.json)" = "truncate,flip,shape,nan" ]

	run sim_small -F missing:2 -F duplicate:1 -F late:3 -R t2.json -o f2
	assert_success
	[ "$(ls f2/*_sb02.hdf5 2>/dev/null | wc -l)" -eq 0 ]
	[ "$(ls f2/*_sb01.hdf5 | wc -l)" -eq 2 ]
	cmp <(h5vals "$(ls f2/*_sb01.hdf5 | head -1)" /Data/visdata) \
	    <(h5vals "$(ls f2/*_sb01.hdf5 | tail -1)" /Data/visdata)
	late=$(stat -c %.9Y f2/*_sb03.hdf5)
	for f in f2/*_sb0[01].hdf5; do
		awk -v a="$late" -v b="$(stat -c %.9Y "$f")" 'BEGIN{exit !(a >= b)}'
	done
	[ "$(ls f2 | wc -l)" -eq 4 ]
	[ "$(jq -r '.groups[0].files | length' t2.json)" -eq 4 ]
}

@test "faults in a later group with @G leave group 0 intact" {
	run sim_small -g 2 -F missing:1@1 -R t.json -o out
	assert_success
	[ "$(ls out | wc -l)" -eq 7 ]
	[ "$(jq -r '.groups[0].files | length' t.json)" -eq 4 ]
	[ "$(jq -r '.groups[1].files | length' t.json)" -eq 3 ]
}

@test "hostile names are created as described and nothing is executed" {
	run sim_small -F hostile -R t.json -o out
	assert_success
	[ "$(jq -r '.faults[0].files | length' t.json)" -eq 9 ]
	n=$(jq -r '.faults[0].files | length' t.json)
	for i in $(seq 0 $((n - 1))); do
		name=$(jq -j ".faults[0].files[$i]" t.json; printf x)
		name=${name%x}
		[ -e "out/$name" ] || [ -L "out/$name" ]
	done
	[ -f 'out/$(touch pwned)_sb00.hdf5' ]
	ls out | grep -q ' copy\.hdf5$'
	ls out | grep -q ';touch pwned$'
	ls out | grep -q '^#'
	[ "$(find out -name $'*\n*' -printf x | wc -c)" -eq 1 ]
	link=$(find out -type l)
	[ "$(readlink "$link")" = /etc/passwd ]
	[[ "$(basename "$link")" =~ $NAME_RE ]]
	[ "$(find out -type d -name '*_sb*.hdf5' | wc -l)" -eq 1 ]
	[ ! -e pwned ] && [ ! -e out/pwned ]
	# the real files are intact: 4 subbands, readable
	[ "$(jq -r '.groups[0].files | length' t.json)" -eq 4 ]
	for f in $(jq -r '.groups[0].files[]' t.json); do
		[ -f "out/$f" ] && [ ! -L "out/$f" ]
		uvm-dump "out/$f" > /dev/null
	done
}

@test "catalogue errors: missing 66, malformed or unknown calibrator 65" {
	run -66 uvm-sim -a 3 -s 1 -c 1 -t 1 -K nope.csv -k X -o out
	assert_output --partial "cannot open 'nope.csv'"
	printf 'X,1,2,three,1400,0\n' > bad.csv
	run -65 uvm-sim -a 3 -s 1 -c 1 -t 1 -K bad.csv -k X -o out
	printf 'Y,1,2,3,1400,0\n' > ok.csv
	run -65 uvm-sim -a 3 -s 1 -c 1 -t 1 -K ok.csv -k X -o out
	run -66 uvm-sim -a 3 -s 1 -c 1 -t 1 -P nope.csv -o out
}

@test "cannot create the output directory: exit 73" {
	run -73 uvm-sim -a 3 -s 1 -c 1 -t 1 -o /proc/uvm-sim-test/out
	assert_output --partial "cannot create '/proc/uvm-sim-test/out'"
}

@test "read-only file system: exit 73, nothing left behind" {
	MNT=$BATS_TEST_TMPDIR/ro
	tiny_fs "$MNT" 2000 || skip "cannot mount a tmpfs here"
	mkdir "$MNT/out"
	mount -o remount,ro "$MNT" || skip "cannot remount read-only"
	run -73 sim_small -o "$MNT/out"
	[ -z "$(ls -A "$MNT/out")" ]
}

@test "disk full: exit 74, no temporary or _incomplete file left" {
	MNT=$BATS_TEST_TMPDIR/full
	tiny_fs "$MNT" 200 || skip "cannot mount a tmpfs here"
	run -74 uvm-sim -a 20 -s 4 -c 16 -t 3 -o "$MNT/out"
	assert_output --partial "No space left on device"
	[ -z "$(find "$MNT" -name '*incomplete*')" ]
	no_temps "$MNT"
	for f in "$MNT"/out/*; do
		[ -e "$f" ] || continue
		[[ "$(basename "$f")" =~ $NAME_RE ]]
		uvm-dump "$f" > /dev/null
	done
}

@test "pacing: -p 20 takes the group's duration over 20" {
	t0=$(date +%s%N)
	run uvm-sim -a 3 -s 2 -c 1 -t 2 -j 0 -p 20 -o out
	assert_success
	t1=$(date +%s%N)
	# 2 x 12.88 s / 20 = 1.29 s
	[ $(((t1 - t0) / 1000000)) -ge 1250 ]
	[ $(((t1 - t0) / 1000000)) -lt 10000 ]
}

@test "-Y counts: the brightest sources of a counts sky out to the first null; -n radiometer: SEFD / sqrt(2 dnu t)" {
	run -0 uvm-sim -a 2 -s 1 -c 4 -t 1 -Y counts -N 200 -n radiometer -R "$BATS_TEST_TMPDIR/t.json" \
		-o "$BATS_TEST_TMPDIR/o"
	t=$BATS_TEST_TMPDIR/t.json
	# 4 channels over 187.5 MHz, 12.884902 s: 5800 / sqrt(2 x 46.875e6 x 12.884902)
	jq -e '(.noise_jy / (5800 / (2 * 46.875e6 * 12.884902 | sqrt)) - 1 | fabs) < 1e-9' "$t"
	# the counts (Hopkins et al. 2003, integrated apart in numpy) put 200
	# sources above 38.1 mJy within the Airy first null at 1311.5 MHz
	# (3.43 deg), and half of them (0.504) above twice that: the faintest
	# drawn is just above S_min, the fraction within the binomial scatter
	# (+-0.035)
	jq -e '[.sources[].flux_jy] | min as $m | ($m > 0.0381 and $m < 0.042) and
	    ((map(select(. > 0.0763)) | length) / length | . > 0.4 and . < 0.6)' "$t"
	jq -e '.groups[0] as $g | (3.141592653589793 / 180) as $r | [.sources[] |
	    ((.app_dec_deg[0] * $r | sin) * ($g.dec_deg * $r | sin) + (.app_dec_deg[0] * $r | cos) *
	     ($g.dec_deg * $r | cos) * ((.app_ra_deg[0] - $g.app_ra_deg) * $r | cos)) | acos / $r]
	    | max < 3.44 and max > 2.5' "$t"
	run -64 uvm-sim -Y counts:0 -o "$BATS_TEST_TMPDIR/x"
	run -64 uvm-sim -Y other -o "$BATS_TEST_TMPDIR/x"
	run -64 uvm-sim -n loud -o "$BATS_TEST_TMPDIR/x"
}
