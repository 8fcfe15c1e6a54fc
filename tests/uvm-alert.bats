#!/usr/bin/env bats
# uvm-alert: rules over the metrics, one notification per episode, re-notify,
# resolve, acknowledge, hook input, derived metrics, lock and exit statuses.

load test_helper

setup() {
	d=$BATS_TEST_TMPDIR/d
	mkdir -p "$d/state"                  # a deployment as uvm-alert needs it
	# A hook that appends its stdin (one JSON object) to a file.
	cp "$BATS_TEST_DIRNAME/fixtures/alert-hook.sh" "$d/hook.sh"
	chmod +x "$d/hook.sh"
	printf 'ALERT_HOOK=hook.sh\nALERT_RENOTIFY=100\n' >"$d/uvmake.conf"
	printf 'high test_metric > 3 10 warning\n' >"$d/rules.conf"
	metric 5
}

teardown() {
	local m
	for m in "$BATS_TEST_TMPDIR"/s/{incoming,products,state,staging}; do
		if mountpoint -q "$m" 2>/dev/null; then umount "$m"; fi
	done
}

metric() { printf '# TYPE test_metric gauge\ntest_metric %s\n' "$1" >"$d/state/uvmake.prom"; }
at() { UVM_ALERT_NOW=$1 uvm-alert -D "$d" -r "$d/rules.conf"; }
sent() { if [ -f "$d/notified.jsonl" ]; then wc -l <"$d/notified.jsonl"; else echo 0; fi; }

@test "uvm-alert: usage" {
	run -0 uvm-alert --help
	assert_output "usage: uvm-alert [-D home] [-r rules] [-n] [-a name]"
	run -0 uvm-alert -h
	assert_output "usage: uvm-alert [-D home] [-r rules] [-n] [-a name]"
	run -64 uvm-alert extra
	assert_output --partial "usage: uvm-alert"
	run -64 uvm-alert -x
	run -66 uvm-alert -D "$BATS_TEST_TMPDIR"
	assert_output --partial "is not a deployment"
}

@test "uvm-alert: the history keeps ALERT_HISTORY_DAYS, the active episode stays" {
	printf 'ALERT_HOOK=hook.sh\nALERT_RENOTIFY=100\nALERT_HISTORY_DAYS=0.01\n' >"$d/uvmake.conf"
	run -0 at 1000
	run -0 at 1010                      # firing
	for t in 1110 1210 1310 1410; do run -0 at $t; done
	run -0 sqlite3 "$d/state/alerts.sqlite" "select group_concat(event || '@' || cast(at as int), ' ') from alert_history"
	assert_output "firing@1010 renotify@1110 renotify@1210 renotify@1310 renotify@1410"
	run -0 at 1900                      # 864 s kept: what is older than 1036 goes
	run -0 sqlite3 "$d/state/alerts.sqlite" "select group_concat(event || '@' || cast(at as int), ' ') from alert_history"
	assert_output "renotify@1110 renotify@1210 renotify@1310 renotify@1410 renotify@1900"
	run -0 sqlite3 "$d/state/alerts.sqlite" "select cast(firing_since as int) from alert_state where name = 'high'"
	assert_output 1010                  # the episode itself is not history
	printf 'ALERT_HOOK=hook.sh\nALERT_RENOTIFY=100\nALERT_HISTORY_DAYS=0\n' >"$d/uvmake.conf"
	run -0 at 90000                     # 0 keeps everything
	run -0 sqlite3 "$d/state/alerts.sqlite" "select count(*) from alert_history"
	assert_output 6
}

@test "uvm-alert: bad and missing rules files are 65 and 66" {
	printf 'x test_metric >> 3 10 warning\n' >"$d/bad.conf"
	run -65 uvm-alert -D "$d" -r "$d/bad.conf"
	assert_output "uvm-alert: $d/bad.conf:1: bad rule (want: name metric op threshold duration level)"
	printf 'x test_metric > 3 10 loud\n' >"$d/bad.conf"
	run -65 uvm-alert -D "$d" -r "$d/bad.conf"
	run -66 uvm-alert -D "$d" -r "$d/none.conf"
	assert_output --partial "cannot open '$d/none.conf'"
}

@test "uvm-alert: fires once after the duration, re-notifies, resolves" {
	run -0 at 1000
	[ "$(sent)" -eq 0 ]                 # pending, duration not yet over
	run -0 at 1010
	[ "$(sent)" -eq 1 ]
	run -0 jq -r '[.name,.level,.state,.metric,.value,.threshold,.since,.op] | @tsv' "$d/notified.jsonl"
	assert_output "$(printf 'high\twarning\tfiring\ttest_metric\t5\t3\t1970-01-01T00:16:50Z\t>')"
	run -0 jq -e '.host | length > 0' "$d/notified.jsonl"
	run -0 at 1050
	[ "$(sent)" -eq 1 ]                 # no duplicate while active
	run -0 at 1110
	[ "$(sent)" -eq 2 ]                 # ALERT_RENOTIFY=100 after the first
	metric 1
	run -0 at 1120
	[ "$(sent)" -eq 3 ]
	run -0 jq -sr '.[2] | [.state, .value, .since] | @tsv' "$d/notified.jsonl"
	assert_output "$(printf 'resolved\t1\t1970-01-01T00:16:50Z')"
	run -0 at 1130
	[ "$(sent)" -eq 3 ]                 # resolved once
	run -0 sqlite3 "$d/state/alerts.sqlite" "select group_concat(event || '@' || cast(at as int), ' ') from alert_history"
	assert_output "firing@1010 renotify@1110 resolved@1120"
	run -0 sqlite3 "$d/state/alerts.sqlite" "select count(*) from alert_state"
	assert_output 0
	# A new episode waits for the duration again.
	metric 9
	run -0 at 2000
	[ "$(sent)" -eq 3 ]
	run -0 at 2010
	[ "$(sent)" -eq 4 ]
	no_temps "$d"
}

@test "uvm-alert: a condition that clears before the duration never fires" {
	run -0 at 1000
	metric 2
	run -0 at 1005
	metric 5
	run -0 at 1012                     # pending restarted at 1012
	[ "$(sent)" -eq 0 ]
	run -0 at 1022
	[ "$(sent)" -eq 1 ]
}

@test "uvm-alert: acknowledged alerts are not re-notified until resolved" {
	run -66 uvm-alert -D "$d" -a high
	assert_output "uvm-alert: no active alert 'high'"
	at 1000; at 1010
	[ "$(sent)" -eq 1 ]
	run -0 env UVM_ALERT_NOW=1020 uvm-alert -D "$d" -a high
	run -0 at 1200
	[ "$(sent)" -eq 1 ]
	run -0 at 1500
	[ "$(sent)" -eq 1 ]
	run -0 uvm-status -D "$d" -j
	run -0 jq -r '.alerts[0] | [.name, .acked] | @tsv' <<<"$output"
	assert_output "$(printf 'high\ttrue')"
	run -66 uvm-alert -D "$d" -a high     # already acknowledged
	metric 0
	run -0 at 1600
	[ "$(sent)" -eq 2 ]
	run -0 jq -sr '.[1].state' "$d/notified.jsonl"
	assert_output resolved
	# An episode of a rule removed from the file is dropped.
	metric 5
	at 1700; at 1710
	printf 'other test_metric > 100 0 info\n' >"$d/rules.conf"
	run -0 at 1720
	run -0 sqlite3 "$d/state/alerts.sqlite" "select (select count(*) from alert_state), (select event from alert_history order by id desc limit 1)"
	assert_output "0|removed"
}

@test "uvm-alert: a failing hook is 69 and the notification is retried" {
	printf '#!/bin/sh\ncat >/dev/null\nexit 3\n' >"$d/fail.sh"
	chmod +x "$d/fail.sh"
	sed -i 's/^ALERT_HOOK=.*/ALERT_HOOK=fail.sh/' "$d/uvmake.conf"
	printf 'now test_metric > 3 0 critical\n' >"$d/rules.conf"
	run -69 at 1000
	assert_output --partial "hook '$d/fail.sh' failed (status 3)"
	sed -i 's/^ALERT_HOOK=.*/ALERT_HOOK=hook.sh/' "$d/uvmake.conf"
	run -0 at 1001
	[ "$(sent)" -eq 1 ]
	run -0 jq -r '.name + " " + .state' "$d/notified.jsonl"
	assert_output "now firing"
	# A hook that does not exist also fails cleanly.
	sed -i 's/^ALERT_HOOK=.*/ALERT_HOOK=nope.sh/' "$d/uvmake.conf"
	metric 0
	run -69 at 1002
}

@test "uvm-alert: without a hook notifications go to stdout; -n changes nothing" {
	sed -i '/^ALERT_HOOK=/d' "$d/uvmake.conf"
	printf 'now test_metric > 3 0 error\n' >"$d/rules.conf"
	run -0 uvm-alert -D "$d" -r "$d/rules.conf" -n
	run -0 jq -r '.name + " " + .level + " " + .state' <<<"$output"
	assert_output "now error firing"
	[ ! -e "$d/state/alerts.sqlite" ]
	run -0 uvm-alert -D "$d" -r "$d/rules.conf"
	assert_output --partial '"state":"firing"'
	run -0 uvm-alert -D "$d" -r "$d/rules.conf"
	assert_output ""
}

@test "uvm-alert: absent metrics are not evaluated; label selectors match as written" {
	printf 'gone no_such_metric > 0 0 critical\ndead uvmake_targets{state="dead"} > 0 0 error\n' >"$d/rules.conf"
	sed -i '/^ALERT_HOOK=/d' "$d/uvmake.conf"
	uvm-metrics -D "$d" 2>/dev/null || true
	sqlite3 "$d/state/pipeline.sqlite" "insert into targets(target,grp,stage,state,updated) values
	 ('products/G3/vis.uvh5','G3','combine','dead',1),('products/G4/vis.uvh5','G4','combine','dead',1)"
	run -0 uvm-metrics -D "$d"
	run -0 uvm-alert -D "$d" -r "$d/rules.conf" -n
	run -0 jq -r '.name + " " + (.value|tostring)' <<<"$output"
	assert_output "dead 2"
}

@test "uvm-alert: derived metrics come from uvm-metrics' textfile (known values)" {
	sed -i '/^ALERT_HOOK=/d' "$d/uvmake.conf"
	rm "$d/state/uvmake.prom"
	uvm-metrics -D "$d" -o "$BATS_TEST_TMPDIR/schema.prom"   # creates the schema
	now=$(date +%s)
	sqlite3 "$d/state/pipeline.sqlite" "
	insert into jobs(target,grp,stage,command,started,ended,status,class,attempt) values
	 ('a','G1','verify','x',$now-100,$now-90,0,'ok',1),
	 ('b','G1','verify','x',$now-100,$now-90,65,'dataerr',1),
	 ('c','G1','image','x',$now-300,$now-250,0,'ok',1),
	 ('d','G1','image','x',$now-9000,$now-8000,74,'ioerr',1);
	insert into targets(target,grp,stage,state,attempts,updated) values
	 ('b','G1','verify','retry',4,1),('a','G1','verify','ok',9,1);
	insert into groups(grp,first_seen,nsub,state,updated) values
	 ('G1',1,16,'ready',1),('G2',1,16,'partial',1),('G3',1,16,'done',1)"
	cat >"$d/rules.conf" <<-EOF
	ratio uvmake_failure_ratio_1h > 0 0 info
	img uvmake_image_last_success_age_seconds > 0 0 info
	att uvmake_target_attempts_max > 3 0 warning
	queue uvmake_queue_depth > 1 0 info
	watch uvmake_watch_up == 0 0 critical
	cal uvmake_calibration_age_seconds > 0 0 critical
	EOF
	# Without the textfile nothing is evaluable: uvm-alert reads only it.
	run -0 env UVM_ALERT_NOW=$now uvm-alert -D "$d" -r "$d/rules.conf" -n
	assert_output ""
	run -0 uvm-metrics -D "$d"
	run -0 env UVM_ALERT_NOW=$now uvm-alert -D "$d" -r "$d/rules.conf" -n
	run -0 jq -r '.name + " " + (if .name == "img" then (.value|floor|tostring) else (.value|tostring) end)' <<<"$output"
	assert_line -n 0 'ratio 0.3333333333333333'
	assert_line -n 1 --regexp '^img 25[0-9]$'
	assert_line -n 2 'att 4'
	assert_line -n 3 'queue 2'
	assert_line -n 4 'watch 0'
	[ "${#lines[@]}" -eq 5 ]
	# The watcher's pid alive: uvmake_watch_up is 1 once uvm-metrics has run.
	printf '{"pid": %d}\n' $$ >"$d/state/watch.json"
	run -0 env UVM_ALERT_NOW=$now uvm-alert -D "$d" -r "$d/rules.conf" -n
	assert_output --partial '"name":"watch"'
	uvm-metrics -D "$d"
	run -0 env UVM_ALERT_NOW=$now uvm-alert -D "$d" -r "$d/rules.conf" -n
	refute_output --partial '"name":"watch"'
}

@test "uvm-alert: the shipped rules parse and evaluate" {
	sed -i '/^ALERT_HOOK=/d' "$d/uvmake.conf"
	run -0 uvm-alert -D "$d" -r "$UVM_ROOT/ops/alerts.conf" -n
	run -0 uvm-alert -D "$d" -n            # default rules found beside bin/
	run -0 uvm-alert -D "$d"
	[ -f "$d/state/alerts.sqlite" ]
}

@test "uvm-alert: a held lock is 76; a full stdout is 74" {
	command -v flock >/dev/null || skip "flock(1) not installed"
	run -76 flock -n "$d/state/alert.lock" uvm-alert -D "$d" -r "$d/rules.conf"
	assert_output --partial "another uvm-alert is running"
	sed -i '/^ALERT_HOOK=/d' "$d/uvmake.conf"
	printf 'now test_metric > 3 0 error\n' >"$d/rules.conf"
	run -74 sh -c "uvm-alert -D '$d' -r '$d/rules.conf' -n >/dev/full"
}

@test "uvm-alert: the example hooks refuse to run unconfigured" {
	run -69 env -u ALERT_WEBHOOK_URL "$UVM_ROOT/ops/hooks/webhook.sh" </dev/null
	assert_output --partial "ALERT_WEBHOOK_URL is not set"
	run -69 env -u ALERT_MAIL_TO "$UVM_ROOT/ops/hooks/mail.sh" </dev/null
	assert_output --partial "ALERT_MAIL_TO is not set"
}

# ---- Each shipped rule fires and resolves on a condition made for real ----
# The metric values come from uvm-metrics (real clock); the alert clock T
# (UVM_ALERT_NOW) steps over each rule's duration.

shipped_setup() {
	R=$UVM_ROOT/ops/alerts.conf
	s=$BATS_TEST_TMPDIR/s
	mkdir -p "$s"
	T=1000000000
	now=$(date +%s)
}

# A deployment at $s (after any mounts the test makes inside it).
shipped_init() {
	uvm-init "$s" >/dev/null
	# wrapper failures defer at once instead of retrying inline
	sed -i '/^RETRY_INLINE_MAX=/d' "$s/uvmake.conf"
	echo RETRY_INLINE_MAX=0 >>"$s/uvmake.conf"
	uvm-metrics -D "$s" -o "$BATS_TEST_TMPDIR/schema.prom"      # the schema
}

rule_field() { awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$R"; }
# step N: the clock moves N s; uvm-metrics then uvm-alert run.
step() {
	T=$((T + $1))
	uvm-metrics -D "$s"
	UVM_ALERT_NOW=$T uvm-alert -D "$s" -r "$R" >/dev/null
}
firing() { sqlite3 "$s/state/alerts.sqlite" "select level from alert_state where name = '$1' and firing_since is not null"; }

# expect_fire RULE...: not firing before its duration (when it has one),
# firing with the rule's level after it.
expect_fire() {
	local r x max=0
	for r; do
		x=$(rule_field "$r" 5)
		[ -n "$x" ] || { echo "no rule $r" >&2; return 1; }
		[ "$x" -gt "$max" ] && max=$x
	done
	step 0
	for r; do
		if [ "$(rule_field "$r" 5)" -gt 0 ] && [ -n "$(firing "$r")" ]; then
			echo "$r fired before its duration" >&2
			return 1
		fi
	done
	step "$max"
	for r; do
		x=$(firing "$r")
		[ "$x" = "$(rule_field "$r" 6)" ] || { echo "$r: '$x', want $(rule_field "$r" 6)" >&2; return 1; }
	done
}
expect_quiet() {
	local r
	for r; do [ -z "$(firing "$r")" ] || { echo "$r is firing" >&2; return 1; }; done
}
# expect_resolved RULE...: after one more cycle, not firing and one
# "resolved" event in the history.
expect_resolved() {
	local r
	step 1
	expect_quiet "$@"
	for r; do
		[ "$(sqlite3 "$s/state/alerts.sqlite" "select count(*) from alert_history where name = '$r' and event = 'resolved'")" -eq 1 ] ||
			{ echo "$r: no resolved event" >&2; return 1; }
	done
}

@test "uvm-alert: shipped rules: calibration stale 3 h warning, 6 h critical, then resolved" {
	shipped_setup
	shipped_init
	cal() {
		sqlite3 "$s/state/calibration.sqlite" "
		create table if not exists caltables (path TEXT, grp TEXT UNIQUE, calibrator TEXT,
		 transit_mjd REAL, mjd_start REAL, mjd_end REAL, created REAL, status TEXT, reason TEXT DEFAULT '');
		delete from caltables;
		insert into caltables values ('caltables/C1.cal.h5','C1','3C48',0,
		 ($now+$1)/86400.0+40587, ($now+$2)/86400.0+40587, $now, 'good', '')"
	}
	cal -30000 -14400                  # validity ended 4 h ago
	expect_fire calibration_stale_warning
	expect_quiet calibration_stale_critical
	cal -40000 -25200                  # 7 h ago
	expect_fire calibration_stale_critical
	cal -3600 3600                     # a new table valid now
	expect_resolved calibration_stale_warning calibration_stale_critical
}

@test "uvm-alert: shipped rules: failure rate over 10% warning, over 20% critical, then resolved" {
	shipped_setup
	shipped_init
	for i in 1 2 3 4 5 6 7 8; do
		sqlite3 "$s/state/pipeline.sqlite" "insert into jobs(target,grp,stage,command,started,ended,status,class,attempt)
		 values ('products/G0/sb0$i.ok','G0','verify','x',$now-60,$now-50,0,'ok',1)"
	done
	# real failing jobs through the wrapper (75: deferred at once, no retry sleep)
	uvm-run -D "$s" -s verify -t products/G1/sb00.ok -- sh -c 'exit 75' 2>/dev/null || true
	expect_fire failure_rate_warning     # 1 of 9: 11%
	expect_quiet failure_rate_critical
	uvm-run -D "$s" -s combine -t products/G1/vis.uvh5 -- sh -c 'exit 75' 2>/dev/null || true
	uvm-run -D "$s" -s image -t products/G1/image.fits -- sh -c 'exit 75' 2>/dev/null || true
	[ "$(sqlite3 "$s/state/pipeline.sqlite" "select count(*) from jobs where status = 75")" -eq 3 ]   # one record each
	expect_fire failure_rate_critical    # 3 of 11: 27%
	# an hour later the failures are out of the window
	sqlite3 "$s/state/pipeline.sqlite" "update jobs set started = started - 7200, ended = ended - 7200 where status != 0"
	expect_resolved failure_rate_warning failure_rate_critical
}

@test "uvm-alert: shipped rules: free disk below the thresholds, then resolved" {
	shipped_setup
	for x in incoming products state; do
		tiny_fs "$s/$x" 65536 || skip "cannot mount a tmpfs here"
	done
	shipped_init
	expect_fire disk_products_critical disk_products_warning disk_incoming_critical disk_incoming_warning disk_state_critical
	for x in incoming products state; do mount -o remount,size=200g "$s/$x"; done
	expect_resolved disk_products_critical disk_products_warning disk_incoming_critical disk_incoming_warning disk_state_critical
}

@test "uvm-alert: shipped rules: queue depth, full staging tmpfs, retries, dead targets, stalled images, watcher down; then resolved" {
	# independent conditions, driven together to keep the test short
	shipped_setup
	shipped_init
	groups() {
		sqlite3 "$s/state/pipeline.sqlite" "with recursive n(i) as (select 1 union all select i + 1 from n where i < $1)
		 insert or replace into groups(grp,first_seen,nsub,state,updated) select printf('20260101T%06d', i), $now, 16, 'waiting', $now from n"
	}
	groups 51                                            # queue over 50
	tiny_fs "$s/staging" 1024 || skip "cannot mount a tmpfs here"
	echo "STAGING_DIR=$s/staging" >>"$s/uvmake.conf"
	head -c 1000000 /dev/zero >"$s/staging/fill"         # 250 of 256 blocks
	sqlite3 "$s/state/pipeline.sqlite" "
	insert into targets(target,grp,stage,state,attempts,updated) values
	 ('products/G1/vis.uvh5','G1','combine','retry',4,$now),('products/G2/vis.uvh5','G2','combine','dead',3,$now);
	insert into jobs(target,grp,stage,command,started,ended,status,class,attempt)
	 values ('products/G1/image.fits','G1','image','x',$now-760,$now-700,0,'ok',1)"
	sh -c 'exit 0' & gone=$!; wait $gone
	printf '{"pid": %d, "overflows": 0}\n' "$gone" >"$s/state/watch.json"
	expect_fire queue_depth_warning tmpfs_full group_retries dead_targets image_stalled watcher_down
	expect_quiet queue_depth_critical
	groups 101
	expect_fire queue_depth_critical
	# every condition cleared
	sqlite3 "$s/state/pipeline.sqlite" "update groups set state = 'done'; update targets set state = 'ok';
	 insert into jobs(target,grp,stage,command,started,ended,status,class,attempt)
	 values ('products/G2/image.fits','G2','image','x',$now-30,$now-5,0,'ok',1)"
	rm "$s/staging/fill"
	printf '{"pid": %d, "overflows": 0}\n' $$ >"$s/state/watch.json"
	expect_resolved queue_depth_warning queue_depth_critical tmpfs_full group_retries dead_targets image_stalled watcher_down
}

@test "uvm-alert: shipped rules: the state database emptied (history lost) is critical; restored, resolved" {
	shipped_setup
	shipped_init
	[ -f "$s/state/pipeline.sqlite.history" ]
	sqlite3 "$s/state/pipeline.sqlite" "pragma wal_checkpoint(truncate)" >/dev/null
	cp "$s/state/pipeline.sqlite" "$BATS_TEST_TMPDIR/backup.sqlite"
	: >"$s/state/pipeline.sqlite"
	expect_fire database_bad
	grep -qx "uvmake_database_ok 0" "$s/state/uvmake.prom"
	cp "$BATS_TEST_TMPDIR/backup.sqlite" "$s/state/pipeline.sqlite"
	expect_resolved database_bad
}

@test "uvm-alert: every shipped rule has a fire-and-resolve test above" {
	run -0 awk '!/^#/ && NF { print $1 }' "$UVM_ROOT/ops/alerts.conf"
	for r in "${lines[@]}"; do
		grep -q "expect_fire.*\b$r\b" "$BATS_TEST_FILENAME" || { echo "no test fires $r" >&2; return 1; }
		grep -q "expect_resolved.*\b$r\b" "$BATS_TEST_FILENAME" || { echo "no test resolves $r" >&2; return 1; }
	done
}
