#!/bin/sh
# bench-beam.sh: does the pipeline's primary-beam correction give true
# fluxes when the sky was observed through a beam it did not compute
# itself? One simulated field (uvm-sim -Y counts: the 50 brightest
# sources of the 1.4 GHz counts out to the first null, radiometer noise,
# no gain errors; 20 antennas of the T, 4 x 48 channels, 6 integrations;
# SIZE= overrides, SEED= the sky, default 11) per simulator beam (-B
# taper: the tapered, blocked dish integrated numerically, the default;
# gauss; airy), imaged with the pipeline's beam (uvm-image -b, PB_MODEL):
# taper (the default) and airy (COMBOS= sim:pipeline pairs).
# tests/science_eval.py judges each PB-corrected catalogue against the
# truth with the simulator's beam computed in Python from its documented
# aperture (not by our C); uvm-sources -r with the truth as the reference
# catalogue gives what QA's cross-match gate sees (ratio 0.8-1.2, offset
# < 0.2 beam). Writes bench/results/beam.txt (OUT=).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
size=${SIZE:--L uvh5 -a 20 -s 4 -c 48 -t 6}
seed=${SEED:-11}
combos=${COMBOS:-taper:taper taper:airy gauss:airy gauss:taper airy:airy}
out=${OUT:-bench/results/beam.txt}
tmp=$(mktemp -d "${BENCH_TMP:-/tmp}/uvm-bench-beam.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
{
	bench_header "primary-beam correction against the simulator's own beam"
	echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# uvm-sim $size -Y counts -N 50 -n radiometer -G 0 -S $seed -B SIM; uvm-image -P estimate -b PIPE -p pb.fits"
	echo "# sim    pipeline  pb_flux_ratio  scatter  n   offset/beam  xmatch_ratio  xmatch_offset  gate"
} >"$tmp/res"
for c in $combos; do
	sb=${c%%:*} pb=${c#*:}
	d=$tmp/$sb
	if [ ! -d "$d" ]; then
		uvm-sim $size -Y counts -N 50 -n radiometer -G 0 -S "$seed" -B "$sb" \
			-R "$d.truth.json" -o "$d" >/dev/null
		jq -r '"# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index",
		  (.sources[] | "\(.name),\(.ra_deg),\(.dec_deg),\(.flux_jy),\(.ref_freq_hz / 1e6),\(.spectral_index)")' \
			"$d.truth.json" >"$d.ref.csv"
	fi
	p=$tmp/$sb.$pb
	uvm-image -P estimate -b "$pb" -p "$p.pb.fits" -o "$p.fits" "$d"/*.hdf5 2>"$p.log"
	uvm-sources -o "$p.flat.json" "$p.fits" 2>/dev/null
	uvm-sources -r "$d.ref.csv" -o "$p.pbs.json" "$p.pb.fits" 2>/dev/null
	/usr/bin/python3 tests/science_eval.py --truth "$d.truth.json" --image "$p.fits" \
		--flat "$p.flat.json" --pb "$p.pbs.json" "$d"/*.hdf5 2>/dev/null >"$p.eval.json"
	jq -rn --slurpfile e "$p.eval.json" --slurpfile s "$p.pbs.json" --arg sb "$sb" --arg pb "$pb" '
	  def r(x): if x == null then "null" else (x * 1000 | round / 1000 | tostring) end;
	  $e[0] as $e | $s[0].crossmatch as $x |
	  "\($sb)\t\($pb)\t\(r($e.pb_flux_ratio))\t\(r($e.pb_flux_scatter))\t\($e.n_pb)\t\(r($e.median_offset_beam))\t\(r($x.flux_ratio))\t\(r($x.offset_beam))\t\(if $x.pass then "pass" else "FAIL" end)"' \
		>>"$tmp/res"
done
cat "$tmp/res" | tee "$out"
