#!/bin/bash
# bench-catchup.sh: catching up after an outage, with intermediate products
# staged on tmpfs against without (issue 10).
#
# A deployment starts with a backlog of B small simulated groups waiting in
# incoming/ (an outage: B = 24 is two hours of 5-minute groups), and new
# groups keep arriving, one every CADENCE seconds of wall time (the real
# cadence, accelerated), N of them. The pipeline runs continuously as
# uvm-watch would: uvm-make cycles back to back. For each mode the same
# simulated stream is fed the same way, one mode after the other:
#   disk     STAGING_DIR empty: every product on the products file system
#   tmpfs    STAGING_DIR=/dev/shm/...: vis.uvh5 and cal.uvh5 staged
# both with the planner's priority order and PRIORITY_BATCH=4 (at most 4
# backlog groups a make cycle, so a new group waits for 4, not all), and
#   disk-batch0  the same on disk with PRIORITY_BATCH=0 (the whole backlog
#                in one cycle), to show what the batch buys
# (PLANNER_DIR, if set, puts another uvm-plan first on PATH for -prio modes.)
# Reported per mode: each new group's latency (its last subband landed ->
# its qa.json written), the time to drain the backlog (start -> the last
# backlog group's qa.json), the time until everything is done, and the
# throughput in groups per hour over the whole run; the load average.
#
# Usage: bench-catchup.sh [B [N [CADENCE]]] (defaults 24, 8, 8).
# Environment: MODES (default "disk tmpfs", plus the -prio ones when
# PLANNER_DIR is set), JOBS (make -j, default nproc), NPIX (image size, 128),
# ANTS and CHANS (antennas 8, channels per subband 4), OUT (results file).
# Writes bench/results/catchup.txt. Needs bin/ built (make).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
B=${1:-24}
N=${2:-8}
CADENCE=${3:-8}
JOBS=${JOBS:-$(nproc)}
NPIX=${NPIX:-128}
ANTS=${ANTS:-8}
CHANS=${CHANS:-4}
OUT=${OUT:-bench/results/catchup.txt}
root=$(pwd)
if [ -z "${MODES:-}" ]; then
	MODES="disk tmpfs disk-batch0"
	[ -n "${PLANNER_DIR:-}" ] && MODES="$MODES disk-prio tmpfs-prio"
fi
for p in uvm-init uvm-sim uvm-plan uvm-run uvm-combine uvm-image; do
	[ -x "bin/$p" ] || { echo "bench-catchup: build bin/$p first (make)" >&2; exit 66; }
done
export PATH="$root/bin:$PATH" UVM_ROOT="$root"
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-catchup.XXXXXX")
shm=/dev/shm/uvm-bench-catchup.$$
trap 'rm -rf "$work" "$shm"' EXIT
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# The stream, simulated once: B + N groups of 4 subbands (8 antennas, 4
# channels, 3 integrations: 39 s of data each), a calibrator transiting the
# first one. Files are fed from here into each deployment's incoming/.
mkdir -p "$work/feed"
# (the simulator places that transit; the calibrator group is simulated
# alone, the others follow it from the next minute on)
uvm-sim -a "$ANTS" -s 4 -c "$CHANS" -t 3 -j 2 -S 7 -n 0.05 -K ops/calibrators.csv -k 3C48 -C 0 \
	-g 1 -o "$work/feed" >/dev/null
first=$(ls "$work/feed" | sed -n 's/_sb00\.hdf5$//p')
next=$(date -u -d "@$(( $(date -u -d "${first/T/ } UTC" +%s) + 60 ))" +%Y-%m-%dT%H:%M:%S)
uvm-sim -a "$ANTS" -s 4 -c "$CHANS" -t 3 -j 2 -S 8 -n 0.05 -T "$next" -g $((B + N - 1)) \
	-o "$work/feed" >/dev/null
# one line per group: the sb00 file's time stamp (the group's files share
# it within the 20 s tolerance), in order
ls "$work/feed" | sed -n 's/_sb00\.hdf5$//p' | sort >"$work/groups"
[ "$(wc -l <"$work/groups")" -eq $((B + N)) ] || { echo "bench-catchup: simulation failed" >&2; exit 70; }
gid() { echo "$1" | tr -d ':-'; }
epoch() { date -u -d "${1/T/ } UTC" +%s; }

# map: "K file" for every simulated file, K the 1-based group whose sb00
# time it lies within -5..+20 s of (groups are 39 s apart, jitter 2 s)
k=0
while read -r ts; do
	k=$((k + 1))
	echo "$k $(epoch "$ts")"
done <"$work/groups" >"$work/starts"
for f in "$work/feed"/*.hdf5; do
	n=$(basename "$f")
	t=$(epoch "${n%_sb*}")
	while read -r k e; do
		if [ $((t - e)) -ge -5 ] && [ $((t - e)) -le 20 ]; then echo "$k $n"; break; fi
	done <"$work/starts"
done >"$work/map"
[ "$(wc -l <"$work/map")" -eq $((4 * (B + N))) ] || { echo "bench-catchup: cannot map files to groups" >&2; exit 70; }

# feed_group DIR SRC K: move group K's files from SRC into DIR/incoming
# (a rename, as the correlator does)
feed_group() {
	local n
	for n in $(awk -v k="$3" '$1 == k { print $2 }' "$work/map"); do
		mv "$2/$n" "$1/incoming/$n"
	done
}

run_mode() {
	m=$1
	d=$work/d.$m
	local stage_dir="" t0 i k done_all
	uvm-init "$d" >/dev/null
	case $m in tmpfs*) stage_dir=$shm/$m ;; esac
	local batch=4
	case $m in *-batch0) batch=0 ;; esac
	cat >>"$d/uvmake.conf" <<-CONF
	SUBBANDS=4
	PARTIAL_MIN=3
	GROUP_TOLERANCE=20
	GROUP_SECONDS=39
	JOBS=$JOBS
	IMAGE_NPIX=$NPIX
	IMAGE_FFTW_PLAN=estimate
	CAL_MIN_SNR=3
	CAL_MAX_FLAGGED=0.9
	RETRY_UNAVAILABLE_BASE=1
	RETRY_BASE=0.5
	DISK_MARGIN_MB=0
	STAGING_DIR=$stage_dir
	STAGING_MAX_PERCENT=50
	SLOTS_combine=2
	SLOTS_image=4
	PRIORITY_REALTIME=60
	PRIORITY_BATCH=$batch
	CONF
	mkdir -p "$work/feed.$m"
	cp "$work/feed"/*.hdf5 "$work/feed.$m/"
	local path=$PATH
	case $m in *-prio) path=$PLANNER_DIR:$PATH ;; esac
	# the outage: B groups waiting
	for k in $(seq 1 "$B"); do feed_group "$d" "$work/feed.$m" "$k"; done
	t0=$(now_s)
	: >"$work/arr.$m"
	# the pipeline, cycle after cycle, until told to stop
	( while [ ! -e "$work/stop.$m" ]; do
		PATH=$path uvm-make -D "$d" -w 600 >>"$work/make.$m.log" 2>&1 || true
		sleep 0.2
	  done ) &
	local runner=$!
	# new groups at the accelerated cadence
	for k in $(seq $((B + 1)) $((B + N))); do
		sleep "$CADENCE"
		feed_group "$d" "$work/feed.$m" "$k"
		echo "$(gid "$(sed -n "${k}p" "$work/groups")") $(now_s)" >>"$work/arr.$m"
	done
	# wait for every qa.json (bounded: 30 min)
	for i in $(seq 1 3600); do
		done_all=1
		while read -r ts; do
			[ -e "$d/products/$(gid "$ts")/qa.json" ] || { done_all=0; break; }
		done <"$work/groups"
		[ $done_all -eq 1 ] && break
		sleep 0.5
	done
	: >"$work/stop.$m"
	wait "$runner" || true
	# figures
	local last_b end
	last_b=$(head -n "$B" "$work/groups" | while read -r ts; do
		date -r "$d/products/$(gid "$ts")/qa.json" +%s.%N 2>/dev/null || echo 1e12
	done | sort -g | tail -1)
	end=$(while read -r ts; do
		date -r "$d/products/$(gid "$ts")/qa.json" +%s.%N 2>/dev/null || echo 1e12
	done <"$work/groups" | sort -g | tail -1)
	: >"$work/lat.$m"
	while read -r g a; do
		q=$(date -r "$d/products/$g/qa.json" +%s.%N 2>/dev/null || echo 1e12)
		awk -v a="$a" -v q="$q" 'BEGIN { printf "%.1f\n", q - a }' >>"$work/lat.$m"
	done <"$work/arr.$m"
	local staged
	staged=$(find "$d/products" -type l | wc -l)
	{
		echo "mode $m: STAGING_DIR=${stage_dir:-(none)}, planner $(PATH=$path command -v uvm-plan)"
		echo "  new-group latency s (in arrival order): $(tr '\n' ' ' <"$work/lat.$m")"
		echo "  new-group latency s: median $(median <"$work/lat.$m"), max $(sort -g "$work/lat.$m" | tail -1)"
		awk -v a="$t0" -v b="$last_b" 'BEGIN { printf "  backlog of %d drained in %.1f s\n", '"$B"', b - a }'
		awk -v a="$t0" -v b="$end" -v n=$((B + N)) \
		    'BEGIN { printf "  all %d groups done in %.1f s: %.0f groups/hour\n", n, b - a, n / (b - a) * 3600 }'
		echo "  products staged (symlinks in products/): $staged;" \
		    "failed jobs: $(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from jobs where class not in ('ok','unavailable')")," \
		    "resource waits: $(cat "$d"/logs/*/*.log | grep -c 'waiting for' || true)"
		echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	} | tee -a "$work/report"
	stat -L -c %s "$d/products/$(gid "$(head -1 "$work/groups")")/vis.uvh5" >"$work/size" 2>/dev/null || true
	rm -rf "${shm:?}/$m"
}

: >"$work/report"
for m in $MODES; do
	run_mode "$m"
done

mkdir -p bench/results
out=$OUT
{
	bench_header "catch-up after an outage: tmpfs staging against disk (bench-catchup.sh)"
	echo "# load average at start: $load0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# backlog $B groups, then $N new groups one every $CADENCE s; make -j$JOBS;"
	echo "# groups of 4 subbands x $ANTS antennas x $CHANS channels x 3 integrations, images ${NPIX}^2;"
	echo "# vis.uvh5 of one group: $(cat "$work/size" 2>/dev/null) bytes"
	echo "# SLOTS_combine=2 SLOTS_image=4; uvm-make cycles back to back"
	echo "# latency: last subband of a new group landed -> its qa.json written"
	cat "$work/report"
} >"$out"
echo "bench-catchup: wrote $out"
