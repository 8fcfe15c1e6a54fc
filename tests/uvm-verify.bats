#!/usr/bin/env bats
# uvm-verify: the validator. Accepts the twelve real sample files (with the
# soft warnings they are known to trip staying warnings) and every clean
# uvm-sim file; rejects each fault uvm-sim injects with exit 65 and the
# reason; 66 missing, 74 unreadable; -o writes the report only for a valid
# file, atomically, and fails cleanly (73/74, no temporary) where it cannot
# write; hostile names and bit-flipped files are handled.
#
# Exit 74 test: we run as root, for whom chmod 000 changes nothing, so the
# unreadable input is a directory (reading it fails with EISDIR): any
# failure to read other than "missing" is an I/O error (74), only content
# problems are bad data (65).
#
# Bit flips: libhdf5 runs inside uvm-verify, one process per file, so a
# crash could only end that process. In our runs (this file's flip test,
# and 180 flipped copies tried while writing it) libhdf5 never crashed:
# every run exited 0 (flip in bytes no check can see: unused space or a
# plausible value), 65 or 74. The test still accepts a signal status, and
# checks that the caller carries on.

bats_require_minimum_version 1.5.0
load test_helper

USAGE='usage: uvm-verify [-jq] [-o report] file...'

# dsa110_file ARGS: a file in the DSA-110 writer's layout (tests/dsa110_file.py).
dsa110_file() {
	/usr/bin/python3 "$UVM_ROOT/tests/dsa110_file.py" "$@"
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	if [ -n "${MNT:-}" ]; then
		umount "$MNT" 2>/dev/null || true
	fi
}

# sbfile DIR N: the one file of subband N in DIR.
sbfile() {
	ls "$1"/*_sb"$(printf %02d "$2")".hdf5
}

# jget JSON FILTER: a jq query on a report.
jget() {
	printf '%s\n' "$1" | jq -r "$2"
}

# accept_corpus NAME NBLTS NFREQS NPOLS [WARNING...]: NAME is valid, its
# report has the shape given in the sample README (an independent source)
# and exactly the warnings listed (as substrings, in order).
accept_corpus() {
	local f=$UVM_SAMPLES/$1 nblts=$2 nfreqs=$3 npols=$4 i w
	shift 4
	run -0 --separate-stderr uvm-verify -j "$f"
	[ "${#lines[@]}" -eq 1 ]
	jq -e . <<<"$output" >/dev/null
	[ "$(jget "$output" .valid)" = true ]
	[ "$(jget "$output" '.errors | length')" -eq 0 ]
	[ "$(jget "$output" .counts.Nblts)" -eq "$nblts" ]
	[ "$(jget "$output" .counts.Nfreqs)" -eq "$nfreqs" ]
	[ "$(jget "$output" .counts.Npols)" -eq "$npols" ]
	[ "$(jget "$output" .counts.rows_read)" -eq "$nblts" ]
	[ "$(jget "$output" .counts.samples)" -eq $((nblts * nfreqs * npols)) ]
	[ "$(jget "$output" '.warnings | length')" -eq $# ]
	i=0     # after run, which may use a variable of that name
	for w in "$@"; do
		[[ "$(jget "$output" ".warnings[$i]")" == *"$w"* ]]
		i=$((i + 1))
	done
	# Warnings go to stderr unless -q; -q prints nothing at all.
	[ "$(printf '%s' "$stderr" | grep -c .)" -eq $# ]
	[ "$(printf '%s' "$stderr" | grep -c "^uvm-verify: warning: '$f': ")" -eq $# ]
	if [ $# -gt 0 ]; then
		run -0 uvm-verify -q "$f"
		assert_output ''
	fi
}

@test "usage text on --help, and on bad usage exit 64" {
	run -0 uvm-verify --help
	assert_output "$USAGE"
	run -0 uvm-verify -h
	assert_output "$USAGE"
	run -64 uvm-verify
	assert_output "$USAGE"
	run -64 uvm-verify -x file
	assert_line --index 1 "$USAGE"
	run -64 uvm-verify -o report a.uvh5 b.uvh5
	assert_output "$USAGE"
	[ ! -e report ]
}

@test "accepts corpus: zen.2458661.23480.HH__e5fcc07d43.uvh5" {
	accept_corpus zen.2458661.23480.HH__e5fcc07d43.uvh5 200 4 2
}

@test "accepts corpus: zen.2458661.23480.HH_oldproj_icrs.uvh5" {
	accept_corpus zen.2458661.23480.HH_oldproj_icrs.uvh5 200 4 2
}

@test "accepts corpus: zen.2458432.34569__df4d314741.uvh5" {
	accept_corpus zen.2458432.34569__df4d314741.uvh5 80 64 4
}

@test "accepts corpus: zen.2458432.34569__ac05a2fc8c.uvh5" {
	accept_corpus zen.2458432.34569__ac05a2fc8c.uvh5 80 64 4
}

@test "accepts corpus: 1061316296_nearfield__0465a434bc.uvh5" {
	# Near-field phasing: uvw lengths differ from the far-field baselines;
	# every sample is flagged. Both are warnings.
	accept_corpus 1061316296_nearfield__0465a434bc.uvh5 16256 1 4 \
		'uvw lengths disagree with antenna baseline lengths by more than 1 m in 15114 of 16256 rows' \
		'every sample is flagged'
	run -0 --separate-stderr uvm-verify -j "$UVM_SAMPLES/1061316296_nearfield__0465a434bc.uvh5"
	[ "$(jget "$output" .counts.flagged_fraction)" = 1 ]
}

@test "accepts corpus: mwa_integration_time__fe62153c82.uvh5" {
	accept_corpus mwa_integration_time__fe62153c82.uvh5 451 5 4
}

@test "accepts corpus: fewant_randsrc_airybeam_Nsrc100_10MHz__a5b3d7d3c3.uvh5" {
	accept_corpus fewant_randsrc_airybeam_Nsrc100_10MHz__a5b3d7d3c3.uvh5 312 102 4
}

@test "accepts corpus: simulated_bda_file.uvh5" {
	# Baseline-dependent averaging: Nblts (17) != Nbls (6) x Ntimes (15).
	accept_corpus simulated_bda_file.uvh5 17 4 2
	run -0 uvm-verify -j "$UVM_SAMPLES/simulated_bda_file.uvh5"
	[ "$(jget "$output" .counts.Nbls)" -eq 6 ]
	[ "$(jget "$output" .counts.Ntimes)" -eq 15 ]
}

@test "accepts corpus: test_redundant_array.uvh5" {
	accept_corpus test_redundant_array.uvh5 1071 21 1
}

@test "accepts corpus: zen.2457698.40355.xx.HH.uvcA__07cc09e63a.uvh5" {
	accept_corpus zen.2457698.40355.xx.HH.uvcA__07cc09e63a.uvh5 190 1024 1 \
		'uvw disagree with antenna positions by more than 1 m in 171 of 190 rows'
}

@test "accepts corpus: zen.2458098.45361.HH_downselected.uvh5" {
	accept_corpus zen.2458098.45361.HH_downselected.uvh5 360 64 2
}

@test "accepts corpus: zen.2456865.60537.xy.uvcRREAA.uvh5" {
	accept_corpus zen.2456865.60537.xy.uvcRREAA.uvh5 399 11 1 \
		'uvw disagree with antenna positions by more than 1 m in 285 of 399 rows'
}

@test "happy path: a uvm-sim group is valid, counts match the simulation" {
	sim_small -o g
	run -0 uvm-verify g/*.hdf5
	assert_output ''
	# 6 antennas: 21 baselines with autos, 3 integrations, 4 channels, xx/yy.
	run -0 uvm-verify -j "$(sbfile g 2)"
	[ "$(jget "$output" .valid)" = true ]
	[ "$(jget "$output" .status)" -eq 0 ]
	[ "$(jget "$output" '.warnings | length')" -eq 0 ]
	[ "$(jget "$output" .counts.Nbls)" -eq 21 ]
	[ "$(jget "$output" .counts.Nblts)" -eq 63 ]
	[ "$(jget "$output" .counts.Ntimes)" -eq 3 ]
	[ "$(jget "$output" .counts.Nants_data)" -eq 6 ]
	[ "$(jget "$output" .counts.auto_rows)" -eq 18 ]
	[ "$(jget "$output" .counts.samples)" -eq 504 ]
	[ "$(jget "$output" .counts.flagged)" -eq 0 ]
	# the DSA-110 writer's layout: no version attribute
	[ "$(jget "$output" .uvh5_version)" = "" ]
	# Several files: one report line each, in order.
	run -0 uvm-verify -j g/*.hdf5
	[ "${#lines[@]}" -eq 4 ]
	[ "$(printf '%s\n' "$output" | jq -r .file | tr '\n' ' ')" = "$(printf '%s ' g/*.hdf5)" ]
}

@test "faults: truncate, flip, shape and nan files are rejected with exit 65 and the reason" {
	sim_small -F truncate:1 -F flip:2 -F shape:3 -F nan:0 -o g
	local t f s n
	t=$(sbfile g 1) f=$(sbfile g 2) s=$(sbfile g 3) n=$(sbfile g 0)
	run -65 uvm-verify "$t"
	assert_output "uvm-verify: '$t': invalid: truncated file: $(stat -c %s "$t") of $((2 * $(stat -c %s "$t"))) bytes"
	run -65 uvm-verify "$f"
	assert_output --regexp "^uvm-verify: '$f': invalid: corrupt superblock: end-of-file address 0x[0-9a-f]+, file size $(stat -c %s "$f")\$"
	run -65 uvm-verify "$s"
	assert_output "uvm-verify: '$s': invalid: bad dataset 'freq_array': 4 elements, expected 5"
	# nan: two unflagged samples of the first cross-correlation (row 1) in
	# each of the 3 integrations.
	run -65 uvm-verify "$n"
	assert_output "uvm-verify: '$n': invalid: non-finite unflagged visibilities: 6 samples (first at row 1, channel 0, pol xx)"
	run -65 --separate-stderr uvm-verify -j "$n"
	[ "$(jget "$output" .valid)" = false ]
	[ "$(jget "$output" .status)" -eq 65 ]
	[ "$(jget "$output" .counts.nonfinite_unflagged)" -eq 6 ]
	[[ "$(jget "$output" '.errors[0]')" == "non-finite unflagged visibilities: 6 samples"* ]]
	# All four at once: one line each, exit 65; -q keeps the errors.
	run -65 uvm-verify -q "$t" "$f" "$s" "$n"
	[ "${#lines[@]}" -eq 4 ]
	[ "$(printf '%s\n' "$output" | grep -c ': invalid: ')" -eq 4 ]
}

@test "many blocks on both threads: the simulator's NaNs in every integration counted, the first in file order" {
	# -t 40: 40 integrations of 21 rows, one block each, claimed by two
	# threads in turn; nan puts two unflagged samples in row 1 of each
	# integration (the documented fault), so 80 in all, the first in row 1,
	# and the three other subbands stay clean.
	sim_small -t 40 -F nan:0 -o g
	run -65 --separate-stderr uvm-verify -j "$(sbfile g 0)"
	[ "$(jget "$output" .counts.rows_read)" -eq 840 ]
	[ "$(jget "$output" .counts.samples)" -eq 6720 ]
	[ "$(jget "$output" .counts.nonfinite_unflagged)" -eq 80 ]
	[ "$(jget "$output" '.errors[0]')" = "non-finite unflagged visibilities: 80 samples (first at row 1, channel 0, pol xx)" ]
	run -0 uvm-verify g/*_sb0[123].hdf5
	assert_output ''
}

@test "exit 66 for a missing file, 74 for an unreadable one (a directory); worst status wins" {
	run -66 uvm-verify nope.uvh5
	assert_output "uvm-verify: cannot open 'nope.uvh5': No such file or directory"
	run -66 --separate-stderr uvm-verify -j nope.uvh5
	[ "$(jget "$output" .status)" -eq 66 ]
	[ "$(jget "$output" .counts)" = '{}' ]
	mkdir d
	run -74 uvm-verify d
	assert_output "uvm-verify: cannot read 'd': Is a directory"
	printf 'not hdf5\n' >text.uvh5
	run -65 uvm-verify text.uvh5
	assert_output "uvm-verify: 'text.uvh5': invalid: not an HDF5 file"
	run -74 uvm-verify text.uvh5 d nope.uvh5 "$UVM_SAMPLES/simulated_bda_file.uvh5"
	[ "${#lines[@]}" -eq 3 ]
	run -66 uvm-verify "$UVM_SAMPLES/simulated_bda_file.uvh5" nope.uvh5 text.uvh5
}

@test "-o writes the report only when valid, atomically; idempotent re-run" {
	sim_small -F nan:0 -o g
	local good bad
	good=$(sbfile g 1) bad=$(sbfile g 0)
	mkdir -p products/G
	run -0 uvm-verify -o products/G/sb01.ok "$good"
	assert_output ''
	run -0 uvm-verify -j "$good"
	[ "$(cat products/G/sb01.ok)" = "$output" ]
	[ "$(jq -r .file products/G/sb01.ok)" = "$good" ]
	[ "$(jq -r .valid products/G/sb01.ok)" = true ]
	cp products/G/sb01.ok first
	run -0 uvm-verify -o products/G/sb01.ok "$good"
	cmp first products/G/sb01.ok
	# Invalid: no report, no temporary; an old report is left alone.
	run -65 uvm-verify -o products/G/sb00.ok "$bad"
	[ ! -e products/G/sb00.ok ]
	run -65 uvm-verify -o products/G/sb01.ok "$bad"
	cmp first products/G/sb01.ok
	run -66 uvm-verify -o products/G/sb02.ok missing.hdf5
	[ ! -e products/G/sb02.ok ]
	no_temps products
	[ "$(ls products/G)" = sb01.ok ]
}

@test "-o where it cannot write: 73 for a missing or read-only directory, 74 for a full disk, no temporary" {
	local good
	sim_small -o g
	good=$(sbfile g 0)
	run -73 uvm-verify -o nodir/sb00.ok "$good"
	assert_output "uvm-verify: cannot write 'nodir/sb00.ok': No such file or directory"
	[ ! -e nodir ]
	MNT=$BATS_TEST_TMPDIR/ro
	mkdir -p "$MNT"
	if ! mount -t tmpfs -o ro,size=64k tmpfs "$MNT" 2>/dev/null; then
		skip "cannot mount a tmpfs here"
	fi
	run -73 uvm-verify -o "$MNT/sb00.ok" "$good"
	assert_output "uvm-verify: cannot write '$MNT/sb00.ok': Read-only file system"
	umount "$MNT"
	tiny_fs "$MNT" 4 || skip "cannot mount a small tmpfs here"
	head -c 1M /dev/zero >"$MNT/fill" 2>/dev/null || true
	run -74 uvm-verify -o "$MNT/sb00.ok" "$good"
	assert_output "uvm-verify: cannot write '$MNT/sb00.ok': No space left on device"
	[ ! -e "$MNT/sb00.ok" ]
	no_temps "$MNT"
}

@test "-j to /dev/full: exit 74 with a write error" {
	run -74 bash -c 'uvm-verify -j "$1" >/dev/full' _ "$UVM_SAMPLES/simulated_bda_file.uvh5"
	assert_output --regexp '^uvm-verify: write error: No space left on device$'
}

@test "hostile names are plain paths: spaces, \$(...), newline, quote" {
	sim_small -o g
	local src name
	src=$(sbfile g 0)
	for name in 'a b.hdf5' '$(touch pwned).hdf5' $'new\nline.hdf5' "quo'te\".hdf5" '-j.hdf5'; do
		cp "$src" "./$name"
		run -0 uvm-verify -j -- "./$name"
		[ "$(jget "$output" .file)" = "./$name" ]
		[ "$(jget "$output" .valid)" = true ]
	done
	run -0 uvm-verify -o $'./new\nline.hdf5.ok' $'./new\nline.hdf5'
	[ "$(jq -r .file $'./new\nline.hdf5.ok')" = $'./new\nline.hdf5' ]
	[ ! -e pwned ]
	# Options end at the first operand: a later "-j.hdf5" is a file.
	run -0 uvm-verify "./a b.hdf5" -j.hdf5
	assert_output ''
	# A bad file with a newline in its name: still one line on stderr,
	# the newline escaped (the name can be read back from it)
	printf 'junk' >$'bad\nname.hdf5'
	run -65 uvm-verify $'bad\nname.hdf5'
	[ "${#lines[@]}" -eq 1 ]
	assert_output "uvm-verify: 'bad\\nname.hdf5': invalid: not an HDF5 file"
	no_temps .
}

@test "bit-flipped copies: every run ends 0, 65 or 74 (or a signal), the caller survives" {
	local src sz off st k n65=0 tally=''
	for src in "$UVM_SAMPLES/zen.2458661.23480.HH_oldproj_icrs.uvh5" \
		"$UVM_SAMPLES/zen.2458432.34569__ac05a2fc8c.uvh5"; do
		sz=$(stat -c %s "$src")
		for k in 0 1 2 3 4 5 6 7 8 9; do
			off=$(((k * 245489 + k * k * 101) % sz))
			cp "$src" x.uvh5
			chmod u+w x.uvh5
			printf '\377\000\245\132' | dd of=x.uvh5 bs=1 seek="$off" conv=notrunc 2>/dev/null
			st=0
			timeout 60 uvm-verify -q x.uvh5 >/dev/null 2>err || st=$?
			tally="$tally $st"
			if [ "$st" -ne 0 ] && [ "$st" -ne 65 ] && [ "$st" -ne 74 ] && [ "$st" -lt 128 ]; then
				echo "offset $off of $src: status $st: $(cat err)" >&2
				return 1
			fi
			[ "$st" -eq 65 ] && n65=$((n65 + 1))
		done
	done
	echo "# statuses:$tally" >&3
	# Damage is found (a superblock flip at 0 at least), and a clean file
	# still verifies after all that.
	[ "$n65" -ge 3 ]
	run -0 uvm-verify "$UVM_SAMPLES/zen.2458661.23480.HH_oldproj_icrs.uvh5"
}

# The DSA-110 writer's real layout, written by tests/dsa110_file.py with
# h5py after the writer's code (not by our writer): before June 2022
# (pointing only in extra_keywords/phase_center_dec, radians) and after
# (also a scalar Header/phase_center_app_dec).
@test "real DSA-110 layout: pre- and post-June-2022 files are valid, no uvw warning" {
	dsa110_file --nants 10 old.hdf5
	dsa110_file --nants 10 --app-dec new.hdf5
	for f in old.hdf5 new.hdf5; do
		run -0 --separate-stderr uvm-verify -j "$f"
		[ "$(jget "$output" .valid)" = true ]
		[ "$(jget "$output" '.warnings | length')" -eq 0 ]
		[ "$(jget "$output" .counts.Nants_telescope)" -eq 117 ]
		[ "$(jget "$output" .counts.Nants_data)" -eq 10 ]
	done
	run -0 uvm-dump new.hdf5
	assert_line 'pointing=meridian'
	assert_line 'pointing_dec_deg=54.57'
	assert_line 'phase_center_app_dec=scalar'
}

@test "real DSA-110 layout: placeholder antennas (-1, NONE) no row uses are a warning" {
	dsa110_file --nants 10 --placeholders ph.hdf5
	run -0 --separate-stderr uvm-verify -j ph.hdf5
	[ "$(jget "$output" .valid)" = true ]
	[[ "$(jget "$output" '.warnings | join(";")')" == *"placeholders no row uses"* ]]
}

@test "real DSA-110 layout without its pointing keyword: exit 65 with the reason" {
	dsa110_file --nants 10 --no-pointing np.hdf5
	cp np.hdf5 np.orig
	run -65 uvm-verify np.hdf5
	assert_output "uvm-verify: 'np.hdf5': invalid: cannot determine the pointing: meridian drift file without its pointing declination (no extra_keywords/phase_center_dec, no phase_center_app_dec)"
	cmp np.hdf5 np.orig
}
