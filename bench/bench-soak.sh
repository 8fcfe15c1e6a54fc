#!/bin/bash
# bench-soak.sh: a long unattended stream under faults (issue 18).
#
# G small groups (default 500; 4 subbands of 8 antennas, 4 channels, 3
# integrations; a 3C48 transit in the first) are streamed a group at a
# time into a deployment watched by uvm-watch, the way the correlator
# writes them (a temporary name, then a rename). About every P groups
# (default 10; the gap drawn in P/2..3P/2) one fault, chosen at random
# (seeded: -S; the same seed gives the same faults at the same groups),
# hits the stream or the machine:
#   kill      SIGKILL of a job (a uvm-run the watcher's cycle started)
#   diskfull  the deployment's file system filled (a filler file) for one
#             group, then freed (needs root: the deployment on a tmpfs)
#   corrupt   one subband of the group truncated (expected: quarantined)
#   duplicate an empty copy of a subband under another timestamp of the
#             group (expected: the copy quarantined, the group whole)
#   slow      a subband written in place in two halves, 2 s apart
#   wipe      the staging directory emptied (a reboot of its tmpfs)
#   dbtrunc   the state database (state/pipeline.sqlite and its WAL)
#             truncated to 0 bytes: the job history lost. Expected: the
#             loss detected (uvm-audit run right after exits 65 naming
#             state/pipeline.sqlite; a silent loss is a failure), the
#             programs refusing to re-create it empty, and the runbook of
#             ops/RECOVERY.md, run as an operator would (the watcher
#             stopped, uvm-restore of the latest backup, uvm-audit -r, the
#             watcher started again), bringing the stream back with the
#             products still right. A backup is taken every 25 groups
#             (uvm-backup, as cron would), into a directory beside the
#             deployment.
# Retention runs every 10 groups (uvm-retain, as cron would) with short
# limits, so that its plateau shows within the run: inputs, the staged
# intermediates (vis, flag, cal) and the job history (records and logs)
# of finished groups go RETAIN_S seconds (default 120; -R) after they
# were made or last run; images and the kept products stay.
# The same stream, undisturbed, goes through a reference deployment, in
# one batch (no retention). The sky is the calibrator catalogue within 5 deg of the
# pointing (3C48 with -k, the rest with -P), so every group the planner finds a catalogue transit in has
# that calibrator in its data, and nothing else (-N 0): uvm-sim adds its
# random sources around every group's pointing, so a long stream
# accumulates ~15 sources of 0.5-5 Jy a square degree (75 times the real
# sky above 0.5 Jy), and from ~24 groups on they outshine 3C48 in its own
# group, whose solve is then rightly rejected (100% of solutions flagged);
# and with 3C48 alone, the groups of 0336+323, 3C93.1 and 0414+343 (all
# within CAL_MAX_SEP_DEG of the pointing, 2-4 hours later) are planned as
# calibrator groups whose solve finds no calibrator.
#
# At the end (the watcher stopped, the inputs a full disk kept out fed
# again, the last cycles run by hand):
#   lost      inputs in neither incoming/ nor quarantine/ nor removed by
#             retention after their group finished (logs/retain.log)
#             (want 0)
#   unexpected quarantined inputs other than the corrupt and duplicate
#             ones injected (want 0)
#   temps     temporaries left (*.tmp.<pid>, want 0)
#   differ    products whose data differ from the reference run
#             (bench/soak_compare.py: FITS data units and cards, HDF5
#             datasets and attributes, JSON content; the groups and hours
#             of corrupt subbands left out; want 0, and 0 missing)
#   dead      dead-lettered targets (want 0: every fault here is transient
#             or quarantined, none is a reason to give up on a target)
#   rss       the daemon's RSS sampled after every group from 10% of the
#             stream on: first, min, max (want max within 10% of first)
#   dbtrunc   truncations injected, how many the audit right after
#             reported (want all), and the restores that followed
#   db, disk  database and deployment sizes at 1/4, 1/2, 3/4, the end of
#             the catch-up, and after one more retention pass RETAIN_S
#             later (as cron's next run)
#   held      groups finished but still planned at the end: a nearer
#             calibrator transit lies beyond the stream's end, so a table
#             may still come (the reference holds the same ones)
# Writes bench/results/soak.txt; exit 1 when a "want" does not hold.
# Usage: bench-soak.sh [-G groups] [-P period] [-S seed] [-R seconds] [-k]
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
G=500 P=10 SEED=1 KEEP= RETAIN_S=120
usage="usage: bench-soak.sh [-G groups] [-P period] [-S seed] [-R seconds] [-k]"
while getopts G:P:S:R:k o; do
	case $o in
	G) G=$OPTARG ;; P) P=$OPTARG ;; S) SEED=$OPTARG ;; R) RETAIN_S=$OPTARG ;; k) KEEP=1 ;;
	*) echo "$usage" >&2; exit 64 ;;
	esac
done
for v in "$G" "$P" "$SEED" "$RETAIN_S"; do
	case $v in '' | *[!0-9]*) echo "$usage" >&2; exit 64 ;; esac
done
[ "$P" -ge 2 ] || { echo "$usage" >&2; exit 64; }
root=$(pwd)
export PATH="$root/bin:$PATH"
for p in uvm-init uvm-sim uvm-make uvm-watch uvm-plan uvm-audit uvm-retain uvm-backup uvm-restore; do
	command -v "$p" >/dev/null || { echo "bench-soak: build bin/$p first (make)" >&2; exit 66; }
done
RANDOM=$SEED
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-soak.XXXXXX")
wpid=
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
	[ -n "$KEEP" ] && { cp -a "$work/s" "$work/s.kept"; echo "kept $work" >&2; }
	mountpoint -q "$work/s" 2>/dev/null && umount "$work/s"
	mountpoint -q "$work/stg" 2>/dev/null && umount "$work/stg"
	[ -n "$KEEP" ] || rm -rf "$work"
}
trap cleanup EXIT
NSUB=4

deploy() {
	uvm-init "$1" >/dev/null
	cat >>"$1/uvmake.conf" <<-CONF
	SUBBANDS=$NSUB
	PARTIAL_MIN=3
	PARTIAL_TIMEOUT=60
	GROUP_TOLERANCE=20
	GROUP_SECONDS=39
	IMAGE_NPIX=64
	IMAGE_NITER=50
	IMAGE_FFTW_PLAN=estimate
	QA_MAX_RMS_JY=1
	CAL_MIN_SNR=3
	CAL_MAX_FLAGGED=0.9
	RETRY_BASE=0.2
	RETRY_MAX=8
	DISK_MARGIN_MB=0
	STAGING_DIR=$2
	STAGING_MAX_PERCENT=100
	BACKUP_DIR=$work/backups
	CONF
}

# unmade DIR: the planned groups (ready, partial or waiting: a partial
# group waits PARTIAL_TIMEOUT) without a qa.json; a finished group held
# for a nearer calibrator's table has one
unmade() {
	jq -r '.groups[] | select(.state == "ready" or .state == "partial" or .state == "waiting") | .id' \
		"$1/state/plan.json" | while read -r g; do [ -e "$1/products/$g/qa.json" ] || echo "$g"; done
}

# cycles DIR: uvm-make until two cycles in a row succeed (the second makes
# what a table registered by the first changed) and no planned group is
# left unmade, at most 240 times half a second apart
cycles() {
	local i
	for i in $(seq 1 240); do
		if uvm-make -D "$1" -w 120 >>"$work/cycles.log" 2>&1 &&
			uvm-make -D "$1" -w 120 >>"$work/cycles.log" 2>&1; then
			[ -z "$(unmade "$1")" ] && return 0
		fi
		sleep 0.5
	done
	return 1
}

# descendants PID: every process below PID
descendants() {
	local p
	for p in $(ps -o pid= --ppid "$1"); do
		echo "$p"
		descendants "$p"
	done
}

elapsed_s() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }

echo "bench-soak: $G groups, a fault every ~$P, seed $SEED, in $work" >&2
awk -F, '$1 != "3C48" && $3 > 28 && $3 < 38' ops/calibrators.csv >"$work/sky.csv"
uvm-sim -a 8 -s $NSUB -c 4 -t 3 -j 2 -S 7 -n 0.05 -N 0 -P "$work/sky.csv" -K ops/calibrators.csv -k 3C48 -C 0 \
	-g "$G" -o "$work/stream" >/dev/null || exit 70
mapfile -t files < <(ls "$work/stream" | sort)

# the reference: everything at once, cycles by hand
t0=$(now_s)
deploy "$work/r" "$work/rstg"
cp "$work"/stream/* "$work/r/incoming/"
cycles "$work/r" || echo "bench-soak: the reference did not settle" >&2
t1=$(now_s)
echo "bench-soak: reference done in $(elapsed_s "$t0" "$t1") s" >&2

# the soak run: its own file system when we may mount one
mkdir -p "$work/s" "$work/stg"
onfs=0
if mount -t tmpfs -o size=1g tmpfs "$work/s" 2>/dev/null; then onfs=1; fi
mount -t tmpfs -o size=64m tmpfs "$work/stg" 2>/dev/null
deploy "$work/s" "$work/stg"
days=$(awk -v s="$RETAIN_S" 'BEGIN{printf "%.6f", s / 86400}')
printf '%s\n' RETAIN_INPUT_DAYS=$days RETAIN_VIS_DAYS=$days RETAIN_FLAG_DAYS=$days \
	RETAIN_CAL_DAYS=$days JOBS_KEEP_DAYS=$days >>"$work/s/uvmake.conf"
d=$work/s
t1=$(now_s)
start_watch() {
	uvm-watch -D "$d" -s 0.2 -d 0.3 -m 2 -r 5 >>"$work/watch.out" 2>>"$work/watch.log" &
	wpid=$!
}
start_watch
expect_q=0 skip_ids=() faults=() filler= ntrunc=0 ndetect=0 nrestore=0
rss_first= rss_min= rss_max= sizes=() dbq=() diskq=()
feed_group() {  # feed_group K: the K-th group's files, temp name then rename
	local k=$1 f
	for f in "${files[@]:$((k * NSUB)):$NSUB}"; do
		cp "$work/stream/$f" "$d/incoming/${f%.hdf5}_incomplete.hdf5" &&
			mv "$d/incoming/${f%.hdf5}_incomplete.hdf5" "$d/incoming/$f"
	done
}
set -- kill corrupt duplicate slow wipe dbtrunc
[ $onfs = 1 ] && set -- "$@" diskfull
kinds=("$@")
next=$((P / 2 + RANDOM % (P + 1)))
for k in $(seq 0 $((G - 1))); do
	[ -n "$filler" ] && { rm -f "$filler"; filler=; }
	fault=
	if [ "$k" -eq "$next" ]; then
		fault=${kinds[$((RANDOM % ${#kinds[@]}))]}
		faults+=("$k:$fault")
		next=$((k + P / 2 + RANDOM % (P + 1)))
	fi
	gfiles=("${files[@]:$((k * NSUB)):$NSUB}")
	case $fault in
	corrupt)
		f=${gfiles[1]}
		head -c 5000 "$work/stream/$f" >"$d/incoming/${f%.hdf5}_incomplete.hdf5"
		mv "$d/incoming/${f%.hdf5}_incomplete.hdf5" "$d/incoming/$f"
		for f in "${gfiles[@]}"; do [ "$f" = "${gfiles[1]}" ] || cp "$work/stream/$f" "$d/incoming/"; done
		expect_q=$((expect_q + 1))
		for f in "${gfiles[@]}"; do
			case $f in *_sb00.hdf5) gid=$(echo "${f%%_*}" | tr -d ':-') ;; esac
		done
		skip_ids+=("$gid" "${gid:0:11}") ;;
	duplicate)
		feed_group "$k"
		f=${gfiles[0]}   # the same subband, one second earlier: sorts first
		t=$(date -u -d "$(echo "${f%%_*}" | tr T ' ') UTC 1 second ago" +%Y-%m-%dT%H:%M:%S)
		: >"$d/incoming/${t}_${f#*_}"
		expect_q=$((expect_q + 1)) ;;
	slow)
		f=${gfiles[0]}
		for x in "${gfiles[@]:1}"; do cp "$work/stream/$x" "$d/incoming/"; done
		sz=$(stat -c %s "$work/stream/$f")
		( exec 3>"$d/incoming/$f"; head -c $((sz / 2)) "$work/stream/$f" >&3; sleep 2
		  tail -c +$((sz / 2 + 1)) "$work/stream/$f" >&3 ) ;;
	kill)
		feed_group "$k"
		victim=
		for i in $(seq 1 50); do
			victim=$(for p in $(descendants "$wpid"); do
				[ "$(cat /proc/$p/comm 2>/dev/null)" = uvm-run ] && echo "$p"; done | tail -1)
			[ -n "$victim" ] && break
			sleep 0.1
		done
		[ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null ;;
	wipe)
		feed_group "$k"
		rm -rf "${work:?}"/stg/* ;;
	dbtrunc)
		feed_group "$k"
		truncate -s 0 "$d/state/pipeline.sqlite" "$d/state/pipeline.sqlite-wal" 2>/dev/null
		ntrunc=$((ntrunc + 1))
		# the operator: the audit, then the runbook (ops/RECOVERY.md)
		uvm-audit -D "$d" >"$work/audit.$k.txt" 2>&1
		arc=$?
		[ $arc = 65 ] && grep -q "^database	state/pipeline.sqlite	" "$work/audit.$k.txt" &&
			ndetect=$((ndetect + 1))
		kill -TERM "$wpid"; wait "$wpid"
		last_bak=$(ls "$work/backups" 2>/dev/null | grep '\.tar' | sort | tail -1)
		if [ -n "$last_bak" ] && uvm-restore -D "$d" "$last_bak" >>"$work/restore.log" 2>&1; then
			uvm-audit -D "$d" -r >>"$work/restore.log" 2>&1
			nrestore=$((nrestore + 1))
		fi
		start_watch ;;
	diskfull)
		filler=$d/state/filler
		fallocate -l "$(( $(df --output=avail -B1 "$d" | tail -1) - 4096 ))" "$filler" 2>/dev/null ||
			dd if=/dev/zero of="$filler" bs=1M 2>/dev/null
		feed_group "$k" 2>/dev/null || true ;;
	*)
		feed_group "$k" ;;
	esac
	sleep 0.3
	if [ "$k" -ge $((G / 10)) ]; then
		r=$(awk '/VmRSS/{print $2}' /proc/$wpid/status)
		[ -n "$rss_first" ] || rss_first=$r rss_min=$r rss_max=$r
		[ "$r" -lt "$rss_min" ] && rss_min=$r
		[ "$r" -gt "$rss_max" ] && rss_max=$r
	fi
	[ $((k % 25)) -eq 1 ] && uvm-backup -D "$d" >>"$work/backup.log" 2>&1
	[ $((k % 10)) -eq 9 ] && uvm-retain -D "$d" >>"$work/retain.log" 2>&1
	for q in 1 2 3; do
		if [ "$k" -eq $((G * q / 4)) ]; then
			dbq+=("$(du -k "$d/state/pipeline.sqlite" | cut -f1)")
			diskq+=("$(du -sk --exclude=filler "$d" | cut -f1)")
		fi
	done
	[ $((k % 50)) -eq 49 ] && echo "bench-soak: $((k + 1)) groups fed, $(ls "$d/products" | wc -l) with products" >&2
done
[ -n "$filler" ] && rm -f "$filler"
# the inputs a full disk kept out are fed again, as a correlator's retry
# would (the half-copied temporaries it left are the correlator's, removed)
rm -f "$d"/incoming/*_incomplete.hdf5
retained() { grep -qF " remove incoming/$1 " "$d/logs/retain.log" 2>/dev/null; }
for f in "${files[@]}"; do
	[ -e "$d/incoming/$f" ] || [ -n "$(ls "$d/quarantine" | grep -F "$f")" ] || retained "$f" ||
		cp "$work/stream/$f" "$d/incoming/"
done
# the watcher catches up: until the stream's last group is finished (a
# bounded wait: at most 20 minutes)
for f in "${files[@]:$(( (G - 1) * NSUB )):$NSUB}"; do
	case $f in *_sb00.hdf5) last=$(echo "${f%%_*}" | tr -d ':-') ;; esac
done
for i in $(seq 1 1200); do
	[ -e "$d/products/$last/qa.json" ] && break
	sleep 1
done
t2=$(now_s)
rss_end=$(awk '/VmRSS/{print $2}' /proc/$wpid/status)
kill -TERM "$wpid"; wait "$wpid"; wpid=
cycles "$d" || echo "bench-soak: the soak run did not settle" >&2
t3=$(now_s)
# the catch-up's history, as the next cron retention finds it
dbpre=$(du -k "$d/state/pipeline.sqlite" | cut -f1)
diskpre=$(du -sk "$d" | cut -f1)
sleep "$RETAIN_S"
uvm-retain -D "$d" >>"$work/retain.log" 2>&1

# the checks
lost=0
nretained=0
for f in "${files[@]}"; do
	if retained "$f"; then nretained=$((nretained + 1)); continue; fi
	[ -e "$d/incoming/$f" ] || [ -n "$(ls "$d/quarantine" | grep -F "$f")" ] || lost=$((lost + 1))
done
nq=$(ls "$d/quarantine" | grep -vc '\.reason$')
unexpected=$((nq - expect_q))
temps=$(find "$d" "$work/stg" -name '*.tmp.[0-9]*' | wc -l)
/usr/bin/python3 bench/soak_compare.py "$work/r" "$d" "${skip_ids[@]}" >"$work/compare.txt"
cmpline=$(tail -1 "$work/compare.txt")
differ=$(echo "$cmpline" | awk '{print $4 + $6}')
dead=$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from targets where state = 'dead'")
deadlist=$(sqlite3 -separator ' ' "$d/state/pipeline.sqlite" \
	"select target, last_class, last_status from targets where state = 'dead'" | head -5)
uvm-audit -D "$d" >"$work/audit.txt" 2>&1
audit_rc=$?
audit_classes=$(cut -f1 "$work/audit.txt" | sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')
dbkb=$(du -k "$d/state/pipeline.sqlite" | cut -f1)
diskkb=$(du -sk "$d" | cut -f1)
nheld=$(jq '[.groups[] | select(.state != "done")] | length' "$d/state/plan.json")
rheld=$(jq '[.groups[] | select(.state != "done")] | length' "$work/r/state/plan.json")
rssok=1
[ -n "$rss_first" ] && [ $((rss_max * 100)) -gt $((rss_first * 110)) ] && rssok=0
ndone=$(wc -l <"$d/state/done.idx")
mkdir -p bench/results
{
	bench_header "soak: $G groups, a fault about every $P groups (seed $SEED)"
	echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# reproduce: bench/bench-soak.sh -G $G -P $P -S $SEED -R $RETAIN_S"
	echo "faults (${#faults[@]}): ${faults[*]:-none}"
	echo "reference run (batch): $(elapsed_s "$t0" "$t1") s; soak run: $(elapsed_s "$t1" "$t2") s streaming" \
		"+ $(elapsed_s "$t2" "$t3") s of final cycles; $(awk -v a="$t1" -v b="$t2" -v g="$G" 'BEGIN{printf "%.2f", (b-a)/g}') s a group"
	echo "groups retired: $ndone of $G (reference $(wc -l <"$work/r/state/done.idx")); held for a nearer" \
		"calibrator beyond the stream's end: $nheld (reference $rheld); unmade: $(unmade "$d" | wc -l)"
	echo "lost $lost, unexpected quarantine $unexpected (quarantined $nq, injected $expect_q), temps $temps;" \
		"inputs removed by retention after their group finished: $nretained"
	echo "products: $cmpline (want differ 0 missing 0)"
	sed -n '/^\(differ\|missing\) /p' "$work/compare.txt" | head -5
	echo "dead $dead${deadlist:+: $deadlist}"
	echo "dbtrunc: $ntrunc injected, $ndetect reported by the audit right after (exit 65, database" \
		"state/pipeline.sqlite), $nrestore restored from the latest backup and audited -r"
	echo "final audit: exit $audit_rc; findings: ${audit_classes:-none}"
	echo "rss after 10%: first ${rss_first:-?} KB, min ${rss_min:-?}, max ${rss_max:-?}; at end $rss_end KB"
	echo "db KB at 1/4, 1/2, 3/4, end of the catch-up, after a retention pass: ${dbq[*]:-? ? ?} $dbpre $dbkb;" \
		"deployment KB: ${diskq[*]:-? ? ?} $diskpre $diskkb" \
		"($(awk -v a="${diskq[1]:-0}" -v b="$diskkb" -v g="$G" 'BEGIN{printf "%.1f", (b-a)/(g-int(g/2))}') KB a group in the second half)"
} | tee bench/results/soak.txt
[ "$lost" -eq 0 ] && [ "$unexpected" -eq 0 ] && [ "$temps" -eq 0 ] && [ "$differ" -eq 0 ] &&
	[ "$dead" -eq 0 ] && [ $rssok = 1 ] && [ "$ndetect" -eq "$ntrunc" ] && [ -z "$(unmade "$d")" ]
