/*
 * uvh5_stream.h: copy a file's rows to a writer, each block of rows
 * changed and encoded on a pool of workers while the calling thread reads
 * ahead and writes the finished blocks in order. What uvm-calapply
 * (calibrate each block) and uvm-flag's write phase (each block with the
 * group's flags) share: libhdf5 compresses on the thread that calls it, so
 * the compression goes to the workers (uvh5_encode_rows) and the one
 * thread that calls libhdf5 only reads and writes.
 */
#ifndef UVM_UVH5_STREAM_H
#define UVM_UVH5_STREAM_H

#include <complex.h>
#include <stdint.h>

#include "uvh5/uvh5.h"

#define UVH5_MAX_THREADS 64

/* The workers uvh5_copy_encoded starts for nthreads: the online CPUs when
 * nthreads <= 0, at least 1 and at most UVH5_MAX_THREADS. */
int uvh5_stream_threads(int nthreads);

/*
 * What a worker does to a block before it is encoded: rows [r0, r0+nr) of
 * the file, as read into vis, flags and ns (nr x Nfreqs x Npols each;
 * flags NULL when the copy does not read them), may be changed in place.
 * worker is the caller's index in [0, uvh5_stream_threads(nthreads)):
 * no two blocks run at once with the same index, so per-worker state
 * needs no lock. Returns the flags to encode for these rows: flags, or
 * rows of the caller's own array, which must stay unchanged until the
 * copy returns. NULL fails the block's encoding (EX_SOFTWARE).
 */
typedef const uint8_t *uvh5_block_fn(void *ctx, int worker, int64_t r0, int64_t nr,
    float complex *vis, uint8_t *flags, float *ns);

/*
 * Write every row of f to w (created for f's Nblts, Nfreqs and Npols, no
 * row written yet) in blocks of one chunk of w each: the calling thread
 * reads a block (with its flags when read_flags) into a free slot, a
 * worker passes it to fn (NULL: the rows as read, which needs
 * read_flags) and encodes it (uvh5_encode_rows), the calling thread
 * writes the encoded blocks in order (uvh5_write_encoded). Workers take
 * blocks in order; uvh5_stream_threads(nthreads) of them, nthreads + 3
 * slots of one chunk each whatever the file's size. The file is the same
 * bytes for any number of workers, and the same as with uvh5_write_rows.
 * 0, or -1 with *status and err (UVH5_ERRLEN) from the first failure of
 * a read, an encoding or a write, which stops the pool (EX_OSERR out of
 * memory, EX_SOFTWARE when no thread starts); every worker has finished
 * either way, and w is left to the caller to commit or abort.
 */
int uvh5_copy_encoded(uvh5_file *f, uvh5_writer *w, int nthreads, int read_flags,
    uvh5_block_fn *fn, void *ctx, int *status, char *err);

#endif
