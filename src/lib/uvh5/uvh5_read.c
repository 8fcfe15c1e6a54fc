/*
 * uvh5_read.c: the typed readers of the UVH5 reader's header half (their
 * contracts in uvh5_priv.h): open a dataset that may be absent, its
 * shape, integers of any width or a bool, floats, strings fixed or
 * variable length, whole arrays of a required size, each failure reported
 * once with the file and dataset named. uvh5_header.c builds the struct
 * uvh5_header out of them; apart so that the encodings the files show
 * (h5py's, pyuvdata's, the DSA-110 writer's) are handled in one place.
 */
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "uvh5/uvh5_priv.h"

int uvh5_rd_fail(struct uvh5_rd *r, const char *what, const char *name)
{
	char reason[256];
	int st = uvh5_h5_reason(reason, sizeof reason);

	uvh5_fail(r->status, r->err, st, "cannot read %s '%s' in '%s': %s",
	    what, name, r->path, reason);
	return -1;
}

int uvh5_rd_bad(struct uvh5_rd *r, const char *name, const char *why)
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
hid_t uvh5_open_ds(struct uvh5_rd *r, hid_t loc, const char *name, int required)
{
	htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
	hid_t d, s;
	H5S_class_t c;

	if (ex < 0)
		return uvh5_rd_fail(r, "dataset", name);
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
		return uvh5_rd_fail(r, "dataset", name);
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
		return uvh5_rd_fail(r, "dataset", name);
	}
	return d;
}

int64_t uvh5_ds_shape(hid_t d, int *ndim, hsize_t dims[4])
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
int uvh5_read_i64(hid_t d, size_t n, int64_t *out)
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
int uvh5_rd_i64(struct uvh5_rd *r, const char *name, int64_t *out, int required)
{
	hid_t d = uvh5_open_ds(r, r->hdr, name, required);
	hsize_t dims[4];
	int nd;
	int64_t n;

	if (d <= 0)
		return d < 0 ? -1 : 0;
	n = uvh5_ds_shape(d, &nd, dims);
	if (n != 1) {
		H5Dclose(d);
		return n < 0 ? uvh5_rd_fail(r, "dataset", name) : uvh5_rd_bad(r, name, "not a scalar");
	}
	if (uvh5_read_i64(d, 1, out) < 0) {
		H5Dclose(d);
		return uvh5_rd_fail(r, "dataset", name);
	}
	H5Dclose(d);
	return 0;
}

/* Read a scalar float; absent leaves *out. */
int uvh5_rd_f64(struct uvh5_rd *r, hid_t loc, const char *name, double *out, int required)
{
	hid_t d = uvh5_open_ds(r, loc, name, required);
	hsize_t dims[4];
	int nd;
	int64_t n;
	herr_t e;

	if (d <= 0)
		return d < 0 ? -1 : 0;
	n = uvh5_ds_shape(d, &nd, dims);
	if (n != 1) {
		H5Dclose(d);
		return n < 0 ? uvh5_rd_fail(r, "dataset", name) : uvh5_rd_bad(r, name, "not a scalar");
	}
	e = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
	H5Dclose(d);
	return e < 0 ? uvh5_rd_fail(r, "dataset", name) : 0;
}

/*
 * Read all elements of a string dataset (fixed or variable length) into
 * n malloc'd strings. Fixed-length values keep everything up to the first
 * NUL, as h5dump shows them.
 */
int uvh5_read_strings(hid_t d, size_t n, char **out)
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
int uvh5_rd_strdup(struct uvh5_rd *r, hid_t loc, const char *name, char **out, int required)
{
	hid_t d = uvh5_open_ds(r, loc, name, required);
	hsize_t dims[4];
	int nd;
	int64_t n;
	char *s;

	if (d <= 0)
		return d < 0 ? -1 : 0;
	n = uvh5_ds_shape(d, &nd, dims);
	if (n != 1) {
		H5Dclose(d);
		return n < 0 ? uvh5_rd_fail(r, "dataset", name) : uvh5_rd_bad(r, name, "not a scalar string");
	}
	if (uvh5_read_strings(d, 1, &s) < 0) {
		H5Dclose(d);
		return uvh5_rd_bad(r, name, "not a readable string");
	}
	H5Dclose(d);
	free(*out);
	*out = s;
	return 0;
}

/* Read a scalar string into a fixed buffer (truncating); absent leaves it. */
int uvh5_rd_str(struct uvh5_rd *r, hid_t loc, const char *name, char *buf, size_t size, int required)
{
	char *s = NULL;

	if (uvh5_rd_strdup(r, loc, name, &s, required) < 0)
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
int uvh5_rd_arr(struct uvh5_rd *r, const char *name, int64_t n, int is_int, void **out, int required)
{
	hid_t d = uvh5_open_ds(r, r->hdr, name, required);
	hsize_t dims[4];
	int nd;
	int64_t m;
	void *b;
	int e;
	char why[96];

	*out = NULL;
	if (d <= 0)
		return d < 0 ? -1 : 0;
	m = uvh5_ds_shape(d, &nd, dims);
	if (m < 0) {
		H5Dclose(d);
		return uvh5_rd_fail(r, "dataset", name);
	}
	if (m != n) {
		H5Dclose(d);
		snprintf(why, sizeof why, "%lld elements, expected %lld",
		    (long long)m, (long long)n);
		return uvh5_rd_bad(r, name, why);
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
		e = uvh5_read_i64(d, (size_t)n, b);
	else
		e = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0 ? -1 : 0;
	H5Dclose(d);
	if (e < 0) {
		free(b);
		return uvh5_rd_fail(r, "dataset", name);
	}
	*out = b;
	return 0;
}
