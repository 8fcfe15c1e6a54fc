/*
 * check_data.c: the streaming data checks (chk_data_begin, chk_data_rows,
 * chk_data_end) over the visibilities, flags and nsamples, one block of
 * rows at a time so that a file larger than memory is checked in one
 * pass. The pass over each block is branch-free and only goes back to find
 * the first offender when a block has one. Apart from the header checks
 * because it runs on data read later, block by block, and is the hot loop.
 */
#include "uvh5/check_priv.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/json.h"

static int is_auto_pol(int64_t p)
{
	/* rr, ll, xx, yy and the pseudo-Stokes parameters. */
	return p == -1 || p == -2 || p == -5 || p == -6 || (p >= 1 && p <= 4);
}

void chk_data_begin(struct chk_data *d, const struct uvh5_header *h)
{
	int64_t p;

	memset(d, 0, sizeof *d);
	d->h = h;
	d->per = h->Nfreqs * h->Npols;
	for (p = 0; p < h->Npols && p < 16; p++)
		d->autopol[p] = (uint8_t)is_auto_pol(h->polarization_array[p]);
	d->first_nonfinite = d->first_autoimag = d->first_badns = -1;
}

/* Not finite: the exponent bits all set (inf or nan), on the raw bits. */
static inline uint32_t bad_bits(uint32_t x)
{
	return (x & 0x7f800000u) == 0x7f800000u;
}

#define CHK_LANE 64   /* samples per inner block: a constant trip count vectorizes at -O2 */

/* Count unflagged non-finite, flagged non-finite and flagged samples of
 * [i0, i1) exactly (the slow path for blocks known to hold a bad one). */
static void count_slow(const uint32_t *bits, const uint8_t *flags, int64_t i0, int64_t i1,
    int64_t *nf, int64_t *nff)
{
	for (int64_t i = i0; i < i1; i++)
		if (bad_bits(bits[2 * i]) | bad_bits(bits[2 * i + 1])) {
			if (flags[i])
				(*nff)++;
			else
				(*nf)++;
		}
}

__attribute__((target_clones("avx2", "default")))
void chk_data_rows(struct chk_data *d, int64_t row0, int64_t nrows,
    const float complex *vis, const uint8_t *flags, const float *nsamples)
{
	const struct uvh5_header *h = d->h;
	int64_t n = nrows * d->per, i, row, nf = 0, nff = 0, nfl = 0, nbadns = 0;
	const uint32_t *bits = (const uint32_t *)(const void *)vis;

	/*
	 * Fast pass by blocks of CHK_LANE samples: OR of "exponent all ones"
	 * over the block and the sum of its flag bytes, both branch-free;
	 * only a block holding a non-finite value is looked at sample by sample.
	 */
	for (i = 0; i + CHK_LANE <= n; i += CHK_LANE) {
		const uint32_t *b = bits + 2 * i;
		const uint8_t *fl = flags + i;
		uint32_t any = 0, sum = 0;
		int k;

		for (k = 0; k < 2 * CHK_LANE; k++)
			any |= (b[k] & 0x7f800000u) == 0x7f800000u;
		for (k = 0; k < CHK_LANE; k++)
			sum += fl[k] != 0;
		nfl += sum;
		if (any)
			count_slow(bits, flags, i, i + CHK_LANE, &nf, &nff);
	}
	for (; i < n; i++)
		nfl += flags[i] != 0;
	count_slow(bits, flags, n - n % CHK_LANE, n, &nf, &nff);
	d->flagged += nfl;
	d->nonfinite_flagged += nff;
	if (nf) {
		if (d->first_nonfinite < 0)
			for (i = 0; i < n; i++)
				if (!flags[i] && (bad_bits(bits[2 * i]) | bad_bits(bits[2 * i + 1]))) {
					d->first_nonfinite = row0 * d->per + i;
					break;
				}
		d->nonfinite += nf;
	}
	for (row = 0; row < nrows; row++) {
		int64_t g = row0 + row, base = row * d->per, c, p;

		if (h->ant_1_array[g] != h->ant_2_array[g])
			continue;
		for (c = 0; c < h->Nfreqs; c++)
			for (p = 0; p < h->Npols; p++) {
				int64_t k = base + c * h->Npols + p;
				float re = crealf(vis[k]), im = cimagf(vis[k]);

				if (flags[k] || p >= 16 || !d->autopol[p] || im == 0)
					continue;
				if (fabsf(im) <= CHK_AUTO_IMAG_REL * fabsf(re) || !isfinite(im))
					continue;
				if (d->autoimag++ == 0)
					d->first_autoimag = row0 * d->per + k;
				d->worst_autoimag = fmax(d->worst_autoimag,
				    re != 0 ? fabs((double)im / re) : INFINITY);
			}
	}
	if (nsamples) {
		/* Same scheme: nsamples must be >= 0 and finite where unflagged. */
		for (i = 0; i < n; i += CHK_LANE) {
			int64_t k, e = i + CHK_LANE <= n ? i + CHK_LANE : n;
			uint32_t any = 0;

			if (e - i == CHK_LANE) {
				const float *v = nsamples + i;

				for (k = 0; k < CHK_LANE; k++)
					any |= !((v[k] >= 0.0f) & (v[k] <= FLT_MAX));
			} else {
				any = 1;
			}
			if (!any)
				continue;
			for (k = i; k < e; k++)
				if (!flags[k] && !(nsamples[k] >= 0.0f && nsamples[k] <= FLT_MAX)) {
					if (d->badns == 0 && nbadns == 0)
						d->first_badns = row0 * d->per + k;
					nbadns++;
				}
		}
		d->badns += nbadns;
	}
	d->next_row = row0 + nrows;
}

void chk_data_merge(struct chk_data *d, const struct chk_data *b)
{
	if (d->first_nonfinite < 0)
		d->first_nonfinite = b->first_nonfinite;
	if (d->first_autoimag < 0)
		d->first_autoimag = b->first_autoimag;
	if (d->first_badns < 0)
		d->first_badns = b->first_badns;
	d->nonfinite += b->nonfinite;
	d->nonfinite_flagged += b->nonfinite_flagged;
	d->flagged += b->flagged;
	d->autoimag += b->autoimag;
	d->badns += b->badns;
	d->worst_autoimag = fmax(d->worst_autoimag, b->worst_autoimag);
	d->next_row = b->next_row;
}

/* "row R, channel C, pol P" of flat sample index s. */
static void where(const struct chk_data *d, int64_t s, char *buf, size_t n)
{
	const struct uvh5_header *h = d->h;
	int64_t row = s / d->per, c = (s % d->per) / h->Npols, p = s % h->Npols;

	snprintf(buf, n, "row %lld, channel %lld, pol %s", (long long)row, (long long)c,
	    uvh5_pol_name(h->polarization_array[p]));
}

void chk_data_end(struct chk_data *d, struct chk_report *r)
{
	char w[128];

	r->rows_read = d->next_row;
	r->samples = d->next_row * d->per;
	r->flagged = d->flagged;
	r->nonfinite_unflagged = d->nonfinite;
	r->nonfinite_flagged = d->nonfinite_flagged;
	r->auto_imag = d->autoimag;
	if (d->nonfinite) {
		where(d, d->first_nonfinite, w, sizeof w);
		chk_error(r, "non-finite unflagged visibilities: %lld samples (first at %s)",
		    (long long)d->nonfinite, w);
	}
	if (d->autoimag) {
		where(d, d->first_autoimag, w, sizeof w);
		chk_error(r, "auto-correlations with non-zero imaginary part: %lld unflagged samples "
		    "(first at %s; |imag/real| up to %.3g)", (long long)d->autoimag, w,
		    d->worst_autoimag);
	}
	if (d->badns) {
		where(d, d->first_badns, w, sizeof w);
		chk_warn(r, "nsamples negative or not finite: %lld unflagged samples (first at %s)",
		    (long long)d->badns, w);
	}
	if (r->samples > 0 && d->flagged == r->samples && d->next_row == d->h->Nblts)
		chk_warn(r, "every sample is flagged");
}
