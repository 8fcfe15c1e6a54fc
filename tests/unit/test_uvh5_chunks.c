/*
 * test_uvh5_chunks.c: the UVH5 reader on the DSA-110 correlator's own
 * chunking, against h5py.
 *
 * The correlator's writer creates /Data empty with an unlimited row axis
 * and h5py's automatic chunks, which split frequency and polarization
 * (visdata (128, 1, 12, 1) for 48 channels), and grows the datasets one
 * integration at a time. tests/dsa110_file.py --writer-chunks writes such
 * a file; h5py then scatters random flags and nsamples over it (in place,
 * so the chunking stays) and dumps all three datasets as raw little-endian
 * arrays: the known answer. Our reader must return exactly those bytes
 * whatever the block size (whole integrations, blocks straddling chunk
 * rows, the whole file), on its own chunk path and on libhdf5's, and
 * through uvh5_open_data as through uvh5_open.
 *
 * The LZF decoder (ours, for speed) must agree with liblzf's on blocks
 * liblzf compressed: random bytes, runs, repeated floats, short periods;
 * and refuse truncated blocks, references before the start and outputs
 * that do not fit.
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "uvh5/uvh5_priv.h"
#if defined(__has_include) && !__has_include(<lzf.h>)
#include <liblzf/lzf.h>
#else
#include <lzf.h>
#endif

#include "tap.h"

static char tmpdir[] = "/tmp/test_uvh5_chunks.XXXXXX";

/* The h5py side: perturb flags and nsamples in place, dump the datasets. */
static const char *H5PY_DUMP =
    "import sys, h5py, numpy as np\n"
    "p, out = sys.argv[1], sys.argv[2]\n"
    "rng = np.random.default_rng(7)\n"
    "with h5py.File(p, 'r+') as f:\n"
    "    d = f['Data']\n"
    "    s = d['flags'].shape\n"
    "    d['flags'][...] = rng.random(s) < 0.3\n"
    "    d['nsamples'][...] = rng.integers(0, 97, s).astype(np.float32) / 8\n"
    "with h5py.File(p, 'r') as f:\n"
    "    d = f['Data']\n"
    "    d['visdata'][()].astype('<c8').tofile(out + '.vis')\n"
    "    d['flags'][()].astype('u1').tofile(out + '.flg')\n"
    "    d['nsamples'][()].astype('<f4').tofile(out + '.ns')\n"
    "    print(*d['visdata'].chunks, *d['flags'].chunks, *d['nsamples'].chunks)\n";

static void *slurp(const char *path, size_t want)
{
	FILE *fp = fopen(path, "rb");
	void *b = malloc(want + 1);
	size_t got = 0;

	if (fp && b) {
		got = fread(b, 1, want + 1, fp);
		if (got != want) {
			free(b);
			b = NULL;
		}
	}
	if (fp)
		fclose(fp);
	return b;
}

/* Read f in blocks of blk rows and compare with the reference arrays. */
static int same(uvh5_file *f, int64_t nblts, size_t per, int64_t blk, const float complex *rv,
    const uint8_t *rf, const float *rn)
{
	float complex *v = malloc((size_t)blk * per * sizeof *v);
	uint8_t *fl = malloc((size_t)blk * per);
	float *ns = malloc((size_t)blk * per * sizeof *ns);
	char err[UVH5_ERRLEN];
	int st, good = v && fl && ns;

	for (int64_t r0 = 0; good && r0 < nblts; r0 += blk) {
		int64_t nr = nblts - r0 < blk ? nblts - r0 : blk;
		size_t o = (size_t)r0 * per, n = (size_t)nr * per;

		memset(v, 0xa5, n * sizeof *v);
		memset(fl, 0xa5, n);
		memset(ns, 0xa5, n * sizeof *ns);
		good = uvh5_read_rows(f, r0, nr, v, fl, ns, &st, err) == 0 &&
		    !memcmp(v, rv + o, n * sizeof *v) && !memcmp(fl, rf + o, n) &&
		    !memcmp(ns, rn + o, n * sizeof *ns);
		if (!good)
			printf("# block %lld+%lld differs: %s\n", (long long)r0, (long long)nr, err);
	}
	free(v);
	free(fl);
	free(ns);
	return good;
}

/* Fill b with pattern kind k (deterministic). */
static void pattern(unsigned char *b, size_t n, int k)
{
	uint64_t x = 88172645463325252ull + (uint64_t)k;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		switch (k) {
		case 0: b[i] = (unsigned char)x; break;                  /* noise */
		case 1: b[i] = 0; break;                                  /* flags */
		case 2: b[i] = "\x00\x00\x80\x3f"[i % 4]; break;         /* 1.0f */
		case 3: b[i] = (unsigned char)(i % 3 + (i / 4096) % 2); break; /* period 3 */
		default: b[i] = (x % 7 == 0) ? (unsigned char)x : 0; break;   /* sparse */
		}
	}
}

static void test_lzf(void)
{
	size_t n = 200000, cap = n + n / 16 + 64, m;
	unsigned char *a = malloc(n), *z = malloc(cap), *o1 = malloc(n), *o2 = malloc(n);
	int good = a && z && o1 && o2;

	for (int k = 0; good && k < 5; k++) {
		char name[96];

		pattern(a, n, k);
		m = lzf_compress(a, (unsigned)n, z, (unsigned)cap);
		snprintf(name, sizeof name, "lzf pattern %d: our decoder gives liblzf's bytes", k);
		ok(m > 0 && lzf_decompress(z, (unsigned)m, o1, (unsigned)n) == n &&
		    uvh5_lzf_decode(z, m, o2, n) == 0 && !memcmp(o1, a, n) && !memcmp(o2, a, n), name);
		if (k == 2) {
			ok(uvh5_lzf_decode(z, m, o2, n - 1) < 0, "lzf: an output that does not fit");
			ok(uvh5_lzf_decode(z, m - 1, o2, n) < 0, "lzf: a truncated block");
		}
	}
	/* a reference to 2 bytes before the start, and one with no offset byte */
	ok(uvh5_lzf_decode("\x20\x01", 2, o2, 16) < 0, "lzf: a reference before the start");
	ok(uvh5_lzf_decode("\x00\x41\x20", 3, o2, 16) < 0, "lzf: a reference cut short");
	ok(uvh5_lzf_decode("\x00\x41\x40\x00", 4, o2, 5) == 0 && !memcmp(o2, "AAAAA", 5),
	    "lzf: a run of one byte repeated");
	free(a);
	free(z);
	free(o1);
	free(o2);
}

int main(void)
{
	const char *root = getenv("UVM_ROOT");
	char path[256], ref[256], cmd[1024], chunks[128] = "", err[UVH5_ERRLEN], name[128];
	struct uvh5_header e;
	float complex *rv = NULL;
	uint8_t *rf = NULL;
	float *rn = NULL;
	uvh5_file *f;
	FILE *pp;
	int st = 0;

	if (!root || !*root)
		root = ".";
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_lzf();
	snprintf(path, sizeof path, "%s/w.hdf5", tmpdir);
	snprintf(ref, sizeof ref, "%s/ref", tmpdir);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/dsa110_file.py' --writer-chunks "
	    "--nants 24 --ntimes 3 --nchan 48 '%s'", root, path);
	ok(system(cmd) == 0, "dsa110_file.py --writer-chunks writes a file");
	snprintf(cmd, sizeof cmd, "%s/dump.py", tmpdir);
	pp = fopen(cmd, "w");
	ok(pp && fputs(H5PY_DUMP, pp) >= 0 && fclose(pp) == 0, "h5py script written");
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/dump.py' '%s' '%s'", tmpdir, path, ref);
	pp = popen(cmd, "r");
	if (pp) {
		if (!fgets(chunks, sizeof chunks, pp))
			chunks[0] = 0;
		ok(pclose(pp) == 0, "h5py reads the file");
	} else {
		ok(0, "h5py reads the file");
	}
	/* The writer's automatic chunks for (0, 1, 48, 2): the test is about
	 * them, so it fails if they ever stop splitting the band. */
	ok(!strcmp(chunks, "128 1 12 1 256 1 24 1 256 1 12 1\n"),
	    "h5py's automatic chunks, as the correlator writes them");
	printf("# chunks (visdata, flags, nsamples): %s", chunks);

	f = uvh5_open(path, &st, err);
	ok(f != NULL, "uvh5_open reads the writer-chunked file");
	if (!f) {
		printf("# %s\n", err);
		goto out;
	}
	{
		const struct uvh5_header *h = uvh5_header(f);
		int64_t nblts = h->Nblts, nbls = h->Nbls, blks[] = { nbls, 97, 128, 1, nblts };
		size_t per = (size_t)(h->Nfreqs * h->Npols), n = (size_t)nblts * per;

		ok(nblts == 900 && nbls == 300 && per == 96, "shape: 300 baselines x 3, 48 x 2");
		snprintf(cmd, sizeof cmd, "%s.vis", ref);
		rv = slurp(cmd, n * sizeof *rv);
		snprintf(cmd, sizeof cmd, "%s.flg", ref);
		rf = slurp(cmd, n);
		snprintf(cmd, sizeof cmd, "%s.ns", ref);
		rn = slurp(cmd, n * sizeof *rn);
		ok(rv && rf && rn, "h5py's arrays have the expected sizes");
		if (!rv || !rf || !rn)
			goto out_f;
		for (size_t k = 0; k < sizeof blks / sizeof *blks; k++) {
			snprintf(name, sizeof name, "blocks of %lld rows: the values h5py reads",
			    (long long)blks[k]);
			ok(same(f, nblts, per, blks[k], rv, rf, rn), name);
		}
		uvh5_set_direct(f, 0);
		ok(same(f, nblts, per, 97, rv, rf, rn), "libhdf5's chunk path: the same values");
		memset(&e, 0, sizeof e);
		e.Nblts = nblts;
		e.Nfreqs = h->Nfreqs;
		e.Npols = h->Npols;
		uvh5_close(f);
		f = uvh5_open_data(path, &e, &st, err);
		ok(f && same(f, nblts, per, 250, rv, rf, rn), "uvh5_open_data: the same values");
		uvh5_close(f);
		e.Nfreqs = 47;
		st = 0;
		f = uvh5_open_data(path, &e, &st, err);
		ok(!f && st == EX_DATAERR && strstr(err, "shape does not match"),
		    "uvh5_open_data refuses a shape other than expected, 65");
		printf("# %s\n", err);
	}
out_f:
	uvh5_close(f);
out:
	free(rv);
	free(rf);
	free(rn);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", tmpdir);
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
