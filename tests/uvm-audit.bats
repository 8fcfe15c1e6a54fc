#!/usr/bin/env bats
# uvm-audit: database against file system; exit 0 clean, 65 findings,
# 74 corrupt database; -r repairs only what is safe.

load test_helper

setup() {
	d=$BATS_TEST_TMPDIR/d
	uvm-init "$d" >/dev/null
	# create the schema through the library (any program that opens the db)
	uvm-audit -D "$d" >/dev/null || true
}

sql() { sqlite3 "$d/state/pipeline.sqlite" "$@"; }

@test "uvm-audit: usage" {
	run -0 uvm-audit --help
	assert_output "usage: uvm-audit [-D home] [-r] [-j]"
	run -64 uvm-audit -q
	run -66 uvm-audit -D "$BATS_TEST_TMPDIR"
}

@test "uvm-audit: a fresh deployment is consistent, and a re-run too" {
	run -0 uvm-audit -D "$d"
	assert_output ""
	run -0 uvm-audit -D "$d" -j
	[ "$(echo "$output" | jq .findings)" -eq 0 ]
	[ "$(jq .database_ok "$d/state/audit.json")" = true ]
}

@test "uvm-audit: finds a lost job, a missing product, a stray quarantine file, a stale temp" {
	mkdir -p "$d/products/20251024T120003"
	touch "$d/products/20251024T120003/vis.uvh5.tmp.999999"
	touch "$d/products/20251024T120003/sb00.ok"
	sql "insert into jobs(target,grp,stage,command,started,attempt,pid) values('products/20251024T120003/vis.uvh5','20251024T120003','combine','x',1,1,999999);
	     insert into targets(target,grp,stage,state,updated) values('products/20251024T120003/vis.uvh5','20251024T120003','combine','ok',1);
	     insert into targets(target,grp,stage,state,updated) values('products/20251024T120003/sb00.ok','20251024T120003','verify','ok',1);"
	touch "$d/quarantine/orphan.hdf5"
	run -65 uvm-audit -D "$d"
	assert_line "lost-job: products/20251024T120003/vis.uvh5: job 1 (pid 999999) never ended"
	assert_line "missing-product: products/20251024T120003/vis.uvh5: recorded as made, file absent"
	assert_line "quarantine: orphan.hdf5: no reason file"
	assert_line "stale-temp: $d/products/20251024T120003/vis.uvh5.tmp.999999: temporary of a dead process"
	[ "${#lines[@]}" -eq 4 ]
	# read-only: nothing changed
	[ -f "$d/products/20251024T120003/vis.uvh5.tmp.999999" ]
	[ -z "$(sql 'select ended from jobs where id=1')" ]
	# repair, then clean except the quarantine finding (a person decides)
	run uvm-audit -D "$d" -r
	[ "$(sql 'select class from jobs where id=1')" = lost ]
	[ ! -f "$d/products/20251024T120003/vis.uvh5.tmp.999999" ]
	[ "$(sql "select count(*) from targets where target like '%vis.uvh5'")" -eq 0 ]
	[ "$(sql "select count(*) from targets where target like '%sb00.ok'")" -eq 1 ]
	run -65 uvm-audit -D "$d"
	assert_output "quarantine: orphan.hdf5: no reason file"
}

@test "uvm-audit: a running job's live process is not reported" {
	sleep 5 & pid=$!
	sql "insert into jobs(target,stage,command,started,attempt,pid) values('products/x/vis.uvh5','combine','x',1,1,$pid)"
	run -0 uvm-audit -D "$d"
	kill $pid
}

@test "uvm-audit: a corrupt database fails quick_check with 74" {
	sql "create table filler(x); insert into filler select randomblob(1000) from (with recursive c(i) as (select 1 union all select i+1 from c where i<200) select i from c);" 
	sql "pragma wal_checkpoint(truncate)" >/dev/null
	dd if=/dev/urandom of="$d/state/pipeline.sqlite" bs=4096 seek=3 count=20 conv=notrunc 2>/dev/null
	run -74 uvm-audit -D "$d"
	assert_output --partial "database: $d/state/pipeline.sqlite"
}

@test "uvm-audit: a second audit while one runs exits 76; stdout full is 74" {
	flock "$d/state/audit.lock" sleep 3 &
	sleep 0.5
	run -76 uvm-audit -D "$d"
	wait
	run -74 sh -c "uvm-audit -D '$d' -j >/dev/full"
}
