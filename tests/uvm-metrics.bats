#!/usr/bin/env bats
# uvm-metrics: Prometheus textfile from the job records; promtool accepts it.

load test_helper

setup() {
	d=$BATS_TEST_TMPDIR/d
	uvm-init "$d" >/dev/null
	uvm-metrics -D "$d" -o "$BATS_TEST_TMPDIR/schema.prom"   # creates the schema
	now=$(date +%s)
	sqlite3 "$d/state/pipeline.sqlite" "
	insert into jobs(target,grp,stage,command,started,ended,status,class,attempt) values
	 ('products/G1/sb00.ok','G1','verify','x',$now-100,$now-99,0,'ok',1),
	 ('products/G1/sb01.ok','G1','verify','x',$now-100,$now-98,0,'ok',1),
	 ('products/G1/sb02.ok','G1','verify','x',$now-100,$now-97,0,'ok',1),
	 ('products/G1/vis.uvh5','G1','combine','x',$now-90,$now-80,74,'ioerr',1),
	 ('products/G1/vis.uvh5','G1','combine','x',$now-70,$now-60,0,'ok',2);
	insert into targets(target,grp,stage,state,updated) values
	 ('products/G2/vis.uvh5','G2','combine','deferred',1),('products/G3/vis.uvh5','G3','combine','dead',1);
	insert into quarantine(path,original,reason,at) values('quarantine/a','incoming/a','bad',1);"
}

teardown() {
	if mountpoint -q "$BATS_TEST_TMPDIR/stg" 2>/dev/null; then umount "$BATS_TEST_TMPDIR/stg"; fi
}

@test "uvm-metrics: usage" {
	run -0 uvm-metrics --help
	assert_output "usage: uvm-metrics [-D home] [-o file]"
	run -64 uvm-metrics extra
	run -66 uvm-metrics -D "$BATS_TEST_TMPDIR"
}

@test "uvm-metrics: counts and quantiles equal the job records" {
	run -0 uvm-metrics -D "$d" -o -
	assert_line 'uvmake_jobs_total{stage="verify",outcome="ok"} 3'
	assert_line 'uvmake_jobs_total{stage="combine",outcome="ioerr"} 1'
	assert_line 'uvmake_jobs_total{stage="combine",outcome="ok"} 1'
	assert_line 'uvmake_retries_total{class="ok"} 1'
	assert_line 'uvmake_targets{state="deferred"} 1'
	assert_line 'uvmake_targets{state="dead"} 1'
	assert_line 'uvmake_quarantined_files 1'
	assert_line 'uvmake_stage_duration_seconds{stage="verify",quantile="0.5"} 2.000000'
	assert_line 'uvmake_stage_duration_seconds_count{stage="verify"} 3'
	assert_line 'uvmake_stage_duration_seconds_sum{stage="verify"} 6.000000'
	assert_line "uvmake_stage_last_success_timestamp_seconds{stage=\"combine\"} $((now - 60))"
	assert_line 'uvmake_watch_up 0'
}

@test "uvm-metrics: derived gauges equal the job records (known values)" {
	sqlite3 "$d/state/pipeline.sqlite" "
	insert into jobs(target,grp,stage,command,started,ended,status,class,attempt) values
	 ('products/G1/image.fits','G1','image','x',$now-60,$now-40,0,'ok',1),
	 ('products/G0/image.fits','G0','image','x',$now-9000,$now-8000,74,'ioerr',1);
	insert into targets(target,grp,stage,state,attempts,updated) values
	 ('products/G4/vis.uvh5','G4','combine','retry',4,1),('products/G5/vis.uvh5','G5','combine','ok',9,1);
	insert into groups(grp,first_seen,nsub,state,updated) values
	 ('G1',1,16,'ready',1),('G2',1,16,'partial',1),('G3',1,16,'done',1),('G6',1,16,'waiting',1)"
	# staging: a 1 MiB tmpfs half full (256 blocks, 128 used) where mounting works
	stg=$BATS_TEST_TMPDIR/stg
	if tiny_fs "$stg" 1024; then
		head -c 524288 /dev/zero >"$stg/half"
		ratio='^uvmake_tmpfs_used_ratio 0\.5$'
	else
		mkdir -p "$stg"
		ratio='^uvmake_tmpfs_used_ratio 0(\.[0-9]+)?(e-[0-9]+)?$'
	fi
	printf 'STAGING_DIR=%s\n' "$stg" >>"$d/uvmake.conf"
	run -0 uvm-metrics -D "$d" -o -
	# 6 jobs ended in the last hour, 1 failed (the 9000 s old one is out)
	assert_line 'uvmake_jobs_finished_1h 6'
	assert_line 'uvmake_failure_ratio_1h 0.16666666666666666'
	assert_line --regexp '^uvmake_image_last_success_age_seconds 4[0-9](\.[0-9]+)?$'
	assert_line 'uvmake_target_attempts_max 4'
	assert_line 'uvmake_queue_depth 3'
	assert_line 'uvmake_watch_up 0'
	assert_line --regexp "$ratio"
	# G1 imaged 40 s before now; its last verify job started 100 s before
	assert_line 'uvmake_group_latency_seconds_count 1'
	assert_line 'uvmake_group_latency_seconds{quantile="0.5"} 60.000000'
	refute_output --partial 'uvmake_calibration_age_seconds'   # no registry yet
	# the watcher alive, a calibration table valid until an hour ago
	printf '{"pid": %d}\n' $$ >"$d/state/watch.json"
	sqlite3 "$d/state/calibration.sqlite" "
	create table caltables (path TEXT, grp TEXT UNIQUE, calibrator TEXT, transit_mjd REAL,
	 mjd_start REAL, mjd_end REAL, created REAL, status TEXT, reason TEXT DEFAULT '');
	insert into caltables values ('caltables/C1.cal.h5','C1','3C48',0,
	 ($now-7200)/86400.0+40587, ($now-3600)/86400.0+40587, $now, 'good', '')"
	run -0 uvm-metrics -D "$d" -o -
	assert_line 'uvmake_watch_up 1'
	assert_line --regexp '^uvmake_calibration_age_seconds 36[01][0-9](\.[0-9]+)?$'   # 3600 s plus the test's own run time
}

# products/<G>/flag.json with flagged_fraction $2 (the members the reader needs).
flag_report() {
	mkdir -p "$d/products/$1"
	printf '{"flagged_fraction":%s,"dead_antennas":[{"antenna":3,"name":"ant03","reason":"r"}],"bad_antennas":[]}\n' \
		"$2" >"$d/products/$1/flag.json"
}

@test "uvm-metrics: uvmake_flagged_fraction_last is the newest group's flag report" {
	run -0 uvm-metrics -D "$d" -o -
	refute_output --partial uvmake_flagged_fraction_last   # no report yet
	flag_report 20260101T000000 0.5
	flag_report 20260101T000500 0.125
	mkdir -p "$d/products/20260101T001000"                 # newer, not flagged yet
	mkdir -p "$d/products/zz" && echo '{"flagged_fraction":0.9}' >"$d/products/zz/flag.json"
	run -0 uvm-metrics -D "$d" -o -
	assert_line '# TYPE uvmake_flagged_fraction_last gauge'
	assert_line 'uvmake_flagged_fraction_last 0.125'
	# the newest report unreadable: a warning and no gauge, not an older value
	echo '{"flagged_fraction":"x"}' >"$d/products/20260101T001000/flag.json"
	run -0 uvm-metrics -D "$d" -o -
	assert_line "uvm-metrics: warning: '$d/products/20260101T001000/flag.json': not a flag report"
	refute_line --partial 'uvmake_flagged_fraction_last '
}

@test "uvm-metrics: promtool check metrics accepts the file" {
	command -v promtool >/dev/null || skip "promtool not installed (Debian package prometheus; make deps installs it)"
	# every family present: staging, a calibration table, an imaged group
	printf 'STAGING_DIR=%s\n' "$BATS_TEST_TMPDIR" >>"$d/uvmake.conf"
	sqlite3 "$d/state/calibration.sqlite" "
	create table caltables (path TEXT, grp TEXT UNIQUE, calibrator TEXT, transit_mjd REAL,
	 mjd_start REAL, mjd_end REAL, created REAL, status TEXT, reason TEXT DEFAULT '');
	insert into caltables values ('caltables/C1.cal.h5','C1','3C48',0, 1, 2, 1, 'good', '')"
	sqlite3 "$d/state/pipeline.sqlite" "insert into jobs(target,grp,stage,command,started,ended,status,class,attempt)
	 values ('products/G1/image.fits','G1','image','x',$now-60,$now-40,0,'ok',1)"
	flag_report 20260101T000000 0.25
	run -0 uvm-metrics -D "$d"
	for f in uvmake_flagged_fraction_last uvmake_tmpfs_used_ratio uvmake_calibration_age_seconds uvmake_image_last_success_age_seconds \
		uvmake_group_latency_seconds_count uvmake_queue_depth uvmake_failure_ratio_1h; do
		grep -q "^# TYPE $f \|^$f " "$d/state/uvmake.prom"
	done
	run promtool check metrics <"$d/state/uvmake.prom"
	assert_success
	refute_output --partial "problem"
	no_temps "$d"
}

@test "uvm-metrics: an unwritable output is 73/74 and leaves no temporary" {
	run uvm-metrics -D "$d" -o /proc/uvmake.prom
	[ "$status" -eq 73 ] || [ "$status" -eq 74 ]
	run -74 sh -c "uvm-metrics -D '$d' -o - >/dev/full"
}

@test "uvm-metrics: re-running gives the same families" {
	uvm-metrics -D "$d" -o "$BATS_TEST_TMPDIR/a"
	uvm-metrics -D "$d" -o "$BATS_TEST_TMPDIR/b"
	diff <(grep -Ev 'timestamp|free_bytes' "$BATS_TEST_TMPDIR/a") <(grep -Ev 'timestamp|free_bytes' "$BATS_TEST_TMPDIR/b")
}

@test "uvm-metrics: a second run while one holds state/metrics.lock exits 76 and writes nothing" {
	d=$BATS_TEST_TMPDIR/busy
	uvm-init "$d" >/dev/null
	run -76 flock -n "$d/state/metrics.lock" uvm-metrics -D "$d"
	assert_output --partial 'another uvm-metrics is running'
	[ ! -e "$d/state/uvmake.prom" ]
	run -0 uvm-metrics -D "$d"
	[ -s "$d/state/uvmake.prom" ]
}
