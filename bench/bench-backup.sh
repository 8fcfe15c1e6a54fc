#!/bin/bash
# bench-backup.sh: what a backup costs on a deployment with a history.
#
# A deployment with J job records (default 10000; rows inserted straight
# into SQLite with the real schema: targets, groups and jobs as uvm-run and
# uvm-plan write them) and T calibration tables (default 100: one real
# table solved by the pipeline on a small simulated calibrator transit,
# copied under T distinct group names, each with its registry row).
# Measures, N times each (default 5, interleaved), the median wall time of
# `uvm-backup` (online SQLite copies, SHA-256 manifest, zstd tar) against
# references over the same bytes in the same run: `cat` of the files,
# `tar -c | cat` of them (piped: GNU tar does not read the files when it
# writes to /dev/null), and `tar -c | zstd -3` (what the archive is,
# without the consistent copies and checksums); plus the archive size and
# its `uvm-restore -c` (verify) time.
# Writes bench/results/backup.txt. Usage: bench-backup.sh [N [J [T]]]
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-5}
J=${2:-10000}
T=${3:-100}
root=$(pwd)
export PATH="$root/bin:$PATH"
for p in uvm-init uvm-sim uvm-make uvm-backup uvm-restore uvm-audit; do
	command -v "$p" >/dev/null || { echo "bench-backup: build bin/$p first (make)" >&2; exit 66; }
done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-backup.XXXXXX")
trap 'rm -rf "$work"' EXIT
d=$work/d
uvm-init "$d" >/dev/null
cat >>"$d/uvmake.conf" <<CONF
SUBBANDS=4
PARTIAL_MIN=3
GROUP_TOLERANCE=20
GROUP_SECONDS=39
IMAGE_NPIX=64
IMAGE_FFTW_PLAN=estimate
CAL_MIN_SNR=3
CAL_MAX_FLAGGED=0.9
RETRY_UNAVAILABLE_BASE=0
RETRY_BASE=0
CONF

# one real calibration table from a small calibrator transit
uvm-sim -a 8 -s 4 -c 16 -t 6 -j 2 -S 7 -n 0.05 -K "$root/ops/calibrators.csv" -k 3C48 -C 0 -g 1 \
	-o "$d/incoming" >/dev/null
for i in 1 2 3 4 5; do uvm-make -D "$d" -w 60 >/dev/null 2>&1 && break; sleep 1; done
tab0=$(cd "$d" && ls caltables/*.cal.h5 | head -1)
[ -n "$tab0" ] || { echo "bench-backup: the pipeline made no calibration table" >&2; exit 70; }
g0=$(basename "$tab0" .cal.h5)
reg=$d/state/calibration.sqlite
for i in $(seq 2 "$T"); do
	g=$(printf '2024%02d%02dT%02d0000' $(( (i / 28) % 12 + 1 )) $(( i % 28 + 1 )) $(( i % 24 )))
	cp -p "$d/$tab0" "$d/caltables/$g.cal.h5"
	echo "INSERT INTO caltables(path, grp, calibrator, transit_mjd, mjd_start, mjd_end, frac_flagged,
	      median_snr, residual_rms, created, status, reason)
	      SELECT 'caltables/$g.cal.h5', '$g', calibrator, transit_mjd - $i, mjd_start - $i, mjd_end - $i,
	      frac_flagged, median_snr, residual_rms, created, status, reason FROM caltables WHERE grp = '$g0';"
done | sqlite3 "$reg"

# J job records: 7 stages a group (16 verify + 6 later stages is real; 7
# keeps the arithmetic plain), one targets row per job, one groups row a group
sqlite3 "$d/state/pipeline.sqlite" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $J),
g(i, grp, stage, target) AS (
  SELECT i, strftime('%Y%m%dT%H%M%S', 1700000000 + (i / 7) * 309, 'unixepoch'),
         CASE i % 7 WHEN 0 THEN 'verify' WHEN 1 THEN 'combine' WHEN 2 THEN 'calapply'
           WHEN 3 THEN 'image' WHEN 4 THEN 'qa' WHEN 5 THEN 'verify' ELSE 'mosaic' END, NULL FROM n)
INSERT INTO jobs(target, grp, stage, command, started, ended, status, class, attempt, pid, host,
                 maxrss_kb, cpu_s, log)
SELECT 'products/' || grp || '/' || stage || (i % 7) || '.out', grp, stage,
       'uvm-' || stage || ' -q -o products/' || grp || '/' || stage || ' incoming/x_sb00.hdf5 incoming/x_sb01.hdf5',
       1700000000 + i * 44.1, 1700000000 + i * 44.1 + 12.5, 0, 'ok', 1, 10000 + i, 'node1',
       200000 + i % 5000, 11.2, 'logs/' || grp || '/' || stage || '.log'
FROM g;
INSERT INTO targets(target, grp, stage, state, attempts, last_class, last_status, updated)
SELECT target, grp, stage, 'ok', 1, 'ok', 0, ended FROM jobs WHERE target LIKE '%.out';
INSERT OR IGNORE INTO groups(grp, first_seen, nsub, missing, state, updated)
SELECT DISTINCT grp, 1700000000, 16, '', 'done', 1700000000 FROM jobs;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL

njobs=$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from jobs")
ntab=$(ls "$d"/caltables/*.cal.h5 | wc -l)
files=$(cd "$d" && ls state/*.sqlite caltables/*.cal.h5 uvmake.conf | tr '\n' ' ')
bytes=$(cd "$d" && cat $files | wc -c)

: >"$work/b.txt"; : >"$work/v.txt"; : >"$work/cat.txt"; : >"$work/tar.txt"; : >"$work/tz.txt"
for i in $(seq 1 "$N"); do
	rm -rf "$work/out"
	elapsed uvm-backup -D "$d" -o "$work/out" >>"$work/b.txt"
	a=$(ls "$work"/out/uvmake-*.tar.zst)
	elapsed uvm-restore -D "$d" -c "$a" >>"$work/v.txt"
	(cd "$d" && elapsed sh -c "cat $files >/dev/null") >>"$work/cat.txt"
	(cd "$d" && elapsed sh -c "tar -cf - $files | cat >/dev/null") >>"$work/tar.txt"
	(cd "$d" && elapsed sh -c "tar -cf - $files | zstd -q -3 >'$work/ref.tar.zst'") >>"$work/tz.txt"
done
asize=$(stat -c %s "$a")
rsize=$(stat -c %s "$work/ref.tar.zst")
dbsize=$(stat -c %s "$d/state/pipeline.sqlite")
tsize=$(stat -c %s "$d/$tab0")
fmt() { awk -v x="$1" 'BEGIN { printf "%.3f", x }'; }

mkdir -p bench/results
out=bench/results/backup.txt
{
	bench_header "uvm-backup: time and size with a history (bench-backup.sh)"
	echo "# load average at start: $load0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# deployment: $njobs job records (pipeline.sqlite $dbsize bytes), $ntab calibration tables of $tsize bytes"
	echo "# (one real table, 8 antennas x 64 channels, copied), $bytes bytes in all; medians of $N runs"
	echo "uvm-backup (online copies + SHA-256 + tar + zstd): $(fmt "$(median <"$work/b.txt")") s, archive $asize bytes"
	echo "uvm-restore -c (verify the manifest):             $(fmt "$(median <"$work/v.txt")") s"
	echo "reference cat of the same files:                   $(fmt "$(median <"$work/cat.txt")") s"
	echo "reference tar -c | cat of the same files:          $(fmt "$(median <"$work/tar.txt")") s"
	echo "reference tar -c | zstd -3:                        $(fmt "$(median <"$work/tz.txt")") s, $rsize bytes"
	echo "samples uvm-backup s: $(tr '\n' ' ' <"$work/b.txt")"
} >"$out"
cat "$out"
