/*
 * uvh5_raw.c: reading /Data rows by file offset, without libhdf5.
 *
 * A dataset stored uncompressed, as the very type the reader wants in
 * memory, either contiguous or in chunks that span every axis but the
 * rows (uvm-sim's and uvmake's own files, pyuvdata's visdata), holds each
 * row as one run of bytes at a known place in the file. For those we ask
 * libhdf5 once, at open, where every chunk lies, check that each is whole
 * and inside the file, and then read rows with pread(2) on libhdf5's own
 * descriptor: one system call per dataset and block, no hyperslab
 * machinery, and, because nothing of libhdf5 is touched, from several
 * threads at once (uvm-verify reads and checks a file on both cores that
 * way). Anything else (filters, split chunks, a user block, another
 * driver, a type conversion) keeps the reader's other paths.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "uvh5/uvh5_chunk.h"
#include "uvh5/uvh5_priv.h"

#define RAW_MAX_CHUNKS 65536 /* chunk tables longer than this are not worth the lookups */

int uvh5_raw_file(hid_t fid, int *fd, uint64_t *size)
{
	hid_t fcpl = H5Fget_create_plist(fid), fapl = H5Fget_access_plist(fid);
	hsize_t ublock = 1;
	void *handle = NULL;
	struct stat st;
	int ok = 0;

	if (fcpl >= 0 && fapl >= 0 && H5Pget_userblock(fcpl, &ublock) >= 0 && ublock == 0 &&
	    H5Pget_driver(fapl) == H5FD_SEC2 &&
	    H5Fget_vfd_handle(fid, H5P_DEFAULT, &handle) >= 0 && handle &&
	    fstat(*(int *)handle, &st) == 0 && S_ISREG(st.st_mode)) {
		*fd = *(int *)handle;
		*size = (uint64_t)st.st_size;
		ok = 1;
	}
	if (fcpl >= 0)
		H5Pclose(fcpl);
	if (fapl >= 0)
		H5Pclose(fapl);
	H5Eclear2(H5E_DEFAULT);
	return ok;
}

/* Record where chunk j (rows j*c0...) of ds lies; 0, or -1 if it is
 * missing, filtered, not the expected size or not inside the file. */
static int chunk_at(struct uvh5_dset *ds, int64_t j, size_t bytes, uint64_t fsize)
{
	hsize_t off[4] = { 0, 0, 0, 0 }, size = 0;
	haddr_t addr = HADDR_UNDEF;
	unsigned mask = 0;

	off[0] = (hsize_t)j * ds->rawrows;
	if (H5Dget_chunk_info_by_coord(ds->id, off, &mask, &addr, &size) < 0 ||
	    addr == HADDR_UNDEF || mask != 0 || size != bytes || addr > fsize ||
	    bytes > fsize - addr)
		return -1;
	ds->rawaddr[j] = addr;
	return 0;
}

void uvh5_raw_setup(struct uvh5_dset *ds, int fd, uint64_t fsize)
{
	hid_t dcpl = H5Dget_create_plist(ds->id), ft = H5Dget_type(ds->id);
	hsize_t cd[4];
	int k, nd = ds->ndim;
	size_t bytes;

	ds->byoffset = 0;
	if (fd < 0 || dcpl < 0 || ft < 0 || H5Tequal(ft, ds->mtype) <= 0 || ds->dims[0] == 0)
		goto done;
	ds->rowbytes = H5Tget_size(ft);
	for (k = 1; k < nd; k++)
		ds->rowbytes *= ds->dims[k];
	if (ds->rowbytes == 0)
		goto done;
	if (H5Pget_layout(dcpl) == H5D_CONTIGUOUS) {
		haddr_t a = H5Dget_offset(ds->id);

		bytes = ds->rowbytes * ds->dims[0];
		if (a == HADDR_UNDEF || a > fsize || bytes > fsize - a ||
		    !(ds->rawaddr = malloc(sizeof *ds->rawaddr)))
			goto done;
		ds->rawaddr[0] = a;
		ds->rawrows = (int64_t)ds->dims[0];
		ds->nraw = 1;
	} else if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_nfilters(dcpl) == 0 &&
	    H5Pget_chunk(dcpl, nd, cd) == nd && cd[0] > 0) {
		for (k = 1; k < nd; k++)
			if (cd[k] != ds->dims[k])
				goto done;
		ds->rawrows = (int64_t)cd[0];
		ds->nraw = ((int64_t)ds->dims[0] + ds->rawrows - 1) / ds->rawrows;
		bytes = ds->rowbytes * cd[0];
		if (ds->nraw > RAW_MAX_CHUNKS ||
		    !(ds->rawaddr = malloc((size_t)ds->nraw * sizeof *ds->rawaddr)))
			goto done;
		for (int64_t j = 0; j < ds->nraw; j++)
			if (chunk_at(ds, j, bytes, fsize) < 0)
				goto done;
	} else {
		goto done;
	}
	ds->rawfd = fd;
	ds->byoffset = 1;
done:
	if (!ds->byoffset) {
		free(ds->rawaddr);
		ds->rawaddr = NULL;
	}
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (ft >= 0)
		H5Tclose(ft);
	H5Eclear2(H5E_DEFAULT);
}

int uvh5_raw_read(const struct uvh5_dset *ds, const char *path, const char *name, int64_t row0,
    int64_t nrows, void *out, int *status, char *err)
{
	unsigned char *o = out;
	int64_t row = row0, end = row0 + nrows;

	while (row < end) {
		int64_t j = row / ds->rawrows, last = (j + 1) * ds->rawrows;
		size_t n = (size_t)((last < end ? last : end) - row) * ds->rowbytes, got = 0;
		uint64_t at = ds->rawaddr[j] + (uint64_t)(row - j * ds->rawrows) * ds->rowbytes;

		while (got < n) {
			ssize_t k = pread(ds->rawfd, o + got, n - got, (off_t)(at + got));

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				uvh5_fail(status, err, k < 0 ? EX_IOERR : EX_DATAERR,
				    "cannot read '/Data/%s' rows %lld-%lld in '%s': %s", name,
				    (long long)row0, (long long)(end - 1), path,
				    k < 0 ? strerror(errno) : "unexpected end of file");
				return -1;
			}
			got += (size_t)k;
		}
		o += n;
		row += (int64_t)(n / ds->rowbytes);
	}
	return 0;
}
