#!/usr/bin/env bats
# uvm-backup and uvm-restore: consistent SQLite copies, manifest, rclone,
# retention, and refusal of hostile archives.

load test_helper

setup() {
	d=$BATS_TEST_TMPDIR/d
	uvm-init "$d" >/dev/null
	sqlite3 "$d/state/pipeline.sqlite" \
		"pragma journal_mode=wal; create table if not exists t(x); insert into t values(1),(2);" >/dev/null
	printf 'table\n' >"$d/caltables/20251024T120003.cal.h5"
}

@test "uvm-backup: usage" {
	run uvm-backup --help
	assert_success
	assert_output "usage: uvm-backup [-D home] [-o dir]"
	run -64 uvm-backup -x
	assert_output --partial "usage: uvm-backup [-D home] [-o dir]"
	run -66 uvm-backup -D "$BATS_TEST_TMPDIR"
}

@test "uvm-backup: archive holds a consistent database copy, tables, config and a manifest" {
	run -0 uvm-backup -D "$d"
	a=$output
	[ -f "$a" ]
	x=$BATS_TEST_TMPDIR/x; mkdir "$x"
	tar -xf "$a" -C "$x"
	[ "$(sqlite3 "$x/db/pipeline.sqlite" 'select count(*) from t')" = 2 ]
	cmp "$x/caltables/20251024T120003.cal.h5" "$d/caltables/20251024T120003.cal.h5"
	cmp "$x/config/uvmake.conf" "$d/uvmake.conf"
	(cd "$x" && sha256sum -c --quiet MANIFEST.sha256)
	[ "$(wc -l <"$x/MANIFEST.sha256")" -eq "$(find "$x" -type f ! -name MANIFEST.sha256 | wc -l)" ]
	no_temps "$d"
}

@test "uvm-backup: a write held open in another connection does not break the copy" {
	sqlite3 "$d/state/pipeline.sqlite" "begin; insert into t values(3); select 1;" >/dev/null &
	run -0 uvm-backup -D "$d"
	wait
	x=$BATS_TEST_TMPDIR/x; mkdir "$x"; tar -xf "$output" -C "$x"
	run sqlite3 "$x/db/pipeline.sqlite" 'pragma integrity_check'
	assert_output ok
}

@test "uvm-backup: copies off-site with rclone to a local-filesystem remote" {
	export RCLONE_CONFIG_OFFSITE_TYPE=local
	mkdir "$BATS_TEST_TMPDIR/remote"
	echo "BACKUP_REMOTE=offsite:$BATS_TEST_TMPDIR/remote" >>"$d/uvmake.conf"
	run -0 uvm-backup -D "$d"
	cmp "$output" "$BATS_TEST_TMPDIR/remote/$(basename "$output")"
	run -0 uvm-restore -D "$d" -l
	assert_line --partial "remote	offsite:"
	assert_line --partial "local	"
}

@test "uvm-backup: an unreachable remote is 69 and the local archive stays" {
	echo "BACKUP_REMOTE=nosuchremote:x" >>"$d/uvmake.conf"
	run -69 uvm-backup -D "$d"
	[ "$(ls "$d/backups" | wc -l)" -eq 1 ]
}

@test "uvm-backup: retention keeps 7 days of all, then one a day to 30 days" {
	b=$d/backups; mkdir -p "$b"
	for n in uvmake-20000101T000000Z.tar.zst; do :; done
	now=$(date -u +%s)
	stamp() { date -u -d "@$1" +uvmake-%Y%m%dT%H%M%SZ.tar.zst; }
	touch "$b/$(stamp $((now - 2*86400)))" "$b/$(stamp $((now - 2*86400 - 3600)))"
	day10=$(( (now / 86400 - 10) * 86400 ))
	touch "$b/$(stamp $((day10 + 3600)))" "$b/$(stamp $((day10 + 7200)))"
	touch "$b/$(stamp $((now - 40*86400)))"
	run -0 uvm-backup -D "$d"
	[ -f "$b/$(stamp $((now - 2*86400)))" ]
	[ -f "$b/$(stamp $((now - 2*86400 - 3600)))" ]
	[ ! -f "$b/$(stamp $((day10 + 3600)))" ]
	[ -f "$b/$(stamp $((day10 + 7200)))" ]
	[ ! -f "$b/$(stamp $((now - 40*86400)))" ]
	[ "$(ls "$b" | wc -l)" -eq 4 ]
}

@test "uvm-backup: a second run while one holds the lock exits 76" {
	flock "$d/state/backup.lock" sleep 3 &
	sleep 0.5
	run -76 uvm-backup -D "$d"
	wait
}

@test "uvm-backup: unwritable destination is 73/74 and leaves no temporary" {
	tiny="$BATS_TEST_TMPDIR/tiny"
	tiny_fs "$tiny" 16 || skip "cannot mount tmpfs here"
	dd if=/dev/urandom of="$d/caltables/big.cal.h5" bs=1k count=200 2>/dev/null
	run uvm-backup -D "$d" -o "$tiny"
	umount_st=0
	[ "$status" -eq 74 ] || [ "$status" -eq 73 ]
	[ -z "$(ls -A "$tiny")" ]
	umount "$tiny" || umount_st=$?
	no_temps "$d"
}

@test "uvm-restore: restores the databases and tables, old WAL discarded" {
	run -0 uvm-backup -D "$d"
	a=$output
	sqlite3 "$d/state/pipeline.sqlite" "insert into t values(9);"
	rm "$d/caltables/20251024T120003.cal.h5"
	run -0 uvm-restore -D "$d" "$(basename "$a")"
	[ "$(sqlite3 "$d/state/pipeline.sqlite" 'select count(*) from t')" = 2 ]
	[ "$(cat "$d/caltables/20251024T120003.cal.h5")" = table ]
	[ -f "$d/config-restored/uvmake.conf" ]
	no_temps "$d"
}

@test "uvm-restore: tables keep their time; done.idx comes back only where it was lost" {
	printf '20251024T120003 1761307203 1761307205 -\n' >"$d/state/done.idx"
	touch -d '2025-10-24 12:30:00.25' "$d/caltables/20251024T120003.cal.h5"
	t=$(stat -c %.9Y "$d/caltables/20251024T120003.cal.h5")
	run -0 uvm-backup -D "$d"
	a=$output
	run tar -tf "$a"
	assert_line state/done.idx
	# a live index is newer than the backup's: kept, the backup's beside the config
	printf '20251024T120003 1761307203 1761307205 -\n20251024T120503 1761307503 1761307505 -\n' >"$d/state/done.idx"
	rm "$d/caltables/20251024T120003.cal.h5"
	run -0 uvm-restore -D "$d" "$(basename "$a")"
	[ "$(stat -c %.9Y "$d/caltables/20251024T120003.cal.h5")" = "$t" ]
	[ "$(wc -l <"$d/state/done.idx")" -eq 2 ]
	[ "$(wc -l <"$d/config-restored/done.idx")" -eq 1 ]
	# lost: restored
	rm "$d/state/done.idx"
	run -0 uvm-restore -D "$d" "$(basename "$a")"
	[ "$(cat "$d/state/done.idx")" = "20251024T120003 1761307203 1761307205 -" ]
	no_temps "$d"
}

@test "uvm-restore: refuses while the pipeline holds its lock (76)" {
	run -0 uvm-backup -D "$d"
	a=$output
	flock "$d/state/make.lock" sleep 3 &
	sleep 0.5
	run -76 uvm-restore -D "$d" "$a"
	wait
}

# hostile archives: each is refused (65) and nothing is written
hostile() {
	run -65 uvm-restore -D "$d" "$1"
	[ ! -e /tmp/uvm-pwned ]
	[ ! -e "$d/pwned" ]
	[ "$(sqlite3 "$d/state/pipeline.sqlite" 'select count(*) from t')" = 2 ]
}

@test "uvm-restore: refuses absolute paths, '..', symlinks, tampering, no manifest" {
	h=$BATS_TEST_TMPDIR/h; mkdir -p "$h/db"
	echo x >"$h/pwned"
	(cd "$h" && tar -cf ../abs.tar -P /etc/hostname)
	hostile "$BATS_TEST_TMPDIR/abs.tar"
	(cd "$h/db" && tar -cf ../../dots.tar -P ../pwned)
	hostile "$BATS_TEST_TMPDIR/dots.tar"
	ln -s /etc/passwd "$h/db/link.sqlite"
	(cd "$h" && sha256sum db/link.sqlite >MANIFEST.sha256 && tar -cf ../link.tar db/link.sqlite MANIFEST.sha256)
	hostile "$BATS_TEST_TMPDIR/link.tar"
	# a valid archive with one member altered after the manifest was made
	run -0 uvm-backup -D "$d"
	t=$BATS_TEST_TMPDIR/t; mkdir "$t"; tar -xf "$output" -C "$t"
	echo evil >>"$t/caltables/20251024T120003.cal.h5"
	(cd "$t" && tar -cf ../tampered.tar MANIFEST.sha256 db caltables config)
	hostile "$BATS_TEST_TMPDIR/tampered.tar"
	run -65 uvm-restore -D "$d" -c "$BATS_TEST_TMPDIR/tampered.tar"
	assert_output --partial "checksum mismatch for 'caltables/20251024T120003.cal.h5'"
	(cd "$t" && tar -cf ../noman.tar db caltables)
	hostile "$BATS_TEST_TMPDIR/noman.tar"
	printf 'not an archive' >"$BATS_TEST_TMPDIR/junk.tar.zst"
	hostile "$BATS_TEST_TMPDIR/junk.tar.zst"
}

@test "uvm-restore: usage and missing archive" {
	run -0 uvm-restore --help
	assert_output "usage: uvm-restore [-D home] [-l] [-c] [archive]"
	run -64 uvm-restore -D "$d"
	run -66 uvm-restore -D "$d" nosuch.tar.zst
}
