/*
 * combine.h: merge one observation group's subband UVH5 files into one
 * UVH5 1.2 file in ascending frequency (the library behind uvm-combine).
 *
 * The inputs must agree on antennas (numbers and positions), baselines
 * (ant_1/ant_2 row by row), times (within 1% of an integration), the
 * polarizations and the channel width, and tile the band: sorted by
 * frequency, adjacent subbands' edge channels are one channel width
 * apart, except across declared missing subbands (gaps of whole subbands).
 * Inputs may hold their channels ascending or descending (DSA-110: sb00
 * is the highest band, channels descending); the output is ascending, one
 * spectral window, Nfreqs = the present channels. Missing subbands are
 * recorded in the history and the extra keyword missing_subbands.
 *
 * Data are streamed in blocks of rows (2 MiB of output visibilities by
 * default, at most one integration) through buffers allocated once:
 * memory does not grow with the number of integrations, and grows with the
 * number of inputs only by one decompressed chunk of each compressed input
 * dataset (flags, nsamples). A full DSA-110-sized group peaks near 75 MB.
 */
#ifndef UVM_COMBINE_H
#define UVM_COMBINE_H

#define COMBINE_ERRLEN 1024

struct combine_opts {
	const char *out;
	const char *const *inputs;
	int ninputs;
	const char *const *missing; /* subband names, e.g. "sb03" */
	int nmissing;
	long block_bytes;           /* output visibility bytes per block (0: 2 MiB) */
};

/*
 * Combine. Returns 0 or an exit status: EX_NOINPUT (an input missing),
 * EX_DATAERR (an input unreadable as UVH5, or disagreeing with the others;
 * blame[i] is set to 1 for each offending input, blame has ninputs
 * entries), EX_IOERR (read or write error, disk full), EX_CANTCREAT
 * (output directory refuses the file), EX_OSERR (memory). err gets one
 * line naming the offending file. Nothing is left at o->out on failure.
 */
int combine_run(const struct combine_opts *o, unsigned char *blame, char *err);

#endif
