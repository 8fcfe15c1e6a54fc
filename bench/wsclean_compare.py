#!/usr/bin/python3
"""wsclean_compare.py: uvm-image's and WSClean's images of the same
visibilities judged against the simulator's truth, for bench-wsclean.sh.

usage: wsclean_compare.py --truth T --uvm uvm.fits --uvm-cat uvm.json
       --ws ws-image.fits --ws-residual ws-residual.fits --ws-cat ws.json
       [--full] vis.uvh5...

Both catalogues come from uvm-sources (the same finder on both images).
The truth is tests/science_eval.py's, computed independently of either
imager: ICRS positions through astropy, apparent fluxes through the
simulator's beam averaged over the band and the drift, and the thermal
noise of uvm-image's Briggs 0 weighting from the radiometer noise. A truth
source counts where it is inside the image and above 5 thermal sigma; a
catalogue entry matches the nearest truth source within its image's
restoring beam (BMAJ). Flux ratios are flat-image peak over apparent flux
for matched entries of SNR >= 20; offsets are in arcsec.
"""
import argparse
import json
import math
import os
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
from astropy import units as u  # noqa: E402
from astropy.coordinates import SkyCoord  # noqa: E402
from astropy.io import fits  # noqa: E402
from astropy.utils import iers  # noqa: E402
from astropy.wcs import WCS  # noqa: E402

iers.conf.auto_download = False
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import science_eval as se  # noqa: E402


def load(path, hdu):
    h = fits.getheader(path, 0)
    d = fits.getdata(path, hdu).astype(np.float64).squeeze()
    return h, d


def judge(name, hdr, resid, cat, tsc, apparent, det, sig):
    """Figures of one imager: its residual, and each truth source's match."""
    bmaj = hdr["BMAJ"]
    mi, sep = se.match(cat, tsc, bmaj)
    found = {}
    for j, s in enumerate(cat):
        k = int(mi[j])
        if k >= 0 and (k not in found or s["peak_jy"] > cat[found[k]]["peak_jy"]):
            found[k] = j
    rows = {}
    for k, j in found.items():
        s = cat[j]
        off = tsc[k].separation(SkyCoord(s["ra_deg"] * u.deg, s["dec_deg"] * u.deg)).arcsec
        rows[k] = (s["peak_jy"], s["peak_jy"] / apparent[k], off, s["snr"])
    r = resid[np.isfinite(resid)]
    good = [rows[k] for k in rows if det[k] and rows[k][3] >= 20]
    ratios = np.array([g[1] for g in good])
    offs = np.array([g[2] for g in good])
    return {
        "name": name,
        "bmaj_arcsec": bmaj * 3600, "bmin_arcsec": hdr["BMIN"] * 3600,
        "rms_jy": float(np.sqrt(np.mean(r ** 2))), "robust_rms_jy": float(se.robust_rms(r)),
        "found": sum(1 for k in np.nonzero(det)[0] if int(k) in rows),
        "spurious": int((mi < 0).sum()), "catalogue": len(cat),
        "ratio_median": float(np.median(ratios)) if len(ratios) else float("nan"),
        "ratio_scatter": float(1.4826 * np.median(np.abs(ratios - np.median(ratios))))
        if len(ratios) else float("nan"),
        "offset_median": float(np.median(offs)) if len(offs) else float("nan"),
        "offset_max": float(np.max(offs)) if len(offs) else float("nan"),
        "n_judged": len(good),
        "rows": rows,
    }


def main():
    ap = argparse.ArgumentParser()
    for k in ("truth", "uvm", "uvm-cat", "ws", "ws-residual", "ws-cat"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--full", action="store_true", help="every detectable source, not only > 0.3 Jy")
    ap.add_argument("vis", nargs="+")
    a = ap.parse_args()
    truth = json.load(open(a.truth))
    uh, _ = load(a.uvm, 0)
    _, ures = load(a.uvm, "RESIDUAL")
    wh, _ = load(a.ws, 0)
    _, wres = load(a.ws_residual, 0)
    n = uh["NAXIS1"]
    cell = abs(uh["CDELT2"]) * math.pi / 180
    centre = SkyCoord(uh["CRVAL1"] * u.deg, uh["CRVAL2"] * u.deg)
    wcentre = SkyCoord(wh["CRVAL1"] * u.deg, wh["CRVAL2"] * u.deg)
    sig, _, _ = se.thermal(a.vis, truth["noise_jy"], cell, n, 0.0, "briggs",
                           math.radians(uh["CRVAL2"]))
    beam_model = truth["telescope"].get("beam_model", "gauss")
    src, tsc, _, apparent, frame = se.truth_sky(truth, a.vis, centre, uh["CRVAL3"], beam_model)
    px, py = WCS(uh).celestial.world_to_pixel(tsc)
    inside = (px > 5) & (px < n - 6) & (py > 5) & (py < n - 6)
    det = inside & (apparent > 5 * sig)
    if not a.full:
        det &= apparent > 0.3
    res = [judge("uvm-image", uh, ures, json.load(open(a.uvm_cat))["sources"], tsc, apparent,
                 det, sig),
           judge("wsclean", wh, wres, json.load(open(a.ws_cat))["sources"], tsc, apparent,
                 det, sig)]
    print("# truth: %d sources, %d inside the image, %d above 5 sigma thermal (%.0f uJy/beam, "
          "Briggs 0)%s; sim beam %s" % (len(src), int(inside.sum()), int(det.sum()), sig * 1e6,
                                        "" if a.full else " and 0.3 Jy", beam_model))
    print("# phase centres: uvm-image %.5f %.5f, wsclean %.5f %.5f deg (%.2f arcsec apart)"
          % (centre.ra.deg, centre.dec.deg, wcentre.ra.deg, wcentre.dec.deg,
             centre.separation(wcentre).arcsec))
    print("# figure                      uvm-image        wsclean")
    for key, label, fmt in (("bmaj_arcsec", "restoring beam major (\")", "%.1f"),
                            ("bmin_arcsec", "restoring beam minor (\")", "%.1f"),
                            ("rms_jy", "residual rms (mJy/beam)", "m%.3f"),
                            ("robust_rms_jy", "residual robust rms (mJy)", "m%.3f"),
                            ("found", "found / %d detectable" % int(det.sum()), "%d"),
                            ("spurious", "catalogue entries unmatched", "%d"),
                            ("ratio_median", "flux ratio median (SNR>=20)", "%.3f"),
                            ("ratio_scatter", "flux ratio scatter (MAD)", "%.3f"),
                            ("offset_median", "position offset median (\")", "%.2f"),
                            ("offset_max", "position offset max (\")", "%.2f"),
                            ("n_judged", "sources in ratio/offset", "%d")):
        vals = []
        for r in res:
            v = r[key]
            vals.append((fmt[1:] % (v * 1e3)) if fmt.startswith("m") else (fmt % v))
        print("%-29s %-16s %s" % (label, vals[0], vals[1]))
    print("# residual rms / thermal: uvm-image %.2f, wsclean %.2f"
          % (res[0]["rms_jy"] / sig, res[1]["rms_jy"] / sig))
    print("# per source (detectable ones, brightest first): apparent Jy; each imager's peak Jy,"
          " ratio, offset arcsec")
    print("%-12s %6s %8s | %-26s | %-26s" % ("source", "r_deg", "app_Jy", "uvm-image", "wsclean"))
    rdeg = tsc.separation(centre).deg
    for k in sorted(np.nonzero(det)[0], key=lambda k: -apparent[k]):
        line = "%-12s %6.2f %8.4f" % (src[k]["name"], rdeg[k], apparent[k])
        for r in res:
            if int(k) in r["rows"]:
                p, q, o, _ = r["rows"][int(k)]
                line += " | %8.4f %6.3f %7.2f\"   " % (p, q, o)
            else:
                line += " | %-26s" % "not found"
        print(line)
    print("# truth frame check (CIRS->ICRS vs the truth's ICRS): %.3f arcsec" % frame)


if __name__ == "__main__":
    main()
