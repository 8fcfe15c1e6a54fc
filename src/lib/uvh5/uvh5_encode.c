/*
 * uvh5_encode.c: the writer's direct chunk path (contract in uvh5.h).
 *
 * libhdf5 runs a dataset's filters in the thread that calls H5Dwrite, so
 * a program computing on several threads still compressed flags and
 * nsamples on one: a third of uvm-calapply's CPU time, all of it on the
 * thread that also reads and writes. Here uvh5_encode_rows builds a
 * chunk of each dataset as the filter pipeline stores it (the same LZF
 * call as the filter in uvh5_lzf.c; a chunk LZF cannot shrink is stored
 * as is with the optional filter marked skipped, as libhdf5 does, and
 * found out sooner: see compressible), touching no libhdf5 state, so
 * workers can encode while one thread writes the finished chunks with
 * H5Dwrite_chunk. Whole chunks only: the last, short of rows, is padded
 * with zeros to the chunk's shape; anything else, and the DSA-110 layout
 * (no filter to take off the writing thread), goes through
 * uvh5_write_rows. Data are stored in the file's types (little-endian
 * float32 pairs, int8 bools, little-endian float32), which are the memory
 * bytes on a little-endian machine; elsewhere every write takes
 * uvh5_write_rows.
 */
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "uvh5/uvh5_priv.h"
#include "uvh5/uvh5_wpriv.h"

enum { B_VIS, B_FLG, B_NSM, B_CFLG, B_CNSM };

int64_t uvh5_writer_chunk_rows(const uvh5_writer *x)
{
	return x->crows;
}

/* e->buf[i] with at least n bytes; NULL when out of memory. */
static void *grow(struct uvh5_encoded *e, int i, size_t n)
{
	if (e->cap[i] < n) {
		void *p = realloc(e->buf[i], n);

		if (!p)
			return NULL;
		e->buf[i] = p;
		e->cap[i] = n;
	}
	return e->buf[i];
}

/*
 * Whether LZF may shrink the n bytes at c: whether it shrinks any of
 * PROBE bytes at the start, the middle and the end (z: n bytes of
 * scratch). LZF only fails at the end of its input, and calibrated
 * nsamples (noise-like floats) failed on every chunk after a full scan,
 * a third of uvm-calapply's CPU time for nothing; the last chunk's
 * padding, at its end, still compresses.
 */
#define PROBE ((size_t)32 << 10)

static int compressible(const unsigned char *c, size_t n, unsigned char *z)
{
	size_t at[3] = { 0, (n - PROBE) / 2, n - PROBE };

	if (n <= 3 * PROBE)
		return 1;
	for (int i = 0; i < 3; i++)
		if (uvh5_lzf_encode(c + at[i], PROBE, z, PROBE) != 0)
			return 1;
	return 0;
}

/* Compress chunk c (n bytes) into e->buf[ci] as dataset k's stored chunk,
 * or keep it as is when LZF cannot (or, by the probes, would not) shrink
 * it; 0 or -1 (memory). */
static int pack(struct uvh5_encoded *e, int k, int ci, const void *c, size_t n)
{
	unsigned char *z = grow(e, ci, n);
	size_t m = 0;

	if (!z)
		return -1;
	if (compressible(c, n, z))
		m = uvh5_lzf_encode(c, n, z, n);
	e->chunk[k] = m ? (const void *)z : c;
	e->chunk_n[k] = m ? m : n;
	e->mask[k] = m ? 0 : 1;
	return 0;
}

int uvh5_encode_rows(const uvh5_writer *x, int64_t row0, int64_t nrows,
    const float complex *vis, const uint8_t *flags, const float *nsamples,
    struct uvh5_encoded *e, int *status, char *err)
{
	size_t row = (size_t)x->Nfreqs * (size_t)x->Npols, n, cn, i;
	const void *v = vis, *s = nsamples;
	const uint8_t *f = flags;
	int edge;

	e->row0 = row0;
	e->nrows = nrows;
	e->vis = vis;
	e->flags = flags;
	e->nsamples = nsamples;
	e->direct = 0;
	if (!vis || !flags || !nsamples || row0 < 0 || nrows < 0 || nrows > x->Nblts - row0) {
		uvh5_fail(status, err, EX_SOFTWARE, "bad rows %lld+%lld for '%s' (Nblts %lld)",
		    (long long)row0, (long long)nrows, x->o.path, (long long)x->Nblts);
		return -1;
	}
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	return 0;
#endif
	if (!x->lzf || nrows == 0 || row0 % x->crows != 0 ||
	    (nrows != x->crows && row0 + nrows != x->Nblts) || nrows > x->crows)
		return 0;
	n = (size_t)nrows * row;
	cn = (size_t)x->crows * row;
	edge = n < cn;
	if (edge) {
		unsigned char *pv = grow(e, B_VIS, cn * sizeof *vis);
		unsigned char *ps = grow(e, B_NSM, cn * sizeof *nsamples);

		if (!pv || !ps)
			goto nomem;
		memcpy(pv, vis, n * sizeof *vis);
		memset(pv + n * sizeof *vis, 0, (cn - n) * sizeof *vis);
		memcpy(ps, nsamples, n * sizeof *nsamples);
		memset(ps + n * sizeof *nsamples, 0, (cn - n) * sizeof *nsamples);
		v = pv;
		s = ps;
	}
	/* flags must be valid enum values (0/1), as in uvh5_write_rows */
	for (i = 0; i < n && flags[i] <= 1; i++)
		;
	if (edge || i < n) {
		uint8_t *pf = grow(e, B_FLG, cn);

		if (!pf)
			goto nomem;
		for (i = 0; i < n; i++)
			pf[i] = flags[i] != 0;
		memset(pf + n, 0, cn - n);
		f = pf;
	}
	e->chunk[0] = v;
	e->chunk_n[0] = cn * sizeof *vis;
	e->mask[0] = 0;
	if (pack(e, 1, B_CFLG, f, cn) < 0 || pack(e, 2, B_CNSM, s, cn * sizeof *nsamples) < 0)
		goto nomem;
	e->direct = 1;
	return 0;
nomem:
	uvh5_fail(status, err, EX_OSERR, "out of memory");
	return -1;
}

int uvh5_write_encoded(uvh5_writer *x, const struct uvh5_encoded *e, int *status, char *err)
{
	static const char *const name[3] = { "visdata", "flags", "nsamples" };
	hid_t d[3] = { x->vis, x->flg, x->nsm };
	hsize_t off[4] = { (hsize_t)e->row0, 0, 0, 0 };
	char reason[256];

	if (!e->direct)
		return uvh5_write_rows(x, e->row0, e->nrows, e->vis, e->flags, e->nsamples, status,
		    err);
	if (e->row0 != x->next_row) {
		uvh5_fail(status, err, EX_SOFTWARE,
		    "bad write of rows %lld+%lld to '%s' (next row %lld, Nblts %lld)",
		    (long long)e->row0, (long long)e->nrows, x->o.path, (long long)x->next_row,
		    (long long)x->Nblts);
		return -1;
	}
	for (int k = 0; k < 3; k++)
		if (H5Dwrite_chunk(d[k], H5P_DEFAULT, e->mask[k], off, e->chunk_n[k],
		    e->chunk[k]) < 0) {
			int st = uvh5_h5_reason(reason, sizeof reason);

			uvh5_fail(status, err, st == EX_DATAERR ? EX_SOFTWARE : st,
			    "cannot write '/Data/%s' rows %lld-%lld of '%s': %s", name[k],
			    (long long)e->row0, (long long)(e->row0 + e->nrows - 1), x->o.path,
			    reason);
			return -1;
		}
	x->next_row += e->nrows;
	return 0;
}

void uvh5_encoded_free(struct uvh5_encoded *e)
{
	for (int i = 0; i < 5; i++) {
		free(e->buf[i]);
		e->buf[i] = NULL;
		e->cap[i] = 0;
	}
}
