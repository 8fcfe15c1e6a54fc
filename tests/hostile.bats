#!/usr/bin/env bats
# Issue 18, "what a hostile operator broke": the planner against inputs
# that are not what they seem. A file still being written in place (open
# for writing, or modified within PLAN_SETTLE) is never planned, whatever
# runs the cycle; a name from the far future is quarantined with a reason
# instead of becoming the newest group; of two files claiming one
# subband, the one that is a valid UVH5 file is used and only the bad one
# is quarantined, with a reason naming its twin.

load test_helper
bats_require_minimum_version 1.5.0

export TZ=UTC

setup() {
	d=$BATS_TEST_TMPDIR/d
	uvm-init "$d" >/dev/null
	in=$d/incoming
	# the planner's clock is the real one: names one hour old
	T0=$(( $(date +%s) / 60 * 60 - 3600 ))
}

teardown() {
	if [ -n "${wpid:-}" ]; then kill "$wpid" 2>/dev/null || true; wait "$wpid" 2>/dev/null || true; fi
}

name() { printf '%(%Y-%m-%dT%H:%M:%S)T_sb%02d.hdf5' "$1" "$2"; }

@test "a name far in the future (2099) is quarantined with a reason, not the newest group" {
	for sb in $(seq -w 0 15); do touch "$in/$(name $T0 $((10#$sb)))"; done
	touch "$in/2099-01-01T00:00:00_sb00.hdf5"
	run -0 --separate-stderr uvm-plan -D "$d" -v
	assert_output "$(date -u -d @$T0 +%Y%m%dT%H%M%S) ready 16/16 -"
	[ ! -e "$in/2099-01-01T00:00:00_sb00.hdf5" ]
	[ -f "$d/quarantine/2099-01-01T00:00:00_sb00.hdf5" ]
	grep -q "^reason: name's time is [0-9]* s ahead of the clock (more than CLOCK_SKEW=21600)$" \
		"$d/quarantine/2099-01-01T00:00:00_sb00.hdf5.reason"
	# within the allowed skew: planned as usual
	echo CLOCK_SKEW=100000000000 >>"$d/uvmake.conf"
	touch "$in/2099-01-01T00:00:00_sb00.hdf5"
	run -0 --separate-stderr uvm-plan -D "$d" -v
	assert_line "20990101T000000 waiting 1/16 sb01,sb02,sb03,sb04,sb05,sb06,sb07,sb08,sb09,sb10,sb11,sb12,sb13,sb14,sb15"
	[ -f "$in/2099-01-01T00:00:00_sb00.hdf5" ]
}

@test "a file open for writing is not planned until its writer closes it" {
	for sb in $(seq 1 15); do touch -d @$T0 "$in/$(name $T0 $sb)"; done
	f=$in/$(name $T0 0)
	mkfifo "$BATS_TEST_TMPDIR/go"
	# the writer: opens the file, writes a little, waits for the test
	( exec 3>"$f"; echo part >&3; read -r _ <"$BATS_TEST_TMPDIR/go"; echo rest >&3 ) &
	wpid=$!
	for i in $(seq 1 100); do [ -s "$f" ] && break; sleep 0.1; done
	touch -d @$T0 "$f"                 # even with an old mtime
	for cycle in 1 2 3; do             # cron-style cycles, by hand
		run -0 --separate-stderr uvm-plan -D "$d" -v
		assert_output "$(date -u -d @$T0 +%Y%m%dT%H%M%S) waiting 16/16 -"
	done
	run -0 uvm-plan -D "$d"
	assert_output "uvm-plan: info: not planned yet: 'incoming/$(name $T0 0)' is open for writing"
	! grep -q "_sb00" "$d/state/pipeline.mk" || false
	[ -z "$(ls "$d/quarantine")" ]
	echo >"$BATS_TEST_TMPDIR/go"
	wait "$wpid"; wpid=
	run -0 --separate-stderr uvm-plan -D "$d" -v
	assert_output "$(date -u -d @$T0 +%Y%m%dT%H%M%S) ready 16/16 -"
	[ "$(cat "$f")" = "$(printf 'part\nrest')" ]
	[ -z "$(ls "$d/quarantine")" ]
}

@test "PLAN_SETTLE: a file modified within the settle time waits for it" {
	echo PLAN_SETTLE=600 >>"$d/uvmake.conf"
	for sb in $(seq 1 15); do touch -d @$T0 "$in/$(name $T0 $sb)"; done
	now=$(date +%s)
	touch -d @$((now - 10)) "$in/$(name $T0 0)"
	run -0 --separate-stderr uvm-plan -D "$d" -v
	assert_output "$(date -u -d @$T0 +%Y%m%dT%H%M%S) waiting 16/16 -"
	# the next look is due when it may have settled
	w=$(sed -n 's/.*"next_wakeup": \([0-9]*\).*/\1/p' "$d/state/plan.json")
	[ "$w" -eq $((now - 10 + 600)) ]
	touch -d @$((now - 600)) "$in/$(name $T0 0)"
	run -0 --separate-stderr uvm-plan -D "$d" -v
	assert_output "$(date -u -d @$T0 +%Y%m%dT%H%M%S) ready 16/16 -"
	[ -z "$(ls "$d/quarantine")" ]
}

# four_subbands: a valid 4-subband group in incoming/ (SUBBANDS=4); its
# id is 20251024T120007 (sb00's time), sb01 at 12:00:03
four_subbands() {
	echo SUBBANDS=4 >>"$d/uvmake.conf"
	echo PARTIAL_MIN=4 >>"$d/uvmake.conf"
	run -0 sim_small -o "$in"
	G=20251024T120007
	good=2025-10-24T12:00:03_sb01.hdf5
}

@test "duplicate subband: an empty first copy does not win over the good one" {
	four_subbands
	: >"$in/2025-10-24T12:00:01_sb01.hdf5"   # sorts first
	run -0 --separate-stderr uvm-plan -D "$d" -v
	assert_output "$G ready 4/4 -"
	grep -qx "IN_$G/sb01 := incoming/$good" "$d/state/pipeline.mk"
	[ -f "$in/$good" ] && [ ! -e "$d/quarantine/$good" ]
	[ ! -e "$in/2025-10-24T12:00:01_sb01.hdf5" ]
	grep -qx "reason: sb01 of group $G does not verify (.*); its twin '$good' is used" \
		"$d/quarantine/2025-10-24T12:00:01_sb01.hdf5.reason"
	[ "$(ls "$d/quarantine" | wc -l)" -eq 2 ]
}

@test "duplicate subband: a re-sent copy after a truncated first write is the one used" {
	four_subbands
	# the first write was cut short; the correlator sent it again later
	head -c 20000 "$in/$good" >"$in/2025-10-24T12:00:02_sb01.hdf5"
	mv "$in/$good" "$in/2025-10-24T12:00:05_sb01.hdf5"
	cp "$in/2025-10-24T12:00:05_sb01.hdf5" "$BATS_TEST_TMPDIR/orig"
	run -0 --separate-stderr uvm-plan -D "$d" -v
	assert_output "$G ready 4/4 -"
	grep -qx "IN_$G/sb01 := incoming/2025-10-24T12:00:05_sb01.hdf5" "$d/state/pipeline.mk"
	grep -qx "reason: sb01 of group $G does not verify (truncated file: 20000 of [0-9]* bytes); its twin '2025-10-24T12:00:05_sb01.hdf5' is used" \
		"$d/quarantine/2025-10-24T12:00:02_sb01.hdf5.reason"
	cmp "$in/2025-10-24T12:00:05_sb01.hdf5" "$BATS_TEST_TMPDIR/orig"   # inputs untouched
	# and the group is processed with all four subbands
	run -0 uvm-make -D "$d" -w 60 -- "products/$G/vis.uvh5"
	run -0 h5dump -d /Header/Nfreqs "$d/products/$G/vis.uvh5"
	assert_output --partial "(0): 16"
	[ "$(ls "$d/quarantine" | wc -l)" -eq 2 ]
}

@test "duplicate subband: a copy still being written holds the group; then verification decides" {
	four_subbands
	f=$in/2025-10-24T12:00:01_sb01.hdf5
	exec 4>"$f"
	run -0 --separate-stderr uvm-plan -D "$d" -v
	assert_output "$G waiting 4/4 -"
	[ -z "$(ls "$d/quarantine")" ]
	cat "$in/$good" >&4
	exec 4>&-
	run -0 --separate-stderr uvm-plan -D "$d" -v
	assert_output "$G ready 4/4 -"
	grep -qx "IN_$G/sb01 := incoming/2025-10-24T12:00:01_sb01.hdf5" "$d/state/pipeline.mk"
	grep -qx "reason: duplicate subband sb01 in group $G, both valid (kept '2025-10-24T12:00:01_sb01.hdf5')" \
		"$d/quarantine/$good.reason"
}

@test "a subband written in place slowly under cron-style uvm-make cycles: never verified mid-write, processed once" {
	four_subbands
	cat >>"$d/uvmake.conf" <<-CONF
	IMAGE_NPIX=64
	IMAGE_NITER=10
	IMAGE_FFTW_PLAN=estimate
	RETRY_BASE=0
	CONF
	mv "$in/$good" "$BATS_TEST_TMPDIR/sb01"
	size=$(stat -c %s "$BATS_TEST_TMPDIR/sb01")
	mkfifo "$BATS_TEST_TMPDIR/go"
	# the writer: the file in place, half of it, then (told) the rest
	( exec 3>"$in/$good"
	  head -c $((size / 2)) "$BATS_TEST_TMPDIR/sb01" >&3
	  read -r _ <"$BATS_TEST_TMPDIR/go"
	  tail -c +$((size / 2 + 1)) "$BATS_TEST_TMPDIR/sb01" >&3 ) &
	wpid=$!
	for i in $(seq 1 100); do [ "$(stat -c %s "$in/$good")" -eq $((size / 2)) ] && break; sleep 0.1; done
	for cycle in 1 2 3; do
		run uvm-make -D "$d" -w 60
		[ "$status" -eq 0 ] || [ "$status" -eq 75 ]
	done
	sql() { sqlite3 "$d/state/pipeline.sqlite" "$@"; }
	[ "$(sql "select count(*) from jobs")" -eq 0 ]   # the whole group waited
	[ -z "$(ls "$d/quarantine")" ]
	echo >"$BATS_TEST_TMPDIR/go"
	wait "$wpid"; wpid=
	cmp "$in/$good" "$BATS_TEST_TMPDIR/sb01"
	run uvm-make -D "$d" -w 60 -- "products/$G/vis.uvh5"
	[ "$status" -eq 0 ]
	[ "$(sql "select count(*) from jobs where stage = 'verify' and target = 'products/$G/sb01.ok' and class = 'ok'")" -eq 1 ]
	[ "$(sql "select count(*) from jobs where class != 'ok'")" -eq 0 ]
	[ -z "$(ls "$d/quarantine")" ]
	run -0 h5dump -d /Header/Nfreqs "$d/products/$G/vis.uvh5"
	assert_output --partial "(0): 16"
}

@test "log lines escape a hostile name: no control byte reaches the terminal, no forged line" {
	# ESC sequences (clear screen, window title), a newline forging a
	# second log line, a C1 CSI byte, a backslash
	h=$(printf 'a\033[2J\033]0;pwned\007b\nuvm-verify: forged\\c\302\233d')
	run -66 --separate-stderr uvm-verify "$BATS_TEST_TMPDIR/$h"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$stderr" = "uvm-verify: cannot open '$BATS_TEST_TMPDIR/a\\x1b[2J\\x1b]0;pwned\\x07b\\nuvm-verify: forged\\\\c\\xc2\\x9bd': No such file or directory" ]
	! printf '%s' "$stderr" | LC_ALL=C grep -q '[^ -~]' || false
}
