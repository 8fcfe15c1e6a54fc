/*
 * img_tbeam.c: the major cycle's prediction with the primary beam each
 * visibility saw (contract in img_int.h), for a drift scan.
 *
 * DSA-110's dishes are fixed while the sky drifts 1.25 deg through the
 * beam during a group, so a source east or west of the centre is seen
 * through a beam that changes strongly in time: the dirty image holds it
 * at the weighted mean of those beams, and a prediction that applies
 * that mean to every visibility leaves in the residual the part of the
 * source that the mean misses in each integration, which no CLEAN can
 * remove. The cheap remedy short of A-projection: the CLEAN model stays
 * in apparent units of the mean beam; each major cycle takes it to the
 * true sky (divided by that mean, where it is above a floor), and for
 * each of K time slices of the group multiplies it by the slice's beam,
 * transforms it and degrids only that slice's visibilities. So the model
 * image is the factor R_k = B_k / mean_k(B_k) away from the constant-beam
 * one: R_k is computed once, per sub-band (the beam at the sub-band's
 * frequencies) and slice, on a coarse grid (the beam varies over degrees,
 * a pixel is arcseconds) and interpolated bilinearly at the model's
 * components, which are few. The mean is weighted by the visibility
 * weights of each slice, as the dirty image's is. The model visibilities
 * are held per store entry (8 bytes each) and subtracted by the one
 * gridding pass of the residual. The slices' models are real, so their
 * transforms are Hermitian: two slices share one complex transform (one
 * in the real part, one in the imaginary) and separate at the degridding
 * from the grid's values at (u, v) and (-u, -v). K slices cost ceil(K/2)
 * model transforms, against one with a single slice, and each
 * visibility of a pair is degridded twice, which costs far less.
 */
#include "sci/img.h"
#include "sci/img_int.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#define TB_NF 4                  /* frequencies a sub-band's beam averages */
#define SIDEREAL 1.00273781191135448

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int oom(int *st, char *err, const char *what)
{
	snprintf(err, IMG_ERRLEN, "out of memory for %s", what);
	*st = EX_OSERR;
	return -1;
}

/*
 * The rows' slices: the group's distinct integration times in order,
 * dealt into k runs of (nearly) equal length; *dp[s] gets slice s's
 * pointing offset (radians of RA east of the phase centre, at the mean
 * of its integration times). 0, or -1 if out of memory.
 */
static int slice_rows(struct img_tbeam *tb, const struct img_input *in, double *dp)
{
	size_t nr = tb->nrow, nt = 0, at[IMG_TBEAM_MAX + 1];
	double *t = malloc(sizeof *t * (nr ? nr : 1)), mid = (in->jd_first + in->jd_last) / 2;
	int cnt[IMG_TBEAM_MAX] = {0};

	if (!t)
		return -1;
	memcpy(t, in->row_time, sizeof *t * nr);
	qsort(t, nr, sizeof *t, cmp_double);
	for (size_t i = 0; i < nr; i++)
		if (i == 0 || t[i] != t[nt - 1])
			t[nt++] = t[i];
	if ((size_t)tb->k > nt)
		tb->k = nt > 0 ? (int)nt : 1;
	for (int s = 0; s < tb->k; s++)
		dp[s] = 0;
	for (size_t i = 0; i < nt; i++) {
		int s = (int)(i * (size_t)tb->k / nt);
		dp[s] += (t[i] - mid) * 2 * M_PI * SIDEREAL;
		cnt[s]++;
	}
	for (int s = 0; s < tb->k; s++)
		dp[s] = cnt[s] ? dp[s] / cnt[s] : 0;
	for (size_t r = 0; r < nr; r++) {
		const double *p = bsearch(&in->row_time[r], t, nt, sizeof *t, cmp_double);
		tb->slice[r] = (unsigned char)((size_t)(p - t) * (size_t)tb->k / nt);
	}
	free(t);
	/* the rows of each slice together (a counting sort): a slice's rows
	 * can be shared evenly among threads wherever they are in the store
	 * (time-ordered rows put a slice in one thread's half) */
	memset(tb->first, 0, sizeof tb->first);
	for (size_t r = 0; r < nr; r++)
		tb->first[tb->slice[r] + 1]++;
	for (int s = 0; s < tb->k; s++)
		tb->first[s + 1] += tb->first[s];
	memcpy(at, tb->first, sizeof at);
	for (size_t r = 0; r < nr; r++)
		tb->order[at[tb->slice[r]]++] = r;
	return 0;
}

/* Sum of the store's weights per kept sub-band and slice into w. */
static void slice_weights(const struct img_tbeam *tb, const struct img_vstore *s,
    const struct img_subs *sb, double w[][IMG_TBEAM_MAX])
{
	for (int i = 0; i < s->nseg; i++) {
		const struct img_vseg *sg = &s->seg[i];
		for (size_t r = sg->row0; r < sg->row0 + sg->nrow; r++)
			for (int j = 0; j < sg->nchan; j++) {
				float x = s->w[sg->off + (r - sg->row0) * (size_t)sg->nchan + (size_t)j];
				for (int b = 0; x > 0 && b < sb->sp.nsub; b++)
					if (img_in_band(sb->lo[b], sb->hi[b], sg->freq[j]))
						w[b][tb->slice[r]] += x;
			}
	}
}

int img_tbeam_init(struct img_tbeam *tb, int k, const struct img_opts *o,
    const struct img_input *in, const struct img_subs *sb, int n, double cell, int *st,
    char *err)
{
	const struct img_vstore *s = in->store;
	double dp[IMG_TBEAM_MAX], w[IMG_SUB_MAX][IMG_TBEAM_MAX] = {{0}}, flo, fhi, *th;
	size_t ncc;

	memset(tb, 0, sizeof *tb);
	tb->k = k < 1 ? 1 : k > IMG_TBEAM_MAX ? IMG_TBEAM_MAX : k;
	tb->nrow = s->nrow;
	tb->n = n;
	tb->nsub = sb->sp.nsub;
	if (tb->k > 1 && !in->row_time) {
		/* a store made without the rows' times (not img_run's: a
		 * caller of its own) has nothing to slice by */
		tb->k = 1;
		return 0;
	}
	if (tb->k == 1)
		return 0;
	if ((size_t)in->nrows != s->nrow) {
		snprintf(err, IMG_ERRLEN, "row times of %lld rows for a store of %zu", in->nrows,
		    s->nrow);
		*st = EX_SOFTWARE;
		return -1;
	}
	if (!(tb->slice = malloc(s->nrow ? s->nrow : 1)) ||
	    !(tb->order = malloc(sizeof *tb->order * (s->nrow ? s->nrow : 1))) ||
	    slice_rows(tb, in, dp) < 0)
		return oom(st, err, "the beam's time slices");
	if (tb->k == 1)
		return 0;
	/* the coarse grid: about an arcminute, at most 16 pixels */
	tb->step = (int)fmin(16, fmax(1, floor(M_PI / 180 / 60 / cell)));
	tb->nc = n / tb->step + 2;
	ncc = (size_t)tb->nc * tb->nc;
	tb->ratio = malloc(sizeof *tb->ratio * ncc * (size_t)tb->k * (size_t)tb->nsub);
	tb->mvis = malloc(sizeof *tb->mvis * (s->nvis ? s->nvis : 1));
	if (!tb->ratio || !tb->mvis)
		return oom(st, err, "the time-sliced prediction");
	slice_weights(tb, s, sb, w);
	img_store_span(s, &flo, &fhi);
	/* each coarse point's angle from each slice's pointing, once for
	 * all sub-bands (NaN: off the sphere) */
	if (!(th = malloc(sizeof *th * ncc * (size_t)tb->k)))
		return oom(st, err, "the time-sliced prediction");
	for (int y = 0; y < tb->nc; y++)
		for (int x = 0; x < tb->nc; x++) {
			double l = -(x * tb->step - n / 2) * cell, m = (y * tb->step - n / 2) * cell;
			double dec, dra;
			size_t c = (size_t)y * tb->nc + x;
			int on = img_pb_dir(in, l, m, &dec, &dra) == 0;

			for (int sl = 0; sl < tb->k; sl++)
				th[c * (size_t)tb->k + (size_t)sl] =
				    on ? img_pb_theta(in, dec, dra, dp[sl]) : NAN;
		}
	for (int b = 0; b < tb->nsub; b++) {
		double lo = fmax(flo, sb->lo[b]), hi = sb->hi[b] > 0 ? fmin(fhi, sb->hi[b]) : fhi;
		double wsum = 0;

		for (int sl = 0; sl < tb->k; sl++)
			wsum += w[b][sl];
		for (size_t c = 0; c < ncc; c++) {
			double bk[IMG_TBEAM_MAX], mean = 0;

			for (int sl = 0; sl < tb->k; sl++) {
				double t = th[c * (size_t)tb->k + (size_t)sl];

				bk[sl] = 0;
				for (int f = 0; !isnan(t) && f < TB_NF; f++)
					bk[sl] += beam_pb(o->beam, t,
					    lo + (hi - lo) * (f + 0.5) / TB_NF, BEAM_DISH_M) / TB_NF;
				mean += w[b][sl] * bk[sl];
			}
			mean = wsum > 0 ? mean / wsum : 0;
			for (int sl = 0; sl < tb->k; sl++)
				tb->ratio[((size_t)b * tb->k + sl) * ncc + c] =
				    (float)(mean >= IMG_TBEAM_FLOOR ? bk[sl] / mean : 1);
		}
	}
	free(th);
	return 0;
}

void img_tbeam_free(struct img_tbeam *tb)
{
	free(tb->slice);
	free(tb->order);
	free(tb->ratio);
	free(tb->mvis);
	fftwf_free(tb->rows);
	memset(tb, 0, sizeof *tb);
}

/* Slice sl's factor for sub-band b at pixel i, bilinear on the coarse grid. */
static double ratio_at(const struct img_tbeam *tb, int b, int sl, size_t i)
{
	int x = (int)(i % (size_t)tb->n), y = (int)(i / (size_t)tb->n);
	int cx = x / tb->step, cy = y / tb->step;
	double fx = (double)(x - cx * tb->step) / tb->step, fy = (double)(y - cy * tb->step) / tb->step;
	const float *r0 = tb->ratio + ((size_t)b * tb->k + sl) * (size_t)tb->nc * tb->nc +
	    (size_t)cy * tb->nc + cx, *r1 = r0 + tb->nc;

	return (1 - fy) * ((1 - fx) * r0[0] + fx * r0[1]) + fy * ((1 - fx) * r1[0] + fx * r1[1]);
}

/* A degridding pass of the grid of slices sa (real part) and sb
 * (imaginary part; -1: none). */
struct degrid_job {
	struct img_tbeam *tb;
	const struct img_vstore *s;
	const struct img_grid *g;
	const float complex *mg;
	int sa, sb;
	int tr;                   /* mg transposed (img_fft_exec_t) */
};

/* The store's segment holding row r (segments hold consecutive rows,
 * in order). */
static const struct img_vseg *row_seg(const struct img_vstore *s, size_t r)
{
	int lo = 0, hi = s->nseg - 1;

	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;
		if (s->seg[mid].row0 <= r)
			lo = mid;
		else
			hi = mid - 1;
	}
	return &s->seg[lo];
}

/*
 * Model visibilities of slices sa and sb's rows, entries [i0, i1) of
 * their run in tb->order, for the entries the residual gridding will take
 * (g's selection, inside the grid, weight > 0), as img_grid_store's own
 * degridding would. With two slices in the grid, d(u) = A(u) + i B(u) in
 * the visibilities' sense (img_degrid's), and both models are real, so
 * conj d(-u) = A(u) - i B(u): a slice's visibility is their half sum or
 * half difference.
 */
static void degrid_rows(void *arg, size_t i0, size_t i1)
{
	const struct degrid_job *j = arg;
	const struct img_vstore *s = j->s;
	const struct img_grid *g = j->g;
	const size_t *order = j->tb->order + j->tb->first[j->sa];

	for (size_t i = i0; i < i1; i++) {
		size_t r = order[i];
		const struct img_vseg *sg = row_seg(s, r);
		int sl = j->tb->slice[r];

		for (int c = 0; c < sg->nchan; c++) {
			size_t o = sg->off + (r - sg->row0) * (size_t)sg->nchan + (size_t)c;
			double f = sg->freq[c] / IMG_C, u = s->u[r] * f, v = s->v[r] * f;
			float complex d, m;

			if (!(s->w[o] > 0) || !img_in_band(g->sel_lo, g->sel_hi, sg->freq[c]) ||
			    !img_grid_inside(g, u, v))
				continue;
			/* the turned grid holds (v, u) where the other has (u, v) */
			double pa = (j->tr ? v : u) / g->du, pb = (j->tr ? u : v) / g->du;

			if (j->sb < 0) {
				d = img_degrid(g->k, j->mg, g->ng, pa, pb);
			} else {
				img_degrid_pair(g->k, j->mg, g->ng, pa, pb, &d, &m);
				m = conjf(m);
				d = sl == j->sa ? (d + m) / 2 : I * (d - m) / 2;
			}
			j->tb->mvis[o] = d;
		}
	}
}

/* Slices sa and sa + 1 (sb; -1: sa only) are consecutive in tb->order:
 * their rows, dealt evenly to the threads. */
static void degrid_slices(struct img_tbeam *tb, const struct img_vstore *s,
    const struct img_grid *g, const float complex *mg, int sa, int sb, int tr, int nthreads)
{
	struct degrid_job j = { tb, s, g, mg, sa, sb, tr };

	img_par(tb->first[(sb < 0 ? sa : sb) + 1] - tb->first[sa], nthreads, degrid_rows, &j);
}

int img_tbeam_predict(struct img_tbeam *tb, const struct img_vstore *s, struct img_grid *g,
    const struct img_fft *fft, const double *corr, int b, const struct img_subs *sb,
    const int *cand, size_t ncand, float complex *mg, int nthreads, double fft_time[2])
{
	const struct img_spec *sp = &sb->sp;
	size_t m = 0;
	int *idx, *crow, *live = NULL, nlive = 0, tr = fft->mt[0] != NULL;
	float *val, *va, *vb;

	idx = malloc(sizeof *idx * (ncand ? ncand : 1) * 2);
	val = malloc(sizeof *val * (ncand ? ncand : 1) * 3);
	if (tr)
		live = malloc(sizeof *live * (size_t)tb->n);
	if (!idx || !val || (tr && !live)) {
		free(idx);
		free(val);
		free(live);
		return -1;
	}
	crow = idx + (ncand ? ncand : 1);
	va = val + (ncand ? ncand : 1);
	vb = va + (ncand ? ncand : 1);
	/* the sub-band's model where it is not 0 (its polynomial at the
	 * sub-band's frequency, as the per-pixel model_part of img_deconv.c
	 * evaluates it) */
	for (size_t i = 0; i < ncand; i++) {
		double v = 0;
		float x;

		for (int t = 0; t < sp->nterms; t++)
			v += sp->basis[b][t] * sb->model[t][cand[i]];
		if ((x = (float)v) != 0) {
			idx[m] = cand[i];
			val[m++] = x;
		}
	}
	/* transposed (img_fft_exec_t): the model's rows that hold
	 * components, transformed and turned, instead of the whole grid;
	 * their buffer made once, for the most rows there can be (its pages
	 * are touched as the rows grow; new pages on every prediction, and
	 * a new model grid every major cycle, cost 4% of uvm-image's CPU in
	 * page faults) */
	if (tr) {
		nlive = img_model_rows_index(idx, m, tb->n, g->ng, crow, live);
		if (!tb->rows)
			tb->rows = fftwf_malloc(sizeof *tb->rows * (size_t)tb->n * (size_t)g->ng);
		if (!tb->rows) {
			free(idx);
			free(val);
			free(live);
			return -1;
		}
	}
	/* two slices a transform: the real and imaginary parts of one grid */
	for (int sl = 0; sl < tb->k; sl += 2) {
		double c0, w0, c1, w1;
		int pair = sl + 1 < tb->k;

		img_clock(&c0, &w0);
		for (size_t i = 0; i < m; i++) {
			va[i] = (float)(val[i] * ratio_at(tb, b, sl, (size_t)idx[i]));
			if (pair)
				vb[i] = (float)(val[i] * ratio_at(tb, b, sl + 1, (size_t)idx[i]));
		}
		if (tr) {
			img_model_rows_pair(idx, crow, va, pair ? vb : NULL, m, tb->n, g->ng, corr,
			    tb->rows, nlive, nthreads);
			img_fft_exec_t(fft, tb->rows, live, nlive, mg, nthreads);
		} else {
			img_model_grid_pair(idx, va, pair ? vb : NULL, m, tb->n, g->ng, corr, mg);
			img_fft_exec_pass(fft, IMG_FFT_MODEL, mg);
		}
		img_clock(&c1, &w1);
		fft_time[0] += c1 - c0;
		fft_time[1] += w1 - w0;
		degrid_slices(tb, s, g, mg, sl, pair ? sl + 1 : -1, tr, nthreads);
	}
	free(live);
	free(idx);
	free(val);
	return 0;
}
