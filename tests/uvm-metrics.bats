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

@test "uvm-metrics: promtool check metrics accepts the file" {
	command -v promtool >/dev/null || skip "promtool not installed (Debian package prometheus; make deps installs it)"
	run -0 uvm-metrics -D "$d"
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
