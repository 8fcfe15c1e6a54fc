/*
 * img_gridmt.c: gridding and degridding of the visibility store on
 * several threads (img_grid_store, contract in img.h).
 *
 * The store is taken a chunk of rows at a time, in two phases separated
 * by barriers. First every thread takes an equal share of the chunk's
 * visibilities and works out, once per visibility, its density-corrected
 * weight, where its kernel starts on each grid and which tabulated kernel
 * row serves it (so spreading only reads contiguous table entries), and
 * for a major cycle the model degridded there. Then every thread walks
 * all of the chunk's visibilities and spreads each onto the grid rows it
 * owns: strips of STRIP rows dealt out in turn, which spreads the dense
 * centre of the uv plane over all threads. A grid cell is thus written by
 * one thread only, in visibility order, so the grids do not depend on
 * the number of threads or their timing, bit for bit, and no lock or
 * private grid is needed. The weight sums are added by thread 0 in
 * visibility order for the same reason.
 */
#include "sci/img.h"
#include "sci/img_int.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRIP_SHIFT 5             /* strips of 32 grid rows */
#define CHUNK_VIS (1 << 17)       /* visibilities a chunk, about */
#define MAX_THREADS 64

struct place {                    /* a visibility's kernel on one grid */
	int32_t cu, cv;           /* first cell, wrapped; cv < 0: not gridded */
	uint16_t qu, qv;          /* kernel row (k->rows + q W) along u, v */
};

struct pass {
	struct img_grid *g;
	const struct img_vstore *s;
	const float complex *mg;  /* model grid (major cycle) or NULL */
	int nt;
	pthread_barrier_t bar;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int go, abort;
	size_t nchunk, *cseg, *cr0, *cr1;  /* chunks: segment, rows */
	unsigned char *segin;     /* per segment: a channel in the selection */
	struct place *pv, *pp;    /* per visibility of the chunk: vis, PSF grid */
	float complex *x;         /* value to spread on the vis grid */
	float *wt;                /* weight (PSF grid) */
	double cpu[MAX_THREADS][2];
	long long nvis[MAX_THREADS], nout[MAX_THREADS];
	double wall[2];
};

struct worker {
	struct pass *p;
	int t;
};

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The kernel's placement at p cells on a grid of side ng (as kernel_row
 * in img_grid.c: taps at the same table phase, nearest table sample). */
static void locate(const struct img_kernel *k, double p, int ng, int32_t *cell, uint16_t *q)
{
	double lo = p - k->support / 2.0;
	long j = (long)ceil(lo), c = j % ng;
	int qq = (int)((j - lo) * k->os + 0.5);

	*q = (uint16_t)(qq > k->os ? k->os : qq);
	*cell = (int32_t)(c < 0 ? c + ng : c);
}

/* The model grid interpolated at placement a: the model visibility. */
static float complex degrid_at(const struct img_kernel *k, const float complex *mg, int ng,
    const struct place *a)
{
	int W = k->support;
	const float *ku = k->rows + a->qu * W, *kv = k->rows + a->qv * W;
	float complex s = 0;
	int cv = a->cv;

	for (int iy = 0; iy < W; iy++, cv = cv + 1 == ng ? 0 : cv + 1) {
		const float complex *row = mg + (size_t)cv * ng;
		float complex r = 0;

		if (a->cu + W <= ng) {
			for (int ix = 0; ix < W; ix++)
				r += ku[ix] * row[a->cu + ix];
		} else {
			for (int ix = 0, c = a->cu; ix < W; ix++, c = c + 1 == ng ? 0 : c + 1)
				r += ku[ix] * row[c];
		}
		s += kv[iy] * r;
	}
	return conjf(s);         /* as img_degrid */
}

/* Phase one: visibilities [i0, i1) of chunk c. */
static void prepare(struct pass *p, int t, size_t c, size_t i0, size_t i1)
{
	struct img_grid *g = p->g;
	const struct img_vseg *sg = &p->s->seg[p->cseg[c]];
	size_t r0 = p->cr0[c], nc = (size_t)sg->nchan;

	for (size_t i = i0; i < i1; i++) {
		size_t r = r0 + i / nc, j = i % nc, o = sg->off + (r - sg->row0) * nc + j;
		double f = sg->freq[j] / IMG_C, u = p->s->u[r] * f, v = p->s->v[r] * f;
		float w = p->s->w[o], cw;

		p->pv[i].cv = -1;
		if (!(w > 0) || !img_in_band(g->sel_lo, g->sel_hi, sg->freq[j]))
			continue;
		cw = g->wvis ? g->wvis[o] : -1;
		if (cw == -1) {
			cw = img_grid_inside(g, u, v) ? img_grid_weight(g, u, v, w) : -2;
			if (g->wvis)
				g->wvis[o] = cw;
		}
		if (cw < 0) {
			p->nout[t]++;
			continue;
		}
		w = cw;
		p->nvis[t]++;
		locate(g->k, u / g->du, g->ng, &p->pv[i].cu, &p->pv[i].qu);
		locate(g->k, v / g->du, g->ng, &p->pv[i].cv, &p->pv[i].qv);
		p->wt[i] = w;
		if (p->mg) {
			p->x[i] = w * (p->s->V[o] - (g->mvis ? g->mvis[o] :
			    degrid_at(g->k, p->mg, g->ng, &p->pv[i])));
		} else {
			p->x[i] = w * p->s->V[o];
			locate(g->k, u / g->dup, g->ngp, &p->pp[i].cu, &p->pp[i].qu);
			locate(g->k, v / g->dup, g->ngp, &p->pp[i].cv, &p->pp[i].qv);
		}
	}
}

/* Spread x through the kernel at a onto the rows of grid (side ng) that
 * thread t of nt owns. */
static void spread_own(const struct img_kernel *k, float complex *grid, int ng,
    const struct place *a, float complex x, int t, int nt)
{
	int W = k->support, cv = a->cv;
	const float *ku = k->rows + a->qu * W, *kv = k->rows + a->qv * W;

	for (int iy = 0; iy < W; iy++, cv = cv + 1 == ng ? 0 : cv + 1) {
		float complex *row = grid + (size_t)cv * ng, xv;

		if (((cv >> STRIP_SHIFT) % nt) != t)
			continue;
		xv = kv[iy] * x;
		if (a->cu + W <= ng) {
			row += a->cu;
			for (int ix = 0; ix < W; ix++)
				row[ix] += ku[ix] * xv;
		} else {
			for (int ix = 0, c = a->cu; ix < W; ix++, c = c + 1 == ng ? 0 : c + 1)
				row[c] += ku[ix] * xv;
		}
	}
}

/* Zero the rows of grid (side ng) that thread t owns; r > 0: only those
 * within r of row 0 (wrapped). */
static void zero_own(float complex *grid, int ng, int t, int nt, int r)
{
	for (int y = 0; y < ng; y++)
		if (((y >> STRIP_SHIFT) % nt) == t && (r <= 0 || y <= r || y >= ng - r))
			memset(grid + (size_t)y * ng, 0, sizeof *grid * (size_t)ng);
}

static void work(struct pass *p, int t)
{
	struct img_grid *g = p->g;
	int nt = p->nt;
	double c0 = now(CLOCK_THREAD_CPUTIME_ID), c1, w0 = now(CLOCK_MONOTONIC), w1;

	zero_own(g->vis, g->ng, t, nt, p->mg ? g->zero_r : 0);
	if (!p->mg)
		zero_own(g->psf, g->ngp, t, nt, 0);
	p->cpu[t][1] += now(CLOCK_THREAD_CPUTIME_ID) - c0;
	for (size_t c = 0; c < p->nchunk; c++) {
		const struct img_vseg *sg = &p->s->seg[p->cseg[c]];
		size_t n = (p->cr1[c] - p->cr0[c]) * (size_t)sg->nchan;

		if (!p->segin[p->cseg[c]])
			continue;       /* every thread skips it: barriers still pair */
		c0 = now(CLOCK_THREAD_CPUTIME_ID);
		prepare(p, t, c, n * (size_t)t / (size_t)nt, n * (size_t)(t + 1) / (size_t)nt);
		c1 = now(CLOCK_THREAD_CPUTIME_ID);
		p->cpu[t][0] += c1 - c0;
		pthread_barrier_wait(&p->bar);
		if (t == 0) {
			w1 = now(CLOCK_MONOTONIC);
			p->wall[0] += w1 - w0;
			w0 = w1;
		}
		c0 = now(CLOCK_THREAD_CPUTIME_ID);
		for (size_t i = 0; i < n; i++) {
			if (p->pv[i].cv < 0)
				continue;
			spread_own(g->k, g->vis, g->ng, &p->pv[i], p->x[i], t, nt);
			if (p->mg)
				continue;
			spread_own(g->k, g->psf, g->ngp, &p->pp[i], p->wt[i], t, nt);
			if (t == 0) {
				g->sumw += p->wt[i];
				g->sumwf += p->wt[i] * sg->freq[i % (size_t)sg->nchan];
			}
		}
		p->cpu[t][1] += now(CLOCK_THREAD_CPUTIME_ID) - c0;
		pthread_barrier_wait(&p->bar);
		if (t == 0) {
			w1 = now(CLOCK_MONOTONIC);
			p->wall[1] += w1 - w0;
			w0 = w1;
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pass *p = w->p;
	int go;

	pthread_mutex_lock(&p->mu);
	while (!p->go)
		pthread_cond_wait(&p->cv, &p->mu);
	go = !p->abort;
	pthread_mutex_unlock(&p->mu);
	if (go)
		work(p, w->t);
	return NULL;
}

/* The pass on nt threads (the caller's included); 0, or -1 if a thread
 * could not be started (nothing was gridded then). */
static int run(struct pass *p, int nt)
{
	pthread_t th[MAX_THREADS];
	struct worker wk[MAX_THREADS];
	int made = 0;

	p->nt = nt;
	p->go = p->abort = 0;
	memset(p->cpu, 0, sizeof p->cpu);
	memset(p->nvis, 0, sizeof p->nvis);
	memset(p->nout, 0, sizeof p->nout);
	p->wall[0] = p->wall[1] = 0;
	if (pthread_barrier_init(&p->bar, NULL, (unsigned)nt) != 0)
		return -1;
	for (int t = 1; t < nt; t++, made++) {
		wk[t].p = p;
		wk[t].t = t;
		if (pthread_create(&th[t], NULL, worker_main, &wk[t]) != 0)
			break;
	}
	pthread_mutex_lock(&p->mu);
	p->abort = made < nt - 1;
	p->go = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (!p->abort)
		work(p, 0);
	for (int t = 1; t <= made; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&p->bar);
	return p->abort ? -1 : 0;
}

/* Chunks of about CHUNK_VIS visibilities, whole rows of one segment. */
static int chunks(struct pass *p, size_t *cap)
{
	const struct img_vstore *s = p->s;
	size_t n = 0;

	for (int pass = 0; pass < 2; pass++) {
		n = 0;
		for (int i = 0; i < s->nseg; i++) {
			const struct img_vseg *sg = &s->seg[i];
			size_t per;

			if (sg->nchan < 1)
				continue;
			per = CHUNK_VIS / (size_t)sg->nchan + 1;
			if (per * (size_t)sg->nchan > *cap)
				*cap = per * (size_t)sg->nchan;
			for (size_t r = 0; r < sg->nrow; r += per, n++)
				if (pass) {
					p->cseg[n] = (size_t)i;
					p->cr0[n] = sg->row0 + r;
					p->cr1[n] = sg->row0 + (r + per < sg->nrow ? r + per : sg->nrow);
				}
		}
		if (!pass) {
			p->cseg = malloc(sizeof *p->cseg * (n ? n : 1));
			p->cr0 = malloc(sizeof *p->cr0 * (n ? n : 1));
			p->cr1 = malloc(sizeof *p->cr1 * (n ? n : 1));
			if (!p->cseg || !p->cr0 || !p->cr1)
				return -1;
		}
	}
	p->nchunk = n;
	return 0;
}

int img_grid_store(struct img_grid *g, const struct img_vstore *s, const float complex *mg,
    int nthreads)
{
	struct pass p;
	size_t cap = 1;
	int rc = -1;

	memset(&p, 0, sizeof p);
	p.g = g;
	p.s = s;
	p.mg = mg;
	nthreads = nthreads < 1 ? 1 : nthreads > MAX_THREADS ? MAX_THREADS : nthreads;
	if (pthread_mutex_init(&p.mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&p.cv, NULL) != 0) {
		pthread_mutex_destroy(&p.mu);
		return -1;
	}
	if (chunks(&p, &cap) < 0)
		goto out;
	if (!(p.segin = calloc((size_t)(s->nseg > 0 ? s->nseg : 1), 1)))
		goto out;
	for (int i = 0; i < s->nseg; i++)
		for (int j = 0; j < s->seg[i].nchan; j++)
			p.segin[i] |= img_in_band(g->sel_lo, g->sel_hi, s->seg[i].freq[j]);
	if (g->wstore != s) {
		/* the weights of another store (or none yet): start afresh;
		 * without the memory, work them out every pass */
		free(g->wvis);
		g->wstore = s;
		if ((g->wvis = malloc(sizeof *g->wvis * (s->nvis ? s->nvis : 1))))
			for (size_t i = 0; i < s->nvis; i++)
				g->wvis[i] = -1;
	}
	p.pv = malloc(sizeof *p.pv * cap);
	p.pp = mg ? NULL : malloc(sizeof *p.pp * cap);
	p.x = malloc(sizeof *p.x * cap);
	p.wt = malloc(sizeof *p.wt * cap);
	if (!p.pv || (!mg && !p.pp) || !p.x || !p.wt)
		goto out;
	if (!mg) {
		/* uniform/Briggs: the density of the weights, serially (one add a
		 * visibility and its conjugate) */
		for (int i = 0; g->dens && !g->dens_fixed && i < s->nseg; i++) {
			const struct img_vseg *sg = &s->seg[i];
			for (size_t r = sg->row0; r < sg->row0 + sg->nrow; r++)
				for (int j = 0; j < sg->nchan; j++) {
					float w = s->w[sg->off + (r - sg->row0) * (size_t)sg->nchan + (size_t)j];
					double f = sg->freq[j] / IMG_C;
					if (w > 0)
						img_grid_density(g, s->u[r] * f, s->v[r] * f, w);
				}
		}
		if (!g->dens_fixed)
			img_grid_density_done(g);
		g->dens_fixed = 1;
		g->sumw = g->sumwf = 0;
		g->nvis = g->nout = 0;
	}
	if (run(&p, nthreads) < 0 && (nthreads == 1 || run(&p, 1) < 0))
		goto out;
	for (int t = 0; t < p.nt; t++) {
		g->prep_cpu += p.cpu[t][0];
		g->spread_cpu += p.cpu[t][1];
		if (!mg) {
			g->nvis += p.nvis[t];
			g->nout += p.nout[t];
		}
	}
	g->prep_wall += p.wall[0];
	g->spread_wall += p.wall[1];
	rc = 0;
out:
	if (rc < 0)
		errno = ENOMEM;
	free(p.segin);
	free(p.cseg);
	free(p.cr0);
	free(p.cr1);
	free(p.pv);
	free(p.pp);
	free(p.x);
	free(p.wt);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
	return rc;
}

struct par_part {
	void (*fn)(void *, size_t, size_t);
	void *ctx;
	size_t lo, hi;
};

static void *par_run(void *arg)
{
	struct par_part *q = arg;

	q->fn(q->ctx, q->lo, q->hi);
	return NULL;
}

void img_par(size_t n, int nthreads, void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx)
{
	struct par_part q[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	int nt = nthreads < 1 ? 1 : nthreads > MAX_THREADS ? MAX_THREADS : nthreads;
	int started[MAX_THREADS] = {0};

	if ((size_t)nt > n)
		nt = n > 0 ? (int)n : 1;
	for (int t = 0; t < nt; t++)
		q[t] = (struct par_part){ fn, ctx, n * (size_t)t / (size_t)nt,
		    n * (size_t)(t + 1) / (size_t)nt };
	for (int t = 1; t < nt; t++)
		started[t] = pthread_create(&th[t], NULL, par_run, &q[t]) == 0;
	fn(ctx, q[0].lo, q[0].hi);
	for (int t = 1; t < nt; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else
			fn(ctx, q[t].lo, q[t].hi);
	}
}
