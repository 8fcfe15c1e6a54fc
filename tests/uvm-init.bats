#!/usr/bin/env bats
# uvm-init: the deployment layout, the config (defaults plus this
# installation's rules and calibrator catalogue), idempotent re-runs that
# never touch an existing config, and refusal of paths a makefile cannot hold.

load test_helper
bats_require_minimum_version 1.5.0

teardown() {
	if [ -n "${mnt:-}" ]; then umount "$mnt" 2>/dev/null || true; fi
}

@test "uvm-init: usage" {
	run -0 uvm-init --help
	assert_output "usage: uvm-init [-D home] [dir]"
	run -0 uvm-init -h
	assert_output "usage: uvm-init [-D home] [dir]"
	run -64 uvm-init
	assert_output "usage: uvm-init [-D home] [dir]"
	run -64 uvm-init -x "$BATS_TEST_TMPDIR/d"
	run -64 uvm-init "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	[ ! -e "$BATS_TEST_TMPDIR/a" ]
}

@test "uvm-init: creates the layout and a config that sh and make read alike" {
	d=$BATS_TEST_TMPDIR/d
	run -0 uvm-init "$d"
	assert_output "$d"
	for s in incoming products caltables mosaics quarantine state logs; do
		[ -d "$d/$s" ]
	done
	[ -f "$d/uvmake.conf" ]
	rules=$(cd "$UVM_ROOT/rules" && pwd -P)
	grep -qx "RULES_DIR=$rules" "$d/uvmake.conf"
	grep -qx "CALIBRATORS=$(cd "$UVM_ROOT/ops" && pwd -P)/calibrators.csv" "$d/uvmake.conf"
	grep -qx "SUBBANDS=16" "$d/uvmake.conf"
	grep -qx "GROUP_TOLERANCE=60" "$d/uvmake.conf"
	# sh and make see the same values
	[ "$(sh -c ". '$d/uvmake.conf'; echo \$PARTIAL_TIMEOUT \$RULES_DIR")" = "900 $rules" ]
	printf 'include %s/uvmake.conf\nx:\n\t@echo $(PARTIAL_TIMEOUT) $(RULES_DIR)\n' "$d" >"$BATS_TEST_TMPDIR/m.mk"
	[ "$(make -s -f "$BATS_TEST_TMPDIR/m.mk" x)" = "900 $rules" ]
	# the database schema is there
	run -0 sqlite3 "$d/state/pipeline.sqlite" "select count(*) from groups"
	assert_output 0
	no_temps "$d"
}

@test "uvm-init: re-run creates what is missing and never touches the config" {
	d=$BATS_TEST_TMPDIR/d
	run -0 uvm-init "$d"
	echo "SUBBANDS=4" >>"$d/uvmake.conf"
	sum=$(sha256sum <"$d/uvmake.conf")
	ino=$(stat -c %i "$d/uvmake.conf")
	rmdir "$d/logs" "$d/mosaics"
	run -0 uvm-init "$d"
	[ -d "$d/logs" ] && [ -d "$d/mosaics" ]
	[ "$(sha256sum <"$d/uvmake.conf")" = "$sum" ]
	[ "$(stat -c %i "$d/uvmake.conf")" = "$ino" ]
	no_temps "$d"
}

@test "uvm-init: deployment from -D and from UVM_HOME; relative paths made absolute" {
	cd "$BATS_TEST_TMPDIR"
	run -0 uvm-init -D viaD
	assert_output "$BATS_TEST_TMPDIR/viaD"
	[ -f viaD/uvmake.conf ]
	UVM_HOME=$BATS_TEST_TMPDIR/viaenv run -0 uvm-init
	assert_output "$BATS_TEST_TMPDIR/viaenv"
	[ -d viaenv/state ]
}

@test "uvm-init: refuses a path a makefile cannot hold, creating nothing" {
	for bad in 'a b' 'a:b' 'x$(touch pwned)' 'h#sh' 'p%c'; do
		run -64 uvm-init "$BATS_TEST_TMPDIR/$bad"
		assert_output --partial "characters a makefile cannot hold"
		[ ! -e "$BATS_TEST_TMPDIR/$bad" ]
	done
	[ ! -e pwned ] && [ ! -e "$BATS_TEST_TMPDIR/pwned" ]
}

@test "uvm-init: a file in the way exits 73" {
	touch "$BATS_TEST_TMPDIR/f"
	run -73 uvm-init "$BATS_TEST_TMPDIR/f"
	assert_output --partial "cannot create"
	run -73 uvm-init "$BATS_TEST_TMPDIR/f/sub"
}

@test "uvm-init: a full file system exits 74 and leaves no temporary" {
	mnt=$BATS_TEST_TMPDIR/mnt
	tiny_fs "$mnt" 1024 || skip "cannot mount a tmpfs here"
	dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null || true
	run -74 uvm-init "$mnt/d"
	assert_output --partial "cannot write '$mnt/d/uvmake.conf': No space left on device"
	[ ! -e "$mnt/d/uvmake.conf" ]
	no_temps "$mnt"
	# space again: the re-run completes the deployment
	rm "$mnt/fill"
	run -0 uvm-init "$mnt/d"
	[ -f "$mnt/d/uvmake.conf" ]
}
