#!/usr/bin/python3
"""soak_compare.py: are two deployments' products the same data?

usage: soak_compare.py REF RUN [SKIP...]

Compares every product of the reference deployment REF with the same
path in RUN, by content, not bytes: FITS files HDU by HDU (data arrays
exactly, NaN equal to NaN; header cards other than HISTORY, COMMENT and
DATE*), HDF5 files (caltables, visibilities) dataset by dataset and
attribute by attribute (attributes naming a time of processing left
out, as "created"), JSON reports parsed (keys naming a time of
processing left out). Files are products/<G>/{image.fits,qa.json,
flag.json,*.uvh5}, caltables/*.h5 and mosaics/*.fits; a product a
retention or staging wipe removed from either side (a dangling link) is
counted as not compared, and so is one RUN's retention removed (listed
in RUN/logs/retain.log). SKIP are group ids (and hours, YYYYMMDDTHH)
whose products are expected to differ (a corrupt subband was injected).

Prints "compared N differ D missing M skipped S" and one line per
differing or missing file; exit 0 when D and M are 0, 1 otherwise.
"""
import json
import os
import sys

import h5py
import numpy as np
from astropy.io import fits

TIME_KEYS = ("created", "made", "elapsed", "wall", "now", "written")


def same_array(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def fits_same(x, y):
    with fits.open(x) as fa, fits.open(y) as fb:
        if len(fa) != len(fb):
            return "HDU count"
        for i, (a, b) in enumerate(zip(fa, fb)):
            if (a.data is None) != (b.data is None) or (a.data is not None and not same_array(a.data, b.data)):
                return "HDU %d data" % i
            ka = [(k, v) for k, v in a.header.items() if k not in ("HISTORY", "COMMENT") and not k.startswith("DATE")]
            kb = [(k, v) for k, v in b.header.items() if k not in ("HISTORY", "COMMENT") and not k.startswith("DATE")]
            if ka != kb:
                return "HDU %d header" % i
    return None


def h5_same(x, y):
    with h5py.File(x, "r") as fa, h5py.File(y, "r") as fb:
        na, nb = [], []
        fa.visit(na.append)
        fb.visit(nb.append)
        if sorted(na) != sorted(nb):
            return "object names"
        for n in ["/"] + na:
            a, b = fa[n], fb[n]
            ka = sorted(k for k in a.attrs.keys() if not any(t in k for t in TIME_KEYS))
            kb = sorted(k for k in b.attrs.keys() if not any(t in k for t in TIME_KEYS))
            if ka != kb:
                return "attributes of " + n
            for k in ka:
                if not same_array(a.attrs[k], b.attrs[k]):
                    return "attribute %s of %s" % (k, n)
            if isinstance(a, h5py.Dataset) and not same_array(a[()], b[()]):
                return "dataset " + n
    return None


def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if not any(t in k for t in TIME_KEYS)}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o


def json_same(x, y):
    with open(x) as fa, open(y) as fb:
        return None if strip(json.load(fa)) == strip(json.load(fb)) else "content"


def main():
    if len(sys.argv) < 3:
        print(__doc__.split("\n")[2], file=sys.stderr)
        return 64
    ref, run, skip = sys.argv[1], sys.argv[2], set(sys.argv[3:])
    # what retention removed from the run (logs/retain.log: "T remove REL ...")
    retained = set()
    try:
        with open(os.path.join(run, "logs", "retain.log")) as f:
            for line in f:
                w = line.split()
                if len(w) > 2 and w[1] == "remove":
                    retained.add(w[2])
    except FileNotFoundError:
        pass
    files = []
    for g in sorted(os.listdir(os.path.join(ref, "products"))):
        for f in sorted(os.listdir(os.path.join(ref, "products", g))):
            if f.endswith((".fits", ".json", ".uvh5")):
                files.append((g, os.path.join("products", g, f)))
    for sub in ("caltables", "mosaics"):
        for f in sorted(os.listdir(os.path.join(ref, sub))):
            if f.endswith((".h5", ".fits")):
                # a mosaic is skipped by its hour, a table by its group
                files.append((f.split(".")[0], os.path.join(sub, f)))
    n = nd = nm = ns = 0
    for key, rel in files:
        a, b = os.path.join(ref, rel), os.path.join(run, rel)
        if key in skip:
            ns += 1
            continue
        if not os.path.exists(a):
            ns += 1  # removed on the reference side (a dangling staged link)
            continue
        if not os.path.exists(b):
            if os.path.islink(b) or rel in retained:
                ns += 1  # staged, then wiped; or retained away
                continue
            nm += 1
            print("missing", rel)
            continue
        n += 1
        if rel.endswith(".fits"):
            why = fits_same(a, b)
        elif rel.endswith(".json"):
            why = json_same(a, b)
        else:
            why = h5_same(a, b)
        if why:
            nd += 1
            print("differ", rel, why)
    print("compared %d differ %d missing %d skipped %d" % (n, nd, nm, ns))
    return 0 if nd == 0 and nm == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
