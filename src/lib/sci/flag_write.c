/*
 * flag_write.c: uvm-flag's write phase (contract in flag_write.h).
 *
 * The flagged copy is the input's visibilities and nsamples with the new
 * flags. Written with uvh5_write_rows, libhdf5 compressed flags and
 * nsamples (LZF) inside H5Dwrite on the one thread that also read the
 * input again: the whole phase was serial while the other core idled.
 * uvh5_copy_encoded reads the input again without its flags and has its
 * workers encode each block with the rows of the group's flags, the same
 * pool as uvm-calapply's. A layout the direct path does not take (the
 * DSA-110 one: nothing to compress) comes back from uvh5_encode_rows as
 * rows, written with uvh5_write_rows in the same order.
 */
#include "sci/flag_write.h"

#include "uvh5/uvh5_stream.h"

struct group_flags {
	const uint8_t *flags;  /* Nblts x row */
	size_t row;            /* samples a row */
};

/* A block's flags: its rows of the group's. */
static const uint8_t *block_flags(void *ctx, int worker, int64_t r0, int64_t nr,
    float complex *vis, uint8_t *flags, float *ns)
{
	const struct group_flags *g = ctx;

	return g->flags + (size_t)r0 * g->row;
}

int flag_write(uvh5_file *f, uvh5_writer *w, const uint8_t *flags, int nthreads, int *status,
    char *err)
{
	const struct uvh5_header *h = uvh5_header(f);
	struct group_flags g = { flags, (size_t)h->Nfreqs * (size_t)h->Npols };

	return uvh5_copy_encoded(f, w, nthreads, 0, block_flags, &g, status, err);
}
