#!/usr/bin/python3
"""astro_ref.py: the independent reference for positions (issue 15).

Everything here comes from astropy (and numpy/h5py for reading), never from
uvmake's own geometry: the truth's ICRS source positions go through
astropy's ICRS -> CIRS and its Earth rotation angle, with UT1 = UTC (as the
pipeline assumes; no IERS download: there is no network).

  astro_ref.py vis FILE TRUTH.json
      Compare the visibilities of one simulated, noise- and gain-free file
      with V = sum S A exp(+2 pi i (u l + v m + w (n - 1)) / lambda), the
      sources placed by astropy about (HA 0, pointing Dec) in CIRS, and uvw
      taken as the file gives them (pos(ant2) - pos(ant1)). Prints the
      largest phase error (rad), on baselines and channels where the model
      amplitude is above 10% of the total flux, and the rms.

  astro_ref.py image FITS TRUTH.json DEC_DEG
      For each truth source: the pixel astropy.wcs gives for its ICRS
      position in the image, the image's peak near it (parabolic
      interpolation) and the offset in arcsec and in beams (BMIN); and the ICRS position
      astropy gives for the mid-time apparent meridian point at DEC_DEG
      against CRVAL1/2. Prints JSON.
"""
import json
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")
from astropy.utils import iers  # noqa: E402

iers.conf.auto_download = False
import astropy.units as u  # noqa: E402
from astropy.coordinates import CIRS, ICRS, SkyCoord  # noqa: E402
from astropy.time import Time  # noqa: E402

C = 299792458.0
LON_DEG = -118.2825


def local_era(jd):
    """ERA (UT1 = UTC) + longitude, radians."""
    t = Time(jd, format="jd", scale="ut1")
    return (t.earth_rotation_angle("tio").rad + np.radians(LON_DEG)) % (2 * np.pi)


def cirs(ra_deg, dec_deg, jd):
    c = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg, frame="icrs").transform_to(
        CIRS(obstime=Time(jd, format="jd", scale="utc")))
    return c.ra.rad, c.dec.rad


def lmn(ha, dec, dec0):
    """Direction cosines of (HA, dec) about (HA 0, dec0); l east, m north."""
    l = -np.cos(dec) * np.sin(ha)
    m = np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(ha)
    n = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ha)
    return l, m, n


def do_vis(path, truth_path):
    import h5py
    tr = json.load(open(truth_path))
    f = h5py.File(path, "r")
    h = f["Header"]
    dec0 = float(h["extra_keywords"]["phase_center_dec"][()])
    uvw = h["uvw_array"][()].astype(float)
    t = h["time_array"][()]
    a1, a2 = h["ant_1_array"][()], h["ant_2_array"][()]
    freq = h["freq_array"][()].reshape(-1)
    vis = f["Data"]["visdata"][()].reshape(len(t), len(freq), -1)[:, :, 0]
    model = np.zeros(vis.shape, complex)
    total = 0
    for jd in np.unique(t):
        rows = np.where(t == jd)[0]
        lst = local_era(jd)
        for s in tr["sources"]:
            ra, dec = cirs(s["ra_deg"], s["dec_deg"], jd)
            l, m, n = lmn(lst - ra, dec, dec0)
            th = np.arccos(np.clip(n, -1, 1))
            fwhm = 1.2 * C / freq / 4.65
            amp = s["flux_jy"] * (freq / s["ref_freq_hz"]) ** s["spectral_index"] * \
                np.exp(-4 * np.log(2) * th ** 2 / fwhm ** 2)
            ph = 2 * np.pi * (np.outer(uvw[rows, 0], freq) * l + np.outer(uvw[rows, 1], freq) * m +
                              np.outer(uvw[rows, 2], freq) * (n - 1)) / C
            model[rows] += amp * np.exp(1j * ph)
    for s in tr["sources"]:
        total += s["flux_jy"]
    cross = (a1 != a2)
    sel = cross[:, None] & (np.abs(model) > 0.1 * total)
    d = np.angle(vis[sel] / model[sel])
    print("max_phase_err=%.4f rms_phase_err=%.4f n=%d" % (np.max(np.abs(d)), np.sqrt(np.mean(d ** 2)),
                                                          d.size))


def peak_near(img, x, y, r=4):
    xi, yi = int(round(x)), int(round(y))
    sub = img[yi - r:yi + r + 1, xi - r:xi + r + 1]
    j, i = np.unravel_index(np.argmax(sub), sub.shape)
    py, px = yi - r + j, xi - r + i

    def par(a, b, c):
        den = a - 2 * b + c
        return 0.0 if den == 0 else 0.5 * (a - c) / den
    dx = par(img[py, px - 1], img[py, px], img[py, px + 1])
    dy = par(img[py - 1, px], img[py, px], img[py + 1, px])
    return px + dx, py + dy, img[py, px]


def do_image(fits_path, truth_path, dec_deg):
    from astropy.io import fits
    from astropy.wcs import WCS
    tr = json.load(open(truth_path))
    hd = fits.open(fits_path)
    hdr = hd[0].header
    img = hd[0].data[0, 0]
    w = WCS(hdr).celestial
    bmin = hdr["BMIN"] * 3600       # the stricter yardstick: the minor axis
    out = {"radesys": hdr.get("RADESYS"), "bmin_arcsec": bmin, "sources": []}
    jd_mid = Time(hdr["MJD-AVG"], format="mjd", scale="utc").jd
    # CRVAL against astropy: the apparent meridian point at mid-time.
    c = SkyCoord(ra=local_era(jd_mid) * u.rad, dec=dec_deg * u.deg,
                 frame=CIRS(obstime=Time(jd_mid, format="jd", scale="utc"))).transform_to(ICRS())
    crval = SkyCoord(ra=hdr["CRVAL1"] * u.deg, dec=hdr["CRVAL2"] * u.deg, frame="icrs")
    out["crval_err_arcsec"] = c.separation(crval).arcsec
    out["crval2_minus_astropy_arcsec"] = (hdr["CRVAL2"] - c.dec.deg) * 3600
    for s in tr["sources"]:
        sc = SkyCoord(ra=s["ra_deg"] * u.deg, dec=s["dec_deg"] * u.deg, frame="icrs")
        x, y = w.world_to_pixel(sc)
        px, py, pk = peak_near(img, float(x), float(y))
        got = w.pixel_to_world(px, py)
        err = sc.separation(got).arcsec
        out["sources"].append({"name": s["name"], "offset_deg": sc.separation(
            SkyCoord(ra=hdr["CRVAL1"] * u.deg, dec=hdr["CRVAL2"] * u.deg)).deg,
            "err_arcsec": err, "err_beam": err / bmin, "peak": float(pk)})
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    if sys.argv[1] == "vis":
        do_vis(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "image":
        do_image(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        sys.exit("usage: astro_ref.py vis FILE TRUTH | image FITS TRUTH DEC_DEG")
