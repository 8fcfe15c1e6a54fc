#!/usr/bin/env bats
# uvm-retain: age limits, disk pressure, never what is still needed.

load test_helper

G1=20251020T120003   # finished, old
G2=20251024T120003   # finished, recent
G3=20251024T130003   # not finished (not in done.idx)

setup() {
	d=$BATS_TEST_TMPDIR/d
	uvm-init "$d" >/dev/null
	for g in $G1 $G2 $G3; do
		mkdir -p "$d/products/$g"
		for f in sb00.ok vis.uvh5 cal.uvh5 image.fits qa.json; do
			head -c 100000 /dev/zero >"$d/products/$g/$f"
		done
	done
	printf '%s 0 0\n%s 0 0\n' $G1 $G2 >"$d/state/done.idx"
	old=$(date -d '10 days ago' +%Y%m%d%H%M)
	touch -t "$old" "$d/products/$G1"/* "$d/products/$G3"/*
	touch "$d/incoming/2025-10-20T12:00:03_sb00.hdf5" "$d/quarantine/x.hdf5"
	touch -t "$old" "$d/incoming/2025-10-20T12:00:03_sb00.hdf5" "$d/quarantine/x.hdf5"
}

@test "uvm-retain: usage" {
	run -0 uvm-retain --help
	assert_output "usage: uvm-retain [-D home] [-n] [-v]"
	run -64 uvm-retain x
	run -66 uvm-retain -D "$BATS_TEST_TMPDIR"
}

@test "uvm-retain: -n lists what age removes and changes nothing" {
	run -0 uvm-retain -D "$d" -n
	assert_line "would remove products/$G1/vis.uvh5 (age, 100000 bytes)"
	assert_line "would remove products/$G1/cal.uvh5 (age, 100000 bytes)"
	[ "${#lines[@]}" -eq 2 ]
	[ -f "$d/products/$G1/vis.uvh5" ]
	[ ! -f "$d/logs/retain.log" ]
}

@test "uvm-retain: removes old intermediates of finished groups only; re-run changes nothing" {
	run -0 uvm-retain -D "$d"
	[ ! -f "$d/products/$G1/vis.uvh5" ]
	[ ! -f "$d/products/$G1/cal.uvh5" ]
	[ -f "$d/products/$G1/image.fits" ]     # 90 days
	[ -f "$d/products/$G1/qa.json" ]
	[ -f "$d/products/$G2/vis.uvh5" ]       # recent
	[ -f "$d/products/$G3/vis.uvh5" ]       # old but group not finished
	[ -f "$d/incoming/2025-10-20T12:00:03_sb00.hdf5" ]   # inputs kept by default
	[ -f "$d/quarantine/x.hdf5" ]
	[ "$(grep -c remove "$d/logs/retain.log")" -eq 2 ]
	run -0 uvm-retain -D "$d"
	[ "$(grep -c remove "$d/logs/retain.log")" -eq 2 ]
}

@test "uvm-retain: inputs of finished groups go after RETAIN_INPUT_DAYS; quarantine never" {
	echo RETAIN_INPUT_DAYS=5 >>"$d/uvmake.conf"
	run -0 uvm-retain -D "$d"
	[ ! -f "$d/incoming/2025-10-20T12:00:03_sb00.hdf5" ]
	[ -f "$d/quarantine/x.hdf5" ]
}

@test "uvm-retain: disk pressure removes oldest removable first until above the threshold" {
	tiny_fs "$d/products" 4096 || skip "cannot mount tmpfs here"
	for g in $G1 $G2 $G3; do mkdir -p "$d/products/$g"; done
	# 3 MB used of 4 MB: the threshold of 2 MB free needs about 1 MB back
	for g in $G1 $G2 $G3; do head -c 1000000 /dev/zero >"$d/products/$g/vis.uvh5"; done
	touch -t "$(date -d '2 days ago' +%Y%m%d%H%M)" "$d/products/$G1/vis.uvh5"
	touch -t "$(date -d '1 days ago' +%Y%m%d%H%M)" "$d/products/$G2/vis.uvh5"
	echo RETAIN_MIN_FREE_MB=2 >>"$d/uvmake.conf"
	run uvm-retain -D "$d" -v
	umount "$d/products" 2>/dev/null || true
	[ "$status" -eq 0 ]
	assert_line "removed products/$G1/vis.uvh5 (disk, 1000000 bytes)"
	refute_line --partial "$G3"
}

@test "uvm-retain: archives before deleting, with rclone off-site" {
	export RCLONE_CONFIG_COLD_TYPE=local
	mkdir "$BATS_TEST_TMPDIR/cold"
	printf 'RETAIN_ARCHIVE=archive\nRETAIN_ARCHIVE_REMOTE=cold:%s\n' "$BATS_TEST_TMPDIR/cold" >>"$d/uvmake.conf"
	run -0 uvm-retain -D "$d"
	a=$(ls "$d"/archive/retained-*.tar)
	run tar -tf "$a"
	assert_line "products/$G1/vis.uvh5"
	assert_line "products/$G1/cal.uvh5"
	cmp "$a" "$BATS_TEST_TMPDIR/cold/$(basename "$a")"
}

@test "uvm-retain: a failed off-site copy deletes nothing (69)" {
	printf 'RETAIN_ARCHIVE=archive\nRETAIN_ARCHIVE_REMOTE=nosuch:x\n' >>"$d/uvmake.conf"
	run -69 uvm-retain -D "$d"
	[ -f "$d/products/$G1/vis.uvh5" ]
}

@test "uvm-retain: busy lock is 76" {
	flock "$d/state/retain.lock" sleep 3 &
	sleep 0.5
	run -76 uvm-retain -D "$d"
	wait
}

@test "uvm-retain: under a full small file system it frees space and the pipeline finishes a new group" {
	f=$BATS_TEST_TMPDIR/fs
	tiny_fs "$f" 8192 || skip "cannot mount tmpfs here"
	e=$f/d
	uvm-init "$e" >/dev/null
	small_conf "$e" SUBBANDS=2 PARTIAL_MIN=2 IMAGE_NPIX=64 IMAGE_NITER=50 RETRY_UNAVAILABLE_BASE=0 \
		DISK_MARGIN_MB=1 RETAIN_MIN_FREE_MB=4
	s=$BATS_TEST_TMPDIR/stream
	uvm-sim -a 6 -s 2 -c 4 -t 3 -j 2 -S 7 -n 0.05 -K "$UVM_ROOT/ops/calibrators.csv" \
		-k 3C48 -C 0 -g 2 -o "$s" >/dev/null
	cycles() { for i in 1 2 3 4 5 6; do uvm-make -D "$e" -w 60 >/dev/null 2>&1 && { uvm-make -D "$e" >/dev/null 2>&1; return 0; }; sleep 1; done; return 1; }
	# group 1 finishes; its intermediates grow to fill the disk
	cp "$s"/$(ls "$s" | sort | head -1) "$s"/$(ls "$s" | sort | sed -n 2p) "$e/incoming/"
	cycles || { umount "$f"; false; }
	g1=$(ls "$e/products")
	grep -q "^$g1 " "$e/state/done.idx"
	# (zeros past the end of an HDF5 file leave it readable)
	head -c 3000000 /dev/zero >>"$e/products/$g1/vis.uvh5"
	head -c 3000000 /dev/zero >>"$e/products/$g1/cal.uvh5"
	# group 2 lands, not processed yet: the disk is below the threshold
	cp "$s"/$(ls "$s" | sort | sed -n 3p) "$s"/$(ls "$s" | sort | sed -n 4p) "$e/incoming/"
	(cd "$e/incoming" && sha256sum *) >"$BATS_TEST_TMPDIR/inputs"
	[ "$(df -k --output=avail "$e" | tail -1)" -lt 4096 ]
	run uvm-retain -D "$e" -v
	st=$status out=$output
	free_kb=$(df -k --output=avail "$e" | tail -1)
	(cd "$e/incoming" && sha256sum -c --quiet "$BATS_TEST_TMPDIR/inputs") || { umount "$f"; false; }
	[ "$st" -eq 0 ] || { umount "$f"; false; }
	[ "$free_kb" -ge 4096 ] || { umount "$f"; false; }
	# the pipeline carries on in the space freed: group 2 is made
	cycles || { umount "$f"; false; }
	g2=$(ls "$e/products" | sort | tail -1)
	ok=1
	[ "$g2" != "$g1" ] && [ -f "$e/products/$g2/qa.json" ] && [ -f "$e/products/$g2/image.fits" ] || ok=0
	[ -f "$e/products/$g1/qa.json" ] && [ -f "$e/products/$g1/sb00.ok" ] || ok=0
	uvm-audit -D "$e" >"$BATS_TEST_TMPDIR/audit" || ok=0
	umount "$f"
	echo "$out"
	cat "$BATS_TEST_TMPDIR/audit"
	[ "$ok" -eq 1 ]
	output=$out
	[[ "$out" == *"removed products/$g1/"*"(disk, 30"*" bytes)"* ]]
	refute_output --partial "incoming/"
}

@test "uvm-retain: a staged product goes by age with its staged file; an unfinished group's stays" {
	stg=$BATS_TEST_TMPDIR/stage
	echo "STAGING_DIR=$stg" >>"$d/uvmake.conf"
	for g in $G1 $G3; do
		mkdir -p "$stg/$g"
		rm "$d/products/$g/cal.uvh5"
		head -c 100000 /dev/zero >"$stg/$g/cal.uvh5"
		ln -s "$stg/$g/cal.uvh5" "$d/products/$g/cal.uvh5"
		touch -t "$old" "$stg/$g/cal.uvh5"
	done
	# a link pointing outside the staging directory is never followed
	ln -s /etc/hostname "$d/products/$G1/image.fits.other"
	run -0 uvm-retain -D "$d" -n
	assert_output --partial "would remove products/$G1/cal.uvh5"
	refute_output --partial "products/$G3/cal.uvh5"
	run -0 uvm-retain -D "$d"
	[ ! -e "$stg/$G1/cal.uvh5" ] && [ ! -L "$d/products/$G1/cal.uvh5" ]
	[ -f "$stg/$G3/cal.uvh5" ] && [ -L "$d/products/$G3/cal.uvh5" ]
	[ -f /etc/hostname ]
	grep -q "remove products/$G1/cal.uvh5 100000 bytes (age)" "$d/logs/retain.log"
}

# job rows: jobs TARGET GROUP STATE AGE_DAYS...: the target's row in state
# STATE and one job per age (days ago), oldest first
jobs() {
	local t=$1 g=$2 s=$3 a now
	shift 3
	now=$(date +%s)
	for a in "$@"; do
		sqlite3 "$d/state/pipeline.sqlite" "insert into jobs (target, grp, stage, command, started, ended,
		    status, class, attempt) values ('$t', '$g', 'x', 'true', $now - $a * 86400 - 10,
		    $now - $a * 86400, 0, 'ok', 1)"
	done
	sqlite3 "$d/state/pipeline.sqlite" "insert into targets (target, grp, stage, state, updated)
	    values ('$t', '$g', 'x', '$s', $now - ${a:-0} * 86400)"
}

count() { sqlite3 "$d/state/pipeline.sqlite" "select count(*) from $1"; }

@test "uvm-retain: the job history of finished groups goes after JOBS_KEEP_DAYS; dead letters, quarantine and last jobs stay" {
	G4=20251020T130003   # finished, old, a dead letter
	printf '%s 0 0\n' $G4 >>"$d/state/done.idx"
	jobs products/$G1/vis.uvh5 $G1 ok 41 40
	jobs products/$G1/qa.json $G1 ok 40
	jobs products/$G2/vis.uvh5 $G2 ok 3 2
	jobs products/$G3/vis.uvh5 $G3 ok 45 40      # not finished: its last job stays
	jobs products/$G4/vis.uvh5 $G4 ok 40
	jobs products/$G4/image.fits $G4 dead 42 41 40
	sqlite3 "$d/state/pipeline.sqlite" "insert into groups (grp, first_seen, nsub, state, updated)
	    values ('$G1', 0, 16, 'done', 0), ('$G2', 0, 16, 'done', 0)"
	sqlite3 "$d/state/pipeline.sqlite" "insert into quarantine (path, original, reason, at)
	    values ('quarantine/x.hdf5', 'incoming/x.hdf5', 'bad', 0)"
	mkdir -p "$d/logs/$G1" "$d/logs/$G2"
	echo log >"$d/logs/$G1/combine.log"
	echo log >"$d/logs/$G2/combine.log"
	# -n: says which groups' records would go, changes nothing
	run -0 uvm-retain -D "$d" -n
	assert_line "jobs of $G1"
	refute_line "jobs of $G2"
	refute_line "jobs of $G4"
	[ "$(count jobs)" = 10 ] && [ -f "$d/logs/$G1/combine.log" ]
	run -0 uvm-retain -D "$d"
	assert_output --partial "pruned the job records and logs of 1 group(s) older than 30 days"
	run -0 sqlite3 "$d/state/pipeline.sqlite" "select target, count(*) from jobs group by target order by target"
	assert_output "$(printf '%s\n' "products/$G4/image.fits|3" "products/$G4/vis.uvh5|1" \
		"products/$G2/vis.uvh5|2" "products/$G3/vis.uvh5|1")"
	run -0 sqlite3 "$d/state/pipeline.sqlite" "select target from targets where grp = '$G1'"
	assert_output ""
	run -0 sqlite3 "$d/state/pipeline.sqlite" "select grp from groups"
	assert_output "$G2"
	[ "$(count quarantine)" = 1 ]
	[ ! -e "$d/logs/$G1" ] && [ -f "$d/logs/$G2/combine.log" ]
	# again: nothing more goes
	run -0 uvm-retain -D "$d"
	[ "$(count jobs)" = 7 ]
	# 0 keeps the history forever
	echo JOBS_KEEP_DAYS=0 >>"$d/uvmake.conf"
	jobs products/$G2/qa.json $G2 ok 400
	run -0 uvm-retain -D "$d"
	[ "$(count jobs)" = 8 ]
}

@test "uvm-retain: the database file shrinks when the pruned history frees a quarter of it" {
	now=$(date +%s)
	sqlite3 "$d/state/pipeline.sqlite" "with recursive n(i) as (select 1 union all select i + 1 from n where i < 2000)
	    insert into jobs (target, grp, stage, command, started, ended, status, class, attempt, provenance)
	    select 'products/$G1/t' || i, '$G1', 'x', 'true', $now - 40 * 86400, $now - 40 * 86400, 0, 'ok', 1,
	    printf('%.500c', 'p') from n"
	sqlite3 "$d/state/pipeline.sqlite" "pragma wal_checkpoint(truncate)" >/dev/null
	before=$(stat -c %s "$d/state/pipeline.sqlite")
	[ "$before" -gt 1000000 ]
	run -0 uvm-retain -D "$d"
	[ "$(count jobs)" = 0 ]
	sqlite3 "$d/state/pipeline.sqlite" "pragma wal_checkpoint(truncate)" >/dev/null
	after=$(stat -c %s "$d/state/pipeline.sqlite")
	echo "before $before after $after"
	[ "$after" -lt $((before / 4)) ]
}
