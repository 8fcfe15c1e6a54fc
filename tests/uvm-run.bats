#!/usr/bin/env bats
# uvm-run: the recipe wrapper. Records, classifies, retries (in place and
# deferred), dead-letters, quarantines, breaks circuits, times out whole
# process groups, checks the disk, logs stamped lines, and survives
# make -j16 without "database is locked".
#
# Jobs are tiny shell scripts that exit with a given sequence of statuses
# (a counter file says how often they ran), so every assertion is about
# what the wrapper did: exit status, rows in the database, files moved.

bats_require_minimum_version 1.5.0
load test_helper

G=20251024T120003
T=products/$G/sb00.ok
IN=incoming/2025-10-24T12:00:03_sb00.hdf5
USAGE='usage: uvm-run [-D home] -s stage -t target [-g group] [-i input]... [-T timeout] -- command [arg...]'

setup() {
	D=$BATS_TEST_TMPDIR/d
	mkdir -p "$D"/incoming "$D"/products "$D"/caltables "$D"/mosaics "$D"/quarantine \
		"$D"/state "$D"/logs
	# fast policy: retries in place after 0.05..0.2 s, deferral beyond 0.5 s
	cat >"$D/uvmake.conf" <<-CONF
	RETRY_MAX=4
	RETRY_BASE=0.05
	RETRY_CAP=1
	RETRY_INLINE_MAX=0.5
	RETRY_UNAVAILABLE_BASE=100
	TIMEOUT=30
	KILL_GRACE=1
	BREAKER_FAILS=100
	BREAKER_COOLDOWN=30
	DISK_MARGIN_MB=0
	CONF
	# seq.sh COUNTER TARGET STATUS...: exit with the Nth status on the Nth
	# run (the last one from then on); status 0 creates TARGET
	J=$BATS_TEST_TMPDIR/seq.sh
	cp "$BATS_TEST_DIRNAME/fixtures/run-seq.sh" "$J"
	chmod +x "$J"
	C=$BATS_TEST_TMPDIR/count
	cd "$D"
}

teardown() {
	cd /
	for m in "$D/products" "$D/quarantine"; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	return 0
}

conf() { printf '%s\n' "$@" >>"$D/uvmake.conf"; }
sql() { sqlite3 "$D/state/pipeline.sqlite" "$@"; }
runs() { cat "$C" 2>/dev/null || echo 0; }
wrap() { uvm-run -D "$D" -s verify -t "$T" "$@"; }

@test "uvm-run: usage" {
	run -0 uvm-run --help
	assert_output "$USAGE"
	run -64 uvm-run
	assert_output "$USAGE"
	run -64 uvm-run -D "$D" -t "$T" -- true
	run -64 uvm-run -D "$D" -s verify -- true
	run -64 uvm-run -D "$D" -s verify -t "$T"
	run -64 uvm-run -D "$D" -s verify -t "$T" -T soon -- true
	run -64 uvm-run -D "$D" -s ../x -t "$T" -- true
	assert_output --partial "invalid stage name '../x'"
	run -64 uvm-run -D "$D" -s verify -g 'a/b' -t "$T" -- true
	run -66 uvm-run -D "$BATS_TEST_TMPDIR" -s verify -t x -- true
	assert_output --partial "no state directory"
}

@test "uvm-run: success is recorded with command, pid, rusage and times" {
	# known answers: ~64 MiB resident and ~0.3 s of CPU
	run -0 wrap -i "$IN" -- python3 -c "
import time, sys
b = bytearray(64 << 20)
for i in range(0, len(b), 4096): b[i] = 1
t = time.process_time()
while time.process_time() - t < 0.3: pass
open(sys.argv[1], 'w').close()" "$T"
	[ -f "$T" ]
	run sql "select target, grp, stage, class, status, attempt, signal is null, ended >= started,
		maxrss_kb >= 65536, cpu_s >= 0.25, pid > 0, log from jobs"
	assert_output "$T|$G|verify|ok|0|1|1|1|1|1|1|logs/$G/verify.log"
	run sql "select command from jobs"
	assert_output --partial "python3 -c \$'"
	run sql "select state, attempts, last_class from targets where target = '$T'"
	assert_output "ok|0|ok"
	# an idempotent re-run: same record shape, state still ok
	run -0 wrap -- "$J" "$C" "$T" 0
	run sql "select count(*), sum(class = 'ok') from jobs"
	assert_output "2|2"
}

@test "uvm-run: 75 is retried in place with backoff, then succeeds" {
	run -0 wrap -- "$J" "$C" "$T" 75 75 0
	[ "$(runs)" -eq 3 ]
	run sql "select group_concat(class || ':' || attempt, ' ') from (select * from jobs order by id)"
	assert_output "tempfail:1 tempfail:2 ok:3"
	# the gaps are the backoff: >= base/2, then >= base
	run sql "select (select started from jobs where id = 2) - (select ended from jobs where id = 1) >= 0.02"
	assert_output 1
	grep -q "retrying in" "logs/$G/verify.log"
	run sql "select state, attempts from targets"
	assert_output "ok|0"
}

@test "uvm-run: 74 and 73 are retried in place; 74 is flagged for alert" {
	run -0 wrap -- "$J" "$C" "$T" 74 0
	run sql "select group_concat(class || ':' || alert, ' ') from (select * from jobs order by id)"
	assert_output "ioerr:1 ok:0"
	rm -f "$C" "$T"
	run -0 uvm-run -D "$D" -s verify -t products/$G/sb01.ok -- "$J" "$C" products/$G/sb01.ok 73 0
	run sql "select group_concat(class, ' ') from (select * from jobs where target like '%sb01.ok' order by id)"
	assert_output "cantcreat ok"
}

@test "uvm-run: a long backoff defers; deferred runs exit 75 at once; later it runs" {
	conf RETRY_BASE=30 RETRY_CAP=3600
	run -75 wrap -- "$J" "$C" "$T" 75 0
	assert_output --partial "deferred until"
	[ "$(runs)" -eq 1 ]
	run sql "select state, attempts, next_attempt_at - updated between 15 and 30 from targets"
	assert_output "deferred|1|1"
	# next make run: not executed, one line, fast
	run -75 wrap -- "$J" "$C" "$T" 75 0
	[ "$(runs)" -eq 1 ]
	assert_output --regexp "'$T' deferred until [0-9T:-]+Z \(class tempfail\)$"
	[ "${#lines[@]}" -eq 1 ]
	run sql "select count(*) from jobs"
	assert_output 1
	# time passes
	sql "update targets set next_attempt_at = 1"
	run -0 wrap -- "$J" "$C" "$T" 75 0
	[ "$(runs)" -eq 2 ]
	run sql "select group_concat(class || ':' || attempt, ' ') from (select * from jobs order by id)"
	assert_output "tempfail:1 ok:2"
}

@test "uvm-run: 66 is deferred (inputs may still arrive)" {
	conf RETRY_BASE=30 RETRY_CAP=3600
	run -66 wrap -- "$J" "$C" "$T" 66 0
	run sql "select state, last_class, last_status, next_attempt_at > updated from targets"
	assert_output "deferred|noinput|66|1"
	run -75 wrap -- "$J" "$C" "$T" 66 0
	[ "$(runs)" -eq 1 ]
}

@test "uvm-run: 69 is deferred with the long backoff" {
	run -69 wrap -- "$J" "$C" "$T" 69 0
	run sql "select state, last_class, next_attempt_at - updated between 50 and 100 from targets"
	assert_output "deferred|unavailable|1"
	run -75 wrap -- "$J" "$C" "$T" 69 0
	[ "$(runs)" -eq 1 ]
}

@test "uvm-run: 64 and 70 are dead at once; 70 alerts; dead targets fail fast" {
	run -64 wrap -- "$J" "$C" "$T" 64 0
	[ "$(runs)" -eq 1 ]
	run sql "select state, attempts, last_class from targets"
	assert_output "dead|1|usage"
	run -64 wrap -- "$J" "$C" "$T" 64 0
	assert_output --partial "is dead-lettered (class usage after 1 attempt): release it with uvm-retry"
	[ "$(runs)" -eq 1 ]
	rm -f "$C"
	run -70 uvm-run -D "$D" -s verify -t products/$G/sb01.ok -- "$J" "$C" x 70 0
	run sql "select class, alert from jobs where target like '%sb01.ok'"
	assert_output "software|1"
	run sql "select state from targets where target like '%sb01.ok'"
	assert_output "dead"
}

@test "uvm-run: dead-letter after RETRY_MAX attempts; uvm-retry releases it" {
	conf RETRY_MAX=3
	run -75 wrap -- "$J" "$C" "$T" 75 75 75 0
	[ "$(runs)" -eq 3 ]
	assert_output --partial "attempt 3/3"
	assert_output --partial "dead-lettered: release it with uvm-retry"
	run sql "select state, attempts, last_class, last_status from targets"
	assert_output "dead|3|tempfail|75"
	run -75 wrap -- "$J" "$C" "$T" 75 75 75 0
	assert_output --partial "is dead-lettered"
	[ "$(runs)" -eq 3 ]
	run -0 uvm-retry -D "$D" "$T"
	assert_output "released '$T' (was dead, class tempfail, 3 attempts)"
	run -0 wrap -- "$J" "$C" "$T" 75 75 75 0
	[ "$(runs)" -eq 4 ]
	run sql "select attempt from jobs order by id desc limit 1"
	assert_output 1
}

@test "uvm-run: 65 quarantines the input with a reason, never retries" {
	echo data >"$IN"
	cp "$BATS_TEST_DIRNAME/fixtures/run-bad.sh" "$BATS_TEST_TMPDIR/bad.sh"
	chmod +x "$BATS_TEST_TMPDIR/bad.sh"
	run -65 wrap -i "$IN" -- "$BATS_TEST_TMPDIR/bad.sh" "$C" "$IN"
	assert_output --partial "1 input quarantined (quarantine/2025-10-24T12:00:03_sb00.hdf5)"
	[ "$(wc -l <"$C")" -eq 1 ]
	[ ! -e "$IN" ]
	[ "$(cat quarantine/2025-10-24T12:00:03_sb00.hdf5)" = data ]
	r=quarantine/2025-10-24T12:00:03_sb00.hdf5.reason
	grep -qE '^time: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "$r"
	grep -qx "target: $T" "$r"
	grep -qx "stage: verify" "$r"
	grep -qx "status: 65" "$r"
	grep -qx "reason: uvm-verify: '$IN': bad UVH5 header" "$r"
	grep -qx "input: $IN" "$r"
	run sql "select path, original, target, released is null from quarantine"
	assert_output "quarantine/2025-10-24T12:00:03_sb00.hdf5|$IN|$T|1"
	run sql "select state, last_class from targets"
	assert_output "quarantined|dataerr"
	# re-run while the input is in quarantine: fails fast, runs nothing
	run -65 wrap -i "$IN" -- "$BATS_TEST_TMPDIR/bad.sh" "$C" "$IN"
	assert_output --partial "is in quarantine"
	[ "$(wc -l <"$C")" -eq 1 ]
	# the same name again (a re-sent file) is new data: it runs, and the
	# clash gets a numeric suffix
	echo again >"$IN"
	run -65 wrap -i "$IN" -- "$BATS_TEST_TMPDIR/bad.sh" "$C" "$IN"
	[ "$(cat quarantine/2025-10-24T12:00:03_sb00.hdf5.1)" = again ]
	[ -f quarantine/2025-10-24T12:00:03_sb00.hdf5.1.reason ]
	no_temps "$D"
}

@test "uvm-run: 65 with a blame file quarantines only the blamed input" {
	a=incoming/2025-10-24T12:00:03_sb00.hdf5 b=incoming/2025-10-24T12:00:05_sb01.hdf5
	echo a >"$a"; echo b >"$b"
	run -65 uvm-run -D "$D" -s combine -t products/$G/vis.uvh5 -i "$a" -i "$b" -- \
		sh -c 'echo "$1" >"$UVM_BLAME_FILE"; exit 65' sh "$b"
	[ -f "$a" ]
	[ ! -e "$b" ]
	[ -f quarantine/2025-10-24T12:00:05_sb01.hdf5 ]
	[ ! -e quarantine/2025-10-24T12:00:03_sb00.hdf5 ]
	[ -z "$(ls state | grep blame)" ]
	# blaming something that is not an input is ignored: all inputs go
	run -65 uvm-run -D "$D" -s combine -t products/$G/cal.uvh5 -i "$a" -- \
		sh -c 'echo /etc/hostname >"$UVM_BLAME_FILE"; exit 65'
	assert_output --partial "ignoring blamed path '/etc/hostname'"
	[ -f /etc/hostname ]
	[ ! -e "$a" ]
}

@test "uvm-run: quarantine refuses symlinks and paths outside the deployment" {
	echo secret >"$BATS_TEST_TMPDIR/outside"
	ln -s "$BATS_TEST_TMPDIR/outside" "$IN"
	run -65 wrap -i "$IN" -- sh -c 'exit 65'
	assert_output --partial "refusing to quarantine '$IN': not a regular file"
	assert_output --partial "dead-lettered"
	[ -L "$IN" ]
	run -65 uvm-run -D "$D" -s verify -t products/$G/sb02.ok -i "$BATS_TEST_TMPDIR/outside" -- sh -c 'exit 65'
	assert_output --partial "not under the deployment's incoming"
	[ -f "$BATS_TEST_TMPDIR/outside" ]
	run sql "select count(*) from quarantine"
	assert_output 0
}

@test "uvm-run: quarantine across file systems copies, syncs, unlinks; a full one leaves no temp" {
	tiny_fs "$D/quarantine" 256 || skip "cannot mount tmpfs"
	echo small >"$IN"
	run -65 wrap -i "$IN" -- sh -c 'exit 65'
	[ ! -e "$IN" ]
	[ "$(cat quarantine/2025-10-24T12:00:03_sb00.hdf5)" = small ]
	big=incoming/2025-10-24T12:00:04_sb01.hdf5
	head -c 400000 /dev/urandom >"$big"
	run -65 uvm-run -D "$D" -s verify -t products/$G/sb01.ok -i "$big" -- sh -c 'exit 65'
	assert_output --partial "No space left on device"
	[ "$(stat -c %s "$big")" -eq 400000 ]
	no_temps "$D/quarantine"
	run sql "select state from targets where target like '%sb01.ok'"
	assert_output dead
}

@test "uvm-run: circuit breaker closed -> open -> half-open -> closed, and half-open -> open" {
	conf BREAKER_FAILS=2 RETRY_INLINE_MAX=0
	run -75 uvm-run -D "$D" -s image -t products/$G/a -- sh -c 'exit 75'
	run -70 uvm-run -D "$D" -s image -t products/$G/b -- sh -c 'exit 70'
	run sql "select state, fails from breakers where stage = 'image'"
	assert_output "open|2"
	# open: fails fast, runs nothing, recorded as class breaker
	run -75 uvm-run -D "$D" -s image -t products/$G/c -- "$J" "$C" products/$G/c 0
	assert_output --partial "circuit breaker of stage 'image' open until"
	[ "$(runs)" -eq 0 ]
	run sql "select class, status from jobs where target like '%/c'"
	assert_output "breaker|75"
	# refused again (a watcher's every cycle): the same row, kept current,
	# not a row per refusal
	first=$(sql "select id || ' ' || started from jobs where target like '%/c'")
	run -75 uvm-run -D "$D" -s image -t products/$G/c -- "$J" "$C" products/$G/c 0
	run -75 uvm-run -D "$D" -s image -t products/$G/c -- "$J" "$C" products/$G/c 0
	run sql "select count(*), id, started > ${first#* } from jobs where target like '%/c'"
	assert_output "1|${first%% *}|1"
	# other stages are not affected
	run -0 wrap -- "$J" "$BATS_TEST_TMPDIR/other" "$T" 0
	# a live trial holds the half-open state; a dead one's claim is freed
	sql "update breakers set state = 'half-open', trial_pid = $$"
	run -75 uvm-run -D "$D" -s image -t products/$G/c -- "$J" "$C" products/$G/c 0
	assert_output --partial "half-open"
	dead=$(sh -c 'echo $$')
	sql "update breakers set state = 'open', trial_pid = null"
	# cooldown passes: exactly one trial; it succeeds and closes
	sql "update breakers set opened_at = opened_at - 31"
	run -0 uvm-run -D "$D" -s image -t products/$G/c -- "$J" "$C" products/$G/c 0
	[ "$(runs)" -eq 1 ]
	run sql "select state, fails, trial_pid is null from breakers where stage = 'image'"
	assert_output "closed|0|1"
	# open it again; a failing trial re-opens it with a fresh cooldown
	run -75 uvm-run -D "$D" -s image -t products/$G/d -- sh -c 'exit 75'
	run -75 uvm-run -D "$D" -s image -t products/$G/e -- sh -c 'exit 75'
	sql "update breakers set opened_at = opened_at - 31"
	sql "update breakers set state = 'half-open', trial_pid = $dead"
	run -75 uvm-run -D "$D" -s image -t products/$G/f -- sh -c 'exit 75'
	run sql "select state, trial_pid is null, opened_at > strftime('%s','now') - 5 from breakers where stage = 'image'"
	assert_output "open|1|1"
	run -75 uvm-run -D "$D" -s image -t products/$G/g -- "$J" "$C" products/$G/g 0
	[ "$(runs)" -eq 1 ]
	# 65/66/69 say nothing about the stage
	run -66 uvm-run -D "$D" -s qa -t products/$G/q1 -- sh -c 'exit 66'
	run -66 uvm-run -D "$D" -s qa -t products/$G/q2 -- sh -c 'exit 66'
	run -66 uvm-run -D "$D" -s qa -t products/$G/q3 -- sh -c 'exit 66'
	run sql "select count(*) from breakers where stage = 'qa' and state != 'closed'"
	assert_output 0
}

@test "uvm-run: timeout kills the whole process group (TERM); a job ignoring TERM gets KILL" {
	conf RETRY_MAX=1
	run -75 wrap -T 0.5 -- sh -c 'sleep 300 & echo $! >child.pid; echo $$ >sh.pid; wait'
	assert_output --partial "class timeout, timeout after 0.5 s"
	sleep 0.1
	! kill -0 "$(cat child.pid)" 2>/dev/null || false
	! kill -0 "$(cat sh.pid)" 2>/dev/null || false
	grep -q "sent TERM to the job's process group" "logs/$G/verify.log"
	! grep -q "sent KILL" "logs/$G/verify.log" || false
	run sql "select class, signal from jobs"
	assert_output "timeout|15"

	t0=$(date +%s.%N)
	run -75 uvm-run -D "$D" -s verify -t products/$G/sb01.ok -T 0.3 -- \
		sh -c 'trap "" TERM; sleep 300 & echo $! >c2.pid; wait; wait'
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 1.2 && b - a < 10) }'
	grep -q "sent KILL to the job's process group" "logs/$G/verify.log"
	sleep 0.1
	! kill -0 "$(cat c2.pid)" 2>/dev/null || false
	run sql "select class, signal from jobs where target like '%sb01.ok'"
	assert_output "timeout|9"
	# the per-stage key applies too
	conf TIMEOUT_slow=0.2
	run -75 uvm-run -D "$D" -s slow -t products/$G/s -- sleep 300
	assert_output --partial "timeout after 0.2 s"
}

@test "uvm-run: processes a finished job leaves behind are killed" {
	run -0 wrap -- sh -c 'sleep 300 & echo $! >left.pid; : >"$UVM_TARGET"'
	sleep 0.1
	! kill -0 "$(cat left.pid)" 2>/dev/null || false
	grep -q "killed processes the job left running" "logs/$G/verify.log"
}

@test "uvm-run: SIGTERM to the wrapper reaches the job's group; recorded as interrupted" {
	uvm-run -D "$D" -s verify -t "$T" -- sh -c 'echo $$ >job.pid; sleep 300 & wait' &
	w=$!
	for i in $(seq 1 100); do [ -s job.pid ] && break; sleep 0.05; done
	sleep 0.2
	kill -TERM $w
	st=0; wait $w || st=$?
	[ $st -eq 75 ]
	! kill -0 "$(cat job.pid)" 2>/dev/null || false
	run sql "select class from jobs"
	assert_output interrupted
	run sql "select state, attempts from targets"
	assert_output "retry|0"
}

@test "uvm-run: a SIGKILLed wrapper takes its job along; the record is closed as lost" {
	uvm-run -D "$D" -s verify -t "$T" -- sh -c 'echo $$ >job.pid; exec sleep 300' &
	w=$!
	for i in $(seq 1 100); do [ -s job.pid ] && [ "$(sql 'select count(*) from jobs')" = 1 ] && break; sleep 0.05; done
	kill -KILL $w
	wait $w || true
	for i in $(seq 1 40); do kill -0 "$(cat job.pid)" 2>/dev/null || break; sleep 0.05; done
	! kill -0 "$(cat job.pid)" 2>/dev/null || false
	run sql "select state from targets"
	assert_output running
	run -0 wrap -- "$J" "$C" "$T" 0
	assert_output --partial "as lost"
	run sql "select group_concat(class || ':' || attempt, ' ') from (select * from jobs order by id)"
	assert_output "lost:1 ok:1"
}

@test "uvm-run: disk preflight refuses a job on a nearly full file system" {
	tiny_fs "$D/products" 1024 || skip "cannot mount tmpfs"
	conf DISK_MARGIN_MB=2 RETRY_BASE=30 RETRY_CAP=3600
	run -74 wrap -- "$J" "$C" "$T" 0
	assert_output --regexp "not started: [01] MB free on 'products/$G', DISK_MARGIN_MB is 2; deferred until"
	[ "$(runs)" -eq 0 ]
	[ -d "products/$G" ]
	run sql "select class, status from jobs"
	assert_output "disk|74"
	run sql "select state, attempts, defers, next_attempt_at > updated from targets"
	assert_output "deferred|0|1|1"
	# space is back (margin lowered), the deferral passes: it runs as attempt 1
	conf DISK_MARGIN_MB=0
	sql "update targets set next_attempt_at = 1"
	run -0 wrap -- "$J" "$C" "$T" 0
	run sql "select attempt from jobs where class = 'ok'"
	assert_output 1
}

@test "uvm-run: job log lines are stamped with time and group; no group: logs/<stage>.log" {
	run -0 wrap -- sh -c 'echo plain out; echo plain err >&2; : >"$UVM_TARGET"'
	l=logs/$G/verify.log
	[ "$(wc -l <"$l")" -eq 4 ]
	run grep -cvE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z [a-z-]+\[$G\]: " "$l"
	assert_output 0
	grep -qE "uvm-run\[$G\]: start attempt 1: sh -c " "$l"
	grep -qE "sh\[$G\]: plain err$" "$l"
	grep -qE "uvm-run\[$G\]: end: status 0 class ok rss [0-9]+ KB cpu [0-9.]+ s$" "$l"
	# the job sees its environment
	run -0 uvm-run -D "$D" -s mosaic -t mosaics/2025102412.fits -- sh -c \
		'echo "home=$UVM_HOME group=${UVM_GROUP-unset} stage=$UVM_STAGE target=$UVM_TARGET time=$UVM_LOG_TIME"'
	grep -q "home=$D group=unset stage=mosaic target=mosaics/2025102412.fits time=1" logs/mosaic.log
	run grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z [a-z-]+: ' logs/mosaic.log
	assert_output 0
}

@test "uvm-run: hostile names are plain paths, never seen by a shell" {
	h1="incoming/a b.hdf5" h2='incoming/$(touch pwned).hdf5' h3='incoming/x;touch pwned2.hdf5'
	h4="incoming/new
line.hdf5"
	for f in "$h1" "$h2" "$h3" "$h4"; do echo "$f" >"$f"; done
	run -0 wrap -i "$h1" -i "$h2" -i "$h3" -i "$h4" -- \
		python3 -c 'import sys; open(sys.argv[1], "w").write("\0".join(sys.argv[2:]))' "$T" "$h1" "$h2" "$h3" "$h4"
	[ "$(tr '\0' '|' <"$T")" = "$h1|$h2|$h3|$h4" ]
	[ ! -e pwned ] && [ ! -e pwned2 ] && [ ! -e incoming/pwned ]
	run sql "select command from jobs"
	assert_output --partial "'incoming/\$(touch pwned).hdf5' 'incoming/x;touch pwned2.hdf5' \$'incoming/new\\nline.hdf5'"
	run -65 uvm-run -D "$D" -s verify -t products/$G/sb01.ok -i "$h4" -i "$h2" -- sh -c 'exit 65'
	[ -f "quarantine/new
line.hdf5" ] && [ -f "quarantine/new
line.hdf5.reason" ]
	[ -f 'quarantine/$(touch pwned).hdf5' ]
	[ ! -e pwned ]
	run sql "select count(*) from quarantine"
	assert_output 2
}

@test "uvm-run: LAUNCH words go in front of the command; a missing command is 69" {
	conf LAUNCH=env,UVM_VIA=launcher
	run -0 wrap -- sh -c 'echo "via=$UVM_VIA"; : >"$UVM_TARGET"'
	grep -q "via=launcher" "logs/$G/verify.log"
	run sql "select command from jobs"
	assert_output --partial "env UVM_VIA=launcher sh -c"
	conf LAUNCH=
	run -69 uvm-run -D "$D" -s verify -t products/$G/sb01.ok -- ./no-such-program
	assert_output --partial "cannot run './no-such-program': No such file or directory"
	run sql "select class from jobs where target like '%sb01.ok'"
	assert_output unavailable
}

@test "uvm-run: an unwritable job log is 73 and runs nothing" {
	mkdir -p logs
	: >"logs/$G"
	run -73 wrap -- "$J" "$C" "$T" 0
	[ "$(runs)" -eq 0 ]
	no_temps "$D"
}

@test "uvm-run: make -j16 over 200 targets: 200 records, no lock errors" {
	# The production build (make check builds bin/ first): contention is
	# what this test is about, and ASan's start-up cost per job would turn
	# it into a CPU benchmark with fewer wrappers in the database at once.
	run_bin=$UVM_ROOT/bin/uvm-run
	[ -x "$run_bin" ] || run_bin=uvm-run
	{
		echo "all: \$(patsubst %,out/t%,\$(shell seq 1 200))"
		echo "out/%:"
		printf '\t%s -D %s -s touch -t $@ -- touch $@\n' "$run_bin" "$D"
	} >"$BATS_TEST_TMPDIR/j.mk"
	mkdir -p out
	run -0 make -s -j16 -f "$BATS_TEST_TMPDIR/j.mk"
	refute_output --partial "locked"
	refute_output --partial "database"
	[ "$(ls out | wc -l)" -eq 200 ]
	run sql "select count(*), sum(class = 'ok'), count(distinct target) from jobs"
	assert_output "200|200|200"
	run sql "select count(*) from targets where state = 'ok'"
	assert_output 200
}

# ---- staging (issue 10): the -o argument rewritten, a link installed ----

# out.sh: a stand-in stage program: `out.sh -o FILE INPUT` copies INPUT to
# FILE atomically (temp + rename), refusing a symlink at FILE as the real
# stage programs do; exits 73 when asked through $FAIL.
stager() {
	S=$BATS_TEST_TMPDIR/shm
	V=products/$G/vis.uvh5
	conf "STAGING_DIR=$S" STAGING_STAGES=combine STAGING_MAX_PERCENT=100
	O=$BATS_TEST_TMPDIR/out.sh
	cp "$BATS_TEST_DIRNAME/fixtures/run-out.sh" "$O"
	chmod +x "$O"
	head -c 100000 /dev/urandom >"$IN"
}

@test "uvm-run: a staged product is written in STAGING_DIR and linked from its target" {
	stager
	run -0 uvm-run -D "$D" -s combine -t "$V" -i "$IN" -- "$O" -o "$V" "$IN"
	[ -L "$V" ]
	assert_equal "$(readlink "$V")" "$S/$G/vis.uvh5"
	cmp "$V" "$IN"
	# the job record keeps the command as make gave it
	run sql "select command from jobs"
	assert_output --partial "-o $V "
	run grep -c "staging: '$V' written to '$S/$G/vis.uvh5'" "logs/$G/combine.log"
	assert_output 1
	# a failed staged job leaves the old link and no temporary
	FAIL=1 run -73 uvm-run -D "$D" -s combine -t "$V" -i "$IN" -- "$O" -o "$V" "$IN"
	[ -L "$V" ] && cmp "$V" "$IN"
	no_temps "$S"
	no_temps "$D/products"
	[ -z "$(ls state/slots | grep -E '^stg\.')" ]
}

@test "uvm-run: no room on the staging file system: disk, and a dangling link is replaced" {
	stager
	tiny_fs "$S" 64 || skip "cannot mount tmpfs"
	mkdir -p "products/$G"
	ln -s "$S/$G/vis.uvh5" "$V"     # left by an earlier staged run, now wiped
	run -0 uvm-run -D "$D" -s combine -t "$V" -i "$IN" -- "$O" -o "$V" "$IN"
	[ -f "$V" ] && [ ! -L "$V" ]
	cmp "$V" "$IN"
	run grep -h "staging:" "logs/$G/combine.log"
	assert_output --partial "written to disk: 0 MB free of 0 MB on '$S'"
	assert_output --partial "staging: removed the link at '$D/$V'"
	umount "$S"
}

@test "uvm-run: staged files no link points at are removed when room is needed" {
	stager
	tiny_fs "$S" 400 || skip "cannot mount tmpfs"
	# an orphan (its products/ link is gone) fills the staging area
	mkdir -p "$S/20251024T110000"
	head -c 300000 /dev/zero >"$S/20251024T110000/vis.uvh5"
	run -0 uvm-run -D "$D" -s combine -t "$V" -i "$IN" -- "$O" -o "$V" "$IN"
	[ -L "$V" ] && cmp "$V" "$IN"
	[ ! -e "$S/20251024T110000" ]
	run grep -c "staging: removed '$S/20251024T110000/vis.uvh5': no product links to it" \
		"logs/$G/combine.log"
	assert_output 1
	umount "$S"
}
