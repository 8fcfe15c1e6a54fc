#!/usr/bin/env bats
# resources.bats: tmpfs staging, per-stage slots, memory admission and the
# priority order of the generated makefile (issue 10), end to end through
# uvm-make where it matters and with tiny fake jobs where only the wrapper
# is under test.
#
# Staging: products of combine and calapply go to STAGING_DIR behind a
# symlink when it has room (bytes identical to a run on disk), to disk when
# the staging file system is full; a wipe of the staging directory (what a
# reboot does to tmpfs) re-makes only what a missing product is needed for.
# Slots serialize jobs of a stage and are free at once when their holder is
# SIGKILLed; a declared peak of memory waits until MemAvailable has it.

bats_require_minimum_version 1.5.0
load test_helper

# gid DIR [N]: the id of the Nth group (1-based) of a deployment: its sb00
# file's time (the simulator puts the calibrator's transit where asked)
gid() {
	ls "$1/incoming" | grep '_sb00\.hdf5$' | sort | sed -n "${2:-1}p" |
		sed 's/^\(....\)-\(..\)-\(..\)T\(..\):\(..\):\(..\)_.*/\1\2\3T\4\5\6/'
}

setup() {
	D=$BATS_TEST_TMPDIR/d
}

teardown() {
	cd /
	for m in "$BATS_TEST_TMPDIR"/shm*; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	return 0
}

# deploy DIR STAGING_DIR: a small deployment; one calibrator group
deploy() {
	small_deploy "$1" IMAGE_NPIX=64 IMAGE_NITER=50 DISK_MARGIN_MB=0 STAGING_DIR="$2" \
		STAGING_MAX_PERCENT=100
	uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -S 7 -n 0.05 \
		-K "$UVM_ROOT/ops/calibrators.csv" -k 3C48 -C 0 -g "${3:-1}" \
		-o "$1/incoming" >/dev/null
	G=$(gid "$1")
}

# ok_jobs DIR STAGE: successful jobs of a stage so far
ok_jobs() {
	sqlite3 "$1/state/pipeline.sqlite" \
		"select count(*) from jobs where stage = '$2' and class = 'ok'"
}

@test "resources: staged on tmpfs when it has room, to disk when full; same bytes" {
	tiny_fs "$BATS_TEST_TMPDIR/shm-full" 64 || skip "cannot mount tmpfs"
	deploy "$D" "$BATS_TEST_TMPDIR/shm"
	deploy "$BATS_TEST_TMPDIR/e" "$BATS_TEST_TMPDIR/shm-full"
	settle "$D"
	settle "$BATS_TEST_TMPDIR/e"
	for f in vis.uvh5 cal.uvh5; do
		# room: a symlink into the staging directory, the file there
		[ -L "$D/products/$G/$f" ]
		[ "$(readlink "$D/products/$G/$f")" = "$BATS_TEST_TMPDIR/shm/$G/$f" ]
		[ -f "$BATS_TEST_TMPDIR/shm/$G/$f" ]
		# full (64 KB tmpfs): a regular file on disk
		[ -f "$BATS_TEST_TMPDIR/e/products/$G/$f" ] && [ ! -L "$BATS_TEST_TMPDIR/e/products/$G/$f" ]
		cmp "$D/products/$G/$f" "$BATS_TEST_TMPDIR/e/products/$G/$f"
	done
	cmp "$D/products/$G/image.fits" "$BATS_TEST_TMPDIR/e/products/$G/image.fits"
	[ ! -L "$D/products/$G/image.fits" ]
	run grep -h "staging:" "$BATS_TEST_TMPDIR/e/logs/$G/combine.log"
	assert_output --partial "written to disk: "
	assert_output --partial "MB free of 0 MB on '$BATS_TEST_TMPDIR/shm-full'"
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/shm-full")" ] || [ "$(find "$BATS_TEST_TMPDIR/shm-full" -type f | wc -l)" -eq 0 ]
	no_temps "$BATS_TEST_TMPDIR/shm"
	no_temps "$D/products"
	# no reservation outlives its job
	[ -z "$(ls "$D/state/slots" | grep -E '^(stg|mem)\.')" ]
}

@test "resources: a staged job the staging file system fails (no inode left) runs again on disk at once" {
	# the tmpfs has bytes to spare, so admission stages calapply, but no
	# inode for its output: it fails 74 there; it must fall back to disk,
	# not retry into the same wall until dead-lettered
	S=$BATS_TEST_TMPDIR/shm
	mkdir -p "$S"
	mount -t tmpfs -o size=64m,nr_inodes=40 tmpfs "$S" 2>/dev/null || skip "cannot mount tmpfs"
	deploy "$D" "$S"
	run -0 uvm-make -D "$D" -w 60 "products/$G/flag.uvh5" "caltables/$G.cal.h5"
	[ -L "$D/products/$G/flag.uvh5" ]
	i=0
	while : >"$S/fill$i" 2>/dev/null; do i=$((i + 1)); done
	[ "$(df --output=iavail "$S" | tail -1)" -eq 0 ]
	settle "$D"
	# made on disk, read by the next stages, the hour's mosaic made
	[ -f "$D/products/$G/cal.uvh5" ] && [ ! -L "$D/products/$G/cal.uvh5" ]
	[ -f "$D/products/$G/qa.json" ]
	[ -n "$(ls "$D/mosaics")" ]
	sql() { sqlite3 "$D/state/pipeline.sqlite" "$@"; }
	# one record of the staged failure, honest and not counted, then ok
	[ "$(sql "select group_concat(class || ':' || attempt, ' ') from (select class, attempt from jobs where stage = 'calapply' order by id)")" = "staging:1 ok:1" ]
	[ "$(sql "select count(*) from jobs where class = 'staging' and note like '%No space left on device%'")" -eq 1 ]
	[ "$(sql "select count(*) from targets where state = 'dead'")" -eq 0 ]
	grep -q "staging: 'products/$G/cal.uvh5' written to disk: the staged attempt could not write there" \
		"$D/logs/$G/calapply.log"
	no_temps "$S"
}

@test "resources: a wipe of the staging directory re-makes only what is needed" {
	S=$BATS_TEST_TMPDIR/shm
	deploy "$D" "$S"
	# everything but qa: the group stays active
	settle "$D" "products/$G/image.fits" "caltables/$G.cal.h5"
	[ -L "$D/products/$G/cal.uvh5" ] && [ ! -e "$D/products/$G/qa.json" ]
	[ "$(ok_jobs "$D" combine)" -eq 1 ] && [ "$(ok_jobs "$D" calapply)" -eq 1 ]
	# the makefile declares the staged products secondary; until the
	# planner writes that line (plan_order_secondary), add it here
	uvm-plan -D "$D"
	extra=()
	if ! grep -q '^\.SECONDARY:' "$D/state/pipeline.mk"; then
		printf '.SECONDARY: products/%s/vis.uvh5 products/%s/cal.uvh5\n' "$G" "$G" \
			>"$BATS_TEST_TMPDIR/secondary.mk"
		extra=(-f "$BATS_TEST_TMPDIR/secondary.mk")
	fi
	mk() { make --no-print-directory -k -C "$D" -f state/pipeline.mk "${extra[@]}" "$@"; }

	rm -rf "${S:?}"/*   # reboot: tmpfs is empty, the links dangle
	[ -L "$D/products/$G/vis.uvh5" ] && [ ! -e "$D/products/$G/vis.uvh5" ]
	run mk -n
	assert_success
	refute_output --partial "-s combine"
	refute_output --partial "-s calapply"
	refute_output --partial "-s image"
	assert_output --partial "-s qa"
	mk >/dev/null 2>&1
	[ -f "$D/products/$G/qa.json" ]
	[ "$(ok_jobs "$D" verify)" -eq 4 ] && [ "$(ok_jobs "$D" combine)" -eq 1 ] &&
		[ "$(ok_jobs "$D" calapply)" -eq 1 ] && [ "$(ok_jobs "$D" image)" -eq 1 ] &&
		[ "$(ok_jobs "$D" qa)" -eq 1 ]

	# a product that needs the vanished ones: they are made again, staged
	rm -rf "${S:?}"/* "$D/products/$G/image.fits"
	mk >/dev/null 2>&1
	[ "$(ok_jobs "$D" verify)" -eq 4 ]
	[ "$(ok_jobs "$D" combine)" -eq 2 ] && [ "$(ok_jobs "$D" calapply)" -eq 2 ] &&
		[ "$(ok_jobs "$D" image)" -eq 2 ]
	[ -f "$S/$G/cal.uvh5" ] && [ -f "$D/products/$G/image.fits" ]
}

@test "resources: staging off after a staged run: the dangling link goes, disk is used" {
	S=$BATS_TEST_TMPDIR/shm
	deploy "$D" "$S"
	settle "$D" "products/$G/vis.uvh5"
	[ -L "$D/products/$G/vis.uvh5" ]
	rm -rf "${S:?}"/*
	sed -i 's|^STAGING_DIR=.*|STAGING_DIR=|' "$D/uvmake.conf"
	settle "$D" "products/$G/vis.uvh5"
	[ -f "$D/products/$G/vis.uvh5" ] && [ ! -L "$D/products/$G/vis.uvh5" ]
	run grep -c "staging: removed the link" "$D/logs/$G/combine.log"
	assert_output 1
}

# ---- slots and memory, with fake jobs -------------------------------

fake_home() {
	mkdir -p "$D"/state "$D"/products "$D"/logs
	printf '%s\n' DISK_MARGIN_MB=0 RETRY_MAX=1 "$@" >"$D/uvmake.conf"
	cd "$D"
}

@test "resources: SLOTS_x=1 serializes two jobs; make -j2 does not matter" {
	fake_home SLOTS_x=1
	job='echo "start $(date +%s.%N)" >>"$1"; sleep 1; echo "end $(date +%s.%N)" >>"$1"'
	uvm-run -D "$D" -s x -t out/a -- sh -c "$job" sh "$BATS_TEST_TMPDIR/a" &
	uvm-run -D "$D" -s x -t out/b -- sh -c "$job" sh "$BATS_TEST_TMPDIR/b" &
	wait
	# one job ended before the other started
	a0=$(awk '/start/{print $2}' "$BATS_TEST_TMPDIR/a"); a1=$(awk '/end/{print $2}' "$BATS_TEST_TMPDIR/a")
	b0=$(awk '/start/{print $2}' "$BATS_TEST_TMPDIR/b"); b1=$(awk '/end/{print $2}' "$BATS_TEST_TMPDIR/b")
	awk -v a0="$a0" -v a1="$a1" -v b0="$b0" -v b1="$b1" 'BEGIN { exit !(a1 <= b0 || b1 <= a0) }'
	run grep -h "waiting for a 'x' slot (SLOTS_x=1)" "$D"/logs/x.log
	assert_success
	[ "$(sqlite3 state/pipeline.sqlite "select count(*) from jobs where class = 'ok'")" -eq 2 ]
	# SLOTS_x=2: they overlap
	printf 'SLOTS_x=2\n' >>"$D/uvmake.conf"
	rm -f "$BATS_TEST_TMPDIR"/a "$BATS_TEST_TMPDIR"/b
	uvm-run -D "$D" -s x -t out/c -- sh -c "$job" sh "$BATS_TEST_TMPDIR/a" &
	uvm-run -D "$D" -s x -t out/d -- sh -c "$job" sh "$BATS_TEST_TMPDIR/b" &
	wait
	a0=$(awk '/start/{print $2}' "$BATS_TEST_TMPDIR/a"); a1=$(awk '/end/{print $2}' "$BATS_TEST_TMPDIR/a")
	b0=$(awk '/start/{print $2}' "$BATS_TEST_TMPDIR/b"); b1=$(awk '/end/{print $2}' "$BATS_TEST_TMPDIR/b")
	awk -v a0="$a0" -v a1="$a1" -v b0="$b0" -v b1="$b1" 'BEGIN { exit !(a0 < b1 && b0 < a1) }'
}

@test "resources: a SIGKILLed slot holder frees its slot at once" {
	fake_home SLOTS_x=1 RESOURCE_WAIT_MAX=2
	uvm-run -D "$D" -s x -t out/a -- sleep 60 &
	holder=$!
	for i in $(seq 1 100); do
		grep -q out/a state/slots/slot.x.0 2>/dev/null && break
		sleep 0.1
	done
	grep -q "^$holder out/a" state/slots/slot.x.0
	# while held: a second job waits, then gives up (class resource, 75)
	run -75 uvm-run -D "$D" -s x -t out/b -- true
	assert_output --regexp "waited [23] s for a 'x' slot \\(SLOTS_x=1\\)"
	[ "$(sqlite3 state/pipeline.sqlite "select class from jobs where target = 'out/b'")" = resource ]
	kill -KILL "$holder"
	wait "$holder" || true
	t0=$EPOCHREALTIME
	run -0 uvm-run -D "$D" -s x -t out/c -- true
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a < 1.5) }'
	run grep -c "waiting" "$D/logs/x.log"
	assert_output 1
}

@test "resources: a declared peak of memory waits until it is available" {
	fake_home MEM_x=500 RESOURCE_WAIT_MAX=30
	export UVM_MEMINFO=$BATS_TEST_TMPDIR/meminfo
	printf 'MemTotal: 16000000 kB\nMemAvailable: 102400 kB\n' >"$UVM_MEMINFO"
	uvm-run -D "$D" -s x -t out/a -- touch "$BATS_TEST_TMPDIR/ran" &
	pid=$!
	sleep 1.5
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
	grep -q "waiting for 500 MB of memory (100 MB available" "$D/logs/x.log"
	printf 'MemTotal: 16000000 kB\nMemAvailable: 8192000 kB\n' >"$UVM_MEMINFO"
	wait "$pid"
	[ -e "$BATS_TEST_TMPDIR/ran" ]
	grep -q "waited .* s for resources" "$D/logs/x.log"
	# never enough within RESOURCE_WAIT_MAX: not run, exit 75, not counted
	printf 'MEM_x=500\nRESOURCE_WAIT_MAX=0.3\n' >>"$D/uvmake.conf"
	printf 'MemTotal: 16000000 kB\nMemAvailable: 102400 kB\n' >"$UVM_MEMINFO"
	run -75 uvm-run -D "$D" -s x -t out/b -- touch "$BATS_TEST_TMPDIR/ran-b"
	[ ! -e "$BATS_TEST_TMPDIR/ran-b" ]
	[ "$(sqlite3 state/pipeline.sqlite "select attempts from targets where target = 'out/b'" )" = "" ] ||
		[ "$(sqlite3 state/pipeline.sqlite "select attempts from targets where target = 'out/b'")" -eq 0 ]
}

@test "resources: the makefile lists calibrators, then the newest, then the backlog oldest first" {
	uvm-init "$D" >/dev/null
	cat >>"$D/uvmake.conf" <<-CONF
	SUBBANDS=4
	GROUP_TOLERANCE=20
	GROUP_SECONDS=39
	PRIORITY_REALTIME=0
	CONF
	# four groups 39 s apart, the calibrator transiting in the second
	uvm-sim -a 6 -s 4 -c 2 -t 3 -j 0 -S 3 \
		-K "$UVM_ROOT/ops/calibrators.csv" -k 3C48 -C 1 -g 4 -o "$D/incoming" >/dev/null
	g1=$(gid "$D" 1) g2=$(gid "$D" 2) g3=$(gid "$D" 3) g4=$(gid "$D" 4)
	uvm-plan -D "$D"
	grep -q '"rank"' "$D/state/plan.json" || skip "planner not wired to plan_order yet"
	# the first all: rule (each planned mosaic adds an 'all:' line of its own)
	run sh -c "awk '/^all:/ { f = 1 } f && /^\$/ { exit } f' '$D/state/pipeline.mk' | grep -o 'products/[0-9T]*/qa.json'"
	assert_output "products/$g2/qa.json
products/$g4/qa.json
products/$g1/qa.json
products/$g3/qa.json"
	# no staging directory: nothing is staged, nothing is .SECONDARY
	run ! grep -q "^.SECONDARY: " "$D/state/pipeline.mk"
	echo "STAGING_DIR=$BATS_TEST_TMPDIR/stage" >>"$D/uvmake.conf"
	uvm-plan -D "$D"
	grep -q "^.SECONDARY: " "$D/state/pipeline.mk"
	# plan.json ranks say the same
	run sh -c "grep -o '\"id\": \"[0-9T]*\", [^}]*\"rank\": [0-9]*' '$D/state/plan.json' | sed 's/\"id\": \"\\([0-9T]*\\)\".*\"rank\": \\([0-9]*\\)/\\2 \\1/' | sort -n"
	assert_output "0 $g2
1 $g4
2 $g1
3 $g3"
}

@test "resources: evicted or wiped intermediates of finished groups are never chased; the hour's mosaic is re-made" {
	# issue 18 item 5: a later group of the same hour re-makes the mosaic,
	# which must depend only on what persists (qa.json of finished groups)
	S=$BATS_TEST_TMPDIR/shm
	tiny_fs "$S" 200 || skip "cannot mount tmpfs"
	deploy "$D" "$S" 3
	mkdir "$BATS_TEST_TMPDIR/later"
	G3=$(gid "$D" 3)
	# the third group's four files (jitter 2 s, groups 39 s apart)
	for f in $(ls "$D/incoming" | sort | sed -n 9,12p); do
		mv "$D/incoming/$f" "$BATS_TEST_TMPDIR/later/"
	done
	[ "$(ls "$D/incoming" | wc -l)" -eq 8 ]
	settle "$D"
	uvm-make -D "$D" -w 60 >/dev/null 2>&1     # retires the finished groups
	[ "$(wc -l <"$D/state/done.idx")" -eq 2 ]
	H=$(ls "$D/mosaics" | grep '\.fits$')
	[ -n "$H" ]
	# a reboot empties the staging tmpfs: every staged link now dangles
	rm -rf "${S:?}"/*
	last=$(sqlite3 "$D/state/pipeline.sqlite" "select max(id) from jobs")
	n=$(find "$D/products" -xtype l | wc -l)
	[ "$n" -ge 1 ]
	# the hour's last group arrives
	mv "$BATS_TEST_TMPDIR/later"/* "$D/incoming/"
	settle "$D"
	uvm-make -D "$D" -w 60 >/dev/null 2>&1
	[ -f "$D/products/$G3/qa.json" ]
	[ "$D/mosaics/$H" -nt "$D/products/$G3/qa.json" ]
	# combine ran once a group (never without inputs: no 64), nothing
	# dead-lettered, and nothing at all after the wipe but the new group's
	# jobs and the mosaic
	[ "$(ok_jobs "$D" combine)" -eq 3 ]
	sql() { sqlite3 "$D/state/pipeline.sqlite" "$@"; }
	[ "$(sql "select count(*) from jobs where status = 64")" -eq 0 ]
	[ "$(sql "select count(*) from targets where state = 'dead'")" -eq 0 ]
	[ "$(sql "select count(*) from jobs where id > $last and target not like '%$G3%' and stage not in ('mosaic', 'msources')")" -eq 0 ]
	[ "$(sqlite3 "$D/state/pipeline.sqlite" "select count(*) from jobs where stage = 'mosaic' and class = 'ok'")" -eq 2 ]
	[ "$(wc -l <"$D/state/done.idx")" -eq 3 ]
	[ -z "$(ls "$D/quarantine")" ]
}

@test "resources: ordinary eviction on a small staging tmpfs chases nothing; the hour's mosaic is re-made" {
	# issue 18 item 5 as it happened: no wipe, a staging tmpfs too small
	# for the hour, so the third group's jobs evict the staged products of
	# the finished ones (STAGING_EVICT_AFTER, qa.json) to make room; then
	# the hour's fourth group re-makes the mosaic over the evicted groups
	S=$BATS_TEST_TMPDIR/shm
	tiny_fs "$S" 200 || skip "cannot mount tmpfs"
	deploy "$D" "$S" 4
	mkdir "$BATS_TEST_TMPDIR/g3" "$BATS_TEST_TMPDIR/g4"
	G3=$(gid "$D" 3)
	G4=$(gid "$D" 4)
	for f in $(ls "$D/incoming" | sort | sed -n 9,12p); do mv "$D/incoming/$f" "$BATS_TEST_TMPDIR/g3/"; done
	for f in $(ls "$D/incoming" | sort | sed -n 9,12p); do mv "$D/incoming/$f" "$BATS_TEST_TMPDIR/g4/"; done
	[ "$(ls "$D/incoming" | wc -l)" -eq 8 ]
	settle "$D"
	uvm-make -D "$D" -w 60 >/dev/null 2>&1     # retires the finished groups
	[ "$(wc -l <"$D/state/done.idx")" -eq 2 ]
	H=$(ls "$D/mosaics" | grep '\.fits$')
	[ "$(find "$D/products" -type l | wc -l)" -ge 1 ]
	mv "$BATS_TEST_TMPDIR/g3"/* "$D/incoming/"
	settle "$D"
	uvm-make -D "$D" -w 60 >/dev/null 2>&1
	[ "$(wc -l <"$D/state/done.idx")" -eq 3 ]
	# eviction did happen, by the third group's jobs, to finished groups
	grep -h "staging: removed .*: its group is finished" "$D/logs/$G3"/*.log | grep -v "/$G3/"
	[ "$(find "$D/products" -xtype l | wc -l)" -ge 1 ]      # links left dangling
	last=$(sqlite3 "$D/state/pipeline.sqlite" "select max(id) from jobs")
	mv "$BATS_TEST_TMPDIR/g4"/* "$D/incoming/"
	settle "$D"
	uvm-make -D "$D" -w 60 >/dev/null 2>&1
	[ -f "$D/products/$G4/qa.json" ]
	[ "$D/mosaics/$H" -nt "$D/products/$G4/qa.json" ]
	sql() { sqlite3 "$D/state/pipeline.sqlite" "$@"; }
	[ "$(ok_jobs "$D" combine)" -eq 4 ]
	[ "$(sql "select count(*) from jobs where status = 64")" -eq 0 ]
	[ "$(sql "select count(*) from targets where state = 'dead'")" -eq 0 ]
	[ "$(sql "select count(*) from jobs where id > $last and target not like '%$G4%' and stage not in ('mosaic', 'msources')")" -eq 0 ]
	[ "$(wc -l <"$D/state/done.idx")" -eq 4 ]
}
