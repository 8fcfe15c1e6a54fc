/*
 * uvh5_write.c: the UVH5 1.2 writer.
 *
 * The layout follows the UVH5 memo as pyuvdata writes it: a /Header group
 * of scalars and arrays (strings fixed-length, bools as an int8 enum,
 * 1-D frequency arrays, a phase_center_catalog group with one subgroup per
 * catalog id, extra_keywords as strings), and /Data holding visdata
 * ({r,i} float32 compound), flags (bool enum, LZF) and nsamples (float32,
 * LZF), all chunked by rows with the full frequency and polarization
 * extent in each chunk. The file is built at an fsx temporary and renamed
 * into place by uvh5_writer_commit, so readers and make never see a
 * partial product.
 *
 * With h->layout = UVH5_LAYOUT_DSA110 it writes instead what the DSA-110
 * correlator's writer (dsa110-meridian-fs, dsamfs/uvh5_utils.py) writes:
 * see w_header_dsa110 and shared/data/dsa110/LAYOUT.md.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "core/fsx.h"
#include "uvh5/uvh5_priv.h"
#include "uvh5/uvh5_wpriv.h"

/* Writing context for header helpers. */
struct wr {
	const char *path;
	int *status;
	char *err;
	hid_t bool_t;
	hid_t dcpl, gcpl;   /* creation lists without time stamps */
};

static int wfail(struct wr *w, const char *name)
{
	char reason[256];
	int st = uvh5_h5_reason(reason, sizeof reason);

	uvh5_fail(w->status, w->err, st == EX_DATAERR ? EX_SOFTWARE : st,
	    "cannot write '%s' in '%s': %s", name, w->path, reason);
	return -1;
}

/* Create loc/name of file type ft, shape (rank, dims; rank 0 = scalar,
 * -1 = null dataspace), writing buf of memory type mt. */
static int wds(struct wr *w, hid_t loc, const char *name, hid_t ft, hid_t mt,
    int rank, const hsize_t *dims, const void *buf)
{
	hid_t sp, d;
	herr_t e = 0;

	if (rank < 0)
		sp = H5Screate(H5S_NULL);
	else if (rank == 0)
		sp = H5Screate(H5S_SCALAR);
	else
		sp = H5Screate_simple(rank, dims, NULL);
	if (sp < 0)
		return wfail(w, name);
	d = H5Dcreate2(loc, name, ft, sp, H5P_DEFAULT, w->dcpl, H5P_DEFAULT);
	H5Sclose(sp);
	if (d < 0)
		return wfail(w, name);
	if (rank >= 0)
		e = H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
	if (H5Dclose(d) < 0 || e < 0)
		return wfail(w, name);
	return 0;
}

static int w_i64(struct wr *w, hid_t loc, const char *name, int64_t v)
{
	return wds(w, loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, NULL, &v);
}

static int w_f64(struct wr *w, hid_t loc, const char *name, double v)
{
	return wds(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL, &v);
}

/* A null (empty) float dataset: h5py's way of storing None. */
static int w_none(struct wr *w, hid_t loc, const char *name)
{
	return wds(w, loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, -1, NULL, NULL);
}

static int w_bool(struct wr *w, hid_t loc, const char *name, int v)
{
	signed char b = v != 0;

	return wds(w, loc, name, w->bool_t, w->bool_t, 0, NULL, &b);
}

/* Fixed-length, null-padded ASCII string (as numpy bytes_ are stored). */
static int w_str(struct wr *w, hid_t loc, const char *name, const char *s)
{
	size_t n = strlen(s);
	hid_t t = H5Tcopy(H5T_C_S1);
	int rc;

	if (t < 0 || H5Tset_size(t, n ? n : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0) {
		if (t >= 0)
			H5Tclose(t);
		return wfail(w, name);
	}
	rc = wds(w, loc, name, t, t, 0, NULL, n ? s : "");
	H5Tclose(t);
	return rc;
}

static int w_i64_arr(struct wr *w, const char *name, hid_t loc, int64_t n, const int64_t *v)
{
	hsize_t dims[1] = { (hsize_t)n };

	return wds(w, loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, v);
}

static int w_f64_arr(struct wr *w, const char *name, hid_t loc, int64_t n, int64_t m,
    const double *v)
{
	hsize_t dims[2] = { (hsize_t)n, (hsize_t)m };

	return wds(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, m > 0 ? 2 : 1, dims, v);
}

/* antenna_names: an array of fixed-length strings sized to the longest. */
static int w_names(struct wr *w, hid_t loc, const struct uvh5_header *h, size_t minlen)
{
	size_t len = minlen, k, n = (size_t)h->Nants_telescope, sz = sizeof h->antenna_names[0];
	hsize_t dims[1] = { n };
	char *b;
	hid_t t;
	int rc;

	for (k = 0; k < n; k++)
		if (strnlen(h->antenna_names[k], sz) > len)
			len = strnlen(h->antenna_names[k], sz);
	b = calloc(n, len);
	if (!b) {
		uvh5_fail(w->status, w->err, EX_OSERR, "out of memory");
		return -1;
	}
	for (k = 0; k < n; k++)
		memcpy(b + k * len, h->antenna_names[k], strnlen(h->antenna_names[k], sz));
	t = H5Tcopy(H5T_C_S1);
	if (t < 0 || H5Tset_size(t, len) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0) {
		free(b);
		if (t >= 0)
			H5Tclose(t);
		return wfail(w, "antenna_names");
	}
	rc = wds(w, loc, "antenna_names", t, t, 1, dims, b);
	H5Tclose(t);
	free(b);
	return rc;
}

/* One subgroup of phase_center_catalog. */
static int w_catalog_entry(struct wr *w, hid_t cat, const struct uvh5_phase_center *pc)
{
	char name[32];
	hid_t g;
	int rc;

	snprintf(name, sizeof name, "%d", pc->id);
	g = H5Gcreate2(cat, name, H5P_DEFAULT, w->gcpl, H5P_DEFAULT);
	if (g < 0)
		return wfail(w, "phase_center_catalog");
	rc = (w_str(w, g, "cat_name", pc->name) < 0 ||
	    w_str(w, g, "cat_type", pc->type[0] ? pc->type : "sidereal") < 0 ||
	    w_f64(w, g, "cat_lon", pc->lon) < 0 ||
	    w_f64(w, g, "cat_lat", pc->lat) < 0 ||
	    (pc->frame[0] ? w_str(w, g, "cat_frame", pc->frame) : w_none(w, g, "cat_frame")) < 0 ||
	    (pc->epoch != 0 ? w_f64(w, g, "cat_epoch", pc->epoch) : w_none(w, g, "cat_epoch")) < 0 ||
	    w_none(w, g, "cat_times") < 0 || w_none(w, g, "cat_pm_ra") < 0 ||
	    w_none(w, g, "cat_pm_dec") < 0 || w_none(w, g, "cat_vrad") < 0 ||
	    w_none(w, g, "cat_dist") < 0 || w_str(w, g, "info_source", "user") < 0) ? -1 : 0;
	if (H5Gclose(g) < 0 && rc == 0)
		return wfail(w, "phase_center_catalog");
	return rc;
}

/* Check that h has what a 1.2 file needs; 0 or -1 (EX_SOFTWARE: caller bug). */
static int check_header(struct wr *w, const struct uvh5_header *h)
{
	const char *why = NULL;

	if (h->Nblts < 1 || h->Nfreqs < 1 || h->Npols < 1 || h->Nspws < 1 ||
	    h->Nants_telescope < 1 || h->Nbls < 1 || h->Ntimes < 1 || h->Nants_data < 1)
		why = "a count is not positive";
	else if (!h->antenna_numbers || !h->antenna_names || !h->antenna_positions ||
	    !h->ant_1_array || !h->ant_2_array || !h->uvw_array || !h->time_array ||
	    !h->integration_time || !h->freq_array || !h->channel_width ||
	    !h->spw_array || !h->polarization_array)
		why = "a required array is missing";
	else if (h->n_phase_centers < 0 || (h->n_phase_centers > 0 && !h->phase_centers))
		why = "bad phase centre list";
	else if (!h->telescope_name[0])
		why = "no telescope_name";
	if (why) {
		uvh5_fail(w->status, w->err, EX_SOFTWARE, "cannot write '%s': invalid header: %s",
		    w->path, why);
		return -1;
	}
	return 0;
}

/* An extra keyword as the DSA-110 writer stores it: a number as int64
 * or float64, anything else as a string. */
static int w_keyword(struct wr *w, hid_t loc, const char *name, const char *v)
{
	char *end;
	long long i;
	double d;

	errno = 0;
	i = strtoll(v, &end, 10);
	if (*v && !*end && !errno)
		return w_i64(w, loc, name, i);
	d = strtod(v, &end);
	if (*v && !*end)
		return w_f64(w, loc, name, d);
	return w_str(w, loc, name, v);
}

/*
 * /Header as the DSA-110 writer lays it out: no version, phase_type
 * "drift", no phase-centre catalog, ids or app_ra/frame_pa; uvw float32;
 * freq_array (1, Nfreqs); channel_width one scalar, the absolute width of
 * the first channel; antenna names of at least 4 bytes; numeric extra
 * keywords as numbers; the scalar phase_center_app_dec when
 * h->app_dec_scalar. 0 or -1.
 */
static int w_header_dsa110(struct wr *w, hid_t fid, const struct uvh5_header *h)
{
	hid_t g, kw = -1;
	hsize_t d2[2] = { (hsize_t)h->Nblts, 3 }, df[2] = { 1, (hsize_t)h->Nfreqs };
	float *uvw = malloc((size_t)h->Nblts * 3 * sizeof *uvw);
	int rc = -1, i;

	if (!uvw) {
		uvh5_fail(w->status, w->err, EX_OSERR, "out of memory");
		return -1;
	}
	for (int64_t k = 0; k < h->Nblts * 3; k++)
		uvw[k] = (float)h->uvw_array[k];
	g = H5Gcreate2(fid, "Header", H5P_DEFAULT, w->gcpl, H5P_DEFAULT);
	if (g < 0) {
		free(uvw);
		return wfail(w, "/Header");
	}
	if (w_f64(w, g, "latitude", h->latitude) < 0 ||
	    w_f64(w, g, "longitude", h->longitude) < 0 ||
	    w_f64(w, g, "altitude", h->altitude) < 0 ||
	    w_str(w, g, "telescope_name", h->telescope_name) < 0 ||
	    w_str(w, g, "instrument", h->instrument[0] ? h->instrument : h->telescope_name) < 0 ||
	    w_str(w, g, "object_name", h->object_name) < 0 ||
	    w_str(w, g, "history", h->history ? h->history : "") < 0 ||
	    w_str(w, g, "phase_type", "drift") < 0 ||
	    w_i64(w, g, "Nants_data", h->Nants_data) < 0 ||
	    w_i64(w, g, "Nants_telescope", h->Nants_telescope) < 0 ||
	    (h->antenna_diameters && w_f64_arr(w, "antenna_diameters", g, h->Nants_telescope, 0,
	    h->antenna_diameters) < 0) ||
	    w_i64_arr(w, "ant_1_array", g, h->Nblts, h->ant_1_array) < 0 ||
	    w_i64_arr(w, "ant_2_array", g, h->Nblts, h->ant_2_array) < 0 ||
	    w_names(w, g, h, 4) < 0 ||
	    w_i64_arr(w, "antenna_numbers", g, h->Nants_telescope, h->antenna_numbers) < 0 ||
	    w_i64(w, g, "Nbls", h->Nbls) < 0 ||
	    w_i64(w, g, "Nblts", h->Nblts) < 0 ||
	    w_i64(w, g, "Nfreqs", h->Nfreqs) < 0 ||
	    w_i64(w, g, "Npols", h->Npols) < 0 ||
	    w_i64(w, g, "Ntimes", h->Ntimes) < 0 ||
	    w_i64(w, g, "Nspws", h->Nspws) < 0 ||
	    wds(w, g, "uvw_array", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, uvw) < 0 ||
	    w_f64_arr(w, "time_array", g, h->Nblts, 0, h->time_array) < 0 ||
	    w_f64_arr(w, "integration_time", g, h->Nblts, 0, h->integration_time) < 0 ||
	    wds(w, g, "freq_array", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, df, h->freq_array) < 0 ||
	    w_f64(w, g, "channel_width", fabs(h->channel_width[0])) < 0 ||
	    w_i64_arr(w, "spw_array", g, h->Nspws, h->spw_array) < 0 ||
	    w_i64_arr(w, "polarization_array", g, h->Npols, h->polarization_array) < 0 ||
	    w_f64_arr(w, "antenna_positions", g, h->Nants_telescope, 3, h->antenna_positions) < 0 ||
	    (h->app_dec_scalar && h->phase_center_app_dec &&
	    w_f64(w, g, "phase_center_app_dec", h->phase_center_app_dec[0]) < 0))
		goto done;
	kw = H5Gcreate2(g, "extra_keywords", H5P_DEFAULT, w->gcpl, H5P_DEFAULT);
	if (kw < 0) {
		wfail(w, "extra_keywords");
		goto done;
	}
	for (i = 0; i < h->n_keywords; i++)
		if (w_keyword(w, kw, h->keywords[i].name, h->keywords[i].value) < 0)
			goto done;
	rc = 0;
done:
	free(uvw);
	if (kw >= 0)
		H5Gclose(kw);
	if (H5Gclose(g) < 0 && rc == 0)
		rc = wfail(w, "/Header");
	return rc;
}

/* Write /Header; 0 or -1. */
static int w_header(struct wr *w, hid_t fid, const struct uvh5_header *h)
{
	hid_t g = -1, cat = -1, kw = -1;
	int64_t *ids = NULL, nphase, k;
	int rc = -1, i;
	struct uvh5_phase_center dflt;

	g = H5Gcreate2(fid, "Header", H5P_DEFAULT, w->gcpl, H5P_DEFAULT);
	if (g < 0)
		return wfail(w, "/Header");
	if (w_str(w, g, "version", "1.2") < 0 ||
	    w_str(w, g, "telescope_name", h->telescope_name) < 0 ||
	    w_f64(w, g, "latitude", h->latitude) < 0 ||
	    w_f64(w, g, "longitude", h->longitude) < 0 ||
	    w_f64(w, g, "altitude", h->altitude) < 0 ||
	    w_str(w, g, "instrument", h->instrument[0] ? h->instrument : h->telescope_name) < 0 ||
	    w_names(w, g, h, 1) < 0 ||
	    w_i64_arr(w, "antenna_numbers", g, h->Nants_telescope, h->antenna_numbers) < 0 ||
	    w_f64_arr(w, "antenna_positions", g, h->Nants_telescope, 3, h->antenna_positions) < 0 ||
	    w_i64(w, g, "Nants_telescope", h->Nants_telescope) < 0 ||
	    (h->antenna_diameters && w_f64_arr(w, "antenna_diameters", g, h->Nants_telescope, 0,
	    h->antenna_diameters) < 0) ||
	    (h->x_orientation[0] && w_str(w, g, "x_orientation", h->x_orientation) < 0) ||
	    w_i64(w, g, "Nants_data", h->Nants_data) < 0 ||
	    w_i64(w, g, "Nbls", h->Nbls) < 0 ||
	    w_i64(w, g, "Nblts", h->Nblts) < 0 ||
	    w_i64(w, g, "Nfreqs", h->Nfreqs) < 0 ||
	    w_i64(w, g, "Npols", h->Npols) < 0 ||
	    w_i64(w, g, "Nspws", h->Nspws) < 0 ||
	    w_i64(w, g, "Ntimes", h->Ntimes) < 0 ||
	    w_f64_arr(w, "uvw_array", g, h->Nblts, 3, h->uvw_array) < 0 ||
	    w_str(w, g, "vis_units", h->vis_units[0] ? h->vis_units : "uncalib") < 0 ||
	    w_f64_arr(w, "channel_width", g, h->Nfreqs, 0, h->channel_width) < 0 ||
	    w_f64_arr(w, "time_array", g, h->Nblts, 0, h->time_array) < 0 ||
	    w_f64_arr(w, "freq_array", g, h->Nfreqs, 0, h->freq_array) < 0 ||
	    w_f64_arr(w, "integration_time", g, h->Nblts, 0, h->integration_time) < 0 ||
	    (h->lst_array && w_f64_arr(w, "lst_array", g, h->Nblts, 0, h->lst_array) < 0) ||
	    w_i64_arr(w, "polarization_array", g, h->Npols, h->polarization_array) < 0 ||
	    w_i64_arr(w, "spw_array", g, h->Nspws, h->spw_array) < 0 ||
	    w_i64_arr(w, "ant_1_array", g, h->Nblts, h->ant_1_array) < 0 ||
	    w_i64_arr(w, "ant_2_array", g, h->Nblts, h->ant_2_array) < 0 ||
	    w_bool(w, g, "flex_spw", h->flex_spw) < 0)
		goto done;

	/* flex_spw_id_array: given, or every channel in the first window. */
	if (h->flex_spw_id_array) {
		if (w_i64_arr(w, "flex_spw_id_array", g, h->Nfreqs, h->flex_spw_id_array) < 0)
			goto done;
	} else {
		ids = malloc((size_t)(h->Nfreqs > h->Nblts ? h->Nfreqs : h->Nblts) * sizeof *ids);
		if (!ids)
			goto nomem;
		for (k = 0; k < h->Nfreqs; k++)
			ids[k] = h->spw_array[0];
		if (w_i64_arr(w, "flex_spw_id_array", g, h->Nfreqs, ids) < 0)
			goto done;
	}

	/* Phase centres: the catalog, or one unprojected (zenith) entry. */
	memset(&dflt, 0, sizeof dflt);
	snprintf(dflt.name, sizeof dflt.name, "%s", h->object_name[0] ? h->object_name : "zenith");
	snprintf(dflt.type, sizeof dflt.type, "unprojected");
	snprintf(dflt.frame, sizeof dflt.frame, "altaz");
	dflt.lat = 1.5707963267948966;
	nphase = h->n_phase_centers > 0 ? h->n_phase_centers : 1;
	if (h->phase_center_id_array) {
		if (w_i64_arr(w, "phase_center_id_array", g, h->Nblts, h->phase_center_id_array) < 0)
			goto done;
	} else {
		if (!ids && !(ids = malloc((size_t)h->Nblts * sizeof *ids)))
			goto nomem;
		for (k = 0; k < h->Nblts; k++)
			ids[k] = h->n_phase_centers > 0 ? h->phase_centers[0].id : 0;
		if (w_i64_arr(w, "phase_center_id_array", g, h->Nblts, ids) < 0)
			goto done;
	}
	if (w_i64(w, g, "Nphase", nphase) < 0)
		goto done;
	cat = H5Gcreate2(g, "phase_center_catalog", H5P_DEFAULT, w->gcpl, H5P_DEFAULT);
	if (cat < 0) {
		wfail(w, "phase_center_catalog");
		goto done;
	}
	for (i = 0; i < (h->n_phase_centers > 0 ? h->n_phase_centers : 1); i++)
		if (w_catalog_entry(w, cat, h->n_phase_centers > 0 ? &h->phase_centers[i] : &dflt) < 0)
			goto done;
	if ((h->phase_center_app_ra &&
	    w_f64_arr(w, "phase_center_app_ra", g, h->Nblts, 0, h->phase_center_app_ra) < 0) ||
	    (h->phase_center_app_dec &&
	    w_f64_arr(w, "phase_center_app_dec", g, h->Nblts, 0, h->phase_center_app_dec) < 0) ||
	    (h->phase_center_frame_pa &&
	    w_f64_arr(w, "phase_center_frame_pa", g, h->Nblts, 0, h->phase_center_frame_pa) < 0))
		goto done;

	if (h->n_keywords > 0) {
		kw = H5Gcreate2(g, "extra_keywords", H5P_DEFAULT, w->gcpl, H5P_DEFAULT);
		if (kw < 0) {
			wfail(w, "extra_keywords");
			goto done;
		}
		for (i = 0; i < h->n_keywords; i++)
			if (w_str(w, kw, h->keywords[i].name, h->keywords[i].value) < 0)
				goto done;
	}
	if (w_str(w, g, "history", h->history ? h->history : "") < 0)
		goto done;
	rc = 0;
	goto done;
nomem:
	uvh5_fail(w->status, w->err, EX_OSERR, "out of memory");
done:
	free(ids);
	if (kw >= 0)
		H5Gclose(kw);
	if (cat >= 0)
		H5Gclose(cat);
	if (H5Gclose(g) < 0 && rc == 0)
		rc = wfail(w, "/Header");
	return rc;
}

/*
 * Create /Data/name with file type ft, chunked (crows, Nfreqs, Npols),
 * LZF-compressed if lzf, with a chunk cache holding two chunks so rows
 * written in blocks that split chunks never force a chunk to be flushed
 * half-filled and read back.
 */
static hid_t w_data(struct wr *w, hid_t data, const char *name, hid_t ft,
    const struct uvh5_header *h, hsize_t crows, int lzf, int ndim)
{
	hsize_t dims[4] = { (hsize_t)h->Nblts, (hsize_t)h->Nfreqs, (hsize_t)h->Npols, 0 };
	hsize_t chunk[4] = { crows, (hsize_t)h->Nfreqs, (hsize_t)h->Npols, 0 };
	hid_t sp, dcpl, dapl, d = -1;
	size_t bytes = H5Tget_size(ft) * crows * dims[1] * dims[2];

	if (ndim == 4) {        /* (Nblts, 1, Nfreqs, Npols) */
		dims[3] = dims[2], dims[2] = dims[1], dims[1] = 1;
		chunk[3] = chunk[2], chunk[2] = chunk[1], chunk[1] = 1;
	}
	sp = H5Screate_simple(ndim, dims, NULL);
	dcpl = H5Pcopy(w->dcpl);
	dapl = H5Pcreate(H5P_DATASET_ACCESS);
	if (sp >= 0 && dcpl >= 0 && dapl >= 0 &&
	    H5Pset_chunk(dcpl, ndim, chunk) >= 0 &&
	    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0 &&
	    (!lzf || H5Pset_filter(dcpl, UVH5_LZF_FILTER, H5Z_FLAG_OPTIONAL, 0, NULL) >= 0) &&
	    H5Pset_chunk_cache(dapl, 521, 2 * bytes + 4096, 1.0) >= 0)
		d = H5Dcreate2(data, name, ft, sp, H5P_DEFAULT, dcpl, dapl);
	if (sp >= 0)
		H5Sclose(sp);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (dapl >= 0)
		H5Pclose(dapl);
	if (d < 0)
		wfail(w, name);
	return d;
}

uvh5_writer *uvh5_create(const char *path, const struct uvh5_header *h,
    int64_t chunk_rows, int *status, char *err)
{
	struct wr w = { path, status, err, -1, -1, -1 };
	struct uvh5_writer *x;
	hid_t fapl, data = -1, vft = -1;
	hsize_t crows;

	if (uvh5_register_lzf() < 0) {
		uvh5_fail(status, err, EX_SOFTWARE, "cannot register the lzf filter");
		return NULL;
	}
	if (check_header(&w, h) < 0)
		return NULL;
	x = calloc(1, sizeof *x);
	if (!x) {
		uvh5_fail(status, err, EX_OSERR, "out of memory");
		return NULL;
	}
	x->fid = x->vis = x->flg = x->nsm = x->fs_vis = x->fs_flg = x->fs_nsm = -1;
	x->vis_mt = x->bool_t = x->mspace = -1;
	x->o.fd = -1;
	x->Nblts = h->Nblts;
	x->Nfreqs = h->Nfreqs;
	x->Npols = h->Npols;
	if (fsx_reserve(&x->o, path, 0644) < 0) {
		uvh5_fail(status, err, fsx_exit_for_errno(errno), "cannot create '%s': %s",
		    path, strerror(errno));
		free(x);
		return NULL;
	}
	x->reserved = 1;
	fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl >= 0)
		H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
	x->fid = H5Fcreate(x->o.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl >= 0 ? fapl : H5P_DEFAULT);
	if (fapl >= 0)
		H5Pclose(fapl);
	if (x->fid < 0) {
		char reason[256];
		int e = errno, st = uvh5_h5_reason(reason, sizeof reason);
		/* a full disk while writing the superblock is an I/O error (74) */
		uvh5_fail(status, err,
		    st == EX_IOERR || fsx_exit_for_errno(e) == EX_IOERR ? EX_IOERR : EX_CANTCREAT,
		    "cannot create '%s': %s", path, reason);
		goto fail;
	}
	x->bool_t = uvh5_bool_type();
	w.bool_t = x->bool_t;
	/* No modification times in object headers: the same input gives the
	 * same bytes (and LZF below is built deterministic too). */
	w.dcpl = H5Pcreate(H5P_DATASET_CREATE);
	w.gcpl = H5Pcreate(H5P_GROUP_CREATE);
	if (w.dcpl < 0 || w.gcpl < 0 || H5Pset_obj_track_times(w.dcpl, 0) < 0 ||
	    H5Pset_obj_track_times(w.gcpl, 0) < 0) {
		wfail(&w, "property lists");
		goto fail;
	}
	x->vis_mt = H5Tcreate(H5T_COMPOUND, 2 * sizeof(float));
	vft = H5Tcreate(H5T_COMPOUND, 8);
	if (x->bool_t < 0 || x->vis_mt < 0 || vft < 0 ||
	    H5Tinsert(x->vis_mt, "r", 0, H5T_NATIVE_FLOAT) < 0 ||
	    H5Tinsert(x->vis_mt, "i", sizeof(float), H5T_NATIVE_FLOAT) < 0 ||
	    H5Tinsert(vft, "r", 0, H5T_IEEE_F32LE) < 0 ||
	    H5Tinsert(vft, "i", 4, H5T_IEEE_F32LE) < 0) {
		wfail(&w, "types");
		goto fail;
	}
	x->ndim = h->layout == UVH5_LAYOUT_DSA110 ? 4 : 3;
	if ((x->ndim == 4 ? w_header_dsa110(&w, x->fid, h) : w_header(&w, x->fid, h)) < 0)
		goto fail;
	crows = chunk_rows > 0 ? (hsize_t)chunk_rows : (hsize_t)h->Nbls;
	if (crows > (hsize_t)h->Nblts)
		crows = (hsize_t)h->Nblts;
	if (crows < 1)
		crows = 1;
	/* A chunk must stay under libhdf5's 4 GiB limit. */
	while (crows > 1 && crows * (hsize_t)h->Nfreqs * (hsize_t)h->Npols * 8 >= ((hsize_t)1 << 32))
		crows /= 2;
	x->crows = (int64_t)crows;
	x->lzf = x->ndim == 3;
	data = H5Gcreate2(x->fid, "Data", H5P_DEFAULT, w.gcpl, H5P_DEFAULT);
	if (data < 0) {
		wfail(&w, "/Data");
		goto fail;
	}
	/* The DSA-110 writer compresses nothing. */
	x->vis = w_data(&w, data, "visdata", vft, h, crows, 0, x->ndim);
	if (x->vis >= 0)
		x->flg = w_data(&w, data, "flags", x->bool_t, h, crows, x->lzf, x->ndim);
	if (x->flg >= 0)
		x->nsm = w_data(&w, data, "nsamples", H5T_IEEE_F32LE, h, crows, x->lzf, x->ndim);
	if (x->nsm < 0)
		goto fail;
	x->fs_vis = H5Dget_space(x->vis);
	x->fs_flg = H5Dget_space(x->flg);
	x->fs_nsm = H5Dget_space(x->nsm);
	if (x->fs_vis < 0 || x->fs_flg < 0 || x->fs_nsm < 0) {
		wfail(&w, "/Data");
		goto fail;
	}
	H5Tclose(vft);
	H5Gclose(data);
	H5Pclose(w.dcpl);
	H5Pclose(w.gcpl);
	return x;
fail:
	if (w.dcpl >= 0)
		H5Pclose(w.dcpl);
	if (w.gcpl >= 0)
		H5Pclose(w.gcpl);
	if (vft >= 0)
		H5Tclose(vft);
	if (data >= 0)
		H5Gclose(data);
	uvh5_writer_abort(x);
	return NULL;
}

static int w_block(uvh5_writer *x, hid_t d, hid_t fs, hid_t mt, const char *name,
    int64_t row0, int64_t nrows, const void *buf, int *status, char *err)
{
	hsize_t start[4] = { (hsize_t)row0, 0, 0, 0 };
	hsize_t count[4] = { (hsize_t)nrows, (hsize_t)x->Nfreqs, (hsize_t)x->Npols, 1 };
	char reason[256];

	if (x->ndim == 4)       /* same elements, an spw axis of 1 */
		count[3] = count[2], count[2] = count[1], count[1] = 1;

	if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
	    H5Dwrite(d, mt, x->mspace, fs, H5P_DEFAULT, buf) < 0) {
		int st = uvh5_h5_reason(reason, sizeof reason);
		uvh5_fail(status, err, st == EX_DATAERR ? EX_SOFTWARE : st,
		    "cannot write '/Data/%s' rows %lld-%lld of '%s': %s", name, (long long)row0,
		    (long long)(row0 + nrows - 1), x->o.path, reason);
		return -1;
	}
	return 0;
}

int uvh5_write_rows(uvh5_writer *x, int64_t row0, int64_t nrows,
    const float complex *vis, const uint8_t *flags, const float *nsamples,
    int *status, char *err)
{
	hsize_t n;
	size_t i;
	const uint8_t *fl = flags;

	if (!vis || !flags || !nsamples || row0 != x->next_row || nrows < 0 ||
	    nrows > x->Nblts - row0) {
		uvh5_fail(status, err, EX_SOFTWARE,
		    "bad write of rows %lld+%lld to '%s' (next row %lld, Nblts %lld)",
		    (long long)row0, (long long)nrows, x->o.path, (long long)x->next_row,
		    (long long)x->Nblts);
		return -1;
	}
	if (nrows == 0)
		return 0;
	n = (hsize_t)nrows * (hsize_t)x->Nfreqs * (hsize_t)x->Npols;
	if (x->mspace < 0 || x->mspace_n != n) {
		/* Same shape as the file selection: see uvh5_read_rows. */
		hsize_t mdims[3] = { (hsize_t)nrows, (hsize_t)x->Nfreqs, (hsize_t)x->Npols };

		if (x->mspace >= 0)
			H5Sclose(x->mspace);
		x->mspace = H5Screate_simple(3, mdims, NULL);
		x->mspace_n = n;
		if (x->mspace < 0) {
			uvh5_fail(status, err, EX_OSERR, "cannot create a dataspace");
			return -1;
		}
	}
	/* Flags must be 0/1 to be valid enum values; map anything else to 1. */
	for (i = 0; i < n; i++)
		if (flags[i] > 1)
			break;
	if (i < n) {
		if (x->scratch_n < n) {
			uint8_t *s = realloc(x->scratch, n);
			if (!s) {
				uvh5_fail(status, err, EX_OSERR, "out of memory");
				return -1;
			}
			x->scratch = s;
			x->scratch_n = n;
		}
		for (i = 0; i < n; i++)
			x->scratch[i] = flags[i] != 0;
		fl = x->scratch;
	}
	if (w_block(x, x->vis, x->fs_vis, x->vis_mt, "visdata", row0, nrows, vis, status, err) < 0 ||
	    w_block(x, x->flg, x->fs_flg, x->bool_t, "flags", row0, nrows, fl, status, err) < 0 ||
	    w_block(x, x->nsm, x->fs_nsm, H5T_NATIVE_FLOAT, "nsamples", row0, nrows, nsamples,
	    status, err) < 0)
		return -1;
	x->next_row += nrows;
	return 0;
}

/* Close every HDF5 id of x; -1 if closing the file failed (data not
 * flushed), with the reason in reason. */
static int close_all(uvh5_writer *x, char *reason, size_t n, int *st)
{
	int rc = 0;

	if (x->fs_vis >= 0)
		H5Sclose(x->fs_vis);
	if (x->fs_flg >= 0)
		H5Sclose(x->fs_flg);
	if (x->fs_nsm >= 0)
		H5Sclose(x->fs_nsm);
	if (x->mspace >= 0)
		H5Sclose(x->mspace);
	if (x->vis >= 0 && H5Dclose(x->vis) < 0)
		rc = -1;
	if (x->flg >= 0 && H5Dclose(x->flg) < 0)
		rc = -1;
	if (x->nsm >= 0 && H5Dclose(x->nsm) < 0)
		rc = -1;
	if (x->vis_mt >= 0)
		H5Tclose(x->vis_mt);
	if (x->bool_t >= 0)
		H5Tclose(x->bool_t);
	if (x->fid >= 0 && H5Fclose(x->fid) < 0)
		rc = -1;
	x->fs_vis = x->fs_flg = x->fs_nsm = x->mspace = x->vis = x->flg = x->nsm = -1;
	x->vis_mt = x->bool_t = x->fid = -1;
	if (rc < 0)
		*st = uvh5_h5_reason(reason, n);
	H5Eclear2(H5E_DEFAULT);
	return rc;
}

int uvh5_writer_commit(uvh5_writer *x, int *status, char *err)
{
	char reason[256];
	int st = EX_IOERR;

	if (x->next_row != x->Nblts) {
		uvh5_fail(status, err, EX_SOFTWARE, "cannot commit '%s': %lld of %lld rows written",
		    x->o.path, (long long)x->next_row, (long long)x->Nblts);
		uvh5_writer_abort(x);
		return -1;
	}
	if (uvh5_put_provenance(x->fid) < 0) {
		uvh5_h5_reason(reason, sizeof reason);
		uvh5_fail(status, err, EX_IOERR, "cannot write '%s': provenance: %s", x->o.path, reason);
		uvh5_writer_abort(x);
		return -1;
	}
	if (close_all(x, reason, sizeof reason, &st) < 0) {
		uvh5_fail(status, err, st == EX_DATAERR ? EX_IOERR : st, "cannot write '%s': %s",
		    x->o.path, reason);
		uvh5_writer_abort(x);
		return -1;
	}
	if (fsx_commit(&x->o) < 0) {
		uvh5_fail(status, err, fsx_exit_for_errno(errno), "cannot write '%s': %s",
		    x->o.path, strerror(errno));
		x->reserved = 0;
		uvh5_writer_abort(x);
		return -1;
	}
	x->reserved = 0;
	free(x->scratch);
	free(x);
	return 0;
}

void uvh5_writer_abort(uvh5_writer *x)
{
	char reason[256];
	int st;

	if (!x)
		return;
	close_all(x, reason, sizeof reason, &st);
	if (x->reserved)
		fsx_abort(&x->o);
	free(x->scratch);
	free(x);
}
