"""tbeam_eval.py DIR LABEL "WALL RSS": one row of bench-tbeam.sh (and of
tests/image-tbeam.bats): label, sub-pixel peak (Jy/beam), truth (Jy), their
ratio, residual rms within 60 pixels of the peak and over the image
(mJy/beam), brightest pixel over the near rms, wall s, RSS MB.

The image DIR/img.fits (primary HDU restored, RESIDUAL extension) of a
group simulated by uvm-sim -B gauss with one bright source (DIR/truth.json).
Truth, computed here apart from the pipeline: the source's apparent flux,
its spectrum times the simulator's Gaussian power beam (FWHM 1.2 c/(f D),
the truth file's convention) at its angular distance from the pointing of
each integration (the truth file's apparent positions; the pointing's RA
moves at the sidereal rate through the group's mid-time), averaged with
equal weights over every integration and channel of the files.
"""
import glob
import json
import sys

import h5py
import numpy as np
from astropy.io import fits

d, label, (wall, rss) = sys.argv[1], sys.argv[2], sys.argv[3].split()
tr = json.load(open(d + "/truth.json"))
grp = tr["groups"][0]
src = [s for s in tr["sources"] if not s.get("calibrator")][0]
dish = tr["telescope"]["dish_diameter_m"]
times, freqs = set(), []
for p in sorted(glob.glob(d + "/sim/*.hdf5")):
    with h5py.File(p, "r") as f:
        times.update(np.unique(f["Header/time_array"][:]).tolist())
        freqs.extend(np.ravel(f["Header/freq_array"][:]).tolist())
t = np.array(sorted(times))
fr = np.array(freqs)
ra_p = np.radians(grp["app_ra_deg"] + (t - t.mean()) * 360.98564736629)
dec_p = np.radians(grp["dec_deg"])
ra_s, dec_s = np.radians(src["app_ra_deg"][0]), np.radians(src["app_dec_deg"][0])
cos_th = np.sin(dec_s) * np.sin(dec_p) + np.cos(dec_s) * np.cos(dec_p) * np.cos(ra_s - ra_p)
th = np.arccos(np.clip(cos_th, -1, 1))[:, None]
fwhm = 1.2 * 299792458.0 / (fr[None, :] * dish)
spec = src["flux_jy"] * (fr / src["ref_freq_hz"]) ** src["spectral_index"]
truth = float(np.mean(spec[None, :] * np.exp(-4 * np.log(2) * th**2 / fwhm**2)))

img = fits.getdata(d + "/img.fits", 0).astype(float).squeeze()
res = fits.getdata(d + "/img.fits", "RESIDUAL").astype(float).squeeze()
y, x = np.unravel_index(np.nanargmax(img), img.shape)
near = res[max(0, y - 60):y + 60, max(0, x - 60):x + 60]
# sub-pixel peak: a quadratic in x, y (cross term included) fitted to the
# logs of the 3 x 3 pixels around the brightest (exact for a Gaussian);
# the brightest pixel itself falls short by up to ~9% at 2.8 pixels a
# minor-axis FWHM
z = np.log(img[y - 1:y + 2, x - 1:x + 2])
yy, xx = np.mgrid[-1:2, -1:2]
a = np.stack([np.ones(9), xx.ravel(), yy.ravel(), xx.ravel()**2, yy.ravel()**2,
              (xx * yy).ravel()], 1)
c = np.linalg.lstsq(a, z.ravel(), rcond=None)[0]
h = np.array([[2 * c[3], c[5]], [c[5], 2 * c[4]]])
off = np.linalg.solve(h, -c[1:3])
pk = float(np.exp(c[0] + c[1:3] @ off + 0.5 * off @ h @ off))
rn, rg = near.std(), res.std()
pk_img = img[y, x]
print(f"{label:<40}{pk:8.3f}{truth:10.3f}{pk / truth:10.3f}{rn * 1e3:10.2f}{rg * 1e3:10.2f}"
      f"{pk_img / rn:10.0f}{float(wall):8.0f}{int(rss) // 1024:8d}")
