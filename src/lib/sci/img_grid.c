/*
 * img_grid.c: convolutional gridding with a Kaiser-Bessel kernel, uv
 * weighting, grid correction (contract in img.h).
 *
 * Gridding spreads each visibility over W x W cells with the separable
 * kernel C(t_u) C(t_v); by Poisson summation the transform of the grid is
 * the wanted image times the kernel's Fourier transform C^, plus aliased
 * copies damped by C^(nu + q) / C^(nu). Dividing by C^ (computed here by
 * quadrature of the same kernel, so the correction matches what was
 * gridded) leaves the image; padding the grid (ng > n) keeps the image
 * inside the part of C^ where aliasing is small.
 */
#include "sci/img.h"
#include "sci/img_int.h"

#include <errno.h>
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Modified Bessel function I0 by its power series (converges for all x;
 * beta stays below ~40 here, where ~60 terms suffice). */
static double bessel_i0(double x)
{
	double sum = 1, term = 1, q = x * x / 4;

	for (int k = 1; k < 500; k++) {
		term *= q / ((double)k * k);
		sum += term;
		if (term < 1e-17 * sum)
			break;
	}
	return sum;
}

int img_kernel_init(struct img_kernel *k, int support, int os, double beta)
{
	int nt = support * os + 1;
	double peak = bessel_i0(beta);

	k->support = support;
	k->os = os;
	k->beta = beta;
	k->tab = malloc(sizeof *k->tab * (size_t)nt);
	k->rows = malloc(sizeof *k->rows * (size_t)(os + 1) * (size_t)support);
	if (!k->tab || !k->rows) {
		img_kernel_free(k);
		return -1;
	}
	for (int j = 0; j < nt; j++) {
		double t = -support / 2.0 + (double)j / os;
		double r = 2 * t / support;
		double a = 1 - r * r;
		k->tab[j] = (float)(a > 0 ? bessel_i0(beta * sqrt(a)) / peak : bessel_i0(0) / peak);
	}
	for (int q = 0; q <= os; q++)
		for (int i = 0; i < support; i++)
			k->rows[q * support + i] = k->tab[q + i * os];
	return 0;
}

void img_kernel_free(struct img_kernel *k)
{
	free(k->tab);
	free(k->rows);
	k->tab = k->rows = NULL;
}

double img_kernel_eval(const struct img_kernel *k, double t)
{
	double p = (t + k->support / 2.0) * k->os;
	int j = (int)floor(p);
	double f = p - j;

	if (p < 0 || j > k->support * k->os)
		return 0;
	if (j == k->support * k->os)
		return k->tab[j];
	return k->tab[j] * (1 - f) + k->tab[j + 1] * f;
}

void img_kernel_correction(const struct img_kernel *k, int ng, int n, double *corr)
{
	/* Trapezoid quadrature on every step-th table sample (64 per cell,
	 * still much finer than the kernel varies):
	 * C^(nu) = int C(t) cos(2 pi t nu) dt. */
	int step = k->os > 64 ? k->os / 64 : 1, nt = k->support * k->os + 1;

	for (int i = 0; i < n; i++) {
		double nu = (double)(i - n / 2) / ng, s = 0;

		for (int j = 0; j < nt; j += step) {
			double t = -k->support / 2.0 + (double)j / k->os;
			double wq = (j == 0 || j + step >= nt) ? 0.5 : 1;
			s += wq * k->tab[j] * cos(2 * M_PI * t * nu);
		}
		corr[i] = s * step / k->os;
	}
}

int img_grid_init(struct img_grid *g, int ng, int ngp, double cell, const struct img_kernel *k,
    enum img_weighting wt, double robust)
{
	size_t nn = (size_t)ng * (size_t)ng, np = (size_t)ngp * (size_t)ngp;

	memset(g, 0, sizeof *g);
	g->ng = ng;
	g->ngp = ngp;
	g->du = 1.0 / (ng * cell);
	g->dup = 1.0 / (ngp * cell);
	g->k = k;
	g->weighting = wt;
	g->robust = robust;
	g->vis = fftwf_malloc(sizeof *g->vis * nn);
	g->psf = fftwf_malloc(sizeof *g->psf * np);
	if (wt != IMG_NATURAL)
		g->dens = calloc(nn, sizeof *g->dens);
	if (!g->vis || !g->psf || (wt != IMG_NATURAL && !g->dens)) {
		img_grid_free(g);
		errno = ENOMEM;
		return -1;
	}
	memset(g->vis, 0, sizeof *g->vis * nn);
	memset(g->psf, 0, sizeof *g->psf * np);
	return 0;
}

void img_grid_free(struct img_grid *g)
{
	if (g->vis)
		fftwf_free(g->vis);
	if (g->psf)
		fftwf_free(g->psf);
	free(g->dens);
	free(g->wvis);
	g->vis = g->psf = NULL;
	g->dens = NULL;
	g->wvis = NULL;
	g->wstore = NULL;
}

/* Nearest cell of (u, v) wavelengths, wrapped; -1 outside the grid. */
static long nearest_cell(const struct img_grid *g, double u, double v)
{
	double pu = u / g->du, pv = v / g->du;
	long iu, iv;

	if (!(fabs(pu) < g->ng / 2 - 1) || !(fabs(pv) < g->ng / 2 - 1))
		return -1;
	iu = lround(pu);
	iv = lround(pv);
	iu = (iu % g->ng + g->ng) % g->ng;
	iv = (iv % g->ng + g->ng) % g->ng;
	return iv * g->ng + iu;
}

void img_grid_density(struct img_grid *g, double u, double v, float w)
{
	long c1 = nearest_cell(g, u, v), c2 = nearest_cell(g, -u, -v);

	if (!g->dens || c1 < 0 || c2 < 0)
		return;
	g->dens[c1] += w;
	g->dens[c2] += w;
}

void img_grid_density_done(struct img_grid *g)
{
	double s1 = 0, s2 = 0, f;
	size_t nn = (size_t)g->ng * (size_t)g->ng;

	if (g->weighting != IMG_BRIGGS || !g->dens)
		return;
	for (size_t i = 0; i < nn; i++) {
		s1 += g->dens[i];
		s2 += (double)g->dens[i] * g->dens[i];
	}
	f = 5 * pow(10, -g->robust);
	g->f2 = s2 > 0 ? f * f / (s2 / s1) : 0;
}

/* Kernel weights and wrapped cell offsets of position p (cells) on a
 * grid of side ng: W values each. The kernel is taken at the nearest
 * table sample (1/os cell): tap i sits at t = i - W/2 + delta with the
 * same fractional delta for every tap, so one rounding serves all. */
static void kernel_row(const struct img_kernel *k, double p, int ng, float *kw, long *cell)
{
	int W = k->support, os = k->os;
	double lo = p - W / 2.0;
	long j = (long)ceil(lo), c;
	int q = (int)((j - lo) * os + 0.5);

	if (q > os)
		q = os;
	c = j % ng;
	if (c < 0)
		c += ng;
	for (int i = 0; i < W; i++) {
		kw[i] = k->tab[q + i * os];
		cell[i] = c;
		if (++c == ng)
			c = 0;
	}
}

/* Add value x through the kernel at (pu, pv) cells of grid (side ng). */
static void spread(const struct img_kernel *k, float complex *grid, int ng, double pu, double pv,
    float complex x)
{
	int W = k->support;
	float ku[64], kv[64];
	long cu[64], cv[64];

	kernel_row(k, pu, ng, ku, cu);
	kernel_row(k, pv, ng, kv, cv);
	if (cu[0] + W <= ng) {
		/* no wrap along u: contiguous row segments */
		for (int iy = 0; iy < W; iy++) {
			float complex *row = grid + cv[iy] * ng + cu[0], xv = kv[iy] * x;

			for (int ix = 0; ix < W; ix++)
				row[ix] += ku[ix] * xv;
		}
		return;
	}
	for (int iy = 0; iy < W; iy++) {
		float complex *row = grid + cv[iy] * ng, xv = kv[iy] * x;

		for (int ix = 0; ix < W; ix++)
			row[cu[ix]] += ku[ix] * xv;
	}
}

float img_grid_weight(const struct img_grid *g, double u, double v, float w)
{
	if (g->dens) {
		long c = nearest_cell(g, u, v);
		double d = c >= 0 ? g->dens[c] : 0;

		if (d > 0)
			w = (float)(g->weighting == IMG_UNIFORM ? w / d : w / (1 + d * g->f2));
	}
	return w;
}

int img_grid_inside(const struct img_grid *g, double u, double v)
{
	double half = g->k->support / 2.0 + 1;

	return g->k->support <= 64 && fabs(u / g->du) < g->ng / 2.0 - half &&
	    fabs(v / g->du) < g->ng / 2.0 - half && fabs(u / g->dup) < g->ngp / 2.0 - half &&
	    fabs(v / g->dup) < g->ngp / 2.0 - half;
}

void img_grid_add(struct img_grid *g, double u, double v, float complex V, float w, double f)
{
	if (!img_grid_inside(g, u, v)) {
		g->nout++;
		return;
	}
	w = img_grid_weight(g, u, v, w);
	spread(g->k, g->vis, g->ng, u / g->du, v / g->du, w * V);
	spread(g->k, g->psf, g->ngp, u / g->dup, v / g->dup, w);
	g->sumw += w;
	g->sumwf += w * f;
	g->nvis++;
}

/* The grid row of image row y (both centred, wrapped modulo ng):
 * (y - n/2) mod ng, for 0 <= y < n <= ng. */
static inline int grid_row(int y, int n, int ng)
{
	return y >= n / 2 ? y - n / 2 : ng + y - n / 2;
}

/* The grid column of image column x (the image's l grows to the east,
 * the grid's u index the other way; both centred, wrapped modulo ng):
 * (n/2 - x) mod ng, for 0 <= x < n <= ng. */
static inline int grid_col(int x, int n, int ng)
{
	return x <= n / 2 ? n / 2 - x : ng + n / 2 - x;
}

void img_grid_to_image(const float complex *t, int ng, int n, const double *corr,
    double norm, float *img)
{
	img_grid_to_image_rows(t, ng, n, corr, norm, img, 0, n, 0);
}

void img_grid_to_image_rows(const float complex *t, int ng, int n, const double *corr,
    double norm, float *img, int y0, int y1, int im)
{
	for (int y = y0; y < y1; y++) {
		int km = grid_row(y, n, ng);
		const float complex *row = t + (size_t)km * ng;
		double cy = corr[y] * norm;
		float *out = img + (size_t)y * n;

		/* a float complex is its real and imaginary parts in turn */
		const float *part = (const float *)row + (im != 0);

		for (int x = 0; x < n; x++)
			out[x] = (float)(part[2 * (size_t)grid_col(x, n, ng)] / (corr[x] * cy));
	}
}

struct herm_job {
	float complex *a;
	const float complex *b;
	int ng;
};

/* Rows v in [lo, hi) with their mirrors ng - v (row 0 is its own). */
static void herm_rows(void *ctx, size_t lo, size_t hi)
{
	const struct herm_job *j = ctx;
	size_t ng = (size_t)j->ng;

	for (size_t v = lo; v < hi; v++) {
		size_t vm = v ? ng - v : 0;
		float complex *ra = j->a + v * ng, *rm = j->a + vm * ng;
		const float complex *rb = j->b + v * ng, *rbm = j->b + vm * ng;

		/* cell (v, u) and its mirror (vm, um); in row 0 each pair once */
		for (size_t u = 0; u < (v ? ng : ng / 2 + 1); u++) {
			size_t um = u ? ng - u : 0;
			float complex a = ra[u], am = rm[um], b = rb[u], bm = rbm[um];

			ra[u] = (a + conjf(am)) / 2 + I * ((b + conjf(bm)) / 2);
			rm[um] = (am + conjf(a)) / 2 + I * ((bm + conjf(b)) / 2);
		}
	}
}

void img_grid_hermitian_pair(float complex *a, const float complex *b, int ng, int r,
    int nthreads)
{
	struct herm_job j = { a, b, ng };

	img_par((size_t)r + 1, nthreads, herm_rows, &j);
}

/* ------------------------------------------------------ degridding */

void img_model_grid(const float *model, int n, int ng, const double *corr, float complex *buf)
{
	memset(buf, 0, sizeof *buf * (size_t)ng * ng);
	for (int y = 0; y < n; y++) {
		int km = grid_row(y, n, ng);
		float complex *row = buf + (size_t)km * ng;
		const float *in = model + (size_t)y * n;

		for (int x = 0; x < n; x++)
			if (in[x] != 0)
				row[grid_col(x, n, ng)] = (float)(in[x] / (corr[x] * corr[y]));
	}
}

/* Pixels idx[0..m) of values a + i b, corrected, into the rows of buf
 * (side ng): pixel i's row is row[i], or its grid row if row is NULL. */
static void place_pair(const int *idx, const int *row, const float *a, const float *b,
    size_t m, int n, int ng, const double *corr, float complex *buf)
{
	for (size_t i = 0; i < m; i++) {
		int x = idx[i] % n, y = idx[i] / n;
		int km = row ? row[i] : grid_row(y, n, ng);
		double c = corr[x] * corr[y];

		buf[(size_t)km * ng + grid_col(x, n, ng)] =
		    (float)(a[i] / c) + (b ? (float)(b[i] / c) : 0) * I;
	}
}

void img_model_grid_pair(const int *idx, const float *a, const float *b, size_t m, int n, int ng,
    const double *corr, float complex *buf)
{
	memset(buf, 0, sizeof *buf * (size_t)ng * ng);
	place_pair(idx, NULL, a, b, m, n, ng, corr, buf);
}

int img_model_rows_index(const int *idx, size_t m, int n, int ng, int *crow, int *live)
{
	int nlive = 0, last = -1;

	for (size_t i = 0; i < m; i++) {
		int y = idx[i] / n;

		if (y != last)
			live[nlive++] = grid_row(y, n, ng);
		last = y;
		crow[i] = nlive - 1;
	}
	return nlive;
}

struct rows_job {
	const int *idx, *crow;
	const float *a, *b;
	size_t m;
	int n, ng;
	const double *corr;
	float complex *rows;
};

/* The first i with crow[i] >= row (crow ascending, m entries). */
static size_t first_of_row(const int *crow, size_t m, size_t row)
{
	size_t lo = 0, hi = m;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((size_t)crow[mid] < row)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Rows [lo, hi) zeroed, then their pixels placed. */
static void rows_part(void *ctx, size_t lo, size_t hi)
{
	const struct rows_job *j = ctx;
	size_t i0 = first_of_row(j->crow, j->m, lo), i1 = first_of_row(j->crow, j->m, hi);

	memset(j->rows + lo * (size_t)j->ng, 0, sizeof *j->rows * (hi - lo) * (size_t)j->ng);
	place_pair(j->idx + i0, j->crow + i0, j->a + i0, j->b ? j->b + i0 : NULL, i1 - i0, j->n,
	    j->ng, j->corr, j->rows);
}

void img_model_rows_pair(const int *idx, const int *crow, const float *a, const float *b,
    size_t m, int n, int ng, const double *corr, float complex *rows, int nlive, int nthreads)
{
	struct rows_job j = { idx, crow, a, b, m, n, ng, corr, rows };

	img_par((size_t)nlive, nthreads, rows_part, &j);
}

float complex img_degrid(const struct img_kernel *k, const float complex *mg, int ng, double pu,
    double pv)
{
	int W = k->support;
	float ku[64], kv[64];
	long cu[64], cv[64];
	float complex s = 0;

	kernel_row(k, pu, ng, ku, cu);
	kernel_row(k, pv, ng, kv, cv);
	for (int iy = 0; iy < W; iy++) {
		const float complex *row = mg + cv[iy] * ng;
		float complex r = 0;

		if (cu[0] + W <= ng) {
			for (int ix = 0; ix < W; ix++)
				r += ku[ix] * row[cu[0] + ix];
		} else {
			for (int ix = 0; ix < W; ix++)
				r += ku[ix] * row[cu[ix]];
		}
		s += kv[iy] * r;
	}
	/* the model grid is the backward transform of a real image: the
	 * forward one (what a visibility is) is its conjugate */
	return conjf(s);
}

void img_degrid_pair(const struct img_kernel *k, const float complex *mg, int ng, double pu,
    double pv, float complex *dp, float complex *dm)
{
	int W = k->support;
	float ku[64], kv[64];
	long cu[64], cv[64], mu[64];
	float complex sp = 0, sm = 0;

	kernel_row(k, pu, ng, ku, cu);
	kernel_row(k, pv, ng, kv, cv);
	for (int ix = 0; ix < W; ix++)
		mu[ix] = cu[ix] ? ng - cu[ix] : 0;
	for (int iy = 0; iy < W; iy++) {
		const float complex *row = mg + cv[iy] * ng;
		const float complex *mrow = mg + (cv[iy] ? ng - cv[iy] : 0) * ng;
		float complex r = 0, q = 0;

		for (int ix = 0; ix < W; ix++) {
			r += ku[ix] * row[cu[ix]];
			q += ku[ix] * mrow[mu[ix]];
		}
		sp += kv[iy] * r;
		sm += kv[iy] * q;
	}
	*dp = conjf(sp);
	*dm = conjf(sm);
}

struct resid_half {
	const struct img_grid *g;
	const struct img_vis_batch *b;
	const float complex *mg;
	float complex *out;
	size_t i0, i1;
};

static void *resid_part(void *arg)
{
	const struct resid_half *h = arg;
	const struct img_grid *g = h->g;
	const struct img_vis_batch *b = h->b;

	for (size_t i = h->i0; i < h->i1; i++) {
		double pu, pv;
		float complex r;

		if (b->w[i] == 0)
			continue;
		pu = b->u[i] / g->du;
		pv = b->v[i] / g->du;
		r = b->V[i] - img_degrid(g->k, h->mg, g->ng, pu, pv);
		spread(g->k, h->out, g->ng, pu, pv, b->w[i] * r);
	}
	return NULL;
}

void img_grid_residual(struct img_grid *g, float complex *vis2, const float complex *mg,
    struct img_vis_batch *b)
{
	struct resid_half h0 = {g, b, mg, g->vis, 0, b->n / 2}, h1 = {g, b, mg, vis2, b->n / 2, b->n};
	pthread_t th;

	for (size_t i = 0; i < b->n; i++)
		b->w[i] = img_grid_inside(g, b->u[i], b->v[i]) ?
		    img_grid_weight(g, b->u[i], b->v[i], b->w[i]) : 0;
	if (!vis2 || pthread_create(&th, NULL, resid_part, &h1) != 0) {
		h0.i1 = b->n;
		resid_part(&h0);
	} else {
		resid_part(&h0);
		pthread_join(th, NULL);
	}
	b->n = 0;
}
