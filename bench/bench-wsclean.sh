#!/bin/sh
# bench-wsclean.sh: uvm-image beside WSClean on the same visibilities, with
# the operators' settings on both (Briggs 0, auto-mask 3 sigma,
# auto-threshold 0.5 sigma; same image size and cell; 2 threads): wall and
# CPU time, peak RSS, rms of the residual, and every source of the
# simulator's truth with the flux and position uvm-sources (the same
# finder for both) finds in each image. WSClean reads a Measurement Set
# made by bench/uvh5_to_ms.py (not timed).
#
# Two modes:
#   default: a full-size group of 10 uniform sources, NPIX (default 2048)
#     at uvm-image's cell; bench/results/wsclean.txt.
#   FULLBEAM=1: the whole beam, as issue 17 asks: bench-science.sh's counts
#     field (uvm-sim -Y counts -N 50 -n radiometer -G 0 -S 11, the
#     simulator's tapered dish: SIM_ARGS), calibrated by the pipeline's own
#     programs (uvm-flag, then uvm-calapply with a table uvm-calsolve made
#     on a 3C48 transit simulated alike: the group as a target group with
#     its table), imaged at uvm-image's automatic size (the primary beam to
#     its first null: 6720^2 of 3.81 arcsec at full size) and by WSClean
#     at the same size and cell with the w-gridder (the field is 7 degrees
#     wide: w-terms matter); both judged against the truth through
#     tests/science_eval.py (positions through astropy, apparent fluxes
#     through the simulator's beam, thermal noise from the radiometer
#     noise and the weights); bench/results/wsclean-fullbeam.txt.
#
# Environment: VIS=path and TRUTH=path image that calibrated file with that
# truth instead of simulating; MS=path a Measurement Set already made from
# VIS; NPIX (default mode); WSCLEAN_ARGS replaces WSClean's deconvolution
# options (see below); ABOUT (with VIS: how it was made, for the record);
# BENCH_TMP (default /work/tmp-bench); KEEP=1 keeps
# the data; OUT another results file. Runs whatever bin/uvm-image is built. Needs the Debian packages
# wsclean and python3-casacore (ops/deps.sh).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
root=$(pwd)
export PATH="$root/bin:$PATH" UVM_ROOT="$root"
full=${FULLBEAM:-0}
if [ "$full" = 1 ]; then
	out=${OUT:-bench/results/wsclean-fullbeam.txt}
else
	out=${OUT:-bench/results/wsclean.txt}
fi
mkdir -p "${BENCH_TMP:-/work/tmp-bench}"
tmp=$(mktemp -d "${BENCH_TMP:-/work/tmp-bench}/wsclean.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
# the programs copied once: a rebuild of bin/ during the run changes nothing
mkdir "$tmp/bin"
cp -p bin/uvm-* "$tmp/bin/"
export PATH="$tmp/bin:$PATH"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# timed LABEL CMD...: run CMD under GNU time, its output in LABEL.log;
# LABEL.res gets "wall cpu rss_mb".
timed() {
	label=$1
	shift
	if ! /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" >"$tmp/$label.log" 2>&1; then
		echo "bench-wsclean: $label failed:" >&2
		tail -5 "$tmp/$label.log" >&2
		exit 1
	fi
	awk '{printf "%.1f %.1f %d\n", $1, $2 + $3, $4 / 1024}' "$tmp/time" >"$tmp/$label.res"
}

# fullbeam_data: the counts field through the pipeline's calibration into
# $tmp/cal.uvh5 (truth in $tmp/truth.json).
fullbeam_data() {
	sim=${SIM_ARGS:--Y counts -N 50 -B taper -n radiometer -G 0 -S 11}
	calsim=${CAL_SIM_ARGS:--N 0 -B taper -n radiometer -G 0 -S 11 -K ops/calibrators.csv -k 3C48 -C 0}
	uvm-init "$tmp/home" >/dev/null
	uvm-sim $sim -R "$tmp/truth.json" -o "$tmp/sim" >/dev/null
	uvm-sim $calsim -o "$tmp/calsim" >/dev/null
	uvm-combine -o "$tmp/vis.uvh5" "$tmp"/sim/*.hdf5
	uvm-combine -o "$tmp/calvis.uvh5" "$tmp"/calsim/*.hdf5
	rm -rf "$tmp/sim" "$tmp/calsim"
	uvm-flag -D "$tmp/home" -o "$tmp/flag.uvh5" "$tmp/vis.uvh5"
	uvm-flag -D "$tmp/home" -o "$tmp/calflag.uvh5" "$tmp/calvis.uvh5"
	rm -f "$tmp/vis.uvh5" "$tmp/calvis.uvh5"
	uvm-calsolve -D "$tmp/home" -g calgroup -k 3C48 -o "$tmp/cal.h5" "$tmp/calflag.uvh5" 2>/dev/null
	uvm-calapply -c "$tmp/cal.h5" -o "$tmp/cal.uvh5" "$tmp/flag.uvh5" 2>/dev/null
	rm -f "$tmp/calflag.uvh5" "$tmp/flag.uvh5"
	echo "# field: uvm-sim $sim; calibrator group: uvm-sim $calsim" >"$tmp/about"
	echo "# pipeline: uvm-combine, uvm-flag, uvm-calsolve -k 3C48 on the calibrator group, uvm-calapply -c that table" >>"$tmp/about"
}

if [ -n "${VIS:-}" ]; then
	vis=$VIS truth=$TRUTH
	echo "# input: VIS=$VIS TRUTH=$TRUTH${ABOUT:+ ($ABOUT)}" >"$tmp/about"
elif [ "$full" = 1 ]; then
	fullbeam_data
	vis=$tmp/cal.uvh5 truth=$tmp/truth.json
else
	uvm-sim -N 10 -n 0.5 -G 0 -R "$tmp/truth.json" -o "$tmp/sim" >/dev/null
	uvm-combine -o "$tmp/vis.uvh5" "$tmp"/sim/*.hdf5
	rm -rf "$tmp/sim"
	vis=$tmp/vis.uvh5 truth=$tmp/truth.json
	echo "# input: uvm-sim -N 10 -n 0.5 -G 0, combined" >"$tmp/about"
fi
if [ -n "${MS:-}" ]; then
	ms=$MS conv_s="(given: $MS)"
else
	ms=$tmp/vis.ms
	conv_s="$(elapsed /usr/bin/python3 bench/uvh5_to_ms.py "$vis" "$ms") s"
fi

if [ "$full" = 1 ]; then
	# uvm-image's defaults: its own size and cell, Briggs 0, auto-mask,
	# auto-threshold; plans by estimate, as bench-science.sh
	uimg="-P estimate -j 2 -p $tmp/uvm.pb.fits -o $tmp/uvm.fits"
else
	npix=${NPIX:-2048}
	# the wisdom first (as a deployment keeps it in state/), untimed
	uvm-image -n "$npix" -W briggs:0 -a 3 -A 0.5 -j 2 -w "$tmp/wisdom" -o "$tmp/uvm.fits" "$vis" \
		2>/dev/null
	uimg="-n $npix -W briggs:0 -a 3 -A 0.5 -j 2 -w $tmp/wisdom -o $tmp/uvm.fits"
fi
timed uvm-image env UVM_DEBUG=1 uvm-image $uimg "$vis"
read -r u_wall u_cpu u_rss <"$tmp/uvm-image.res"
# the size and cell uvm-image chose (its last info line: "NxN, cell C arcsec")
cell=$(sed -n 's/.*cell \([0-9.]*\) arcsec.*/\1/p' "$tmp/uvm-image.log" | tail -1)
npix=$(sed -n "s/.*': \([0-9]*\)x[0-9]*, cell .*/\1/p" "$tmp/uvm-image.log" | tail -1)
nmaj=$(grep -c 'debug: major [0-9]* done' "$tmp/uvm-image.log" || true)
# The operators' settings; the w-gridder (WSClean's default w-stacking
# would need hundreds of w-layers over 7 degrees, and no w-correction at
# all is wrong there).
ws_args=${WSCLEAN_ARGS:--weight briggs 0 -auto-mask 3 -auto-threshold 0.5 -mgain 0.8 -niter 1000000 -nmiter 12 -use-wgridder}
# (its reordered copies of the data in $tmp: beside the MS, two runs on
# one MS would overwrite each other's)
timed wsclean wsclean -size "$npix" "$npix" -scale "${cell}asec" $ws_args -j 2 \
	-no-update-model-required -temp-dir "$tmp" -name "$tmp/ws" "$ms"
read -r w_wall w_cpu w_rss <"$tmp/wsclean.res"
ws_img=$tmp/ws-image.fits ws_res=$tmp/ws-residual.fits
[ -f "$ws_img" ] || ws_img=$tmp/ws-MFS-image.fits ws_res=$tmp/ws-MFS-residual.fits
ws_iter=$(sed -n 's/.*Performed \([0-9]*\) iterations in total.*/\1/p' "$tmp/wsclean.log" | tail -1)
ws_nmaj=$(grep -c '== Deconvolving' "$tmp/wsclean.log" || true)
uvm-sources -o "$tmp/uvm.json" "$tmp/uvm.fits" 2>/dev/null
uvm-sources -o "$tmp/ws.json" "$ws_img" 2>/dev/null

{
	if [ "$full" = 1 ]; then
		bench_header "uvm-image beside WSClean $(wsclean --version 2>/dev/null | sed -n 's/^WSClean version \([^ ]*\).*/\1/p') on the whole beam, ${npix}^2 of ${cell} arcsec"
	else
		bench_header "uvm-image beside WSClean $(wsclean --version 2>/dev/null | sed -n 's/^WSClean version \([^ ]*\).*/\1/p'), ${npix}^2"
	fi
	cat "$tmp/about"
	echo "# input: $(du -m "$vis" | cut -f1) MB UVH5; Measurement Set made in ${conv_s} (not counted)"
	echo "# load average: before $load0, at end $(cut -d' ' -f1-3 /proc/loadavg) (2 cores, shared)"
	echo "# uvm-image of $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'): uvm-image $uimg"
	echo "# (the paths are this run's temporary directory)"
	echo "# wsclean -size $npix $npix -scale ${cell}asec $ws_args -j 2 -no-update-model-required -temp-dir TMP"
	echo "# reproduce: $([ "$full" = 1 ] && echo "FULLBEAM=1 ")bench/bench-wsclean.sh"
	printf 'uvm-image  wall %6.1f s  cpu %6.1f s  peak rss %5d MB  (%d major cycles)\n' "$u_wall" \
		"$u_cpu" "$u_rss" "$nmaj"
	printf 'wsclean    wall %6.1f s  cpu %6.1f s  peak rss %5d MB  (%s major cycles, %s iterations)\n' \
		"$w_wall" "$w_cpu" "$w_rss" "$ws_nmaj" "${ws_iter:-?}"
	grep -h "info: image" "$tmp/uvm-image.log" | sed 's/^/# /'
	/usr/bin/python3 bench/wsclean_compare.py --truth "$truth" --uvm "$tmp/uvm.fits" \
		--uvm-cat "$tmp/uvm.json" --ws "$ws_img" --ws-residual "$ws_res" --ws-cat "$tmp/ws.json" \
		$([ "$full" = 1 ] && echo --full) "$vis"
} | tee "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
