#!/usr/bin/env bats
# uvm-retry: releases dead-lettered and deferred targets, and moves
# quarantined inputs back, after a person has looked. The states it
# releases are made by uvm-run itself, so these tests follow the real path.

bats_require_minimum_version 1.5.0
load test_helper

G=20251024T120003
T=products/$G/sb00.ok
IN=incoming/2025-10-24T12:00:03_sb00.hdf5
USAGE='usage: uvm-retry [-D home] [-n] [-q] (-a | name...)'

setup() {
	D=$BATS_TEST_TMPDIR/d
	mkdir -p "$D"/incoming "$D"/products "$D"/quarantine "$D"/state "$D"/logs
	printf '%s\n' RETRY_MAX=1 RETRY_BASE=30 RETRY_INLINE_MAX=0 BREAKER_FAILS=0 \
		DISK_MARGIN_MB=0 >"$D/uvmake.conf"
	cd "$D"
}

sql() { sqlite3 "$D/state/pipeline.sqlite" "$@"; }

@test "uvm-retry: usage" {
	run -0 uvm-retry --help
	assert_output "$USAGE"
	run -64 uvm-retry -D "$D"
	assert_output "$USAGE"
	run -64 uvm-retry -D "$D" -a "$T"
	run -64 uvm-retry -D "$D" -x "$T"
	run -66 uvm-retry -D "$BATS_TEST_TMPDIR/none" -a
}

@test "uvm-retry: releases a dead-lettered target; -n changes nothing" {
	run -70 uvm-run -D "$D" -s verify -t "$T" -- sh -c 'exit 70'
	run -0 uvm-retry -D "$D" -n "$T"
	assert_output "would release '$T' (was dead, class software, 1 attempt)"
	run sql "select state, attempts from targets"
	assert_output "dead|1"
	run -0 uvm-retry -D "$D" "$D/$T"
	assert_output "released '$T' (was dead, class software, 1 attempt)"
	run sql "select state, attempts, next_attempt_at is null from targets"
	assert_output "retry|0|1"
	# released: the next run executes the command again
	run -0 uvm-run -D "$D" -s verify -t "$T" -- sh -c ': >"$UVM_TARGET"'
	[ -f "$T" ]
	# idempotent: nothing left to release
	run -66 uvm-retry -D "$D" "$T"
	assert_output --partial "target '$T' is ok: nothing to release"
}

@test "uvm-retry: -a releases every dead and deferred target, nothing else" {
	run -70 uvm-run -D "$D" -s verify -t products/$G/a -- sh -c 'exit 70'
	run -75 uvm-run -D "$D" -s verify -t products/$G/b -- sh -c 'exit 75'
	run -0 uvm-run -D "$D" -s verify -t products/$G/c -- true
	run sql "select group_concat(state, ' ') from (select state from targets order by target)"
	assert_output "dead dead ok"
	printf '%s\n' RETRY_MAX=5 >>uvmake.conf
	run -75 uvm-run -D "$D" -s verify -t products/$G/d -- sh -c 'exit 75'
	run -0 uvm-retry -D "$D" -a
	assert_line "released 'products/$G/a' (was dead, class software, 1 attempt)"
	assert_line "released 'products/$G/b' (was dead, class tempfail, 1 attempt)"
	assert_line "released 'products/$G/d' (was deferred, class tempfail, 1 attempt)"
	[ "${#lines[@]}" -eq 3 ]
	run sql "select group_concat(state, ' ') from (select state from targets order by target)"
	assert_output "retry retry ok retry"
	run -0 uvm-retry -D "$D" -a
	assert_output ""
}

@test "uvm-retry: unknown targets are 66, the others still released" {
	run -70 uvm-run -D "$D" -s verify -t "$T" -- sh -c 'exit 70'
	run -66 uvm-retry -D "$D" products/nope "$T"
	assert_line --partial "no record of target 'products/nope'"
	assert_line "released '$T' (was dead, class software, 1 attempt)"
}

@test "uvm-retry: -q moves a quarantined input back and releases its target" {
	echo data >"$IN"
	run -65 uvm-run -D "$D" -s verify -t "$T" -i "$IN" -- sh -c 'exit 65'
	q=quarantine/2025-10-24T12:00:03_sb00.hdf5
	[ -f "$q" ] && [ -f "$q.reason" ] && [ ! -e "$IN" ]
	run -0 uvm-retry -D "$D" -q -n "$(basename "$q")"
	assert_output "would restore '$q' to '$IN'"
	[ -f "$q" ]
	run -0 uvm-retry -D "$D" -q "$q"
	assert_output "restored '$q' to '$IN'"
	[ "$(cat "$IN")" = data ]
	[ ! -e "$q" ] && [ ! -e "$q.reason" ]
	run sql "select released is not null from quarantine"
	assert_output 1
	run sql "select state from targets"
	assert_output retry
	run -0 uvm-run -D "$D" -s verify -t "$T" -i "$IN" -- sh -c ': >"$UVM_TARGET"'
	run -66 uvm-retry -D "$D" -q "$q"
	assert_output --partial "is not in quarantine"
	no_temps "$D"
}

@test "uvm-retry: -q never replaces a file that took the original name" {
	echo old >"$IN"
	run -65 uvm-run -D "$D" -s verify -t "$T" -i "$IN" -- sh -c 'exit 65'
	echo new >"$IN"
	run -73 uvm-retry -D "$D" -q -a
	assert_output --partial "cannot restore 'quarantine/2025-10-24T12:00:03_sb00.hdf5' to '$IN': File exists"
	[ "$(cat "$IN")" = new ]
	[ "$(cat quarantine/2025-10-24T12:00:03_sb00.hdf5)" = old ]
	[ -f quarantine/2025-10-24T12:00:03_sb00.hdf5.reason ]
	run sql "select released is null from quarantine"
	assert_output 1
}

@test "uvm-retry: hostile names come back intact" {
	h="incoming/new
line \$(x);.hdf5"
	echo h >"$h"
	run -65 uvm-run -D "$D" -s verify -t "$T" -i "$h" -- sh -c 'exit 65'
	[ -f "quarantine/$(basename "$h")" ]
	run -0 uvm-retry -D "$D" -q -a
	[ "$(cat "$h")" = h ]
}

@test "uvm-retry: control characters in names reach the terminal escaped" {
	# ESC sequences (clear screen, window title), CR overwriting the line,
	# a newline forging a second line, a backslash, a C1 CSI byte
	h=$(printf 'incoming/a\033[2J\033]0;pwned\007b\rc\nd\\e\302\233f.hdf5')
	e='incoming/a\x1b[2J\x1b]0;pwned\x07b\rc\nd\\e\xc2\x9bf.hdf5'
	q=quarantine/${e#incoming/}
	printf h >"$h"
	run -65 uvm-run -D "$D" -s verify -t "$T" -i "$h" -- sh -c 'exit 65'
	[ -f "quarantine/$(basename "$h")" ]
	run -0 --separate-stderr uvm-retry -D "$D" -n -q -a
	[ "$output" = "would restore '$q' to '$e'" ]
	# nothing a terminal acts on: printable ASCII only
	! printf '%s' "$output" | LC_ALL=C grep -q '[^ -~]' || false
	run -0 --separate-stderr uvm-retry -D "$D" -n "$T"
	[ "$output" = "would release '$T' (was quarantined, class dataerr, 1 attempt)" ]
	run -66 --separate-stderr uvm-retry -D "$D" -q "$(printf 'x\033[1my')"
	[ "$stderr" = "uvm-retry: 'x\x1b[1my' is not in quarantine" ]
	run -0 --separate-stderr uvm-retry -D "$D" -q -a
	[ "$output" = "restored '$q' to '$e'" ]
	[ "$(cat "$h")" = h ]
}

@test "uvm-retry: a failed write of stdout is 74" {
	run -70 uvm-run -D "$D" -s verify -t "$T" -- sh -c 'exit 70'
	run -74 sh -c "uvm-retry -D '$D' -n -a >/dev/full"
	run sql "select state from targets"
	assert_output dead
}
