/*
 * combine.c: subband files -> one ascending-frequency UVH5 (contract in
 * combine.h).
 *
 * Checking first, then streaming. Agreement is decided by vote: each
 * input's layout (antennas, baselines, times, polarizations, channel
 * width) is compared with every other's, the layout shared by most inputs
 * is the reference and every input that differs from it is blamed, so a
 * single odd file is named whatever its position on the command line.
 * The band is then sorted by frequency and its tiling checked. Data move
 * block by block: each input's rows are read into one buffer and copied,
 * channel-reversed where needed, into their slice of the output block.
 *
 * Memory: the UVH5 reader keeps every per-row header array of an open file
 * (about 100 bytes a row, 12 MB for a full DSA-110 file), so holding all
 * of a group's inputs open through uvh5_open would cost more than one
 * subband. Inputs are therefore validated one at a time through uvh5_open
 * (keeping one header per distinct layout), and the data are streamed
 * through uvh5_open_data, the same reader without the header: it reads
 * any chunk shape (the correlator's small chunks included) without
 * reading or decoding a chunk twice.
 */
#include "sci/combine.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "sci/geom.h"
#include "uvh5/uvh5.h"

struct input {
	const char *path;
	int idx;                 /* position in o->inputs */
	int cls;                 /* layout class (index into the representatives) */
	int64_t nf;
	double *freq;            /* nf, as stored */
	double lo, hi, width;    /* lowest, highest centre frequency; |width| */
	int desc;                /* channels stored in descending frequency */
	int64_t off;             /* first output channel */
	uvh5_file *d;            /* data only, while streaming */
};

/* Does a have the same layout as b? NULL if so, else what differs. */
static const char *differs(const struct uvh5_header *a, const struct uvh5_header *b)
{
	double ttol;

	if (a->Nants_telescope != b->Nants_telescope)
		return "antennas differ";
	for (int64_t i = 0; i < a->Nants_telescope; i++) {
		if (a->antenna_numbers[i] != b->antenna_numbers[i])
			return "antenna numbers differ";
		for (int k = 0; k < 3; k++)
			if (fabs(a->antenna_positions[3 * i + k] - b->antenna_positions[3 * i + k]) > 1e-3)
				return "antenna positions differ";
	}
	if (a->Nblts != b->Nblts || a->Nbls != b->Nbls || a->Ntimes != b->Ntimes)
		return "baselines or times differ (Nblts, Nbls, Ntimes)";
	for (int64_t r = 0; r < a->Nblts; r++)
		if (a->ant_1_array[r] != b->ant_1_array[r] || a->ant_2_array[r] != b->ant_2_array[r])
			return "baselines differ (ant_1/ant_2 order)";
	for (int64_t r = 0; r < a->Nblts; r++) {
		double it = a->integration_time ? a->integration_time[r] : 0;
		ttol = (it > 0.1 ? 0.01 * it : 1e-3) / GEOM_DAY_S;
		if (fabs(a->time_array[r] - b->time_array[r]) > ttol)
			return "times differ";
	}
	if (a->Npols != b->Npols)
		return "polarizations differ";
	for (int64_t p = 0; p < a->Npols; p++)
		if (a->polarization_array[p] != b->polarization_array[p])
			return "polarizations differ";
	if (fabs(fabs(a->channel_width[0]) - fabs(b->channel_width[0])) >
	    1e-6 * fabs(a->channel_width[0]))
		return "channel widths differ";
	return NULL;
}

/* Checks of one file on its own; fills nf, freq, lo, hi, width, desc.
 * NULL or why not ("out of memory" included). */
static const char *spectral(struct input *in, const struct uvh5_header *h)
{
	int64_t nf = h->Nfreqs;
	double w;

	if (nf < 1 || h->Npols < 1 || h->Nblts < 1)
		return "empty data";
	if (h->Nspws != 1)
		return "more than one spectral window";
	w = fabs(h->channel_width[0]);
	if (!(w > 0) || !isfinite(w))
		return "bad channel width";
	for (int64_t j = 1; j < nf; j++)
		if (fabs(fabs(h->channel_width[j]) - w) > 1e-6 * w)
			return "channel widths vary";
	in->desc = nf > 1 && h->freq_array[1] < h->freq_array[0];
	for (int64_t j = 1; j < nf; j++) {
		double step = h->freq_array[j] - h->freq_array[j - 1];
		if (fabs(fabs(step) - w) > 1e-3 * w || (step < 0) != in->desc)
			return "channels not evenly spaced by the channel width";
	}
	in->width = w;
	in->nf = nf;
	in->freq = malloc(sizeof(double) * (size_t)nf);
	if (!in->freq)
		return "out of memory";
	memcpy(in->freq, h->freq_array, sizeof(double) * (size_t)nf);
	in->lo = in->desc ? h->freq_array[nf - 1] : h->freq_array[0];
	in->hi = in->desc ? h->freq_array[0] : h->freq_array[nf - 1];
	if (!isfinite(in->lo) || !isfinite(in->hi) || in->lo <= 0)
		return "bad frequencies";
	return NULL;
}

static int by_freq(const void *x, const void *y)
{
	const struct input *a = x, *b = y;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Blame input in with a message; returns EX_DATAERR. */
static int blame_one(unsigned char *blame, const struct input *in, char *err, const char *why)
{
	if (blame)
		blame[in->idx] = 1;
	snprintf(err, COMBINE_ERRLEN, "'%s': %s", in->path, why);
	return EX_DATAERR;
}

/* Voting (see the file comment) over the layout classes found while
 * opening (rep[c] the first header of class c); *ref gets the winning
 * class. 0 or EX_DATAERR with blame set. */
static int check_layouts(struct input *in, int n, struct uvh5_header *rep, int nrep, int *ref,
    unsigned char *blame, char *err)
{
	int best = 0, bestn = -1, nbad = 0;

	for (int c = 0; c < nrep; c++) {
		int m = 0;
		for (int i = 0; i < n; i++)
			m += in[i].cls == c;
		if (m > bestn) {
			bestn = m;
			best = c;
		}
	}
	*ref = best;
	for (int i = 0; i < n; i++) {
		if (in[i].cls == best)
			continue;
		if (!nbad++)
			blame_one(blame, &in[i], err, differs(&rep[best], &rep[in[i].cls]));
		else if (blame)
			blame[in[i].idx] = 1;
	}
	if (nbad > 1) {
		char first[COMBINE_ERRLEN];
		snprintf(first, sizeof first, "%s", err);
		snprintf(err, COMBINE_ERRLEN, "%s (and %d more files disagree)", first, nbad - 1);
	}
	return nbad ? EX_DATAERR : 0;
}

/*
 * Check the tiling of the sorted inputs; *gaps gets the number of whole
 * subbands missing inside the band. 0 or EX_DATAERR with blame set.
 */
static int check_tiling(struct input *in, int n, int nmissing, unsigned char *blame, char *err,
    int *gaps)
{
	*gaps = 0;
	for (int k = 1; k < n; k++) {
		double w = in[k].width, gap = in[k].lo - in[k - 1].hi;
		double sub = (double)in[k - 1].nf * w, m;
		char why[256];

		if (fabs(gap - w) <= 1e-3 * w)
			continue;
		if (gap < w) {
			snprintf(why, sizeof why, "overlaps '%s' in frequency", in[k - 1].path);
			return blame_one(blame, &in[k], err, why);
		}
		m = floor((gap - w) / sub + 0.5);
		if (m < 1 || fabs(gap - w - m * sub) > 1e-3 * w) {
			snprintf(why, sizeof why, "not contiguous with '%s' (gap of %.6g channels)",
			    in[k - 1].path, (gap - w) / w);
			return blame_one(blame, &in[k], err, why);
		}
		*gaps += (int)m;
		if (*gaps > nmissing) {
			snprintf(why, sizeof why, "%d subband(s) missing below it but %d declared (-m)",
			    *gaps, nmissing);
			return blame_one(blame, &in[k], err, why);
		}
	}
	return 0;
}

/* Output header: the reference header with the combined spectral axis. */
static int make_header(struct uvh5_header *oh, const struct uvh5_header *ref,
    const struct input *in, int n, const struct combine_opts *o, char *err)
{
	int64_t nf = 0, j = 0;
	char missing[256] = "", line[1024];

	for (int k = 0; k < n; k++)
		nf += in[k].nf;
	if (uvh5_header_copy(oh, ref) < 0)
		goto oom;
	free(oh->freq_array);
	free(oh->channel_width);
	free(oh->flex_spw_id_array);
	oh->flex_spw_id_array = NULL;
	oh->freq_array = malloc((size_t)nf * sizeof(double));
	oh->channel_width = malloc((size_t)nf * sizeof(double));
	if (ref->flex_spw_id_array)
		oh->flex_spw_id_array = malloc((size_t)nf * sizeof(int64_t));
	if (!oh->freq_array || !oh->channel_width ||
	    (ref->flex_spw_id_array && !oh->flex_spw_id_array))
		goto oom;
	for (int k = 0; k < n; k++)
		for (int64_t c = 0; c < in[k].nf; c++, j++) {
			oh->freq_array[j] = in[k].freq[in[k].desc ? in[k].nf - 1 - c : c];
			oh->channel_width[j] = in[k].width;
			if (oh->flex_spw_id_array)
				oh->flex_spw_id_array[j] = oh->spw_array[0];
		}
	oh->Nfreqs = nf;
	for (int i = 0; i < o->nmissing; i++) {
		size_t l = strlen(missing);
		snprintf(missing + l, sizeof missing - l, "%s%s", i ? "," : "", o->missing[i]);
	}
	/* no wall-clock time here: a product is a function of its inputs only
	 * (re-making it gives the same bytes); the job record has the time */
	snprintf(line, sizeof line,
	    "uvm-combine: %d subband files -> %lld channels ascending, %.6f-%.6f MHz%s%s.",
	    n, (long long)nf, oh->freq_array[0] / 1e6, oh->freq_array[nf - 1] / 1e6,
	    *missing ? "; missing subbands: " : "", missing);
	if (uvh5_header_add_history(oh, line) < 0)
		goto oom;
	{
		char num[32];
		snprintf(num, sizeof num, "%d", n);
		if (uvh5_header_set_keyword(oh, "nsubbands_combined", num) < 0 ||
		    (*missing && uvh5_header_set_keyword(oh, "missing_subbands", missing) < 0))
			goto oom;
	}
	return 0;
oom:
	snprintf(err, COMBINE_ERRLEN, "out of memory");
	return EX_OSERR;
}

/* Open in's data for streaming (its header was validated by uvh5_open):
 * 0 or an exit status with err filled. */
static int src_open(struct input *in, const struct uvh5_header *oh, char *err)
{
	struct uvh5_header e;
	char why[UVH5_ERRLEN];
	int st = 0;

	memset(&e, 0, sizeof e);
	e.Nblts = oh->Nblts;
	e.Nfreqs = in->nf;
	e.Npols = oh->Npols;
	in->d = uvh5_open_data(in->path, &e, &st, why);
	if (in->d)
		return 0;
	snprintf(err, COMBINE_ERRLEN, "%s", why);
	return st ? st : EX_DATAERR;
}

/* Copy nf channels of cb bytes each from src to dst in reverse order; the
 * usual sizes (two polarizations of complex, float or flag) get copies of
 * a fixed size the compiler inlines. */
static void reverse_channels(void *dst, const void *src, int64_t nf, size_t cb)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (nf <= 0)
		return;
	s += (size_t)(nf - 1) * cb;
	if (cb == 16)
		for (int64_t c = 0; c < nf; c++, d += 16, s -= 16)
			memcpy(d, s, 16);
	else if (cb == 8)
		for (int64_t c = 0; c < nf; c++, d += 8, s -= 8)
			memcpy(d, s, 8);
	else if (cb == 2)
		for (int64_t c = 0; c < nf; c++, d += 2, s -= 2)
			memcpy(d, s, 2);
	else
		for (int64_t c = 0; c < nf; c++, d += cb, s -= cb)
			memcpy(d, s, cb);
}

/* Stream the data into out; oh is freed once written. 0 or an exit
 * status with err filled. */
static int stream(struct input *in, int n, struct uvh5_header *oh, long block_bytes,
    const char *out, unsigned char *blame, char *err)
{
	int64_t nf = oh->Nfreqs, np = oh->Npols, nblts = oh->Nblts, nbls = oh->Nbls, maxnf = 0, b;
	size_t row = (size_t)(nf * np);
	float complex *ov = NULL, *iv = NULL;
	uint8_t *of = NULL, *ifl = NULL;
	float *os = NULL, *is = NULL;
	uvh5_writer *w = NULL;
	char e[UVH5_ERRLEN];
	int st = 0, rc = 0;

	b = block_bytes / (long)(row * sizeof(float complex));
	if (b > nbls)
		b = nbls;
	if (b < 1)
		b = 1;
	for (int k = 0; k < n; k++)
		if (in[k].nf > maxnf)
			maxnf = in[k].nf;
	ov = malloc((size_t)b * row * sizeof *ov);
	of = malloc((size_t)b * row);
	os = malloc((size_t)b * row * sizeof *os);
	iv = malloc((size_t)(b * maxnf * np) * sizeof *iv);
	ifl = malloc((size_t)(b * maxnf * np));
	is = malloc((size_t)(b * maxnf * np) * sizeof *is);
	if (!ov || !of || !os || !iv || !ifl || !is) {
		snprintf(err, COMBINE_ERRLEN, "out of memory");
		rc = EX_OSERR;
		goto out;
	}
	for (int k = 0; k < n; k++)
		if ((rc = src_open(&in[k], oh, err)) != 0) {
			if (blame)
				blame[in[k].idx] = 1;
			goto out;
		}
	w = uvh5_create(out, oh, b, &st, e);
	/* the header is written: its per-row arrays are not needed any more */
	uvh5_header_free(oh);
	if (!w) {
		snprintf(err, COMBINE_ERRLEN, "%s", e);
		rc = st ? st : EX_CANTCREAT;
		goto out;
	}
	for (int64_t r0 = 0; r0 < nblts; r0 += b) {
		int64_t nr = nblts - r0 < b ? nblts - r0 : b;

		for (int k = 0; k < n; k++) {
			int64_t knf = in[k].nf;
			size_t krow = (size_t)(knf * np);

			if (uvh5_read_rows(in[k].d, r0, nr, iv, ifl, is, &st, e) < 0) {
				snprintf(err, COMBINE_ERRLEN, "%s", e);
				rc = st ? st : EX_DATAERR;
				if (rc == EX_DATAERR && blame)
					blame[in[k].idx] = 1;
				goto out;
			}
			for (int64_t r = 0; r < nr; r++) {
				size_t dst = (size_t)r * row + (size_t)(in[k].off * np);
				size_t src = (size_t)r * krow;

				if (!in[k].desc) {
					memcpy(ov + dst, iv + src, krow * sizeof *ov);
					memcpy(of + dst, ifl + src, krow);
					memcpy(os + dst, is + src, krow * sizeof *os);
					continue;
				}
				reverse_channels(ov + dst, iv + src, knf, (size_t)np * sizeof *ov);
				reverse_channels(of + dst, ifl + src, knf, (size_t)np);
				reverse_channels(os + dst, is + src, knf, (size_t)np * sizeof *os);
			}
		}
		if (uvh5_write_rows(w, r0, nr, ov, of, os, &st, e) < 0) {
			snprintf(err, COMBINE_ERRLEN, "%s", e);
			rc = st ? st : EX_IOERR;
			goto out;
		}
	}
	if (uvh5_writer_commit(w, &st, e) < 0) {
		w = NULL;
		snprintf(err, COMBINE_ERRLEN, "%s", e);
		rc = st ? st : EX_IOERR;
		goto out;
	}
	w = NULL;
out:
	if (w)
		uvh5_writer_abort(w);
	for (int k = 0; k < n; k++) {
		uvh5_close(in[k].d);
		in[k].d = NULL;
	}
	free(ov);
	free(of);
	free(os);
	free(iv);
	free(ifl);
	free(is);
	return rc;
}

int combine_run(const struct combine_opts *o, unsigned char *blame, char *err)
{
	int n = o->ninputs, rc = 0, gaps = 0, nrep = 0, ref = 0;
	struct input *in = calloc((size_t)(n > 0 ? n : 1), sizeof *in);
	struct uvh5_header *rep = calloc((size_t)(n > 0 ? n : 1), sizeof *rep);
	struct uvh5_header oh;
	int64_t off = 0;

	memset(&oh, 0, sizeof oh);
	if (!in || !rep) {
		snprintf(err, COMBINE_ERRLEN, "out of memory");
		free(in);
		free(rep);
		return EX_OSERR;
	}
	/* one file open at a time: its header checked, classified, closed */
	for (int i = 0; i < n; i++) {
		char e[UVH5_ERRLEN];
		const struct uvh5_header *h;
		const char *why;
		uvh5_file *f;
		int st = 0, c;

		in[i].path = o->inputs[i];
		in[i].idx = i;
		f = uvh5_open(in[i].path, &st, e);
		if (!f) {
			snprintf(err, COMBINE_ERRLEN, "%s", e);
			rc = st ? st : EX_DATAERR;
			if (rc == EX_DATAERR && blame)
				blame[i] = 1;
			goto out;
		}
		h = uvh5_header(f);
		if ((why = spectral(&in[i], h)) != NULL) {
			uvh5_close(f);
			if (!strcmp(why, "out of memory")) {
				snprintf(err, COMBINE_ERRLEN, "out of memory");
				rc = EX_OSERR;
			} else {
				rc = blame_one(blame, &in[i], err, why);
			}
			goto out;
		}
		for (c = 0; c < nrep && differs(&rep[c], h); c++)
			;
		if (c == nrep && uvh5_header_copy(&rep[nrep++], h) < 0) {
			uvh5_close(f);
			snprintf(err, COMBINE_ERRLEN, "out of memory");
			rc = EX_OSERR;
			goto out;
		}
		in[i].cls = c;
		uvh5_close(f);
	}
	if ((rc = check_layouts(in, n, rep, nrep, &ref, blame, err)) != 0)
		goto out;
	/* sorting loses the command-line order, kept in idx for blame */
	qsort(in, (size_t)n, sizeof *in, by_freq);
	if ((rc = check_tiling(in, n, o->nmissing, blame, err, &gaps)) != 0)
		goto out;
	for (int k = 0; k < n; k++) {
		in[k].off = off;
		off += in[k].nf;
	}
	if ((rc = make_header(&oh, &rep[ref], in, n, o, err)) != 0)
		goto out;
	for (int c = 0; c < nrep; c++)
		uvh5_header_free(&rep[c]);
	nrep = 0;
	rc = stream(in, n, &oh, o->block_bytes > 0 ? o->block_bytes : 2L << 20, o->out, blame,
	    err);
out:
	uvh5_header_free(&oh);
	for (int c = 0; c < nrep; c++)
		uvh5_header_free(&rep[c]);
	for (int i = 0; i < n; i++)
		free(in[i].freq);
	free(rep);
	free(in);
	return rc;
}
