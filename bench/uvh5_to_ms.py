#!/usr/bin/python3
"""uvh5_to_ms.py: a UVH5 file (pyuvdata's layout, or the DSA-110
writer's meridian drift scan) as a Measurement Set for WSClean, so that
bench-wsclean.sh can image the same visibilities with it.

usage: uvh5_to_ms.py in.uvh5 out.ms

Independent of uvmake's code (numpy, h5py, astropy, casacore.tables):

- Phase centre. A drift file has every integration phased to the meridian
  at the pointing declination. WSClean wants one phase centre, so each
  row is rephased to the meridian at mid-time (the same common centre
  uvm-image uses), computed in CIRS with the Earth rotation angle and
  UT1 = UTC (no IERS table), and written as its ICRS position. u and v
  lie along ICRS east and north at that centre (the ICRS axes carried to
  CIRS by astropy), so the image's WCS is ICRS like uvm-image's.
- Sign. UVH5 holds V = sum S exp(+2 pi i b.(s - s0) / lambda) with
  b = pos(ant2) - pos(ant1) (pyuvdata's memo; the DSA-110 writer); the MS
  gets the same UVW (b projected) and the same data, unconjugated, as
  pyuvdata's own MS writer does. Checked, not assumed: conjugating turns
  WSClean's image through 180 degrees about the centre, and
  bench-wsclean.sh compares both catalogues' positions with the
  simulator's truth.
- Rephasing: V_new = V_old exp(+2 pi i (w_old - w_new) f / c).
- Weights: WEIGHT_SPECTRUM is nsamples; FLAG the file's flags; the
  autocorrelations are kept (WSClean skips them).
"""
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import h5py  # noqa: E402
from astropy.utils import iers  # noqa: E402

iers.conf.auto_download = False
import astropy.units as u  # noqa: E402
from astropy.coordinates import CIRS, ICRS, EarthLocation, SkyCoord  # noqa: E402
from astropy.time import Time  # noqa: E402
from casacore import tables  # noqa: E402

C = 299792458.0


def era(jd):
    return Time(jd, format="jd", scale="ut1").earth_rotation_angle("tio").rad


def unit(ra, dec):
    return np.array([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def rot_z(a, v):
    """Rotate vectors v (..., 3) by angle a about z."""
    c, s = np.cos(a), np.sin(a)
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1], v[..., 2]], -1)


def read(path):
    f = h5py.File(path, "r")
    h = f["Header"]
    hd = {k: h[k][()] for k in ("latitude", "longitude", "altitude", "antenna_positions",
                                "antenna_numbers", "ant_1_array", "ant_2_array",
                                "time_array", "integration_time", "freq_array",
                                "channel_width", "polarization_array")}
    hd["antenna_names"] = [x.decode() if isinstance(x, bytes) else str(x)
                           for x in h["antenna_names"][()]]
    if "phase_center_app_dec" in h and np.ndim(h["phase_center_app_dec"][()]) > 0:
        hd["dec"] = h["phase_center_app_dec"][()].astype(float)
    elif "phase_center_app_dec" in h:
        hd["dec"] = np.full(len(hd["time_array"]), float(h["phase_center_app_dec"][()]))
    else:
        hd["dec"] = np.full(len(hd["time_array"]), float(h["extra_keywords/phase_center_dec"][()]))
    return f, hd


def subtables(ms, hd, loc, ra0, dec0, freqs, widths, npol):
    corr = {-5: 9, -6: 12, -7: 10, -8: 11, -1: 5, -2: 8, -3: 6, -4: 7, 1: 1, 2: 2, 3: 3, 4: 4}
    xyz = np.array([q.to_value(u.m) for q in loc.to_geocentric()])
    with tables.table(ms + "/ANTENNA", readonly=False, ack=False) as t:
        n = len(hd["antenna_numbers"])
        t.addrows(n)
        t.putcol("POSITION", hd["antenna_positions"] + xyz)
        t.putcol("NAME", hd["antenna_names"])
        t.putcol("STATION", hd["antenna_names"])
        t.putcol("DISH_DIAMETER", np.full(n, 4.65))
        t.putcol("TYPE", ["GROUND-BASED"] * n)
        t.putcol("MOUNT", ["ALT-AZ"] * n)
    with tables.table(ms + "/SPECTRAL_WINDOW", readonly=False, ack=False) as t:
        t.addrows(1)
        t.putcell("NUM_CHAN", 0, len(freqs))
        t.putcell("CHAN_FREQ", 0, freqs)
        t.putcell("CHAN_WIDTH", 0, widths)
        t.putcell("EFFECTIVE_BW", 0, np.abs(widths))
        t.putcell("RESOLUTION", 0, np.abs(widths))
        t.putcell("REF_FREQUENCY", 0, float(np.mean(freqs)))
        t.putcell("TOTAL_BANDWIDTH", 0, float(np.sum(np.abs(widths))))
        t.putcell("NAME", 0, "band")
    with tables.table(ms + "/POLARIZATION", readonly=False, ack=False) as t:
        t.addrows(1)
        t.putcell("NUM_CORR", 0, npol)
        t.putcell("CORR_TYPE", 0, np.array([corr[int(p)] for p in hd["polarization_array"]]))
        t.putcell("CORR_PRODUCT", 0, np.array([[0, 0]] * npol, dtype=np.int32).T)
    with tables.table(ms + "/DATA_DESCRIPTION", readonly=False, ack=False) as t:
        t.addrows(1)
        t.putcell("SPECTRAL_WINDOW_ID", 0, 0)
        t.putcell("POLARIZATION_ID", 0, 0)
    with tables.table(ms + "/FIELD", readonly=False, ack=False) as t:
        t.addrows(1)
        d = np.array([[ra0, dec0]])
        for c in ("PHASE_DIR", "DELAY_DIR", "REFERENCE_DIR"):
            t.putcell(c, 0, d)
        t.putcell("NAME", 0, "drift")
    with tables.table(ms + "/OBSERVATION", readonly=False, ack=False) as t:
        t.addrows(1)
        t.putcell("TELESCOPE_NAME", 0, "DSA_110")
        tt = (hd["time_array"] - 2400000.5) * 86400.0
        t.putcell("TIME_RANGE", 0, np.array([tt.min(), tt.max()]))


def main(src, ms):
    f, hd = read(src)
    loc = EarthLocation.from_geodetic(hd["longitude"] * u.deg, hd["latitude"] * u.deg,
                                      hd["altitude"] * u.m)
    lon = np.radians(hd["longitude"])
    idx = {int(a): i for i, a in enumerate(hd["antenna_numbers"])}
    a1 = np.array([idx[int(a)] for a in hd["ant_1_array"]])
    a2 = np.array([idx[int(a)] for a in hd["ant_2_array"]])
    b = hd["antenna_positions"][a2] - hd["antenna_positions"][a1]     # ITRS, metres
    t = hd["time_array"]
    tu, inv = np.unique(t, return_inverse=True)
    eras = era(tu)
    jd_mid = 0.5 * (tu.min() + tu.max())
    # the common centre: CIRS meridian at the (first row's) pointing dec
    ra_c, dec_c = era(jd_mid) + lon, float(hd["dec"][0])
    obst = Time(jd_mid, format="jd", scale="utc")
    ic = SkyCoord(ra=ra_c * u.rad, dec=dec_c * u.rad, frame=CIRS(obstime=obst)).transform_to(ICRS())
    ra0, dec0 = ic.ra.rad, ic.dec.rad
    # ICRS east and north at the centre, carried to CIRS: the uv axes
    eps = 1e-5
    pts = SkyCoord(ra=[ra0, ra0 + eps / np.cos(dec0), ra0] * u.rad,
                   dec=[dec0, dec0, dec0 + eps] * u.rad, frame="icrs").transform_to(CIRS(obstime=obst))
    s0 = unit(pts.ra.rad[0], pts.dec.rad[0])
    e = (unit(pts.ra.rad[1], pts.dec.rad[1]) - s0) / eps
    nn = (unit(pts.ra.rad[2], pts.dec.rad[2]) - s0) / eps
    e -= s0 * (e @ s0)
    e /= np.linalg.norm(e)
    nn = np.cross(s0, e)
    bc = rot_z(eras[inv], b)                                              # CIRS
    uvw = np.stack([bc @ e, bc @ nn, bc @ s0], -1)
    # old centre: the meridian (hour angle 0) at each row's pointing dec
    s_old = np.stack([np.cos(hd["dec"]) * np.cos(eras[inv] + lon),
                      np.cos(hd["dec"]) * np.sin(eras[inv] + lon), np.sin(hd["dec"])], -1)
    w_old = np.sum(bc * s_old, -1)
    dw = w_old - uvw[:, 2]
    freqs = hd["freq_array"].ravel().astype(float)
    widths = np.broadcast_to(hd["channel_width"], freqs.shape).astype(float)
    npol = len(hd["polarization_array"])
    nblts = len(t)

    tables.default_ms(ms).close()
    subtables(ms, hd, loc, ra0, dec0, freqs, widths, npol)
    with tables.table(ms, readonly=False, ack=False) as tb:
        tb.addcols(tables.maketabdesc([
            tables.makearrcoldesc("DATA", 0j, ndim=2, valuetype="complex"),
            tables.makearrcoldesc("WEIGHT_SPECTRUM", 0.0, ndim=2, valuetype="float")]))
        tb.addrows(nblts)
        tsec = (t - 2400000.5) * 86400.0
        itime = np.broadcast_to(hd["integration_time"], t.shape).astype(float)
        tb.putcol("TIME", tsec)
        tb.putcol("TIME_CENTROID", tsec)
        tb.putcol("INTERVAL", itime)
        tb.putcol("EXPOSURE", itime)
        tb.putcol("ANTENNA1", a1.astype(np.int32))
        tb.putcol("ANTENNA2", a2.astype(np.int32))
        tb.putcol("UVW", uvw)
        tb.putcol("WEIGHT", np.ones((nblts, npol), np.float32))
        tb.putcol("SIGMA", np.ones((nblts, npol), np.float32))
        tb.putcol("SCAN_NUMBER", np.ones(nblts, np.int32))
        vis, flg, nsa = f["Data/visdata"], f["Data/flags"], f["Data/nsamples"]
        step = 8192
        for r0 in range(0, nblts, step):
            r1 = min(nblts, r0 + step)
            v = vis[r0:r1].reshape(r1 - r0, len(freqs), npol)
            ph = np.exp(2j * np.pi * np.outer(dw[r0:r1], freqs) / C)[..., None]
            tb.putcol("DATA", (v * ph).astype(np.complex64), startrow=r0, nrow=r1 - r0)
            tb.putcol("FLAG", flg[r0:r1].reshape(r1 - r0, len(freqs), npol), startrow=r0,
                      nrow=r1 - r0)
            tb.putcol("WEIGHT_SPECTRUM", nsa[r0:r1].reshape(r1 - r0, len(freqs), npol)
                      .astype(np.float32), startrow=r0, nrow=r1 - r0)
    print("%s: %d rows, %d channels, %d pols; phase centre ICRS %.6f %.6f deg"
          % (ms, nblts, len(freqs), npol, np.degrees(ra0), np.degrees(dec0)))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: uvh5_to_ms.py in.uvh5 out.ms")
    main(sys.argv[1], sys.argv[2])
