/*
 * test_uvh5.c: unit tests of the UVH5 library (src/lib/uvh5*.c).
 *
 * Round trip: a synthetic header and random data written with several
 * chunks (the last one partial) in row blocks that do not align with the
 * chunks, read back in other block sizes, must give the same bits.
 * The LZF filter must compress and decompress. Every real sample file
 * (the corpus in $UVM_SAMPLES, default ../shared/data/uvh5) must read the
 * same block by block as in one piece. Missing, non-HDF5, truncated and
 * corrupted inputs must give the documented statuses without crashing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "uvh5/uvh5.h"

#include "tap.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* A random float bit pattern that is not a NaN (NaN payloads need not
 * survive conversion) - everything else, infinities and denormals
 * included, must come back bit for bit. */
static float rnd_float(void)
{
	for (;;) {
		uint32_t u = rnd();
		float f;

		memcpy(&f, &u, sizeof f);
		if (!isnan(f))
			return f;
	}
}

static char tmpdir[] = "/tmp/test_uvh5.XXXXXX";

/* A small synthetic header: 5 antennas, 15 baselines (autos included),
 * 7 times, 6 channels, 2 pols, 2 phase centres, 2 keywords. */
static int make_header(struct uvh5_header *h)
{
	int64_t a, b, t, k, bl;

	memset(h, 0, sizeof *h);
	h->Nants_telescope = 5;
	h->Nants_data = 5;
	h->Nbls = 15;
	h->Ntimes = 7;
	h->Nblts = h->Nbls * h->Ntimes;
	h->Nfreqs = 6;
	h->Npols = 2;
	h->Nspws = 1;
	h->Nphase = 2;
	if (uvh5_header_alloc(h) < 0)
		return -1;
	snprintf(h->telescope_name, sizeof h->telescope_name, "OVRO_DSA");
	snprintf(h->instrument, sizeof h->instrument, "DSA");
	snprintf(h->x_orientation, sizeof h->x_orientation, "east");
	h->latitude = 37.2339;
	h->longitude = -118.2825;
	h->altitude = 1222.0;
	for (a = 0; a < 5; a++) {
		h->antenna_numbers[a] = a + 1;
		snprintf(h->antenna_names[a], sizeof h->antenna_names[a], "pad%lld", (long long)(a + 1));
		for (k = 0; k < 3; k++)
			h->antenna_positions[a * 3 + k] = a * 10.0 + k + 0.125;
		h->antenna_diameters[a] = 4.65;
	}
	for (t = 0; t < h->Ntimes; t++)
		for (a = 0, bl = 0; a < 5; a++)
			for (b = a; b < 5; b++, bl++) {
				int64_t i = t * h->Nbls + bl;

				h->ant_1_array[i] = a + 1;
				h->ant_2_array[i] = b + 1;
				for (k = 0; k < 3; k++)
					h->uvw_array[i * 3 + k] = (b - a) * 10.0 + k * 0.1 + t * 1e-3;
				h->time_array[i] = 2460000.5 + t * 10.0 / 86400;
				h->lst_array[i] = 1.0 + t * 1e-4;
				h->integration_time[i] = 10.0;
				h->phase_center_id_array[i] = t < 3 ? 0 : 1;
			}
	for (k = 0; k < h->Nfreqs; k++) {
		h->freq_array[k] = 1.4e9 + k * 244140.625;
		h->channel_width[k] = 244140.625;
		h->flex_spw_id_array[k] = 0;
	}
	h->spw_array[0] = 0;
	h->polarization_array[0] = -5;
	h->polarization_array[1] = -6;
	free(h->history);
	h->history = strdup("written by test_uvh5\nsecond line");
	h->phase_centers[0].id = 0;
	snprintf(h->phase_centers[0].name, sizeof h->phase_centers[0].name, "drift");
	snprintf(h->phase_centers[0].type, sizeof h->phase_centers[0].type, "unprojected");
	snprintf(h->phase_centers[0].frame, sizeof h->phase_centers[0].frame, "altaz");
	h->phase_centers[0].lat = 1.5707963267948966;
	h->phase_centers[1].id = 1;
	snprintf(h->phase_centers[1].name, sizeof h->phase_centers[1].name, "3C286");
	snprintf(h->phase_centers[1].type, sizeof h->phase_centers[1].type, "sidereal");
	snprintf(h->phase_centers[1].frame, sizeof h->phase_centers[1].frame, "icrs");
	h->phase_centers[1].lon = 3.5392577;
	h->phase_centers[1].lat = 0.53248;
	h->phase_centers[1].epoch = 2000.0;
	if (uvh5_header_set_keyword(h, "group", "2025-10-24T12:00:03") < 0 ||
	    uvh5_header_set_keyword(h, "subband", "7") < 0 ||
	    uvh5_header_set_keyword(h, "subband", "3") < 0)
		return -1;
	return 0;
}

#define SAME_ARR(field, n) (((a->field) == NULL && (b->field) == NULL) || \
	((a->field) && (b->field) && memcmp(a->field, b->field, (size_t)(n) * sizeof *(a->field)) == 0))

/* Everything the writer writes must come back equal. */
static int same_header(const struct uvh5_header *a, const struct uvh5_header *b)
{
	int i;

	if (a->Nblts != b->Nblts || a->Nbls != b->Nbls || a->Ntimes != b->Ntimes ||
	    a->Nfreqs != b->Nfreqs || a->Npols != b->Npols || a->Nspws != b->Nspws ||
	    a->Nants_data != b->Nants_data || a->Nants_telescope != b->Nants_telescope ||
	    a->Nphase != b->Nphase || a->flex_spw != b->flex_spw)
		return 0;
	if (strcmp(a->telescope_name, b->telescope_name) || strcmp(a->instrument, b->instrument) ||
	    strcmp(a->x_orientation, b->x_orientation) || strcmp(a->history, b->history))
		return 0;
	if (memcmp(&a->latitude, &b->latitude, 8) || memcmp(&a->longitude, &b->longitude, 8) ||
	    memcmp(&a->altitude, &b->altitude, 8))
		return 0;
	if (!SAME_ARR(antenna_numbers, a->Nants_telescope) ||
	    !SAME_ARR(antenna_names, a->Nants_telescope) ||
	    !SAME_ARR(antenna_positions, a->Nants_telescope * 3) ||
	    !SAME_ARR(antenna_diameters, a->Nants_telescope) ||
	    !SAME_ARR(ant_1_array, a->Nblts) || !SAME_ARR(ant_2_array, a->Nblts) ||
	    !SAME_ARR(uvw_array, a->Nblts * 3) || !SAME_ARR(time_array, a->Nblts) ||
	    !SAME_ARR(lst_array, a->Nblts) || !SAME_ARR(integration_time, a->Nblts) ||
	    !SAME_ARR(phase_center_id_array, a->Nblts) ||
	    !SAME_ARR(freq_array, a->Nfreqs) || !SAME_ARR(channel_width, a->Nfreqs) ||
	    !SAME_ARR(flex_spw_id_array, a->Nfreqs) || !SAME_ARR(spw_array, a->Nspws) ||
	    !SAME_ARR(polarization_array, a->Npols))
		return 0;
	if (a->n_phase_centers != b->n_phase_centers || a->n_keywords != b->n_keywords)
		return 0;
	for (i = 0; i < a->n_phase_centers; i++) {
		const struct uvh5_phase_center *p = &a->phase_centers[i], *q = &b->phase_centers[i];
		if (p->id != q->id || strcmp(p->name, q->name) || strcmp(p->type, q->type) ||
		    strcmp(p->frame, q->frame) || p->lon != q->lon || p->lat != q->lat ||
		    p->epoch != q->epoch)
			return 0;
	}
	for (i = 0; i < a->n_keywords; i++)
		if (!uvh5_header_keyword(b, a->keywords[i].name) ||
		    strcmp(uvh5_header_keyword(b, a->keywords[i].name), a->keywords[i].value))
			return 0;
	return 1;
}

static int count_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp."))
			n++;
	closedir(d);
	return n;
}

/* Whole file into memory (test helper); NULL on failure. */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (b = malloc((size_t)len + 1)) != NULL && fread(b, 1, (size_t)len, f) == (size_t)len) {
		*n = (size_t)len;
	} else {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

static void test_round_trip(void)
{
	struct uvh5_header h, c;
	char path[256], err[UVH5_ERRLEN];
	int64_t n, row, blk, k;
	float complex *vis, *vis2;
	uint8_t *fl, *fl2;
	float *ns, *ns2;
	uvh5_writer *w;
	uvh5_file *f;
	int st = 0, good = 1;

	ok(make_header(&h) == 0, "build a synthetic header");
	ok(uvh5_header_copy(&c, &h) == 0 && same_header(&h, &c) &&
	    c.history != h.history && c.phase_centers != h.phase_centers, "header deep copy");
	uvh5_header_free(&c);
	ok(uvh5_header_keyword(&h, "subband") && strcmp(uvh5_header_keyword(&h, "subband"), "3") == 0 &&
	    h.n_keywords == 2, "keyword set replaces");
	n = h.Nblts * h.Nfreqs * h.Npols;
	vis = malloc(n * sizeof *vis);
	vis2 = malloc(n * sizeof *vis2);
	fl = malloc(n);
	fl2 = malloc(n);
	ns = malloc(n * sizeof *ns);
	ns2 = malloc(n * sizeof *ns2);
	for (k = 0; k < n; k++) {
		vis[k] = CMPLXF(rnd_float(), rnd_float());
		fl[k] = rnd() % 5 == 0;
		ns[k] = k % 3 ? 1.0f : rnd_float();
	}
	snprintf(path, sizeof path, "%s/rt.uvh5", tmpdir);
	/* chunks of 10 rows (last partial: 105 = 10*10 + 5), written 15 at a time. */
	w = uvh5_create(path, &h, 10, &st, err);
	ok(w != NULL, "create writer");
	if (!w) {
		printf("# %s\n", err);
		goto out;
	}
	ok(count_temps(tmpdir) == 1 && access(path, F_OK) != 0, "writes to a temporary");
	for (row = 0; row < h.Nblts; row += blk) {
		blk = h.Nblts - row < 15 ? h.Nblts - row : 15;
		k = row * h.Nfreqs * h.Npols;
		if (uvh5_write_rows(w, row, blk, vis + k, fl + k, ns + k, &st, err) < 0) {
			printf("# %s\n", err);
			good = 0;
			break;
		}
	}
	ok(good, "write rows in blocks of 15");
	ok(uvh5_writer_commit(w, &st, err) == 0, "commit");
	ok(access(path, F_OK) == 0 && count_temps(tmpdir) == 0, "committed under the final name");

	f = uvh5_open(path, &st, err);
	ok(f != NULL, "reopen written file");
	if (!f) {
		printf("# %s\n", err);
		goto out;
	}
	ok(same_header(&h, uvh5_header(f)), "header round trip");
	ok(strcmp(uvh5_header(f)->version, "1.2") == 0 && uvh5_header(f)->data_ndim == 3 &&
	    uvh5_header(f)->vistype == UVH5_CF32, "written as UVH5 1.2, 3-D, complex64");
	memset(vis2, 0xa5, n * sizeof *vis2);
	memset(fl2, 0xa5, n);
	memset(ns2, 0xa5, n * sizeof *ns2);
	good = 1;
	for (row = 0; row < h.Nblts; row += blk) {
		blk = h.Nblts - row < 13 ? h.Nblts - row : 13;
		k = row * h.Nfreqs * h.Npols;
		if (uvh5_read_rows(f, row, blk, vis2 + k, fl2 + k, ns2 + k, &st, err) < 0) {
			printf("# %s\n", err);
			good = 0;
			break;
		}
	}
	ok(good && memcmp(vis, vis2, n * sizeof *vis) == 0, "visdata bit for bit");
	ok(good && memcmp(fl, fl2, n) == 0, "flags bit for bit");
	ok(good && memcmp(ns, ns2, n * sizeof *ns) == 0, "nsamples bit for bit");
	ok(uvh5_read_rows(f, 100, 6, vis2, NULL, NULL, &st, err) < 0 && st == EX_SOFTWARE,
	    "reading past Nblts is refused");
	uvh5_close(f);

	/* LZF: the flags and nsamples datasets carry filter 32000 and all-zero
	 * flags compress far below their raw size. */
	{
		hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
		hid_t d = H5Dopen2(fid, "/Data/flags", H5P_DEFAULT);
		hid_t p = H5Dget_create_plist(d);
		unsigned flags, cd[4];
		size_t ncd = 4;
		char name[16];
		int has = H5Pget_filter_by_id2(p, 32000, &flags, &ncd, cd, sizeof name, name, NULL) >= 0;

		ok(has && ncd == 3 && cd[2] == 10 * 6 * 2, "flags use the lzf filter, cd[2] = chunk bytes");
		H5Pclose(p);
		H5Dclose(d);
		H5Fclose(fid);
	}
	memset(fl, 0, n);
	for (k = 0; k < n; k++)
		ns[k] = 1.0f;
	snprintf(path, sizeof path, "%s/lzf.uvh5", tmpdir);
	w = uvh5_create(path, &h, 0, &st, err);
	good = w && uvh5_write_rows(w, 0, h.Nblts, vis, fl, ns, &st, err) == 0 &&
	    uvh5_writer_commit(w, &st, err) == 0;
	ok(good, "write with default chunking (Nbls rows)");
	if (good) {
		hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
		hid_t d = H5Dopen2(fid, "/Data/nsamples", H5P_DEFAULT);
		hsize_t sz = H5Dget_storage_size(d);

		ok(sz > 0 && sz < (hsize_t)n * 4 / 10, "lzf compresses uniform nsamples");
		H5Dclose(d);
		H5Fclose(fid);
		f = uvh5_open(path, &st, err);
		ok(f && uvh5_read_rows(f, 0, h.Nblts, vis2, fl2, ns2, &st, err) == 0 &&
		    memcmp(fl, fl2, n) == 0 && memcmp(ns, ns2, n * 4) == 0 &&
		    memcmp(vis, vis2, n * sizeof *vis) == 0, "lzf round trip");
		uvh5_close(f);
	}

	/* Same input, same bytes: no time stamps, deterministic LZF. */
	{
		char p2[256];
		char *a, *b;
		size_t na, nb;

		snprintf(p2, sizeof p2, "%s/lzf2.uvh5", tmpdir);
		w = uvh5_create(p2, &h, 0, &st, err);
		good = w && uvh5_write_rows(w, 0, h.Nblts, vis, fl, ns, &st, err) == 0 &&
		    uvh5_writer_commit(w, &st, err) == 0;
		a = slurp(path, &na);
		b = slurp(p2, &nb);
		ok(good && a && b && na == nb && memcmp(a, b, na) == 0,
		    "writing twice gives identical files");
		free(a);
		free(b);
	}

	/* Writer failures: incomplete data and an impossible directory. */
	snprintf(path, sizeof path, "%s/short.uvh5", tmpdir);
	w = uvh5_create(path, &h, 0, &st, err);
	ok(w && uvh5_write_rows(w, 0, 15, vis, fl, ns, &st, err) == 0 &&
	    uvh5_write_rows(w, 30, 15, vis, fl, ns, &st, err) < 0 && st == EX_SOFTWARE,
	    "out-of-order rows refused");
	ok(w && uvh5_writer_commit(w, &st, err) < 0 && st == EX_SOFTWARE &&
	    access(path, F_OK) != 0 && count_temps(tmpdir) == 0,
	    "commit of an incomplete file fails and leaves nothing");
	snprintf(path, sizeof path, "%s/no/such/dir/x.uvh5", tmpdir);
	w = uvh5_create(path, &h, 0, &st, err);
	ok(w == NULL && st == EX_CANTCREAT, "create in a missing directory: EX_CANTCREAT");
	snprintf(path, sizeof path, "%s/aborted.uvh5", tmpdir);
	w = uvh5_create(path, &h, 0, &st, err);
	uvh5_writer_abort(w);
	ok(w && access(path, F_OK) != 0 && count_temps(tmpdir) == 0, "abort leaves nothing");
out:
	free(vis);
	free(vis2);
	free(fl);
	free(fl2);
	free(ns);
	free(ns2);
	uvh5_header_free(&h);
}

/*
 * Reader variants the corpus lacks, made by editing a written file with
 * libhdf5: a JSON-string phase_center_catalog (2021-22 pyuvdata), a
 * variable-length string, an int16 big-endian count, a null-dataspace
 * optional dataset, a scalar channel_width, and plain-integer flags.
 */
static void test_variants(void)
{
	struct uvh5_header h;
	char path[256], err[UVH5_ERRLEN];
	int64_t n, k;
	float complex *vis;
	uint8_t *fl, *fl2;
	float *ns;
	uvh5_writer *w;
	uvh5_file *f;
	int st = 0, good;
	hid_t fid, g, d, sp, t;
	const char *js = "{\"cat_id\": 1, \"cat_type\": \"sidereal\", \"cat_lon\": 3.5, "
	    "\"cat_lat\": -0.25, \"cat_frame\": \"fk5\", \"cat_epoch\": 2000.0, \"info_source\": \"user\"}";
	const char *vl = "OVRO_DSA_vlen";
	short nf = 6;
	double cw = 244140.625;

	make_header(&h);
	n = h.Nblts * h.Nfreqs * h.Npols;
	vis = calloc(n, sizeof *vis);
	fl = calloc(n, 1);
	fl2 = calloc(n, 1);
	ns = calloc(n, sizeof *ns);
	for (k = 0; k < n; k++)
		fl[k] = k % 3 == 0;
	snprintf(path, sizeof path, "%s/variants.uvh5", tmpdir);
	w = uvh5_create(path, &h, 0, &st, err);
	good = w && uvh5_write_rows(w, 0, h.Nblts, vis, fl, ns, &st, err) == 0 &&
	    uvh5_writer_commit(w, &st, err) == 0;
	ok(good, "write a file to edit");
	if (!good)
		goto out;
	fid = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	H5Ldelete(fid, "/Header/phase_center_catalog", H5P_DEFAULT);
	g = H5Gcreate2(fid, "/Header/phase_center_catalog", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, strlen(js));
	sp = H5Screate(H5S_SCALAR);
	d = H5Dcreate2(g, "3C286", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, js);
	H5Dclose(d);
	H5Tclose(t);
	H5Gclose(g);
	/* variable-length telescope_name */
	H5Ldelete(fid, "/Header/telescope_name", H5P_DEFAULT);
	t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, H5T_VARIABLE);
	d = H5Dcreate2(fid, "/Header/telescope_name", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &vl);
	H5Dclose(d);
	H5Tclose(t);
	/* Nfreqs as int16 big-endian, channel_width scalar */
	H5Ldelete(fid, "/Header/Nfreqs", H5P_DEFAULT);
	d = H5Dcreate2(fid, "/Header/Nfreqs", H5T_STD_I16BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_SHORT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &nf);
	H5Dclose(d);
	H5Ldelete(fid, "/Header/channel_width", H5P_DEFAULT);
	d = H5Dcreate2(fid, "/Header/channel_width", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &cw);
	H5Dclose(d);
	H5Sclose(sp);
	/* lst_array as a null dataset (h5py's None) */
	H5Ldelete(fid, "/Header/lst_array", H5P_DEFAULT);
	sp = H5Screate(H5S_NULL);
	d = H5Dcreate2(fid, "/Header/lst_array", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dclose(d);
	H5Sclose(sp);
	/* flags as plain uint8 (not an enum), values 0/7 */
	H5Ldelete(fid, "/Data/flags", H5P_DEFAULT);
	{
		hsize_t dims[3] = { (hsize_t)h.Nblts, (hsize_t)h.Nfreqs, (hsize_t)h.Npols };
		for (k = 0; k < n; k++)
			fl2[k] = fl[k] ? 7 : 0;
		sp = H5Screate_simple(3, dims, NULL);
		d = H5Dcreate2(fid, "/Data/flags", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, fl2);
		H5Dclose(d);
		H5Sclose(sp);
	}
	ok(H5Fclose(fid) >= 0, "edit the file with libhdf5");
	f = uvh5_open(path, &st, err);
	ok(f != NULL, "open the edited file");
	if (!f) {
		printf("# %s\n", err);
		goto out;
	}
	{
		const struct uvh5_header *r = uvh5_header(f);
		const struct uvh5_phase_center *pc = r->phase_centers;

		ok(r->n_phase_centers == 1 && pc[0].id == 1 && strcmp(pc[0].name, "3C286") == 0 &&
		    strcmp(pc[0].type, "sidereal") == 0 && pc[0].lon == 3.5 && pc[0].lat == -0.25 &&
		    pc[0].epoch == 2000.0 && strcmp(pc[0].frame, "fk5") == 0,
		    "JSON-string phase_center_catalog");
		ok(strcmp(r->telescope_name, vl) == 0, "variable-length string");
		ok(r->Nfreqs == 6, "int16 big-endian integer");
		ok(r->channel_width[0] == cw && r->channel_width[5] == cw, "scalar channel_width expanded");
		ok(r->lst_array == NULL, "null-dataspace dataset is absent");
		memset(fl2, 9, n);
		ok(uvh5_read_rows(f, 0, r->Nblts, NULL, fl2, NULL, &st, err) == 0 &&
		    memcmp(fl, fl2, n) == 0, "integer flags read as 0/1");
	}
	uvh5_close(f);

	/* A header dataset with the wrong length is bad data, naming it. */
	fid = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	H5Ldelete(fid, "/Header/time_array", H5P_DEFAULT);
	{
		hsize_t dim = 3;
		double tt[3] = { 1, 2, 3 };

		sp = H5Screate_simple(1, &dim, NULL);
		d = H5Dcreate2(fid, "/Header/time_array", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tt);
		H5Dclose(d);
		H5Sclose(sp);
	}
	H5Ldelete(fid, "/Header/ant_1_array", H5P_DEFAULT);
	H5Fclose(fid);
	f = uvh5_open(path, &st, err);
	ok(f == NULL && st == EX_DATAERR && strstr(err, "ant_1_array"),
	    "missing required dataset: EX_DATAERR naming it");
	if (f)
		uvh5_close(f);
out:
	free(vis);
	free(fl);
	free(fl2);
	free(ns);
	uvh5_header_free(&h);
}

/* Every sample reads the same by blocks of 7 rows as in one piece. */
static void test_samples(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096], err[UVH5_ERRLEN], name[300];
	int nfiles = 0, npread = 0;

	ok(d != NULL, "sample directory readable");
	if (!d) {
		printf("# %s: %s\n", dir, strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL) {
		const struct uvh5_header *h;
		uvh5_file *f;
		int st = 0, good = 1;
		int64_t n, row, blk, per;
		float complex *v1, *v2;
		uint8_t *f1, *f2;
		float *n1, *n2;
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 5, ".uvh5") != 0)
			continue;
		nfiles++;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		snprintf(name, sizeof name, "read by blocks of 7 rows: %s", e->d_name);
		f = uvh5_open(path, &st, err);
		if (!f) {
			printf("# %s\n", err);
			ok(0, name);
			continue;
		}
		h = uvh5_header(f);
		per = h->Nfreqs * h->Npols;
		n = h->Nblts * per;
		v1 = malloc(n * sizeof *v1);
		v2 = malloc(n * sizeof *v2);
		f1 = malloc(n);
		f2 = malloc(n);
		n1 = malloc(n * sizeof *n1);
		n2 = malloc(n * sizeof *n2);
		if (uvh5_read_rows(f, 0, h->Nblts, v1, f1, n1, &st, err) < 0)
			good = 0;
		for (row = 0; good && row < h->Nblts; row += blk) {
			blk = h->Nblts - row < 7 ? h->Nblts - row : 7;
			if (uvh5_read_rows(f, row, blk, v2 + row * per, f2 + row * per,
			    n2 + row * per, &st, err) < 0)
				good = 0;
		}
		if (!good)
			printf("# %s\n", err);
		for (row = 0; good && row < n; row++)
			if (f1[row] > 1)
				good = 0;
		ok(good && memcmp(v1, v2, n * sizeof *v1) == 0 && memcmp(f1, f2, n) == 0 &&
		    memcmp(n1, n2, n * sizeof *n1) == 0, name);
		/* Rows read by file offset, where the layout allows, in blocks
		 * of 7 from the end backwards: the same bytes again. */
		if (uvh5_can_pread(f)) {
			npread++;
			memset(v2, 0x5a, n * sizeof *v2);
			memset(f2, 0x5a, n);
			memset(n2, 0x5a, n * sizeof *n2);
			good = 1;
			for (row = h->Nblts; good && row > 0; row -= blk) {
				blk = row < 7 ? row : 7;
				if (uvh5_pread_rows(f, row - blk, blk, v2 + (row - blk) * per,
				    f2 + (row - blk) * per, n2 + (row - blk) * per, &st, err) < 0)
					good = 0;
			}
			snprintf(name, sizeof name, "same by file offset: %s", e->d_name);
			ok(good && memcmp(v1, v2, n * sizeof *v1) == 0 && memcmp(f1, f2, n) == 0 &&
			    memcmp(n1, n2, n * sizeof *n1) == 0, name);
		}
		/* libhdf5's own chunk path gives the same bytes as ours. */
		uvh5_set_direct(f, 0);
		ok(!uvh5_can_pread(f), "no reading by offset once direct reading is off");
		memset(v2, 0x5a, n * sizeof *v2);
		memset(f2, 0x5a, n);
		memset(n2, 0x5a, n * sizeof *n2);
		good = uvh5_read_rows(f, 0, h->Nblts, v2, f2, n2, &st, err) == 0;
		snprintf(name, sizeof name, "same through libhdf5: %s", e->d_name);
		ok(good && memcmp(v1, v2, n * sizeof *v1) == 0 && memcmp(f1, f2, n) == 0 &&
		    memcmp(n1, n2, n * sizeof *n1) == 0, name);
		free(v1);
		free(v2);
		free(f1);
		free(f2);
		free(n1);
		free(n2);
		uvh5_close(f);
	}
	closedir(d);
	ok(nfiles == 12, "twelve sample files");
	/* pyuvdata compresses flags and nsamples: none is read by offset in
	 * full (their plain visdata are, by uvh5_read_rows: compared above) */
	ok(npread == 0, "no sample file read by file offset in full");
}

static int copy_prefix(const char *src, const char *dst, long keep, long flip_at, int nflip)
{
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	long i = 0;
	int c;

	if (!in || !out) {
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		return -1;
	}
	while ((c = getc(in)) != EOF && (keep < 0 || i < keep)) {
		if (flip_at >= 0 && i >= flip_at && i < flip_at + nflip)
			c ^= 0xff;
		putc(c, out);
		i++;
	}
	fclose(in);
	return fclose(out);
}

static void test_errors(const char *dir)
{
	char path[4096], src[4096], err[UVH5_ERRLEN];
	int st = 0;
	uvh5_file *f;
	struct stat sb;
	int i;

	snprintf(path, sizeof path, "%s/missing.uvh5", tmpdir);
	ok(uvh5_open(path, &st, err) == NULL && st == EX_NOINPUT &&
	    strstr(err, "missing.uvh5"), "missing file: EX_NOINPUT");
	ok(uvh5_open(tmpdir, &st, err) == NULL && st == EX_IOERR, "directory: EX_IOERR");
	snprintf(path, sizeof path, "%s/text.uvh5", tmpdir);
	{
		FILE *t = fopen(path, "w");
		fputs("this is not an HDF5 file\n", t);
		fclose(t);
	}
	ok(uvh5_open(path, &st, err) == NULL && st == EX_DATAERR &&
	    strstr(err, "not an HDF5 file"), "text file: EX_DATAERR");
	snprintf(src, sizeof src, "%s/zen.2458432.34569__ac05a2fc8c.uvh5", dir);
	if (stat(src, &sb) < 0) {
		ok(0, "sample for corruption tests present");
		return;
	}
	snprintf(path, sizeof path, "%s/trunc.uvh5", tmpdir);
	copy_prefix(src, path, sb.st_size / 2, -1, 0);
	f = uvh5_open(path, &st, err);
	ok(f == NULL && st == EX_DATAERR, "truncated copy: EX_DATAERR");
	if (f)
		uvh5_close(f);
	copy_prefix(src, path, 100, -1, 0);
	f = uvh5_open(path, &st, err);
	ok(f == NULL && st == EX_DATAERR, "copy truncated to 100 bytes: EX_DATAERR");
	if (f)
		uvh5_close(f);
	/* Flipped bytes at several places: any status, no crash; a file that
	 * still opens must still read (or fail cleanly). */
	for (i = 1; i < 8; i++) {
		long at = (long)sb.st_size * i / 8;
		char name[80];

		copy_prefix(src, path, -1, at, 64);
		st = 0;
		f = uvh5_open(path, &st, err);
		if (f) {
			const struct uvh5_header *h = uvh5_header(f);
			int64_t n = h->Nblts * h->Nfreqs * h->Npols;
			float complex *v = malloc(n * sizeof *v);
			uint8_t *fl = malloc(n);
			float *ns = malloc(n * sizeof *ns);

			if (uvh5_read_rows(f, 0, h->Nblts, v, fl, ns, &st, err) < 0)
				f = (uvh5_close(f), NULL);
			else
				st = 0;
			free(v);
			free(fl);
			free(ns);
			if (f)
				uvh5_close(f);
		}
		snprintf(name, sizeof name, "64 bytes flipped at %d/8: status %d", i, st);
		ok(st == 0 || st == EX_DATAERR || st == EX_IOERR, name);
	}
}

/*
 * The DSA-110 layout: written, read back (data bits, descending channels,
 * float32 uvw, the scalar app dec) and checked with h5dump's view of the
 * stored types; uvh5_pointing on its variants.
 */
static void test_dsa110_layout(void)
{
	struct uvh5_header h, *g;
	char path[256], cmd[600], err[UVH5_ERRLEN], why[256];
	float complex *vis, *vis2;
	uint8_t *fl, *fl2;
	float *ns, *ns2;
	int64_t n, k;
	uvh5_writer *w;
	uvh5_file *f;
	double ra, dec;
	int st = 0, good = 1;

	if (make_header(&h) < 0) {
		ok(0, "dsa110: header");
		return;
	}
	h.layout = UVH5_LAYOUT_DSA110;
	h.n_phase_centers = 0;
	h.app_dec_scalar = 1;
	h.phase_center_app_dec = malloc((size_t)h.Nblts * sizeof(double));
	for (k = 0; k < h.Nblts; k++)
		h.phase_center_app_dec[k] = 0.95241;
	for (k = 0; k < h.Nfreqs; k++) {
		h.freq_array[k] = 1.5e9 - k * 244140.625;
		h.channel_width[k] = -244140.625;
	}
	snprintf(h.phase_type, sizeof h.phase_type, "drift");
	uvh5_header_set_keyword(&h, "phase_center_dec", "0.95241");
	uvh5_header_set_keyword(&h, "ha_phase_center", "0.0");
	uvh5_header_set_keyword(&h, "phase_center_epoch", "2000");
	n = h.Nblts * h.Nfreqs * h.Npols;
	vis = malloc(n * sizeof *vis);
	vis2 = malloc(n * sizeof *vis2);
	fl = calloc(n, 1);
	fl2 = malloc(n);
	ns = malloc(n * sizeof *ns);
	ns2 = malloc(n * sizeof *ns2);
	for (k = 0; k < n; k++) {
		vis[k] = CMPLXF(rnd_float(), rnd_float());
		ns[k] = 1.0f;
	}
	snprintf(path, sizeof path, "%s/dsa.hdf5", tmpdir);
	w = uvh5_create(path, &h, 0, &st, err);
	ok(w && uvh5_write_rows(w, 0, h.Nblts, vis, fl, ns, &st, err) == 0 &&
	    uvh5_writer_commit(w, &st, err) == 0, "dsa110: write");
	f = uvh5_open(path, &st, err);
	ok(f != NULL, "dsa110: read back");
	if (!f) {
		printf("# %s\n", err);
		goto out;
	}
	g = (struct uvh5_header *)uvh5_header(f);
	ok(g->data_ndim == 4 && !g->version[0] && g->n_phase_centers == 1 &&
	    !strcmp(g->phase_type, "drift") && g->app_dec_scalar &&
	    g->phase_center_app_dec[h.Nblts - 1] == 0.95241 &&
	    g->channel_width[0] == 244140.625 && g->freq_array[1] < g->freq_array[0],
	    "dsa110: 4-D, no version, drift, scalar app dec, |channel width|, descending");
	for (k = 0; k < h.Nblts * 3; k++)
		if (g->uvw_array[k] != (double)(float)h.uvw_array[k])
			good = 0;
	ok(good, "dsa110: uvw stored as float32");
	good = uvh5_read_rows(f, 0, h.Nblts, vis2, fl2, ns2, &st, err) == 0 &&
	    !memcmp(vis, vis2, n * sizeof *vis) && !memcmp(fl, fl2, n);
	ok(good, "dsa110: data bits survive the 4-D layout");
	/* uncompressed, one chunk of whole rows: by file offset, from the last
	 * rows backwards in blocks of 4, the written bits */
	ok(uvh5_can_pread(f), "dsa110: readable by file offset");
	memset(vis2, 0xa5, n * sizeof *vis2);
	memset(fl2, 0xa5, n);
	memset(ns2, 0xa5, n * sizeof *ns2);
	for (k = h.Nblts; good && k > 0; k -= 4) {
		int64_t b = k < 4 ? k : 4, at = (k - b) * h.Nfreqs * h.Npols;

		good = uvh5_pread_rows(f, k - b, b, vis2 + at, fl2 + at, ns2 + at, &st, err) == 0;
	}
	ok(good && !memcmp(vis, vis2, n * sizeof *vis) && !memcmp(fl, fl2, n) &&
	    !memcmp(ns, ns2, n * sizeof *ns), "dsa110: the same bits by file offset");
	ok(uvh5_pread_rows(f, h.Nblts - 2, 3, vis2, fl2, ns2, &st, err) < 0 && st == EX_SOFTWARE,
	    "dsa110: reading by offset past Nblts is refused");
	{
		uvh5_file *cut;

		snprintf(cmd, sizeof cmd, "cp '%s' '%s.cut'", path, path);
		snprintf(why, sizeof why, "%s.cut", path);
		cut = system(cmd) == 0 ? uvh5_open(why, &st, err) : NULL;
		ok(cut && truncate(why, 4096) == 0 &&
		    uvh5_pread_rows(cut, 0, 2, vis2, fl2, ns2, &st, err) < 0 && st == EX_DATAERR &&
		    strstr(err, "unexpected end of file") && strstr(err, "visdata"),
		    "dsa110: a file cut short under the reader is an error, not garbage");
		uvh5_close(cut);
	}
	ok(uvh5_pointing(g, &ra, &dec, why, sizeof why) == UVH5_PT_MERIDIAN && dec == 0.95241,
	    "pointing: extra_keywords/phase_center_dec in radians");
	/* without the keyword: the scalar; without both: refused */
	for (k = 0; k < g->n_keywords; k++)
		if (!strcmp(g->keywords[k].name, "phase_center_dec"))
			snprintf(g->keywords[k].name, sizeof g->keywords[k].name, "x");
	g->phase_center_app_dec[0] = 0.5;
	ok(uvh5_pointing(g, &ra, &dec, why, sizeof why) == UVH5_PT_MERIDIAN && dec == 0.5,
	    "pointing: the scalar phase_center_app_dec");
	g->app_dec_scalar = 0;
	free(g->phase_center_app_dec);
	g->phase_center_app_dec = NULL;
	ok(uvh5_pointing(g, &ra, &dec, why, sizeof why) < 0 && strstr(why, "phase_center_dec"),
	    "pointing: a meridian file without it is refused with the reason");
	uvh5_close(f);
	snprintf(cmd, sizeof cmd, "h5dump -H '%s' | grep -A1 -E 'DATASET \"(uvw_array|antenna_names)\"' "
	    "| grep -c -E 'H5T_IEEE_F32LE|STRSIZE 4|H5T_STRING' >/dev/null", path);
	ok(system(cmd) == 0, "dsa110: h5dump sees the stored types");
out:
	free(vis);
	free(vis2);
	free(fl);
	free(fl2);
	free(ns);
	free(ns2);
	uvh5_header_free(&h);
}

int main(void)
{
	const char *samples = getenv("UVM_SAMPLES");
	char cmd[300];

	if (!samples || !*samples)
		samples = "../shared/data/uvh5";
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_round_trip();
	test_variants();
	test_samples(samples);
	test_errors(samples);
	test_dsa110_layout();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", tmpdir);
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
