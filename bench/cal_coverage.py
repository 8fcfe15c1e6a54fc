#!/usr/bin/python3
"""cal_coverage.py: which calibrators of ops/calibrators.csv each DSA-110
pointing sees transit, and the longest wait between usable transits.

usage: bench/cal_coverage.py [catalogue] [min_flux_jy] [radius_deg] [date]

A calibrator is usable at a pointing when its flux is at least min_flux_jy
(default 1) and its apparent (CIRS, astropy) declination on date (default
2025-10-24) is within radius_deg (default 1.58, the half-power radius of
the 4.65 m dishes at 1.4 GHz) of the pointing. Transits are one sidereal
day apart, so the gaps are those between the sorted apparent RAs (in
sidereal hours, 1 h RA = 0.997 h of time).
"""
import csv
import sys
import warnings

warnings.filterwarnings("ignore")
from astropy.utils import iers  # noqa: E402

iers.conf.auto_download = False
import astropy.units as u  # noqa: E402
import numpy as np  # noqa: E402
from astropy.coordinates import CIRS, SkyCoord  # noqa: E402
from astropy.time import Time  # noqa: E402

cat = sys.argv[1] if len(sys.argv) > 1 else "ops/calibrators.csv"
fmin = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
rad = float(sys.argv[3]) if len(sys.argv) > 3 else 1.58
date = sys.argv[4] if len(sys.argv) > 4 else "2025-10-24T12:00:00"
rows = [r for r in csv.reader(l for l in open(cat) if not l.startswith("#") and l.strip())]
name = [r[0] for r in rows]
flux = np.array([float(r[3]) for r in rows])
c = SkyCoord(ra=[float(r[1]) for r in rows] * u.deg, dec=[float(r[2]) for r in rows] * u.deg,
             frame="icrs").transform_to(CIRS(obstime=Time(date)))
ra, dec = c.ra.deg, c.dec.deg
print("catalogue %s: %d sources; usable = flux >= %g Jy, |dec_app - pointing| <= %g deg (%s)"
      % (cat, len(rows), fmin, rad, date))
print("%-8s %5s %-9s %s" % ("pointing", "n", "max_gap_h", "calibrators (name flux_Jy ddec_deg)"))
for p in (54.57, 16.27, 50.5, 65.7):
    k = np.where((flux >= fmin) & (np.abs(dec - p) <= rad))[0]
    k = k[np.argsort(ra[k])]
    if len(k):
        r = np.sort(ra[k]) / 15.0
        gaps = np.diff(np.concatenate([r, [r[0] + 24]]))
        gap = "%.2f" % gaps.max()
    else:
        gap = "24 (none)"
    print("%+8.2f %5d %-9s %s" % (p, len(k), gap, "; ".join(
        "%s %.1f %+.2f" % (name[i], flux[i], dec[i] - p) for i in k)))
