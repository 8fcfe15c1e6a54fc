/*
 * uvh5_priv.h: helpers shared by the UVH5 reader (uvh5_read.c), writer
 * (uvh5_write.c) and common code (uvh5.c). Not part of the public API: only
 * these three files include it, so hdf5.h stays out of uvh5.h.
 */
#ifndef UVM_UVH5_PRIV_H
#define UVM_UVH5_PRIV_H

#include <hdf5.h>
#include <stdarg.h>

#include "uvh5/uvh5.h"

#define UVH5_LZF_FILTER 32000

/* Replace libhdf5's automatic error printing by a recorder of the last
 * failure (idempotent). */
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

/* Decompress one LZF block of n bytes into exactly outn bytes; 0 or -1. */
int uvh5_lzf_decode(const void *in, size_t n, void *out, size_t outn);

#endif
