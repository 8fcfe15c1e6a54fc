#!/bin/sh
# bench-mosaic-hour.sh: what the hour's mosaic costs as its groups come
# in. A group's last job re-makes its hour's mosaic (uvm-mosaic over every
# group of the hour so far) and the mosaic's catalogue (uvm-sources), so
# the chain of the k-th group of an hour ends with a mosaic of k images.
# Inputs: tests/mosaic_sky.py apparent images of NPIX pixels (default
# 6720, the whole beam at 3.81"), 40 sources each, dec 37.2, one every
# 5 minutes from hh:02:30, as a drift gives them; mosaics of the first K
# of them for K in KS (default "1 3 6 12"). Each: wall seconds, CPU
# seconds (user + sys), CPU% and peak RSS, medians of REPS runs (default
# 3); reference in the same run: cat of the K inputs' bytes (warm).
# Writes bench/results/mosaic-hour.txt.
#
# Environment: BENCH_TMP (default /work/tmp-bench), NPIX, KS, REPS, KEEP=1.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
out=bench/results/mosaic-hour.txt
reps=${REPS:-3}
npix=${NPIX:-6720}
ks=${KS:-1 3 6 12}
mkdir -p "${BENCH_TMP:-/work/tmp-bench}" bench/results
tmp=$(mktemp -d "${BENCH_TMP:-/work/tmp-bench}/mhour.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/bin"
cp -p bin/uvm-mosaic bin/uvm-sources "$tmp/bin/"
export PATH="$tmp/bin:$PATH"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
kmax=$(echo $ks | tr ' ' '\n' | sort -n | tail -1)

i=0
while [ $i -lt "$kmax" ]; do
	mjd=$(awk -v i=$i 'BEGIN { printf "%.6f", 60000.5 + (150 + 300 * i) / 86400 }')
	mkdir -p "$tmp/g$i"
	/usr/bin/python3 -W ignore tests/mosaic_sky.py make "$tmp/g$i" --npix "$npix" --cell 3.81 \
		--dec 37.2 --mjd "$mjd" --nsrc 40 --noise 0.001 --fwhm 3.5 --seed $((i + 1)) 2>/dev/null
	i=$((i + 1))
done
: >"$tmp/rec"
r=0
while [ $r -lt "$reps" ]; do
	r=$((r + 1))
	for k in $ks; do
		set --
		i=0
		while [ $i -lt "$k" ]; do set -- "$@" "$tmp/g$i/qa.json"; i=$((i + 1)); done
		echo "cat_$k $(elapsed cat $(echo "$@" | sed 's/qa\.json/image.fits/g')) 0 0" >>"$tmp/rec"
		record "mosaic_$k" uvm-mosaic -o "$tmp/m$k.fits" "$@"
		record "msources_$k" uvm-sources -o "$tmp/s$k.json" "$tmp/m$k.fits"
		eval "grid_$k=\$(head -c 2880 \"\$tmp/m\$k.fits\" | fold -w 80 | sed -n 's/^NAXIS[12] *= *\([0-9]*\).*/\1/p' | paste -sd x)"
	done
done

{
	bench_header "the hour's mosaic as its groups come in (bench/bench-mosaic-hour.sh)"
	echo "# load average: at start $load0, at end $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared)"
	echo "# inputs: tests/mosaic_sky.py, ${npix}^2 of 3.81\", dec 37.2, one every 5 min from hh:02:30; K = groups of the hour so far"
	echo "# medians of $reps runs; cat: the K inputs' bytes, warm"
	printf '%-14s %-12s %8s %8s %6s %8s\n' run grid wall_s cpu_s cpu% rss_MB
	for m in $ks; do
		eval "grid=\$grid_$m"
		for k in cat mosaic msources; do
			w=$(record_med "${k}_$m" 1)
			c=$(record_med "${k}_$m" 2)
			printf '%-14s %-12s %8.2f %8.2f %6s %8.0f\n' "${k}_$m" "$grid" "$w" "$c" \
				"$(echo "$w $c" | awk '$1 > 0 && $2 > 0 {printf "%.0f", 100 * $2 / $1; next} {print "-"}')" \
				"$(record_med "${k}_$m" 3 | awk '{print $1 / 1024}')"
		done
	done
	echo "# reproduce: bench/bench-mosaic-hour.sh (env: REPS=$reps NPIX=$npix KS=\"$ks\")"
} | tee "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
