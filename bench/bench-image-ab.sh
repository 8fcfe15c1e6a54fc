#!/bin/sh
# bench-image-ab.sh: uvm-image of this tree against another build (OLD,
# a directory holding its uvm-image: e.g. main's bin/ copied aside) on
# the same full-size group, at the chain's whole-beam size and at 2048^2,
# runs alternated (old new, then new old) so that a shared machine's load
# falls on both alike. Per size: medians of wall, CPU seconds, CPU% and
# peak RSS, the ratios new/old, the phases from the debug timing lines
# (read, first gridding with its FFTs, CLEAN with its major cycles, the
# major cycles' FFTs), and how far the new images are from the old ones:
# max |new - old| over the old restored image's peak, for the restored
# image and for the residual. Both builds share one MEASURE wisdom file,
# planned before the timed runs: with the same plans the same grids give
# the same images, so a difference is the code's (plans measured
# separately may pick other algorithms, whose rounding alone moves a
# 6720^2 CLEAN by ~2% of the peak). Writes bench/results/image-ab.txt.
#
# Environment: OLD (required); VIS=path of a combined group (default:
# simulate one as bench-chain.sh does, 3C48 transiting, and combine it);
# SIZES (default "6720 2048"); REPS (default 3); WISDOM=a wisdom file
# made earlier (copied: planning at 6720^2 takes a minute or more);
# BENCH_TMP (default /tmp, ~1.5 GB); KEEP=1 keeps the data.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
: "${OLD:?OLD=directory of the reference build's uvm-image}"
new=$(pwd)/bin/uvm-image old=$OLD/uvm-image
out=bench/results/image-ab.txt
tmp=$(mktemp -d "${BENCH_TMP:-/tmp}/uvm-bench-image-ab.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
load0=$(cut -d' ' -f1-3 /proc/loadavg)

if [ -n "${VIS:-}" ]; then
	vis=$VIS
else
	bin/uvm-sim -N 10 -n 0.5 -K ops/calibrators.csv -k 3C48 -C 0 -R "$tmp/truth.json" \
		-o "$tmp/sim" >/dev/null
	bin/uvm-combine -o "$tmp/vis.uvh5" "$tmp"/sim/*.hdf5
	rm -rf "$tmp/sim"
	vis=$tmp/vis.uvh5
fi

# lap LOG NAME: wall seconds of the debug line "NAME...: ... W s wall".
lap() {
	sed -n "s/.*debug: $2[^:]*: .*[ ,]\([0-9.]*\) s wall.*/\1/p" "$1" | head -n 1
}

# one WHICH NPIX: one timed run; appends "which npix wall cpu rss_mb
# read grid clean fft" to $tmp/rec and keeps the image as WHICH-NPIX.fits.
one() {
	bin=$old
	[ "$1" = new ] && bin=$new
	/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" env UVM_DEBUG=1 "$bin" -n "$2" \
		-w "$tmp/wisdom" -o "$tmp/$1-$2.fits" "$vis" 2>"$tmp/log" ||
		{ echo "bench-image-ab: $1 failed:" >&2; tail -3 "$tmp/log" >&2; exit 1; }
	fft=$(sed -n 's/.*major cycles: fft [0-9.]* s cpu, \([0-9.]*\) s wall.*/\1/p' "$tmp/log")
	awk -v w="$1" -v n="$2" -v r="$(lap "$tmp/log" read)" \
		-v g="$(lap "$tmp/log" 'gridded and transformed')" -v c="$(lap "$tmp/log" cleaned)" \
		-v f="$fft" '{printf "%s %s %s %.2f %.0f %s %s %s %s\n", w, n, $1, $2 + $3, $4 / 1024,
			r, g, c, f}' "$tmp/time" >>"$tmp/rec"
}

# med WHICH NPIX FIELD: the median of a field of the record.
med() {
	awk -v w="$1" -v n="$2" -v f="$3" '$1 == w && $2 == n {print $f}' "$tmp/rec" | median
}

: >"$tmp/rec"
[ -z "${WISDOM:-}" ] || cp "$WISDOM" "$tmp/wisdom"
for n in ${SIZES:-6720 2048}; do
	for w in old new; do
		bin=$old
		[ "$w" = new ] && bin=$new
		"$bin" -n "$n" -i 0 -w "$tmp/wisdom" -o "$tmp/plan.fits" "$vis" 2>/dev/null
	done
	r=0
	while [ "$r" -lt "${REPS:-3}" ]; do
		if [ $((r % 2)) = 0 ]; then one old "$n"; one new "$n"; else one new "$n"; one old "$n"; fi
		r=$((r + 1))
	done
	/usr/bin/python3 - "$tmp/old-$n.fits" "$tmp/new-$n.fits" >"$tmp/acc-$n" <<'EOF'
import sys
import numpy as np
from astropy.io import fits
a, b = fits.open(sys.argv[1]), fits.open(sys.argv[2])
peak = np.nanmax(np.abs(a[0].data))
for i, name in enumerate(("restored", "residual")):
    d = np.nanmax(np.abs(b[i].data.astype(np.float64) - a[i].data))
    print("%s max|new-old|/peak %.3g" % (name, d / peak), end="; " if i == 0 else "\n")
EOF
done

{
	bench_header "uvm-image: this tree (new) against OLD=$OLD (old), one full-size group"
	echo "# input: $(du -m "$vis" | cut -f1) MB combined; load average at start: $load0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# medians of ${REPS:-3} runs each, old and new alternated; one MEASURE wisdom for both"
	echo "# phases (wall s, from UVM_DEBUG lines): read = into the store; grid = first gridding"
	echo "# and its FFTs; clean = minor and major cycles; fft = the major cycles' FFTs"
	printf '%-5s %-4s %7s %7s %5s %7s %6s %6s %6s %6s\n' npix who wall_s cpu_s cpu% rss_MB read \
		grid clean fft
	for n in ${SIZES:-6720 2048}; do
		for w in old new; do
			printf '%-5s %-4s %7.2f %7.2f %5.0f %7.0f %6.2f %6.2f %6.2f %6.2f\n' "$n" "$w" \
				"$(med $w "$n" 3)" "$(med $w "$n" 4)" \
				"$(echo "$(med $w "$n" 4) $(med $w "$n" 3)" | awk '{print 100 * $1 / $2}')" \
				"$(med $w "$n" 5)" "$(med $w "$n" 6)" "$(med $w "$n" 7)" "$(med $w "$n" 8)" \
				"$(med $w "$n" 9)"
		done
		awk -v n="$n" -v w1="$(med new "$n" 3)" -v w0="$(med old "$n" 3)" -v c1="$(med new "$n" 4)" \
			-v c0="$(med old "$n" 4)" -v r1="$(med new "$n" 5)" -v r0="$(med old "$n" 5)" \
			'BEGIN {printf "# %s new/old: wall %.3f, cpu %.3f, rss %.3f\n", n, w1 / w0, c1 / c0, r1 / r0}'
		echo "# $n accuracy (last runs): $(cat "$tmp/acc-$n")"
	done
	echo "# reproduce: OLD=<dir with main's uvm-image> bench/bench-image-ab.sh (env: VIS SIZES REPS)"
} >"$out"
cat "$out"
