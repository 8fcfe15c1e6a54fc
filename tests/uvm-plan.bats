#!/usr/bin/env bats
# uvm-plan: grouping jittered subband files, partial timeouts, the
# generated makefile (content, rewritten only on change, what make -n runs),
# finished groups retired to done.idx, hostile names quarantined and never
# reaching a makefile or a shell, stale temporaries swept.
#
# Inputs are empty files made with touch: the planner reads names and
# lstat data only, never content. Times: 2025-10-24T12:00:00Z = 1761307200.

load test_helper

# finish_group G [touch args]: every product of group G exists (verify reports of all
# subbands, and every per-group product of the stage description), as
# after a full run
finish_group() {
	local g=$1 p=$d/products/$1 sb f
	shift
	mkdir -p "$p"
	for sb in $(seq -w 0 15); do touch "$@" "$p/sb$sb.ok"; done
	for f in $(group_products "$g"); do touch "$@" "$d/$f"; done
}
bats_require_minimum_version 1.5.0

T0=1761307200

setup() {
	d=$BATS_TEST_TMPDIR/d
	uvm-init "$d" >/dev/null
	in=$d/incoming
}

teardown() {
	if [ -n "${mnt:-}" ]; then umount "$mnt" 2>/dev/null || true; fi
}

# Names come from bash's printf (no fork per file); all times are UTC.
export TZ=UTC

# name EPOCH SB: the correlator's file name
name() { printf '%(%Y-%m-%dT%H:%M:%S)T_sb%02d.hdf5' "$1" "$2"; }

# sub EPOCH SB [touch args]: create one subband file in incoming/
sub() {
	local f
	f="$in/$(name "$1" "$2")"
	shift 2
	touch "$@" "$f"
}

# group START [touch args]: 16 subbands jittered over 0..39 s; sb05 first
# at START, sb00 at START+3, sb10 last at START+39
group() {
	local t=$1 sb off files=()
	shift
	for sb in $(seq 0 15); do
		case $sb in 0) off=3 ;; 5) off=0 ;; *) off=$((5 + (sb * 7) % 36)) ;; esac
		files+=("$in/$(name $((t + off)) "$sb")")
	done
	touch "$@" "${files[@]}"
}

mk() { cat "$d/state/pipeline.mk"; }
sql() { sqlite3 "$d/state/pipeline.sqlite" "$@"; }

@test "uvm-plan: usage and exit statuses" {
	run -0 uvm-plan --help
	assert_output "usage: uvm-plan [-D home] [-n] [-v]"
	run -0 uvm-plan -h
	assert_output "usage: uvm-plan [-D home] [-n] [-v]"
	run -64 uvm-plan -x
	assert_line "usage: uvm-plan [-D home] [-n] [-v]"
	run -64 uvm-plan -D "$d" extra
	run -66 uvm-plan -D "$BATS_TEST_TMPDIR/nowhere"
	run -66 uvm-plan -D "$BATS_TEST_TMPDIR"
	assert_output --partial "is not a deployment (run uvm-init)"
	rmdir "$in"
	run -66 uvm-plan -D "$d"
	assert_output "uvm-plan: cannot open '$d/incoming': No such file or directory"
	mkdir "$in"
	echo "SUBBANDS=0" >>"$d/uvmake.conf"
	run -78 uvm-plan -D "$d"
	echo "SUBBANDS=16" >>"$d/uvmake.conf"
	echo "INCOMING=in:x" >>"$d/uvmake.conf"
	run -78 uvm-plan -D "$d"
	assert_output --partial "characters a makefile cannot hold"
}

@test "uvm-plan: an empty deployment plans nothing; UVM_HOME works" {
	UVM_HOME=$d run -0 uvm-plan
	assert_output ""
	grep -q '^all:$' "$d/state/pipeline.mk"
	run -0 make -q -C "$d" -f state/pipeline.mk
	run -0 jq -c '[.next_wakeup, (.groups|length)]' "$d/state/plan.json"
	assert_output "[null,0]"
}

@test "uvm-plan: 16 jittered subbands are one ready group named by sb00" {
	group $T0
	run -0 uvm-plan -D "$d" -v
	assert_output "20251024T120003 ready 16/16 -"
	g=20251024T120003
	[ "$(grep -c "^IN_$g/sb[0-9][0-9] := incoming/2025-10-24T12:00:[0-4][0-9]_sb[0-9][0-9].hdf5$" "$d/state/pipeline.mk")" -eq 16 ]
	grep -qx "IN_$g/sb00 := incoming/2025-10-24T12:00:03_sb00.hdf5" "$d/state/pipeline.mk"
	grep -qx "IN_$g/sb05 := incoming/2025-10-24T12:00:00_sb05.hdf5" "$d/state/pipeline.mk"
	grep -qx "SB_$g := sb00 sb01 sb02 sb03 sb04 sb05 sb06 sb07 sb08 sb09 sb10 sb11 sb12 sb13 sb14 sb15" "$d/state/pipeline.mk"
	! grep -q "MISSING_" "$d/state/pipeline.mk" || false
	grep -qx "UVM_HOME := $d" "$d/state/pipeline.mk"
	grep -qx "UVM_RULES := $(cd "$UVM_ROOT/rules" && pwd -P)" "$d/state/pipeline.mk"
	run -0 jq -c '.groups[0] | [.id, .state, .nsub, .missing]' "$d/state/plan.json"
	assert_output '["20251024T120003","ready",16,[]]'
	[ "$(sql "select state, nsub from groups")" = "ready|16" ]
}

@test "uvm-plan: the tolerance boundary: +60 s joins, +61 s starts a new group" {
	sub $T0 1
	sub $((T0 + 60)) 2
	sub $((T0 + 61)) 3
	run -0 uvm-plan -D "$d" -v
	assert_line --index 0 "20251024T120000 waiting 2/16 sb00,sb03,sb04,sb05,sb06,sb07,sb08,sb09,sb10,sb11,sb12,sb13,sb14,sb15"
	assert_line --index 1 "20251024T120101 waiting 1/16 sb00,sb01,sb02,sb04,sb05,sb06,sb07,sb08,sb09,sb10,sb11,sb12,sb13,sb14,sb15"
	echo "GROUP_TOLERANCE=61" >>"$d/uvmake.conf"
	run -0 uvm-plan -D "$d" -v
	assert_output --regexp '^20251024T120000 waiting 3/16 '
}

@test "uvm-plan: two groups 5 minutes apart, both in the makefile; make -n runs the known recipes" {
	group $T0
	group $((T0 + 300))
	run -0 uvm-plan -D "$d" -v
	assert_line --index 0 "20251024T120003 ready 16/16 -"
	assert_line --index 1 "20251024T120503 ready 16/16 -"
	run -0 make -n -C "$d" -f state/pipeline.mk
	g=20251024T120503
	assert_line "mkdir -p products/$g/"
	assert_line "uvm-run -D $d -s verify -t products/$g/sb07.ok -i incoming/2025-10-24T12:05:18_sb07.hdf5 -- uvm-verify -q -o products/$g/sb07.ok incoming/2025-10-24T12:05:18_sb07.hdf5"
	assert_line --regexp "^uvm-run -D $d -s combine -t products/$g/vis.uvh5 -i incoming/2025-10-24T12:05:03_sb00.hdf5 -i incoming/2025-10-24T12:05:1[0-9]_sb01.hdf5 .* -- uvm-combine +-o products/$g/vis.uvh5 incoming/2025-10-24T12:05:03_sb00.hdf5 .*_sb15.hdf5$"
	[ "$(printf '%s\n' "${lines[@]}" | grep -c ' -s verify ')" -eq 32 ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -c ' -s combine ')" -eq 2 ]
	run -1 make -q -C "$d" -f state/pipeline.mk
}

@test "uvm-plan: a real make with a stub wrapper builds every product, then the groups retire" {
	group $T0
	mkdir "$BATS_TEST_TMPDIR/stub"
	# the stub records each argv (one word per line) and makes the target
	cat >"$BATS_TEST_TMPDIR/stub/uvm-run" <<-'EOF'
	#!/bin/sh
	printf '%s\n' "$@" -- >>"$CALLS"
	while [ $# -gt 0 ]; do case $1 in -t) t=$2; shift 2 ;; --) break ;; *) shift ;; esac; done
	: >"$t"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/stub/uvm-run"
	export CALLS=$BATS_TEST_TMPDIR/calls
	run -0 uvm-plan -D "$d"
	PATH=$BATS_TEST_TMPDIR/stub:$PATH run -0 make -C "$d" -f state/pipeline.mk
	g=20251024T120003
	[ -f "$d/products/$g/vis.uvh5" ]
	[ "$(ls "$d/products/$g" | grep -c '^sb[0-9][0-9]\.ok$')" -eq 16 ]
	# names with ':' arrive as single, intact words
	grep -qx "incoming/2025-10-24T12:00:03_sb00.hdf5" "$CALLS"
	# the next plan retires the group: done.idx, out of the makefile
	run -0 uvm-plan -D "$d" -v
	assert_output "$g done 16/16 -"
	[ "$(cat "$d/state/done.idx")" = "$g $T0 $((T0 + 39)) -" ]
	! grep -q "$g" "$d/state/pipeline.mk" || false
	[ "$(sql "select state from groups where grp='$g'")" = done ]
	run -0 make -q -C "$d" -f state/pipeline.mk
}

@test "uvm-plan: partial timeout: waiting, then partial with MISSING, or incomplete" {
	now=$(date +%s)
	# 14 of 16, fresh: waiting, not in the makefile, next_wakeup = mtime + 900
	for sb in $(seq 0 15); do
		[ "$sb" = 7 ] || [ "$sb" = 9 ] || sub $((T0 + sb)) "$sb" -d "@$now"
	done
	run -0 uvm-plan -D "$d" -v
	assert_output "20251024T120000 waiting 14/16 sb07,sb09"
	! grep -q 20251024T120000 "$d/state/pipeline.mk" || false
	run -0 jq -c '[.next_wakeup, .groups[0].state, .groups[0].missing]' "$d/state/plan.json"
	assert_output "[$((now + 900)),\"waiting\",[\"sb07\",\"sb09\"]]"
	# the same files 20 minutes old: partial
	touch -d "@$((now - 1200))" "$in"/*.hdf5
	run -0 uvm-plan -D "$d" -v
	assert_output "20251024T120000 partial 14/16 sb07,sb09"
	grep -qx "MISSING_20251024T120000 := sb07 sb09" "$d/state/pipeline.mk"
	grep -qx "SB_20251024T120000 := sb00 sb01 sb02 sb03 sb04 sb05 sb06 sb08 sb10 sb11 sb12 sb13 sb14 sb15" "$d/state/pipeline.mk"
	grep -q "^  products/20251024T120000/qa.json$" "$d/state/pipeline.mk"
	[ "$(sql "select state, nsub, missing from groups")" = "partial|14|sb07 sb09" ]
	# combine is told which subbands are missing
	run -0 make -n -C "$d" -f state/pipeline.mk
	assert_line --regexp "^uvm-run -D $d -s combine -t products/20251024T120000/vis.uvh5 .* -- uvm-combine -m sb07 -m sb09 -o products/20251024T120000/vis.uvh5 incoming/2025-10-24T12:00:00_sb00.hdf5 "
	run -0 jq -c '.next_wakeup' "$d/state/plan.json"
	assert_output null
	# below PARTIAL_MIN (12): incomplete, kept, not in the makefile
	rm "$in"/*_sb0[0-4].hdf5
	run -0 uvm-plan -D "$d" -v
	assert_output "20251024T120005 incomplete 9/16 sb00,sb01,sb02,sb03,sb04,sb07,sb09"
	! grep -q 20251024T120000 "$d/state/pipeline.mk" || false
	[ "$(ls "$in" | wc -l)" -eq 9 ]
	run -0 jq -r '.groups[0].state' "$d/state/plan.json"
	assert_output incomplete
}

@test "uvm-plan: a partial group's late subband is quarantined once the group is done" {
	now=$(date +%s)
	for sb in $(seq 0 15); do [ "$sb" = 7 ] || sub $((T0 + sb)) "$sb" -d "@$((now - 1200))"; done
	run -0 uvm-plan -D "$d"
	grep -qx "MISSING_20251024T120000 := sb07" "$d/state/pipeline.mk"
	mkdir -p "$d/products/20251024T120000"
	finish_group "20251024T120000"
	sub $((T0 + 7)) 7   # arrives after the product was made without it
	run -0 uvm-plan -D "$d" -v
	assert_output --partial "20251024T120000 done"
	[ "$(cat "$d/state/done.idx")" = "20251024T120000 $T0 $((T0 + 15)) sb07" ]
	[ ! -e "$in/2025-10-24T12:00:07_sb07.hdf5" ]
	grep -qx "reason: late subband: group 20251024T120000 finished without sb07" \
		"$d/quarantine/2025-10-24T12:00:07_sb07.hdf5.reason"
	[ "$(ls "$in" | wc -l)" -eq 15 ]
}

@test "uvm-plan: pipeline.mk and plan.json are rewritten only when their content changes" {
	group $T0
	run -0 uvm-plan -D "$d"
	before=$(stat -c '%i %y' "$d/state/pipeline.mk" "$d/state/plan.json")
	sum=$(sha256sum "$d/state/pipeline.mk")
	sleep 1.1
	run -0 uvm-plan -D "$d"
	assert_output ""
	[ "$(stat -c '%i %y' "$d/state/pipeline.mk" "$d/state/plan.json")" = "$before" ]
	# a new group changes it
	group $((T0 + 300))
	run -0 uvm-plan -D "$d"
	[ "$(sha256sum "$d/state/pipeline.mk")" != "$sum" ]
	grep -q 20251024T120503 "$d/state/pipeline.mk"
	no_temps "$d"
}

@test "uvm-plan: done groups are dropped and never rebuilt after retention removed their products" {
	group $T0
	group $((T0 + 300))
	run -0 uvm-plan -D "$d"
	g=20251024T120003
	mkdir -p "$d/products/$g"
	finish_group "$g"
	run -0 uvm-plan -D "$d"
	grep -qx "$g $T0 $((T0 + 39)) -" "$d/state/done.idx"
	# nothing of the group is planned; its qa.json stays an input of its
	# hour's mosaic, which the other group still adds to
	! grep -Eq "^(IN_$g|products/$g/[^ ]*:)" "$d/state/pipeline.mk" || false
	[ "$(grep -c "$g" "$d/state/pipeline.mk")" -eq 1 ]
	grep -qx "  products/$g/qa.json \\\\" "$d/state/pipeline.mk"
	grep -q 20251024T120503 "$d/state/pipeline.mk"
	run -0 jq -r '[.groups[].id] | join(" ")' "$d/state/plan.json"
	assert_output 20251024T120503
	# retention removes the products: still done, still not planned
	rm -r "$d/products/$g"
	run -0 uvm-plan -D "$d" -v
	assert_output "20251024T120503 ready 16/16 -"
	! grep -q "$g" "$d/state/pipeline.mk" || false
	run -0 make -n -C "$d" -f state/pipeline.mk
	refute_output --partial "$g"
	[ "$(wc -l <"$d/state/done.idx")" -eq 1 ]
}

@test "uvm-plan: hostile names are quarantined with a reason, never reach make or a shell" {
	cd "$BATS_TEST_TMPDIR"
	passwd_sum=$(sha256sum </etc/passwd)
	group $T0
	touch "$in/a b.hdf5" "$in/\$(touch pwned)" "$in/\`touch pwned2\`_sb01.hdf5" "$in/x;touch pwned3" \
		"$in/2025-10-24T12:00:03_sb01.hdf5:x" "$in/all: x" "$in/#2025-10-24T12:00:03_sb02.hdf5" \
		"$in/2025-10-24T12:00:03_sb1%.hdf5" "$in/-rf" "$in/n.reason"
	touch "$in/$(printf 'new\nline_sb03.hdf5')"
	ln -s /etc/passwd "$in/2025-10-24T12:00:10_sb00.hdf5"
	mkdir "$in/2025-10-24T12:00:11_sb01.hdf5"
	mkfifo "$in/2025-10-24T12:00:12_sb02.hdf5"
	sub $T0 16                       # subband out of range
	touch "$in/2025-02-29T12:00:00_sb00.hdf5"  # no such date
	run -0 uvm-plan -D "$d" -v
	assert_line "20251024T120003 ready 16/16 -"
	# 16 hostile entries moved, the 16 good files left
	[ "$(ls "$in" | wc -l)" -eq 16 ]
	[ "$(ls "$d/quarantine" | grep -c '\.reason$')" -eq 16 ]
	for f in "$d"/quarantine/*; do
		case $f in *.reason) continue ;; esac
		[ -f "$f.reason" ] || { echo "no reason for $f"; false; }
	done
	grep -qx 'reason: symlink' "$d/quarantine/2025-10-24T12:00:10_sb00.hdf5.reason"
	[ "$(readlink "$d/quarantine/2025-10-24T12:00:10_sb00.hdf5")" = /etc/passwd ]
	grep -qx 'reason: not a regular file (directory)' "$d/quarantine/2025-10-24T12:00:11_sb01.hdf5.reason"
	grep -qx 'reason: not a regular file (fifo)' "$d/quarantine/2025-10-24T12:00:12_sb02.hdf5.reason"
	grep -qx 'reason: name does not match YYYY-MM-DDTHH:MM:SS_sbNN.hdf5' "$d/quarantine/%24%28touch%20pwned%29.reason"
	grep -qx 'input: incoming/new\\nline_sb03.hdf5' "$d/quarantine/new%0Aline_sb03.hdf5.reason"
	grep -qx 'reason: subband sb16 out of range (SUBBANDS=16)' "$d/quarantine/2025-10-24T12:00:00_sb16.hdf5.reason"
	grep -qx 'reason: invalid date or time in name' "$d/quarantine/2025-02-29T12:00:00_sb00.hdf5.reason"
	# a hostile name ending in .reason does not pass for a reason file
	[ -f "$d/quarantine/n.reason.1" ] && [ -f "$d/quarantine/n.reason.1.reason" ]
	[ "$(sql "select count(*) from quarantine")" -eq 16 ]
	# nothing hostile in the makefile; make -n executes nothing
	# (outside its comment lines, whose prose has semicolons)
	! grep -v '^# ' "$d/state/pipeline.mk" |
		grep -E 'pwned|a b|;|#2025|passwd|12:00:10_sb00|12:00:11_sb01|12:00:12_sb02|sb16|02-29|-rf' || false
	run -0 make -n -C "$d" -f state/pipeline.mk
	run -0 make -n -C "$d" -f state/pipeline.mk all
	for p in pwned pwned2 pwned3; do
		[ ! -e "$p" ] && [ ! -e "$d/$p" ] && [ ! -e "$in/$p" ] && [ ! -e "$d/quarantine/$p" ]
	done
	[ "$(sha256sum </etc/passwd)" = "$passwd_sum" ]
	# a re-run finds nothing new
	run -0 uvm-plan -D "$d"
	assert_output ""
	[ "$(ls "$d/quarantine" | wc -l)" -eq 32 ]
}

@test "uvm-plan: a duplicate subband in a group, neither valid: the later one is quarantined" {
	# (valid twins, and a valid later twin: tests/hostile.bats)
	group $T0
	sub $((T0 + 30)) 0
	run -0 uvm-plan -D "$d" -v
	assert_line "20251024T120003 ready 16/16 -"
	grep -qx "IN_20251024T120003/sb00 := incoming/2025-10-24T12:00:03_sb00.hdf5" "$d/state/pipeline.mk"
	grep -qx "reason: sb00 of group 20251024T120003 does not verify (not an HDF5 file); its twin '2025-10-24T12:00:03_sb00.hdf5' does not either, and is left to uvm-verify" \
		"$d/quarantine/2025-10-24T12:00:30_sb00.hdf5.reason"
}

@test "uvm-plan: *_incomplete.hdf5, dotfiles and temporaries are ignored and left in place" {
	touch "$in/2025-10-24T12:00:03_sb00_incomplete.hdf5" "$in/.hidden" "$in/.2025-10-24T12:00:03_sb00.hdf5" \
		"$in/x.tmp.12345" "$in/\$(touch pwned)_incomplete.hdf5"
	run -0 uvm-plan -D "$d" -v
	assert_output ""
	[ "$(ls -A "$in" | wc -l)" -eq 5 ]
	[ -z "$(ls -A "$d/quarantine")" ]
	! grep -q incoming/ "$d/state/pipeline.mk" || false
}

@test "uvm-plan: stale temporaries of dead processes are swept, live ones kept" {
	group $T0
	g=20251024T120003
	mkdir -p "$d/products/$g"
	touch "$d/products/$g/sb00.ok.tmp.999999" "$d/caltables/x.cal.h5.tmp.999998" \
		"$d/mosaics/m.fits.tmp.999997" "$d/products/$g/sb01.ok.tmp.$$" \
		"$d/state/pipeline.mk.tmp.999996" "$d/quarantine/x.reason.tmp.999995"
	run -0 uvm-plan -D "$d"
	assert_output "uvm-plan: info: removed 5 stale temporaries"
	[ ! -e "$d/state/pipeline.mk.tmp.999996" ] && [ ! -e "$d/quarantine/x.reason.tmp.999995" ]
	[ ! -e "$d/products/$g/sb00.ok.tmp.999999" ]
	[ ! -e "$d/caltables/x.cal.h5.tmp.999998" ]
	[ ! -e "$d/mosaics/m.fits.tmp.999997" ]
	[ -e "$d/products/$g/sb01.ok.tmp.$$" ]
}

@test "uvm-plan: -n changes nothing and prints the makefile" {
	group $T0
	touch "$in/bad name"
	run -0 uvm-plan -D "$d" -n
	assert_line "IN_20251024T120003/sb00 := incoming/2025-10-24T12:00:03_sb00.hdf5"
	assert_line "uvm-plan: info: would quarantine 'incoming/bad name': name does not match YYYY-MM-DDTHH:MM:SS_sbNN.hdf5"
	[ -e "$in/bad name" ]
	[ ! -e "$d/state/pipeline.mk" ] && [ ! -e "$d/state/plan.json" ]
	[ -z "$(ls -A "$d/quarantine")" ]
}

@test "uvm-plan: an absolute INCOMING elsewhere is written as absolute paths" {
	other=$BATS_TEST_TMPDIR/drop
	mkdir "$other"
	echo "INCOMING=$other/" >>"$d/uvmake.conf"
	in=$other
	group $T0
	run -0 uvm-plan -D "$d"
	grep -qx "IN_20251024T120003/sb00 := $other/2025-10-24T12:00:03_sb00.hdf5" "$d/state/pipeline.mk"
}

@test "uvm-plan: INCOMING on another file system: bad files are copied to quarantine" {
	mnt=$BATS_TEST_TMPDIR/drop
	tiny_fs "$mnt" 1024 || skip "cannot mount a tmpfs here"
	echo "INCOMING=$mnt" >>"$d/uvmake.conf"
	in=$mnt
	group $T0
	echo data >"$in/bad name"
	ln -s /etc/passwd "$in/2025-10-24T12:05:00_sb00.hdf5"
	run -0 uvm-plan -D "$d"
	assert_line "uvm-plan: info: quarantined '$mnt/bad name' as 'quarantine/bad%20name': name does not match YYYY-MM-DDTHH:MM:SS_sbNN.hdf5"
	assert_line "uvm-plan: cannot quarantine '$mnt/2025-10-24T12:05:00_sb00.hdf5': Invalid cross-device link"
	[ "$(cat "$d/quarantine/bad%20name")" = data ] && [ ! -e "$in/bad name" ]
	grep -qx "input: $mnt/bad name" "$d/quarantine/bad%20name.reason"
	# the symlink cannot be moved across: it stays, and stays out of the makefile
	[ -L "$in/2025-10-24T12:05:00_sb00.hdf5" ]
	! grep -q '12:05:00' "$d/state/pipeline.mk" || false
	grep -qx "IN_20251024T120003/sb00 := $mnt/2025-10-24T12:00:03_sb00.hdf5" "$d/state/pipeline.mk"
	[ ! -e "$d/quarantine/2025-10-24T12:05:00_sb00.hdf5.reason" ]
	no_temps "$d"
	no_temps "$mnt"
}

@test "uvm-plan: a full file system exits 74, keeps the old makefile and leaves no temporary" {
	group $T0
	run -0 uvm-plan -D "$d"
	cp -a "$d/state" "$BATS_TEST_TMPDIR/state.bak"
	mnt=$d/state
	tiny_fs "$mnt" 1024 || skip "cannot mount a tmpfs here"
	cp -a "$BATS_TEST_TMPDIR/state.bak/." "$mnt/"
	sum=$(sha256sum <"$mnt/pipeline.mk")
	dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null || true
	group $((T0 + 300))
	run -74 uvm-plan -D "$d"
	assert_output --partial "cannot write '$d/state/pipeline.mk': No space left on device"
	[ "$(sha256sum <"$mnt/pipeline.mk")" = "$sum" ]
	no_temps "$d"
	rm "$mnt/fill"
	run -0 uvm-plan -D "$d"
	grep -q 20251024T120503 "$mnt/pipeline.mk"
}

# mosaic_block H: the explicit rule of mosaics/H.fits in pipeline.mk
mosaic_block() {
	sed -n "/^mosaics\/$1.fits:/,/| mosaics\//p" "$d/state/pipeline.mk"
}

@test "uvm-plan: an hour's mosaic is planned once the data moved past it, on exactly its groups' reports" {
	sed -i 's/^MOSAIC_DELAY=.*/MOSAIC_DELAY=999999999/' "$d/uvmake.conf"
	grep -qx 'MOSAIC_DELAY=999999999' "$d/uvmake.conf"
	run -0 uvm-plan -D "$d"
	[ -f "$d/state/hours.idx" ] && [ ! -s "$d/state/hours.idx" ]
	group $T0
	group $((T0 + 300))
	run -0 uvm-plan -D "$d"
	! grep -q 'mosaics/' "$d/state/pipeline.mk" || false
	group $((T0 + 3600))
	run -0 uvm-plan -D "$d"
	run -0 mosaic_block 20251024T12
	assert_output "mosaics/20251024T12.fits: \\
  products/20251024T120003/qa.json \\
  products/20251024T120503/qa.json \\
  state/settings/mosaic.conf \\
  | mosaics/"
	grep -qx 'all: mosaics/20251024T12.fits' "$d/state/pipeline.mk"
	! grep -q 'mosaics/20251024T13' "$d/state/pipeline.mk" || false
	# plan.json lists the pending hours: the current one is not due yet
	run -0 jq -c '.mosaics' "$d/state/plan.json"
	assert_output '[{"hour":"20251024T12","state":"planned","inputs":2},{"hour":"20251024T13","state":"waiting","inputs":1}]'
	# make runs the wrapper on exactly these reports, the hour as group
	run make -n --no-print-directory -C "$d" -f state/pipeline.mk mosaics/20251024T12.fits
	assert_line "uvm-run -D $d -s mosaic -t mosaics/20251024T12.fits -g 20251024T12 -- uvm-mosaic -b -H 20251024T12 -o mosaics/20251024T12.fits products/20251024T120003/qa.json products/20251024T120503/qa.json"
	# and the mosaic's catalogue, on the mosaic alone, after it
	grep -qx 'all: mosaics/20251024T12.sources.json' "$d/state/pipeline.mk"
	run make -n --no-print-directory -C "$d" -f state/pipeline.mk mosaics/20251024T12.sources.json
	assert_line "uvm-run -D $d -s msources -t mosaics/20251024T12.sources.json -g 20251024T12 -- uvm-sources -o mosaics/20251024T12.sources.json mosaics/20251024T12.fits"
	# a group of the hour still waiting for subbands holds the mosaic back
	sub $((T0 + 600)) 0
	run -0 uvm-plan -D "$d"
	! grep -q '^mosaics/20251024T12.fits' "$d/state/pipeline.mk" || false
	run -0 jq -c '.mosaics' "$d/state/plan.json"
	assert_output '[{"hour":"20251024T12","state":"waiting","inputs":2},{"hour":"20251024T13","state":"waiting","inputs":1}]'
}

@test "uvm-plan: a re-made image re-makes its hour's mosaic and nothing else; a made hour retires" {
	# the 13:00 hour is not due: no data after it, and the stream has not stopped
	sed -i 's/^MOSAIC_DELAY=.*/MOSAIC_DELAY=999999999/' "$d/uvmake.conf"
	run -0 uvm-plan -D "$d"
	group $T0
	group $((T0 + 300))
	group $((T0 + 3600))
	finish_group 20251024T120003
	finish_group 20251024T120503
	run -0 uvm-plan -D "$d"
	grep -q '^20251024T120503 ' "$d/state/done.idx"
	run -0 mosaic_block 20251024T12
	assert_output "mosaics/20251024T12.fits: \\
  products/20251024T120003/qa.json \\
  products/20251024T120503/qa.json \\
  state/settings/mosaic.conf \\
  | mosaics/"
	# the mosaic is made: its catalogue is still to make (the next
	# per-hour stage, on the mosaic alone)
	touch "$d/mosaics/20251024T12.fits"
	run -0 make -q --no-print-directory -C "$d" -f state/pipeline.mk mosaics/20251024T12.fits
	run -0 uvm-plan -D "$d"
	grep -qx 'all: mosaics/20251024T12.sources.json' "$d/state/pipeline.mk"
	grep -qx 'mosaics/20251024T12.sources.json: mosaics/20251024T12.fits \\' "$d/state/pipeline.mk"
	! grep -qx 20251024T12 "$d/state/hours.idx" || false
	# and made: the hour is finished and leaves the makefile
	touch "$d/mosaics/20251024T12.sources.json"
	run -0 uvm-plan -D "$d"
	! grep -q 'mosaics/20251024T12' "$d/state/pipeline.mk" || false
	grep -qx 20251024T12 "$d/state/hours.idx"
	# uvm-remake products/20251024T120503/image.fits: the group leaves
	# done.idx and its image is removed
	sed -i '/^20251024T120503 /d' "$d/state/done.idx"
	rm "$d/products/20251024T120503/image.fits"
	run -0 uvm-plan -D "$d"
	! grep -qx 20251024T12 "$d/state/hours.idx" || false
	run -0 mosaic_block 20251024T12
	assert_line '  products/20251024T120003/qa.json \'
	run make -n --no-print-directory -C "$d" -f state/pipeline.mk
	# the hour's mosaic once, the other finished group never re-made
	[ "$(grep -c 'uvm-mosaic' <<<"$output")" -eq 1 ]
	assert_line --partial "uvm-mosaic -b -H 20251024T12 -o mosaics/20251024T12.fits"
	assert_line --partial "-s image -t products/20251024T120503/image.fits"
	assert_line --partial "-s qa -t products/20251024T120503/qa.json"
	! grep -v uvm-mosaic <<<"$output" | grep -q 20251024T120003 || false
	! grep -q 'mosaics/20251024T13' <<<"$output" || false
	# retention removed the other group's products: no longer a prerequisite
	rm -r "$d/products/20251024T120003"
	run -0 uvm-plan -D "$d"
	run -0 mosaic_block 20251024T12
	assert_output "mosaics/20251024T12.fits: \\
  products/20251024T120503/qa.json \\
  state/settings/mosaic.conf \\
  | mosaics/"
}

@test "uvm-plan: a deployment from before mosaics: finished hours are not back-filled" {
	group $T0
	group $((T0 + 3600))
	finish_group 20251024T120003
	[ ! -e "$d/state/hours.idx" ]
	run -0 uvm-plan -D "$d"
	assert_output --partial "1 finished hour(s) from before mosaics existed: not mosaicked"
	grep -qx 20251024T12 "$d/state/hours.idx"
	# (the next hour's, in progress, is planned: its group is there)
	! grep -q 'mosaics/20251024T12' "$d/state/pipeline.mk" || false
	# from then on, as usual: the next hour, once past, is planned
	group $((T0 + 7200))
	run -0 uvm-plan -D "$d"
	run -0 mosaic_block 20251024T13
	assert_output "mosaics/20251024T13.fits: \\
  products/20251024T130003/qa.json \\
  state/settings/mosaic.conf \\
  | mosaics/"
}

@test "uvm-plan: a calibrator group retires once its table and products exist; a table newer than them re-makes them first" {
	# 3C48 (ops/calibrators.csv) transits OVRO at 07:16:34 UTC on
	# 2025-10-25 (where uvm-sim -k 3C48 -C 0 puts its first group)
	t=$(date -u -d 2025-10-25T07:16:12Z +%s)
	g=20251025T071615
	group "$t"
	run -0 uvm-plan -D "$d"
	grep -q "^caltables/$g.cal.h5:" "$d/state/pipeline.mk"
	grep -qx "CAL_$g := caltables/$g.cal.h5" "$d/state/pipeline.mk"
	now=$(date +%s)
	finish_group "$g" -d "@$((now - 60))"
	# the table made after the products that read it: they are re-made
	touch -d "@$now" "$d/caltables/$g.cal.h5"
	run -0 uvm-plan -D "$d"
	[ ! -s "$d/state/done.idx" ]
	grep -q "^products/$g/cal.uvh5:" "$d/state/pipeline.mk"
	# the table older, as the pipeline makes it (after its input, before
	# what reads it): the group retires
	touch -d "@$((now - 180))" "$d/products/$g"/{sb*.ok,vis.uvh5,flag.uvh5,flag.json}
	touch -d "@$((now - 120))" "$d/caltables/$g.cal.h5"
	run -0 uvm-plan -D "$d" -v
	assert_output "$g done 16/16 -"
	grep -q "^$g " "$d/state/done.idx"
	# out of the makefile but for its hour's mosaic, which reads its qa.json
	! grep -Eq "^(IN_$g|CAL_$g|products/$g/)" "$d/state/pipeline.mk" || false
	grep -A1 "^mosaics/20251025T07.fits:" "$d/state/pipeline.mk" | grep -qx "  products/$g/qa.json \\\\"
}

@test "uvm-plan: a calibrator transits at the declination the group's files point at (verify's report), not at POINTING_DEC_DEG" {
	# 3C147 (dec 49.85) transits in the group; the config's pointing is
	# the default 33.16, 16.7 deg away
	small_conf "$d"
	uvm-sim -a 8 -s 4 -c 4 -t 3 -S 7 -n 0.05 -K "$UVM_ROOT/ops/calibrators.csv" \
		-k 3C147 -C 0 -g 1 -o "$in" >/dev/null
	f=$(cd "$in" && ls *_sb00.hdf5)
	g=$(sed 's/_sb00\.hdf5$//' <<<"$f" | tr -d ':-')
	# before verify ran: the config's declination, no calibrator
	run -0 uvm-plan -D "$d"
	grep -q "^products/$g/sb00.ok:" "$d/state/pipeline.mk"
	! grep -q "^caltables/$g.cal.h5:" "$d/state/pipeline.mk" || false
	# verify's report of one subband (the recipe's command) says where the
	# files point: a calibrator group, its own table chosen
	mkdir -p "$d/products/$g"
	uvm-verify -q -o "$d/products/$g/sb00.ok" "$in/$f"
	run jq -r '.pointing.kind + " " + (.pointing.dec_deg * 100 | round | tostring)' \
		"$d/products/$g/sb00.ok"
	assert_output "meridian 4986"
	run -0 uvm-plan -D "$d"
	grep -q "^caltables/$g.cal.h5:" "$d/state/pipeline.mk"
	grep -qx "CAL_$g := caltables/$g.cal.h5" "$d/state/pipeline.mk"
	# a report without a pointing (an older verify's) leaves the config's
	echo '{"file":"x","valid":true,"status":0}' >"$d/products/$g/sb00.ok"
	run -0 uvm-plan -D "$d"
	! grep -q "^caltables/$g.cal.h5:" "$d/state/pipeline.mk" || false
}

@test "uvm-plan: settings files hold the recipes' SHA-256: a changed recipe re-makes its stage only; a file from before recipes keeps its time" {
	cp -r "$UVM_ROOT/rules" "$BATS_TEST_TMPDIR/rules"
	r=$BATS_TEST_TMPDIR/rules
	sed -i "s|^RULES_DIR=.*|RULES_DIR=$r|" "$d/uvmake.conf"
	group $T0 -d @$T0
	g=20251024T120003
	run -0 uvm-plan -D "$d"
	# every stage has a file, keys or not, with sha256sum's digests of its
	# recipe and common.mk; first written at the epoch (nothing to re-make)
	for s in $(awk '!/^#/ && NF >= 9 { print $1 }' "$r/stages"); do
		f=$d/state/settings/$s.conf
		grep -qx "# recipe rules/$s.mk sha256 $(sha256sum <"$r/$s.mk" | cut -d' ' -f1)" "$f"
		grep -qx "# recipe rules/common.mk sha256 $(sha256sum <"$r/common.mk" | cut -d' ' -f1)" "$f"
		[ "$(stat -c %Y "$f")" -eq 0 ]
	done
	grep -q " state/settings/verify.conf " "$d/state/pipeline.mk"
	finish_group $g
	# a comment more in qa.mk: the group stays planned, qa.json (and what
	# reads it) is re-made, nothing upstream
	echo '# another comment' >>"$r/qa.mk"
	run -0 uvm-plan -D "$d"
	! grep -q "^$g " "$d/state/done.idx" || false
	[ "$(stat -c %Y "$d/state/settings/qa.conf")" -gt 0 ]
	run -1 make -q --no-print-directory -C "$d" -f state/pipeline.mk "products/$g/qa.json"
	run -0 make -q --no-print-directory -C "$d" -f state/pipeline.mk "products/$g/image.fits"
	# a settings file written before the recipes were in it (an upgrade
	# from such a version): completed at its old time, nothing re-made
	f=$d/state/settings/image.conf
	grep -v '^# recipe' "$f" >"$f.old" && mv "$f.old" "$f"
	touch -d @1000000000 "$f"
	run -0 uvm-plan -D "$d"
	grep -q '^# recipe rules/image.mk sha256 ' "$f"
	[ "$(stat -c %Y "$f")" -eq 1000000000 ]
	run -0 make -q --no-print-directory -C "$d" -f state/pipeline.mk "products/$g/image.fits"
}

@test "uvm-plan: a re-make cut short (a product older than its input) keeps the group planned until make finishes it" {
	group $T0
	g=20251024T120003
	now=$(date +%s)
	finish_group "$g" -d "@$((now - 60))"
	# a cycle stopped after calapply re-made cal.uvh5, before the image
	touch -d "@$now" "$d/products/$g/cal.uvh5"
	run -0 uvm-plan -D "$d"
	[ ! -s "$d/state/done.idx" ]
	grep -q "^products/$g/image.fits: products/$g/cal.uvh5" "$d/state/pipeline.mk"
	# make finished it: every product as new as its inputs; it retires
	finish_group "$g" -d "@$now"
	run -0 uvm-plan -D "$d" -v
	assert_output "$g done 16/16 -"
	grep -q "^$g " "$d/state/done.idx"
}

# reg GROUP TRANSIT_MJD MTIME: a good table of GROUP, valid 12 h either
# side of its transit, in the calibration registry (the schema of
# src/lib/sci/cal_registry.c, migration 1), and its file dated MTIME
reg() {
	mkdir -p "$d/caltables"
	touch -d "@$3" "$d/caltables/$1.cal.h5"
	sqlite3 "$d/state/calibration.sqlite" "PRAGMA user_version" >/dev/null
	sqlite3 "$d/state/calibration.sqlite" \
		"CREATE TABLE IF NOT EXISTS caltables (id INTEGER PRIMARY KEY,
		  path TEXT NOT NULL, grp TEXT NOT NULL UNIQUE, calibrator TEXT NOT NULL,
		  transit_mjd REAL NOT NULL, mjd_start REAL NOT NULL, mjd_end REAL NOT NULL,
		  frac_flagged REAL, median_snr REAL, residual_rms REAL, created REAL NOT NULL,
		  status TEXT NOT NULL CHECK (status IN ('good', 'rejected')), reason TEXT NOT NULL DEFAULT '');
		 CREATE INDEX IF NOT EXISTS caltables_status ON caltables(status, transit_mjd);
		 PRAGMA user_version = 1;
		 INSERT INTO caltables (path, grp, calibrator, transit_mjd, mjd_start, mjd_end,
		  frac_flagged, median_snr, residual_rms, created, status)
		 VALUES ('caltables/$1.cal.h5', '$1', 'X', $2, $2 - 0.5, $2 + 0.5, 0, 50, 0.01, $3, 'good')"
}

@test "uvm-plan: a nearer table registered during the make run that used the old one still re-makes the group (the choice is a prerequisite)" {
	group $T0 -d @$T0
	g=20251024T120003
	mjd=$(jq -n "$T0 / 86400 + 40587")
	now=$(date +%s)
	# the only table when the group is planned: 3 h before it
	reg 20251024T090000 "$(jq -n "$mjd - 0.125")" $((now - 600))
	run -0 uvm-plan -D "$d"
	grep -qx "CAL_$g := caltables/20251024T090000.cal.h5" "$d/state/pipeline.mk"
	grep -qx "caltables/20251024T090000.cal.h5" "$d/state/chosen/$g"
	[ "$(stat -c %Y "$d/state/chosen/$g")" -eq 0 ]
	# a nearer calibrator's table is registered (10 min after the group)
	# while the same make run calibrates the group with the old one: the
	# new table is older than the group's products
	reg 20251024T121000 "$(jq -n "$mjd + 0.007")" $((now - 300))
	finish_group "$g" -d "@$((now - 60))"
	run -0 uvm-plan -D "$d"
	grep -qx "CAL_$g := caltables/20251024T121000.cal.h5" "$d/state/pipeline.mk"
	grep -qx "caltables/20251024T121000.cal.h5" "$d/state/chosen/$g"
	# not finished: make re-makes what read the old table
	[ ! -s "$d/state/done.idx" ]
	run -1 make -q --no-print-directory -C "$d" -f state/pipeline.mk "products/$g/cal.uvh5"
	# once re-made, the group retires and its stamp goes
	finish_group "$g"
	run -0 uvm-plan -D "$d"
	grep -q "^$g " "$d/state/done.idx"
	[ ! -e "$d/state/chosen/$g" ]
}
