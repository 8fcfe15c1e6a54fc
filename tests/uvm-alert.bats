#!/usr/bin/env bats
# uvm-alert: rules over the metrics, one notification per episode, re-notify,
# resolve, acknowledge, hook input, derived metrics, lock and exit statuses.

load test_helper

setup() {
	d=$BATS_TEST_TMPDIR/d
	mkdir -p "$d/state"                  # a deployment as uvm-alert needs it
	# A hook that appends its stdin (one JSON object) to a file.
	cat >"$d/hook.sh" <<-'EOS'
	#!/bin/sh
	cat >>"$(dirname "$0")/notified.jsonl"
	EOS
	chmod +x "$d/hook.sh"
	printf 'ALERT_HOOK=hook.sh\nALERT_RENOTIFY=100\n' >"$d/uvmake.conf"
	printf 'high test_metric > 3 10 warning\n' >"$d/rules.conf"
	metric 5
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

@test "uvm-alert: derived metrics from the job records (known values)" {
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
	run -0 env UVM_ALERT_NOW=$now uvm-alert -D "$d" -r "$d/rules.conf" -n
	run -0 jq -r '.name + " " + (.value|tostring)' <<<"$output"
	assert_output "$(printf 'ratio 0.3333333333333333\nimg 250\natt 4\nqueue 2\nwatch 0')"
	# The watcher's pid alive: uvmake_watch_up is 1.
	printf '{"pid": %d}\n' $$ >"$d/state/watch.json"
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
