/*
 * cal_table.c: calibration table HDF5 I/O (contract and layout in
 * cal_table.h).
 *
 * The writer builds the file at the fsx temporary and renames it on
 * success; the reader checks the format attribute and every dataset's
 * shape against the counts, so a table that reads is a table that can be
 * applied without further checks.
 */
#include "sci/cal_table.h"

#include <errno.h>
#include <math.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "core/fsx.h"

#define FORMAT "uvmake-cal"

#define FORMAT_VERSION 1

/* Keep libhdf5 from printing its error stack during our calls, then put
 * back whatever handler the process had (the UVH5 library records errors
 * through its own). */
struct quiet {
	H5E_auto2_t f;
	void *d;
};

static void quiet_begin(struct quiet *q)
{
	q->f = NULL;
	q->d = NULL;
	H5Eget_auto2(H5E_DEFAULT, &q->f, &q->d);
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const struct quiet *q)
{
	H5Eclear2(H5E_DEFAULT);
	H5Eset_auto2(H5E_DEFAULT, q->f, q->d);
}

const char *cal_antpol_reason(int status)
{
	static const char *const name[CAL_AP_NREASONS] = {"good", "no data", "flagged on input",
	    "incoherent (dead or garbage)", "delay search failed", "low snr"};

	return status >= 0 && status < CAL_AP_NREASONS ? name[status] : "unknown";
}

int cal_antpol_summary(const struct cal_table *t, char *buf, size_t n)
{
	size_t len = 0;
	int nfail = 0;

	if (n)
		buf[0] = 0;
	for (int64_t a = 0; a < t->nants; a++) {
		const uint8_t *st = t->antpol_status + a * t->npols;
		int same = 1, any = 0;
		char item[128];

		for (int64_t p = 0; p < t->npols; p++) {
			same &= st[p] == st[0];
			any |= st[p] != CAL_AP_GOOD && st[p] != CAL_AP_NODATA;
		}
		if (!any)
			continue;
		for (int64_t p = 0; p < t->npols; p++) {
			if (st[p] == CAL_AP_GOOD || st[p] == CAL_AP_NODATA)
				continue;
			nfail++;
			if (same && p > 0)
				continue;
			if (same)
				snprintf(item, sizeof item, "%lld %s", (long long)t->antenna_numbers[a],
				    cal_antpol_reason(st[p]));
			else
				snprintf(item, sizeof item, "%lld pol %lld %s",
				    (long long)t->antenna_numbers[a], (long long)t->polarization_array[p],
				    cal_antpol_reason(st[p]));
			if (len + strlen(item) + 6 < n)
				len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "; " : "", item);
			else if (len + 4 < n && (len < 3 || strcmp(buf + len - 3, "...")))
				len += (size_t)snprintf(buf + len, n - len, "...");
		}
	}
	return nfail;
}

int cal_table_alloc(struct cal_table *c)
{
	size_t n = (size_t)(c->ntimes * c->nants * c->nfreqs * c->npols);

	if (c->ntimes <= 0 || c->nants <= 0 || c->nfreqs <= 0 || c->npols <= 0)
		return -1;
	c->gains = calloc(n, sizeof *c->gains);
	c->flags = calloc(n, sizeof *c->flags);
	c->snr = calloc(n, sizeof *c->snr);
	c->bandpass = calloc((size_t)(c->nants * c->nfreqs * c->npols), sizeof *c->bandpass);
	c->tgain = calloc((size_t)(c->ntimes * c->nants * c->npols), sizeof *c->tgain);
	c->delay = calloc((size_t)(c->nants * c->npols), sizeof *c->delay);
	c->antpol_status = calloc((size_t)(c->nants * c->npols), 1);
	c->freq_array = calloc((size_t)c->nfreqs, sizeof *c->freq_array);
	c->times = calloc((size_t)c->ntimes, sizeof *c->times);
	c->time_lo = calloc((size_t)c->ntimes, sizeof *c->time_lo);
	c->time_hi = calloc((size_t)c->ntimes, sizeof *c->time_hi);
	c->antenna_numbers = calloc((size_t)c->nants, sizeof *c->antenna_numbers);
	c->polarization_array = calloc((size_t)c->npols, sizeof *c->polarization_array);
	if (!c->gains || !c->flags || !c->snr || !c->bandpass || !c->tgain || !c->freq_array ||
	    !c->delay || !c->antpol_status ||
	    !c->times || !c->time_lo || !c->time_hi || !c->antenna_numbers ||
	    !c->polarization_array) {
		cal_table_free(c);
		return -1;
	}
	return 0;
}

void cal_table_free(struct cal_table *c)
{
	free(c->gains);
	free(c->flags);
	free(c->snr);
	free(c->bandpass);
	free(c->tgain);
	free(c->delay);
	free(c->antpol_status);
	free(c->freq_array);
	free(c->times);
	free(c->time_lo);
	free(c->time_hi);
	free(c->antenna_numbers);
	free(c->polarization_array);
	free(c->history);
	c->gains = c->bandpass = c->tgain = NULL;
	c->flags = NULL;
	c->snr = NULL;
	c->antpol_status = NULL;
	c->freq_array = c->delay = c->times = c->time_lo = c->time_hi = NULL;
	c->antenna_numbers = c->polarization_array = NULL;
	c->history = NULL;
}

static hid_t complex_type(void)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, 2 * sizeof(double));

	if (t >= 0 && (H5Tinsert(t, "r", 0, H5T_NATIVE_DOUBLE) < 0 ||
	    H5Tinsert(t, "i", sizeof(double), H5T_NATIVE_DOUBLE) < 0)) {
		H5Tclose(t);
		return -1;
	}
	return t;
}

/* Write dataset name of rank dims with file type ft and memory type mt. */
static int wds(hid_t fid, const char *name, int rank, const hsize_t *dims, hid_t ft, hid_t mt,
    const void *buf)
{
	hid_t sp = H5Screate_simple(rank, dims, NULL), ds = -1;
	int rc = -1;

	if (sp >= 0)
		ds = H5Dcreate2(fid, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (ds >= 0 && H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0)
		rc = 0;
	if (ds >= 0 && H5Dclose(ds) < 0)
		rc = -1;
	if (sp >= 0)
		H5Sclose(sp);
	return rc;
}

static int wattr_str(hid_t fid, const char *name, const char *s)
{
	hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
	int rc = -1;

	if (t >= 0 && sp >= 0 && H5Tset_size(t, strlen(s) + 1) >= 0 &&
	    H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0)
		a = H5Acreate2(fid, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
	if (a >= 0 && H5Awrite(a, t, s) >= 0)
		rc = 0;
	if (a >= 0)
		H5Aclose(a);
	if (sp >= 0)
		H5Sclose(sp);
	if (t >= 0)
		H5Tclose(t);
	return rc;
}

static int wattr_num(hid_t fid, const char *name, hid_t ft, hid_t mt, const void *v)
{
	hid_t sp = H5Screate(H5S_SCALAR), a = -1;
	int rc = -1;

	if (sp >= 0)
		a = H5Acreate2(fid, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT);
	if (a >= 0 && H5Awrite(a, mt, v) >= 0)
		rc = 0;
	if (a >= 0)
		H5Aclose(a);
	if (sp >= 0)
		H5Sclose(sp);
	return rc;
}

static int wattr_f64(hid_t fid, const char *name, double v)
{
	return wattr_num(fid, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static int wattr_i64(hid_t fid, const char *name, int64_t v)
{
	return wattr_num(fid, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

/* Everything into an open file; 0 or -1. */
static int write_all(hid_t fid, const struct cal_table *c)
{
	hsize_t d4[4] = {(hsize_t)c->ntimes, (hsize_t)c->nants, (hsize_t)c->nfreqs,
	    (hsize_t)c->npols};
	hsize_t bp[3] = {(hsize_t)c->nants, (hsize_t)c->nfreqs, (hsize_t)c->npols};
	hsize_t tg[3] = {(hsize_t)c->ntimes, (hsize_t)c->nants, (hsize_t)c->npols};
	hsize_t ap[2] = {(hsize_t)c->nants, (hsize_t)c->npols};
	hsize_t nt = (hsize_t)c->ntimes, na = (hsize_t)c->nants, nf = (hsize_t)c->nfreqs,
		np = (hsize_t)c->npols;
	hid_t ct = complex_type();
	int rc = -1;

	if (ct < 0)
		return -1;
	if (wds(fid, "gains", 4, d4, ct, ct, c->gains) < 0 ||
	    wds(fid, "flags", 4, d4, H5T_STD_U8LE, H5T_NATIVE_UINT8, c->flags) < 0 ||
	    wds(fid, "snr", 4, d4, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, c->snr) < 0 ||
	    wds(fid, "bandpass", 3, bp, ct, ct, c->bandpass) < 0 ||
	    wds(fid, "tgain", 3, tg, ct, ct, c->tgain) < 0 ||
	    wds(fid, "delay", 2, ap, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c->delay) < 0 ||
	    wds(fid, "antpol_status", 2, ap, H5T_STD_U8LE, H5T_NATIVE_UINT8,
		c->antpol_status) < 0 ||
	    wds(fid, "freq_array", 1, &nf, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c->freq_array) < 0 ||
	    wds(fid, "times", 1, &nt, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c->times) < 0 ||
	    wds(fid, "time_lo", 1, &nt, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c->time_lo) < 0 ||
	    wds(fid, "time_hi", 1, &nt, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c->time_hi) < 0 ||
	    wds(fid, "antenna_numbers", 1, &na, H5T_STD_I64LE, H5T_NATIVE_INT64,
		c->antenna_numbers) < 0 ||
	    wds(fid, "polarization_array", 1, &np, H5T_STD_I64LE, H5T_NATIVE_INT64,
		c->polarization_array) < 0)
		goto out;
	if (wattr_str(fid, "format", FORMAT) < 0 ||
	    wattr_i64(fid, "format_version", FORMAT_VERSION) < 0 ||
	    wattr_str(fid, "calibrator", c->calibrator) < 0 ||
	    wattr_str(fid, "group", c->group) < 0 ||
	    wattr_str(fid, "source", c->source) < 0 ||
	    wattr_str(fid, "history", c->history ? c->history : "") < 0 ||
	    wattr_i64(fid, "refant", c->refant) < 0 ||
	    wattr_f64(fid, "transit_mjd", c->transit_mjd) < 0 ||
	    wattr_f64(fid, "mjd_start", c->mjd_start) < 0 ||
	    wattr_f64(fid, "mjd_end", c->mjd_end) < 0 ||
	    wattr_f64(fid, "frac_flagged", c->frac_flagged) < 0 ||
	    wattr_f64(fid, "median_snr", c->median_snr) < 0 ||
	    wattr_f64(fid, "residual_rms", c->residual_rms) < 0 ||
	    wattr_f64(fid, "frac_good_antpol", c->frac_good_antpol) < 0 ||
	    wattr_f64(fid, "created", c->created) < 0)
		goto out;
	rc = 0;
out:
	H5Tclose(ct);
	return rc;
}

static int table_write(const char *path, const struct cal_table *c, char *err);
static int table_read(const char *path, struct cal_table *c, char *err);

int cal_table_write(const char *path, const struct cal_table *c, char *err)
{
	struct quiet q;
	int rc;

	quiet_begin(&q);
	rc = table_write(path, c, err);
	quiet_end(&q);
	return rc;
}

int cal_table_read(const char *path, struct cal_table *c, char *err)
{
	struct quiet q;
	int rc;

	quiet_begin(&q);
	rc = table_read(path, c, err);
	quiet_end(&q);
	return rc;
}

static int table_write(const char *path, const struct cal_table *c, char *err)
{
	struct fsx_out o;
	hid_t fid;
	int e;

	if (fsx_reserve(&o, path, 0644) < 0) {
		e = errno;
		snprintf(err, CAL_ERRLEN, "cannot create '%s': %s", path, strerror(e));
		return fsx_exit_for_errno(e);
	}
	fid = H5Fcreate(o.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	if (fid < 0) {
		fsx_abort(&o);
		snprintf(err, CAL_ERRLEN, "cannot create '%s': hdf5 error", path);
		return EX_CANTCREAT;
	}
	if (write_all(fid, c) < 0) {
		H5Fclose(fid);
		fsx_abort(&o);
		snprintf(err, CAL_ERRLEN, "cannot write '%s': write error", path);
		return EX_IOERR;
	}
	if (H5Fclose(fid) < 0) {
		fsx_abort(&o);
		snprintf(err, CAL_ERRLEN, "cannot write '%s': write error", path);
		return EX_IOERR;
	}
	if (fsx_commit(&o) < 0) {
		e = errno;
		snprintf(err, CAL_ERRLEN, "cannot write '%s': %s", path, strerror(e));
		return fsx_exit_for_errno(e) == EX_CANTCREAT ? EX_CANTCREAT : EX_IOERR;
	}
	return 0;
}

/* Read dataset name, checking rank and dims; 0 or -1. */
static int rds(hid_t fid, const char *name, int rank, const hsize_t *dims, hid_t mt, void *buf)
{
	hid_t ds = H5Dopen2(fid, name, H5P_DEFAULT), sp = -1;
	hsize_t got[8];
	int rc = -1;

	if (ds < 0)
		return -1;
	sp = H5Dget_space(ds);
	if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == rank &&
	    H5Sget_simple_extent_dims(sp, got, NULL) == rank) {
		rc = 0;
		for (int i = 0; i < rank; i++)
			if (got[i] != dims[i])
				rc = -1;
	}
	if (rc == 0 && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
		rc = -1;
	if (sp >= 0)
		H5Sclose(sp);
	H5Dclose(ds);
	return rc;
}

/* Length of the 1-D dataset name, or -1. */
static int64_t dlen(hid_t fid, const char *name)
{
	hid_t ds = H5Dopen2(fid, name, H5P_DEFAULT), sp;
	hsize_t d = 0;
	int64_t n = -1;

	if (ds < 0)
		return -1;
	sp = H5Dget_space(ds);
	if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1 &&
	    H5Sget_simple_extent_dims(sp, &d, NULL) == 1)
		n = (int64_t)d;
	if (sp >= 0)
		H5Sclose(sp);
	H5Dclose(ds);
	return n;
}

/* String attribute into buf (size n), or malloc'd when n == 0; 0 or -1. */
static int rattr_str(hid_t fid, const char *name, char *buf, size_t n, char **out)
{
	hid_t a = H5Aopen(fid, name, H5P_DEFAULT), t = -1, mt = -1;
	int rc = -1;

	if (a < 0)
		return -1;
	t = H5Aget_type(a);
	if (t >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
		size_t sz = H5Tget_size(t);
		char *tmp = malloc(sz + 1);

		mt = H5Tcopy(H5T_C_S1);
		if (tmp && mt >= 0 && H5Tset_size(mt, sz) >= 0 && H5Aread(a, mt, tmp) >= 0) {
			tmp[sz] = 0;
			if (out) {
				*out = tmp;
				tmp = NULL;
			} else {
				snprintf(buf, n, "%s", tmp);
			}
			rc = 0;
		}
		free(tmp);
	}
	if (mt >= 0)
		H5Tclose(mt);
	if (t >= 0)
		H5Tclose(t);
	H5Aclose(a);
	return rc;
}

static int rattr_num(hid_t fid, const char *name, hid_t mt, void *v)
{
	hid_t a = H5Aopen(fid, name, H5P_DEFAULT);
	int rc;

	if (a < 0)
		return -1;
	rc = H5Aread(a, mt, v) < 0 ? -1 : 0;
	H5Aclose(a);
	return rc;
}

static int table_read(const char *path, struct cal_table *c, char *err)
{
	struct stat st;
	hid_t fid, ct = -1;
	char fmt[32] = "";
	int64_t ver = 0;
	int rc = EX_DATAERR;

	memset(c, 0, sizeof *c);
	if (stat(path, &st) < 0) {
		int e = errno;
		snprintf(err, CAL_ERRLEN, "cannot open '%s': %s", path, strerror(e));
		return e == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	if (!S_ISREG(st.st_mode) || access(path, R_OK) < 0) {
		snprintf(err, CAL_ERRLEN, "cannot open '%s': %s", path,
		    S_ISREG(st.st_mode) ? strerror(errno) : "not a regular file");
		return EX_IOERR;
	}
	fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (fid < 0) {
		snprintf(err, CAL_ERRLEN, "'%s' is not an HDF5 file", path);
		return EX_DATAERR;
	}
	if (rattr_str(fid, "format", fmt, sizeof fmt, NULL) < 0 || strcmp(fmt, FORMAT) ||
	    rattr_num(fid, "format_version", H5T_NATIVE_INT64, &ver) < 0 ||
	    ver != FORMAT_VERSION) {
		snprintf(err, CAL_ERRLEN, "'%s' is not a calibration table", path);
		goto fail;
	}
	c->ntimes = dlen(fid, "times");
	c->nants = dlen(fid, "antenna_numbers");
	c->nfreqs = dlen(fid, "freq_array");
	c->npols = dlen(fid, "polarization_array");
	if (c->ntimes <= 0 || c->nants <= 0 || c->nfreqs <= 0 || c->npols <= 0 ||
	    c->ntimes * c->nants * c->nfreqs * c->npols > (int64_t)1 << 31) {
		snprintf(err, CAL_ERRLEN, "'%s': bad or missing table dimensions", path);
		goto fail;
	}
	if (cal_table_alloc(c) < 0) {
		snprintf(err, CAL_ERRLEN, "out of memory");
		rc = EX_OSERR;
		goto fail;
	}
	ct = complex_type();
	{
		hsize_t d4[4] = {(hsize_t)c->ntimes, (hsize_t)c->nants, (hsize_t)c->nfreqs,
		    (hsize_t)c->npols};
		hsize_t bp[3] = {(hsize_t)c->nants, (hsize_t)c->nfreqs, (hsize_t)c->npols};
		hsize_t tg[3] = {(hsize_t)c->ntimes, (hsize_t)c->nants, (hsize_t)c->npols};
		hsize_t nt = (hsize_t)c->ntimes, na = (hsize_t)c->nants,
			nf = (hsize_t)c->nfreqs, np = (hsize_t)c->npols;

		if (ct < 0 || rds(fid, "gains", 4, d4, ct, c->gains) < 0 ||
		    rds(fid, "flags", 4, d4, H5T_NATIVE_UINT8, c->flags) < 0 ||
		    rds(fid, "snr", 4, d4, H5T_NATIVE_FLOAT, c->snr) < 0 ||
		    rds(fid, "bandpass", 3, bp, ct, c->bandpass) < 0 ||
		    rds(fid, "tgain", 3, tg, ct, c->tgain) < 0 ||
		    rds(fid, "freq_array", 1, &nf, H5T_NATIVE_DOUBLE, c->freq_array) < 0 ||
		    rds(fid, "times", 1, &nt, H5T_NATIVE_DOUBLE, c->times) < 0 ||
		    rds(fid, "time_lo", 1, &nt, H5T_NATIVE_DOUBLE, c->time_lo) < 0 ||
		    rds(fid, "time_hi", 1, &nt, H5T_NATIVE_DOUBLE, c->time_hi) < 0 ||
		    rds(fid, "antenna_numbers", 1, &na, H5T_NATIVE_INT64, c->antenna_numbers) < 0 ||
		    rds(fid, "polarization_array", 1, &np, H5T_NATIVE_INT64,
			c->polarization_array) < 0) {
			snprintf(err, CAL_ERRLEN, "'%s': missing or malformed dataset", path);
			goto fail;
		}
		/* optional: absent from tables written before delays were solved */
		hsize_t ap[2] = {(hsize_t)c->nants, (hsize_t)c->npols};
		if ((H5Lexists(fid, "delay", H5P_DEFAULT) > 0 &&
		    rds(fid, "delay", 2, ap, H5T_NATIVE_DOUBLE, c->delay) < 0) ||
		    (H5Lexists(fid, "antpol_status", H5P_DEFAULT) > 0 &&
		    rds(fid, "antpol_status", 2, ap, H5T_NATIVE_UINT8, c->antpol_status) < 0)) {
			snprintf(err, CAL_ERRLEN, "'%s': malformed delay or antpol_status", path);
			goto fail;
		}
	}
	c->frac_good_antpol = NAN;
	if (H5Aexists(fid, "frac_good_antpol") > 0 &&
	    rattr_num(fid, "frac_good_antpol", H5T_NATIVE_DOUBLE, &c->frac_good_antpol) < 0) {
		snprintf(err, CAL_ERRLEN, "'%s': malformed attribute frac_good_antpol", path);
		goto fail;
	}
	if (rattr_str(fid, "calibrator", c->calibrator, sizeof c->calibrator, NULL) < 0 ||
	    rattr_str(fid, "group", c->group, sizeof c->group, NULL) < 0 ||
	    rattr_str(fid, "source", c->source, sizeof c->source, NULL) < 0 ||
	    rattr_str(fid, "history", NULL, 0, &c->history) < 0 ||
	    rattr_num(fid, "refant", H5T_NATIVE_INT64, &c->refant) < 0 ||
	    rattr_num(fid, "transit_mjd", H5T_NATIVE_DOUBLE, &c->transit_mjd) < 0 ||
	    rattr_num(fid, "mjd_start", H5T_NATIVE_DOUBLE, &c->mjd_start) < 0 ||
	    rattr_num(fid, "mjd_end", H5T_NATIVE_DOUBLE, &c->mjd_end) < 0 ||
	    rattr_num(fid, "frac_flagged", H5T_NATIVE_DOUBLE, &c->frac_flagged) < 0 ||
	    rattr_num(fid, "median_snr", H5T_NATIVE_DOUBLE, &c->median_snr) < 0 ||
	    rattr_num(fid, "residual_rms", H5T_NATIVE_DOUBLE, &c->residual_rms) < 0 ||
	    rattr_num(fid, "created", H5T_NATIVE_DOUBLE, &c->created) < 0) {
		snprintf(err, CAL_ERRLEN, "'%s': missing or malformed attribute", path);
		goto fail;
	}
	H5Tclose(ct);
	if (H5Fclose(fid) < 0) {
		snprintf(err, CAL_ERRLEN, "cannot read '%s': read error", path);
		cal_table_free(c);
		return EX_IOERR;
	}
	return 0;
fail:
	if (ct >= 0)
		H5Tclose(ct);
	H5Fclose(fid);
	cal_table_free(c);
	return rc;
}
