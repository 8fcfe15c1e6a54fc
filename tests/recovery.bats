#!/usr/bin/env bats
# recovery.bats: the disaster-recovery runbooks of ops/RECOVERY.md, run as
# written. A small stream (one calibrator transit) is processed, backed up
# to an rclone remote (a local-filesystem remote: real rclone, no network),
# state/ and caltables/ are lost, everything comes back from the remote
# alone, the audit is clean, and the pipeline carries on: new groups are
# processed, finished ones are not made again. And a backup taken while
# make -j writes to the database restores to a consistent database.

load test_helper

NSUB=2

setup() {
	d=$BATS_TEST_TMPDIR/d
	r=$BATS_TEST_TMPDIR/remote
	s=$BATS_TEST_TMPDIR/stream
	mkdir -p "$r" "$s"
	export RCLONE_CONFIG_OFFSITE_TYPE=local
	uvm-init "$d" >/dev/null
	small_conf "$d" SUBBANDS="$NSUB" PARTIAL_MIN=2 IMAGE_NPIX=64 IMAGE_NITER=50 RETRY_UNAVAILABLE_BASE=0 \
		BACKUP_REMOTE="offsite:$r"
	# 3 groups of 2 subbands, 3C48 transiting in the first; fed to
	# incoming/ a group at a time
	uvm-sim -a 6 -s $NSUB -c 4 -t 3 -j 2 -S 7 -n 0.05 -K "$UVM_ROOT/ops/calibrators.csv" \
		-k 3C48 -C 0 -g 3 -o "$s" >/dev/null
}

# feed FIRST N: move groups FIRST..FIRST+N-1 (0-based) of the stream in
feed() {
	ls "$s" | sort | sed -n "$(($1 * NSUB + 1)),$((($1 + $2) * NSUB))p" |
		while read -r f; do cp "$s/$f" "$d/incoming/"; done
}

# settle_retired: settle, then one more cycle: the planner retires the
# groups that were made
settle_retired() {
	settle "$d" || return 1
	uvm-make -D "$d" -w 60 >/dev/null 2>&1
	return 0
}

sql() { sqlite3 "$d/state/pipeline.sqlite" "$@"; }
# "path mtime" of every product and table: a re-made file changes here
stamps() { (cd "$d" && find products caltables -type f -printf '%p %T@\n' | sort); }

@test "recovery: state/ and caltables/ lost, restored from the remote; the stream carries on" {
	feed 0 2
	settle_retired
	[ "$(ls "$d/products" | wc -l)" -eq 2 ]
	[ "$(ls "$d"/caltables/*.cal.h5 | wc -l)" -eq 1 ]
	[ "$(wc -l <"$d/state/done.idx")" -eq 2 ]
	made="(target like 'products/%' or target like 'caltables/%')"
	jobs_before=$(sql "select count(*) from jobs where $made")
	done_before=$(cat "$d/state/done.idx")
	stamps >"$BATS_TEST_TMPDIR/stamps.before"

	run -0 uvm-backup -D "$d"
	name=$(basename "$output")
	[ -f "$r/$name" ]

	# the disaster: databases, planner state, tables and the local backups
	rm -rf "$d/state" "$d/caltables" "$d/backups"

	# runbook "full rebuild" / "lost database": ops/RECOVERY.md
	run -0 uvm-init "$d"
	grep -q "^BACKUP_REMOTE=offsite:$r$" "$d/uvmake.conf"
	run -0 uvm-restore -D "$d" -l
	assert_line "remote	offsite:$r/$name"
	run -0 uvm-restore -D "$d" "offsite:$r/$name"
	assert_output "restored: $d/state/restore-$name"
	run -0 uvm-audit -D "$d"
	assert_output ""
	[ "$(cat "$d/state/done.idx")" = "$done_before" ]
	[ "$(sql "select count(*) from jobs where $made")" -eq "$jobs_before" ]
	[ "$(sqlite3 "$d/state/calibration.sqlite" "select count(*) from caltables where status='good'")" -eq 1 ]
	no_temps "$d"

	# the pipeline resumes: a new group is processed with the restored
	# calibration, the finished ones are not touched
	feed 2 1
	settle_retired
	[ "$(ls "$d/products" | wc -l)" -eq 3 ]
	g4=$(ls "$d/products" | sort | tail -1)
	for f in vis.uvh5 cal.uvh5 image.fits qa.json; do [ -f "$d/products/$g4/$f" ]; done
	[ "$(wc -l <"$d/state/done.idx")" -eq 3 ]
	# (the hour's mosaic is made again with the new image in it: not a
	# product of a finished group)
	[ "$(sql "select count(*) from jobs where $made and target not like '%$g4%'")" -eq "$jobs_before" ]
	stamps | grep -v "/$g4/" | diff "$BATS_TEST_TMPDIR/stamps.before" -
	run -0 uvm-audit -D "$d"
}

@test "recovery: lost calibration tables come back from the backup; a lost registry is re-registered" {
	feed 0 1
	settle_retired
	t=$(cd "$d" && ls caltables/*.cal.h5)
	sum=$(sha256sum <"$d/$t")
	run -0 uvm-backup -D "$d"
	a=$output
	rm -f "$d/$t"
	run -1 uvm-audit -D "$d"
	assert_line "missing-caltable	$t	registry entry of group $(basename "$t" .cal.h5), table absent"
	# runbook "lost calibration tables"
	run -0 uvm-restore -D "$d" "$(basename "$a")"
	[ "$(sha256sum <"$d/$t")" = "$sum" ]
	run -0 uvm-audit -D "$d"
	# the registry alone lost: the table carries its figures
	rm -f "$d/state/calibration.sqlite"*
	run -1 uvm-audit -D "$d"
	run -0 uvm-audit -D "$d" -r
	run -0 uvm-audit -D "$d"
	[ "$(sqlite3 "$d/state/calibration.sqlite" "select path, status from caltables")" = "$t|good" ]
}

@test "recovery: backups taken while make -j writes restore to consistent databases" {
	echo JOBS=2 >>"$d/uvmake.conf"
	feed 0 1
	( settle_retired ) &
	pid=$!
	# back to back while the cycle runs (at most 5), however fast the
	# machine: at least one must start while make is writing
	n=0
	during=0
	while [ $n -lt 5 ] && kill -0 $pid 2>/dev/null; do
		uvm-backup -D "$d" -o "$BATS_TEST_TMPDIR/b" >/dev/null
		n=$((n + 1))
		kill -0 $pid 2>/dev/null && during=$((during + 1))
		sleep 0.2
	done
	wait $pid
	uvm-backup -D "$d" -o "$BATS_TEST_TMPDIR/b" >/dev/null
	[ "$during" -ge 1 ]
	final=$(sql "select count(*) from jobs")
	prev=0
	e=$BATS_TEST_TMPDIR/e
	uvm-init "$e" >/dev/null
	for a in $(ls "$BATS_TEST_TMPDIR"/b/uvmake-*.tar.zst | sort); do
		run -0 uvm-restore -D "$e" "$a"
		for db in pipeline calibration; do
			[ -f "$e/state/$db.sqlite" ] || continue
			run sqlite3 "$e/state/$db.sqlite" "pragma integrity_check"
			assert_output ok
		done
		k=$(sqlite3 "$e/state/pipeline.sqlite" "select count(*) from jobs")
		# sane: between the previous backup's count and the final one; a
		# job marked ended has its status, a target made has a job
		[ "$k" -ge "$prev" ] && [ "$k" -le "$final" ]
		[ "$(sqlite3 "$e/state/pipeline.sqlite" "select count(*) from jobs where ended is not null and status is null and signal is null and class is null")" -eq 0 ]
		[ "$(sqlite3 "$e/state/pipeline.sqlite" "select count(*) from targets t where state='ok' and not exists (select 1 from jobs j where j.target=t.target)")" -eq 0 ]
		prev=$k
	done
	[ "$prev" -eq "$final" ]
}

# runbook SECTION: the commands of the first code block under "## SECTION"
# of ops/RECOVERY.md, comments stripped, one a line
runbook() {
	awk -v s="## $1" '$0 == s { on = 1; next } on && /^```/ { if (blk) exit; blk = 1; next }
		on && blk { sub(/[ \t]*#.*/, ""); if ($0 != "") print }' "$UVM_ROOT/ops/RECOVERY.md"
}

@test "recovery: full rebuild, the runbook run as written, re-makes every product byte for byte" {
	feed 0 2
	settle_retired
	[ "$(ls "$d/products" | wc -l)" -eq 2 ]
	products "$d" >"$BATS_TEST_TMPDIR/products.before"
	run -0 uvm-backup -D "$d"
	name=$(basename "$output")
	kept=$BATS_TEST_TMPDIR/kept
	mkdir "$kept"
	cp "$d"/incoming/*.hdf5 "$kept/"
	[ "$(ls "$kept" | wc -l)" -eq 4 ]

	# the new machine: an empty disk, the inputs kept, the remote
	D=$BATS_TEST_TMPDIR/new
	runbook "Full rebuild (new machine, empty disk, inputs kept)" >"$BATS_TEST_TMPDIR/steps"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/steps")" -ge 7 ]
	while IFS= read -r step; do
		case $step in "make deps"*) continue ;; esac   # the build: done
		step=${step//remote:path\/NAME/offsite:$r/$name}
		step=${step//\/path\/to\/kept\/inputs/$kept}
		echo "# $step" >&3
		run eval "$step"
		case $step in
		uvm-make*) [ "$status" -eq 0 ] || [ "$status" -eq 75 ] ||
			{ echo "$step: $status $output" >&2; false; } ;;
		*) [ "$status" -eq 0 ] || { echo "$step: $status $output" >&2; false; } ;;
		esac
		case $step in uvm-init*)   # "set BACKUP_REMOTE in $D/uvmake.conf"
			sed -i "s|^BACKUP_REMOTE=.*|BACKUP_REMOTE=offsite:$r|" "$D/uvmake.conf" ;;
		esac
	done <"$BATS_TEST_TMPDIR/steps"
	settle "$D"                     # deferred jobs (calibration) finish
	[ -z "$(ls "$D/quarantine")" ]
	[ "$(ls "$D/incoming" | wc -l)" -eq 4 ]
	products "$D" | diff "$BATS_TEST_TMPDIR/products.before" -
	no_temps "$D"
}

@test "recovery: the planner refuses a config that disagrees with the restored one" {
	mkdir "$d/config-restored"
	cp "$d/uvmake.conf" "$d/config-restored/"
	echo SUBBANDS=16 >>"$d/uvmake.conf"      # the fresh default
	feed 0 1
	run -78 uvm-make -D "$d"
	assert_output "uvm-plan: SUBBANDS=16 in '$d/uvmake.conf' but 2 in the restored config '$d/config-restored/uvmake.conf': put the site config back (cp it there) or remove config-restored/ (ops/RECOVERY.md)"
	[ ! -e "$d/state/pipeline.mk" ]
	[ "$(ls "$d/incoming" | wc -l)" -eq 2 ] && [ -z "$(ls "$d/quarantine")" ]
	cp "$d/uvmake.conf" "$d/config-restored/"   # they agree: planned
	run -0 uvm-plan -D "$d"
	[ -f "$d/state/pipeline.mk" ]
}
