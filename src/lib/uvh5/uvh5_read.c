/*
 * uvh5_read.c: the UVH5 reader.
 *
 * uvh5_open reads every header value into a struct uvh5_header, accepting
 * the variants real files show (uvh5.h lists them), and opens the three
 * /Data datasets once. uvh5_read_rows then reads blocks of rows with one
 * hyperslab per dataset into the caller's buffers, reusing the cached
 * dataset, dataspace and memory-type ids; each dataset gets a chunk cache
 * that holds a full band of chunks across frequency and polarization, so a
 * chunk that straddles two row blocks is read (and decompressed) only once.
 *
 * libhdf5 copies chunk data to memory in runs as long as the chunk's
 * innermost extent: when chunks split the frequency or polarization axes
 * (h5py's automatic chunking does, down to one polarization a chunk) that
 * is one element at a time and ten times slower than the read itself. For
 * those datasets, when the stored type is already the memory type and the
 * only filter is LZF, we read the raw chunks of a row band ourselves
 * (H5Dread_chunk), decompress them with liblzf, keep the band for the next
 * block and copy out with tight loops. Otherwise libhdf5 does the work.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "uvh5/uvh5_priv.h"

struct dset {
	hid_t id, fspace, mtype;
	int ndim;
	hsize_t dims[4];
	int normalise;          /* integer flags: map nonzero to 1 */
	/* Direct chunk path (read_direct): */
	int direct;             /* chunks are copied out by us */
	int lzf;                /* chunks are LZF-compressed */
	size_t esize;           /* bytes an element, stored = memory */
	hsize_t cdims[4];       /* chunk shape */
	size_t cbytes;          /* bytes of one whole chunk */
	size_t nband;           /* chunks in one row band */
	int64_t band;           /* row band held in bandbuf, -1 none */
	unsigned char *bandbuf; /* nband decoded chunks */
	unsigned char *raw;     /* one stored chunk */
	size_t rawcap;
};

struct uvh5_file {
	hid_t fid;
	char *path;
	struct uvh5_header h;
	struct dset vis, flg, nsm;
	hid_t mspace;
	hsize_t mspace_n;
	int no_direct;          /* uvh5_set_direct(f, 0) */
};

/* Reading context: the open /Header group and where errors go. */
struct rd {
	hid_t hdr;
	const char *path;
	int *status;
	char *err;
};

static int h5fail(struct rd *r, const char *what, const char *name)
{
	char reason[256];
	int st = uvh5_h5_reason(reason, sizeof reason);

	uvh5_fail(r->status, r->err, st, "cannot read %s '%s' in '%s': %s",
	    what, name, r->path, reason);
	return -1;
}

static int bad(struct rd *r, const char *name, const char *why)
{
	uvh5_fail(r->status, r->err, EX_DATAERR, "bad dataset '%s' in '%s': %s",
	    name, r->path, why);
	return -1;
}

/*
 * Open loc/name as a dataset. Returns the id, 0 when absent (no such link,
 * or a null-dataspace dataset: how h5py writes None) and -1 on error (and
 * reports it if required or the link exists but cannot be opened).
 */
static hid_t open_ds(struct rd *r, hid_t loc, const char *name, int required)
{
	htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
	hid_t d, s;
	H5S_class_t c;

	if (ex < 0)
		return h5fail(r, "dataset", name);
	if (ex == 0) {
		if (required) {
			uvh5_fail(r->status, r->err, EX_DATAERR,
			    "missing dataset '%s' in '%s'", name, r->path);
			return -1;
		}
		return 0;
	}
	d = H5Dopen2(loc, name, H5P_DEFAULT);
	if (d < 0)
		return h5fail(r, "dataset", name);
	s = H5Dget_space(d);
	c = s < 0 ? H5S_NO_CLASS : H5Sget_simple_extent_type(s);
	if (s >= 0)
		H5Sclose(s);
	if (c == H5S_NULL) {
		H5Dclose(d);
		if (required) {
			uvh5_fail(r->status, r->err, EX_DATAERR,
			    "empty dataset '%s' in '%s'", name, r->path);
			return -1;
		}
		return 0;
	}
	if (c == H5S_NO_CLASS) {
		H5Dclose(d);
		return h5fail(r, "dataset", name);
	}
	return d;
}

/* Number of elements of d, shape in dims (up to 4 dims), -1 on error. */
static int64_t ds_shape(hid_t d, int *ndim, hsize_t dims[4])
{
	hid_t s = H5Dget_space(d);
	hssize_t n;
	int k;

	if (s < 0)
		return -1;
	k = H5Sget_simple_extent_ndims(s);
	if (k < 0 || k > 4) {
		H5Sclose(s);
		return -1;
	}
	if (H5Sget_simple_extent_dims(s, dims, NULL) < 0) {
		H5Sclose(s);
		return -1;
	}
	n = H5Sget_simple_extent_npoints(s);
	H5Sclose(s);
	*ndim = k;
	return n;
}

/*
 * Read all n elements of d as int64 into out. Integers of any width and
 * byte order and floats convert through libhdf5; enums (bools) are read in
 * their native base type and widened.
 */
static int read_i64(hid_t d, size_t n, int64_t *out)
{
	hid_t ft = H5Dget_type(d), mt;
	H5T_class_t c;
	herr_t e = -1;

	if (ft < 0)
		return -1;
	c = H5Tget_class(ft);
	if (c == H5T_INTEGER || c == H5T_FLOAT) {
		e = H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
	} else if (c == H5T_ENUM) {
		mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
		if (mt >= 0) {
			size_t sz = H5Tget_size(mt), i;
			H5T_sign_t sg = H5Tget_sign(mt);
			unsigned char *b = sz > 0 && sz <= 8 ? malloc(n * sz + 1) : NULL;

			if (b && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0) {
				for (i = 0; i < n; i++) {
					int64_t v = 0;
					uint64_t u = 0;
					memcpy(&u, b + i * sz, sz); /* little-endian host */
					if (sg == H5T_SGN_2 && sz < 8 && (u >> (sz * 8 - 1)) & 1)
						u |= ~(uint64_t)0 << (sz * 8);
					memcpy(&v, &u, 8);
					out[i] = v;
				}
				e = 0;
			}
			free(b);
			H5Tclose(mt);
		}
	}
	H5Tclose(ft);
	return e < 0 ? -1 : 0;
}

/* Read a scalar (or one-element) integer/bool; absent leaves *out. */
static int rd_i64(struct rd *r, const char *name, int64_t *out, int required)
{
	hid_t d = open_ds(r, r->hdr, name, required);
	hsize_t dims[4];
	int nd;
	int64_t n;

	if (d <= 0)
		return d < 0 ? -1 : 0;
	n = ds_shape(d, &nd, dims);
	if (n != 1) {
		H5Dclose(d);
		return n < 0 ? h5fail(r, "dataset", name) : bad(r, name, "not a scalar");
	}
	if (read_i64(d, 1, out) < 0) {
		H5Dclose(d);
		return h5fail(r, "dataset", name);
	}
	H5Dclose(d);
	return 0;
}

/* Read a scalar float; absent leaves *out. */
static int rd_f64(struct rd *r, hid_t loc, const char *name, double *out, int required)
{
	hid_t d = open_ds(r, loc, name, required);
	hsize_t dims[4];
	int nd;
	int64_t n;
	herr_t e;

	if (d <= 0)
		return d < 0 ? -1 : 0;
	n = ds_shape(d, &nd, dims);
	if (n != 1) {
		H5Dclose(d);
		return n < 0 ? h5fail(r, "dataset", name) : bad(r, name, "not a scalar");
	}
	e = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
	H5Dclose(d);
	return e < 0 ? h5fail(r, "dataset", name) : 0;
}

/*
 * Read all elements of a string dataset (fixed or variable length) into
 * n malloc'd strings. Fixed-length values keep everything up to the first
 * NUL, as h5dump shows them.
 */
static int read_strings(hid_t d, size_t n, char **out)
{
	hid_t ft = H5Dget_type(d), mt = -1, sp = -1;
	size_t i, sz;
	int rc = -1;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	if (ft < 0)
		return -1;
	if (H5Tget_class(ft) != H5T_STRING)
		goto done;
	mt = H5Tcopy(H5T_C_S1);
	if (mt < 0)
		goto done;
	if (H5Tis_variable_str(ft) > 0) {
		char **v = calloc(n ? n : 1, sizeof *v);

		if (!v || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
		    H5Tset_cset(mt, H5Tget_cset(ft)) < 0 ||
		    H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
			free(v);
			goto done;
		}
		rc = 0;
		for (i = 0; i < n; i++)
			if (!(out[i] = strdup(v[i] ? v[i] : "")))
				rc = -1;
		sp = H5Dget_space(d);
		if (sp >= 0)
			H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
		free(v);
	} else {
		char *b;

		sz = H5Tget_size(ft);
		if (sz == 0 || H5Tset_size(mt, sz) < 0 ||
		    H5Tset_strpad(mt, H5T_STR_NULLPAD) < 0 ||
		    H5Tset_cset(mt, H5Tget_cset(ft)) < 0)
			goto done;
		b = malloc(n * sz + 1);
		if (!b)
			goto done;
		if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0) {
			free(b);
			goto done;
		}
		rc = 0;
		for (i = 0; i < n; i++)
			if (!(out[i] = strndup(b + i * sz, sz)))
				rc = -1;
		free(b);
	}
done:
	if (rc < 0)
		for (i = 0; i < n; i++) {
			free(out[i]);
			out[i] = NULL;
		}
	if (sp >= 0)
		H5Sclose(sp);
	if (mt >= 0)
		H5Tclose(mt);
	H5Tclose(ft);
	return rc;
}

/* Read a scalar string into a malloc'd *out; absent leaves *out. */
static int rd_strdup(struct rd *r, hid_t loc, const char *name, char **out, int required)
{
	hid_t d = open_ds(r, loc, name, required);
	hsize_t dims[4];
	int nd;
	int64_t n;
	char *s;

	if (d <= 0)
		return d < 0 ? -1 : 0;
	n = ds_shape(d, &nd, dims);
	if (n != 1) {
		H5Dclose(d);
		return n < 0 ? h5fail(r, "dataset", name) : bad(r, name, "not a scalar string");
	}
	if (read_strings(d, 1, &s) < 0) {
		H5Dclose(d);
		return bad(r, name, "not a readable string");
	}
	H5Dclose(d);
	free(*out);
	*out = s;
	return 0;
}

/* Read a scalar string into a fixed buffer (truncating); absent leaves it. */
static int rd_str(struct rd *r, hid_t loc, const char *name, char *buf, size_t size, int required)
{
	char *s = NULL;

	if (rd_strdup(r, loc, name, &s, required) < 0)
		return -1;
	if (s) {
		snprintf(buf, size, "%s", s);
		free(s);
	}
	return 0;
}

/*
 * Read a numeric array that must hold exactly n elements (any shape) into
 * a new malloc'd array: int64 if is_int, else double. Absent: *out NULL.
 */
static int rd_arr(struct rd *r, const char *name, int64_t n, int is_int, void **out, int required)
{
	hid_t d = open_ds(r, r->hdr, name, required);
	hsize_t dims[4];
	int nd;
	int64_t m;
	void *b;
	int e;
	char why[96];

	*out = NULL;
	if (d <= 0)
		return d < 0 ? -1 : 0;
	m = ds_shape(d, &nd, dims);
	if (m < 0) {
		H5Dclose(d);
		return h5fail(r, "dataset", name);
	}
	if (m != n) {
		H5Dclose(d);
		snprintf(why, sizeof why, "%lld elements, expected %lld",
		    (long long)m, (long long)n);
		return bad(r, name, why);
	}
	b = malloc(n > 0 ? (size_t)n * 8 : 8);
	if (!b) {
		H5Dclose(d);
		uvh5_fail(r->status, r->err, EX_OSERR, "out of memory reading '%s'", name);
		return -1;
	}
	if (n == 0)
		e = 0;
	else if (is_int)
		e = read_i64(d, (size_t)n, b);
	else
		e = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0 ? -1 : 0;
	H5Dclose(d);
	if (e < 0) {
		free(b);
		return h5fail(r, "dataset", name);
	}
	*out = b;
	return 0;
}

/* Render the value of dataset d (any small type) as text into buf. */
static void render_value(hid_t d, char *buf, size_t size)
{
	hid_t ft = H5Dget_type(d);
	hsize_t dims[4];
	int nd, i, n;
	int64_t np = ds_shape(d, &nd, dims);
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

		if (s && read_strings(d, (size_t)np, s) == 0)
			for (i = 0; i < (int)np; i++) {
				if (i < n && len < size)
					len += snprintf(buf + len, size - len, "%s%s", i ? "," : "", s[i]);
				free(s[i]);
			}
		free(s);
	} else if (c == H5T_INTEGER || c == H5T_FLOAT) {
		double *v = malloc((size_t)np * sizeof *v + 8);
		int64_t *iv = malloc((size_t)np * sizeof *iv + 8);

		if (c == H5T_INTEGER && iv && read_i64(d, (size_t)np, iv) == 0) {
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

		if (iv && nt >= 0 && read_i64(d, (size_t)np, iv) == 0) {
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
static int rd_keywords(struct rd *r, struct uvh5_header *h)
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

/* Find "key" in a flat JSON object; pointer to its value or NULL. */
static const char *json_find(const char *js, const char *key)
{
	size_t kl = strlen(key);
	const char *p = js;

	while ((p = strchr(p, '"')) != NULL) {
		p++;
		if (strncmp(p, key, kl) == 0 && p[kl] == '"') {
			p += kl + 1;
			while (*p == ' ' || *p == '\t' || *p == '\n')
				p++;
			if (*p != ':')
				continue;
			p++;
			while (*p == ' ' || *p == '\t' || *p == '\n')
				p++;
			return p;
		}
		/* skip the rest of this string */
		while (*p && *p != '"') {
			if (*p == '\\' && p[1])
				p++;
			p++;
		}
		if (*p)
			p++;
	}
	return NULL;
}

static void json_str(const char *js, const char *key, char *buf, size_t size)
{
	const char *p = json_find(js, key);
	size_t n = 0;

	if (!p || *p != '"')
		return;
	p++;
	while (*p && *p != '"' && n + 1 < size) {
		if (*p == '\\' && p[1])
			p++;
		buf[n++] = *p++;
	}
	buf[n] = '\0';
}

static void json_num(const char *js, const char *key, double *out)
{
	const char *p = json_find(js, key);
	char *end;
	double v;

	if (!p)
		return;
	v = strtod(p, &end);
	if (end != p)
		*out = v;
}

struct pcctx {
	struct rd *r;
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
			h5fail(c->r, "group", name);
			c->failed = 1;
			return 1;
		}
		if (rd_str(c->r, sub, "cat_name", pc.name, sizeof pc.name, 0) < 0 ||
		    rd_str(c->r, sub, "cat_type", pc.type, sizeof pc.type, 0) < 0 ||
		    rd_f64(c->r, sub, "cat_lon", &pc.lon, 0) < 0 ||
		    rd_f64(c->r, sub, "cat_lat", &pc.lat, 0) < 0 ||
		    rd_f64(c->r, sub, "cat_epoch", &pc.epoch, 0) < 0 ||
		    rd_str(c->r, sub, "cat_frame", pc.frame, sizeof pc.frame, 0) < 0) {
			H5Gclose(sub);
			c->failed = 1;
			return 1;
		}
		H5Gclose(sub);
	} else if (oi.type == H5O_TYPE_DATASET) {
		/* 2021-22 files: one JSON string per catalog name. */
		char *js = NULL;
		double id = 0;

		if (rd_strdup(c->r, g, name, &js, 0) < 0) {
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
static int rd_phase_centers(struct rd *r, struct uvh5_header *h)
{
	htri_t ex = H5Lexists(r->hdr, "phase_center_catalog", H5P_DEFAULT);
	struct pcctx c = { r, h, 0 };
	struct uvh5_phase_center *pc;
	hid_t g;

	if (ex > 0) {
		g = H5Gopen2(r->hdr, "phase_center_catalog", H5P_DEFAULT);
		if (g < 0)
			return h5fail(r, "group", "phase_center_catalog");
		if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, pc_cb, &c) < 0 && !c.failed) {
			H5Gclose(g);
			return h5fail(r, "group", "phase_center_catalog");
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
		if (rd_f64(r, r->hdr, "phase_center_ra", &pc->lon, 0) < 0 ||
		    rd_f64(r, r->hdr, "phase_center_dec", &pc->lat, 0) < 0 ||
		    rd_f64(r, r->hdr, "phase_center_epoch", &pc->epoch, 0) < 0 ||
		    rd_str(r, r->hdr, "phase_center_frame", pc->frame, sizeof pc->frame, 0) < 0)
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
static int rd_app_dec(struct rd *r, struct uvh5_header *h)
{
	hid_t d = open_ds(r, r->hdr, "phase_center_app_dec", 0);
	hsize_t dims[4];
	int nd;
	int64_t m, k;
	double v;

	if (d <= 0)
		return d < 0 ? -1 : 0;
	m = ds_shape(d, &nd, dims);
	if (m != 1 || (nd != 0 && h->Nblts == 1)) {
		H5Dclose(d);
		return m < 0 ? h5fail(r, "dataset", "phase_center_app_dec") :
		    rd_arr(r, "phase_center_app_dec", h->Nblts, 0,
		    (void **)&h->phase_center_app_dec, 0);
	}
	if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0) {
		H5Dclose(d);
		return h5fail(r, "dataset", "phase_center_app_dec");
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

/* Read the whole header; 0 or -1 with r's error set. */
static int rd_header(struct rd *r, struct uvh5_header *h)
{
	int64_t flex = 0;
	double *f = NULL;
	char **names;
	hid_t d;
	hsize_t dims[4];
	int nd;
	int64_t n, k;

	h->Nphase = 1;
	if (rd_str(r, r->hdr, "version", h->version, sizeof h->version, 0) < 0)
		return -1;
	if (h->version[0])
		sscanf(h->version, "%d.%d", &h->version_major, &h->version_minor);
	if (rd_i64(r, "Nants_data", &h->Nants_data, 1) < 0 ||
	    rd_i64(r, "Nants_telescope", &h->Nants_telescope, 1) < 0 ||
	    rd_i64(r, "Nbls", &h->Nbls, 1) < 0 ||
	    rd_i64(r, "Nblts", &h->Nblts, 1) < 0 ||
	    rd_i64(r, "Nfreqs", &h->Nfreqs, 1) < 0 ||
	    rd_i64(r, "Npols", &h->Npols, 1) < 0 ||
	    rd_i64(r, "Ntimes", &h->Ntimes, 1) < 0 ||
	    rd_i64(r, "Nspws", &h->Nspws, 1) < 0 ||
	    rd_i64(r, "Nphase", &h->Nphase, 0) < 0 ||
	    rd_i64(r, "flex_spw", &flex, 0) < 0)
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
	if (rd_str(r, r->hdr, "telescope_name", h->telescope_name, sizeof h->telescope_name, 1) < 0 ||
	    rd_str(r, r->hdr, "instrument", h->instrument, sizeof h->instrument, 0) < 0 ||
	    rd_str(r, r->hdr, "object_name", h->object_name, sizeof h->object_name, 0) < 0 ||
	    rd_str(r, r->hdr, "x_orientation", h->x_orientation, sizeof h->x_orientation, 0) < 0 ||
	    rd_str(r, r->hdr, "phase_type", h->phase_type, sizeof h->phase_type, 0) < 0 ||
	    rd_str(r, r->hdr, "vis_units", h->vis_units, sizeof h->vis_units, 0) < 0 ||
	    rd_f64(r, r->hdr, "latitude", &h->latitude, 1) < 0 ||
	    rd_f64(r, r->hdr, "longitude", &h->longitude, 1) < 0 ||
	    rd_f64(r, r->hdr, "altitude", &h->altitude, 1) < 0 ||
	    rd_strdup(r, r->hdr, "history", &h->history, 0) < 0)
		return -1;
	if (!h->history && !(h->history = strdup(""))) {
		uvh5_fail(r->status, r->err, EX_OSERR, "out of memory");
		return -1;
	}

	/* Antennas. */
	if (rd_arr(r, "antenna_numbers", h->Nants_telescope, 1, (void **)&h->antenna_numbers, 1) < 0 ||
	    rd_arr(r, "antenna_positions", h->Nants_telescope * 3, 0, (void **)&h->antenna_positions, 1) < 0 ||
	    rd_arr(r, "antenna_diameters", h->Nants_telescope, 0, (void **)&h->antenna_diameters, 0) < 0)
		return -1;
	d = open_ds(r, r->hdr, "antenna_names", 1);
	if (d < 0)
		return -1;
	n = ds_shape(d, &nd, dims);
	if (n != h->Nants_telescope) {
		H5Dclose(d);
		return n < 0 ? h5fail(r, "dataset", "antenna_names") :
		    bad(r, "antenna_names", "length differs from Nants_telescope");
	}
	names = calloc((size_t)n, sizeof *names);
	h->antenna_names = calloc((size_t)n, sizeof *h->antenna_names);
	if (!names || !h->antenna_names || read_strings(d, (size_t)n, names) < 0) {
		free(names);
		H5Dclose(d);
		return bad(r, "antenna_names", "not readable as strings");
	}
	H5Dclose(d);
	for (k = 0; k < n; k++) {
		snprintf(h->antenna_names[k], sizeof h->antenna_names[k], "%s", names[k]);
		free(names[k]);
	}
	free(names);

	/* Per baseline-time. */
	if (rd_arr(r, "ant_1_array", h->Nblts, 1, (void **)&h->ant_1_array, 1) < 0 ||
	    rd_arr(r, "ant_2_array", h->Nblts, 1, (void **)&h->ant_2_array, 1) < 0 ||
	    rd_arr(r, "uvw_array", h->Nblts * 3, 0, (void **)&h->uvw_array, 1) < 0 ||
	    rd_arr(r, "time_array", h->Nblts, 0, (void **)&h->time_array, 1) < 0 ||
	    rd_arr(r, "lst_array", h->Nblts, 0, (void **)&h->lst_array, 0) < 0 ||
	    rd_arr(r, "integration_time", h->Nblts, 0, (void **)&h->integration_time, 0) < 0 ||
	    rd_arr(r, "phase_center_id_array", h->Nblts, 1, (void **)&h->phase_center_id_array, 0) < 0 ||
	    rd_arr(r, "phase_center_app_ra", h->Nblts, 0, (void **)&h->phase_center_app_ra, 0) < 0 ||
	    rd_app_dec(r, h) < 0 ||
	    rd_arr(r, "phase_center_frame_pa", h->Nblts, 0, (void **)&h->phase_center_frame_pa, 0) < 0)
		return -1;

	/* Spectral: freq_array (Nfreqs) or (1,Nfreqs); channel_width scalar or per channel. */
	if (rd_arr(r, "freq_array", h->Nfreqs, 0, (void **)&h->freq_array, 1) < 0 ||
	    rd_arr(r, "spw_array", h->Nspws, 1, (void **)&h->spw_array, 1) < 0 ||
	    rd_arr(r, "flex_spw_id_array", h->Nfreqs, 1, (void **)&h->flex_spw_id_array, 0) < 0 ||
	    rd_arr(r, "polarization_array", h->Npols, 1, (void **)&h->polarization_array, 1) < 0)
		return -1;
	d = open_ds(r, r->hdr, "channel_width", 1);
	if (d < 0)
		return -1;
	n = ds_shape(d, &nd, dims);
	if (n != 1 && n != h->Nfreqs) {
		H5Dclose(d);
		return n < 0 ? h5fail(r, "dataset", "channel_width") :
		    bad(r, "channel_width", "neither a scalar nor one per channel");
	}
	H5Dclose(d);
	if (rd_arr(r, "channel_width", n, 0, (void **)&f, 1) < 0)
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

	if (rd_phase_centers(r, h) < 0 || rd_keywords(r, h) < 0)
		return -1;
	return 0;
}

/* Smallest prime >= n (chunk cache slot counts should be prime). */
static size_t prime_at_least(size_t n)
{
	size_t p, q;

	for (p = n | 1;; p += 2) {
		for (q = 3; q * q <= p; q += 2)
			if (p % q == 0)
				break;
		if (q * q > p)
			return p;
	}
}

/*
 * Open /Data/name with a chunk cache big enough for one band of chunks
 * across all non-row axes (so that row blocks which split chunks do not
 * re-read or re-decompress them), and check its shape against h.
 */
static int open_data(struct rd *r, hid_t data, const char *name, const struct uvh5_header *h,
    struct dset *ds)
{
	hid_t d, dcpl, ft, dapl;
	hsize_t chunk[4];
	int k;
	char why[160];

	d = open_ds(r, data, name, 1);
	if (d < 0)
		return -1;
	if (ds_shape(d, &ds->ndim, ds->dims) < 0) {
		H5Dclose(d);
		return h5fail(r, "dataset", name);
	}
	if (!((ds->ndim == 3 && (int64_t)ds->dims[0] == h->Nblts &&
	    (int64_t)ds->dims[1] == h->Nfreqs && (int64_t)ds->dims[2] == h->Npols) ||
	    (ds->ndim == 4 && (int64_t)ds->dims[0] == h->Nblts && ds->dims[1] == 1 &&
	    (int64_t)ds->dims[2] == h->Nfreqs && (int64_t)ds->dims[3] == h->Npols))) {
		H5Dclose(d);
		snprintf(why, sizeof why, "shape does not match (Nblts,Nfreqs,Npols) = (%lld,%lld,%lld)",
		    (long long)h->Nblts, (long long)h->Nfreqs, (long long)h->Npols);
		uvh5_fail(r->status, r->err, EX_DATAERR, "bad dataset '/Data/%s' in '%s': %s",
		    name, r->path, why);
		return -1;
	}
	dcpl = H5Dget_create_plist(d);
	ft = H5Dget_type(d);
	if (dcpl >= 0 && ft >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED &&
	    H5Pget_chunk(dcpl, ds->ndim, chunk) == ds->ndim) {
		size_t nchunks = 1, bytes = H5Tget_size(ft);

		for (k = 0; k < ds->ndim; k++) {
			if (chunk[k] == 0)
				chunk[k] = 1;
			bytes *= chunk[k];
			if (k > 0)
				nchunks *= (ds->dims[k] + chunk[k] - 1) / chunk[k];
		}
		bytes *= nchunks;
		if (bytes < ((size_t)1 << 20))
			bytes = (size_t)1 << 20;
		if (bytes > ((size_t)64 << 20))
			bytes = (size_t)64 << 20;
		dapl = H5Pcreate(H5P_DATASET_ACCESS);
		if (dapl >= 0 && H5Pset_chunk_cache(dapl, prime_at_least(nchunks * 20 + 101),
		    bytes + 4096, 1.0) >= 0) {
			hid_t d2 = H5Dopen2(data, name, dapl);
			if (d2 >= 0) {
				H5Dclose(d);
				d = d2;
			}
		}
		if (dapl >= 0)
			H5Pclose(dapl);
	}
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (ft >= 0)
		H5Tclose(ft);
	H5Eclear2(H5E_DEFAULT);
	ds->id = d;
	ds->fspace = H5Dget_space(d);
	if (ds->fspace < 0)
		return h5fail(r, "dataset", name);
	return 0;
}

/* Memory type for visdata: {float r; float i;}, checking the file type. */
static int vis_type(struct rd *r, struct uvh5_file *f)
{
	hid_t ft = H5Dget_type(f->vis.id), m0 = -1, m1 = -1, mt;
	char *n0 = NULL, *n1 = NULL;
	int ok = 0;

	if (ft < 0)
		return h5fail(r, "dataset", "/Data/visdata");
	if (H5Tget_class(ft) == H5T_COMPOUND && H5Tget_nmembers(ft) == 2) {
		n0 = H5Tget_member_name(ft, 0);
		n1 = H5Tget_member_name(ft, 1);
		m0 = H5Tget_member_type(ft, 0);
		m1 = H5Tget_member_type(ft, 1);
		if (n0 && n1 && m0 >= 0 && m1 >= 0 &&
		    ((strcmp(n0, "r") == 0 && strcmp(n1, "i") == 0) ||
		    (strcmp(n0, "i") == 0 && strcmp(n1, "r") == 0)) &&
		    H5Tget_class(m0) == H5Tget_class(m1)) {
			H5T_class_t c = H5Tget_class(m0);
			size_t sz = H5Tget_size(m0);

			if (c == H5T_FLOAT && sz == 4)
				f->h.vistype = UVH5_CF32, ok = 1;
			else if (c == H5T_FLOAT && sz == 8)
				f->h.vistype = UVH5_CF64, ok = 1;
			else if (c == H5T_INTEGER)
				f->h.vistype = UVH5_CI32, ok = 1;
		}
	}
	if (n0)
		H5free_memory(n0);
	if (n1)
		H5free_memory(n1);
	if (m0 >= 0)
		H5Tclose(m0);
	if (m1 >= 0)
		H5Tclose(m1);
	H5Tclose(ft);
	if (!ok) {
		uvh5_fail(r->status, r->err, EX_DATAERR,
		    "bad dataset '/Data/visdata' in '%s': not an {r,i} compound of float or int",
		    r->path);
		return -1;
	}
	mt = H5Tcreate(H5T_COMPOUND, 2 * sizeof(float));
	if (mt < 0 || H5Tinsert(mt, "r", 0, H5T_NATIVE_FLOAT) < 0 ||
	    H5Tinsert(mt, "i", sizeof(float), H5T_NATIVE_FLOAT) < 0) {
		if (mt >= 0)
			H5Tclose(mt);
		return h5fail(r, "dataset", "/Data/visdata");
	}
	f->vis.mtype = mt;
	return 0;
}

/* Memory types for flags (bool enum or integer -> uint8) and nsamples. */
static int flag_types(struct rd *r, struct uvh5_file *f)
{
	hid_t ft = H5Dget_type(f->flg.id);
	H5T_class_t c = ft < 0 ? H5T_NO_CLASS : H5Tget_class(ft);

	if (ft >= 0)
		H5Tclose(ft);
	if (c == H5T_ENUM) {
		f->flg.mtype = uvh5_bool_type();
	} else if (c == H5T_INTEGER) {
		f->flg.mtype = H5Tcopy(H5T_NATIVE_UINT8);
		f->flg.normalise = 1;
	} else {
		uvh5_fail(r->status, r->err, EX_DATAERR,
		    "bad dataset '/Data/flags' in '%s': not a bool enum", r->path);
		return -1;
	}
	ft = H5Dget_type(f->nsm.id);
	c = ft < 0 ? H5T_NO_CLASS : H5Tget_class(ft);
	if (ft >= 0)
		H5Tclose(ft);
	if (c != H5T_FLOAT && c != H5T_INTEGER) {
		uvh5_fail(r->status, r->err, EX_DATAERR,
		    "bad dataset '/Data/nsamples' in '%s': not numeric", r->path);
		return -1;
	}
	f->nsm.mtype = H5Tcopy(H5T_NATIVE_FLOAT);
	if (f->flg.mtype < 0 || f->nsm.mtype < 0)
		return h5fail(r, "dataset", "/Data/flags");
	return 0;
}

/*
 * Decide whether ds takes the direct chunk path: chunked, chunks not
 * spanning the full frequency/polarization extent, stored type equal to the
 * memory type, no filter but LZF, and a row band of at most 256 MB.
 */
static void setup_direct(struct dset *ds)
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

/*
 * Check that path can be opened and read as a regular file, to classify
 * failures before libhdf5 blurs them: missing -> EX_NOINPUT; permission,
 * directory or other read errors -> EX_IOERR.
 */
static int probe(const char *path, int *status, char *err)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char c;

	if (fd < 0) {
		uvh5_fail(status, err, (errno == ENOENT || errno == ENOTDIR) ? EX_NOINPUT : EX_IOERR,
		    "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && (errno = S_ISDIR(st.st_mode) ?
	    EISDIR : EINVAL)) || pread(fd, &c, 1, 0) < 0) {
		uvh5_fail(status, err, EX_IOERR, "cannot read '%s': %s", path,
		    errno == EINVAL ? "not a regular file" : strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

uvh5_file *uvh5_open(const char *path, int *status, char *err)
{
	struct uvh5_file *f;
	struct rd r = { -1, path, status, err };
	hid_t fapl, data = -1;
	htri_t is;
	char reason[256];

	if (uvh5_register_lzf() < 0) {
		uvh5_fail(status, err, EX_SOFTWARE, "cannot register the lzf filter");
		return NULL;
	}
	if (probe(path, status, err) < 0)
		return NULL;
	is = H5Fis_hdf5(path);
	if (is <= 0) {
		int st = uvh5_h5_reason(reason, sizeof reason);
		uvh5_fail(status, err, is == 0 ? EX_DATAERR : st, "cannot read '%s': %s", path,
		    is == 0 ? "not an HDF5 file" : reason);
		return NULL;
	}
	f = calloc(1, sizeof *f);
	if (!f || !(f->path = strdup(path))) {
		free(f);
		uvh5_fail(status, err, EX_OSERR, "out of memory");
		return NULL;
	}
	f->fid = f->vis.id = f->flg.id = f->nsm.id = -1;
	f->vis.fspace = f->flg.fspace = f->nsm.fspace = -1;
	f->vis.mtype = f->flg.mtype = f->nsm.mtype = f->mspace = -1;
	r.path = f->path;
	fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl >= 0)
		H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
	f->fid = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
	if (fapl >= 0)
		H5Pclose(fapl);
	if (f->fid < 0) {
		int st = uvh5_h5_reason(reason, sizeof reason);
		uvh5_fail(status, err, st, "cannot read '%s': %s", path, reason);
		goto fail;
	}
	r.hdr = H5Gopen2(f->fid, "Header", H5P_DEFAULT);
	if (r.hdr < 0) {
		H5Eclear2(H5E_DEFAULT);
		uvh5_fail(status, err, EX_DATAERR, "missing group '/Header' in '%s'", path);
		goto fail;
	}
	if (rd_header(&r, &f->h) < 0)
		goto fail;
	data = H5Gopen2(f->fid, "Data", H5P_DEFAULT);
	if (data < 0) {
		H5Eclear2(H5E_DEFAULT);
		uvh5_fail(status, err, EX_DATAERR, "missing group '/Data' in '%s'", path);
		goto fail;
	}
	if (open_data(&r, data, "visdata", &f->h, &f->vis) < 0 ||
	    open_data(&r, data, "flags", &f->h, &f->flg) < 0 ||
	    open_data(&r, data, "nsamples", &f->h, &f->nsm) < 0 ||
	    vis_type(&r, f) < 0 || flag_types(&r, f) < 0)
		goto fail;
	if (f->vis.ndim != f->flg.ndim || f->vis.ndim != f->nsm.ndim) {
		uvh5_fail(status, err, EX_DATAERR, "bad datasets in '%s': /Data ranks differ", path);
		goto fail;
	}
	f->h.data_ndim = f->vis.ndim;
	setup_direct(&f->vis);
	setup_direct(&f->flg);
	setup_direct(&f->nsm);
	H5Gclose(data);
	H5Gclose(r.hdr);
	return f;
fail:
	if (data >= 0)
		H5Gclose(data);
	if (r.hdr >= 0)
		H5Gclose(r.hdr);
	uvh5_close(f);
	H5Eclear2(H5E_DEFAULT);
	return NULL;
}

const struct uvh5_header *uvh5_header(const uvh5_file *f)
{
	return &f->h;
}

/* Decode row band b of ds (all its chunks) into ds->bandbuf. */
static int load_band(uvh5_file *f, struct dset *ds, const char *name, int64_t b,
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
				    name, f->path, (unsigned long long)off[0]);
				return -1;
			}
		} else if (stored == ds->cbytes) {
			memcpy(dst, ds->raw, ds->cbytes);
		} else {
			uvh5_fail(status, err, EX_DATAERR,
			    "cannot read '/Data/%s' in '%s': chunk at row %llu has %llu bytes, not %zu",
			    name, f->path, (unsigned long long)off[0], (unsigned long long)stored,
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
		    name, (unsigned long long)off[0], f->path, reason);
	}
	return -1;
}

/*
 * Copy rows [row0,row0+nrows) of ds to out (rows, F, P) from its decoded
 * row bands, loading each band once.
 */
static int read_direct(uvh5_file *f, struct dset *ds, const char *name, int64_t row0,
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

		if (ds->band != b && load_band(f, ds, name, b, status, err) < 0)
			return -1;
		/* Row by row, all chunks of the band: the output is written in
		 * order, the band's chunks are read as parallel streams. */
		for (r = r0; r < r1; r++) {
			unsigned char *orow = o + (r - (size_t)row0) * F * P * es;
			size_t cr = (r - (size_t)b * c0) * cf * cp * es;

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

/* Read rows into buf through ds's cached ids. */
static int read_block(uvh5_file *f, struct dset *ds, const char *name, int64_t row0,
    int64_t nrows, void *buf, int *status, char *err)
{
	hsize_t start[4] = { 0, 0, 0, 0 }, count[4];
	char reason[256];
	int k;

	if (ds->direct && !f->no_direct)
		return read_direct(f, ds, name, row0, nrows, buf, status, err);
	for (k = 0; k < ds->ndim; k++)
		count[k] = ds->dims[k];
	start[0] = (hsize_t)row0;
	count[0] = (hsize_t)nrows;
	if (H5Sselect_hyperslab(ds->fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
	    H5Dread(ds->id, ds->mtype, f->mspace, ds->fspace, H5P_DEFAULT, buf) < 0) {
		int st = uvh5_h5_reason(reason, sizeof reason);
		uvh5_fail(status, err, st, "cannot read '/Data/%s' rows %lld-%lld in '%s': %s",
		    name, (long long)row0, (long long)(row0 + nrows - 1), f->path, reason);
		return -1;
	}
	return 0;
}

int uvh5_read_rows(uvh5_file *f, int64_t row0, int64_t nrows,
    float complex *vis, uint8_t *flags, float *nsamples, int *status, char *err)
{
	hsize_t n, mdims[4];
	size_t i;
	int k;

	if (row0 < 0 || nrows < 0 || row0 > f->h.Nblts || nrows > f->h.Nblts - row0) {
		uvh5_fail(status, err, EX_SOFTWARE, "rows %lld+%lld out of range for '%s' (Nblts=%lld)",
		    (long long)row0, (long long)nrows, f->path, (long long)f->h.Nblts);
		return -1;
	}
	if (nrows == 0)
		return 0;
	n = (hsize_t)nrows * (hsize_t)f->h.Nfreqs * (hsize_t)f->h.Npols;
	/* The memory space has the file selection's exact shape: libhdf5 maps
	 * chunks to memory by whole hyperslabs only when the shapes agree, and
	 * element by element (many times slower) otherwise. */
	if (f->mspace < 0 || f->mspace_n != n) {
		if (f->mspace >= 0)
			H5Sclose(f->mspace);
		for (k = 0; k < f->vis.ndim; k++)
			mdims[k] = f->vis.dims[k];
		mdims[0] = (hsize_t)nrows;
		f->mspace = H5Screate_simple(f->vis.ndim, mdims, NULL);
		f->mspace_n = n;
		if (f->mspace < 0) {
			uvh5_fail(status, err, EX_OSERR, "cannot create a dataspace of %llu elements",
			    (unsigned long long)n);
			return -1;
		}
	}
	if (vis && read_block(f, &f->vis, "visdata", row0, nrows, vis, status, err) < 0)
		return -1;
	if (flags && read_block(f, &f->flg, "flags", row0, nrows, flags, status, err) < 0)
		return -1;
	if (flags && f->flg.normalise)
		for (i = 0; i < n; i++)
			flags[i] = flags[i] != 0;
	if (nsamples && read_block(f, &f->nsm, "nsamples", row0, nrows, nsamples, status, err) < 0)
		return -1;
	return 0;
}

void uvh5_set_direct(uvh5_file *f, int on)
{
	f->no_direct = !on;
}

static void close_dset(struct dset *d)
{
	free(d->bandbuf);
	free(d->raw);
	if (d->mtype >= 0)
		H5Tclose(d->mtype);
	if (d->fspace >= 0)
		H5Sclose(d->fspace);
	if (d->id >= 0)
		H5Dclose(d->id);
}

void uvh5_close(uvh5_file *f)
{
	if (!f)
		return;
	close_dset(&f->vis);
	close_dset(&f->flg);
	close_dset(&f->nsm);
	if (f->mspace >= 0)
		H5Sclose(f->mspace);
	if (f->fid >= 0)
		H5Fclose(f->fid);
	H5Eclear2(H5E_DEFAULT);
	uvh5_header_free(&f->h);
	free(f->path);
	free(f);
}
