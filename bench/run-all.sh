#!/bin/sh
# run-all.sh: run every benchmark under bench/ (make bench).
#
# Each bench/bench-*.sh measures one thing against a reference taken in the
# same run (cat, dd, the bare command) and writes bench/results/<name>.txt
# with the machine and the date. A failing benchmark is reported and the
# others still run; the exit status is the number of failures (max 125).
set -u
cd "$(dirname "$0")/.."
export PATH="$(pwd)/bin:$PATH"
mkdir -p bench/results
fail=0
for b in bench/bench-*.sh; do
	[ -x "$b" ] || continue
	echo "== $b"
	if ! "$b"; then
		echo "bench: '$b' failed" >&2
		fail=$((fail + 1))
	fi
done
[ $fail -gt 125 ] && fail=125
exit $fail
