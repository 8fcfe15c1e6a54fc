#!/usr/bin/env bats
# Issue 18 item 2: every HDF5 and FITS writer survives a full disk at any
# point of its output (header, data, close): exit 74 (EX_IOERR), never a
# signal or a sanitizer report (libhdf5's teardown after a failed H5Fclose
# used to SIGSEGV at exit), no temporary and no partial output left. Each
# writer runs on a small tmpfs whose size steps one page at a time from
# "nothing fits" to "everything fits", so the failure moves through the
# whole file.

load test_helper
bats_require_minimum_version 1.5.0

setup() {
	cd "$BATS_TEST_TMPDIR"
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$MNT"
}

teardown() {
	cd "$BATS_TEST_TMPDIR"
	umount "$MNT" 2>/dev/null || true
}

# fill_loop KB_FROM KB_TO STEP OUT CMD...: run CMD on a tmpfs of each size;
# every run exits 74 leaving nothing, or 0 leaving exactly OUT (relative to
# the mount); the first lines of the failures go to $BATS_TEST_TMPDIR/why;
# at least one run fails and the largest succeeds
fill_loop() {
	local from=$1 to=$2 step=$3 out=$4 kb rc
	shift 4
	: >"$BATS_TEST_TMPDIR/why"
	for kb in $(seq "$from" "$step" "$to"); do
		mount -t tmpfs -o size="${kb}k" tmpfs "$MNT" || return 1
		rc=0
		"$@" >"$BATS_TEST_TMPDIR/err" 2>&1 || rc=$?
		if grep -E "Sanitizer|runtime error|DEADLYSIGNAL" "$BATS_TEST_TMPDIR/err"; then
			echo "size ${kb}k: sanitizer report" >&2; return 1
		fi
		case $rc in
		74) [ -z "$(find "$MNT" -mindepth 1 -not -type d)" ] ||
			{ echo "size ${kb}k: left $(find "$MNT" -mindepth 1)" >&2; return 1; }
		    grep -v ": info: " "$BATS_TEST_TMPDIR/err" | head -1 >>"$BATS_TEST_TMPDIR/why" ;;
		0) [ -s "$MNT/$out" ] || { echo "size ${kb}k: 0 without $out" >&2; return 1; }
		   no_temps "$MNT" || return 1 ;;
		*) echo "size ${kb}k: exit $rc: $(cat "$BATS_TEST_TMPDIR/err")" >&2; return 1 ;;
		esac
		umount "$MNT"
	done
	[ "$rc" -eq 0 ] && [ -s "$BATS_TEST_TMPDIR/why" ]
}

@test "uvm-combine on a disk full at every page: 74, nothing left, never a signal" {
	tiny_fs "$MNT" 64 && umount "$MNT" || skip "cannot mount tmpfs"
	run -0 sim_small -o in
	fill_loop 4 64 4 out.uvh5 uvm-combine -o "$MNT/out.uvh5" in/*.hdf5
	# the failure landed in the header, in the data and at the close
	grep -q "cannot write '[a-z_0-9]*' in '.*out.uvh5': No space left on device" "$BATS_TEST_TMPDIR/why"
	grep -q "cannot write '/Data/visdata' rows .*: No space left on device" "$BATS_TEST_TMPDIR/why"
	grep -qx "uvm-combine: cannot write '.*out.uvh5': No space left on device" "$BATS_TEST_TMPDIR/why"
}

@test "uvm-sim (the UVH5 writer, file after file) on a disk full at every other page: 74" {
	tiny_fs "$MNT" 64 && umount "$MNT" || skip "cannot mount tmpfs"
	# several files: a full disk also meets the creation of the next one
	for kb in $(seq 4 8 180); do
		mount -t tmpfs -o size="${kb}k" tmpfs "$MNT"
		run sim_small -o "$MNT/s"
		refute_output --partial Sanitizer
		if [ "$status" -ne 0 ]; then
			[ "$status" -eq 74 ] || { echo "size ${kb}k: exit $status: $output" >&2; false; }
			# what is there is complete (the writer renames finished files)
			! ls "$MNT/s" | grep -v '_sb[0-9][0-9].hdf5$' || false
		fi
		umount "$MNT"
	done
	[ "$status" -eq 0 ]
}

@test "uvm-image (FITS) on a disk full at every page: 74, nothing left" {
	tiny_fs "$MNT" 64 && umount "$MNT" || skip "cannot mount tmpfs"
	run -0 sim_small -o in
	run -0 uvm-combine -o vis.uvh5 in/*.hdf5
	fill_loop 4 52 4 i.fits uvm-image -n 64 -P estimate -i 10 -o "$MNT/i.fits" vis.uvh5
	grep -qx "uvm-image: cannot write '.*i.fits': No space left on device" "$BATS_TEST_TMPDIR/why"
}

# job_filling_disk D: a uvm-run job that, once its start is recorded (its
# end slot exists), fills the disk and exits 0: the wrapper then cannot
# record its end
job_filling_disk() {
	uvm-run -D "$1" -s verify -t "products/G/$2" -- sh -c '
		for i in $(seq 200); do ls "$UVM_HOME"/state/ends/* >/dev/null 2>&1 && break; sleep 0.05; done
		dd if=/dev/zero of="$0" bs=4k 2>/dev/null; exit 0' "$MNT/fill"
}

@test "a job whose end cannot be recorded on a full disk is closed as what it was, not 'lost'" {
	tiny_fs "$MNT" 2048 || skip "cannot mount tmpfs"
	D=$MNT/d
	uvm-init "$D" >/dev/null
	echo DISK_MARGIN_MB=0 >>"$D/uvmake.conf"
	sql() { sqlite3 "$D/state/pipeline.sqlite" "$@"; }
	run -0 job_filling_disk "$D" a.ok
	assert_output --partial "'products/G/a.ok': cannot record the end of its job (database or disk is full); kept in its end slot"
	rm "$MNT/fill"
	[ "$(sql "select count(*) from jobs where ended is null")" -eq 1 ]
	# the next attempt of the target sweeps the row: from the evidence
	run -0 uvm-run -D "$D" -s verify -t products/G/a.ok -- true
	[ "$(sql "select class || '|' || status || '|' || note from jobs where id = 1")" = \
		"ok|0|its end could not be recorded (database or disk is full); closed later from its end slot" ]
	[ "$(sql "select count(*) from jobs where class = 'lost'")" -eq 0 ]
	# the audit says the same, and its repair closes it so
	run -0 job_filling_disk "$D" b.ok
	rm "$MNT/fill"
	run -1 uvm-audit -D "$D"
	assert_line "stuck-job	products/G/b.ok	job 3 (pid $(sql "select pid from jobs where id = 3")) recorded as running: it ended (class ok, status 0) but its end could not be recorded (database or disk is full)"
	run -0 uvm-audit -D "$D" -r
	[ "$(sql "select class || '|' || status from jobs where id = 3")" = "ok|0" ]
	[ "$(sql "select count(*) from jobs where class = 'lost' or ended is null")" -eq 0 ]
	[ -z "$(ls "$D/state/ends")" ]
	umount "$MNT"
}

# Issue 18 item 1: a job that fails to write on a full disk is deferred,
# not counted, whatever RETRY_MAX: a long fill dead-letters nothing, and
# the target runs by itself once space is freed. The job fills the
# deployment's disk to below DISK_MARGIN_MB (leaving the database room to
# record it) and exits 74, as a writer does on ENOSPC.
@test "a job failing 74 on a disk below its margin is deferred, not counted; it runs once space is freed" {
	tiny_fs "$MNT" 8192 || skip "cannot mount tmpfs"
	D=$MNT/d
	uvm-init "$D" >/dev/null
	printf 'DISK_MARGIN_MB=2\nRETRY_MAX=1\nRETRY_BASE=0\n' >>"$D/uvmake.conf"
	sql() { sqlite3 "$D/state/pipeline.sqlite" "$@"; }
	cd "$D" # as make runs its recipes: targets are relative to the deployment
	run -74 uvm-run -D "$D" -s verify -t products/G/a.ok -- sh -c '
		free=$(df -k --output=avail "$0" | tail -1)
		dd if=/dev/zero of="$0/fill" bs=1k count=$((free - 512)) 2>/dev/null
		echo "cannot write: No space left on device" >&2; exit 74' "$MNT"
	[ "$(sql "select state || '|' || last_class from targets where target = 'products/G/a.ok'")" = "deferred|disk" ]
	[ "$(sql "select class from jobs where id = 1")" = disk ]
	[ "$(sql "select count(*) from targets where state = 'dead'")" -eq 0 ]
	rm "$MNT/fill"
	run -0 uvm-run -D "$D" -s verify -t products/G/a.ok -- true
	[ "$(sql "select state from targets where target = 'products/G/a.ok'")" = ok ]
	cd "$BATS_TEST_TMPDIR"
	umount "$MNT"
}
