#!/usr/bin/env bats
# uvm-flag: usage; a simulated group with every defect uvm-sim injects
# (RFI channels, a burst, baseline RFI, a dead and a garbage antenna,
# delays, ripple) flagged and scored against the injected mask by
# tests/flag-score.sh (recall >= 95%, false flags <= 2%, every sample of
# the dead and bad antennas flagged, the report naming exactly them); a
# clean group barely flagged; the input unchanged; missing input 66,
# non-HDF5 and truncated input 65, missing or broken strategy 69, a group
# flagged beyond -x 79 with its report and no output, full and read-only
# file systems 74/73 and stdout on /dev/full 74 leaving no temporary; an
# idempotent re-run keeping input flags; hostile file names; uvm-sim -D
# deterministic and recorded.

bats_require_minimum_version 1.5.0
load test_helper

USAGE_TEXT='usage: uvm-flag [-D home] [-s strategy] [-r report] [-x max_fraction] [-j threads] -o out vis.uvh5'

setup_file() {
	cd "$BATS_FILE_TMPDIR"
	uvm-sim -a 16 -s 4 -c 24 -t 24 -S 7 -D all -R truth.json -o dfx >/dev/null
	uvm-combine -o vis.uvh5 dfx/*.hdf5
	uvm-sim -a 16 -s 4 -c 24 -t 24 -S 7 -o clean >/dev/null
	uvm-combine -o clean.uvh5 clean/*.hdf5
	# rows of 16 KiB: chunks of 128 rows (2 MiB), 3 whole and one of 24
	uvm-sim -a 16 -s 8 -c 128 -t 3 -S 7 -D all -o odd >/dev/null
	uvm-combine -o odd.uvh5 odd/*.hdf5
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	cp "$BATS_FILE_TMPDIR/vis.uvh5" "$BATS_FILE_TMPDIR/truth.json" .
}

teardown() {
	if [ -n "${MNT:-}" ]; then
		umount "$MNT" 2>/dev/null || true
	fi
}

@test "usage text on --help; bad usage exits 64" {
	run -0 uvm-flag --help
	assert_output "$USAGE_TEXT"
	run -64 uvm-flag
	assert_output "$USAGE_TEXT"
	run -64 uvm-flag vis.uvh5
	run -64 uvm-flag -o out.uvh5
	run -64 uvm-flag -o out.uvh5 vis.uvh5 extra
	run -64 uvm-flag -x 1.5 -o out.uvh5 vis.uvh5
	assert_line --index 0 "uvm-flag: bad value for -x: '1.5' (a fraction, 0 to 1)"
	run -64 uvm-flag -j 0 -o out.uvh5 vis.uvh5
	[ ! -e out.uvh5 ]
}

@test "every injected defect: RFI recall >= 95%, false flags <= 2%, dead and bad antennas" {
	sum=$(sha256sum vis.uvh5)
	run -0 uvm-flag -r report.json -o out.uvh5 vis.uvh5
	assert_output --regexp '^read_s=[0-9.]+ stats_s=[0-9.]+ aoflagger_s=[0-9.]+ write_s=[0-9.]+$'
	[ "$(sha256sum vis.uvh5)" = "$sum" ]
	no_temps .
	run -0 "$UVM_ROOT/tests/flag-score.sh" out.uvh5 truth.json
	echo "$output"
	read -r rfi recall clean false db dbf <<<"$(echo "$output" | tr -c '0-9.\n' ' ')"
	[ "$rfi" -gt 10000 ]
	awk -v r="$recall" -v f="$false" 'BEGIN { exit !(r >= 0.95 && f <= 0.02) }'
	[ "$db" -gt 0 ] && [ "$db" -eq "$dbf" ]
	# the report names exactly the injected antennas
	[ "$(jq -c '[.dead_antennas[].antenna]' report.json)" = "$(jq -c .defects.dead_antennas truth.json)" ]
	[ "$(jq -c '[.bad_antennas[].antenna]' report.json)" = "$(jq -c .defects.bad_antennas truth.json)" ]
	# and its fractions are those of the file
	[ "$(jq '.channels_flagged_fraction | length' report.json)" -eq 96 ]
	[ "$(jq '.antennas | length' report.json)" -eq 16 ]
	jq -e --slurpfile t truth.json '.antennas[] | select(.antenna == $t[0].defects.dead_antennas[0]) |
	    .flagged_fraction == 1' report.json
	jq -e '.flagged_fraction > 0.2 and .flagged_fraction < 0.5 and .overflagged == false' report.json
	run -0 uvm-dump out.uvh5
	assert_line 'extra.flag_strategy=dsa110.lua'
}

@test "a clean group: nothing found, under 2% flagged" {
	cp "$BATS_FILE_TMPDIR/clean.uvh5" .
	run -0 uvm-flag -r report.json -o out.uvh5 clean.uvh5
	jq -e '.dead_antennas == [] and .bad_antennas == [] and .bad_channels == []' report.json
	jq -e '.flagged_fraction <= 0.02' report.json
}

@test "a group flagged beyond -x: 79, the report says why, no output" {
	run -79 uvm-flag -x 0.1 -r report.json -o out.uvh5 vis.uvh5
	assert_output --regexp "^uvm-flag: 'vis.uvh5': [0-9.]+% of the samples flagged, more than the 10.0% allowed$"
	jq -e '.overflagged == true and .max_fraction == 0.1' report.json
	[ ! -e out.uvh5 ]
	no_temps .
	# the same limit from the deployment's configuration
	mkdir home && echo FLAG_MAX_FRACTION=0.1 > home/uvmake.conf
	run -79 uvm-flag -D home -o out.uvh5 vis.uvh5
}

@test "missing input 66; not HDF5 and truncated 65" {
	run -66 uvm-flag -o out.uvh5 nothing.uvh5
	echo 'not hdf5' > bad.uvh5
	run -65 uvm-flag -o out.uvh5 bad.uvh5
	assert_output --partial "bad.uvh5"
	head -c 200000 vis.uvh5 > cut.uvh5
	run -65 uvm-flag -o out.uvh5 cut.uvh5
	[ ! -e out.uvh5 ]
	no_temps .
}

@test "missing or broken strategy: 69; the strategy from the configuration" {
	run -69 uvm-flag -s nowhere.lua -o out.uvh5 vis.uvh5
	assert_output "uvm-flag: cannot read strategy 'nowhere.lua': No such file or directory"
	echo 'function execute(input) this is not lua' > broken.lua
	run -69 uvm-flag -s broken.lua -o out.uvh5 vis.uvh5
	assert_output --partial "broken.lua"
	[ ! -e out.uvh5 ]
	mkdir home && echo FLAG_STRATEGY=$PWD/broken.lua > home/uvmake.conf
	run -69 uvm-flag -D home -o out.uvh5 vis.uvh5
	echo FLAG_STRATEGY=$UVM_ROOT/ops/aoflagger/dsa110.lua > home/uvmake.conf
	run -0 uvm-flag -D home -o out.uvh5 vis.uvh5
}

@test "full file system 74, read-only 73, stdout on /dev/full 74: no temporary" {
	run -74 sh -c 'uvm-flag -o out.uvh5 vis.uvh5 >/dev/full'
	rm -f out.uvh5
	MNT=$BATS_TEST_TMPDIR/mnt
	tiny_fs "$MNT" 200 || skip "cannot mount tmpfs"
	run -74 uvm-flag -o "$MNT/out.uvh5" vis.uvh5
	[ ! -e "$MNT/out.uvh5" ]
	no_temps "$MNT"
	mount -o remount,ro "$MNT"
	run -73 uvm-flag -o "$MNT/out.uvh5" vis.uvh5
	run -73 uvm-flag -r "$MNT/r.json" -o out.uvh5 vis.uvh5
	no_temps "$MNT"
}

@test "idempotent: a re-run gives the same bytes" {
	run -0 uvm-flag -r r1.json -o out1.uvh5 vis.uvh5
	run -0 uvm-flag -j 1 -r r2.json -o out2.uvh5 vis.uvh5
	cmp out1.uvh5 out2.uvh5
	cmp r1.json r2.json
	run -0 uvm-flag -r r1.json -o out1.uvh5 vis.uvh5
	cmp out1.uvh5 out2.uvh5
	# flagging a flagged file keeps every input flag
	run -0 uvm-flag -o out3.uvh5 out1.uvh5
	n1=$(uvm-dump -d out1.uvh5 | sed -n 's/^flag_count=//p')
	n3=$(uvm-dump -d out3.uvh5 | sed -n 's/^flag_count=//p')
	[ "$n1" -gt 0 ] && [ "$n3" -ge "$n1" ]
}

@test "threads: the same bytes on 1, 2 and 3 threads; visibilities and weights copied unchanged" {
	for t in 1 2 3; do
		run -0 uvm-flag -j $t -r r$t.json -o out$t.uvh5 vis.uvh5
	done
	cmp out1.uvh5 out2.uvh5
	cmp out1.uvh5 out3.uvh5
	cmp r1.json r2.json
	cmp r1.json r3.json
	# the group is held as amplitudes: the visibilities written are the
	# input's, read again, bit for bit, and so are the nsamples
	LZF=$(ls /usr/lib/*/liblzf.so.1 2>/dev/null | head -1)
	for d in visdata nsamples; do
		for f in vis out1; do
			LD_PRELOAD=$LZF h5dump -b NATIVE -d /Data/$d -o $f.$d.bin $f.uvh5 >/dev/null
		done
		[ -s vis.$d.bin ]
		cmp vis.$d.bin out1.$d.bin
	done
	[ "$(jq .flagged_fraction r1.json)" != 0 ]
}

@test "chunks of a group's rows with a remainder: data copied, flags as counted, the same bytes on 1 and 3 threads" {
	cp "$BATS_FILE_TMPDIR/odd.uvh5" .
	[ "$(uvm-dump odd.uvh5 | sed -n 's/^Nblts=//p')" = 408 ]
	for t in 1 3; do
		run -0 uvm-flag -j $t -x 1 -r r$t.json -o out$t.uvh5 odd.uvh5
	done
	cmp out1.uvh5 out3.uvh5
	run -0 h5dump -p -H out1.uvh5
	[ "$(grep -c 'CHUNKED ( 128, 1024, 2 )' <<<"$output")" = 3 ]
	# the last chunk's 24 rows too: visibilities and weights bit for bit
	LZF=$(ls /usr/lib/*/liblzf.so.1 2>/dev/null | head -1)
	for d in visdata nsamples; do
		for f in odd out1; do
			LD_PRELOAD=$LZF h5dump -b NATIVE -d /Data/$d -o $f.$d.bin $f.uvh5 >/dev/null
		done
		[ "$(stat -c %s odd.$d.bin)" -gt 0 ]
		cmp odd.$d.bin out1.$d.bin
	done
	# the flags read back are the ones the report counted in memory
	n=$(uvm-dump -d out1.uvh5 | sed -n 's/^flag_count=//p')
	[ "$n" -gt 0 ]
	[ "$(jq -r '.flagged_fraction * .samples | round' r1.json)" = "$n" ] ||
	[ "$(jq -r "(.flagged_fraction * .samples - $n) | fabs < 1" r1.json)" = true ]
	# the last rows flagged like the first: the burst and the channels
	LD_PRELOAD=$LZF h5dump -b NATIVE -d /Data/flags -o out1.flags.bin out1.uvh5 >/dev/null
	[ "$(od -An -v -tu1 -j $((384 * 2048)) out1.flags.bin | tr -s ' ' '\n' | grep -c 1)" -gt 0 ]
}

@test "a full file system while workers encode: 74 naming the rows, no temporary, on 1 and 3 threads" {
	cp "$BATS_FILE_TMPDIR/odd.uvh5" .
	MNT=$BATS_TEST_TMPDIR/mnt
	# the output is 4 chunks of 2 MiB of visibilities (and ~100 KiB of
	# flags and weights) after a header of well under 1 MiB: each size
	# fails at a later chunk, the last one included
	for k in 1024 3072 5120 7424; do
		tiny_fs "$MNT" $k || skip "cannot mount tmpfs"
		for t in 1 3; do
			run -74 uvm-flag -j $t -x 1 -o "$MNT/out.uvh5" odd.uvh5
			assert_output --regexp "^uvm-flag: cannot write '/Data/(visdata|flags|nsamples)' rows [0-9]+-[0-9]+ of '$MNT/out.uvh5': No space left on device$"
			no_temps "$MNT"
			[ ! -e "$MNT/out.uvh5" ]
		done
		umount "$MNT"
	done
	run -0 uvm-flag -x 1 -o out.uvh5 odd.uvh5
}

@test "hostile file names" {
	mkdir -p "d i r;\$(touch x)"
	cp vis.uvh5 "d i r;\$(touch x)/v 'q'.uvh5"
	run -0 uvm-flag -r "d i r;\$(touch x)/r\".json" -o "d i r;\$(touch x)/o u t.uvh5" "d i r;\$(touch x)/v 'q'.uvh5"
	[ -f "d i r;\$(touch x)/o u t.uvh5" ]
	jq -e .input "d i r;\$(touch x)/r\".json"
	[ ! -e x ]
}

@test "uvm-sim -D: deterministic from the seed, recorded, bad specs 64" {
	run -0 uvm-sim -a 6 -s 2 -c 16 -t 4 -S 3 -D rfi,dead=4,bad=5,delays -R t1.json -o a
	run -0 uvm-sim -a 6 -s 2 -c 16 -t 4 -S 3 -D rfi,dead=4,bad=5,delays -R t2.json -o b
	(cd a && sha256sum *.hdf5) > sa
	(cd b && sha256sum *.hdf5) > sb
	cmp sa sb
	cmp t1.json t2.json
	# -D names antennas by their place in the array; the truth by the
	# numbers the files give them
	jq -e '.defects.dead_antennas == [.antennas[4].number] and
	    .defects.bad_antennas == [.antennas[5].number] and
	    (.defects.rfi_channels | length) >= 1 and .defects.ripple == false' t1.json
	# delays of tens of ns, and one antenna's of microseconds
	jq -e '[.gains.antennas[].xx.tau_s | fabs] | max > 4e-7 and max <= 2e-6' t1.json
	run -64 uvm-sim -a 6 -s 2 -c 16 -t 4 -D dead=6 -o c
	assert_line --index 0 'uvm-sim: defect antenna 6: only 6 antennas'
	run -64 uvm-sim -a 6 -D noise -o c
	run -64 uvm-sim -a 6 -D dead=x -o c
	[ ! -e c ] || [ -z "$(ls c)" ]
}
