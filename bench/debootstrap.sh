#!/bin/bash
# debootstrap.sh: the Debian package on a clean Debian root, end to end.
#
# usage: bench/debootstrap.sh [dir]        (as root; downloads ~200 MB)
#
# A demonstration, not part of make test: it builds the package (make
# deb), bootstraps a minimal bookworm (debootstrap --variant=minbase, from
# the mirror the machine's apt sources name, or $MIRROR) into dir (default
# a new directory under $TMPDIR or /tmp), and inside it, with /proc
# mounted and no systemd running:
#   - installs the .deb with apt-get --no-install-recommends, so Depends
#     alone must bring everything a deployment needs;
#   - checks the system user, its home, the unit templates, and that no
#     unit was enabled or started;
#   - as the user uvmake: uvm-init a deployment in its home, uvm-sim a
#     small paced stream (two groups of a sky from the source counts, the
#     first the transit of the brightest calibrator that crossed
#     DSA-110's meridian 15 to 150 minutes ago, so the calibration is as
#     fresh as the status asks)
#     into incoming/ while uvm-watch runs (the daemon as the unit would
#     start it), until every group and the hour's mosaic are made
#     (watchdog WAIT_S, default 600 s); uvm-status healthy, the daemon
#     stopped by SIGTERM, uvm-audit clean;
#   - apt-get remove, then purge: the programs go, the deployment stays
#     byte for byte (sha256 of every file), and so do the user and its
#     home holding it.
# Each step's duration and outcome, the package and installed sizes and
# lintian's findings (when lintian is installed) go to
# bench/results/debootstrap.txt. Mounts are undone on any exit; the root
# is deleted unless KEEP=1. CACHE=dir keeps debootstrap's and apt's
# downloads there for the next run.
set -u
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh

die() { echo "debootstrap.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mount)"
for t in debootstrap dpkg-buildpackage dh chroot mount umount; do
	command -v "$t" >/dev/null ||
		die "cannot find '$t': apt-get install -y debootstrap dpkg-dev debhelper"
done

ROOT=${1:-$(mktemp -d "${TMPDIR:-/tmp}/uvm-debootstrap.XXXXXX")}
# the root of a system: mktemp's 0700 would keep every user but root out
# of it (chroot --userspec then cannot even run env)
chmod 0755 "$ROOT"
SUITE=bookworm
WAIT_S=${WAIT_S:-600}
OUT=bench/results/debootstrap.txt
LOG=${ROOT%/}.log
DEP=/var/lib/uvmake/dsa110
body=$(mktemp)
daemon=
rootmb() { du -sxm --exclude="$ROOT/var/cache/apt/archives" "$ROOT" | cut -f1; }

# The first URI the apt sources give for the suite itself (not -security
# or -updates), in either format; else deb.debian.org.
mirror() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v s="$SUITE" '$1 == "deb" { for (i = 2; i < NF; i++) if ($(i + 1) == s &&
			$i ~ /^(https?|ftp):/) { print $i; exit } }'
	awk -v s="$SUITE" '
		/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
		/^$/ { if (ok && u) { print u; exit } u = ""; ok = 0 }
		END { if (ok && u) print u }' /etc/apt/sources.list.d/*.sources 2>/dev/null
	echo http://deb.debian.org/debian
}
MIRROR=${MIRROR:-$(mirror | head -n 1)}

# Every mount under the root, deepest first, then the root itself unless
# KEEP=1 (and only when nothing is mounted under it any more).
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null
	awk -v r="${ROOT%/}/" 'index($2 "/", r) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount "$m" || umount -l "$m"; done
	if [ "${KEEP:-0}" != 1 ] && ! awk -v r="${ROOT%/}/" 'index($2 "/", r) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		rm -rf "$ROOT"
	fi
	rm -f "$body"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# step NAME CMD...: run CMD (output to the log), record its duration and
# outcome; a failed step writes the results so far and stops.
step() {
	local name=$1 t0 t1 st
	shift
	echo "== $name" >>"$LOG"
	t0=$(now_s)
	"$@" >>"$LOG" 2>&1
	st=$?
	t1=$(now_s)
	awk -v n="$name" -v a="$t0" -v b="$t1" -v s="$st" 'BEGIN {
		printf "%-46s %8.1f s  %s\n", n, b - a, s ? "FAILED (exit " s ")" : "ok" }' >>"$body"
	if [ "$st" -ne 0 ]; then
		echo "debootstrap.sh: step '$name' failed (exit $st); log: $LOG" >&2
		results
		exit 1
	fi
}

# in_root CMD...: CMD in the root as root; as_uvmake CMD: a shell command
# line as the user uvmake, with its home and the package's PATH.
in_root() {
	chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C \
		DEBIAN_FRONTEND=noninteractive "$@"
}
as_uvmake() {
	chroot --userspec="$(in_root id -u uvmake):$(in_root id -g uvmake)" "$ROOT" \
		env -i PATH=/usr/bin:/bin HOME=/var/lib/uvmake LC_ALL=C sh -c "$1"
}

results() {
	{
		bench_header "debootstrap: the uvmake package on a clean $SUITE root"
		echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "# mirror: $MIRROR"
		echo "# reproduce: bench/debootstrap.sh   (as root; KEEP=1 keeps the root, CACHE=dir the downloads)"
		echo
		cat "$body"
		[ -n "${facts:-}" ] && { echo; printf '%s\n' "$facts"; }
		if [ -n "${lint:-}" ]; then echo; echo "lintian $(lintian --version | awk '{print $2}'):"; echo "$lint"; fi
	} >"$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
}
fact() { facts="${facts:-}${facts:+
}$1"; }

echo "debootstrap.sh: root $ROOT, mirror $MIRROR, log $LOG" >&2
: >"$LOG"

step "make deb" make deb
deb=$(ls build/deb/uvmake_*.deb)
fact "package: ${deb##*/}, $(stat -c %s "$deb") bytes; Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"
if command -v lintian >/dev/null; then
	lint=$(lintian --display-info --tag-display-limit 0 "$deb" 2>&1 | grep -v 'running with root privileges')
	[ -n "$lint" ] || lint="  (no findings)"
fi

cache=()
if [ -n "${CACHE:-}" ]; then
	mkdir -p "$CACHE/debootstrap" "$CACHE/apt"
	cache=(--cache-dir="$(cd "$CACHE/debootstrap" && pwd)")
fi
step "debootstrap --variant=minbase" debootstrap --variant=minbase "${cache[@]}" "$SUITE" "$ROOT" "$MIRROR"
fact "minbase root: $(rootmb) MB, $(in_root dpkg-query -W | wc -l) packages"
step "mount /proc" mount -t proc proc "$ROOT/proc"
[ -n "${CACHE:-}" ] && step "bind the apt cache" mount --bind "$CACHE/apt" "$ROOT/var/cache/apt/archives"

cp "$deb" "$ROOT/tmp/"
npk0=$(in_root dpkg-query -W | wc -l)
mb0=$(rootmb)
step "apt-get update" in_root apt-get update
step "apt-get install ./uvmake (Depends only)" in_root apt-get install -y --no-install-recommends "/tmp/${deb##*/}"
fact "installed: uvmake and $(( $(in_root dpkg-query -W | wc -l) - npk0 - 1 )) dependencies, $(( $(rootmb) - mb0 )) MB on disk"

check_install() {
	in_root getent passwd uvmake &&
	[ "$(in_root stat -c %U:%G /var/lib/uvmake)" = uvmake:uvmake ] &&
	for u in uvm-watch@.service uvmake-metrics@.timer uvmake-backup@.timer \
		uvmake-retain@.timer uvmake-audit@.timer; do
		[ -f "$ROOT/lib/systemd/system/$u" ] || { echo "missing unit $u"; return 1; }
	done &&
	! find "$ROOT/etc/systemd" "$ROOT/lib/systemd/system" -type l -name '*uv*' | grep . &&
	! find "$ROOT/etc/systemd" -name '*uvm*' | grep . &&
	in_root uvm-run --version && ldd "$ROOT/usr/bin/uvm-image" | { ! grep 'not found'; }
}
step "user, home, templates, nothing enabled" check_install

# pick_calibrator CATALOGUE: the name and declination of the brightest
# calibrator of 5 Jy or more north of -20 deg that crossed the meridian of
# DSA-110 (OVRO, longitude -118.2834 deg) 15 minutes to 2.5 hours ago
# and in an hour that has ended, so that the hour's mosaic is due
# (fainter ones share the field with the sky's brightest sources, and the
# 8-antenna solution fails the flagged-fraction gate); sidereal
# time from the GMST polynomial's linear term, good to seconds over
# decades, ample here. The deployment's POINTING_DEC_DEG is then its
# declination: the planner finds calibrator groups by the configured
# pointing, as for the real telescope.
pick_calibrator() {
	awk -F, -v now="$(date -u +%s)" '
		BEGIN { d = (now - 946728000) / 86400; gmst = 18.697374558 + 24.06570982441908 * d
			# in an hour that is over (its mosaic due: MOSAIC_DELAY=60 below)
			lo = (now % 3600) / 3600 + 3 / 60; if (lo < 0.25) lo = 0.25
			lst = ((gmst * 15 - 118.2834) % 360 + 360) % 360 }
		!/^#/ && $4 >= 5 && $3 > -20 { ha = ((lst - $2) % 360 + 360) % 360 / 15
			if (ha >= lo && ha <= 2.5 && $4 > best) { best = $4; name = $1; dec = $3 } }
		END { if (name == "") exit 1; print name, dec } ' "$1"
}
read -r cal cal_dec <<<"$(pick_calibrator ops/calibrators.csv)"
[ -n "$cal" ] || die "no calibrator crossed the meridian 15-150 min ago"
fact "stream: 2 groups x 4 subbands, 8 antennas, 4 channels, 3 integrations, the 10 brightest sources of the counts; group 0 the transit of $cal (dec $cal_dec)"

step "uvm-init (as uvmake)" as_uvmake "uvm-init $DEP && printf '%s\n' SUBBANDS=4 PARTIAL_MIN=3 \
	GROUP_TOLERANCE=20 GROUP_SECONDS=39 IMAGE_NPIX=128 IMAGE_FFTW_PLAN=estimate CAL_MIN_SNR=3 \
	CAL_MAX_FLAGGED=0.9 RETRY_UNAVAILABLE_BASE=1 RETRY_BASE=0 MOSAIC_DELAY=60 POINTING_DEC_DEG=$cal_dec >>$DEP/uvmake.conf"

# The daemon as the unit starts it, short timers; the stream, paced 10x,
# from three hours ago: uvm-sim puts the calibrator's transit after -T.
chroot --userspec="$(in_root id -u uvmake):$(in_root id -g uvmake)" "$ROOT" \
	env -i PATH=/usr/bin:/bin HOME=/var/lib/uvmake LC_ALL=C \
	uvm-watch -D "$DEP" -s 1 -d 1 -m 5 -r 15 2>"$ROOT$DEP/logs/watch.stderr" &
daemon=$!
step "uvm-sim: 2 groups x 4 subbands" as_uvmake "uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -S 7 -n 0.05 -Y counts -N 10 \
	-T $(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%S) \
	-K /usr/share/uvmake/ops/calibrators.csv -k $cal -C 0 -g 2 -p 10 -o $DEP/incoming"

# Done: every group's products (from the installed stage description),
# a calibration table, the hour's mosaic, and nothing left to plan.
processed() {
	local g p
	[ "$(ls "$ROOT$DEP/products" 2>/dev/null | wc -l)" -eq 2 ] || return 1
	for g in $(ls "$ROOT$DEP/products"); do
		for p in $(awk -v g="$g" '!/^#/ && (NF == 9 || NF == 10) && $4 == "group" && $5 == "-" {
			split($2, t, ","); p = t[1]; gsub(/\{G\}/, g, p); print p }' \
			"$ROOT/usr/share/uvmake/rules/stages"); do
			[ -s "$ROOT$DEP/$p" ] || return 1
		done
	done
	ls "$ROOT$DEP"/caltables/*.cal.h5 >/dev/null 2>&1 &&
	ls "$ROOT$DEP"/mosaics/*.fits >/dev/null 2>&1 &&
	grep -q '"mosaics": *\[ *\]' "$ROOT$DEP/state/plan.json" 2>/dev/null
}
wait_processed() {
	local t=0
	until processed; do
		kill -0 "$daemon" 2>/dev/null || { echo "uvm-watch exited"; return 1; }
		[ "$t" -lt "$WAIT_S" ] || { echo "not processed after $WAIT_S s"; return 1; }
		sleep 2
		t=$((t + 2))
	done
}
step "uvm-watch until processed" wait_processed
step "uvm-status healthy (as uvmake)" as_uvmake "uvm-status -D $DEP && uvm-status -D $DEP -j | grep -q '\"health\":{\"status\":\"ok\"'"
# The upgrade path (prerm upgrade, new files, postinst configure) with the
# daemon running: it is neither stopped nor restarted, and its next cycle
# runs the new programs.
reinstall_running() {
	local pid0
	pid0=$daemon
	in_root apt-get install -y --reinstall --no-install-recommends "/tmp/${deb##*/}" &&
	kill -0 "$daemon" && [ "$daemon" = "$pid0" ] &&
	grep -q "^uvm-watch" "/proc/$daemon/comm"
}
step "reinstall with uvm-watch running: left alone" reinstall_running
stop_daemon() { kill -TERM "$daemon" && wait "$daemon"; st=$?; daemon=; [ "$st" -eq 0 ]; }
step "uvm-watch: SIGTERM, clean exit" stop_daemon
fact "products: $(cd "$ROOT$DEP" && find products caltables mosaics -type f | sort | tr '\n' ' ')"
step "uvm-audit clean (as uvmake)" as_uvmake "uvm-audit -D $DEP"

sums() { (cd "$ROOT$DEP" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
before=$(sums)
fact "deployment: $(echo "$before" | wc -l) files, $(du -sk "$ROOT$DEP" | cut -f1) KiB"
removed() {
	in_root apt-get remove -y uvmake && [ ! -e "$ROOT/usr/bin/uvm-run" ] &&
	[ "$(sums)" = "$before" ] && in_root getent passwd uvmake
}
step "apt-get remove: deployment intact" removed
purged() {
	in_root apt-get purge -y uvmake && ! in_root dpkg-query -W uvmake 2>/dev/null | grep -q . &&
	[ ! -e "$ROOT/lib/systemd/system/uvm-watch@.service" ] &&
	[ "$(sums)" = "$before" ] && in_root getent passwd uvmake
}
step "apt-get purge: deployment intact" purged
results
cat "$OUT"
