#!/bin/sh
# bench-deconv.sh: what the deconvolution settings of uvm-image leave on a
# small simulated field (20 antennas, 2 x 8 channels, 6 integrations, 12
# random sources out to the beam's edge, Airy beam in the simulator):
# residual rms against the thermal level (the same simulation without
# sources, imaged dirty), catalogue (uvm-sources on the PB-corrected
# image) against the truth sky (flux scale, scatter, offsets,
# completeness, spurious entries) and wall time. Writes
# bench/results/deconv.txt. Small on purpose: seconds per setting.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
out=bench/results/deconv.txt
tmp=$(mktemp -d "${BENCH_TMP:-/tmp}/uvm-bench-deconv.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
sim="-B airy -L uvh5 -a 20 -s 2 -c 8 -t 6 -G 0 -n 0.05 -S 3"
uvm-sim $sim -N 12 -R "$tmp/truth.json" -o "$tmp/sim" >/dev/null
uvm-sim $sim -N 0 -o "$tmp/noise" >/dev/null
jq -r '"# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index",
  (.sources[] | "\(.name),\(.ra_deg),\(.dec_deg),\(.flux_jy),\(.ref_freq_hz / 1e6),\(.spectral_index)")' \
	"$tmp/truth.json" >"$tmp/ref.csv"
img="-n 1280 -c 13 -P estimate"
uvm-image $img -W natural -M 0 -o "$tmp/noise.fits" "$tmp"/noise/*.hdf5 2>/dev/null
thermal=$(uvm-qa -j "$tmp/noise.fits" 2>/dev/null | jq .rms_jy)

run() {
	label=$1
	shift
	s=$(elapsed uvm-image $img "$@" -p "$tmp/pb.fits" -o "$tmp/img.fits" "$tmp"/sim/*.hdf5)
	rms=$(uvm-qa -j "$tmp/img.fits" 2>/dev/null | jq .rms_jy)
	uvm-sources -r "$tmp/ref.csv" -o "$tmp/src.json" "$tmp/pb.fits" 2>/dev/null
	jq -r --arg l "$label" --argjson rms "$rms" --argjson th "$thermal" --arg s "$s" '
	  .crossmatch as $x |
	  "\($l | .[0:34] | . + " " * (34 - length)) rms/thermal \($rms / $th * 100 | round / 100) " +
	  "flux \($x.flux_ratio) scatter \($x.flux_scatter) offset_beam \($x.offset_beam) " +
	  "complete \($x.n_matched)/\($x.n_ref_detectable) spurious \($x.n_spurious)/\(.n_sources) " +
	  "wall \($s | tonumber * 100 | round / 100) s"' "$tmp/src.json"
}
{
	bench_header "uvm-image deconvolution settings on a 12-source simulated field"
	echo "# thermal rms (dirty noise-only image, natural): $thermal Jy/beam"
	run "natural, 5 sigma (default)" -W natural
	run "natural, automask 3, auto 0.5" -W natural -a 3 -A 0.5
	run "natural, automask 3, auto 0.5, M10" -W natural -a 3 -A 0.5 -M 10
	run "briggs 0, automask 3, auto 0.5" -W briggs:0 -a 3 -A 0.5
} | tee "$out"
