/*
 * uvh5_priv.h: helpers shared by the UVH5 reader (uvh5_header.c and
 * uvh5_data.c), writer (uvh5_write.c) and common code (uvh5.c). Not part of
 * the public API: only these files include it, so hdf5.h stays out of
 * uvh5.h.
 */
#ifndef UVM_UVH5_PRIV_H
#define UVM_UVH5_PRIV_H

#include <hdf5.h>
#include <stdarg.h>

#include "uvh5/uvh5.h"

#define UVH5_LZF_FILTER 32000

/* Replace libhdf5's automatic error printing by a recorder of the last
 * failure (once per thread). */
void uvh5_h5_quiet(void);
/*
 * Summarise the last recorded HDF5 failure into reason (the innermost
 * description), forget it, and return the exit status it implies:
 * EX_IOERR when the failure is a system read/write/seek error, else
 * EX_DATAERR.
 */
int uvh5_h5_reason(char *reason, size_t n);
/* Fill *status and err (may be NULL) with a formatted one-line message. */
void uvh5_fail(int *status, char *err, int st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A new enum type on native int8 with FALSE=0, TRUE=1 (h5py's bool);
 * caller closes it. Negative on failure. */
hid_t uvh5_bool_type(void);
/* Write this process's provenance (core/prov.h) as the root attribute
 * uvm_provenance of file fid (uvh5_prov.c): 0, or -1 (HDF5 or memory). */
int uvh5_put_provenance(hid_t fid);

/* Reading context of the reader's two halves (uvh5_header.c, uvh5_data.c):
 * the open /Header group and where errors go. */
struct uvh5_rd {
	hid_t hdr;
	const char *path;
	int *status;
	char *err;
};
/* Report a failed read of what ("dataset", "group") name from the HDF5
 * error stack; -1. */
int uvh5_rd_fail(struct uvh5_rd *r, const char *what, const char *name);
/* Open loc/name as a dataset: the id, 0 when absent (no link, or a null
 * dataspace: h5py's None) and -1 on error (reported if required or the
 * link exists but cannot be opened). */
hid_t uvh5_open_ds(struct uvh5_rd *r, hid_t loc, const char *name, int required);
/* Number of elements of d, shape in dims (up to 4 dims), -1 on error. */
int64_t uvh5_ds_shape(hid_t d, int *ndim, hsize_t dims[4]);
/*
 * Typed readers of /Header datasets (uvh5_read.c): 0, or -1 with the
 * reason in r (the ones taking no r report nothing). "absent leaves"
 * means an optional dataset that is missing is not an error and leaves
 * the output as it was.
 */
/* Report "bad dataset 'name' in '<path>': why" (EX_DATAERR); -1. */
int uvh5_rd_bad(struct uvh5_rd *r, const char *name, const char *why);
/* All n elements of d as int64 into out: integers of any width and byte
 * order, floats, enums (bools) widened from their base type. */
int uvh5_read_i64(hid_t d, size_t n, int64_t *out);
/* A scalar (or one-element) integer/bool r->hdr/name; absent leaves *out. */
int uvh5_rd_i64(struct uvh5_rd *r, const char *name, int64_t *out, int required);
/* A scalar float loc/name; absent leaves *out. */
int uvh5_rd_f64(struct uvh5_rd *r, hid_t loc, const char *name, double *out, int required);
/* All n strings of d (fixed or variable length) into malloc'd out[i];
 * fixed-length values end at their first NUL. */
int uvh5_read_strings(hid_t d, size_t n, char **out);
/* A scalar string into a malloc'd *out; absent leaves *out. */
int uvh5_rd_strdup(struct uvh5_rd *r, hid_t loc, const char *name, char **out, int required);
/* A scalar string into buf (size bytes, truncating); absent leaves it. */
int uvh5_rd_str(struct uvh5_rd *r, hid_t loc, const char *name, char *buf, size_t size, int required);
/* A numeric array of exactly n elements (any shape) r->hdr/name into a new
 * malloc'd array, int64 if is_int, else double; absent: *out NULL. */
int uvh5_rd_arr(struct uvh5_rd *r, const char *name, int64_t n, int is_int, void **out, int required);
/* Read the whole header below r->hdr into h; 0 or -1 with r's error set. */
int uvh5_read_header(struct uvh5_rd *r, struct uvh5_header *h);

/* Compress in[0..n) as the LZF filter stores a chunk: the block's size,
 * or 0 when it does not fit in min(outn, n) bytes (the chunk is then
 * stored as is). Thread-safe, deterministic. */
size_t uvh5_lzf_encode(const void *in, size_t n, void *out, size_t outn);
/* Decompress one LZF block of n bytes into exactly outn bytes; 0 or -1. */
int uvh5_lzf_decode(const void *in, size_t n, void *out, size_t outn);

#endif
