#!/usr/bin/python3
"""dsa110_file.py: write a small UVH5 file laid out as the DSA-110
correlator's writer lays it out (dsa110/dsa110-meridian-fs,
dsamfs/uvh5_utils.py; summary in shared/data/dsa110/LAYOUT.md), with h5py
and numpy only, so that the reader is tested against the real layout and
not against our own writer.

usage: dsa110_file.py [--nants N] [--ntimes T] [--nchan C] [--dec DEG]
                      [--app-dec] [--no-pointing] [--placeholders]
                      [--writer-chunks] out.hdf5
       dsa110_file.py --writer-chunks --rechunk in.uvh5 out.hdf5

--app-dec       add the scalar Header/phase_center_app_dec (writer since
                June 2022)
--no-pointing   leave out extra_keywords/phase_center_dec (and the scalar)
--placeholders  antenna_numbers -1 and name "NONE" for stations without data
--writer-chunks store the per-row datasets as the writer does: created
                empty with an unlimited first axis and h5py's automatic
                chunks (for /Data (0, 1, Nfreqs, 2): small chunks that
                split frequency and polarization, e.g. visdata
                (128, 1, 12, 1)), uncompressed, then grown and filled one
                integration at a time. Without it the datasets get h5py's
                chunks for their final shape (this script's old layout).
--rechunk IN    instead of simulating, copy the UVH5 file IN to out with
                the writer's chunking (needs --writer-chunks): every value,
                type and attribute identical, only the storage differs.

The visibilities are noise-like (deterministic); uvw follow the writer's
convention pos(ant2) - pos(ant1) projected on (HA 0, pointing Dec).
"""
import argparse
import csv
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
STATIONS = os.path.join(HERE, "..", "..", "shared", "data", "dsa110", "stations.csv")
A, F = 6378137.0, 1 / 298.257223563  # WGS84


def ecef(lat, lon, h):
    lat, lon = np.radians(lat), np.radians(lon)
    e2 = F * (2 - F)
    n = A / np.sqrt(1 - e2 * np.sin(lat) ** 2)
    return np.array([(n + h) * np.cos(lat) * np.cos(lon),
                     (n + h) * np.cos(lat) * np.sin(lon),
                     (n * (1 - e2) + h) * np.sin(lat)]).T


ROW_HEADER = ("ant_1_array", "ant_2_array", "uvw_array", "time_array",
              "integration_time")


def append_like_writer(grp, name, data, nbls, attrs=()):
    """Create grp/name empty with an unlimited first axis and h5py's
    automatic chunks, then grow it and write it one integration (nbls
    rows) at a time, as dsamfs/uvh5_utils.py's update_uvh5_file does."""
    d = grp.create_dataset(name, (0,) + data.shape[1:], maxshape=(None,) + data.shape[1:],
                           dtype=data.dtype, chunks=True)
    for k, v in attrs:
        d.attrs[k] = v
    for r0 in range(0, data.shape[0], nbls):
        r1 = min(r0 + nbls, data.shape[0])
        d.resize(r1, axis=0)
        d[r0:r1] = data[r0:r1]


def rechunk(src, out):
    """Copy src to out with the writer's chunking of the per-row datasets;
    everything else copied as it is."""
    with h5py.File(src, "r") as fi, h5py.File(out, "w") as fo:
        for k, v in fi.attrs.items():
            fo.attrs[k] = v
        nbls = int(fi["Header/Nbls"][()])
        for gname in ("Header", "Data"):
            gi, go = fi[gname], fo.create_group(gname)
            for k, v in gi.attrs.items():
                go.attrs[k] = v
            for name, obj in gi.items():
                rowwise = (gname == "Data" or name in ROW_HEADER)
                if rowwise and isinstance(obj, h5py.Dataset) and obj.shape:
                    append_like_writer(go, name, obj[()], nbls, obj.attrs.items())
                else:
                    gi.copy(obj, go, name=name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nants", type=int, default=8)
    ap.add_argument("--ntimes", type=int, default=2)
    ap.add_argument("--nchan", type=int, default=4)
    ap.add_argument("--dec", type=float, default=54.57)
    ap.add_argument("--app-dec", action="store_true")
    ap.add_argument("--no-pointing", action="store_true")
    ap.add_argument("--placeholders", action="store_true")
    ap.add_argument("--writer-chunks", action="store_true")
    ap.add_argument("--rechunk", metavar="IN")
    ap.add_argument("out")
    a = ap.parse_args()
    if a.rechunk:
        if not a.writer_chunks:
            ap.error("--rechunk needs --writer-chunks")
        rechunk(a.rechunk, a.out)
        return

    rows = [r for r in csv.reader(l for l in open(STATIONS) if not l.startswith("#"))][1:]
    # A station without an elevation (117) gets the mean of the others.
    st = np.array([[float(r[1]), float(r[2]), float(r[3]) if r[3] else np.nan] for r in rows])
    st[np.isnan(st[:, 2]), 2] = np.nanmean(st[:, 2])
    nst = len(st)
    lat, lon, alt = 37.233386982, -118.283405115, 1188.0519
    pos = ecef(st[:, 0], st[:, 1], st[:, 2]) - ecef(lat, lon, alt)
    # Active antennas: spread over the station list.
    act = np.linspace(0, nst - 1, a.nants).round().astype(int)
    # Writer's baseline order: for i, for j <= i (ant_1 >= ant_2 often).
    a1, a2 = [], []
    for i in range(a.nants):
        for j in range(i + 1):
            a1.append(act[j] if (i + j) % 3 else act[i])
            a2.append(act[i] if (i + j) % 3 else act[j])
    a1, a2 = np.array(a1), np.array(a2)
    nbls = len(a1)
    nblts = nbls * a.ntimes
    # uvw: ECEF baseline -> ENU -> (HA 0, dec) frame.
    la, lo = np.radians(lat), np.radians(lon)
    r = np.array([[-np.sin(lo), np.cos(lo), 0],
                  [-np.sin(la) * np.cos(lo), -np.sin(la) * np.sin(lo), np.cos(la)],
                  [np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)]])
    b = (pos[a2] - pos[a1]) @ r.T
    d = np.radians(a.dec)
    x = -np.sin(la) * b[:, 1] + np.cos(la) * b[:, 2]
    z = np.cos(la) * b[:, 1] + np.sin(la) * b[:, 2]
    uvw = np.stack([b[:, 0], -np.sin(d) * x + np.cos(d) * z,
                    np.cos(d) * x + np.sin(d) * z], 1)
    uvw = np.tile(uvw, (a.ntimes, 1)).astype(np.float32)
    tint = 12.884902
    t0 = 2460973.0 + 0.5
    times = np.repeat(t0 + np.arange(a.ntimes) * tint / 86400, nbls)
    freqs = 1498.75e6 - 244140.625 * np.arange(a.nchan)

    def put(grp, name, data, chunks=True):
        if a.writer_chunks:
            append_like_writer(grp, name, data, nbls)
        else:
            grp.create_dataset(name, data=data, chunks=chunks)

    with h5py.File(a.out, "w") as f:
        h = f.create_group("Header")
        dg = f.create_group("Data")
        h["latitude"] = lat
        h["longitude"] = lon
        h["altitude"] = alt
        h["telescope_name"] = np.bytes_("OVRO_MMA")
        h["instrument"] = np.bytes_("DSA")
        h["object_name"] = np.bytes_("search")
        h["history"] = np.bytes_("written by dsa110_file.py after the DSA-110 writer")
        h["phase_type"] = np.bytes_("drift")
        h["Nants_data"] = a.nants
        h["Nants_telescope"] = nst
        h["antenna_diameters"] = np.ones(nst) * 4.65
        put(h, "ant_1_array", np.tile(a1, a.ntimes).astype(np.int64))
        put(h, "ant_2_array", np.tile(a2, a.ntimes).astype(np.int64))
        names = np.array(["%d" % (k + 1) for k in range(nst)], dtype="S4")
        nums = np.arange(nst)
        if a.placeholders:
            unused = np.setdiff1d(np.arange(nst), act)[:5]
            names[unused] = b"NONE"
            nums[unused] = -1
        h.create_dataset("antenna_names", data=names)
        h["antenna_numbers"] = nums
        h["Nbls"] = nbls
        h["Nblts"] = nblts
        h["Nfreqs"] = a.nchan
        h["Npols"] = 2
        h["Ntimes"] = a.ntimes
        h["Nspws"] = 1
        put(h, "uvw_array", uvw)
        put(h, "time_array", times)
        put(h, "integration_time", np.full(nblts, tint))
        h["freq_array"] = freqs[np.newaxis, :]
        h["channel_width"] = abs(freqs[1] - freqs[0]) if a.nchan > 1 else 244140.625
        h["spw_array"] = np.array([1])
        h["polarization_array"] = np.array([-5, -6])
        h["antenna_positions"] = pos
        e = h.create_group("extra_keywords")
        if not a.no_pointing:
            e["phase_center_dec"] = np.radians(a.dec)
            if a.app_dec:
                h["phase_center_app_dec"] = np.radians(a.dec)
        e["ha_phase_center"] = 0.0
        e["phase_center_epoch"] = 2000
        rng = np.random.default_rng(1)
        vis = (rng.normal(size=(nblts, 1, a.nchan, 2)) +
               1j * rng.normal(size=(nblts, 1, a.nchan, 2))).astype(np.complex64)
        auto = np.tile(a1 == a2, a.ntimes)
        vis[auto] = np.abs(vis[auto]) + 10
        put(dg, "visdata", vis)
        put(dg, "flags", np.zeros(vis.shape, bool))
        put(dg, "nsamples", np.ones(vis.shape, np.float32), None)


if __name__ == "__main__":
    main()
