#!/usr/bin/python3
"""dsa110_file.py: write a small UVH5 file laid out as the DSA-110
correlator's writer lays it out (dsa110/dsa110-meridian-fs,
dsamfs/uvh5_utils.py; summary in shared/data/dsa110/LAYOUT.md), with h5py
and numpy only, so that the reader is tested against the real layout and
not against our own writer.

usage: dsa110_file.py [--nants N] [--ntimes T] [--nchan C] [--dec DEG]
                      [--app-dec] [--no-pointing] [--placeholders] out.hdf5

--app-dec       add the scalar Header/phase_center_app_dec (writer since
                June 2022)
--no-pointing   leave out extra_keywords/phase_center_dec (and the scalar)
--placeholders  antenna_numbers -1 and name "NONE" for stations without data

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nants", type=int, default=8)
    ap.add_argument("--ntimes", type=int, default=2)
    ap.add_argument("--nchan", type=int, default=4)
    ap.add_argument("--dec", type=float, default=54.57)
    ap.add_argument("--app-dec", action="store_true")
    ap.add_argument("--no-pointing", action="store_true")
    ap.add_argument("--placeholders", action="store_true")
    ap.add_argument("out")
    a = ap.parse_args()

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
        h.create_dataset("ant_1_array", data=np.tile(a1, a.ntimes).astype(np.int64), chunks=True)
        h.create_dataset("ant_2_array", data=np.tile(a2, a.ntimes).astype(np.int64), chunks=True)
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
        h.create_dataset("uvw_array", data=uvw, chunks=True)
        h.create_dataset("time_array", data=times, chunks=True)
        h.create_dataset("integration_time", data=np.full(nblts, tint), chunks=True)
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
        dg.create_dataset("visdata", data=vis, chunks=True)
        dg.create_dataset("flags", data=np.zeros(vis.shape, bool), chunks=True)
        dg.create_dataset("nsamples", data=np.ones(vis.shape, np.float32))


if __name__ == "__main__":
    main()
