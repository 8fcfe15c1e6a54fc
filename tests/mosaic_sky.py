#!/usr/bin/python3
"""mosaic_sky.py: an apparent image with a known sky, for uvm-mosaic.

make DIR --npix N --ra DEG ...: writes DIR/image.fits (the layout
uvm-image writes: SIN, FREQ, STOKES axes, BMAJ, TELAPSE, MJD-AVG) and
DIR/qa.json ("pass": true, the given rms), and DIR/truth.json (the
sources). The image is the sky (point sources at random positions where
the group's beam is above 0.3) seen through the group-averaged Airy beam
and convolved with a circular Gaussian restoring beam, plus optional
Gaussian noise. The beam is this file's own: an Airy pattern (2 J1(a)/a)^2,
J1 from its integral representation, averaged over the 9 pointings along
the meridian through the group that mosaic.h specifies.

check MOSAIC TRUTH...: for every pixel of the mosaic within 2 restoring
beams of a source (and not blank), the expected value sum_s S_s B(s)
G(p - s) / B(p) (the mosaic of apparent images, beam divided out), with
B(p) the inverse-variance mean of the inputs' beams where several overlap;
prints one JSON object with the worst error relative to the brightest
source and how many pixels were compared.
"""
import json
import sys

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

C = 299792458.0
DISH = 4.65
SIDEREAL_DEG_S = 360.98564736629 / 86400.0


def j1(x):
    """Bessel J1 by its integral (1/pi) int_0^pi cos(t - x sin t) dt,
    trapezoid over 257 points: converges geometrically for |x| < ~40."""
    t = np.linspace(0, np.pi, 257)
    w = np.full(t.size, 1.0)
    w[0] = w[-1] = 0.5
    x = np.asarray(x, dtype=float)
    out = np.zeros(x.shape)
    flat = x.ravel()
    res = out.ravel()
    for k in range(0, flat.size, 4096):
        xs = flat[k:k + 4096, None]
        res[k:k + 4096] = (np.cos(t[None, :] - xs * np.sin(t[None, :])) * w).sum(1) / (t.size - 1)
    return out


def unit(ra, dec):
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], -1)


def beam(ra, dec, ra0, dec0, telapse, freq):
    """Group-averaged Airy power beam at (ra, dec) degrees."""
    u = unit(np.asarray(ra, float), np.asarray(dec, float))
    lam = C / freq
    b = np.zeros(u.shape[:-1])
    n = 9 if telapse > 0 else 1
    for k in range(n):
        dt = ((k + 0.5) / n - 0.5) * telapse if n > 1 else 0
        p = unit(ra0 + dt * SIDEREAL_DEG_S, dec0)
        th = np.arccos(np.clip((u * p).sum(-1), -1, 1))
        a = np.pi * DISH * np.sin(th) / lam
        small = a < 1e-8
        a = np.where(small, 1.0, a)
        r = np.where(small, 1.0, 2 * j1(a) / a)
        b += r * r
    return b / n


def header(a):
    h = fits.Header()
    h["BTYPE"] = "Intensity"
    h["BUNIT"] = "Jy/beam"
    h["CTYPE1"], h["CRVAL1"], h["CDELT1"], h["CRPIX1"], h["CUNIT1"] = (
        "RA---SIN", a["ra"], -a["cell"] / 3600, a["npix"] // 2 + 1, "deg")
    h["CTYPE2"], h["CRVAL2"], h["CDELT2"], h["CRPIX2"], h["CUNIT2"] = (
        "DEC--SIN", a["dec"], a["cell"] / 3600, a["npix"] // 2 + 1, "deg")
    h["LONPOLE"] = 180.0
    h["RADESYS"] = "ICRS"
    h["CTYPE3"], h["CRVAL3"], h["CDELT3"], h["CRPIX3"], h["CUNIT3"] = (
        "FREQ", a["freq"], 187.5e6, 1.0, "Hz")
    h["CTYPE4"], h["CRVAL4"], h["CDELT4"], h["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    h["BMAJ"] = h["BMIN"] = a["fwhm"] * a["cell"] / 3600
    h["BPA"] = 0.0
    h["MJD-AVG"] = a["mjd"]
    h["TELAPSE"] = a["telapse"]
    return h


def make(d, a):
    rng = np.random.default_rng(a["seed"])
    n = a["npix"]
    h = header(a)
    w = WCS(h).celestial
    # sources: where the beam is above 0.3, away from the margin
    src = []
    while len(src) < a["nsrc"]:
        x, y = rng.uniform(0.2 * n, 0.8 * n, 2)
        (ra, dec), = w.all_pix2world([[x, y]], 0)
        b = float(beam(ra, dec, a["ra"], a["dec"], a["telapse"], a["freq"]))
        if b > 0.3:
            src.append({"ra_deg": float(ra), "dec_deg": float(dec), "flux_jy": float(rng.uniform(0.5, 2)),
                        "x": float(x), "y": float(y), "beam": b})
    img = np.zeros((n, n), np.float32)
    s = a["fwhm"] / (2 * np.sqrt(2 * np.log(2)))
    r = int(np.ceil(5 * s))
    for p in src:
        ix, iy = int(round(p["x"])), int(round(p["y"]))
        ys, xs = np.mgrid[iy - r:iy + r + 1, ix - r:ix + r + 1]
        g = np.exp(-((xs - p["x"]) ** 2 + (ys - p["y"]) ** 2) / (2 * s * s))
        img[iy - r:iy + r + 1, ix - r:ix + r + 1] += (p["flux_jy"] * p["beam"] * g).astype(np.float32)
    if a["noise"] > 0:
        img += rng.normal(0, a["noise"], (n, n)).astype(np.float32)
    fits.PrimaryHDU(img[None, None], h).writeto(d + "/image.fits", overwrite=True)
    with open(d + "/qa.json", "w") as f:
        json.dump({"pass": True, "rms_jy": a["rms"]}, f)
    with open(d + "/truth.json", "w") as f:
        json.dump({"args": a, "sources": src}, f)


def check(mosaic, truths):
    hd = fits.open(mosaic)
    m = hd[0].data
    wm = WCS(hd[0].header)
    T = [json.load(open(t)) for t in truths]
    peak = max(p["flux_jy"] for t in T for p in t["sources"])
    worst, npx = 0.0, 0
    for t in T:
        a = t["args"]
        for p in t["sources"]:
            (x, y), = wm.all_world2pix([[p["ra_deg"], p["dec_deg"]]], 0)
            r = int(np.ceil(2 * a["fwhm"] * a["cell"] / abs(hd[0].header["CDELT2"] * 3600)))
            ys, xs = np.mgrid[int(y) - r:int(y) + r + 1, int(x) - r:int(x) + r + 1]
            ok = (xs >= 0) & (ys >= 0) & (xs < m.shape[1]) & (ys < m.shape[0])
            xs, ys = xs[ok], ys[ok]
            val = m[ys, xs]
            ra, dec = wm.all_pix2world(xs, ys, 0)
            num, den = np.zeros(xs.size), np.zeros(xs.size)
            for u in T:   # every input's apparent image and beam at these pixels
                b = u["args"]
                wu = WCS(header(b)).celestial
                ix, iy = wu.all_world2pix(ra, dec, 0)
                s = b["fwhm"] / (2 * np.sqrt(2 * np.log(2)))
                app = np.zeros(xs.size)
                for q in u["sources"]:
                    app += q["flux_jy"] * q["beam"] * np.exp(-((ix - q["x"]) ** 2 + (iy - q["y"]) ** 2) / (2 * s * s))
                bb = beam(ra, dec, b["ra"], b["dec"], b["telapse"], b["freq"])
                inside = (ix >= 0.05 * b["npix"] + 3) & (iy >= 0.05 * b["npix"] + 3) & \
                    (ix <= 0.95 * b["npix"] - 4) & (iy <= 0.95 * b["npix"] - 4)
                wt = np.where(inside, 1 / b["rms"] ** 2, 0)
                num += wt * bb * app
                den += wt * bb * bb
            use = np.isfinite(val) & (den > 0)
            exp = num[use] / den[use]
            if use.any():
                worst = max(worst, float(np.max(np.abs(val[use] - exp))) / peak)
                npx += int(use.sum())
    print(json.dumps({"max_err_rel_peak": worst, "pixels": npx, "peak_jy": peak}))


def main():
    if sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3:])
        return
    a = {"npix": 512, "cell": 20.0, "ra": -1.0, "dec": 40.0, "mjd": 60000.5, "telapse": 300.0,
         "freq": 1.4e9, "nsrc": 8, "seed": 1, "noise": 0.0, "rms": 0.001, "fwhm": 5.0}
    args = sys.argv[3:]
    for k in range(0, len(args), 2):
        key = args[k].lstrip("-")
        a[key] = type(a[key])(args[k + 1])
    if a["ra"] < 0:   # the meridian at OVRO at mid-time (mean sidereal time, equinox of date), in ICRS
        from astropy.coordinates import FK5, SkyCoord
        from astropy.time import Time
        import astropy.units as u
        lst = (280.46061837 + 360.98564736629 * (a["mjd"] + 2400000.5 - 2451545.0) - 118.2834) % 360
        a["ra"] = float(SkyCoord(ra=lst * u.deg, dec=a["dec"] * u.deg,
                                 frame=FK5(equinox=Time(a["mjd"], format="mjd"))).icrs.ra.deg)
    make(sys.argv[2], a)


if __name__ == "__main__":
    main()
