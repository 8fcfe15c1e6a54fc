# test_helper.bash: shared set-up for every .bats file.
#
# Loads bats-support and bats-assert from Debian's packages, puts the
# sanitizer build first on PATH (make test does too; this makes a single
# `bats tests/uvm-x.bats` work the same), and offers small helpers.
# Each test works inside its own $BATS_TEST_TMPDIR.

bats_require_minimum_version 1.5.0
bats_load_library bats-support 2>/dev/null || load /usr/lib/bats/bats-support/load
bats_load_library bats-assert 2>/dev/null || load /usr/lib/bats/bats-assert/load

UVM_ROOT="${UVM_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
export UVM_ROOT
export PATH="$UVM_ROOT/build/san/bin:$UVM_ROOT/bin:$PATH"
UVM_SAMPLES="${UVM_SAMPLES:-$(cd "$UVM_ROOT/../shared/data/uvh5" 2>/dev/null && pwd)}"
export UVM_SAMPLES
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:exitcode=70}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$UVM_ROOT/tests/lsan.supp:print_suppressions=0}"
unset UVM_HOME UVM_GROUP UVM_LOG_TIME UVM_DEBUG

# no_temps DIR: fail if any of our temporaries (*.tmp.<pid>) is under DIR.
no_temps() {
	local found
	found=$(find "$1" -name '*.tmp.[0-9]*' 2>/dev/null)
	if [ -n "$found" ]; then
		echo "temporaries left: $found" >&2
		return 1
	fi
}

# tiny_fs DIR SIZE_KB: mount a small tmpfs at DIR (root only); returns 1
# (and the caller skips) where mounting is not allowed.
tiny_fs() {
	mkdir -p "$1"
	mount -t tmpfs -o size="${2}k" tmpfs "$1" 2>/dev/null
}

# sim_small [uvm-sim args]: a small simulated group (6 antennas, 4 subbands).
sim_small() {
	uvm-sim -a 6 -s 4 -c 4 -t 3 "$@"
}

# rclone: an empty config of our own (remotes come from RCLONE_CONFIG_*
# variables in the tests), so it neither reads root's nor warns about it.
export RCLONE_CONFIG="$BATS_SUITE_TMPDIR/rclone.conf"
[ -f "$RCLONE_CONFIG" ] || : >"$RCLONE_CONFIG"

# settle DIR [make-arg...]: uvm-make cycles until one succeeds, at most
# 15, a second apart (deferred jobs, e.g. waiting for calibration, wait
# out their backoff); 1 if none did
settle() {
	local i
	for i in $(seq 1 15); do
		uvm-make -D "$1" -w 60 "${@:2}" >/dev/null 2>&1 && return 0
		sleep 1
	done
	return 1
}

# products DIR: sorted "sha256  path" of every product of a deployment;
# calibration tables by their solutions (the file also records when it
# was made)
products() {
	(cd "$1" && find products mosaics -type f -print0 2>/dev/null |
		sort -z | xargs -0 -r sha256sum
	 for t in caltables/*.cal.h5; do
		[ -f "$t" ] && echo "$(h5dump -d /gains -d /flags "$t" | sha256sum)  $t"
	 done)
}

# small_conf DIR [KEY=VALUE...]: append to DIR/uvmake.conf the small
# deployment the end-to-end tests share (4 subbands, 39 s groups, 128-pixel
# images reproducible bit for bit with ESTIMATE plans, calibration gates
# loose enough for a short simulation, unavailable calibration retried
# after 1 s instead of minutes, retries without backoff). Each KEY=VALUE
# replaces the line of that key, or is added after them: the tests differ
# only in retry settings, image size, subbands and staging.
small_conf() {
	local dir=$1 kv i found
	local -a conf=(SUBBANDS=4 PARTIAL_MIN=3 GROUP_TOLERANCE=20 GROUP_SECONDS=39
		IMAGE_NPIX=128 IMAGE_FFTW_PLAN=estimate CAL_MIN_SNR=3 CAL_MAX_FLAGGED=0.9
		RETRY_UNAVAILABLE_BASE=1 RETRY_BASE=0)
	shift
	for kv in "$@"; do
		found=0
		for i in "${!conf[@]}"; do
			if [ "${conf[$i]%%=*}" = "${kv%%=*}" ]; then
				conf[$i]=$kv
				found=1
			fi
		done
		[ "$found" = 1 ] || conf+=("$kv")
	done
	printf '%s\n' "${conf[@]}" >>"$dir/uvmake.conf"
}

# small_deploy DIR [KEY=VALUE...]: uvm-init DIR, then small_conf.
small_deploy() {
	uvm-init "$1" >/dev/null && small_conf "$@"
}

# group_products G [RULES_DIR]: the per-group products of group G that
# every group gets (not the calibrator-only ones), from the stage
# description (rules/stages), one path relative to the deployment a line;
# so a test that fakes a finished group follows the graph as it is.
group_products() {
	awk -v g="$1" '!/^#/ && (NF == 9 || NF == 10) && $4 == "group" && $5 == "-" {
		split($2, t, ","); p = t[1]; gsub(/\{G\}/, g, p); print p }' "${2:-$UVM_ROOT/rules}/stages"
}

# strict_json FILE: FILE is JSON as RFC 8259 has it (no NaN, Infinity or
# C's "nan"/"inf", which Python's and most readers' parsers refuse)
strict_json() {
	/usr/bin/python3 -c '
import json, sys
def bad(c):
    raise ValueError("not JSON: " + c)
json.load(open(sys.argv[1]), parse_constant=bad)' "$1"
}
