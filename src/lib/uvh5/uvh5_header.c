/*
 * uvh5_header.c: the UVH5 reader's header half.
 *
 * uvh5_read_header reads every /Header value into a struct uvh5_header,
 * accepting the variants real files show (uvh5.h lists them: 0.x to 1.2,
 * h5py's and pyuvdata's encodings, and the DSA-110 writer's layout with its
 * scalar phase_center_app_dec). The data half (uvh5_data.c) opens the file,
 * calls it, and reads /Data. The typed readers it is built from (one
 * dataset at a time) are in uvh5_read.c.
 */
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "uvh5/uvh5_priv.h"
#include "core/json.h"

/* Render the value of dataset d (any small type) as text into buf. */
static void render_value(hid_t d, char *buf, size_t size)
{
	hid_t ft = H5Dget_type(d);
	hsize_t dims[4];
	int nd, i, n;
	int64_t np = uvh5_ds_shape(d, &nd, dims);
	size_t len = 0;
	H5T_class_t c;

	buf[0] = '\0';
	if (ft < 0 || np < 0) {
		if (ft >= 0)
			H5Tclose(ft);
		return;
	}
	c = H5Tget_class(ft);
	n = np > 64 ? 64 : (int)np;
	if (c == H5T_STRING) {
		char **s = calloc((size_t)np ? (size_t)np : 1, sizeof *s);

		if (s && uvh5_read_strings(d, (size_t)np, s) == 0)
			for (i = 0; i < (int)np; i++) {
				if (i < n && len < size)
					len += snprintf(buf + len, size - len, "%s%s", i ? "," : "", s[i]);
				free(s[i]);
			}
		free(s);
	} else if (c == H5T_INTEGER || c == H5T_FLOAT) {
		double *v = malloc((size_t)np * sizeof *v + 8);
		int64_t *iv = malloc((size_t)np * sizeof *iv + 8);

		if (c == H5T_INTEGER && iv && uvh5_read_i64(d, (size_t)np, iv) == 0) {
			for (i = 0; i < n && len < size; i++)
				len += snprintf(buf + len, size - len, "%s%lld", i ? "," : "", (long long)iv[i]);
		} else if (c == H5T_FLOAT && v &&
		    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0) {
			for (i = 0; i < n && len < size; i++)
				len += snprintf(buf + len, size - len, "%s%.17g", i ? "," : "", v[i]);
		}
		free(v);
		free(iv);
	} else if (c == H5T_ENUM) {
		int64_t *iv = malloc((size_t)np * sizeof *iv + 8);
		hid_t nt = H5Tget_native_type(ft, H5T_DIR_ASCEND);

		if (iv && nt >= 0 && uvh5_read_i64(d, (size_t)np, iv) == 0) {
			for (i = 0; i < n && len < size; i++) {
				char name[64];
				long long val = iv[i];
				unsigned char raw[8];
				size_t sz = H5Tget_size(nt);

				memcpy(raw, &val, sizeof raw);
				if (sz > 8 || H5Tenum_nameof(nt, raw, name, sizeof name) < 0)
					snprintf(name, sizeof name, "%lld", val);
				len += snprintf(buf + len, size - len, "%s%s", i ? "," : "", name);
			}
		}
		if (nt >= 0)
			H5Tclose(nt);
		free(iv);
	}
	H5Eclear2(H5E_DEFAULT);
	H5Tclose(ft);
}

struct kwctx {
	struct uvh5_header *h;
	int nomem;
};

static herr_t kw_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
	struct kwctx *k = data;
	char val[sizeof k->h->keywords[0].value];
	hid_t d;
	H5O_info_t oi;

	(void)info;
	if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	d = H5Dopen2(g, name, H5P_DEFAULT);
	if (d < 0) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	render_value(d, val, sizeof val);
	H5Dclose(d);
	if (uvh5_header_set_keyword(k->h, name, val) < 0 && strlen(name) < 64)
		k->nomem = 1;
	return 0;
}

/* Read Header/extra_keywords (absent: none). Values are rendered as text. */
static int rd_keywords(struct uvh5_rd *r, struct uvh5_header *h)
{
	htri_t ex = H5Lexists(r->hdr, "extra_keywords", H5P_DEFAULT);
	struct kwctx k = { h, 0 };
	hid_t g;

	if (ex <= 0) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	g = H5Gopen2(r->hdr, "extra_keywords", H5P_DEFAULT);
	if (g < 0) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, kw_cb, &k);
	H5Eclear2(H5E_DEFAULT);
	H5Gclose(g);
	if (k.nomem) {
		uvh5_fail(r->status, r->err, EX_OSERR, "out of memory reading extra_keywords");
		return -1;
	}
	return 0;
}

/* A number or a string of a catalog entry's JSON (core/json: strict);
 * absent or invalid leaves the default. */
static void json_num(const char *js, const char *key, double *out)
{
	double v;
	if (json_get_number(js, key, &v) == 1)
		*out = v;
}

static void json_str(const char *js, const char *key, char *buf, size_t size)
{
	char v[256];
	if (json_get_string(js, key, v, sizeof v) == 1)
		snprintf(buf, size, "%s", v);
}

struct pcctx {
	struct uvh5_rd *r;
	struct uvh5_header *h;
	int failed;
};

static herr_t pc_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
	struct pcctx *c = data;
	struct uvh5_phase_center pc, *np;
	H5O_info_t oi;
	hid_t sub;

	(void)info;
	memset(&pc, 0, sizeof pc);
	if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	if (oi.type == H5O_TYPE_GROUP) {
		/* UVH5 1.2: one group per catalog id. */
		char *end;
		long id = strtol(name, &end, 10);

		pc.id = (int)id;
		sub = H5Gopen2(g, name, H5P_DEFAULT);
		if (sub < 0) {
			uvh5_rd_fail(c->r, "group", name);
			c->failed = 1;
			return 1;
		}
		if (uvh5_rd_str(c->r, sub, "cat_name", pc.name, sizeof pc.name, 0) < 0 ||
		    uvh5_rd_str(c->r, sub, "cat_type", pc.type, sizeof pc.type, 0) < 0 ||
		    uvh5_rd_f64(c->r, sub, "cat_lon", &pc.lon, 0) < 0 ||
		    uvh5_rd_f64(c->r, sub, "cat_lat", &pc.lat, 0) < 0 ||
		    uvh5_rd_f64(c->r, sub, "cat_epoch", &pc.epoch, 0) < 0 ||
		    uvh5_rd_str(c->r, sub, "cat_frame", pc.frame, sizeof pc.frame, 0) < 0) {
			H5Gclose(sub);
			c->failed = 1;
			return 1;
		}
		H5Gclose(sub);
	} else if (oi.type == H5O_TYPE_DATASET) {
		/* 2021-22 files: one JSON string per catalog name. */
		char *js = NULL;
		double id = 0;

		if (uvh5_rd_strdup(c->r, g, name, &js, 0) < 0) {
			c->failed = 1;
			return 1;
		}
		if (!js)
			return 0;
		snprintf(pc.name, sizeof pc.name, "%s", name);
		json_num(js, "cat_id", &id);
		pc.id = (int)id;
		json_str(js, "cat_type", pc.type, sizeof pc.type);
		json_num(js, "cat_lon", &pc.lon);
		json_num(js, "cat_lat", &pc.lat);
		json_num(js, "cat_epoch", &pc.epoch);
		json_str(js, "cat_frame", pc.frame, sizeof pc.frame);
		free(js);
	} else {
		return 0;
	}
	np = realloc(c->h->phase_centers, ((size_t)c->h->n_phase_centers + 1) * sizeof *np);
	if (!np) {
		uvh5_fail(c->r->status, c->r->err, EX_OSERR, "out of memory");
		c->failed = 1;
		return 1;
	}
	c->h->phase_centers = np;
	np[c->h->n_phase_centers++] = pc;
	return 0;
}

static int pc_cmp(const void *a, const void *b)
{
	const struct uvh5_phase_center *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/*
 * Phase centres: the catalog if present (group of groups, or group of JSON
 * strings), else one entry built from the 0.x/1.0 phase_type keys.
 */
static int rd_phase_centers(struct uvh5_rd *r, struct uvh5_header *h)
{
	htri_t ex = H5Lexists(r->hdr, "phase_center_catalog", H5P_DEFAULT);
	struct pcctx c = { r, h, 0 };
	struct uvh5_phase_center *pc;
	hid_t g;

	if (ex > 0) {
		g = H5Gopen2(r->hdr, "phase_center_catalog", H5P_DEFAULT);
		if (g < 0)
			return uvh5_rd_fail(r, "group", "phase_center_catalog");
		if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, pc_cb, &c) < 0 && !c.failed) {
			H5Gclose(g);
			return uvh5_rd_fail(r, "group", "phase_center_catalog");
		}
		H5Gclose(g);
		if (c.failed)
			return -1;
		if (h->n_phase_centers > 1)
			qsort(h->phase_centers, (size_t)h->n_phase_centers,
			    sizeof *h->phase_centers, pc_cmp);
		return 0;
	}
	H5Eclear2(H5E_DEFAULT);
	pc = calloc(1, sizeof *pc);
	if (!pc) {
		uvh5_fail(r->status, r->err, EX_OSERR, "out of memory");
		return -1;
	}
	h->phase_centers = pc;
	h->n_phase_centers = 1;
	snprintf(pc->name, sizeof pc->name, "%s", h->object_name[0] ? h->object_name : "zenith");
	if (strcmp(h->phase_type, "phased") == 0) {
		snprintf(pc->type, sizeof pc->type, "sidereal");
		if (uvh5_rd_f64(r, r->hdr, "phase_center_ra", &pc->lon, 0) < 0 ||
		    uvh5_rd_f64(r, r->hdr, "phase_center_dec", &pc->lat, 0) < 0 ||
		    uvh5_rd_f64(r, r->hdr, "phase_center_epoch", &pc->epoch, 0) < 0 ||
		    uvh5_rd_str(r, r->hdr, "phase_center_frame", pc->frame, sizeof pc->frame, 0) < 0)
			return -1;
	} else {
		snprintf(pc->type, sizeof pc->type, "unprojected");
	}
	return 0;
}

/*
 * phase_center_app_dec: one value per row (pyuvdata), or one scalar (the
 * DSA-110 writer since June 2022), repeated into every row with
 * h->app_dec_scalar set. 0 or -1.
 */
static int rd_app_dec(struct uvh5_rd *r, struct uvh5_header *h)
{
	hid_t d = uvh5_open_ds(r, r->hdr, "phase_center_app_dec", 0);
	hsize_t dims[4];
	int nd;
	int64_t m, k;
	double v;

	if (d <= 0)
		return d < 0 ? -1 : 0;
	m = uvh5_ds_shape(d, &nd, dims);
	if (m != 1 || (nd != 0 && h->Nblts == 1)) {
		H5Dclose(d);
		return m < 0 ? uvh5_rd_fail(r, "dataset", "phase_center_app_dec") :
		    uvh5_rd_arr(r, "phase_center_app_dec", h->Nblts, 0,
		    (void **)&h->phase_center_app_dec, 0);
	}
	if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0) {
		H5Dclose(d);
		return uvh5_rd_fail(r, "dataset", "phase_center_app_dec");
	}
	H5Dclose(d);
	h->phase_center_app_dec = malloc((size_t)h->Nblts * sizeof(double));
	if (!h->phase_center_app_dec) {
		uvh5_fail(r->status, r->err, EX_OSERR, "out of memory");
		return -1;
	}
	for (k = 0; k < h->Nblts; k++)
		h->phase_center_app_dec[k] = v;
	h->app_dec_scalar = 1;
	return 0;
}

/*
 * The version and the counts (Nblts, Nfreqs, ...) into h, checked for
 * sanity so that the arrays sized by them can be read. 0, or -1 with
 * the reason in r (EX_DATAERR for bad counts).
 */
static int rd_counts(struct uvh5_rd *r, struct uvh5_header *h)
{
	int64_t flex = 0;

	h->Nphase = 1;
	if (uvh5_rd_str(r, r->hdr, "version", h->version, sizeof h->version, 0) < 0)
		return -1;
	if (h->version[0])
		sscanf(h->version, "%d.%d", &h->version_major, &h->version_minor);
	if (uvh5_rd_i64(r, "Nants_data", &h->Nants_data, 1) < 0 ||
	    uvh5_rd_i64(r, "Nants_telescope", &h->Nants_telescope, 1) < 0 ||
	    uvh5_rd_i64(r, "Nbls", &h->Nbls, 1) < 0 ||
	    uvh5_rd_i64(r, "Nblts", &h->Nblts, 1) < 0 ||
	    uvh5_rd_i64(r, "Nfreqs", &h->Nfreqs, 1) < 0 ||
	    uvh5_rd_i64(r, "Npols", &h->Npols, 1) < 0 ||
	    uvh5_rd_i64(r, "Ntimes", &h->Ntimes, 1) < 0 ||
	    uvh5_rd_i64(r, "Nspws", &h->Nspws, 1) < 0 ||
	    uvh5_rd_i64(r, "Nphase", &h->Nphase, 0) < 0 ||
	    uvh5_rd_i64(r, "flex_spw", &flex, 0) < 0)
		return -1;
	h->flex_spw = flex != 0;
	if (h->Nants_telescope < 1 || h->Nblts < 1 || h->Nfreqs < 1 || h->Npols < 1 ||
	    h->Nspws < 1 || h->Nbls < 1 || h->Ntimes < 1 || h->Nants_data < 1 || h->Nphase < 1 ||
	    h->Nblts > ((int64_t)1 << 40) || h->Nfreqs > ((int64_t)1 << 30) ||
	    h->Npols > 16 || h->Nants_telescope > ((int64_t)1 << 24) || h->Nspws > h->Nfreqs) {
		uvh5_fail(r->status, r->err, EX_DATAERR,
		    "bad header counts in '%s': Nblts=%lld Nfreqs=%lld Npols=%lld "
		    "Nants_telescope=%lld Nspws=%lld", r->path, (long long)h->Nblts,
		    (long long)h->Nfreqs, (long long)h->Npols,
		    (long long)h->Nants_telescope, (long long)h->Nspws);
		return -1;
	}
	return 0;
}

/* The telescope's names, location, units and history into h; 0 or -1. */
static int rd_telescope(struct uvh5_rd *r, struct uvh5_header *h)
{
	if (uvh5_rd_str(r, r->hdr, "telescope_name", h->telescope_name, sizeof h->telescope_name, 1) < 0 ||
	    uvh5_rd_str(r, r->hdr, "instrument", h->instrument, sizeof h->instrument, 0) < 0 ||
	    uvh5_rd_str(r, r->hdr, "object_name", h->object_name, sizeof h->object_name, 0) < 0 ||
	    uvh5_rd_str(r, r->hdr, "x_orientation", h->x_orientation, sizeof h->x_orientation, 0) < 0 ||
	    uvh5_rd_str(r, r->hdr, "phase_type", h->phase_type, sizeof h->phase_type, 0) < 0 ||
	    uvh5_rd_str(r, r->hdr, "vis_units", h->vis_units, sizeof h->vis_units, 0) < 0 ||
	    uvh5_rd_f64(r, r->hdr, "latitude", &h->latitude, 1) < 0 ||
	    uvh5_rd_f64(r, r->hdr, "longitude", &h->longitude, 1) < 0 ||
	    uvh5_rd_f64(r, r->hdr, "altitude", &h->altitude, 1) < 0 ||
	    uvh5_rd_strdup(r, r->hdr, "history", &h->history, 0) < 0)
		return -1;
	if (!h->history && !(h->history = strdup(""))) {
		uvh5_fail(r->status, r->err, EX_OSERR, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * The antenna table into h: numbers, positions, diameters (optional) and
 * names, Nants_telescope of each. 0, or -1 with the reason in r.
 */
static int rd_antennas(struct uvh5_rd *r, struct uvh5_header *h)
{
	char **names;
	hid_t d;
	hsize_t dims[4];
	int nd;
	int64_t n, k;

	if (uvh5_rd_arr(r, "antenna_numbers", h->Nants_telescope, 1, (void **)&h->antenna_numbers, 1) < 0 ||
	    uvh5_rd_arr(r, "antenna_positions", h->Nants_telescope * 3, 0, (void **)&h->antenna_positions, 1) < 0 ||
	    uvh5_rd_arr(r, "antenna_diameters", h->Nants_telescope, 0, (void **)&h->antenna_diameters, 0) < 0)
		return -1;
	d = uvh5_open_ds(r, r->hdr, "antenna_names", 1);
	if (d < 0)
		return -1;
	n = uvh5_ds_shape(d, &nd, dims);
	if (n != h->Nants_telescope) {
		H5Dclose(d);
		return n < 0 ? uvh5_rd_fail(r, "dataset", "antenna_names") :
		    uvh5_rd_bad(r, "antenna_names", "length differs from Nants_telescope");
	}
	names = calloc((size_t)n, sizeof *names);
	h->antenna_names = calloc((size_t)n, sizeof *h->antenna_names);
	if (!names || !h->antenna_names || uvh5_read_strings(d, (size_t)n, names) < 0) {
		free(names);
		H5Dclose(d);
		return uvh5_rd_bad(r, "antenna_names", "not readable as strings");
	}
	H5Dclose(d);
	for (k = 0; k < n; k++) {
		snprintf(h->antenna_names[k], sizeof h->antenna_names[k], "%s", names[k]);
		free(names[k]);
	}
	free(names);
	return 0;
}

/*
 * The spectral arrays into h: freq_array, spw_array, flex_spw_id_array,
 * polarization_array, and channel_width expanded to one value per channel
 * when the file holds a scalar. 0, or -1 with the reason in r.
 */
static int rd_spectral(struct uvh5_rd *r, struct uvh5_header *h)
{
	double *f = NULL;
	hid_t d;
	hsize_t dims[4];
	int nd;
	int64_t n, k;

	if (uvh5_rd_arr(r, "freq_array", h->Nfreqs, 0, (void **)&h->freq_array, 1) < 0 ||
	    uvh5_rd_arr(r, "spw_array", h->Nspws, 1, (void **)&h->spw_array, 1) < 0 ||
	    uvh5_rd_arr(r, "flex_spw_id_array", h->Nfreqs, 1, (void **)&h->flex_spw_id_array, 0) < 0 ||
	    uvh5_rd_arr(r, "polarization_array", h->Npols, 1, (void **)&h->polarization_array, 1) < 0)
		return -1;
	d = uvh5_open_ds(r, r->hdr, "channel_width", 1);
	if (d < 0)
		return -1;
	n = uvh5_ds_shape(d, &nd, dims);
	if (n != 1 && n != h->Nfreqs) {
		H5Dclose(d);
		return n < 0 ? uvh5_rd_fail(r, "dataset", "channel_width") :
		    uvh5_rd_bad(r, "channel_width", "neither a scalar nor one per channel");
	}
	H5Dclose(d);
	if (uvh5_rd_arr(r, "channel_width", n, 0, (void **)&f, 1) < 0)
		return -1;
	h->channel_width = malloc((size_t)h->Nfreqs * sizeof(double));
	if (!h->channel_width) {
		free(f);
		uvh5_fail(r->status, r->err, EX_OSERR, "out of memory");
		return -1;
	}
	for (k = 0; k < h->Nfreqs; k++)
		h->channel_width[k] = f[n == 1 ? 0 : k];
	free(f);
	return 0;
}

int uvh5_read_header(struct uvh5_rd *r, struct uvh5_header *h)
{
	if (rd_counts(r, h) < 0 || rd_telescope(r, h) < 0 || rd_antennas(r, h) < 0)
		return -1;

	/* Per baseline-time. */
	if (uvh5_rd_arr(r, "ant_1_array", h->Nblts, 1, (void **)&h->ant_1_array, 1) < 0 ||
	    uvh5_rd_arr(r, "ant_2_array", h->Nblts, 1, (void **)&h->ant_2_array, 1) < 0 ||
	    uvh5_rd_arr(r, "uvw_array", h->Nblts * 3, 0, (void **)&h->uvw_array, 1) < 0 ||
	    uvh5_rd_arr(r, "time_array", h->Nblts, 0, (void **)&h->time_array, 1) < 0 ||
	    uvh5_rd_arr(r, "lst_array", h->Nblts, 0, (void **)&h->lst_array, 0) < 0 ||
	    uvh5_rd_arr(r, "integration_time", h->Nblts, 0, (void **)&h->integration_time, 0) < 0 ||
	    uvh5_rd_arr(r, "phase_center_id_array", h->Nblts, 1, (void **)&h->phase_center_id_array, 0) < 0 ||
	    uvh5_rd_arr(r, "phase_center_app_ra", h->Nblts, 0, (void **)&h->phase_center_app_ra, 0) < 0 ||
	    rd_app_dec(r, h) < 0 ||
	    uvh5_rd_arr(r, "phase_center_frame_pa", h->Nblts, 0, (void **)&h->phase_center_frame_pa, 0) < 0)
		return -1;

	if (rd_spectral(r, h) < 0 || rd_phase_centers(r, h) < 0 || rd_keywords(r, h) < 0)
		return -1;
	return 0;
}
