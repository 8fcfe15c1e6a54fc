#!/bin/sh
# bench-science.sh: the imaging figures a radio astronomer asks for, on a
# simulated full-size DSA-110 group (96 antennas, 16 x 48 channels, 24
# integrations; BENCH_SCIENCE_SMALL=1: 20 antennas of the old T, 4 x 48
# channels, 6 integrations, for iterating; BENCH_SCIENCE_MEDIUM=1: all 96
# antennas, 16 x 16 channels, 12 integrations, the full-size image at a
# sixth of the visibilities), two fields, as issue 17 lists them:
#   counts: the 50 brightest sources of a sky drawn from the 1.4 GHz
#     source counts out to the Airy beam's first null (uvm-sim -Y counts);
#     residual, completeness, spurious, fluxes and positions are judged
#     here;
#   dr: the same sky plus a 10 Jy source transiting the beam centre at
#     the group's mid-time, where a bright source sits when the array
#     observes it: DSA-110 points at a fixed declination and its
#     calibrator groups are the ones where a VLA calibrator crosses the
#     meridian there; the dynamic range is judged here. (A 10 Jy source
#     in the sidelobes would be dimmed by the beam to below a Jy.)
# Both with thermal noise from the radiometer equation (SEFD 5800 Jy,
# -n radiometer), no gain errors, simulated with the tapered dish
# (-B taper: the 4.65 m dish with an edge taper and central blockage,
# integrated numerically, sim_beam.c) while the pipeline assumes Airy: a
# beam different from the pipeline's, as the issue asks, but a physically
# plausible one. (Until 2026-12-06 it was the Gaussian, which differs from
# Airy by 55% at 1.5 deg: no primary-beam correction could match that,
# and checking one against it was never the point.)
#
# uvm-image with its defaults (field sized to the first null, Briggs 0,
# auto-mask, auto-threshold; -P estimate to skip planning), uvm-sources on
# the flat and the primary-beam-corrected image, then
# tests/science_eval.py judges them against the truth (thermal noise from
# the radiometer noise and the weights, positions through astropy,
# apparent fluxes from the simulator's documented beam, and where the
# spurious entries are; the spurious fraction and completeness both of
# every entry and of the entries uvm-sources marks reliable by its
# negated-image test, which are the catalogue's figures). Writes bench/results/science.txt
# (science-small.txt, science-medium.txt). BENCH_SCIENCE_FIELDS picks
# fields (default "counts dr"); BENCH_SCIENCE_K lists the beam's time
# slices (uvm-image -K) to image each simulated field with (default 4,
# the program's); BENCH_SCIENCE_ARGS, if set, lists instead
# ';'-separated sets of uvm-image options to image each field with (e.g.
# "-C 1 -c 3.81;-C 4": the defaults before 2026-12-06 19:00, then now),
# BENCH_SCIENCE_SEED the simulated sky (uvm-sim -S; default 11, whose
# brightest source, 13.65 Jy, lies 2.06 deg east, where the beam's edge
# makes it the hardest to model: bench/results/science-seed5.txt is seed
# 5's, without one), BENCH_OUT names the results file; KEEP=1 keeps the data (in BENCH_TMP,
# default /tmp).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
if [ "${BENCH_SCIENCE_SMALL:-0}" = 1 ]; then
	size="-L uvh5 -a 20 -s 4 -c 48 -t 6"
	out=bench/results/science-small.txt
elif [ "${BENCH_SCIENCE_MEDIUM:-0}" = 1 ]; then
	size="-s 16 -c 16 -t 12"
	out=bench/results/science-medium.txt
else
	size=""
	out=bench/results/science.txt
fi
tmp=$(mktemp -d "${BENCH_TMP:-/tmp}/uvm-bench-science.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
printf '%s\n' "# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index" \
	"BRIGHT10,150.0,33.16,10.0,1400,-0.7" >"$tmp/bright.csv"

# field NAME SIM-OPTIONS...: simulate, image, catalogue and judge one
# field in $tmp/NAME; print its table.
field() {
	name=$1
	shift
	d=$tmp/$name
	mkdir "$d"
	sim="$size -Y counts -N 50 -B taper -n radiometer -G 0 -S ${BENCH_SCIENCE_SEED:-11} $*"
	uvm-sim $sim -R "$d/truth.json" -o "$d/sim" >/dev/null
	du_sim=$(du -sh "$d/sim" | cut -f1)
	echo "# field $name: uvm-sim $sim (files: $du_sim)"
	if [ -n "${BENCH_SCIENCE_ARGS:-}" ]; then
		printf '%s\n' "$BENCH_SCIENCE_ARGS" | tr ';' '\n' | while IFS= read -r a; do
			image_field "$d" "$a"
		done
	else
		for k in ${BENCH_SCIENCE_K:-4}; do
			image_field "$d" "-K $k"
		done
	fi
	[ "${KEEP:-0}" = 1 ] || rm -rf "$d/sim"
}

# image_field DIR ARGS: image DIR/sim with uvm-image ARGS (split on
# blanks) and the defaults otherwise, catalogue, judge; print the table.
image_field() {
	d=$1
	img="-P estimate $2 -p $d/pb.fits -o $d/img.fits"
	t0=$(now_s)
	/usr/bin/time -f "%M" -o "$d/rss" uvm-image $img "$d"/sim/*.hdf5 2>"$d/image.log"
	t1=$(now_s)
	uvm-sources -o "$d/flat.json" "$d/img.fits" 2>/dev/null
	uvm-sources -f "$d/img.fits" -o "$d/pbs.json" "$d/pb.fits" 2>/dev/null
	/usr/bin/python3 tests/science_eval.py --truth "$d/truth.json" --image "$d/img.fits" \
		--flat "$d/flat.json" --pb "$d/pbs.json" --pb-image "$d/pb.fits" "$d"/sim/*.hdf5 \
		2>/dev/null >"$d/eval.json"
	echo "# uvm-image $img (defaults otherwise): $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}') s wall, peak RSS $(($(cat "$d/rss") / 1024)) MB, load $(cut -d' ' -f1-3 /proc/loadavg)"
	grep -h "info: image" "$d/image.log" | sed 's/^/# /'
	jq -r '
	  def r(x): if x == null then "null" else (x * 1000 | round / 1000 | tostring) end;
	  def row(name; v; goal; ok): "\(name | . + " " * (44 - length))\(v | . + " " * (14 - length))\(goal | . + " " * (14 - length))\(if ok then "met" else "NOT MET" end)";
	  "# figure                                    value         goal",
	  row("residual rms / thermal (plain rms)"; r(.rms_over_thermal); "<= 1.5"; .rms_over_thermal <= 1.5),
	  row("completeness above 5 sigma"; "\(.n_found_detectable)/\(.n_detectable)"; ">= 0.90"; (.completeness // 0) >= 0.9),
	  row("spurious fraction (flat image, all of it)"; "\(.n_spurious)/\(.n_catalogue)"; "< 0.01"; .spurious_fraction < 0.01),
	  row("spurious fraction (product: PB-corrected)"; "\(.n_spurious_pb)/\(.n_catalogue_pb)"; "< 0.01"; .spurious_fraction_pb < 0.01),
	  row("spurious, product: reliable entries"; "\(.n_spurious_pb_reliable)/\(.n_catalogue_pb_reliable)"; "< 0.01"; .spurious_fraction_pb_reliable < 0.01),
	  row("completeness, product: reliable entries"; "\(.n_found_detectable_pb_reliable)/\(.n_detectable_pb)"; ">= 0.90"; (.completeness_pb_reliable // 0) >= 0.9),
	  row("completeness, flat: reliable entries"; "\(.n_found_detectable_reliable)/\(.n_detectable)"; "-"; true),
	  row("spurious, flat: reliable entries"; "\(.n_spurious_reliable)/\(.n_catalogue_reliable)"; "-"; true),
	  row("PB-corrected flux ratio (median, SNR>20)"; r(.pb_flux_ratio); "1 +- 0.05"; ((.pb_flux_ratio // 0) - 1 | fabs) <= 0.05),
	  row("PB-corrected flux scatter"; r(.pb_flux_scatter); "-"; true),
	  row("median position offset / beam"; r(.median_offset_beam); "<= 0.1"; (.median_offset_beam // 9) <= 0.1),
	  row("flux-scale ratio (flat peak / apparent)"; r(.flux_scale_ratio); "1 +- 0.03"; ((.flux_scale_ratio // 0) - 1 | fabs) <= 0.03),
	  row("dynamic range (peak / residual rms)"; (.dynamic_range | round | tostring); ">= 1e4"; .dynamic_range >= 1e4),
	  "# thermal \(.thermal_jy * 1e6 | round) uJy/beam (natural \(.thermal_natural_jy * 1e6 | round)), residual rms \(.resid_rms_jy * 1e6 | round) (robust \(.resid_robust_rms_jy * 1e6 | round)), peak \(r(.peak_jy)) Jy",
	  "# image \(.npix) px of \(r(.cell_arcsec)) arcsec (\(r(.field_deg)) deg), beam \(r(.bmaj_arcsec)) arcsec; truth \(.n_truth) sources, \(.n_pb) in the PB ratio, \(.n_flux_scale) in the flux scale",
	  "# missed: \(.missed | map("\(.name) r=\(.r_deg) deg \(.snr) sigma") | join("; "))",
	  "# spurious: \(.spurious_where | "\(.near_bright) within 20 beams of a >100 sigma source, \(.beyond_pb) beyond PB 0.2, \(.edge) at the edge, \(.elsewhere) elsewhere")",
	  "# spurious in the product catalogue: \(.spurious_where_pb | "\(.near_bright) near a >100 sigma source, \(.beyond_pb) beyond PB 0.2, \(.elsewhere) elsewhere")",
	  (.spurious_where.worst[] | "#   snr \(r(.snr)) r=\(.r_deg) deg \(.class), local rms \(.rms_over_thermal) x thermal, \(.bright_sep_beam) beams from a bright source")' "$d/eval.json"
}

{
	bench_header "imaging science figures on simulated fields"
	echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
	for f in ${BENCH_SCIENCE_FIELDS:-counts dr}; do
		case $f in
		counts) field counts ;;
		dr) field dr -K "$tmp/bright.csv" -k BRIGHT10 ;;
		*) echo "bench-science: unknown field '$f'" >&2; exit 64 ;;
		esac
	done
} | tee "${BENCH_OUT:-$out}"
