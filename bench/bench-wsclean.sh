#!/bin/sh
# bench-wsclean.sh: uvm-image beside WSClean on the same visibilities, with
# the operators' settings on both (Briggs 0, auto-mask 3 sigma,
# auto-threshold 0.5 sigma; same image size and cell; 2 threads): wall and
# CPU time, peak RSS, robust rms of the residual, and every source of the
# simulator's truth above 0.3 Jy apparent inside the image with the flux and position
# error uvm-sources finds in each image. WSClean reads a Measurement Set
# made by bench/uvh5_to_ms.py (not timed). Writes bench/results/wsclean.txt.
#
# Environment: VIS=path and TRUTH=path image that combined file and
# compare with that truth instead of simulating a full-size group;
# NPIX (default 2048); BENCH_TMP (default /tmp); KEEP=1 keeps the data.
# Needs the Debian packages wsclean and python3-casacore (ops/deps.sh).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
out=bench/results/wsclean.txt
npix=${NPIX:-2048}
tmp=$(mktemp -d "${BENCH_TMP:-/tmp}/uvm-bench-wsclean.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM

if [ -n "${VIS:-}" ]; then
	vis=$VIS truth=$TRUTH
else
	uvm-sim -N 10 -n 0.5 -G 0 -R "$tmp/truth.json" -o "$tmp/sim" >/dev/null
	uvm-combine -o "$tmp/vis.uvh5" "$tmp"/sim/*.hdf5
	rm -rf "$tmp/sim"
	vis=$tmp/vis.uvh5 truth=$tmp/truth.json
fi
conv_s=$(elapsed /usr/bin/python3 bench/uvh5_to_ms.py "$vis" "$tmp/vis.ms")

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
# the wisdom first (as a deployment keeps it in state/), untimed
uvm-image -n "$npix" -W briggs:0 -a 3 -A 0.5 -j 2 -w "$tmp/wisdom" -o "$tmp/uvm.fits" "$vis" \
	2>/dev/null
timed uvm-image env UVM_DEBUG=1 uvm-image -n "$npix" -W briggs:0 -a 3 -A 0.5 -j 2 \
	-w "$tmp/wisdom" -o "$tmp/uvm.fits" "$vis"
read -r u_wall u_cpu u_rss <"$tmp/uvm-image.res"
cell=$(sed -n 's/.*cell \([0-9.]*\) arcsec.*/\1/p' "$tmp/uvm-image.log" | tail -1)
timed wsclean wsclean -size "$npix" "$npix" -scale "${cell}asec" -weight briggs 0 \
	-auto-mask 3 -auto-threshold 0.5 -niter 100000 -mgain 0.95 -nmiter 6 -j 2 \
	-no-update-model-required -name "$tmp/ws" "$tmp/vis.ms"
read -r w_wall w_cpu w_rss <"$tmp/wsclean.res"
nmaj=$(grep -c 'debug: major [0-9]* done' "$tmp/uvm-image.log" || true)
uvm-sources -o "$tmp/uvm.json" "$tmp/uvm.fits" 2>/dev/null
uvm-sources -o "$tmp/ws.json" "$tmp/ws-image.fits" 2>/dev/null

{
	bench_header "uvm-image beside WSClean $(wsclean --version 2>/dev/null | sed -n 's/^WSClean version \([^ ]*\).*/\1/p'), ${npix}^2"
	echo "# input: $(du -m "$vis" | cut -f1) MB UVH5; Measurement Set made in ${conv_s} s (not counted)"
	echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# settings: uvm-image -W briggs:0 -a 3 -A 0.5 -j 2 (MEASURE plans from wisdom);"
	echo "#   wsclean -weight briggs 0 -auto-mask 3 -auto-threshold 0.5 -niter 100000"
	echo "#   -mgain 0.95 -nmiter 6 -j 2; both ${npix}^2 at ${cell} arcsec"
	printf 'uvm-image  wall %6.1f s  cpu %6.1f s  rss %5d MB  (%d major cycles)\n' "$u_wall" \
		"$u_cpu" "$u_rss" "$nmaj"
	printf 'wsclean    wall %6.1f s  cpu %6.1f s  rss %5d MB\n' "$w_wall" "$w_cpu" "$w_rss"
	/usr/bin/python3 - "$truth" "$tmp/uvm.json" "$tmp/ws.json" "$tmp/uvm.fits" \
		"$tmp/ws-residual.fits" <<'EOF'
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

def rms(path, hdu):
    d = fits.open(path)[hdu].data.astype(float).ravel()
    d = d[np.isfinite(d)]
    return 1.4826 * np.median(np.abs(d - np.median(d)))

def sep(a, b):
    r = np.radians
    c = (np.sin(r(a[1])) * np.sin(r(b[1])) +
         np.cos(r(a[1])) * np.cos(r(b[1])) * np.cos(r(a[0] - b[0])))
    return np.degrees(np.arccos(np.clip(c, -1, 1))) * 3600

truth = json.load(open(sys.argv[1]))
h = fits.getheader(sys.argv[4])
wcs, n = WCS(h).celestial, h["NAXIS1"]
cats = [json.load(open(p)) for p in sys.argv[2:4]]
print("residual robust rms: uvm-image %.3f mJy/beam, wsclean %.3f mJy/beam"
      % (1e3 * rms(sys.argv[4], 1), 1e3 * rms(sys.argv[5], 0)))
print("%-12s %8s | %-24s | %-24s" % ("source", "app Jy", "uvm-image: peak, offset",
                                     "wsclean: peak, offset"))
for s in sorted(truth["sources"], key=lambda s: -s["apparent_flux_jy"][0]):
    app = s["apparent_flux_jy"][0]
    x, y = wcs.world_to_pixel_values(s["ra_deg"], s["dec_deg"])
    if app < 0.3 or not (10 < x < n - 10 and 10 < y < n - 10):
        continue
    row = "%-12s %8.3f" % (s["name"], app)
    for c in cats:
        best = min(c["sources"], default=None,
                   key=lambda q: sep((q["ra_deg"], q["dec_deg"]), (s["ra_deg"], s["dec_deg"])))
        d = sep((best["ra_deg"], best["dec_deg"]), (s["ra_deg"], s["dec_deg"])) if best else 1e9
        row += (" | %7.3f Jy %6.1f arcsec " % (best["peak_jy"], d) if d < 30
                else " | %-24s" % "not found")
    print(row)
EOF
} | tee "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
