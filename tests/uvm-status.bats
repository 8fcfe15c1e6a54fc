#!/usr/bin/env bats
# uvm-status: exact counts from known rows, health transitions, a dashboard
# that escapes hostile names, atomic writes and exit statuses.

load test_helper

setup_file() {
	# The pipeline schema once (uvm-metrics creates it); each test copies it.
	t=$BATS_FILE_TMPDIR/t
	mkdir -p "$t/state"
	uvm-metrics -D "$t" -o "$BATS_TEST_TMPDIR/schema.prom" 2>/dev/null || true
	# A test-only tool: `pngtool fits OUT` writes a 512 x 256 FITS image of
	# four quadrants (0 lower left, 50 upper left, 100 lower right, 150
	# upper right: the thumbnail shows grey 0, 163, 221 and 255);
	# `pngtool count PNG R G B RUN` prints the number of pixels within 3 of
	# that colour and the number of rows holding a run of RUN of them.
	cp "$BATS_TEST_DIRNAME/fixtures/pngtool.c" "$BATS_FILE_TMPDIR/pngtool.c"
	cc -O1 -o "$BATS_FILE_TMPDIR/pngtool" "$BATS_FILE_TMPDIR/pngtool.c" -lcfitsio -lpng
}

# chromium_run ARGS...: headless Debian chromium with no network, profile or GPU.
chromium_run() {
	timeout 90 /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --hide-scrollbars \
		--force-color-profile=srgb --force-device-scale-factor=1 \
		--user-data-dir="$BATS_TEST_TMPDIR/chromium" "$@" 2>/dev/null
}

setup() {
	d=$BATS_TEST_TMPDIR/d
	mkdir -p "$d/state" "$d/products" "$d/logs"
	: >"$d/uvmake.conf"
	cp "$BATS_FILE_TMPDIR/t/state/pipeline.sqlite" "$d/state/"
	now=$(date +%s)
	sh -c 'exit 0' & dead=$!; wait $dead                    # a pid no longer alive
}

# rows: 2 stages with known target states, one live and one dead running
# job, failures of known classes, two done groups with known latency.
rows() {
	sqlite3 "$d/state/pipeline.sqlite" "
	insert into targets(target,grp,stage,state,attempts,reason,updated) values
	 ('products/G1/sb00.ok','G1','verify','ok',1,NULL,1),
	 ('products/G1/sb01.ok','G1','verify','ok',1,NULL,1),
	 ('products/G1/sb02.ok','G1','verify','quarantined',1,'bad header',1),
	 ('products/G2/sb00.ok','G2','verify','running',1,NULL,1),
	 ('products/G1/vis.uvh5','G1','combine','ok',2,NULL,1),
	 ('products/G2/vis.uvh5','G2','combine','retry',1,'disk error',1),
	 ('products/G3/vis.uvh5','G3','combine','deferred',1,NULL,1),
	 ('products/G4/vis.uvh5','G4','combine','dead',5,'gave up',1);
	insert into jobs(target,grp,stage,command,started,ended,status,class,attempt,pid) values
	 ('products/G2/sb00.ok','G2','verify','x',$now-30,NULL,NULL,NULL,1,$$),
	 ('products/G2/sb01.ok','G2','verify','x',$now-30,NULL,NULL,NULL,1,$dead),
	 ('products/G1/sb02.ok','G1','verify','x',$now-500,$now-499,65,'dataerr',1,1),
	 ('products/G2/vis.uvh5','G2','combine','x',$now-400,$now-390,74,'ioerr',1,1),
	 ('products/G1/vis.uvh5','G1','combine','x',$now-300,$now-250,0,'ok',2,1),
	 ('products/G5/image.fits','G5','image','x',$now-200,$now-100,0,'ok',1,1);
	insert into groups(grp,first_seen,nsub,state,updated) values
	 ('G1',$now-1000,16,'done',$now),('G5',$now-700,16,'done',$now),('G2',$now-600,16,'ready',$now)"
}

@test "uvm-status: usage" {
	run -0 uvm-status --help
	assert_output "usage: uvm-status [-D home] [-j | --json] [-w | --watch secs] [-H | --html file]"
	run -64 uvm-status extra
	assert_output --partial "usage: uvm-status"
	run -64 uvm-status -w 0
	run -64 uvm-status -w x
	run -66 uvm-status -D "$BATS_TEST_TMPDIR"
	assert_output --partial "is not a deployment"
}

@test "uvm-status: -j reports the known counts" {
	rows
	cat >"$d/state/plan.json" <<-EOF
	{"subbands": 16, "next_wakeup": 1900000000, "groups": [
	 {"id": "G8", "state": "ready", "first": 100, "last": 100, "deadline": null, "nsub": 16, "subbands": [], "missing": []},
	 {"id": "G7", "state": "partial", "first": 200, "last": 200, "deadline": 1100, "nsub": 14, "subbands": [], "missing": ["sb07", "sb09"]},
	 {"id": "G9", "state": "waiting", "first": 300, "last": 300, "deadline": 1200, "nsub": 3, "subbands": [], "missing": ["sb00"]}]}
	EOF
	run -0 uvm-status -D "$d" -j
	j=$output
	# the long form gives the same stages
	run -0 uvm-status -D "$d" --json
	[ "$(jq -c .stages <<<"$output")" = "$(jq -c .stages <<<"$j")" ]
	run -0 jq -c '.stages' <<<"$j"
	assert_output '{"combine":{"ok":1,"failed":1,"deferred":1,"dead":1,"quarantined":0,"running":0},"verify":{"ok":2,"failed":0,"deferred":0,"dead":0,"quarantined":1,"running":1}}'
	run -0 jq -r '.running | map(.target + " " + (.pid|tostring)) | join(",")' <<<"$j"
	assert_output "products/G2/sb00.ok $$"
	run -0 jq -r '.failures | map(.stage + " " + .class + " " + (.status|tostring) + " " + .reason) | join(",")' <<<"$j"
	assert_output "combine ioerr 74 disk error,verify dataerr 65 bad header"
	run -0 jq -c '.oldest_waiting' <<<"$j"
	assert_output '{"group":"G7","state":"partial","first":200,"deadline":1100,"missing":"sb07 sb09"}'
	# latency: G1 1000-250 = 750 s, G5 700-100 = 600 s
	run -0 jq -c '.latency' <<<"$j"
	assert_output '{"groups":2,"p50":750,"p90":750,"p99":750,"max":750}'
	run -0 jq -c '.failure_classes_24h' <<<"$j"
	assert_output '{"dataerr":1,"ioerr":1}'
	run -0 jq -r '.calibration, (.alerts|length)' <<<"$j"
	assert_output "$(printf 'null\n0')"
	# the terminal summary says the same
	run -0 uvm-status -D "$d"
	assert_line --regexp '^combine +1 +1 +1 +1 +0 +0$'
	assert_line --regexp '^verify +2 +0 +0 +0 +1 +1$'
	assert_line --partial "oldest waiting group: G7 partial since"
	assert_line --partial "missing: sb07 sb09"
	assert_line "latency (first seen to last product, 2 groups, 24 h): p50 750 s, p90 750 s, p99 750 s, max 750 s"
}

@test "uvm-status: the queue in planned order and the time to catch up (known numbers)" {
	rows                                  # G1 and G5 done in the last hour
	cat >"$d/state/plan.json" <<-EOF
	{"subbands": 16, "groups": [
	 {"id": "G8", "state": "ready", "first": 100, "rank": 2, "missing": []},
	 {"id": "G6", "state": "waiting", "first": 50, "missing": ["sb00"]},
	 {"id": "G7", "state": "partial", "first": 200, "rank": 0, "missing": ["sb07"]},
	 {"id": "G9", "state": "ready", "first": 300, "rank": 1, "missing": []}]}
	EOF
	run -0 uvm-status -D "$d" -j
	run -0 jq -c '.queue' <<<"$output"
	# 4 queued / 2 groups an hour = 2 h
	assert_output '{"groups":4,"throughput_1h":2,"eta_seconds":7200,"order":[{"group":"G7","state":"partial","rank":0},{"group":"G9","state":"ready","rank":1},{"group":"G8","state":"ready","rank":2},{"group":"G6","state":"waiting","rank":null}]}'
	run -0 uvm-status -D "$d"
	assert_line "queue: 4 groups, throughput 2 groups in the last hour, catch-up in 2.0 h"
	assert_line "   1. G7 partial (rank 0)"
	assert_line "   4. G6 waiting"
	run -0 uvm-status -D "$d" -H "$d/index.html"
	run -0 grep -F '<p>4 groups queued; 2 finished in the last hour; catch-up in 2.0 h.</p><ol id="queue"><li>G7 (partial)</li><li>G9 (ready)</li><li>G8 (ready)</li><li>G6 (waiting)</li></ol>' "$d/index.html"
	# without ranks: by id; nothing finished in the last hour: no estimate
	sed -i 's/"rank": [0-9],//' "$d/state/plan.json"
	sqlite3 "$d/state/pipeline.sqlite" "update jobs set ended = ended - 7200 where ended is not null"
	run -0 uvm-status -D "$d" -j
	run -0 jq -c '[.queue.throughput_1h, .queue.eta_seconds, (.queue.order | map(.group))]' <<<"$output"
	assert_output '[0,null,["G6","G7","G8","G9"]]'
	run -0 uvm-status -D "$d"
	assert_line "queue: 4 groups, throughput 0 groups in the last hour, catch-up unknown (nothing finished in the last hour)"
	rm "$d/state/plan.json"
	run -0 uvm-status -D "$d"
	assert_line "queue: 0 groups, throughput 0 groups in the last hour, catch-up not needed"
}

# cal_row START_OFFSET END_OFFSET: a good calibration table valid from
# now+START to now+END seconds (registry schema subset uvm-status reads).
cal_row() {
	sqlite3 "$d/state/calibration.sqlite" "
	create table if not exists caltables (path TEXT, grp TEXT UNIQUE, calibrator TEXT,
	 transit_mjd REAL, mjd_start REAL, mjd_end REAL, created REAL, status TEXT, reason TEXT DEFAULT '');
	delete from caltables;
	insert into caltables values ('caltables/C1.cal.h5','C1','3C48',0,
	 ($now+$1)/86400.0+40587, ($now+$2)/86400.0+40587, $now, 'good', '')"
}

health() { uvm-status -D "$d" -H "$d/index.html" && jq -r '.status' "$d/state/health.json"; }
check() { jq -r --arg n "$1" '.checks[] | select(.name == $n) | .status' "$d/state/health.json"; }

@test "uvm-status: health.json goes ok, degraded, failing and back" {
	printf '{"pid": %d}\n' $$ >"$d/state/watch.json"
	cal_row -3600 3600
	run -0 health
	assert_output ok
	# 1 failure in 6 jobs of the last hour (17%): degraded
	sqlite3 "$d/state/pipeline.sqlite" "
	insert into jobs(target,grp,stage,command,started,ended,status,class,attempt) values
	 ('a','G1','verify','x',$now-60,$now-50,0,'ok',1),('b','G1','verify','x',$now-60,$now-50,0,'ok',1),
	 ('c','G1','verify','x',$now-60,$now-50,0,'ok',1),('d','G1','verify','x',$now-60,$now-50,0,'ok',1),
	 ('e','G1','verify','x',$now-60,$now-50,0,'ok',1),('f','G1','verify','x',$now-60,$now-50,75,'tempfail',1)"
	run -0 health
	assert_output degraded
	run -0 check failures
	assert_output degraded
	# 4 in 9 (44%): failing
	sqlite3 "$d/state/pipeline.sqlite" "
	insert into jobs(target,grp,stage,command,started,ended,status,class,attempt) values
	 ('g','G1','verify','x',$now-60,$now-50,74,'ioerr',1),('h','G1','verify','x',$now-60,$now-50,74,'ioerr',1),
	 ('i','G1','verify','x',$now-60,$now-50,74,'ioerr',1)"
	run -0 health
	assert_output failing
	sqlite3 "$d/state/pipeline.sqlite" "delete from jobs"
	run -0 health
	assert_output ok
	# calibration expired 4 h ago: degraded; 7 h ago: failing
	cal_row -30000 -14400
	run -0 health
	assert_output degraded
	run -0 check calibration
	assert_output degraded
	cal_row -40000 -25200
	run -0 health
	assert_output failing
	cal_row -3600 3600
	rm "$d/state/watch.json"
	run -0 health
	assert_output degraded
	run -0 check watcher
	assert_output degraded
	no_temps "$d"
}

@test "uvm-status: health checks the database: corrupt or emptied is failing, with the way out" {
	printf '{"pid": %d}\n' $$ >"$d/state/watch.json"
	cal_row -3600 3600
	run -0 health
	assert_output ok
	run -0 check database
	assert_output ok
	# a corrupt table page (the header and schema intact): found by the
	# bounded quick_check, no audit needed
	sqlite3 "$d/state/pipeline.sqlite" "create table filler(x); insert into filler select randomblob(1000) from (with recursive c(i) as (select 1 union all select i+1 from c where i<200) select i from c); pragma wal_checkpoint(truncate);" >/dev/null
	cp "$d/state/pipeline.sqlite" "$BATS_TEST_TMPDIR/good.sqlite"
	dd if=/dev/urandom of="$d/state/pipeline.sqlite" bs=4096 seek=3 count=20 conv=notrunc 2>/dev/null
	run -0 health
	assert_output failing
	run -0 check database
	assert_output failing
	run -0 uvm-status -D "$d"
	assert_line --regexp "database.*corrupt.*restore it \(ops/RECOVERY.md\)"
	# repaired (restored): ok again
	cp "$BATS_TEST_TMPDIR/good.sqlite" "$d/state/pipeline.sqlite"
	run -0 health
	assert_output ok
	# the last audit found it corrupt (deep, where the bounded check does not reach)
	echo '{"database_ok":false,"database":"corrupt"}' >"$d/state/audit.json"
	run -0 health
	assert_output failing
	run -0 check database
	assert_output failing
	rm "$d/state/audit.json"
	# emptied, with its history marker: failing, and the metric for the alert
	echo x >"$d/state/pipeline.sqlite.history"
	: >"$d/state/pipeline.sqlite"
	run -0 health
	assert_output failing
	run -0 jq -r '.checks[] | select(.name == "database") | .detail' "$d/state/health.json"
	assert_output "state/pipeline.sqlite is empty, but its marker state/pipeline.sqlite.history is there: its history is lost; restore it (ops/RECOVERY.md)"
	[ ! -s "$d/state/pipeline.sqlite" ]
	run -0 uvm-metrics -D "$d" -o -
	assert_line "uvmake_database_ok 0"
}

# products/<G>/flag.json with flagged_fraction $2 and the antenna lists $3, $4
# (uvm-flag's format, flag_run.c report_json, trimmed to what is read).
flag_report() {
	mkdir -p "$d/products/$1"
	printf '{"flagged_fraction":%s,"dead_antennas":%s,"bad_antennas":%s}\n' "$2" "$3" "$4" \
		>"$d/products/$1/flag.json"
}

@test "uvm-status: the newest group's flagging in the text, JSON and HTML status (known values)" {
	rows
	run -0 uvm-status -D "$d" -j
	jq -e '.flagging == null' <<<"$output"
	run -0 uvm-status -D "$d"
	assert_line 'flagging: no report'
	flag_report 20260101T000000 0.5 '[]' '[]'
	flag_report 20260101T000500 0.125 '[{"antenna":3,"name":"ant03","reason":"dead"}]' \
		'[{"antenna":7,"name":"<b>ant07</b>","reason":"x"},{"antenna":11,"name":"ant11","reason":"y"}]'
	mkdir -p "$d/products/20260101T001000"                  # newer, not flagged yet
	run -0 uvm-status -D "$d" -j
	run jq -c .flagging <<<"$output"
	assert_output '{"group":"20260101T000500","fraction":0.125,"dead_count":1,"dead_antennas":["ant03"],"bad_count":2,"bad_antennas":["<b>ant07</b>","ant11"]}'
	run -0 uvm-status -D "$d"
	assert_line 'flagging: 0.125 of the samples flagged (group 20260101T000500); dead antennas: ant03; bad antennas: <b>ant07</b> ant11'
	run -0 uvm-status -D "$d" -H "$d/index.html"
	run -0 grep -F '<p id="flagging">group 20260101T000500: 12.5% of the samples flagged; dead antennas: ant03; bad antennas: &lt;b&gt;ant07&lt;/b&gt;, ant11.</p>' "$d/index.html"
	run ! grep -F '<b>ant07' "$d/index.html"
	no_temps "$d"
}

@test "uvm-status: the dashboard escapes hostile names" {
	rows
	sqlite3 "$d/state/pipeline.sqlite" "
	insert into quarantine(path,original,reason,target,at) values
	 ('quarantine/x','incoming/x.hdf5','<script>alert(1)</script>','products/G1/sb03.ok',$now);
	insert into targets(target,grp,stage,state,reason,updated) values
	 ('products/\"><img src=x onerror=alert(2)>/sb00.ok','G6','verify','retry','it''s <b>bad</b>',1);
	insert into jobs(target,grp,stage,command,started,ended,status,class,attempt) values
	 ('products/\"><img src=x onerror=alert(2)>/sb00.ok','G6','verify','x',$now-20,$now-10,65,'dataerr',1);
	insert into groups(grp,first_seen,nsub,state,updated) values ('<G&>',$now-5,16,'waiting',$now)"
	mkdir -p "$d/logs/G1"
	echo x >"$d/logs/G1/verify.log"
	# the latest image in a hostile directory name: its caption is escaped
	hp="$d/products/z\"><img src=x onerror=alert(3)>"
	mkdir -p "$hp"
	"$BATS_FILE_TMPDIR/pngtool" fits "$BATS_TEST_TMPDIR/image.fits"      # (cfitsio parses names)
	mv "$BATS_TEST_TMPDIR/image.fits" "$hp/image.fits"
	echo '{}' >"$hp/qa.json"
	run -0 uvm-status -D "$d" -H "$d/index.html"
	assert_output ""
	h=$d/index.html
	run ! grep -F '<script>alert(1)</script>' "$h"
	run ! grep -F '"><img src=x onerror=alert(2)>' "$h"
	run ! grep -F '<b>bad</b>' "$h"
	run ! grep -F '<G&>' "$h"
	run -0 grep -F '&lt;script&gt;alert(1)&lt;/script&gt;' "$h"
	run -0 grep -F 'products/&quot;&gt;&lt;img src=x onerror=alert(2)&gt;/sb00.ok' "$h"
	run -0 grep -F 'it&#39;s &lt;b&gt;bad&lt;/b&gt;' "$h"
	run -0 grep -F '&lt;G&amp;&gt;' "$h"
	run -0 grep -F '<figcaption>products/z&quot;&gt;&lt;img src=x onerror=alert(3)&gt;/image.fits</figcaption>' "$h"
	run ! grep -F 'onerror=alert(3)>' "$h"
	run -0 grep -F '<a href="logs/G1/verify.log">verify.log</a>' "$h"
	run -0 grep -c '<svg' "$h"
	assert_output 3
	# No external assets: nothing fetched from elsewhere.
	run ! grep -E '(src|href)="(https?:)?//' "$h"
	run -0 jq -r .status "$d/state/health.json"
	no_temps "$d"
}

@test "uvm-status: hostile names stay text in Chromium's DOM and nothing executes" {
	[ -x /usr/bin/chromium ] || skip "chromium not installed"
	rows
	sqlite3 "$d/state/pipeline.sqlite" "
	insert into quarantine(path,original,reason,target,at) values
	 ('quarantine/x','incoming/x.hdf5','<script>document.title=''pwned''</script>','products/G1/sb03.ok',$now);
	insert into targets(target,grp,stage,state,reason,updated) values
	 ('products/<img src=x onerror=\"document.body.appendChild(document.createElement(''blink''))\">/sb00.ok','G6','verify','retry','<svg onload=document.title=1>',1);
	insert into jobs(target,grp,stage,command,started,ended,status,class,attempt) values
	 ('products/<img src=x onerror=\"document.body.appendChild(document.createElement(''blink''))\">/sb00.ok','G6','verify','x',$now-20,$now-10,65,'dataerr',1);
	insert into groups(grp,first_seen,nsub,state,updated) values ('<script>document.title=2</script>',$now-5,16,'waiting',$now)"
	run -0 uvm-status -D "$d" -H "$d/index.html"
	run -0 chromium_run --dump-dom "file://$d/index.html"
	dom=$output
	# the title is ours; no element the names tried to create exists
	run -0 grep -c '<title>uvmake status</title>' <<<"$dom"
	run ! grep -Pi '<(script|blink)[ >/]|<img (?!id="thumb")' <<<"$dom"
	run ! grep -Ei '<[a-z]+ [^>]*on(error|load)=' <<<"$dom"
	# ... and the names are there as text
	run -0 grep -F "&lt;script&gt;document.title='pwned'&lt;/script&gt;" <<<"$dom"
	run -0 grep -F '&lt;img src=x onerror="document.body.appendChild' <<<"$dom"
	run -0 grep -F '&lt;svg onload=document.title=1&gt;' <<<"$dom"
	run -0 grep -F '&lt;script&gt;document.title=2&lt;/script&gt;' <<<"$dom"
	# only the three charts' SVG: none injected
	[ "$(grep -o '<svg' <<<"$dom" | wc -l)" -eq 3 ]
}

@test "uvm-status: Chromium renders the charts and the thumbnail of the latest image" {
	[ -x /usr/bin/chromium ] || skip "chromium not installed"
	rows
	mkdir -p "$d/products/G5" "$d/products/G1"
	"$BATS_FILE_TMPDIR/pngtool" fits "$d/products/G5/image.fits"
	echo '{}' >"$d/products/G5/qa.json"
	echo 'not a fits file' >"$d/products/G1/image.fits"      # no qa.json: not chosen
	run -0 uvm-status -D "$d" -H "$d/index.html"
	assert_output ""
	run -0 grep -c 'src="data:image/png;base64,' "$d/index.html"
	assert_output 1
	run -0 grep -F '<figcaption>products/G5/image.fits</figcaption>' "$d/index.html"
	chromium_run --screenshot="$BATS_TEST_TMPDIR/shot.png" --window-size=1280,2400 "file://$d/index.html" || true
	[ -s "$BATS_TEST_TMPDIR/shot.png" ]
	cp "$BATS_TEST_TMPDIR/shot.png" "${UVM_SHOT:-$BATS_TEST_TMPDIR/keep.png}"
	count() { "$BATS_FILE_TMPDIR/pngtool" count "$BATS_TEST_TMPDIR/shot.png" "$@"; }
	# the three bar charts in their colours (bars at least 10 px wide)
	for c in '42 157 143' '231 111 81' '131 56 236'; do
		run -0 count $c 10
		read -r px rows <<<"$output"
		echo "colour $c: $px px, $rows rows" >&3
		[ "$px" -gt 300 ] && [ "$rows" -gt 5 ]
	done
	# the thumbnail: its four quadrants as 128 px wide runs of 128/64 rows
	run -0 count 0 0 0 120
	read -r px rows <<<"$output"
	[ "$rows" -ge 60 ]
	run -0 count 163 163 163 120
	read -r px rows <<<"$output"
	[ "$rows" -ge 60 ]
	run -0 count 221 221 221 120
	read -r px rows <<<"$output"
	[ "$rows" -ge 60 ]
}

@test "uvm-status: unwritable outputs are 73/74 and leave no temporary" {
	run uvm-status -D "$d" -H /proc/uvmake.html
	[ "$status" -eq 73 ] || [ "$status" -eq 74 ]
	run -74 sh -c "uvm-status -D '$d' -j >/dev/full"
	run -74 sh -c "uvm-status -D '$d' >/dev/full"
	no_temps "$d"
}

@test "uvm-status: -w repeats until interrupted; re-runs are identical" {
	rows
	# SIGINT to the program's own pid once two frames are out: timeout(1)
	# signals its whole process group and then sends SIGCONT, which can
	# reach the leak checker's tracer task while the sanitizer build exits
	# and leave it spinning (seen: 9 CPU-minutes in a suite run). A
	# watchdog turns any hang into a failure instead.
	local w=$BATS_TEST_TMPDIR/watch.out i
	uvm-status -D "$d" -w 0.3 >"$w" 2>&1 &
	local pid=$!
	( sleep 30; kill -KILL "$pid" 2>/dev/null ) >/dev/null 2>&1 3>&- &
	local dog=$!
	for i in $(seq 1 100); do
		[ "$(grep -c 'uvmake status of' "$w")" -ge 2 ] && break
		sleep 0.1
	done
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	kill "$dog" 2>/dev/null || true
	wait "$dog" 2>/dev/null || true
	[ "$st" -eq 0 ]
	n=$(grep -c 'uvmake status of' "$w")
	[ "$n" -ge 2 ]
	# An empty deployment works too.
	rm "$d/state/pipeline.sqlite"
	run -0 uvm-status -D "$d" -j
	run -0 jq -c '[.stages, .running, .failures, .latency.groups]' <<<"$output"
	assert_output '[{},[],[],0]'
}
