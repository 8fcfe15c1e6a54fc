/*
 * mosaic_map.c: where each mosaic pixel falls in an input, its beam there,
 * and the sums w B I and w B^2 (contract in mosaic_int.h).
 *
 * The exact mapping (wcslib: mosaic pixel -> sky -> input pixel, and the
 * beam averaged over the group's pointings, 9 Bessel functions a pixel)
 * is smooth on the scale of many pixels, so it is evaluated only at
 * control points and interpolated bilinearly between them, as SWarp and
 * Montage do; the spacing is proved adequate against the exact mapping
 * at the middle of every cell before it is used. The weight w B^2 is
 * summed first for every input, so that the Lanczos interpolation (the
 * rest of the cost) is skipped wherever the mosaic will be blank. The
 * Lanczos-3 weights come from a table (1024 intervals, linear between
 * entries). Rows of the grid are shared among threads; each row is one
 * thread's, so the sums are the same whatever the number of threads.
 */
#include "sci/mosaic_int.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sci/beam.h"
#include "sci/geom.h"

#define D2R (GEOM_PI / 180.0)
#define LZ_A 3        /* Lanczos kernel half-width (taps 2 LZ_A) */
#define LZ_TAB 1024   /* table intervals over a pixel */

int mosaic_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

struct job {
	int (*fn)(void *, int, int);
	void *ctx;
	int t, nth, rc;
};

static void *job_run(void *p)
{
	struct job *j = p;
	j->rc = j->fn(j->ctx, j->t, j->nth);
	return NULL;
}

/* Run fn(ctx, t, nth) for t = 0..nth-1, each on its own thread where one
 * starts (in the caller otherwise). 0, or -1 when any returned -1. */
static int par(int nth, int (*fn)(void *, int, int), void *ctx)
{
	pthread_t th[16];
	struct job j[16];
	int made[16] = {0}, rc = 0;
	if (nth > 16)
		nth = 16;
	if (nth < 1)
		nth = 1;
	for (int t = 0; t < nth; t++) {
		j[t] = (struct job){fn, ctx, t, nth, 0};
		if (t > 0)
			made[t] = pthread_create(&th[t], NULL, job_run, &j[t]) == 0;
	}
	for (int t = 0; t < nth; t++)
		if (!made[t])
			job_run(&j[t]);
	for (int t = 1; t < nth; t++) {
		if (made[t])
			pthread_join(th[t], NULL);
		if (j[t].rc < 0)
			rc = -1;
	}
	return j[0].rc < 0 ? -1 : rc;
}

static void unit(double ra_deg, double dec_deg, double v[3])
{
	double cd = cos(dec_deg * D2R);
	v[0] = cd * cos(ra_deg * D2R);
	v[1] = cd * sin(ra_deg * D2R);
	v[2] = sin(dec_deg * D2R);
}

/*
 * The beam as a function of the chord between direction and pointing (0
 * to 2), tabulated at BTAB_N + 1 points: linear interpolation between
 * them is within 1e-6 of beam_pb (the spacing is 1/15 of a 3.8" pixel;
 * checked by test_mosaic). Saves 9 Bessel functions a control point.
 */
#define BTAB_N 65536
struct btab {
	double v[BTAB_N + 1];
};

static void btab_fill(struct btab *t, enum beam_model model, double freq)
{
	for (int k = 0; k <= BTAB_N; k++)
		t->v[k] = beam_pb(model, 2 * asin(fmin(2.0 * k / BTAB_N / 2, 1)), freq, BEAM_DISH_M);
}

/* The group-averaged beam of in at (ra, dec) degrees: from the table t,
 * or exactly when t is NULL. */
static double beam_at(const struct input *in, enum beam_model model, const struct btab *t,
    double ra, double dec)
{
	double u[3], b = 0;
	unit(ra, dec, u);
	for (int q = 0; q < in->nptg; q++) {
		double dx = u[0] - in->ptg[q][0], dy = u[1] - in->ptg[q][1], dz = u[2] - in->ptg[q][2];
		double chord = sqrt(dx * dx + dy * dy + dz * dz);
		if (t) {
			double x = fmin(chord, 2) * (BTAB_N / 2.0);
			int k = (int)x;
			if (k >= BTAB_N)
				k = BTAB_N - 1;
			b += t->v[k] + (x - k) * (t->v[k + 1] - t->v[k]);
		} else {
			b += beam_pb(model, 2 * asin(fmin(chord / 2, 1)), in->freq, BEAM_DISH_M);
		}
	}
	return b / in->nptg;
}

double mosaic_beam_table_err(enum beam_model model, double freq, int n)
{
	struct btab *t = malloc(sizeof *t);
	struct input in;
	double worst = 0;
	if (!t)
		return INFINITY;
	btab_fill(t, model, freq);
	memset(&in, 0, sizeof in);
	in.nptg = 1;
	in.freq = freq;
	unit(0, 0, in.ptg[0]);
	for (int k = 0; k < n; k++) {   /* offsets to 10 degrees, irregular */
		double dec = 10.0 * k / n + 1e-3 * (k % 7), e;
		e = fabs(beam_at(&in, model, t, 0, dec) - beam_at(&in, model, NULL, 0, dec));
		worst = fmax(worst, e);
	}
	free(t);
	return worst;
}

/*
 * The exact mapping of the n mosaic pixels (xy[2k], xy[2k+1], 0-based)
 * into v[3k..3k+2] (input x, y 0-based, beam; NaN off the sky). s holds
 * 8 n doubles and n ints of scratch.
 */
static void exact_n(const struct grid *g, const struct input *in, enum beam_model model,
    const struct btab *t, int n, const double *xy, double *v, double *s, int *st)
{
	double *pix = s, *img = s + 2 * n, *world = s + 4 * n, *ipix = s + 6 * n;
	double *phi = v, *theta = v + n; /* v's room, used before v is filled */
	for (int k = 0; k < 2 * n; k++)
		pix[k] = xy[k] + 1;
	/* a status of 8/9 flags bad points per coordinate (st[k] != 0) */
	wcsp2s((struct wcsprm *)&g->w, n, 2, pix, img, phi, theta, world, st);
	for (int k = 0; k < n; k++)
		if (st[k])
			world[2 * k] = world[2 * k + 1] = NAN;
	wcss2p(in->wcs, n, 2, world, phi, theta, img, ipix, st);
	for (int k = 0; k < n; k++) {
		int off = st[k] || !isfinite(world[2 * k]) || !isfinite(ipix[2 * k]) ||
		    !isfinite(ipix[2 * k + 1]);
		v[3 * k] = off ? NAN : ipix[2 * k] - 1;
		v[3 * k + 1] = off ? NAN : ipix[2 * k + 1] - 1;
		v[3 * k + 2] = off ? NAN : beam_at(in, model, t, world[2 * k], world[2 * k + 1]);
	}
}

void mosaic_map_exact(const struct grid *g, const struct input *in, enum beam_model model,
    double x, double y, double *px, double *py, double *b)
{
	double xy[2] = {x, y}, v[3], s[8];
	int st;
	exact_n(g, in, model, NULL, 1, xy, v, s, &st);
	*px = v[0];
	*py = v[1];
	*b = v[2];
}

struct build {
	struct mos_map *m;
	const struct btab *t;
	double err_px[16], err_b[16];
};

/* Scratch for n points of exact_n: xy, its scratch, values, statuses. */
struct scratch {
	double *xy, *s, *v;
	int *st;
};

static int scratch_new(struct scratch *k, long n)
{
	k->xy = malloc((size_t)n * 2 * sizeof *k->xy);
	k->s = malloc((size_t)n * 8 * sizeof *k->s);
	k->v = malloc((size_t)n * 3 * sizeof *k->v);
	k->st = malloc((size_t)n * sizeof *k->st);
	return k->xy && k->s && k->v && k->st ? 0 : -1;
}

static void scratch_free(struct scratch *k)
{
	free(k->xy), free(k->s), free(k->v), free(k->st);
}

/* The control points of rows t, t + nth, ... */
static int node_rows(void *ctx, int t, int nth)
{
	struct build *bd = ctx;
	struct mos_map *m = bd->m;
	struct scratch k;
	int rc = scratch_new(&k, m->gx);
	for (long r = t; rc == 0 && r < m->gy; r += nth) {
		for (long i = 0; i < m->gx; i++) {
			k.xy[2 * i] = (double)(m->x0 + i * m->step);
			k.xy[2 * i + 1] = (double)(m->y0 + r * m->step);
		}
		exact_n(m->g, m->in, m->model, bd->t, (int)m->gx, k.xy, m->v + 3 * r * m->gx, k.s, k.st);
	}
	scratch_free(&k);
	return rc;
}

/*
 * The check points of the cells between control rows r and r + 1 (r = t,
 * t + nth, ...; every control point made before): the middles of the
 * cells and of their lower and left sides (a field with f_xx = -f_yy is
 * exact at the middle, not there), exact against interpolated. The beam's
 * error is relative to the beam (to 0.1 of the peak below that): the
 * mosaic's relative error.
 */
static int check_rows(void *ctx, int t, int nth)
{
	struct build *bd = ctx;
	struct mos_map *m = bd->m;
	struct scratch k;
	int rc = scratch_new(&k, 3 * m->gx);
	bd->err_px[t] = bd->err_b[t] = 0;
	for (long r = t; rc == 0 && r + 1 < m->gy && m->step > 1; r += nth) {
		const double *a = m->v + 3 * r * m->gx, *c = a + 3 * m->gx;
		double y = (double)(m->y0 + r * m->step), h = m->step / 2.0;
		long q = 0;
		for (long i = 0; i + 1 < m->gx; i++) {
			double x = (double)(m->x0 + i * m->step);
			k.xy[2 * q] = x + h, k.xy[2 * q + 1] = y + h, q++;
			k.xy[2 * q] = x + h, k.xy[2 * q + 1] = y, q++;
			k.xy[2 * q] = x, k.xy[2 * q + 1] = y + h, q++;
		}
		exact_n(m->g, m->in, m->model, bd->t, (int)q, k.xy, k.v, k.s, k.st);
		for (long i = 0; i + 1 < m->gx; i++)
			for (int w = 0; w < 3; w++)
				for (int c3 = 0; c3 < 3; c3++) {
					const double *e = k.v + 3 * (3 * i + w);
					double p00 = a[3 * i + c3], p10 = a[3 * (i + 1) + c3], p01 = c[3 * i + c3],
					       p11 = c[3 * (i + 1) + c3], est, d;
					est = w == 0 ? (p00 + p10 + p01 + p11) / 4 :
					    w == 1 ? (p00 + p10) / 2 : (p00 + p01) / 2;
					if (!isfinite(est) || !isfinite(e[c3]))
						continue; /* off the sky: never used */
					d = fabs(est - e[c3]) / (c3 < 2 ? 1 : fmax(fabs(e[c3]), 0.1));
					if (c3 < 2 && d > bd->err_px[t])
						bd->err_px[t] = d;
					if (c3 == 2 && d > bd->err_b[t])
						bd->err_b[t] = d;
				}
	}
	scratch_free(&k);
	return rc;
}

int mosaic_map_build(struct mos_map *m, const struct grid *g, const struct input *in,
    enum beam_model model, long x0, long x1, long y0, long y1, int nth)
{
	struct build bd;
	struct btab *t = malloc(sizeof *t);
	memset(m, 0, sizeof *m);
	if (!t)
		return errno = ENOMEM, -1;
	btab_fill(t, model, in->freq);
	bd.t = t;
	m->g = g, m->in = in, m->model = model;
	m->x0 = x0, m->y0 = y0, m->w = x1 - x0 + 1, m->h = y1 - y0 + 1;
	m->step = MAP_STEP;
	for (;;) {
		double need;
		m->gx = (m->w - 1 + m->step - 1) / m->step + 1;
		m->gy = (m->h - 1 + m->step - 1) / m->step + 1;
		free(m->v);
		m->v = malloc((size_t)(m->gx * m->gy * 3) * sizeof *m->v);
		bd.m = m;
		/* every control point first: a cell's check reads two rows */
		if (!m->v || par(nth, node_rows, &bd) < 0 || par(nth, check_rows, &bd) < 0) {
			mosaic_map_free(m);
			free(t);
			errno = ENOMEM;
			return -1;
		}
		m->err_px = m->err_beam = 0;
		for (int k = 0; k < (nth > 16 ? 16 : nth < 1 ? 1 : nth); k++) {
			m->err_px = fmax(m->err_px, bd.err_px[k]);
			m->err_beam = fmax(m->err_beam, bd.err_b[k]);
		}
		if (m->step == 1 || (m->err_px <= MAP_TOL_PX && m->err_beam <= MAP_TOL_BEAM))
			break;
		/* the error goes as the step squared: the step that meets both
		 * tolerances (with room), as a power of 2, at most half this one */
		need = fmax(m->err_px / MAP_TOL_PX, m->err_beam / MAP_TOL_BEAM) * 1.5;
		{
			int s = m->step / 2;
			while (s > 1 && (double)m->step * m->step / ((double)s * s) < need)
				s /= 2;
			m->step = s;
		}
	}
	free(t);
	return 0;
}

void mosaic_map_free(struct mos_map *m)
{
	free(m->v);
	m->v = NULL;
}

/* The control-point values interpolated along row y at every control
 * column: line[3 i + c]. */
static void map_line(const struct mos_map *m, long y, double *line)
{
	long r = (y - m->y0) / m->step;
	double f = (double)(y - m->y0 - r * m->step) / m->step;
	const double *a = m->v + 3 * r * m->gx, *c = r + 1 < m->gy ? a + 3 * m->gx : a;
	for (long i = 0; i < 3 * m->gx; i++)
		line[i] = f == 0 ? a[i] : a[i] + f * (c[i] - a[i]);
}

/* Between the columns of a line, at mosaic column x. */
static inline void line_at(const struct mos_map *m, const double *line, long x, double *v)
{
	long i = (x - m->x0) / m->step;
	double f = (double)(x - m->x0 - i * m->step) / m->step;
	const double *a = line + 3 * i, *c = i + 1 < m->gx ? a + 3 : a;
	for (int k = 0; k < 3; k++)
		v[k] = f == 0 ? a[k] : a[k] + f * (c[k] - a[k]);
}

void mosaic_map_at(const struct mos_map *m, long x, long y, double *px, double *py, double *b)
{
	double *line = malloc((size_t)m->gx * 3 * sizeof *line), v[3] = {NAN, NAN, NAN};
	if (line) {
		map_line(m, y, line);
		line_at(m, line, x, v);
	}
	free(line);
	*px = v[0], *py = v[1], *b = v[2];
}

struct sums {
	const struct mos_map *m;
	const struct input *in;
	const struct grid *g;
	float *num, *den;
	double thr;
	const float (*lz)[2 * LZ_A];
};

/* Is input pixel (px, py) inside the margin, all its taps in the image?
 * *ix, *iy: the pixel at or below it. */
static inline int usable(const struct input *in, double px, double py, long *ix, long *iy)
{
	long m0 = (long)(MOSAIC_MARGIN * in->nx), m1 = (long)(MOSAIC_MARGIN * in->ny);
	if (!(px >= m0 && py >= m1 && px <= in->nx - 1 - m0 && py <= in->ny - 1 - m1))
		return 0;
	*ix = (long)floor(px);
	*iy = (long)floor(py);
	return *ix - LZ_A + 1 >= 0 && *iy - LZ_A + 1 >= 0 && *ix + LZ_A < in->nx && *iy + LZ_A < in->ny;
}

/* The box's rows of the grid (clipped), t's share. */
static void rows_of(const struct mos_map *m, const struct grid *g, long *x0, long *x1, long *y0,
    long *y1)
{
	*x0 = m->x0 < 0 ? 0 : m->x0;
	*x1 = m->x0 + m->w - 1 >= g->nx ? g->nx - 1 : m->x0 + m->w - 1;
	*y0 = m->y0 < 0 ? 0 : m->y0;
	*y1 = m->y0 + m->h - 1 >= g->ny ? g->ny - 1 : m->y0 + m->h - 1;
}

static int den_rows(void *ctx, int t, int nth)
{
	struct sums *s = ctx;
	long x0, x1, y0, y1, ix, iy;
	double *line = malloc((size_t)s->m->gx * 3 * sizeof *line), v[3];
	if (!line)
		return -1;
	rows_of(s->m, s->g, &x0, &x1, &y0, &y1);
	for (long y = y0 + t; y <= y1; y += nth) {
		float *d = s->den + y * s->g->nx;
		map_line(s->m, y, line);
		for (long x = x0; x <= x1; x++) {
			line_at(s->m, line, x, v);
			if (usable(s->in, v[0], v[1], &ix, &iy) && isfinite(v[2]))
				d[x] += (float)(s->in->w * v[2] * v[2]);
		}
	}
	free(line);
	return 0;
}

/* Lanczos-3 weights for the taps at offsets -2..3 from the pixel below a
 * point f (0 <= f <= 1) past it, normalised to sum 1 (so a constant stays
 * constant). Lanczos rather than bilinear: the restored beam is only ~3
 * pixels wide, and bilinear interpolation lowers a peak between pixels by
 * up to ~10%. */
static void lanczos(double f, float *k)
{
	double w[2 * LZ_A], sum = 0;
	for (int i = 0; i < 2 * LZ_A; i++) {
		double x = f - (i - LZ_A + 1);
		w[i] = fabs(x) < 1e-12 ? 1 : LZ_A * sin(GEOM_PI * x) * sin(GEOM_PI * x / LZ_A) /
		    (GEOM_PI * GEOM_PI * x * x);
		sum += w[i];
	}
	for (int i = 0; i < 2 * LZ_A; i++)
		k[i] = (float)(w[i] / sum);
}

static inline void lz_at(const float (*lz)[2 * LZ_A], double f, float *k)
{
	double t = f * LZ_TAB;
	int j = (int)t;
	float a;
	if (j >= LZ_TAB)
		j = LZ_TAB - 1;
	a = (float)(t - j);
	for (int i = 0; i < 2 * LZ_A; i++)
		k[i] = lz[j][i] + a * (lz[j + 1][i] - lz[j][i]);
}

static int num_rows(void *ctx, int t, int nth)
{
	struct sums *s = ctx;
	const struct input *in = s->in;
	long x0, x1, y0, y1, ix, iy;
	double *line = malloc((size_t)s->m->gx * 3 * sizeof *line), v[3];
	if (!line)
		return -1;
	rows_of(s->m, s->g, &x0, &x1, &y0, &y1);
	for (long y = y0 + t; y <= y1; y += nth) {
		float *d = s->den + y * s->g->nx, *nu = s->num + y * s->g->nx;
		int have = 0;
		for (long x = x0; x <= x1; x++) {
			float kx[2 * LZ_A], ky[2 * LZ_A], val = 0;
			if (!(d[x] >= s->thr && d[x] > 0))
				continue;
			if (!have)
				map_line(s->m, y, line), have = 1;
			line_at(s->m, line, x, v);
			if (!usable(in, v[0], v[1], &ix, &iy) || !isfinite(v[2]))
				continue;
			lz_at(s->lz, v[0] - ix, kx);
			lz_at(s->lz, v[1] - iy, ky);
			for (int j = 0; j < 2 * LZ_A; j++) {
				const float *p = in->pix + (iy - LZ_A + 1 + j) * in->nx + ix - LZ_A + 1;
				float row = 0;
				for (int i = 0; i < 2 * LZ_A; i++)
					row += kx[i] * p[i];
				val += ky[j] * row;
			}
			if (isfinite(val))
				nu[x] += (float)(in->w * v[2] * val);
			else
				d[x] -= (float)(in->w * v[2] * v[2]);
		}
	}
	free(line);
	return 0;
}

int mosaic_den(const struct mos_map *m, const struct input *in, const struct grid *g, float *den,
    int nth)
{
	struct sums s = {m, in, g, NULL, den, 0, NULL};
	return par(nth, den_rows, &s);
}

static float lz_tab[LZ_TAB + 1][2 * LZ_A];
static pthread_once_t lz_once = PTHREAD_ONCE_INIT;

static void lz_fill(void)
{
	for (int j = 0; j <= LZ_TAB; j++)
		lanczos((double)j / LZ_TAB, lz_tab[j]);
}

int mosaic_num(const struct mos_map *m, const struct input *in, const struct grid *g, float *num,
    float *den, double thr, int nth)
{
	struct sums s = {m, in, g, num, den, thr, (const float (*)[2 * LZ_A])lz_tab};
	pthread_once(&lz_once, lz_fill);
	return par(nth, num_rows, &s);
}
