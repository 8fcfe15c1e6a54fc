/*
 * uvh5_chunk.c: the UVH5 reader's own chunk path, for datasets whose
 * chunks split the frequency or polarization axes.
 *
 * libhdf5 copies chunk data to memory in runs as long as the chunk's
 * innermost extent: h5py's automatic chunks, which the DSA-110
 * correlator's writer uses (visdata (128, 1, 12, 1): one polarization a
 * chunk), make that one element at a time, ten times slower than the read
 * itself. For those datasets, when the stored type is already the memory
 * type and the only filter is LZF (or none), we read the raw chunks of a
 * row band ourselves (H5Dread_chunk; a plain chunk straight into the
 * band), decode them with our LZF decoder, keep the band for the next
 * block and copy out with tight loops (the two polarizations merged in
 * one pass).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "uvh5/uvh5_chunk.h"
#include "uvh5/uvh5_priv.h"

void uvh5_chunk_setup(struct uvh5_dset *ds)
{
	hid_t dcpl = H5Dget_create_plist(ds->id), ft = H5Dget_type(ds->id);
	int nf, k, nd = ds->ndim, split = 0;
	unsigned flags, cd[8];
	size_t ncd = 8, band;
	H5Z_filter_t id;

	ds->direct = 0;
	ds->band = -1;
	if (dcpl < 0 || ft < 0 || H5Pget_layout(dcpl) != H5D_CHUNKED ||
	    H5Pget_chunk(dcpl, nd, ds->cdims) != nd || H5Tequal(ft, ds->mtype) <= 0)
		goto done;
	nf = H5Pget_nfilters(dcpl);
	if (nf < 0 || nf > 1)
		goto done;
	if (nf == 1) {
		id = H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, 0, NULL, NULL);
		if (id != UVH5_LZF_FILTER)
			goto done;
		ds->lzf = 1;
	}
	ds->esize = H5Tget_size(ft);
	ds->cbytes = ds->esize;
	for (k = 0; k < nd; k++) {
		if (ds->cdims[k] == 0)
			goto done;
		ds->cbytes *= ds->cdims[k];
		if (k > 0 && ds->cdims[k] < ds->dims[k])
			split = 1;
	}
	ds->nband = 1;
	for (k = 1; k < nd; k++)
		ds->nband *= (ds->dims[k] + ds->cdims[k] - 1) / ds->cdims[k];
	band = ds->nband * ds->cbytes;
	if (!split || ds->cbytes > 0xffffffffu || band > ((size_t)256 << 20) ||
	    (nd == 4 && ds->cdims[1] != 1))
		goto done;
	ds->direct = 1;
done:
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (ft >= 0)
		H5Tclose(ft);
	H5Eclear2(H5E_DEFAULT);
}

/* Decode row band b of ds (all its chunks) into ds->bandbuf. */
static int load_band(struct uvh5_dset *ds, const char *path, const char *name, int64_t b,
    int *status, char *err)
{
	int nd = ds->ndim;
	hsize_t nf = (ds->dims[nd - 2] + ds->cdims[nd - 2] - 1) / ds->cdims[nd - 2];
	hsize_t off[4] = { 0, 0, 0, 0 }, stored;
	uint32_t mask;
	size_t j;
	char reason[256];

	if (!ds->bandbuf && !(ds->bandbuf = malloc(ds->nband * ds->cbytes))) {
		uvh5_fail(status, err, EX_OSERR, "out of memory reading '/Data/%s'", name);
		return -1;
	}
	ds->band = -1;
	for (j = 0; j < ds->nband; j++) {
		unsigned char *dst = ds->bandbuf + j * ds->cbytes;

		off[0] = (hsize_t)b * ds->cdims[0];
		off[nd - 2] = (j / (ds->nband / nf)) * ds->cdims[nd - 2];
		off[nd - 1] = (j % (ds->nband / nf)) * ds->cdims[nd - 1];
		if (H5Dget_chunk_storage_size(ds->id, off, &stored) < 0)
			goto h5err;
		if (stored == 0) {              /* never written: fill value */
			memset(dst, 0, ds->cbytes);
			continue;
		}
		if (!ds->lzf && stored == ds->cbytes) {
			/* a plain chunk: straight into the band, no copy */
			if (H5Dread_chunk(ds->id, H5P_DEFAULT, off, &mask, dst) < 0)
				goto h5err;
			continue;
		}
		if (stored > ds->rawcap) {
			unsigned char *r = realloc(ds->raw, stored);
			if (!r) {
				uvh5_fail(status, err, EX_OSERR, "out of memory reading '/Data/%s'", name);
				return -1;
			}
			ds->raw = r;
			ds->rawcap = stored;
		}
		if (H5Dread_chunk(ds->id, H5P_DEFAULT, off, &mask, ds->raw) < 0)
			goto h5err;
		if (ds->lzf && !(mask & 1)) {
			if (uvh5_lzf_decode(ds->raw, stored, dst, ds->cbytes) < 0) {
				uvh5_fail(status, err, EX_DATAERR,
				    "cannot read '/Data/%s' in '%s': corrupt lzf chunk at row %llu",
				    name, path, (unsigned long long)off[0]);
				return -1;
			}
		} else if (stored == ds->cbytes) {
			memcpy(dst, ds->raw, ds->cbytes);
		} else {
			uvh5_fail(status, err, EX_DATAERR,
			    "cannot read '/Data/%s' in '%s': chunk at row %llu has %llu bytes, not %zu",
			    name, path, (unsigned long long)off[0], (unsigned long long)stored,
			    ds->cbytes);
			return -1;
		}
	}
	ds->band = b;
	return 0;
h5err:
	{
		int st = uvh5_h5_reason(reason, sizeof reason);
		uvh5_fail(status, err, st, "cannot read '/Data/%s' rows %llu+ in '%s': %s",
		    name, (unsigned long long)off[0], path, reason);
	}
	return -1;
}

/* dst[2i] = a[i], dst[2i+1] = b[i] for n elements of es bytes: two
 * polarizations stored in separate chunks merged into (freq, pol) order. */
static void interleave2(unsigned char *restrict dst, const unsigned char *restrict a,
    const unsigned char *restrict b, size_t n, size_t es)
{
	size_t i;

	if (es == 8) {
		for (i = 0; i < n; i++) {
			memcpy(dst + 16 * i, a + 8 * i, 8);
			memcpy(dst + 16 * i + 8, b + 8 * i, 8);
		}
	} else if (es == 4) {
		for (i = 0; i < n; i++) {
			memcpy(dst + 8 * i, a + 4 * i, 4);
			memcpy(dst + 8 * i + 4, b + 4 * i, 4);
		}
	} else if (es == 1) {
		for (i = 0; i < n; i++) {
			dst[2 * i] = a[i];
			dst[2 * i + 1] = b[i];
		}
	} else {
		for (i = 0; i < n; i++) {
			memcpy(dst + 2 * es * i, a + es * i, es);
			memcpy(dst + 2 * es * i + es, b + es * i, es);
		}
	}
}

int uvh5_chunk_read(struct uvh5_dset *ds, const char *path, const char *name, int64_t row0,
    int64_t nrows, void *out, int *status, char *err)
{
	int nd = ds->ndim;
	size_t F = ds->dims[nd - 2], P = ds->dims[nd - 1];
	size_t c0 = ds->cdims[0], cf = ds->cdims[nd - 2], cp = ds->cdims[nd - 1];
	size_t np = (P + cp - 1) / cp, es = ds->esize, j, r, fi;
	int64_t b, end = row0 + nrows;
	unsigned char *o = out;

	for (b = row0 / (int64_t)c0; b * (int64_t)c0 < end; b++) {
		size_t r0 = (size_t)(b * (int64_t)c0 < row0 ? row0 : b * (int64_t)c0);
		size_t r1 = (size_t)((b + 1) * (int64_t)c0 > end ? end : (b + 1) * (int64_t)c0);

		if (ds->band != b && load_band(ds, path, name, b, status, err) < 0)
			return -1;
		/* Row by row, all chunks of the band: the output is written in
		 * order, the band's chunks are read as parallel streams. */
		for (r = r0; r < r1; r++) {
			unsigned char *orow = o + (r - (size_t)row0) * F * P * es;
			size_t cr = (r - (size_t)b * c0) * cf * cp * es;

			if (P == 2 && cp == 1) {        /* the writer's: one pol a chunk */
				for (j = 0; j < ds->nband; j += 2) {
					size_t f0 = (j / 2) * cf, nfi = (f0 + cf > F ? F : f0 + cf) - f0;

					interleave2(orow + f0 * 2 * es, ds->bandbuf + j * ds->cbytes + cr,
					    ds->bandbuf + (j + 1) * ds->cbytes + cr, nfi, es);
				}
				continue;
			}
			for (j = 0; j < ds->nband; j++) {
				size_t f0 = (j / np) * cf, p0 = (j % np) * cp;
				size_t f1 = f0 + cf > F ? F : f0 + cf;
				size_t plen = (p0 + cp > P ? P : p0 + cp) - p0;
				const unsigned char *src = ds->bandbuf + j * ds->cbytes + cr;
				unsigned char *dst = orow + (f0 * P + p0) * es;

				if (plen == 1 && es == 8) {
					for (fi = f0; fi < f1; fi++, src += cp * 8, dst += P * 8)
						memcpy(dst, src, 8);
				} else if (plen == 1 && es == 4) {
					for (fi = f0; fi < f1; fi++, src += cp * 4, dst += P * 4)
						memcpy(dst, src, 4);
				} else if (plen == 1 && es == 1) {
					for (fi = f0; fi < f1; fi++, src += cp, dst += P)
						*dst = *src;
				} else {
					for (fi = f0; fi < f1; fi++, src += cp * es, dst += P * es)
						memcpy(dst, src, plen * es);
				}
			}
		}
	}
	return 0;
}
