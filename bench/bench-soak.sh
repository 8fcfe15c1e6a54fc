#!/bin/bash
# bench-soak.sh: a long unattended stream under faults (issue 18).
#
# G small groups (default 500; 2 subbands of 6 antennas, a calibrator
# transit in the first) are streamed a group at a time into a deployment
# watched by uvm-watch, the way the correlator writes them (a temporary
# name, then a rename). Every P groups (default 10) one fault, chosen at
# random (seeded: -S), hits the stream or the machine:
#   kill      SIGKILL of a job (a uvm-run the watcher's cycle started)
#   diskfull  the deployment's file system filled (a filler file) for one
#             group, then freed (needs root: the deployment on a tmpfs)
#   corrupt   one subband of the group truncated (expected: quarantined)
#   duplicate an empty copy of a subband under another timestamp of the
#             group (expected: the copy quarantined, the group whole)
#   slow      a subband written in place in two halves, 2 s apart
#   wipe      the staging directory emptied (a reboot of its tmpfs)
# (A truncated database is not injected yet: its recovery is a runbook,
# uvm-audit then uvm-restore, not something the daemon does alone.)
# The same stream, undisturbed, goes through a reference deployment.
#
# At the end (the watcher stopped, the last cycles run by hand):
#   lost      inputs in neither incoming/ nor quarantine/ (want 0)
#   unexpected quarantined inputs other than the corrupt and duplicate
#             ones injected (want 0)
#   temps     temporaries left (*.tmp.<pid>, want 0)
#   differ    groups whose products differ from the reference run, not
#             counting the corrupt ones (want 0)
#   dead      dead-lettered targets (want 0)
#   rss       the daemon's RSS at 10% of the stream and at the end (want
#             within 10%)
#   db, disk  database and deployment sizes
# Known limit: from about 24 groups on, the simulated calibrator transit
# of this stream is rejected by uvm-calsolve (96.5% of solutions flagged),
# so neither run finishes and "differ" is meaningless; the stream needs a
# sturdier calibrator before the 500-group run means anything. Checked
# with -G 12 -P 4 -S 5 (a kill and a wipe): every figure as wanted.
# Writes bench/results/soak.txt; exit 1 when a "want" does not hold.
# Usage: bench-soak.sh [-G groups] [-P period] [-S seed]
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
G=500 P=10 SEED=1
while getopts G:P:S: o; do
	case $o in
	G) G=$OPTARG ;; P) P=$OPTARG ;; S) SEED=$OPTARG ;;
	*) echo "usage: bench-soak.sh [-G groups] [-P period] [-S seed]" >&2; exit 64 ;;
	esac
done
root=$(pwd)
export PATH="$root/bin:$PATH"
for p in uvm-init uvm-sim uvm-make uvm-watch uvm-plan; do
	command -v "$p" >/dev/null || { echo "bench-soak: build bin/$p first (make)" >&2; exit 66; }
done
RANDOM=$SEED
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-soak.XXXXXX")
wpid=
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
	[ -n "${KEEP:-}" ] && { cp -a "$work/s" "$work/s.kept"; echo "kept $work" >&2; }
	mountpoint -q "$work/s" 2>/dev/null && umount "$work/s"
	mountpoint -q "$work/stg" 2>/dev/null && umount "$work/stg"
	[ -n "${KEEP:-}" ] || rm -rf "$work"
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
	CAL_MIN_SNR=3
	CAL_MAX_FLAGGED=0.9
	RETRY_BASE=0.2
	RETRY_MAX=8
	DISK_MARGIN_MB=0
	STAGING_DIR=$2
	STAGING_MAX_PERCENT=100
	CONF
}

# cycles DIR: uvm-make until a cycle succeeds with no group left ready,
# partial or waiting (a partial group waits PARTIAL_TIMEOUT), at most 240
# cycles half a second apart
cycles() {
	local i
	for i in $(seq 1 240); do
		if uvm-make -D "$1" -w 120 >/dev/null 2>&1; then
			uvm-make -D "$1" -w 120 >/dev/null 2>&1   # retires what was made
			grep -Eq '"state": "(ready|partial|waiting)"' "$1/state/plan.json" || return 0
		fi
		sleep 0.5
	done
	return 1
}

# descendants PID: every process below PID
descendants() {
	local p c
	for p in $(ps -o pid= --ppid "$1"); do
		echo "$p"
		descendants "$p"
	done
}

echo "bench-soak: $G groups, a fault every $P, seed $SEED, in $work" >&2
uvm-sim -a 8 -s $NSUB -c 4 -t 3 -j 2 -S 7 -n 0.05 -K ops/calibrators.csv -k 3C48 -C 0 \
	-g "$G" -o "$work/stream" >/dev/null || exit 70
mapfile -t files < <(ls "$work/stream" | sort)

# the reference: everything at once, cycles by hand
t0=$(now_s)
deploy "$work/r" "$work/rstg"
cp "$work"/stream/* "$work/r/incoming/"
cycles "$work/r" || echo "bench-soak: the reference did not settle" >&2
t1=$(now_s)

# the soak run: its own file system when we may mount one
mkdir -p "$work/s" "$work/stg"
onfs=0
if mount -t tmpfs -o size=1g tmpfs "$work/s" 2>/dev/null; then onfs=1; fi
mount -t tmpfs -o size=64m tmpfs "$work/stg" 2>/dev/null
deploy "$work/s" "$work/stg"
d=$work/s
uvm-watch -D "$d" -s 0.2 -d 0.3 -m 2 -r 5 >"$work/watch.out" 2>"$work/watch.log" &
wpid=$!
expect_q=0 corrupt_ids=() faults=() rss10= filler=
feed_group() {  # feed_group K: the K-th group's files, temp name then rename
	local k=$1 f
	for f in "${files[@]:$((k * NSUB)):$NSUB}"; do
		cp "$work/stream/$f" "$d/incoming/${f%.hdf5}_incomplete.hdf5"
		mv "$d/incoming/${f%.hdf5}_incomplete.hdf5" "$d/incoming/$f"
	done
}
for k in $(seq 0 $((G - 1))); do
	[ -n "$filler" ] && { rm -f "$filler"; filler=; }
	fault=
	if [ "$k" -gt 0 ] && [ $((k % P)) -eq 0 ]; then
		set -- kill corrupt duplicate slow wipe
		[ $onfs = 1 ] && set -- "$@" diskfull
		shift $((RANDOM % $#)); fault=$1
		faults+=("$k:$fault")
	fi
	gfiles=("${files[@]:$((k * NSUB)):$NSUB}")
	case $fault in
	corrupt)
		f=${gfiles[1]}
		head -c 5000 "$work/stream/$f" >"$d/incoming/${f%.hdf5}_incomplete.hdf5"
		mv "$d/incoming/${f%.hdf5}_incomplete.hdf5" "$d/incoming/$f"
		cp "$work/stream/${gfiles[0]}" "$d/incoming/"
		expect_q=$((expect_q + 1))
		for f in "${gfiles[@]}"; do corrupt_ids+=("$(echo "${f%%_*}" | tr -d ':-')"); done ;;
	duplicate)
		feed_group "$k"
		f=${gfiles[0]}   # the same subband, one second earlier: sorts first
		t=$(date -u -d "$(echo "${f%%_*}" | tr T ' ') UTC 1 second ago" +%Y-%m-%dT%H:%M:%S)
		: >"$d/incoming/${t}_${f#*_}"
		expect_q=$((expect_q + 1)) ;;
	slow)
		f=${gfiles[0]}
		cp "$work/stream/${gfiles[1]}" "$d/incoming/"
		sz=$(stat -c %s "$work/stream/$f")
		( exec 3>"$d/incoming/$f"; head -c $((sz / 2)) "$work/stream/$f" >&3; sleep 2
		  tail -c +$((sz / 2 + 1)) "$work/stream/$f" >&3 ) ;;
	kill)
		feed_group "$k"
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
	diskfull)
		filler=$d/state/filler
		fallocate -l "$(( $(df --output=avail -B1 "$d" | tail -1) - 4096 ))" "$filler" 2>/dev/null ||
			dd if=/dev/zero of="$filler" bs=1M 2>/dev/null
		feed_group "$k" 2>/dev/null || true ;;
	*)
		feed_group "$k" ;;
	esac
	sleep 0.3
	[ "$k" -eq $((G / 10)) ] && rss10=$(awk '/VmRSS/{print $2}' /proc/$wpid/status)
done
[ -n "$filler" ] && rm -f "$filler"
# the inputs a full disk kept out (cp failed) are fed again, as a
# correlator's retry would
for f in "${files[@]}"; do
	[ -e "$d/incoming/$f" ] || [ -n "$(ls "$d/quarantine" | grep -F "$f")" ] || cp "$work/stream/$f" "$d/incoming/"
done
sleep 5
rss_end=$(awk '/VmRSS/{print $2}' /proc/$wpid/status)
kill -TERM "$wpid"; wait "$wpid"; wpid=
cycles "$d" || echo "bench-soak: the soak run did not settle" >&2
t2=$(now_s)

# the checks
lost=0
for f in "${files[@]}"; do
	[ -e "$d/incoming/$f" ] || [ -n "$(ls "$d/quarantine" | grep -F "$f")" ] || lost=$((lost + 1))
done
nq=$(ls "$d/quarantine" | grep -vc '\.reason$')
unexpected=$((nq - expect_q))
temps=$(find "$d" -name '*.tmp.[0-9]*' | wc -l)
differ=0
for g in $(ls "$work/r/products"); do
	case " ${corrupt_ids[*]:-} " in *" $g "*) continue ;; esac
	for f in image.fits qa.json; do
		cmp -s "$work/r/products/$g/$f" "$d/products/$g/$f" || { differ=$((differ + 1)); break; }
	done
done
dead=$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from targets where state = 'dead'")
dbkb=$(du -k "$d/state/pipeline.sqlite" | cut -f1)
diskkb=$(du -sk "$d" | cut -f1)
rssok=1
[ -n "$rss10" ] && [ $((rss_end * 100)) -gt $((rss10 * 110)) ] && rssok=0
mkdir -p bench/results
{
	bench_header "soak: $G groups, a fault every $P groups (seed $SEED)"
	echo "faults: ${faults[*]:-none}"
	printf 'reference run: %.1f s; soak run: %.1f s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" \
		"$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}')"
	echo "lost $lost, unexpected $unexpected (quarantined $nq, injected $expect_q), temps $temps"
	echo "differ $differ (of $(ls "$work/r/products" | wc -l) groups), dead $dead"
	echo "rss at 10%: ${rss10:-?} KB, at end: $rss_end KB"
	echo "db $dbkb KB, deployment $diskkb KB"
} | tee bench/results/soak.txt
[ "$lost" -eq 0 ] && [ "$unexpected" -eq 0 ] && [ "$temps" -eq 0 ] && [ "$differ" -eq 0 ] &&
	[ "$dead" -eq 0 ] && [ $rssok = 1 ]
