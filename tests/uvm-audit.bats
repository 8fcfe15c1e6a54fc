#!/usr/bin/env bats
# uvm-audit: database against file system, one class of finding at a time;
# exit 0 clean, 1 findings (like diff and cmp), 65 corrupt or lost
# database (restore), 74 a database that could not be checked (disk full:
# transient), 76 busy; -r repairs only what is safe and says so.

load test_helper

G=20251024T120003

setup() {
	d=$BATS_TEST_TMPDIR/d
	uvm-init "$d" >/dev/null
	# create the schema through the library (any program that opens the db)
	uvm-audit -D "$d" >/dev/null || true
}

teardown() {
	if [ -n "${MNT:-}" ]; then umount "$MNT" 2>/dev/null || true; fi
}

sql() { sqlite3 "$d/state/pipeline.sqlite" "$@"; }
old() { touch -d '2 hours ago' "$@"; }

# a small stream through the real pipeline (one group of 2 subbands with a
# calibrator transit), as in pipeline.bats
run_stream() {
	small_conf "$d" SUBBANDS=2 PARTIAL_MIN=2 IMAGE_NPIX=64 IMAGE_NITER=50 RETRY_UNAVAILABLE_BASE=0
	uvm-sim -a 6 -s 2 -c 4 -t 3 -j 2 -S 7 -n 0.05 -K "$UVM_ROOT/ops/calibrators.csv" \
		-k 3C48 -C 0 -g 1 -o "$d/incoming" >/dev/null
	for i in 1 2 3 4 5; do uvm-make -D "$d" -w 60 >/dev/null 2>&1 && return 0; sleep 1; done
	return 1
}

@test "uvm-audit: usage" {
	run -0 uvm-audit --help
	assert_output "usage: uvm-audit [-D home] [-r] [-j]"
	run -0 uvm-audit -h
	assert_output "usage: uvm-audit [-D home] [-r] [-j]"
	run -64 uvm-audit -q
	assert_output --partial "usage: uvm-audit [-D home] [-r] [-j]"
	run -64 uvm-audit -D "$d" extra
	run -66 uvm-audit -D "$BATS_TEST_TMPDIR"
}

@test "uvm-audit: a fresh deployment is consistent, and a re-run too" {
	run -0 uvm-audit -D "$d"
	assert_output ""
	run -0 uvm-audit -D "$d" -j
	[ "$(echo "$output" | jq .findings)" -eq 0 ]
	[ "$(echo "$output" | jq '.classes["stuck-job"].found')" -eq 0 ]
	[ "$(jq .database_ok "$d/state/audit.json")" = true ]
	run -0 uvm-audit -D "$d"
	no_temps "$d"
}

@test "uvm-audit: each class found, a tab-separated line each and a summary; read-only" {
	mkdir -p "$d/products/$G"
	touch "$d/products/$G/vis.uvh5.tmp.999999" "$d/products/$G/sb00.ok" "$d/products/$G/stray.fits"
	old "$d/products/$G/vis.uvh5.tmp.999999"
	sql "insert into jobs(target,grp,stage,command,started,attempt,pid) values('products/$G/vis.uvh5','$G','combine','x',1,1,999999);
	     insert into targets(target,grp,stage,state,updated) values('products/$G/vis.uvh5','$G','combine','running',1);
	     insert into targets(target,grp,stage,state,updated) values('products/$G/image.fits','$G','image','ok',1);
	     insert into targets(target,grp,stage,state,updated) values('products/$G/sb00.ok','$G','verify','ok',1);
	     insert into groups(grp,first_seen,nsub,state,updated) values('$G',1,16,'ready',1);"
	# inputs: one of a recorded group (2 s later than its id), one of no
	# group, and one that just arrived (the planner has not run yet)
	touch "$d/incoming/2025-10-24T12:00:05_sb01.hdf5" "$d/incoming/2025-10-24T13:00:00_sb00.hdf5"
	old "$d/incoming/"*
	touch "$d/incoming/2025-10-24T14:00:00_sb00.hdf5"
	touch "$d/quarantine/orphan.hdf5"
	run -1 uvm-audit -D "$d"
	T=$'\t'
	assert_line "stuck-job${T}products/$G/vis.uvh5${T}job 1 (pid 999999) recorded as running, process gone"
	assert_line "missing-product${T}products/$G/image.fits${T}recorded as made, file absent"
	assert_line "unrecorded-product${T}products/$G/stray.fits${T}present, no successful job record"
	assert_line "stale-temp${T}products/$G/vis.uvh5.tmp.999999${T}temporary of a dead process (pid 999999)"
	assert_line "unplanned-input${T}incoming/2025-10-24T13:00:00_sb00.hdf5${T}in no group of state/done.idx or the groups table (run uvm-plan)"
	assert_line "quarantine${T}quarantine/orphan.hdf5${T}no reason file"
	assert_line "summary${T}stale-temp${T}1 found, 0 repaired"
	[ "${#lines[@]}" -eq 12 ]
	# read-only: nothing changed
	[ -f "$d/products/$G/vis.uvh5.tmp.999999" ]
	[ -z "$(sql 'select ended from jobs where id=1')" ]
	run -1 uvm-audit -D "$d" -j
	[ "$(echo "$output" | jq .findings)" -eq 6 ]
	[ "$(echo "$output" | jq -r '.items[0].class')" = stuck-job ]
	# repair: temp removed, job closed and its target retried, the missing
	# product's record forgotten; the rest needs a person (still 1)
	run -1 uvm-audit -D "$d" --repair
	assert_line "summary${T}stuck-job${T}1 found, 1 repaired"
	assert_line "summary${T}unrecorded-product${T}1 found, 0 repaired"
	[ "$(sql 'select class from jobs where id=1')" = lost ]
	[ "$(sql "select state from targets where target='products/$G/vis.uvh5'")" = retry ]
	[ ! -f "$d/products/$G/vis.uvh5.tmp.999999" ]
	[ "$(sql "select count(*) from targets where target like '%image.fits'")" -eq 0 ]
	[ "$(sql "select count(*) from targets where target like '%sb00.ok'")" -eq 1 ]
	run -1 uvm-audit -D "$d"
	[ "${#lines[@]}" -eq 6 ]
	rm "$d/products/$G/stray.fits" "$d/incoming/2025-10-24T13:00:00_sb00.hdf5"
	printf 'reason\n' >"$d/quarantine/orphan.hdf5.reason"
	run -0 uvm-audit -D "$d"
	assert_output ""
}

@test "uvm-audit: a product uvm-retain removed is not missing" {
	mkdir -p "$d/logs" "$d/products/$G"
	sql "insert into targets(target,grp,stage,state,updated) values('products/$G/vis.uvh5','$G','combine','ok',1);
	     insert into jobs(target,grp,stage,command,started,ended,status,attempt,pid) values('products/$G/vis.uvh5','$G','combine','x',1,2,0,1,1);"
	echo "1700000000 remove products/$G/vis.uvh5 100 bytes (age)" >"$d/logs/retain.log"
	run -0 uvm-audit -D "$d"
	: >"$d/logs/retain.log"
	run -1 uvm-audit -D "$d"
	assert_output --partial "missing-product	products/$G/vis.uvh5"
}

@test "uvm-audit: a running job's live process and its temporary are not reported" {
	sleep 5 & pid=$!
	mkdir -p "$d/products/x"
	touch "$d/products/x/vis.uvh5.tmp.$pid"
	sql "insert into jobs(target,stage,command,started,attempt,pid) values('products/x/vis.uvh5','combine','x',1,1,$pid);
	     insert into targets(target,stage,state,updated) values('products/x/vis.uvh5','combine','running',1)"
	run -0 uvm-audit -D "$d" -r
	kill $pid
	[ -f "$d/products/x/vis.uvh5.tmp.$pid" ]
	[ -z "$(sql 'select ended from jobs where id=1')" ]
}

@test "uvm-audit: a real stream is clean; a lost registry entry is registered again from its table" {
	run_stream
	run -0 uvm-audit -D "$d"
	assert_output ""
	t=$(cd "$d" && ls caltables/*.cal.h5)
	reg="$d/state/calibration.sqlite"
	before=$(sqlite3 "$reg" "select grp, calibrator, transit_mjd, mjd_start, mjd_end, status from caltables")
	sqlite3 "$reg" "delete from caltables"
	run -1 uvm-audit -D "$d"
	assert_output --partial "unregistered-caltable	$t	table present, no calibration registry entry"
	run -0 uvm-audit -D "$d" -r
	assert_line "unregistered-caltable	$t	table present, no calibration registry entry (repaired)"
	[ "$(sqlite3 "$reg" "select grp, calibrator, transit_mjd, mjd_start, mjd_end, status from caltables")" = "$before" ]
	[ "$(sqlite3 "$reg" "select path from caltables")" = "$t" ]
	run -0 uvm-audit -D "$d"
	# a lost table: reported (and unrecorded nowhere else), not repairable here
	mv "$d/$t" "$BATS_TEST_TMPDIR/"
	run -1 uvm-audit -D "$d" -r
	assert_line "missing-caltable	$t	registry entry of group $(basename "$t" .cal.h5), table absent"
	mv "$BATS_TEST_TMPDIR/$(basename "$t")" "$d/$t"
	run -0 uvm-audit -D "$d"
}

@test "uvm-audit: a corrupt database fails quick_check with 65: restore it" {
	sql "create table filler(x); insert into filler select randomblob(1000) from (with recursive c(i) as (select 1 union all select i+1 from c where i<200) select i from c);"
	sql "pragma wal_checkpoint(truncate)" >/dev/null
	dd if=/dev/urandom of="$d/state/pipeline.sqlite" bs=4096 seek=3 count=20 conv=notrunc 2>/dev/null
	run -65 uvm-audit -D "$d"
	assert_line --regexp "^database	state/pipeline.sqlite	corrupt: .*: restore it from a backup \(ops/RECOVERY.md\)$"
	refute_output --partial "could not check"
	[ "$(jq .database_ok "$d/state/audit.json")" = false ]
	[ "$(jq -r .database "$d/state/audit.json")" = corrupt ]
	# not a database at all: the same
	head -c 8192 /dev/urandom >"$d/state/calibration.sqlite"
	run -65 uvm-audit -D "$d"
	assert_line --regexp "^database	state/calibration.sqlite	corrupt: file is not a database: restore"
}

@test "uvm-audit: a disk full while checking is 74, could not check, not corrupt" {
	MNT=$BATS_TEST_TMPDIR/mnt
	tiny_fs "$MNT" 2048 || skip "cannot mount tmpfs"
	d=$MNT/d
	uvm-init "$d" >/dev/null
	run -66 uvm-run -D "$d" -s verify -t products/$G/sb00.ok -- sh -c 'exit 66'
	sql "pragma wal_checkpoint(truncate)" >/dev/null
	run -0 uvm-audit -D "$d"
	# the disk fills: reading the database needs a page of its WAL index
	dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null || true
	run -74 uvm-audit -D "$d"
	assert_line --regexp "^database	state/pipeline.sqlite	could not check: .*\(disk full or I/O error while checking: transient, free space and run the audit again; not a reason to restore\)$"
	refute_output --partial corrupt
	refute_output --partial "restore it"
	# space back: sound, nothing lost
	rm "$MNT/fill"
	run -0 uvm-audit -D "$d"
	[ "$(jq -r .database "$d/state/audit.json")" = ok ]
	[ "$(sql "select count(*) from jobs")" = 1 ]
	umount "$MNT"
}

@test "uvm-audit: an emptied or deleted state database with history is 65, never re-created" {
	sql "insert into targets (target, stage, state, updated) values ('products/$G/vis.uvh5', 'combine', 'dead', 0)"
	[ -f "$d/state/pipeline.sqlite.history" ]
	: >"$d/state/pipeline.sqlite"
	rm -f "$d/state/pipeline.sqlite-wal" "$d/state/pipeline.sqlite-shm"
	run -65 uvm-audit -D "$d"
	assert_line "database	state/pipeline.sqlite	empty, but its marker state/pipeline.sqlite.history is there: the job, quarantine and dead-letter history is lost; restore it from a backup (ops/RECOVERY.md)"
	[ "$(jq -r .database "$d/state/audit.json")" = corrupt ]
	# nothing opened it as a new, empty database: still 0 bytes
	[ ! -s "$d/state/pipeline.sqlite" ]
	# the programs that use it refuse, pointing at the runbook
	run -75 uvm-run -D "$d" -s verify -t products/$G/sb00.ok -- true
	assert_output --partial "state/pipeline.sqlite' is empty, but its marker state/pipeline.sqlite.history is there: not re-created empty; restore it from a backup (ops/RECOVERY.md"
	[ ! -s "$d/state/pipeline.sqlite" ]
	run uvm-plan -D "$d"
	assert_output --partial "restore it from a backup"
	[ ! -s "$d/state/pipeline.sqlite" ]
	# deleted, with finished groups in done.idx and no marker: the same
	rm "$d/state/pipeline.sqlite" "$d/state/pipeline.sqlite.history"
	echo "$G" >"$d/state/done.idx"
	run -65 uvm-audit -D "$d"
	assert_line --partial "database	state/pipeline.sqlite	missing, but state/done.idx lists finished groups"
	[ ! -e "$d/state/pipeline.sqlite" ]
	# a new deployment (no history) still creates it
	rm "$d/state/done.idx"
	run -0 uvm-audit -D "$d"
	[ -s "$d/state/pipeline.sqlite" ] && [ -f "$d/state/pipeline.sqlite.history" ]
}

@test "uvm-audit: hostile names are reported as names, links are not followed" {
	mkdir -p "$d/products/$G"
	ln -s /etc "$d/products/$G/evil"
	printf x >"$d/products/$G/$(printf 'a\tb\nc')"
	run -1 uvm-audit -D "$d" -j
	[ "$(echo "$output" | jq -r '[.items[].subject] | sort | .[0]')" = "products/$G/$(printf 'a\tb\nc')" ]
	[ "$(echo "$output" | jq '.findings')" -eq 2 ]
}

@test "uvm-audit: a second audit while one runs exits 76; stdout full is 74" {
	flock "$d/state/audit.lock" sleep 3 &
	sleep 0.5
	run -76 uvm-audit -D "$d"
	wait
	run -74 sh -c "uvm-audit -D '$d' -j >/dev/full"
	no_temps "$d/state"
}
