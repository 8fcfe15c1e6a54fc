"""smear_ref.py: the known answers of tests/image-store.bats, computed from
the files and the images alone (numpy, h5py, astropy), not with uvmake's
code.

  smear_ref.py ratio AVG DRA DDEC DEC0 FILE...
      the peak a point source keeps when AVG channels are averaged: per
      cross row, the modulus of the mean phasor exp(2 pi i (u l + v m) f/c)
      over each bin of AVG channels (the simulator evaluates each channel
      at its centre, so unaveraged channels keep 1), the mean over rows and
      bins with equal weights; DRA DDEC (deg) the source's offset from the
      phase centre at declination DEC0 (deg), u, v the files' uvw.
  smear_ref.py peak IMAGE RA DEC
      the image's maximum near (RA, DEC) (astropy WCS), refined by a
      parabola through it and its neighbours along x and along y.
"""
import sys
import warnings

warnings.filterwarnings("ignore")
import h5py
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

C = 299792458.0


def ratio(avg, dra, ddec, dec0, files):
    num = den = 0.0
    l, m = np.radians(dra) * np.cos(np.radians(dec0)), np.radians(ddec)
    for p in files:
        with h5py.File(p, "r") as f:
            uvw = f["Header/uvw_array"][:]
            fr = f["Header/freq_array"][:].ravel()
        cross = np.hypot(uvw[:, 0], uvw[:, 1]) > 0
        z = np.exp(2j * np.pi * np.outer(uvw[cross, 0] * l + uvw[cross, 1] * m, fr) / C)
        for c0 in range(0, len(fr), avg):
            k = len(fr[c0:c0 + avg])
            num += np.abs(z[:, c0:c0 + avg].mean(axis=1)).sum() * k
            den += z.shape[0] * k
    return num / den


def peak(path, ra, dec):
    h = fits.open(path)[0]
    x, y = WCS(h.header).celestial.world_to_pixel_values(ra, dec)
    d = h.data.squeeze().astype(float)
    xi, yi = int(round(float(x))), int(round(float(y)))
    box = d[yi - 3:yi + 4, xi - 3:xi + 4]
    j, i = np.unravel_index(np.argmax(box), box.shape)
    yi, xi = yi - 3 + j, xi - 3 + i
    p = d[yi, xi]
    for a, b in ((d[yi, xi - 1], d[yi, xi + 1]), (d[yi - 1, xi], d[yi + 1, xi])):
        den = a - 2 * p + b
        if den < 0:
            p -= (b - a) ** 2 / (8 * den)
    return p


if sys.argv[1] == "ratio":
    a = sys.argv[2:]
    print("%.6f" % ratio(int(a[0]), float(a[1]), float(a[2]), float(a[3]), a[4:]))
else:
    print("%.6f" % peak(sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
