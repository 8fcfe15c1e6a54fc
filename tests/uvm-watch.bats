#!/usr/bin/env bats
# uvm-watch: the inotify daemon. Most tests run it with a stub cycle command
# (-c) that records each run (start/end lines with times in cycles.log),
# copies every counted incoming file to done/ atomically, and can be made
# slow, failing or planner-like (writing state/plan.json) per test; the
# last test drives the real pipeline when its programs exist.

load test_helper
bats_require_minimum_version 1.5.0

U='uvm-watch [-D home] [-c command] [-s settle] [-d debounce] [-m max-delay] [-r rescan] [-1]'

setup() {
	d=$BATS_TEST_TMPDIR/d
	rules=$BATS_TEST_TMPDIR/rules
	mkdir -p "$d/incoming" "$d/state" "$d/logs" "$rules"
	# a private rules dir, so edits elsewhere never trigger our cycles
	printf 'RULES_DIR=%s\n' "$rules" >"$d/uvmake.conf"
	stub=$BATS_TEST_TMPDIR/stub
	cat >"$stub" <<-'EOF'
	#!/bin/sh
	# stub cycle, called as: stub -D home -w secs
	[ "$1" = -D ] && [ "$3" = -w ] && [ "$UVM_HOME" = "$2" ] || { echo "stub: bad call: $*" >&2; exit 64; }
	home=$2
	echo $$ >>"$home/stub.pids"
	[ -z "${NOTIFY_SOCKET:-}${WATCHDOG_USEC:-}" ] || echo NOTIFY_LEAK >>"$home/cycles.log"
	mkdir "$home/stub.running" 2>/dev/null || echo CONCURRENT >>"$home/cycles.log"
	n=$(( $(cat "$home/cycles.log" 2>/dev/null | grep -c '^start') + 1 ))
	echo "start $n $(date +%s.%N)" >>"$home/cycles.log"
	mkdir -p "$home/done"
	for f in "$home"/incoming/*; do
		[ -f "$f" ] || continue
		b=${f##*/}
		case $b in .*|*_incomplete.hdf5|*.tmp.[0-9]*) continue ;; esac
		if [ -f "$home/done/$b" ] && ! [ "$f" -nt "$home/done/$b" ]; then continue; fi
		cat "$f" >"$home/done/.$b.$$" && mv "$home/done/.$b.$$" "$home/done/$b"
	done
	if [ -f "$home/stub.sleep" ]; then
		echo partial >"$home/product.tmp.$$"
		sleep "$(cat "$home/stub.sleep")"
		echo complete >"$home/product.tmp.$$"
		mv "$home/product.tmp.$$" "$home/product"
	fi
	[ -f "$home/stub.plan" ] && . "$home/stub.plan"
	rmdir "$home/stub.running"
	echo "end $n $(date +%s.%N)" >>"$home/cycles.log"
	exit "$(cat "$home/stub.exit" 2>/dev/null || echo 0)"
	EOF
	chmod +x "$stub"
	wpid=
	old_maxq=
}

teardown() {
	if [ -n "$wpid" ]; then
		kill -KILL "$wpid" 2>/dev/null || true
		wait "$wpid" 2>/dev/null || true
	fi
	if [ -f "$d/stub.pids" ]; then
		while read -r p; do kill -TERM "$p" 2>/dev/null || true; done <"$d/stub.pids"
	fi
	if [ -n "$old_maxq" ]; then
		echo "$old_maxq" >/proc/sys/fs/inotify/max_queued_events
	fi
	return 0
}

# wait_until SECS CMD...: true as soon as CMD succeeds (polled every 50 ms),
# false after SECS seconds of wall-clock time.
wait_until() {
	local end=$(( ${EPOCHREALTIME/./} + $1 * 1000000 ))
	shift
	while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.05
	done
	"$@"
}

count() { if [ -f "$d/cycles.log" ]; then grep -c "^$1" "$d/cycles.log" || true; else echo 0; fi; }
cycles_are() { [ "$(count start)" -eq "$1" ] && [ "$(count end)" -eq "$1" ]; }
at_least() { [ "$(count end)" -ge "$1" ]; }
done_has() { [ -f "$d/done/$1" ]; }
ndone_is() { [ "$(ls "$d/done" 2>/dev/null | wc -l)" -eq "$1" ]; }
status_is() { [ "$(jq -r "$1" "$d/state/watch.json" 2>/dev/null)" = "$2" ]; }

# start_watch [args]: the daemon on $d with the stub, fast timings; waits
# for its start-up cycle.
start_watch() {
	uvm-watch -D "$d" -c "$stub" -s 0.3 -d 0.3 -r 300 "$@" >"$d/watch.out" 2>>"$d/watch.log" 3>&- &
	wpid=$!
	wait_until 10 at_least 1
}

# drop NAME [CONTENT]: land a file the way the correlator does (rename in).
drop() {
	printf '%s\n' "${2:-data $1}" >"$d/incoming/.$1.part"
	mv "$d/incoming/.$1.part" "$d/incoming/$1"
}

stop_watch() {
	kill -TERM "$wpid"
	local st=0
	wait "$wpid" || st=$?
	wpid=
	return "$st"
}

@test "uvm-watch: usage" {
	run -0 uvm-watch --help
	assert_output "usage: $U"
	run -0 uvm-watch -h
	assert_output "usage: $U"
	run -64 uvm-watch -x
	assert_output --partial "usage: $U"
	run -64 uvm-watch -D "$d" extra
	assert_output "usage: $U"
	run -64 uvm-watch -s -1
	assert_line "uvm-watch: invalid -s value '-1': expected seconds"
	run -64 uvm-watch -d 3s
	assert_line --partial "invalid -d value '3s'"
	run -64 uvm-watch -r nan
	run -64 uvm-watch -c ''
	run -74 sh -c 'uvm-watch --help >/dev/full'
	assert_output --partial "write error"
}

@test "uvm-watch: exit statuses 66 (no deployment), 65 (bad config), and -1 gives the cycle's" {
	run -66 uvm-watch -D "$BATS_TEST_TMPDIR/nowhere" -c "$stub"
	assert_output --partial "cannot use deployment '$BATS_TEST_TMPDIR/nowhere': No such file or directory"
	mkdir "$BATS_TEST_TMPDIR/plain"
	run -66 uvm-watch -D "$BATS_TEST_TMPDIR/plain" -c "$stub"
	assert_output --partial "is not a deployment (run uvm-init)"
	cp "$d/uvmake.conf" "$BATS_TEST_TMPDIR/conf"
	echo 'WATCH_RESCAN=1 2' >>"$d/uvmake.conf"
	run -65 uvm-watch -D "$d" -c "$stub"
	cp "$BATS_TEST_TMPDIR/conf" "$d/uvmake.conf"
	drop a.hdf5
	run -0 uvm-watch -1 -D "$d" -c "$stub"
	[ "$(count end)" -eq 1 ]
	done_has a.hdf5
	echo 75 >"$d/stub.exit"
	run -75 uvm-watch -1 -D "$d" -c "$stub"
	run -127 uvm-watch -1 -D "$d" -c "$BATS_TEST_TMPDIR/no-such-command"
	assert_output --partial "cannot run '$BATS_TEST_TMPDIR/no-such-command': No such file or directory"
	status_is .last_run.exit 127
	# UVM_HOME is the default deployment
	rm "$d/stub.exit"
	UVM_HOME=$d run -0 uvm-watch -1 -c "$stub"
	[ "$(count end)" -eq 3 ]
}

@test "uvm-watch: files renamed in and written in place are processed; ignored names are not" {
	start_watch -s 0.6
	cycles_are 1
	drop 2025-10-24T12:00:03_sb00.hdf5
	wait_until 5 done_has 2025-10-24T12:00:03_sb00.hdf5
	# the stub copies to done/ before it logs its end: wait for that line
	wait_until 5 cycles_are 2
	# written in place with pauses (closed and reopened): counted only once
	# stable for the settle interval, so no cycle sees it partial
	f=$d/incoming/2025-10-24T12:00:04_sb01.hdf5
	printf 'a' >"$f"; sleep 0.2; printf 'b' >>"$f"; sleep 0.2; printf 'c\n' >>"$f"
	wait_until 5 done_has 2025-10-24T12:00:04_sb01.hdf5
	[ "$(cat "$d/done/2025-10-24T12:00:04_sb01.hdf5")" = abc ]
	wait_until 5 cycles_are 3
	# never triggers: dotfiles, our temporaries, the correlator's partial files
	echo x >"$d/incoming/.hidden"
	echo x >"$d/incoming/x.hdf5.tmp.999"
	echo x >"$d/incoming/2025-10-24T12:05:00_sb00_incomplete.hdf5"
	sleep 1.5
	cycles_are 3
	grep -q "cycle 2 started (event), pid [0-9]*: 1 new file '2025-10-24T12:00:03_sb00.hdf5'" "$d/watch.log"
	stop_watch
	rm "$d/incoming/x.hdf5.tmp.999"
	no_temps "$d"
}

@test "uvm-watch: a burst of 16 files makes one or two cycles, not 16" {
	start_watch -d 0.5
	for sb in $(seq -w 0 15); do
		drop "2025-10-24T12:00:0${sb: -1}_sb$sb.hdf5"
		sleep 0.03
	done
	wait_until 5 ndone_is 16
	sleep 1
	n=$(count end)
	[ "$n" -ge 2 ] && [ "$n" -le 3 ]
	! grep -q CONCURRENT "$d/cycles.log" || false
}

@test "uvm-watch: events during a slow cycle give exactly one follow-up" {
	echo 1.5 >"$d/stub.sleep"
	uvm-watch -D "$d" -c "$stub" -s 0.2 -d 0.2 >/dev/null 2>"$d/watch.log" 3>&- &
	wpid=$!
	wait_until 5 [ -d "$d/stub.running" ]
	for i in 1 2 3 4 5; do drop "f$i.hdf5"; sleep 0.1; done
	wait_until 10 at_least 2
	rm "$d/stub.sleep"
	sleep 1.2
	cycles_are 2
	for i in 1 2 3 4 5; do done_has "f$i.hdf5"; done
	! grep -q CONCURRENT "$d/cycles.log" || false
	grep -q "cycle 2 started (event), pid [0-9]*: 5 new files" "$d/watch.log"
}

@test "uvm-watch: an inotify queue overflow is recovered by a rescan; every file processed" {
	[ -w /proc/sys/fs/inotify/max_queued_events ] || skip "cannot lower max_queued_events (not root)"
	old_maxq=$(cat /proc/sys/fs/inotify/max_queued_events)
	# the limit is taken when the daemon creates its inotify instance:
	# lower it just for that moment
	echo 8 >/proc/sys/fs/inotify/max_queued_events
	start_watch
	echo "$old_maxq" >/proc/sys/fs/inotify/max_queued_events
	old_maxq=
	kill -STOP "$wpid"
	for i in $(seq 1 40); do drop "f$i.hdf5"; done
	kill -CONT "$wpid"
	wait_until 10 ndone_is 40
	wait_until 5 status_is .overflows 1
	grep -q "inotify queue overflow: events may have been lost" "$d/watch.log"
	# SIGUSR1 is treated exactly like an overflow
	n=$(count end)
	kill -USR1 "$wpid"
	wait_until 5 at_least $((n + 1))
	wait_until 5 status_is .overflows 2
	grep -q "cycle $((n + 1)) started (overflow)" "$d/watch.log"
	stop_watch
}

@test "uvm-watch: killed with SIGKILL and restarted, it catches up at start-up" {
	start_watch
	kill -KILL "$wpid"
	wait "$wpid" 2>/dev/null || true
	wpid=
	drop a.hdf5
	drop b.hdf5
	echo c >"$d/incoming/c.hdf5"
	sleep 0.5
	[ ! -e "$d/done/a.hdf5" ]
	start_watch
	wait_until 5 done_has c.hdf5
	done_has a.hdf5
	done_has b.hdf5
	grep -q "cycle 1 started (startup)" "$d/watch.log"
	status_is .pid "$wpid"
}

@test "uvm-watch: SIGTERM during a cycle waits for it, leaves no partial product, exits 0" {
	echo 1 >"$d/stub.sleep"
	uvm-watch -D "$d" -c "$stub" -s 0.2 -d 0.2 >/dev/null 2>"$d/watch.log" 3>&- &
	wpid=$!
	wait_until 5 compgen -G "$d/product.tmp.*"
	kill -TERM "$wpid"
	drop late.hdf5
	st=0
	wait "$wpid" || st=$?
	wpid=
	[ "$st" -eq 0 ]
	[ "$(cat "$d/product")" = complete ]
	cycles_are 1
	no_temps "$d"
	[ ! -e "$d/done/late.hdf5" ]
	grep -q "stopping: waiting for cycle 1" "$d/watch.log"
	status_is .state stopped
	status_is .last_run.exit 0
}

@test "uvm-watch: SIGHUP and a changed uvmake.conf reload the config (new INCOMING)" {
	start_watch
	mkdir "$d/in2"
	printf 'RULES_DIR=%s\nINCOMING=in2\n' "$rules" >"$d/uvmake.conf"
	wait_until 5 grep -q "configuration reloaded (uvmake.conf changed): incoming '$d/in2'" "$d/watch.log"
	wait_until 5 at_least 2
	grep -q "cycle 2 started (config)" "$d/watch.log"
	echo x >"$d/in2/.p" && mv "$d/in2/.p" "$d/in2/new.hdf5"
	wait_until 5 at_least 3
	grep -q "cycle 3 started (event), pid [0-9]*: 1 new file 'new.hdf5'" "$d/watch.log"
	status_is .incoming "$d/in2"
	# SIGHUP: the daemon re-executes itself, which reads the config anew
	kill -HUP "$wpid"
	wait_until 10 grep -q "re-executing: SIGHUP" "$d/watch.log"
	wait_until 10 at_least 4
	status_is .incoming "$d/in2"
	# a malformed config is refused and the old one kept
	echo 'BAD LINE' >>"$d/uvmake.conf"
	wait_until 5 grep -q "keeping the previous configuration" "$d/watch.log"
	kill -0 "$wpid"
	stop_watch
}

# logged N TEXT: the daemon's log has N lines with TEXT
logged() { [ "$(grep -c "$2" "$d/watch.log")" -eq "$1" ]; }

# own_watch: a copy of the daemon in $BATS_TEST_TMPDIR/bin, started from
# there (the path it re-executes and watches), with the stub
own_watch() {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	cp "$(command -v uvm-watch)" "$BATS_TEST_TMPDIR/bin/.w" && mv "$BATS_TEST_TMPDIR/bin/.w" "$BATS_TEST_TMPDIR/bin/uvm-watch"
	"$BATS_TEST_TMPDIR/bin/uvm-watch" -D "$d" -c "$stub" -s 0.3 -d 0.3 -r 300 >"$d/watch.out" 2>>"$d/watch.log" 3>&- &
	wpid=$!
	wait_until 10 at_least 1
}

@test "uvm-watch: SIGHUP re-executes the daemon between cycles: same pid, a catch-up cycle, nothing missed" {
	own_watch
	v=$(uvm-watch --version | cut -d' ' -f2)
	fds=$(ls "/proc/$wpid/fd" | wc -l)
	# a slow cycle is running when SIGHUP comes: it finishes first
	echo 1 >"$d/stub.sleep"
	drop a.hdf5
	wait_until 10 [ -d "$d/stub.running" ]
	kill -HUP "$wpid"
	wait_until 10 grep -q "SIGHUP: re-executing once cycle 2 is done" "$d/watch.log"
	# a file landing while the old image finishes is planned by the new one
	drop b.hdf5
	wait_until 15 grep -q "re-executing: SIGHUP, version $v -> $v" "$d/watch.log"
	rm "$d/stub.sleep"
	wait_until 15 done_has b.hdf5
	wait_until 10 status_is .state idle
	kill -0 "$wpid"
	[ -f "$d/product" ] && [ "$(cat "$d/product")" = complete ]
	! grep -q CONCURRENT "$d/cycles.log" || false
	# the new image said so: started again, its start-up cycle ran
	[ "$(grep -c "watching '$d/incoming'" "$d/watch.log")" -eq 2 ]
	grep -q "cycle 1 started (startup" <(sed -n '/re-executing/,$p' "$d/watch.log")
	# no descriptor leaked into the new image
	[ "$(ls "/proc/$wpid/fd" | wc -l)" -eq "$fds" ]
	stop_watch
}

@test "uvm-watch: a changed executable is re-executed; a broken one is refused and the daemon carries on" {
	own_watch
	v=$(uvm-watch --version | cut -d' ' -f2)
	w=$BATS_TEST_TMPDIR/bin/uvm-watch
	# a new file at the path (installed by rename): re-executed within seconds
	cp "$w" "$w.new" && mv "$w.new" "$w"
	wait_until 15 grep -q "re-executing: its executable changed, version $v -> $v" "$d/watch.log"
	wait_until 10 at_least 2
	# a broken one: one line, the old image goes on running cycles
	printf '\177ELF broken\n' >"$w.new" && chmod +x "$w.new" && mv "$w.new" "$w"
	wait_until 15 grep -Eq "cannot re-execute '$w': '$w --version' exited with status [0-9]+; carrying on as version $v\$" "$d/watch.log"
	kill -0 "$wpid"
	n=$(count end)
	drop c.hdf5
	wait_until 10 done_has c.hdf5
	wait_until 10 at_least $((n + 1))
	# not tried again until it changes; SIGHUP tries it and is refused again
	[ "$(grep -c "cannot re-execute" "$d/watch.log")" -eq 1 ]
	kill -HUP "$wpid"
	wait_until 10 logged 2 "cannot re-execute"
	kill -0 "$wpid"
	# one that hangs on --version: killed after 10 s, refused, no process left
	printf '#!/bin/sh\nexec sleep 600 # uvm-hang-probe\n' >"$w.new" && chmod +x "$w.new" && mv "$w.new" "$w"
	wait_until 30 grep -q "cannot re-execute '$w': '$w --version' did not answer within 10 s; carrying on as version $v" "$d/watch.log"
	kill -0 "$wpid"
	! pgrep -f "uvm-hang-probe" >/dev/null || false
	drop d.hdf5
	wait_until 10 done_has d.hdf5
	# fixed: re-executed
	cp "$(command -v uvm-watch)" "$w.new" && mv "$w.new" "$w"
	wait_until 15 logged 2 "re-executing: its executable changed"
	wait_until 10 status_is .state idle
	kill -0 "$wpid"
	stop_watch
}

@test "uvm-watch: a change in the rules directory runs a cycle" {
	start_watch
	echo 'x := 1' >"$rules/verify.mk"
	wait_until 5 at_least 2
	grep -q "rules changed: 'verify.mk'" "$d/watch.log"
	grep -q "cycle 2 started (rules)" "$d/watch.log"
}

@test "uvm-watch: plan.json next_wakeup re-arms a cycle without events; a stale one does not loop" {
	cat >"$d/stub.plan" <<-'EOF'
	if [ "$n" -eq 1 ]; then w=$(( $(date +%s) + 1 )); else w=$(( $(date +%s) - 100 )); fi
	printf '{"groups": [{"id": "x", "next_wakeup": 5}], "next_wakeup": %s}\n' "$w" >"$home/state/plan.json"
	EOF
	start_watch
	wait_until 5 at_least 2
	grep -q "cycle 2 started (wakeup)" "$d/watch.log"
	grep -q "next wakeup for waiting groups at" "$d/watch.log"
	sleep 2
	cycles_are 2
	status_is .next_wakeup null
}

@test "uvm-watch: never starts a cycle while another holds make.lock (cron, by hand)" {
	(flock "$d/state/make.lock" sh -c 'sleep 1.5; date +%s.%N >"$1"' sh "$d/held.end") 3>&- &
	holder=$!
	sleep 0.2
	uvm-watch -D "$d" -c "$stub" -s 0.2 -d 0.2 >/dev/null 2>"$d/watch.log" 3>&- &
	wpid=$!
	wait_until 10 at_least 1
	wait "$holder"
	start=$(awk '/^start 1 /{print $3}' "$d/cycles.log")
	awk -v s="$start" -v e="$(cat "$d/held.end")" 'BEGIN{exit !(s >= e)}'
	grep -q "make.lock' is held by another cycle; waiting for it" "$d/watch.log"
}

@test "uvm-watch: a failing cycle is logged and backs off; the next event still runs one" {
	echo 70 >"$d/stub.exit"
	start_watch -d 0.1
	sleep 1.5
	cycles_are 1
	grep -q "cycle 1 failed with status 70 (software)" "$d/watch.log"
	status_is .failures 1
	rm "$d/stub.exit"
	drop a.hdf5
	wait_until 5 done_has a.hdf5
	wait_until 5 status_is .failures 0
	wait_until 5 cycles_are 2
}

@test "uvm-watch: watch.json is valid JSON with the documented fields, hostile names included" {
	echo 1 >"$d/stub.sleep"
	start_watch -d 0.2
	wait_until 5 [ ! -d "$d/stub.running" ]
	name=$(printf 'q"uo\\te\nnl\377.hdf5')
	drop "$name"
	wait_until 5 status_is .state running
	run -0 jq -e '(.pid|type)=="number" and (.started|test("^[0-9-]+T[0-9:.]+Z$"))
		and .state=="running" and (.running_pid|type)=="number"
		and .last_run.end==null and .last_run.exit==null and .last_run.reason=="event"
		and .last_event.kind=="moved in" and (.last_event.name|startswith("q\"uo\\te\nnl"))
		and .overflows==0 and .rescans==0 and .cycles==2
		and (.pending|has("count") and has("names")) and .settling.count==0' "$d/state/watch.json"
	for i in 1 2 3; do drop "p$i.hdf5"; done
	wait_until 5 status_is .pending.count 3
	run -0 jq -r '.pending.names|join(",")' "$d/state/watch.json"
	assert_output "p1.hdf5,p2.hdf5,p3.hdf5"
	wait_until 10 at_least 3
	wait_until 5 status_is .state idle
	run -0 jq -e '.last_run.exit==0 and (.last_run.end|type)=="string" and .pending.count==0
		and .next_cycle==null and (.next_rescan|type)=="string"' "$d/state/watch.json"
	stop_watch
}

@test "uvm-watch: a status file that cannot be written is retried; the daemon carries on" {
	mkdir "$d/state/watch.json"
	start_watch
	drop a.hdf5
	wait_until 5 done_has a.hdf5
	grep -q "cannot write '$d/state/watch.json': Is a directory; retrying" "$d/watch.log"
	no_temps "$d"
	rmdir "$d/state/watch.json"
	wait_until 5 [ -f "$d/state/watch.json" ]
	run -0 jq -e '.cycles==2' "$d/state/watch.json"
	grep -q "status file '$d/state/watch.json' written again" "$d/watch.log"
	stop_watch
	no_temps "$d"
}

@test "uvm-watch: the periodic rescan runs a cycle" {
	start_watch -r 0.5
	wait_until 5 at_least 3
	grep -q "cycle 2 started (rescan)" "$d/watch.log"
	wait_until 5 jq -e '.rescans>=2' "$d/state/watch.json"
}

@test "uvm-watch: sd_notify READY, STATUS and WATCHDOG datagrams" {
	command -v python3 >/dev/null || skip "python3 not available for the socket listener"
	sock=$BATS_TEST_TMPDIR/notify
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(0.2)
end = time.time() + 10
with open(sys.argv[2], "w") as f:
    while time.time() < end:
        try: m = s.recv(4096).decode()
        except socket.timeout: continue
        f.write(m + "\n--\n"); f.flush()
        if m == "STOPPING=1": break
' "$sock" "$BATS_TEST_TMPDIR/got" 3>&- &
	listener=$!
	wait_until 5 [ -S "$sock" ]
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=400000 start_watch
	sleep 1
	stop_watch
	wait "$listener"
	grep -q '^READY=1$' "$BATS_TEST_TMPDIR/got"
	grep -q '^STATUS=running; 1 cycles' "$BATS_TEST_TMPDIR/got"
	[ "$(grep -c '^WATCHDOG=1$' "$BATS_TEST_TMPDIR/got")" -ge 3 ]
	grep -q '^STOPPING=1$' "$BATS_TEST_TMPDIR/got"
	# the cycle command does not inherit the socket
	! grep -q NOTIFY_LEAK "$d/cycles.log" || false
}

@test "uvm-watch: ops/uvm-watch.service verifies; ops/uvm-watch.cron is quiet unless a cycle fails" {
	if command -v systemd-analyze >/dev/null; then
		run -0 systemd-analyze verify "$UVM_ROOT/ops/uvm-watch.service"
		refute_output
	else
		echo "# systemd-analyze missing: unit not verified" >&3
	fi
	grep -q '^Type=notify$' "$UVM_ROOT/ops/uvm-watch.service"
	grep -q '^WatchdogSec=' "$UVM_ROOT/ops/uvm-watch.service"
	grep -q '^KillMode=mixed$' "$UVM_ROOT/ops/uvm-watch.service"
	# the cron line, pointed at this deployment and a fake uvm-make
	line=$(grep -E '^\*/5 ' "$UVM_ROOT/ops/uvm-watch.cron")
	cmd=$(echo "$line" | awk '{for (i = 7; i <= NF; i++) printf "%s ", $i}' | sed "s|/srv/uvmake|$d|g")
	mkdir "$BATS_TEST_TMPDIR/fake"
	printf '#!/bin/sh\necho "fake $*"\nexit $FAKE_EXIT\n' >"$BATS_TEST_TMPDIR/fake/uvm-make"
	chmod +x "$BATS_TEST_TMPDIR/fake/uvm-make"
	for st in 0 75 76; do
		FAKE_EXIT=$st PATH=$BATS_TEST_TMPDIR/fake:$PATH run -0 sh -c "$cmd"
		refute_output
	done
	FAKE_EXIT=70 PATH=$BATS_TEST_TMPDIR/fake:$PATH run sh -c "$cmd"
	assert_output "uvm-make -D $d: exit 70 (see $d/logs/cron.log)"
	[ "$(grep -c "^fake -D $d\$" "$d/logs/cron.log")" -eq 4 ]
}

@test "uvm-watch: the real pipeline: a partial group is processed at the planner's next_wakeup" {
	for p in uvm-init uvm-plan uvm-run uvm-verify uvm-combine uvm-sim; do
		command -v "$p" >/dev/null || skip "$p not built yet"
	done
	[ -f "$UVM_ROOT/rules/common.mk" ] || skip "rules/ not written yet"
	h=$BATS_TEST_TMPDIR/h
	uvm-init "$h" >/dev/null
	# sim_small makes 4 subbands; 3 of them land, processed as partial after 3 s
	printf 'SUBBANDS=4\nPARTIAL_TIMEOUT=3\nPARTIAL_MIN=3\n' >>"$h/uvmake.conf"
	sim_small -o "$BATS_TEST_TMPDIR/sim" >/dev/null
	uvm-watch -D "$h" -s 0.3 -d 0.3 >/dev/null 2>"$BATS_TEST_TMPDIR/watch.log" 3>&- &
	wpid=$!
	for f in "$BATS_TEST_TMPDIR"/sim/*_sb0[012].hdf5; do
		touch "$f"
		mv "$f" "$h/incoming/"
	done
	wait_until 60 compgen -G "$h/products/*/vis.uvh5"
	[ "$(ls "$h"/products/*/sb*.ok | wc -l)" -eq 3 ]
	grep -q "next wakeup for waiting groups at" "$BATS_TEST_TMPDIR/watch.log"
	grep -q "started (wakeup)" "$BATS_TEST_TMPDIR/watch.log"
	stop_watch
	no_temps "$h"
}
