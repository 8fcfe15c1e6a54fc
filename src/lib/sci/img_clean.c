/*
 * img_clean.c: Högbom CLEAN, restoring beam fit, restoring, robust rms
 * (contract in img.h).
 *
 * Högbom's loop finds the largest |residual| in the search window,
 * records gain x that value as a point component and subtracts the PSF
 * shifted there. The maximum is kept per row, so an iteration costs one
 * pass over the rows the shifted PSF touches instead of a pass to subtract
 * and another to search. The restoring beam is an elliptical Gaussian fitted
 * (linear least squares on log values) to the PSF main lobe.
 */
#include "sci/img.h"
#include "sci/img_int.h"
#include "core/stats.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

double img_robust_rms(const float *x, size_t n, size_t stride)
{
	size_t m = 0;
	float *a, med, mad;

	if (stride == 0)
		stride = 1;
	a = malloc(sizeof *a * (n / stride + 1));
	if (!a)
		return NAN;
	for (size_t i = 0; i < n; i += stride)
		if (isfinite(x[i]))
			a[m++] = x[i];
	if (m == 0) {
		free(a);
		return NAN;
	}
	med = stats_kth(a, m, m / 2);
	for (size_t i = 0; i < m; i++)
		a[i] = fabsf(a[i] - med);
	mad = stats_kth(a, m, m / 2);
	free(a);
	return 1.482602218505602 * mad;
}

int img_solve(double *a, double *b, int k)
{
	for (int c = 0; c < k; c++) {
		int p = c;
		for (int r = c + 1; r < k; r++)
			if (fabs(a[r * k + c]) > fabs(a[p * k + c]))
				p = r;
		if (fabs(a[p * k + c]) < 1e-300)
			return -1;
		if (p != c) {
			for (int j = 0; j < k; j++) {
				double t = a[c * k + j];
				a[c * k + j] = a[p * k + j];
				a[p * k + j] = t;
			}
			double t = b[c];
			b[c] = b[p];
			b[p] = t;
		}
		for (int r = c + 1; r < k; r++) {
			double f = a[r * k + c] / a[c * k + c];
			for (int j = c; j < k; j++)
				a[r * k + j] -= f * a[c * k + j];
			b[r] -= f * b[c];
		}
	}
	for (int c = k - 1; c >= 0; c--) {
		for (int j = c + 1; j < k; j++)
			b[c] -= a[c * k + j] * b[j];
		b[c] /= a[c * k + c];
	}
	return 0;
}

int img_fit_beam(const float *psf, int n, double cell, struct img_beam *b)
{
	int h = n / 2, cap = 200000, np = 0, top = 0;
	double peak = psf[(size_t)h * n + h], ata[16] = {0}, atb[4] = {0};
	double A, B, C, tr, dif, lmin, lmax, el, em, pa;
	int *stack;
	unsigned char *seen;

	if (!(peak > 0))
		return -1;
	stack = malloc(sizeof *stack * (size_t)cap * 2);
	seen = calloc((size_t)n * n, 1);
	if (!stack || !seen) {
		free(stack);
		free(seen);
		return -1;
	}
	/* Flood fill (4-connected, downhill) of the core above 0.7 peak, and the 3 x 3. */
	stack[top++] = h;
	stack[top++] = h;
	seen[(size_t)h * n + h] = 1;
	while (top > 0 && np < cap) {
		int y = stack[--top], x = stack[--top];
		double p = psf[(size_t)y * n + x] / peak;
		double dx = -(x - h), dy = y - h; /* l, m in cells */
		double row[4] = {1, -dx * dx, -2 * dx * dy, -dy * dy};
		double wt = p * p, lp = log(p);
		const int nb[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};

		np++;
		for (int i = 0; i < 4; i++) {
			for (int j = 0; j < 4; j++)
				ata[i * 4 + j] += wt * row[i] * row[j];
			atb[i] += wt * row[i] * lp;
		}
		for (int i = 0; i < 4; i++) {
			int xx = x + nb[i][0], yy = y + nb[i][1];
			if (xx < 0 || yy < 0 || xx >= n || yy >= n || seen[(size_t)yy * n + xx])
				continue;
			float v = psf[(size_t)yy * n + xx];
			int core = abs(xx - h) <= 1 && abs(yy - h) <= 1 && v > 0;
			if ((core || (v > 0.7 * peak && v <= psf[(size_t)y * n + x])) &&
			    top + 2 <= cap * 2) {
				seen[(size_t)yy * n + xx] = 1;
				stack[top++] = xx;
				stack[top++] = yy;
			}
		}
	}
	free(stack);
	free(seen);
	if (np < 6 || img_solve(ata, atb, 4) < 0)
		return -1;
	A = atb[1];
	B = atb[2];
	C = atb[3];
	tr = A + C;
	dif = sqrt((A - C) * (A - C) / 4 + B * B);
	lmin = tr / 2 - dif;
	lmax = tr / 2 + dif;
	if (!(lmin > 0) || !(lmax > 0))
		return -1;
	/* Major axis: eigenvector of the smaller eigenvalue, as (l, m). */
	if (fabs(B) > 1e-12 * (fabs(A) + fabs(C))) {
		el = B;
		em = lmin - A;
	} else if (A <= C) {
		el = 1;
		em = 0;
	} else {
		el = 0;
		em = 1;
	}
	pa = atan2(el, em);
	if (pa > M_PI / 2)
		pa -= M_PI;
	else if (pa <= -M_PI / 2)
		pa += M_PI;
	b->bmaj = 2 * sqrt(M_LN2 / lmin) * cell;
	b->bmin = 2 * sqrt(M_LN2 / lmax) * cell;
	b->bpa = pa;
	return 0;
}

int img_peak_fit(const float *a, int n, int x, int y, double *px, double *py, double *peak)
{
	double ata[36] = {0}, atb[6] = {0}, z[9], dx, dy, det;
	int uselog = 1;

	*px = x;
	*py = y;
	*peak = a[(size_t)y * n + x];
	if (x < 1 || y < 1 || x >= n - 1 || y >= n - 1)
		return -1;
	for (int j = -1; j <= 1; j++)
		for (int i = -1; i <= 1; i++) {
			z[(j + 1) * 3 + i + 1] = a[(size_t)(y + j) * n + x + i];
			if (!(z[(j + 1) * 3 + i + 1] > 0))
				uselog = 0;
		}
	for (int j = -1; j <= 1; j++)
		for (int i = -1; i <= 1; i++) {
			double row[6] = {1, i, j, (double)i * i, (double)i * j, (double)j * j};
			double val = z[(j + 1) * 3 + i + 1];
			if (uselog)
				val = log(val);
			for (int p = 0; p < 6; p++) {
				for (int q = 0; q < 6; q++)
					ata[p * 6 + q] += row[p] * row[q];
				atb[p] += row[p] * val;
			}
		}
	if (img_solve(ata, atb, 6) < 0)
		return -1;
	/* gradient zero: [2d e; e 2f] (dx, dy) = -(b, c) */
	det = 4 * atb[3] * atb[5] - atb[4] * atb[4];
	if (!(atb[3] < 0) || !(det > 0))
		return -1;
	dx = (-atb[1] * 2 * atb[5] + atb[2] * atb[4]) / det;
	dy = (-atb[2] * 2 * atb[3] + atb[1] * atb[4]) / det;
	if (fabs(dx) > 1 || fabs(dy) > 1)
		return -1;
	*px = x + dx;
	*py = y + dy;
	*peak = atb[0] + atb[1] * dx + atb[2] * dy + atb[3] * dx * dx + atb[4] * dx * dy +
	    atb[5] * dy * dy;
	if (uselog)
		*peak = exp(*peak);
	return 0;
}

/* |v| as an ordered integer: for non-negative floats the IEEE bit
 * patterns order like the values, and integer max loops vectorise
 * without fast-math (NaN never wins: its pattern exceeds infinity's, so
 * NaNs are mapped to 0). */
static inline uint32_t abits(float v)
{
	uint32_t u;

	memcpy(&u, &v, sizeof u);
	u &= 0x7fffffffu;
	return u > 0x7f800000u ? 0 : u;
}

/* row[x] -= c p[x] over [0, n); returns the largest abits over the row. */
static uint32_t sub_max(float *restrict row, const float *restrict p, float c, int n)
{
	uint32_t m = 0;

	for (int x = 0; x < n; x++) {
		float v = row[x] - c * p[x];
		uint32_t u = abits(v);

		row[x] = v;
		m = u > m ? u : m;
	}
	return m;
}

static uint32_t row_max(const float *row, int n)
{
	uint32_t m = 0;

	for (int x = 0; x < n; x++) {
		uint32_t u = abits(row[x]);
		m = u > m ? u : m;
	}
	return m;
}

/* First index in row[0, n) with abits m. */
static int find_bits(const float *row, int n, uint32_t m)
{
	for (int x = 0; x < n; x++)
		if (abits(row[x]) == m)
			return x;
	return 0;
}

/* One thread's share of a CLEAN subtraction: rows [y0, y1). */
struct rows {
	float *r;
	const float *psf;
	uint32_t *rm;
	int n, x0, x1, px, py;
	float comp;
	int y0, y1;
};

static void *sub_rows(void *arg)
{
	const struct rows *a = arg;
	int n = a->n;

	for (int y = a->y0; y < a->y1; y++) {
		float *row = a->r + (size_t)y * n;
		const float *prow = a->psf + (size_t)(y - a->py + n) * (2 * (size_t)n) + (n - a->px);

		if (y >= a->x0 && y < a->x1) {
			sub_max(row, prow, a->comp, a->x0);
			a->rm[y] = sub_max(row + a->x0, prow + a->x0, a->comp, a->x1 - a->x0);
			sub_max(row + a->x1, prow + a->x1, a->comp, n - a->x1);
		} else {
			sub_max(row, prow, a->comp, n);
		}
	}
	return NULL;
}

void img_hogbom(float *r, const float *psf, float *model, int n, struct img_clean *c)
{
	int h = n / 2, hw = (int)(c->window * n / 2);
	int x0 = h - hw, x1 = h + hw, auto_thr = c->threshold < 0, last_est = -1000;
	double thr = c->threshold;
	uint32_t *rm = malloc(sizeof *rm * (size_t)n);

	if (x0 < 0)
		x0 = 0;
	if (x1 > n)
		x1 = n;
	c->done = 0;
	c->flux = 0;
	c->last = 0;
	if (!rm || x1 <= x0)
		goto out;
	/* rm[y]: largest |r| of row y inside the window, as abits */
	for (int y = x0; y < x1; y++)
		rm[y] = row_max(r + (size_t)y * n + x0, x1 - x0);
	for (int it = 0;; it++) {
		int px, py = x0;
		uint32_t bm = 0;
		float best, val, comp;

		for (int y = x0; y < x1; y++)
			if (rm[y] > bm) {
				bm = rm[y];
				py = y;
			}
		px = x0 + find_bits(r + (size_t)py * n + x0, x1 - x0, bm);
		val = r[(size_t)py * n + px];
		best = fabsf(val);
		c->last = best;
		/* automatic threshold: re-estimated every 100 iterations and
		 * whenever the peak falls below it (sidelobes inflate the first
		 * estimates; the loop goes on while it keeps falling) */
		if (auto_thr && (it - last_est >= 100 || (!(best > thr) && it - last_est >= 10))) {
			size_t nn = (size_t)n * n;
			size_t stride = nn > 2000000 ? nn / 1000003 : 1;
			double t = 5 * img_robust_rms(r, nn, stride);
			last_est = it;
			thr = isfinite(t) ? t : 0;
		}
		if (it >= c->niter || !(best > thr) || best == 0)
			break;
		comp = (float)(c->gain * val);
		model[(size_t)py * n + px] += comp;
		c->flux += comp;
		c->done++;
		/* the 2n x 2n PSF centred on (px, py) covers the whole image;
		 * rows split between two threads */
		{
			struct rows a = {r, psf, rm, n, x0, x1, px, py, comp, 0, n / 2};
			struct rows b = a;
			pthread_t th;

			b.y0 = n / 2;
			b.y1 = n;
			if (n >= 256 && pthread_create(&th, NULL, sub_rows, &b) == 0) {
				sub_rows(&a);
				pthread_join(th, NULL);
			} else {
				a.y1 = n;
				sub_rows(&a);
			}
		}
	}
out:
	c->used_threshold = thr;
	free(rm);
}

void img_restore(float *image, const float *model, int n, double cell, const struct img_beam *b)
{
	double sa = sin(b->bpa), ca = cos(b->bpa);
	double kmaj = 4 * M_LN2 / (b->bmaj * b->bmaj) * cell * cell;
	double kmin = 4 * M_LN2 / (b->bmin * b->bmin) * cell * cell;
	int R = (int)ceil(2.5 * b->bmaj / cell) + 1, S = 2 * R + 1;
	float *st;

	if (R > n)
		R = n, S = 2 * R + 1;
	st = malloc(sizeof *st * (size_t)S * S);
	if (!st)
		return;
	for (int j = -R; j <= R; j++)
		for (int i = -R; i <= R; i++) {
			double l = -i, m = j; /* cells; x grows west */
			double a = l * sa + m * ca, bb = l * ca - m * sa;
			st[(size_t)(j + R) * S + (i + R)] = (float)exp(-kmaj * a * a - kmin * bb * bb);
		}
	for (int y = 0; y < n; y++)
		for (int x = 0; x < n; x++) {
			float f = model[(size_t)y * n + x];

			if (f == 0)
				continue;
			for (int j = -R; j <= R; j++) {
				int yy = y + j;
				if (yy < 0 || yy >= n)
					continue;
				float *row = image + (size_t)yy * n;
				const float *srow = st + (size_t)(j + R) * S + R;
				int ia = x - R < 0 ? -x : -R, ib = x + R >= n ? n - 1 - x : R;
				for (int i = ia; i <= ib; i++)
					row[x + i] += f * srow[i];
			}
		}
	free(st);
}

void img_hogbom_masked(float *r, const float *psf, int np, float *model, int n, const int *idx,
    int nidx, struct img_clean *c)
{
	static const double one = 1;
	struct img_spec sp;

	img_spec_init(&sp, 1, &one, &one, 1);
	img_mfclean_masked(&r, r, psf, np, &model, n, idx, nidx, &sp, c);
}
