#!/usr/bin/python3
"""msources_check.py TRUTH CATALOGUE MOSAIC (tests/msources.bats): for every
truth source inside the mosaic (a finite pixel at its place), its position
and flux from the simulator's truth, computed apart from the code under
test: the CIRS place the data hold at its group's mid-time (truth
app_ra/app_dec) taken to ICRS by astropy, and the intrinsic flux at the
mosaic's frequency (FREQ); its signal-to-noise from the mosaic's RMS
extension; and the nearest catalogue entry: offset in restoring beams
(BMAJ), peak and integrated flux over the intrinsic. JSON list."""
import json
import sys
import warnings

import numpy as np
from astropy import units as u
from astropy.coordinates import CIRS, ICRS, SkyCoord
from astropy.io import fits
from astropy.time import Time
from astropy.utils import iers
from astropy.wcs import WCS

warnings.simplefilter("ignore")
iers.conf.auto_download = False
truth = json.load(open(sys.argv[1]))
cat = json.load(open(sys.argv[2]))["sources"]
hd = fits.open(sys.argv[3])
h, img, rms = hd[0].header, hd[0].data.squeeze(), hd["RMS"].data.squeeze()
w = WCS(h).celestial
csc = SkyCoord([c["ra_deg"] for c in cat] * u.deg, [c["dec_deg"] for c in cat] * u.deg)
out = []
for s in truth["sources"]:
    # uvm-sim names its random sources simGGG_NNN, GGG the group
    k = int(s["name"][3:6])
    g = truth["groups"][k]
    app = SkyCoord(s["app_ra_deg"][k] * u.deg, s["app_dec_deg"][k] * u.deg,
                   frame=CIRS(obstime=Time(g["mid_jd"], format="jd")))
    pos = app.transform_to(ICRS())
    x, y = (int(round(float(v))) for v in w.world_to_pixel(pos))
    if not (0 <= x < img.shape[1] and 0 <= y < img.shape[0]) or not np.isfinite(img[y, x]):
        continue
    flux = s["flux_jy"] * (h["FREQ"] / s["ref_freq_hz"]) ** s["spectral_index"]
    sep = pos.separation(csc).deg
    j = int(np.argmin(sep))
    out.append({"name": s["name"], "flux_jy": flux, "snr": flux / float(rms[y, x]),
                "offset_beam": float(sep[j] / h["BMAJ"]),
                "peak_ratio": cat[j]["peak_jy"] / flux,
                "int_ratio": (cat[j]["int_jy"] / flux) if cat[j]["int_jy"] is not None else None})
print(json.dumps(out))
