#!/bin/sh
# test-repeat.sh: is `make test` green on a fresh clone, every time?
#
#   bench/test-repeat.sh [N] [REV]     (make test-repeat N=10)
#
# Clones REV (default: main) of this repository N times (default 10), each
# into a new directory with ../shared beside it as CI lays it out, runs
# `make test` there with CI=true and no standard input, and records
# pass/fail and the wall time of each run. The suite must not depend on
# what an earlier run left behind, on timing or on stack garbage: a flaky
# test shows up as a failed run here. Not part of `make bench` (its name
# does not start with bench-): one run takes ~10 minutes on 2 cores.
#
# Writes bench/results/test-repeat.txt (runs, passed, median time) and the
# log of any failed run beside it; exit 0 only if every run passed.
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
n=${1:-10}
rev=${2:-main}
repo=$(pwd)
shared=$(cd ../shared 2>/dev/null && pwd) || { echo "test-repeat: no ../shared beside the repository" >&2; exit 66; }
out=bench/results/test-repeat.txt
mkdir -p bench/results
work=$(mktemp -d "${TMPDIR:-/tmp}/uvm-repeat.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
pass=0
: >"$work/times"
{
	bench_header "make test on a fresh clone of $rev, $n runs"
	echo "# commit: $(git rev-parse --short "$rev")"
} >"$out"
for i in $(seq 1 "$n"); do
	d="$work/run$i"
	mkdir -p "$d"
	ln -s "$shared" "$d/shared"
	git clone -q --no-local "$repo" "$d/main" && git -C "$d/main" checkout -q "$rev" || exit 70
	t0=$(now_s)
	if (cd "$d/main" && CI=true make test </dev/null >"$d/log" 2>&1); then
		st=pass
		pass=$((pass + 1))
	else
		st=FAIL
		cp "$d/log" "bench/results/test-repeat-fail-$i.log"
	fi
	t=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN{printf "%.0f", b-a}')
	echo "$t" >>"$work/times"
	summary=$(grep -E '^unit: |^[0-9]+ tests?, ' "$d/log" | tr '\n' ' ')
	echo "run $i: $st in ${t}s ($summary)" | tee -a "$out"
	rm -rf "$d"
done
echo "passed: $pass of $n; median run $(median <"$work/times") s; load average now $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
[ "$pass" -eq "$n" ]
