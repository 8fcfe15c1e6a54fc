/*
 * uvh5_data.c: the UVH5 reader's file and data half.
 *
 * uvh5_open opens the file, reads the header (uvh5_header.c) and opens the
 * three /Data datasets once. uvh5_read_rows then reads blocks of rows with one
 * hyperslab per dataset into the caller's buffers, reusing the cached
 * dataset, dataspace and memory-type ids; each dataset gets a chunk cache
 * that holds a full band of chunks across frequency and polarization, so a
 * chunk that straddles two row blocks is read (and decompressed) only once.
 *
 * libhdf5 copies chunk data to memory in runs as long as the chunk's
 * innermost extent, one element at a time for h5py's automatic chunks
 * (the correlator's): those datasets are read by uvh5_chunk.c instead.
 * Datasets whose rows are plain runs of bytes in the file are read by
 * offset (uvh5_raw.c), which uvh5_pread_rows also offers to threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "uvh5/uvh5_chunk.h"
#include "uvh5/uvh5_priv.h"

struct uvh5_file {
	hid_t fid;
	char *path;
	struct uvh5_header h;
	struct uvh5_dset vis, flg, nsm;
	hid_t mspace;
	hsize_t mspace_n;
	int no_direct;          /* uvh5_set_direct(f, 0) */
};

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
static int open_data(struct uvh5_rd *r, hid_t data, const char *name, const struct uvh5_header *h,
    struct uvh5_dset *ds)
{
	hid_t d, dcpl, ft, dapl;
	hsize_t chunk[4];
	int k;
	char why[160];

	d = uvh5_open_ds(r, data, name, 1);
	if (d < 0)
		return -1;
	if (uvh5_ds_shape(d, &ds->ndim, ds->dims) < 0) {
		H5Dclose(d);
		return uvh5_rd_fail(r, "dataset", name);
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
		return uvh5_rd_fail(r, "dataset", name);
	return 0;
}

/* Memory type for visdata: {float r; float i;}, checking the file type. */
static int vis_type(struct uvh5_rd *r, struct uvh5_file *f)
{
	hid_t ft = H5Dget_type(f->vis.id), m0 = -1, m1 = -1, mt;
	char *n0 = NULL, *n1 = NULL;
	int ok = 0;

	if (ft < 0)
		return uvh5_rd_fail(r, "dataset", "/Data/visdata");
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
		return uvh5_rd_fail(r, "dataset", "/Data/visdata");
	}
	f->vis.mtype = mt;
	return 0;
}

/* Memory types for flags (bool enum or integer -> uint8) and nsamples. */
static int flag_types(struct uvh5_rd *r, struct uvh5_file *f)
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
		return uvh5_rd_fail(r, "dataset", "/Data/flags");
	return 0;
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

/*
 * Open path read-only: classify it (probe), open it with libhdf5 and
 * allocate f with every id unset. NULL with the error reported.
 */
static uvh5_file *open_file(const char *path, int *status, char *err)
{
	struct uvh5_file *f;
	hid_t fapl;
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
	fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl >= 0)
		H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
	f->fid = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
	if (fapl >= 0)
		H5Pclose(fapl);
	if (f->fid < 0) {
		int st = uvh5_h5_reason(reason, sizeof reason);
		uvh5_fail(status, err, st, "cannot read '%s': %s", path, reason);
		uvh5_close(f);
		return NULL;
	}
	return f;
}

/* Open the three /Data datasets of f against f->h's counts and choose
 * their read paths; 0 or -1 with r's error set. */
static int open_datasets(struct uvh5_rd *r, uvh5_file *f)
{
	hid_t data = H5Gopen2(f->fid, "Data", H5P_DEFAULT);
	int rc = -1, fd;
	uint64_t fsize;

	if (data < 0) {
		H5Eclear2(H5E_DEFAULT);
		uvh5_fail(r->status, r->err, EX_DATAERR, "missing group '/Data' in '%s'", f->path);
		return -1;
	}
	if (open_data(r, data, "visdata", &f->h, &f->vis) < 0 ||
	    open_data(r, data, "flags", &f->h, &f->flg) < 0 ||
	    open_data(r, data, "nsamples", &f->h, &f->nsm) < 0 ||
	    vis_type(r, f) < 0 || flag_types(r, f) < 0)
		goto out;
	if (f->vis.ndim != f->flg.ndim || f->vis.ndim != f->nsm.ndim) {
		uvh5_fail(r->status, r->err, EX_DATAERR, "bad datasets in '%s': /Data ranks differ",
		    f->path);
		goto out;
	}
	f->h.data_ndim = f->vis.ndim;
	uvh5_chunk_setup(&f->vis);
	uvh5_chunk_setup(&f->flg);
	uvh5_chunk_setup(&f->nsm);
	if (uvh5_raw_file(f->fid, &fd, &fsize)) {
		uvh5_raw_setup(&f->vis, fd, fsize);
		uvh5_raw_setup(&f->flg, fd, fsize);
		uvh5_raw_setup(&f->nsm, fd, fsize);
	}
	rc = 0;
out:
	H5Gclose(data);
	return rc;
}

uvh5_file *uvh5_open(const char *path, int *status, char *err)
{
	struct uvh5_file *f = open_file(path, status, err);
	struct uvh5_rd r = { -1, path, status, err };

	if (!f)
		return NULL;
	r.path = f->path;
	r.hdr = H5Gopen2(f->fid, "Header", H5P_DEFAULT);
	if (r.hdr < 0) {
		H5Eclear2(H5E_DEFAULT);
		uvh5_fail(status, err, EX_DATAERR, "missing group '/Header' in '%s'", path);
		goto fail;
	}
	if (uvh5_read_header(&r, &f->h) < 0 || open_datasets(&r, f) < 0)
		goto fail;
	H5Gclose(r.hdr);
	return f;
fail:
	if (r.hdr >= 0)
		H5Gclose(r.hdr);
	uvh5_close(f);
	H5Eclear2(H5E_DEFAULT);
	return NULL;
}

uvh5_file *uvh5_open_data(const char *path, const struct uvh5_header *expect, int *status,
    char *err)
{
	struct uvh5_file *f = open_file(path, status, err);
	struct uvh5_rd r = { -1, path, status, err };

	if (!f)
		return NULL;
	r.path = f->path;
	f->h.Nblts = expect->Nblts;
	f->h.Nfreqs = expect->Nfreqs;
	f->h.Npols = expect->Npols;
	if (open_datasets(&r, f) < 0) {
		uvh5_close(f);
		H5Eclear2(H5E_DEFAULT);
		return NULL;
	}
	return f;
}

const struct uvh5_header *uvh5_header(const uvh5_file *f)
{
	return &f->h;
}

/* Read rows into buf through ds's cached ids. */
static int read_block(uvh5_file *f, struct uvh5_dset *ds, const char *name, int64_t row0,
    int64_t nrows, void *buf, int *status, char *err)
{
	hsize_t start[4] = { 0, 0, 0, 0 }, count[4];
	char reason[256];
	int k;

	if (ds->direct && !f->no_direct)
		return uvh5_chunk_read(ds, f->path, name, row0, nrows, buf, status, err);
	if (ds->byoffset && !f->no_direct)
		return uvh5_raw_read(ds, f->path, name, row0, nrows, buf, status, err);
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
	/* errors recorded, not printed, on whichever thread reads (img_vis.c
	 * reads ahead on a thread of its own) */
	uvh5_h5_quiet();
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

int uvh5_can_pread(const uvh5_file *f)
{
	return f->vis.byoffset && f->flg.byoffset && f->nsm.byoffset && !f->no_direct;
}

int uvh5_pread_rows(const uvh5_file *f, int64_t row0, int64_t nrows,
    float complex *vis, uint8_t *flags, float *nsamples, int *status, char *err)
{
	size_t n = (size_t)nrows * (size_t)f->h.Nfreqs * (size_t)f->h.Npols;

	if (!uvh5_can_pread(f) || row0 < 0 || nrows < 0 || row0 > f->h.Nblts ||
	    nrows > f->h.Nblts - row0) {
		uvh5_fail(status, err, EX_SOFTWARE, "rows %lld+%lld of '%s' cannot be read by offset",
		    (long long)row0, (long long)nrows, f->path);
		return -1;
	}
	if ((vis && uvh5_raw_read(&f->vis, f->path, "visdata", row0, nrows, vis, status, err) < 0) ||
	    (flags && uvh5_raw_read(&f->flg, f->path, "flags", row0, nrows, flags, status, err) < 0) ||
	    (nsamples && uvh5_raw_read(&f->nsm, f->path, "nsamples", row0, nrows, nsamples, status,
	    err) < 0))
		return -1;
	if (flags && f->flg.normalise)
		for (size_t i = 0; i < n; i++)
			flags[i] = flags[i] != 0;
	return 0;
}

void uvh5_set_direct(uvh5_file *f, int on)
{
	f->no_direct = !on;
}

static void close_dset(struct uvh5_dset *d)
{
	free(d->bandbuf);
	free(d->raw);
	free(d->rawaddr);
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
