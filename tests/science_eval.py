#!/usr/bin/python3
"""science_eval.py: judge a uvm-image field against the simulator's truth.

Used by tests/science-field.bats and bench/bench-science.sh. Every truth
here is computed independently of the code under test:

  * thermal noise: the radiometer noise the simulator injected (truth
    noise_jy: rms of the real and imaginary parts of one polarisation's
    visibility) carried through the imaging weights, recomputed here from
    the files (nsamples, uvw rotated to the group's mid-time meridian by
    the textbook (H, dec) projection, Briggs density on the imager's uv
    cell): sigma_I = noise sqrt(sum w_eff^2 / w) / sum w_eff;
  * positions: the CIRS positions the data hold (truth app_ra/app_dec at
    the group's mid-time) converted to ICRS by astropy;
  * apparent fluxes: S(f) times the simulator's documented beam (the
    tapered dish integrated here from its aperture, Airy or Gaussian; the
    truth file's, or --sim-beam), averaged over the band and the drift
    of the pointing during the group (separations by astropy).

Prints one JSON object of figures.
"""
import argparse
import warnings
import json
import math
import sys

import h5py
import numpy as np
from astropy import units as u
from astropy.coordinates import CIRS, ICRS, SkyCoord
from astropy.io import fits
from astropy.time import Time

C = 299792458.0
DISH = 4.65
SIDEREAL = 1.00273781191135448


def fft_size(n):
    m = n + (n & 1)
    while True:
        r = m
        for p in (2, 3, 5, 7):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 2


def j1(x):
    """Bessel J1 by its integral (1/pi) int_0^pi cos(t - x sin t) dt
    (trapezoid rule: spectrally accurate for this integrand)."""
    t = np.linspace(0, np.pi, 257)
    y = np.cos(t[None, :] - np.atleast_1d(x)[:, None] * np.sin(t[None, :]))
    return (y.sum(axis=1) - 0.5 * (y[:, 0] + y[:, -1])) * (t[1] - t[0]) / np.pi


def j0(x):
    """Bessel J0 by its integral (1/pi) int_0^pi cos(x sin t) dt."""
    t = np.linspace(0, np.pi, 129)
    y = np.cos(np.atleast_1d(x)[..., None] * np.sin(t))
    return (y.sum(axis=-1) - 0.5 * (y[..., 0] + y[..., -1])) * (t[1] - t[0]) / np.pi


def taper_beam(theta, f, edge_db, block_m):
    """The simulator's default dish (uvm-sim -B taper), from its documented
    physics rather than its code: the power pattern of a circular aperture
    of diameter DISH illuminated by c + (1 - c)(1 - rho^2), c the edge
    taper, blocked out to block_m, by direct integration (trapezoid in
    rho) of E(u) = int g(rho) J0(u rho) rho drho, normalised on the axis."""
    c = 10 ** (edge_db / 20)
    rho = np.linspace(block_m / DISH, 1, 801)
    g = (c + (1 - c) * (1 - rho ** 2)) * rho
    u = np.pi * DISH * np.sin(abs(theta)) * np.atleast_1d(f) / C
    e = np.trapz(g * j0(u[:, None] * rho[None, :]), rho, axis=1) / np.trapz(g, rho)
    return e ** 2


def beam(model, theta, f, tel=None):
    lam = C / f
    if model == "taper":
        return taper_beam(theta, f, tel["beam_edge_taper_db"], tel["beam_blockage_m"])
    if model == "gauss":
        fwhm = 1.2 * lam / DISH
        return np.exp(-4 * math.log(2) * (theta / fwhm) ** 2)
    a = np.pi * DISH * np.sin(np.abs(theta)) / lam
    a = np.where(a < 1e-8, 1e-8, a)
    return (2 * j1(a) / a) ** 2


def robust_rms(x):
    x = x[np.isfinite(x)]
    return 1.4826 * np.median(np.abs(x - np.median(x)))


def _file_uvw(path, dec0, tmid):
    """(u, v) wavelengths at the mid-time meridian and weights of a file's
    unflagged cross-correlation Stokes I samples."""
    with h5py.File(path, "r") as h:
        hd = h["Header"]
        a1 = hd["ant_1_array"][:]
        a2 = hd["ant_2_array"][:]
        t = hd["time_array"][:]
        uvw = hd["uvw_array"][:]
        fr = np.asarray(hd["freq_array"][:]).reshape(-1)
        fl = h["Data"]["flags"][:]
        ns = h["Data"]["nsamples"][:]
    fl = fl.reshape(fl.shape[0], -1, fl.shape[-1])
    ns = ns.reshape(ns.shape[0], -1, ns.shape[-1]).astype(np.float64)
    ok = ~fl[..., 0] & ~fl[..., 1] & (ns[..., 0] > 0) & (ns[..., 1] > 0) & (a1 != a2)[:, None]
    with np.errstate(divide="ignore"):
        w = np.where(ok, 4 / (1 / ns[..., 0] + 1 / ns[..., 1]), 0)
    sd, cd = math.sin(dec0), math.cos(dec0)
    # uvw at (H = 0, dec0) -> baseline in equatorial axes -> uvw at H
    X = -sd * uvw[:, 1] + cd * uvw[:, 2]
    Y = uvw[:, 0]
    Z = cd * uvw[:, 1] + sd * uvw[:, 2]
    H = 2 * np.pi * SIDEREAL * (t - tmid)
    um = np.sin(H) * X + np.cos(H) * Y
    vm = -sd * np.cos(H) * X + sd * np.sin(H) * Y + cd * Z
    sel = w > 0
    return (um[:, None] * fr[None, :] / C)[sel], (vm[:, None] * fr[None, :] / C)[sel], w[sel]


def thermal(vis_paths, noise_jy, cell, n, robust, weighting, dec0, pad=1.25):
    """Predicted image noise (Jy/beam) for the imager's weighting, and the
    natural-weighting one; two passes over the files (density, then
    weights) so that a full-size group fits in memory."""
    ng = fft_size(int(math.ceil(n * pad)))
    du = 1.0 / (ng * cell)
    tmin, tmax = np.inf, -np.inf
    for p in vis_paths:
        with h5py.File(p, "r") as h:
            t = h["Header"]["time_array"][:]
            tmin, tmax = min(tmin, t.min()), max(tmax, t.max())
    tmid = 0.5 * (tmin + tmax)

    def cells(uu, vv):
        iu = np.rint(uu / du).astype(np.int64) % ng
        iv = np.rint(vv / du).astype(np.int64) % ng
        return iv * ng + iu

    dens = None
    if weighting != "natural":
        dens = np.zeros(ng * ng)
        for p in vis_paths:
            uu, vv, w = _file_uvw(p, dec0, tmid)
            dens += np.bincount(cells(uu, vv), weights=w, minlength=ng * ng)
            dens += np.bincount(cells(-uu, -vv), weights=w, minlength=ng * ng)
        f2 = (5 * 10 ** (-robust)) ** 2 / ((dens ** 2).sum() / dens.sum())
    sw = sw2 = swn = 0.0
    for p in vis_paths:
        uu, vv, w = _file_uvw(p, dec0, tmid)
        if dens is None:
            weff = w
        elif weighting == "uniform":
            weff = w / dens[cells(uu, vv)]
        else:
            weff = w / (1 + dens[cells(uu, vv)] * f2)
        sw += weff.sum()
        sw2 += (weff ** 2 / w).sum()
        swn += w.sum()
    return noise_jy * math.sqrt(sw2) / sw, noise_jy / math.sqrt(swn), tmid


def match(cat, truth_sc, radius_deg):
    """Nearest truth index for each catalogue entry within radius, else -1."""
    if not cat:
        return np.array([], dtype=int), np.array([])
    sep = np.array([truth_sc.separation(SkyCoord(s["ra_deg"] * u.deg, s["dec_deg"] * u.deg)).deg
                    for s in cat])
    idx = sep.argmin(axis=1)
    sep = sep.min(axis=1)
    return np.where(sep < radius_deg, idx, -1), sep


def spurious_where(cat, mi, tsc, apparent, centre, n, bmaj, sig, pbf):
    """Where the spurious catalogue entries are, to find their cause:
    counts by class (within 20 beams of a truth source brighter than 100
    sigma; where the simulator's beam is below 0.2; within 32 pixels of
    the image edge; elsewhere) and the 10 of highest SNR with their
    radius, local rms over thermal and nearest bright source."""
    out = {"near_bright": 0, "beyond_pb": 0, "edge": 0, "elsewhere": 0, "worst": []}
    bright = apparent > 100 * sig
    rows = []
    for j, s in enumerate(cat):
        if mi[j] >= 0:
            continue
        c = SkyCoord(s["ra_deg"] * u.deg, s["dec_deg"] * u.deg)
        r = c.separation(centre).deg
        d = c.separation(tsc[bright]).deg if bright.any() else np.array([np.inf])
        k = int(np.argmin(d))
        x, y = s["x"] - 1, s["y"] - 1
        if d[k] < 20 * bmaj:
            cls = "near_bright"
        elif pbf(math.radians(r)) < 0.2:
            cls = "beyond_pb"
        elif min(x, y, n - 1 - x, n - 1 - y) < 32:
            cls = "edge"
        else:
            cls = "elsewhere"
        out[cls] += 1
        rows.append({"snr": s["snr"], "r_deg": round(r, 3), "class": cls,
                     "rms_over_thermal": round(s["peak_err_jy"] / sig, 2),
                     "bright_sep_beam": round(float(d[k] / bmaj), 1)})
    out["worst"] = sorted(rows, key=lambda e: -e["snr"])[:10]
    return out


def truth_sky(truth, vis_paths, centre, freq, sim_beam):
    """The simulator's sources as the data hold them: their ICRS positions
    (the truth's CIRS positions at the group's mid-time through astropy),
    intrinsic fluxes at freq, and apparent fluxes (through the simulator's
    beam sim_beam, averaged over the band and the drift of the pointing,
    the phase centre `centre` at mid-time). Returns (sources, ICRS
    SkyCoord, intrinsic, apparent, largest offset from the truth's own
    ICRS positions in arcsec)."""
    tel = truth["telescope"]
    times, fr = [], []
    for p in vis_paths:
        with h5py.File(p, "r") as h:
            times.append(np.unique(h["Header"]["time_array"][:]))
            fr.append(np.asarray(h["Header"]["freq_array"][:]).reshape(-1))
    times = np.unique(np.concatenate(times))
    tmid = 0.5 * (times.min() + times.max())
    fr = np.concatenate(fr)
    fsub = np.linspace(fr.min(), fr.max(), 9)
    cirs = CIRS(obstime=Time(tmid, format="jd", scale="utc"))
    # pointing: the phase centre in CIRS at mid-time, drifting in RA
    pc = centre.transform_to(cirs)
    src = [s for s in truth["sources"]]
    app = SkyCoord(ra=[s["app_ra_deg"][0] for s in src] * u.deg,
                   dec=[s["app_dec_deg"][0] for s in src] * u.deg, frame=cirs)
    tsc = app.transform_to(ICRS())
    sim_sc = SkyCoord([s["ra_deg"] for s in src] * u.deg, [s["dec_deg"] for s in src] * u.deg)
    frame_check = tsc.separation(sim_sc).arcsec.max() if src else 0.0
    intrinsic = np.array([s["flux_jy"] * (freq / s["ref_freq_hz"]) ** s["spectral_index"]
                          for s in src])
    apparent = np.zeros(len(src))
    for k, s in enumerate(src):
        acc = 0.0
        for t in times:
            ra_p = pc.ra.rad + 2 * np.pi * SIDEREAL * (t - tmid)
            cs = (math.sin(app.dec[k].rad) * math.sin(pc.dec.rad) +
                  math.cos(app.dec[k].rad) * math.cos(pc.dec.rad) *
                  math.cos(app.ra[k].rad - ra_p))
            th = math.acos(max(-1, min(1, cs)))
            sf = s["flux_jy"] * (fsub / s["ref_freq_hz"]) ** s["spectral_index"]
            acc += np.mean(sf * beam(sim_beam, th, fsub, tel))
        apparent[k] = acc / len(times)
    return src, tsc, intrinsic, apparent, frame_check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--truth", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--flat", required=True, help="uvm-sources on the flat image")
    ap.add_argument("--pb", required=True, help="uvm-sources on the PB-corrected image")
    ap.add_argument("--pb-image", help="the PB-corrected image (blank beyond the pipeline's "
                    "cut): the product catalogue's completeness")
    ap.add_argument("--sim-beam", default="truth",
                    help="the simulator's beam: taper, airy, gauss (default: the truth file's)")
    ap.add_argument("--weighting", default="briggs:0")
    ap.add_argument("--sigma", type=float, default=5.0)
    ap.add_argument("--pb-cut", type=float, default=0.2)
    ap.add_argument("vis", nargs="+")
    a = ap.parse_args()
    warnings.simplefilter("ignore")  # astropy's IERS download attempts (offline)
    from astropy.utils import iers
    iers.conf.auto_download = False

    truth = json.load(open(a.truth))
    tel = truth["telescope"]
    if a.sim_beam == "truth":
        a.sim_beam = tel.get("beam_model", "gauss")
    hdr = fits.getheader(a.image, 0)
    resid = fits.getdata(a.image, "RESIDUAL").astype(np.float64).squeeze()
    restored = fits.getdata(a.image, 0).astype(np.float64).squeeze()
    n = hdr["NAXIS1"]
    cell = abs(hdr["CDELT2"]) * math.pi / 180
    bmaj = hdr["BMAJ"]
    freq = hdr["CRVAL3"]
    wt = a.weighting.split(":")
    robust = float(wt[1]) if len(wt) > 1 else 0.0
    centre = SkyCoord(hdr["CRVAL1"] * u.deg, hdr["CRVAL2"] * u.deg)

    sig, sig_nat, tmid = thermal(a.vis, truth["noise_jy"], cell, n, robust, wt[0],
                                 math.radians(hdr["CRVAL2"]))
    src, tsc, intrinsic, apparent, frame_check = truth_sky(truth, a.vis, centre, freq, a.sim_beam)

    # inside the image, 5 pixels from its edge
    from astropy.wcs import WCS
    w = WCS(hdr).celestial
    px, py = w.world_to_pixel(tsc) if src else (np.array([]), np.array([]))
    inside = (px > 5) & (px < n - 6) & (py > 5) & (py < n - 6)
    det = inside & (apparent > a.sigma * sig)

    flat = json.load(open(a.flat))["sources"]
    pbc = json.load(open(a.pb))["sources"]
    mi, sep = match(flat, tsc, bmaj)
    matched = set(int(i) for i in mi if i >= 0)
    ndet = int(det.sum())
    ncomp = sum(1 for k in np.nonzero(det)[0] if int(k) in matched)
    nspur = int((mi < 0).sum())
    ok = mi >= 0
    offs = sep[ok] / bmaj
    scale = [flat[j]["peak_jy"] / apparent[mi[j]] for j in range(len(flat))
             if mi[j] >= 0 and flat[j]["snr"] >= 20]
    pmi, _ = match(pbc, tsc, bmaj)
    pbr = [pbc[j]["int_jy"] / intrinsic[pmi[j]] for j in range(len(pbc))
           if pmi[j] >= 0 and pbc[j]["snr"] >= 20 and pbc[j]["int_jy"] is not None]
    pbr = np.array(pbr)
    rms_all = float(np.sqrt(np.nanmean(resid ** 2)))
    rdeg = tsc.separation(centre).deg
    missed = [{"name": src[k]["name"], "r_deg": round(float(rdeg[k]), 3),
               "apparent_mjy": round(float(apparent[k]) * 1e3, 2),
               "snr": round(float(apparent[k] / sig), 1)}
              for k in np.nonzero(det)[0] if int(k) not in matched]
    spur = spurious_where(flat, mi, tsc, apparent, centre, n, bmaj, sig,
                          lambda th: beam(a.sim_beam, th, freq, tel))
    # the product: the pipeline's catalogue is the corrected image's
    # (blank where the pipeline's beam is below its cut)
    pspur = spurious_where(pbc, pmi, tsc, apparent, centre, n, bmaj, sig,
                           lambda th: beam(a.sim_beam, th, freq, tel))
    npspur = int((pmi < 0).sum()) if len(pbc) else 0
    # the entries uvm-sources marks reliable (its negated-image test;
    # catalogues without the mark: all)
    rel = np.array([bool(e.get("reliable", True)) for e in flat], dtype=bool)
    prel = np.array([bool(e.get("reliable", True)) for e in pbc], dtype=bool)
    matched_rel = set(int(mi[j]) for j in range(len(flat)) if mi[j] >= 0 and rel[j])
    ncomp_rel = sum(1 for k in np.nonzero(det)[0] if int(k) in matched_rel)
    # the product's completeness: detectable sources where the corrected
    # image is not blank (the pipeline's beam above its cut)
    det_pb = None
    if a.pb_image:
        pbimg = fits.getdata(a.pb_image, 0).astype(np.float64).squeeze()
        ok_pb = np.zeros(len(src), dtype=bool)
        for k in np.nonzero(det)[0]:
            ok_pb[k] = np.isfinite(pbimg[int(round(float(py[k]))), int(round(float(px[k])))])
        det_pb = det & ok_pb
        pmatched_rel = set(int(pmi[j]) for j in range(len(pbc)) if pmi[j] >= 0 and prel[j])
        ncomp_pb = sum(1 for k in np.nonzero(det_pb)[0] if int(k) in pmatched_rel)
    out = {
        "npix": n, "cell_arcsec": cell * 206264.806, "bmaj_arcsec": bmaj * 3600,
        "field_deg": n * cell * 180 / math.pi,
        "thermal_jy": sig, "thermal_natural_jy": sig_nat,
        "resid_rms_jy": rms_all, "resid_robust_rms_jy": float(robust_rms(resid)),
        "rms_over_thermal": rms_all / sig,
        "robust_rms_over_thermal": float(robust_rms(resid)) / sig,
        "n_truth": len(src), "n_truth_in_image": int(inside.sum()),
        "n_detectable": ndet, "n_found_detectable": ncomp,
        "completeness": ncomp / ndet if ndet else None,
        "n_catalogue": len(flat), "n_spurious": nspur,
        "spurious_fraction": nspur / len(flat) if flat else 0.0,
        "n_catalogue_pb": len(pbc), "n_spurious_pb": npspur,
        "spurious_fraction_pb": npspur / len(pbc) if pbc else 0.0,
        "spurious_where_pb": pspur,
        "n_catalogue_reliable": int(rel.sum()),
        "n_spurious_reliable": int(((mi < 0) & rel).sum()) if len(flat) else 0,
        "n_found_detectable_reliable": ncomp_rel,
        "completeness_reliable": ncomp_rel / ndet if ndet else None,
        "n_catalogue_pb_reliable": int(prel.sum()),
        "n_spurious_pb_reliable": int(((pmi < 0) & prel).sum()) if len(pbc) else 0,
        "spurious_fraction_pb_reliable": (int(((pmi < 0) & prel).sum()) / int(prel.sum())
                                          if len(pbc) and prel.sum() else 0.0),
        "n_detectable_pb": int(det_pb.sum()) if det_pb is not None else None,
        "n_found_detectable_pb_reliable": ncomp_pb if det_pb is not None else None,
        "completeness_pb_reliable": (ncomp_pb / int(det_pb.sum())
                                     if det_pb is not None and det_pb.sum() else None),
        "median_offset_beam": float(np.median(offs)) if len(offs) else None,
        "flux_scale_ratio": float(np.median(scale)) if scale else None,
        "n_flux_scale": len(scale),
        "pb_flux_ratio": float(np.median(pbr)) if len(pbr) else None,
        "pb_flux_scatter": float(1.4826 * np.median(np.abs(pbr - np.median(pbr))))
        if len(pbr) else None,
        "n_pb": int(len(pbr)),
        "peak_jy": float(np.nanmax(restored)),
        "dynamic_range": float(np.nanmax(restored)) / rms_all,
        "truth_frame_check_arcsec": float(frame_check),
        "sim_beam": a.sim_beam,
        "missed": missed,
        "spurious_where": spur,
    }
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
