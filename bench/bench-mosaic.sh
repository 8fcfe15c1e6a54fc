#!/bin/sh
# bench-mosaic.sh: the hour's mosaic and its catalogue (uvm-mosaic, then
# uvm-sources on it: the mosaic and msources stages) for inputs of NPIXS
# pixels a side (default 2048 4096 6720: the deployment's IMAGE_NPIX, and
# the whole beam at 3.81") at the imager's 3.81" cell, one group and an
# hour of three groups 20 minutes apart. The inputs are apparent images
# made by tests/mosaic_sky.py (40 sources through the group's beam, noise).
# Each run: wall seconds, CPU seconds (user + sys), CPU% and peak RSS.
# Reference in the same run: cat of the inputs' bytes (warm). REPS runs
# (default 3), medians. Writes bench/results/mosaic.txt.
#
# Environment: BENCH_TMP (default /work/tmp-bench), NPIXS, REPS, KEEP=1.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
root=$(pwd)
out=bench/results/mosaic.txt
reps=${REPS:-3}
mkdir -p "${BENCH_TMP:-/work/tmp-bench}" bench/results
tmp=$(mktemp -d "${BENCH_TMP:-/work/tmp-bench}/mosaic.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/bin"
cp -p bin/uvm-mosaic bin/uvm-sources "$tmp/bin/"
export PATH="$tmp/bin:$PATH"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

: >"$tmp/rec"
for n in ${NPIXS:-2048 4096 6720}; do
	i=0
	for mjd in 60000.5208 60000.5069 60000.5347; do  # 12:30, 12:10, 12:50
		i=$((i + 1))
		mkdir -p "$tmp/$n/g$i"
		/usr/bin/python3 -W ignore tests/mosaic_sky.py make "$tmp/$n/g$i" --npix "$n" --cell 3.81 \
			--dec 37.2 --mjd "$mjd" --nsrc 40 --noise 0.001 --fwhm 3.5 --seed "$i" 2>/dev/null
	done
	r=0
	while [ $r -lt "$reps" ]; do
		r=$((r + 1))
		echo "cat_1x$n $(elapsed cat "$tmp/$n/g1/image.fits") 0 0" >>"$tmp/rec"
		record "mosaic_1x$n" uvm-mosaic -o "$tmp/m1.fits" "$tmp/$n/g1/qa.json"
		record "msources_1x$n" uvm-sources -o "$tmp/s1.json" "$tmp/m1.fits"
		echo "cat_3x$n $(elapsed cat "$tmp/$n"/g*/image.fits) 0 0" >>"$tmp/rec"
		record "mosaic_3x$n" uvm-mosaic -o "$tmp/m3.fits" "$tmp/$n"/g*/qa.json
		record "msources_3x$n" uvm-sources -o "$tmp/s3.json" "$tmp/m3.fits"
	done
	eval "grid1_$n=\$(head -c 2880 \"\$tmp/m1.fits\" | fold -w 80 | sed -n 's/^NAXIS[12] *= *\([0-9]*\).*/\1/p' | paste -sd x)"
	eval "grid3_$n=\$(head -c 2880 \"\$tmp/m3.fits\" | fold -w 80 | sed -n 's/^NAXIS[12] *= *\([0-9]*\).*/\1/p' | paste -sd x)"
	rm -rf "${tmp:?}/$n" "$tmp"/m?.fits
done

{
	bench_header "uvm-mosaic and uvm-sources on its mosaic (bench/bench-mosaic.sh)"
	echo "# load average: at start $load0, at end $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared)"
	echo "# inputs: tests/mosaic_sky.py apparent images, 3.81\" cell, dec 37.2; 1 group at 12:30, or 3 at 12:10, 12:30, 12:50"
	echo "# medians of $reps runs; cat: the inputs' bytes, warm"
	printf '%-18s %-12s %8s %8s %6s %8s\n' run grid wall_s cpu_s cpu% rss_MB
	for n in ${NPIXS:-2048 4096 6720}; do
		for m in 1 3; do
			eval "grid=\$grid${m}_$n"
			for k in cat mosaic msources; do
				w=$(record_med "${k}_${m}x$n" 1)
				c=$(record_med "${k}_${m}x$n" 2)
				printf '%-18s %-12s %8.2f %8.2f %6s %8.0f\n' "${k}_${m}x$n" "$grid" "$w" "$c" \
					"$(echo "$w $c" | awk '$1 > 0 && $2 > 0 {printf "%.0f", 100 * $2 / $1; next} {print "-"}')" \
					"$(record_med "${k}_${m}x$n" 3 | awk '{print $1 / 1024}')"
			done
		done
	done
	echo "# reproduce: bench/bench-mosaic.sh (env: REPS=$reps NPIXS=\"${NPIXS:-2048 4096 6720}\")"
} | tee "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
