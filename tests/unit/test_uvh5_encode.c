/*
 * test_uvh5_encode.c: the writer's direct chunk path (uvh5_encode_rows,
 * uvh5_write_encoded) against its ordinary path (uvh5_write_rows) and
 * against h5py.
 *
 * The same rows go to one file through uvh5_write_rows and to another
 * through chunks encoded on two threads and written in order: chunks of
 * 7 rows over 30 (the last one short, padded), flags holding values
 * other than 0 and 1 (stored as 1), nsamples random in the first chunk
 * (LZF cannot shrink it: stored as is, filter skipped) and constant
 * elsewhere (compressed). Both files must read back as the same values
 * with our reader and with h5py (libhdf5's own filter path and h5py's LZF
 * filter, neither of them ours), carry the same filters and chunk shape,
 * and the stored chunks must say what was compressed. Rows that are not
 * whole chunks fall back to uvh5_write_rows; rows out of range are
 * refused. On chunks larger than the probes (32 KiB at the start, middle
 * and end), noise is stored as is and noise ending in zeros (the padded
 * last chunk's case) compressed. And the pool that copies a file through
 * that path on several workers (uvh5_copy_encoded, test_copy).
 */
#include <hdf5.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "uvh5/uvh5.h"
#include "uvh5/uvh5_stream.h"
#include "tap.h"

static char tmpdir[] = "/tmp/test_uvh5_encode.XXXXXX";
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

/* 4 antennas (10 baselines with autos), ntimes integrations, nf
 * channels, 2 pols. */
static int header(struct uvh5_header *h, int ntimes, int nf)
{
	memset(h, 0, sizeof *h);
	h->Nants_telescope = h->Nants_data = 4;
	h->Nbls = 10;
	h->Ntimes = ntimes;
	h->Nblts = h->Nbls * ntimes;
	h->Nfreqs = nf;
	h->Npols = 2;
	h->Nspws = 1;
	h->Nphase = 1;
	if (uvh5_header_alloc(h) < 0)
		return -1;
	snprintf(h->telescope_name, sizeof h->telescope_name, "OVRO_DSA");
	for (int a = 0; a < 4; a++) {
		h->antenna_numbers[a] = a + 1;
		snprintf(h->antenna_names[a], sizeof h->antenna_names[a], "pad%d", a + 1);
		for (int k = 0; k < 3; k++)
			h->antenna_positions[a * 3 + k] = a * 10.0 + k;
	}
	for (int t = 0, i = 0; t < ntimes; t++)
		for (int a = 0; a < 4; a++)
			for (int b = a; b < 4; b++, i++) {
				h->ant_1_array[i] = a + 1;
				h->ant_2_array[i] = b + 1;
				for (int k = 0; k < 3; k++)
					h->uvw_array[i * 3 + k] = (b - a) * 10.0 + k;
				h->time_array[i] = 2460000.5 + t * 10.0 / 86400;
				h->lst_array[i] = 1.0;
				h->integration_time[i] = 10.0;
			}
	for (int k = 0; k < nf; k++) {
		h->freq_array[k] = 1.4e9 + k * 244140.625;
		h->channel_width[k] = 244140.625;
	}
	h->polarization_array[0] = -5;
	h->polarization_array[1] = -6;
	h->phase_centers[0].id = 0;
	snprintf(h->phase_centers[0].name, sizeof h->phase_centers[0].name, "drift");
	snprintf(h->phase_centers[0].type, sizeof h->phase_centers[0].type, "unprojected");
	snprintf(h->phase_centers[0].frame, sizeof h->phase_centers[0].frame, "altaz");
	return 0;
}

struct job {
	const uvh5_writer *w;
	const float complex *vis;
	const uint8_t *fl;
	const float *ns;
	size_t per;
	int64_t nblts, crows, first;    /* this thread's chunks: first, +2, ... */
	struct uvh5_encoded *e;
	int bad;
};

static void *encode(void *arg)
{
	struct job *j = arg;
	char err[UVH5_ERRLEN];
	int st;

	for (int64_t c = j->first, r; (r = c * j->crows) < j->nblts; c += 2) {
		int64_t nr = j->nblts - r < j->crows ? j->nblts - r : j->crows;
		size_t k = (size_t)r * j->per;

		j->bad |= uvh5_encode_rows(j->w, r, nr, j->vis + k, j->fl + k, j->ns + k, &j->e[c],
		    &st, err) < 0 || !j->e[c].direct;
	}
	return NULL;
}

/* Read path back whole; 0 when it equals vis, flags (as 0/1), ns. */
static int read_same(const char *path, int64_t nblts, size_t per, const float complex *vis,
    const uint8_t *fl, const float *ns)
{
	size_t n = (size_t)nblts * per;
	float complex *v = calloc(n, sizeof *v);
	uint8_t *f = calloc(n, 1);
	float *s = calloc(n, sizeof *s);
	char err[UVH5_ERRLEN];
	int st, rc = -1;
	uvh5_file *u = uvh5_open(path, &st, err);

	if (u && v && f && s && uvh5_read_rows(u, 0, nblts, v, f, s, &st, err) == 0) {
		rc = memcmp(v, vis, n * sizeof *v) || memcmp(s, ns, n * sizeof *s);
		for (size_t i = 0; i < n; i++)
			rc |= f[i] != (fl[i] != 0);
	}
	if (u)
		uvh5_close(u);
	free(v);
	free(f);
	free(s);
	return rc;
}

/* Filter mask and stored size of chunk row0 of /Data/name in path; -1. */
static int chunk_info(const char *path, const char *name, int64_t row0, unsigned *mask,
    hsize_t *size)
{
	hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = -1;
	hsize_t off[3] = { (hsize_t)row0, 0, 0 };
	int rc = -1;

	if (fid >= 0 && (d = H5Dopen2(fid, name, H5P_DEFAULT)) >= 0 &&
	    H5Dget_chunk_storage_size(d, off, size) >= 0) {
		void *b = malloc(*size ? *size : 1);

		if (b && H5Dread_chunk(d, H5P_DEFAULT, off, mask, b) >= 0)
			rc = 0;
		free(b);
	}
	if (d >= 0)
		H5Dclose(d);
	if (fid >= 0)
		H5Fclose(fid);
	return rc;
}

/* h5py's reading of the three datasets of path equals ref's. */
static int h5py_same(const char *path, const char *ref)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c '\n"
	    "import sys, h5py, numpy as np\n"
	    "a, b = h5py.File(sys.argv[1], \"r\")[\"Data\"], h5py.File(sys.argv[2], \"r\")[\"Data\"]\n"
	    "same = all(np.array_equal(a[k][()], b[k][()]) and a[k].chunks == b[k].chunks and "
	    "a[k].compression == b[k].compression for k in (\"visdata\", \"flags\", \"nsamples\"))\n"
	    "sys.exit(0 if same else 1)' '%s' '%s'", path, ref);
	return system(cmd) == 0;
}

static void test_small(void)
{
	struct uvh5_header h;
	struct uvh5_encoded e[5] = { { 0 } }, x = { 0 };
	struct job j[2];
	pthread_t th;
	char a[256], b[256], c[256], err[UVH5_ERRLEN];
	size_t per, n;
	float complex *vis;
	uint8_t *fl;
	float *ns;
	uvh5_writer *w;
	unsigned mask;
	hsize_t size;
	int st = 0, good = 1;

	ok(header(&h, 3, 5) == 0, "a 30-row header");
	per = (size_t)h.Nfreqs * (size_t)h.Npols;
	n = (size_t)h.Nblts * per;
	vis = malloc(n * sizeof *vis);
	fl = malloc(n);
	ns = malloc(n * sizeof *ns);
	for (size_t i = 0; i < n; i++) {
		vis[i] = CMPLXF((float)rnd() / 4e9f, -(float)rnd() / 4e9f);
		fl[i] = rnd() % 4 == 0 ? (uint8_t)(1 + rnd() % 3) : 0;
		ns[i] = i < 7 * per ? (float)rnd() / 4e9f : 1.0f;
	}
	snprintf(a, sizeof a, "%s/rows.uvh5", tmpdir);
	snprintf(b, sizeof b, "%s/chunks.uvh5", tmpdir);
	snprintf(c, sizeof c, "%s/mixed.uvh5", tmpdir);

	w = uvh5_create(a, &h, 7, &st, err);
	for (int64_t r = 0; w && r < h.Nblts; r += 7) {
		int64_t nr = h.Nblts - r < 7 ? h.Nblts - r : 7;

		good &= uvh5_write_rows(w, r, nr, vis + r * per, fl + r * per, ns + r * per, &st,
		    err) == 0;
	}
	ok(w && good && uvh5_writer_commit(w, &st, err) == 0, "rows written by uvh5_write_rows");

	w = uvh5_create(b, &h, 7, &st, err);
	ok(w && uvh5_writer_chunk_rows(w) == 7, "7 rows a chunk");
	good = w != NULL;
	for (int t = 0; good && t < 2; t++) {
		j[t] = (struct job){ w, vis, fl, ns, per, h.Nblts, 7, t, e, 0 };
	}
	if (good && pthread_create(&th, NULL, encode, &j[1]) == 0) {
		encode(&j[0]);
		pthread_join(th, NULL);
	} else {
		good = 0;
	}
	ok(good && !j[0].bad && !j[1].bad, "5 chunks encoded on two threads, all direct");
	for (int k = 0; good && k < 5; k++)
		good = uvh5_write_encoded(w, &e[k], &st, err) == 0;
	ok(good && uvh5_writer_commit(w, &st, err) == 0, "encoded chunks written in order");
	for (int k = 0; k < 5; k++)
		uvh5_encoded_free(&e[k]);
	ok(read_same(a, h.Nblts, per, vis, fl, ns) == 0, "rows: values read back");
	ok(read_same(b, h.Nblts, per, vis, fl, ns) == 0,
	    "chunks: the same values, flags 2 and 3 read as 1, the short last chunk whole");
	ok(h5py_same(b, a), "h5py reads the same values, chunks and compression from both");
	ok(chunk_info(b, "/Data/nsamples", 0, &mask, &size) == 0 && mask == 1 &&
	    size == 7 * per * sizeof(float), "random nsamples: stored as is, filter skipped");
	ok(chunk_info(b, "/Data/nsamples", 7, &mask, &size) == 0 && mask == 0 &&
	    size < 7 * per * sizeof(float), "constant nsamples: compressed");
	ok(chunk_info(b, "/Data/nsamples", 28, &mask, &size) == 0 && mask == 0 &&
	    size < 7 * per * sizeof(float), "the short last chunk: compressed");

	/* the first chunk direct, then blocks of 4 rows: not whole chunks */
	w = uvh5_create(c, &h, 7, &st, err);
	good = w && uvh5_encode_rows(w, 0, 7, vis, fl, ns, &x, &st, err) == 0 && x.direct &&
	    uvh5_write_encoded(w, &x, &st, err) == 0;
	for (int64_t r = 7; good && r < h.Nblts; r += 4) {
		int64_t nr = h.Nblts - r < 4 ? h.Nblts - r : 4;

		good = uvh5_encode_rows(w, r, nr, vis + r * per, fl + r * per, ns + r * per, &x,
		    &st, err) == 0 && !x.direct && uvh5_write_encoded(w, &x, &st, err) == 0;
	}
	ok(good && uvh5_writer_commit(w, &st, err) == 0 &&
	    read_same(c, h.Nblts, per, vis, fl, ns) == 0,
	    "rows that are not whole chunks go through uvh5_write_rows");
	w = uvh5_create(c, &h, 7, &st, err);
	ok(w && uvh5_encode_rows(w, 28, 3, vis, fl, ns, &x, &st, err) < 0 && st == EX_SOFTWARE,
	    "rows past Nblts refused (70)");
	ok(w && uvh5_encode_rows(w, 7, 7, vis, fl, ns, &x, &st, err) == 0 &&
	    uvh5_write_encoded(w, &x, &st, err) < 0 && st == EX_SOFTWARE,
	    "a chunk out of order refused (70)");
	uvh5_writer_abort(w);
	uvh5_encoded_free(&x);
	uvh5_header_free(&h);
	free(vis);
	free(fl);
	free(ns);
}

/* One chunk of 30 rows x 1024 samples (120 KiB of nsamples). */
static void test_probes(void)
{
	struct uvh5_header h;
	struct uvh5_encoded e = { 0 };
	char p[256], err[UVH5_ERRLEN];
	size_t per, n;
	float complex *vis;
	uint8_t *fl;
	float *ns;
	uvh5_writer *w;
	unsigned mask[2] = { 9, 9 };
	hsize_t size[2] = { 0, 0 };
	int st = 0;

	ok(header(&h, 3, 512) == 0, "a header of 1024 samples a row");
	per = (size_t)h.Nfreqs * (size_t)h.Npols;
	n = (size_t)h.Nblts * per;
	vis = calloc(n, sizeof *vis);
	fl = calloc(n, 1);
	ns = malloc(n * sizeof *ns);
	for (int pass = 0; pass < 2; pass++) {
		/* noise; on the second pass the last 36 KiB zeros */
		for (size_t i = 0; i < n; i++)
			ns[i] = pass && i >= n - 9 * 1024 ? 0 : (float)rnd() / 4e9f;
		snprintf(p, sizeof p, "%s/probe%d.uvh5", tmpdir, pass);
		w = uvh5_create(p, &h, 30, &st, err);
		if (w && uvh5_encode_rows(w, 0, 30, vis, fl, ns, &e, &st, err) == 0 && e.direct &&
		    uvh5_write_encoded(w, &e, &st, err) == 0 && uvh5_writer_commit(w, &st, err) == 0)
			chunk_info(p, "/Data/nsamples", 0, &mask[pass], &size[pass]);
		else if (w)
			uvh5_writer_abort(w);
		ok(read_same(p, h.Nblts, per, vis, fl, ns) == 0, pass ?
		    "noise ending in zeros: values read back" : "noise: values read back");
	}
	ok(mask[0] == 1 && size[0] == n * sizeof(float), "noise: stored as is");
	ok(mask[1] == 0 && size[1] < n * sizeof(float), "noise ending in zeros: compressed");
	uvh5_encoded_free(&e);
	uvh5_header_free(&h);
	free(vis);
	free(fl);
	free(ns);
}

/*
 * uvh5_copy_encoded: the pool both uvm-calapply and uvm-flag write with.
 * A 60-row file of 10 samples a row copied to chunks of 7 rows (8 whole
 * blocks and one of 4) on 1 and 3 workers: each block handed to the
 * block function once, with its rows and a worker index in range; what
 * the function changed in place is what is stored; flags it returns from
 * its own array replace the file's (read without them); no function is a
 * plain copy. An encoding that fails on a worker (the function returns no
 * flags) and a read that fails (a corrupt LZF chunk of the source) stop
 * the pool: -1 with the failure's status and message, no block handed
 * out after it (one worker).
 */
#define CBLK 9
#define CROWS 7

struct copy {
	int seen[CBLK];               /* blocks handed to the function */
	int nth, bad;                 /* worker index or rows not as they should be */
	int fail_at;                  /* block whose flags are NULL; -1 none */
	const uint8_t *own;           /* flags to return instead, Nblts x 10 */
};

/* The block function under test: vis x -2, ns / 4, flags of odd rows
 * inverted (or the rows of c->own); every value exact in float. */
static const uint8_t *change(void *ctx, int worker, int64_t r0, int64_t nr,
    float complex *vis, uint8_t *flags, float *ns)
{
	struct copy *c = ctx;
	int64_t k = r0 / CROWS;

	c->bad |= worker < 0 || worker >= c->nth || r0 % CROWS || k >= CBLK ||
	    nr != (k == CBLK - 1 ? 60 - r0 : CROWS);
	if (k >= 0 && k < CBLK)
		c->seen[k]++;
	for (int64_t i = 0; i < nr * 10; i++) {
		vis[i] *= -2;
		ns[i] /= 4;
		if (flags && (r0 + i / 10) % 2)
			flags[i] = !flags[i];
	}
	if (k == c->fail_at)
		return NULL;
	return c->own ? c->own + r0 * 10 : flags;
}

/* Copy src to dst with nth workers (fn change with c, or none); the
 * copy's return value, dst committed when 0 and removed otherwise. */
static int copy_to(const char *src, const char *dst, const struct uvh5_header *h, int nth,
    int read_flags, struct copy *c, int *st, char *err)
{
	uvh5_file *f = uvh5_open(src, st, err);
	uvh5_writer *w = f ? uvh5_create(dst, h, CROWS, st, err) : NULL;
	int rc = -2;

	if (c) {
		memset(c->seen, 0, sizeof c->seen);
		c->nth = uvh5_stream_threads(nth);
		c->bad = 0;
	}
	if (w) {
		rc = uvh5_copy_encoded(f, w, nth, read_flags, c ? change : NULL, c, st, err);
		if (rc == 0 && uvh5_writer_commit(w, st, err) < 0)
			rc = -2;
		else if (rc < 0)
			uvh5_writer_abort(w);
	}
	if (f)
		uvh5_close(f);
	return rc;
}

static int each_once(const struct copy *c, int n)
{
	int ok1 = !c->bad;

	for (int k = 0; k < CBLK; k++)
		ok1 &= c->seen[k] == (k < n);
	return ok1;
}

/* Overwrite the stored chunk of /Data/name holding row0 in path with
 * bytes LZF cannot decode; 0 or -1. */
static int corrupt_chunk(const char *path, const char *name, int64_t row0)
{
	hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = -1;
	hsize_t off[3] = { (hsize_t)row0, 0, 0 }, size = 0;
	haddr_t addr = 0;
	unsigned mask = 1;
	int rc = -1;

	if (fid >= 0 && (d = H5Dopen2(fid, name, H5P_DEFAULT)) >= 0 &&
	    H5Dget_chunk_info_by_coord(d, off, &mask, &addr, &size) >= 0 && mask == 0 && size)
		rc = 0;
	if (d >= 0)
		H5Dclose(d);
	if (fid >= 0)
		H5Fclose(fid);
	if (rc == 0) {
		unsigned char junk[64];
		FILE *fp = fopen(path, "r+b");

		memset(junk, 0xff, sizeof junk);
		rc = fp && fseek(fp, (long)addr, SEEK_SET) == 0 &&
		    fwrite(junk, 1, size < sizeof junk ? size : sizeof junk, fp) > 0 ? 0 : -1;
		if (fp && fclose(fp) != 0)
			rc = -1;
	}
	return rc;
}

/* Whether reading rows [r0, r0+nr) of path with flags fails with status
 * st and message err. */
static int read_error(const char *path, int64_t r0, int64_t nr, int st, const char *err)
{
	float complex v[7 * 10];
	uint8_t f[7 * 10];
	float s[7 * 10];
	char e[UVH5_ERRLEN] = "";
	int st2 = 0, rc = 0;
	uvh5_file *u = uvh5_open(path, &st2, e);

	if (u && nr <= 7 && uvh5_read_rows(u, r0, nr, v, f, s, &st2, e) < 0)
		rc = st2 == st && strcmp(e, err) == 0;
	if (u)
		uvh5_close(u);
	return rc;
}

static void test_copy(void)
{
	enum { N = 60 * 10 };           /* the file's samples */
	static float complex vis[N], vx[N];
	static uint8_t fl[N], fx[N], own[N];
	static float ns[N], nx[N];
	struct uvh5_header h;
	struct copy c = { .fail_at = -1 };
	char src[256], dst[256], dst3[256], err[UVH5_ERRLEN], cmd[600];
	size_t per = 10, n = N;
	uvh5_writer *w;
	int st = 0;

	ok(header(&h, 6, 5) == 0 && h.Nblts * h.Nfreqs * h.Npols == N, "a 60-row header");
	for (size_t i = 0; i < n; i++) {
		vis[i] = CMPLXF((float)(rnd() % 1000) / 8, -(float)(rnd() % 1000) / 8);
		fl[i] = i / 7 % 5 == 0;       /* compressible: LZF chunks */
		ns[i] = (float)(rnd() % 64);
		own[i] = (uint8_t)(rnd() % 2);
		vx[i] = vis[i] * -2;
		nx[i] = ns[i] / 4;
		fx[i] = i / per % 2 ? !fl[i] : fl[i];
	}
	snprintf(src, sizeof src, "%s/src.uvh5", tmpdir);
	snprintf(dst, sizeof dst, "%s/copy.uvh5", tmpdir);
	snprintf(dst3, sizeof dst3, "%s/copy3.uvh5", tmpdir);
	w = uvh5_create(src, &h, 10, &st, err);
	ok(w && uvh5_write_rows(w, 0, h.Nblts, vis, fl, ns, &st, err) == 0 &&
	    uvh5_writer_commit(w, &st, err) == 0, "the source written, chunks of 10 rows");

	ok(copy_to(src, dst, &h, 1, 1, &c, &st, err) == 0 && each_once(&c, CBLK) &&
	    read_same(dst, h.Nblts, per, vx, fx, nx) == 0,
	    "1 worker: 9 blocks changed once each, stored as changed");
	ok(copy_to(src, dst3, &h, 3, 1, &c, &st, err) == 0 && each_once(&c, CBLK) &&
	    read_same(dst3, h.Nblts, per, vx, fx, nx) == 0, "3 workers: the same");
	snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", dst, dst3);
	ok(system(cmd) == 0, "the same bytes on 1 and 3 workers");
	c.own = own;
	ok(copy_to(src, dst, &h, 2, 0, &c, &st, err) == 0 && each_once(&c, CBLK) &&
	    read_same(dst, h.Nblts, per, vx, own, nx) == 0,
	    "flags read from none, returned from the caller's array");
	c.own = NULL;
	ok(copy_to(src, dst, &h, 3, 1, NULL, &st, err) == 0 &&
	    read_same(dst, h.Nblts, per, vis, fl, ns) == 0, "no block function: a copy");

	c.fail_at = 3;
	st = 0;
	ok(copy_to(src, dst, &h, 1, 1, &c, &st, err) == -1 && st == EX_SOFTWARE &&
	    strstr(err, "bad rows 21+7") && each_once(&c, 4),
	    "an encoding failing on the worker: 70 naming its rows, no block after it");
	st = 0;
	ok(copy_to(src, dst3, &h, 3, 1, &c, &st, err) == -1 && st == EX_SOFTWARE &&
	    strstr(err, "bad rows 21+7") && !c.bad && c.seen[3] == 1, "and on 3 workers");
	c.fail_at = -1;

	ok(corrupt_chunk(src, "/Data/flags", 40) == 0, "the source's flags at row 40 corrupted");
	st = 0;
	/* block 5 (rows 35-41) is read into block 1's slot, once that is
	 * written: 0 and 1 done, whatever the worker has reached since */
	ok(copy_to(src, dst, &h, 1, 1, &c, &st, err) == -1 && !c.bad && c.seen[0] == 1 &&
	    c.seen[1] == 1 && !c.seen[5] && !c.seen[6] && !c.seen[7] && !c.seen[8],
	    "a read failing at row 40: no block from it on");
	ok(read_error(src, 35, 7, st, err), "and the read's own status and message");
	printf("# status %d: %s\n", st, err);
	uvh5_header_free(&h);
}

int main(void)
{
	char cmd[300];

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_small();
	test_probes();
	test_copy();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", tmpdir);
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
