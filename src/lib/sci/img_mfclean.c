/*
 * img_mfclean.c: joined-channel CLEAN over a mask (img_mfclean_masked,
 * img_spec_init; contract in img.h); img_hogbom_masked is its one
 * sub-band case.
 *
 * Why: a source far out in the primary beam is seen through a response
 * whose null moves by a fifth across DSA-110's band, so its apparent
 * spectrum is steep and curved there; one CLEAN component per pixel for
 * the whole band (a flat spectrum) leaves residual sidelobes of the
 * spectral error around it, which bound the dynamic range of the
 * whole-beam image (bench/results/offaxis.txt). CLEANing sub-band images
 * jointly, each with its own PSF and a component whose spectrum is a
 * low-order polynomial fitted to the peak's sub-band values, models that
 * spectrum (Rau & Cornwell 2011 in spirit; WSClean's -join-channels
 * -fit-spectral-pol is the same loop).
 *
 * The loop keeps, for each masked pixel, its value in every sub-band and
 * their weighted sum (the MFS value that is searched). One pass per
 * iteration subtracts the previous component from every sub-band, forms
 * the sum and finds its largest magnitude; with two threads each takes
 * half of the mask, meeting at barriers, so the result does not depend on
 * the threads.
 */
#include "sci/img.h"
#include "sci/img_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int img_spec_init(struct img_spec *sp, int nsub, const double *f, const double *w, int nterms)
{
	double ata[IMG_TERMS_MAX * IMG_TERMS_MAX], sw = 0, swf = 0;
	int distinct = 0;

	memset(sp, 0, sizeof *sp);
	if (nsub < 1 || nsub > IMG_SUB_MAX || nterms < 1 || nterms > IMG_TERMS_MAX)
		return -1;
	for (int b = 0; b < nsub; b++) {
		sw += w[b];
		swf += w[b] * f[b];
		distinct += b == 0 || f[b] != f[b - 1];
	}
	if (!(sw > 0) || distinct < nterms)
		return -1;
	sp->nsub = nsub;
	sp->nterms = nterms;
	sp->fref = swf / sw;
	for (int b = 0; b < nsub; b++) {
		double x = f[b] / sp->fref - 1, p = 1;
		sp->f[b] = f[b];
		sp->w[b] = w[b] / sw;
		for (int t = 0; t < nterms; t++, p *= x)
			sp->basis[b][t] = p;
	}
	/* fit = (X' W X)^-1 X' W, one column (sub-band) at a time */
	for (int b = 0; b < nsub; b++) {
		double rhs[IMG_TERMS_MAX];
		memset(ata, 0, sizeof ata);
		for (int c = 0; c < nsub; c++)
			for (int i = 0; i < nterms; i++)
				for (int j = 0; j < nterms; j++)
					ata[i * nterms + j] += sp->w[c] * sp->basis[c][i] * sp->basis[c][j];
		for (int i = 0; i < nterms; i++)
			rhs[i] = sp->w[b] * sp->basis[b][i];
		if (img_solve(ata, rhs, nterms) < 0)
			return -1;
		for (int t = 0; t < nterms; t++)
			sp->fit[t][b] = rhs[t];
	}
	for (int t = 0; t < nterms; t++)
		for (int b = 0; b < nsub; b++)
			sp->mfs[t] += sp->w[b] * sp->basis[b][t];
	return 0;
}

/* One thread's share of an iteration: subtract comp[b] x the PSF patch
 * of sub-band b centred on (bx, by) from v[b][i0, i1) (offsets outside
 * the patch untouched), re-form s = sum w v there, and find the largest
 * |s| (*best, *at). With one sub-band s is v[0]. psf: the sub-bands'
 * patches interleaved, psf[o nsub + b] at offset o. */
struct msub {
	float *v[IMG_SUB_MAX], *s;
	float w[IMG_SUB_MAX], comp[IMG_SUB_MAX];
	const float *psf;
	const int *xy;
	int nsub, np, bx, by, i0, i1, at, any;
	float best;
};

/*
 * The PSF values an iteration needs are scattered over a patch of up to
 * 6720^2 offsets (one cache line each, mostly): the loop waits on memory,
 * not arithmetic (63% of its samples on the multiply after the load, in
 * perf). Asking for the value PF_AHEAD pixels ahead hides that wait:
 * 100k pixels x 3000 iterations took 3.4 s of CPU, 1.6 s at 64 ahead
 * (1.8 at 32, 1.5-1.9 at 128). The sub-bands' values at one offset are
 * adjacent (interleaved), so a pixel costs one line, not one a sub-band.
 */
#define PF_AHEAD 64
static void msub_run(struct msub *a)
{
	const int h = a->np / 2, bx = a->bx, by = a->by, nsub = a->nsub;
	const size_t np = (size_t)a->np;
	float best = 0, *s = a->s;
	int at = a->i0;

	for (int i = a->i0; i < a->i1; i++) {
		unsigned dx = (unsigned)(a->xy[2 * i] - bx + h);
		unsigned dy = (unsigned)(a->xy[2 * i + 1] - by + h);
		float f;

		if (i + PF_AHEAD < a->i1) {
			unsigned px = (unsigned)(a->xy[2 * (i + PF_AHEAD)] - bx + h);
			unsigned py = (unsigned)(a->xy[2 * (i + PF_AHEAD) + 1] - by + h);
			if (px < np && py < np)
				__builtin_prefetch(a->psf + (py * np + px) * (size_t)nsub);
		}
		/* unsigned compare: an offset of -h..h-1 is inside the patch */
		if (a->any && dx < np && dy < np) {
			const float *p = a->psf + (dy * np + dx) * (size_t)nsub;
			if (nsub == 1) {
				a->v[0][i] -= a->comp[0] * p[0];
			} else {
				float acc = 0;
				for (int b = 0; b < nsub; b++) {
					a->v[b][i] -= a->comp[b] * p[b];
					acc += a->w[b] * a->v[b][i];
				}
				s[i] = acc;
			}
		}
		f = fabsf(s[i]);
		if (f > best) {
			best = f;
			at = i;
		}
	}
	a->best = best;
	a->at = at;
}

/* The worker of a two-thread CLEAN: runs the second half of each
 * iteration's pass while the caller runs the first; a barrier before
 * (the component is chosen) and after (both maxima known). */
struct mpool {
	pthread_barrier_t start, done;
	struct msub *job;
	int stop;
};

static void *mworker(void *arg)
{
	struct mpool *p = arg;

	for (;;) {
		pthread_barrier_wait(&p->start);
		if (p->stop)
			return NULL;
		msub_run(p->job);
		pthread_barrier_wait(&p->done);
	}
}

/* Below this many pixel-sub-bands an iteration is too short to share. */
#define MASKED_MT_MIN 20000

/* Start the worker for part[1]; 1 if running, 0 if not (one thread). */
static int pool_start(struct mpool *pool, pthread_t *th, struct msub *part)
{
	pool->job = &part[1];
	pool->stop = 0;
	if (pthread_barrier_init(&pool->start, NULL, 2) != 0)
		return 0;
	if (pthread_barrier_init(&pool->done, NULL, 2) == 0) {
		if (pthread_create(th, NULL, mworker, pool) == 0)
			return 1;
		pthread_barrier_destroy(&pool->done);
	}
	pthread_barrier_destroy(&pool->start);
	return 0;
}

static void pool_stop(struct mpool *pool, pthread_t th)
{
	pool->stop = 1;
	pthread_barrier_wait(&pool->start);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&pool->start);
	pthread_barrier_destroy(&pool->done);
}

/* The component at mask entry b: gain x the fit of the sub-band values
 * there, added to the term models; comp[] gets its sub-band values.
 * Returns its MFS flux. */
static double component(const struct img_spec *sp, float *const *v, float *const *model,
    int pix, int b, double gain, float *comp)
{
	double coef[IMG_TERMS_MAX], flux = 0;

	for (int t = 0; t < sp->nterms; t++) {
		coef[t] = 0;
		for (int c = 0; c < sp->nsub; c++)
			coef[t] += sp->fit[t][c] * v[c][b];
		model[t][pix] += (float)(gain * coef[t]);
	}
	for (int c = 0; c < sp->nsub; c++) {
		double fv = 0;
		for (int t = 0; t < sp->nterms; t++)
			fv += sp->basis[c][t] * coef[t];
		comp[c] = (float)(gain * fv);
		flux += sp->w[c] * comp[c];
	}
	return flux;
}

void img_mfclean_masked(float *const *r, float *mfs, const float *psf, int np,
    float *const *model, int n, const int *idx, int nidx, const struct img_spec *sp,
    struct img_clean *c)
{
	int nsub = sp->nsub, m = nidx > 0 ? nidx : 1, mt = 0, ok = 1;
	float *v[IMG_SUB_MAX] = {0}, *s = NULL;
	int *xy = malloc(sizeof *xy * 2 * (size_t)m);
	struct msub part[2];
	struct mpool pool;
	pthread_t th;

	c->done = 0;
	c->flux = 0;
	c->last = 0;
	c->used_threshold = c->threshold;
	for (int b = 0; b < nsub; b++)
		ok &= (v[b] = malloc(sizeof *v[b] * (size_t)m)) != NULL;
	s = nsub == 1 ? v[0] : malloc(sizeof *s * (size_t)m);
	if (!ok || !s || !xy || nidx <= 0)
		goto out;
	for (int i = 0; i < nidx; i++) {
		for (int b = 0; b < nsub; b++)
			v[b][i] = r[b][idx[i]];
		if (nsub > 1)
			s[i] = mfs[idx[i]];
		xy[2 * i] = idx[i] % n;
		xy[2 * i + 1] = idx[i] / n;
	}
	for (int t = 0; t < 2; t++) {
		memset(&part[t], 0, sizeof part[t]);
		for (int b = 0; b < nsub; b++) {
			part[t].v[b] = v[b];
			part[t].w[b] = (float)sp->w[b];
		}
		part[t].psf = psf;
		part[t].s = s;
		part[t].xy = xy;
		part[t].nsub = nsub;
		part[t].np = np;
		part[t].i0 = t ? nidx / 2 : 0;
		part[t].i1 = t ? nidx : nidx / 2;
	}
	if ((size_t)nidx * (size_t)nsub >= MASKED_MT_MIN && c->nthreads > 1)
		mt = pool_start(&pool, &th, part);
	/* iteration 0 only searches; each later one subtracts the previous
	 * component and searches in the same pass */
	for (int it = 0;; it++) {
		float best, comp[IMG_SUB_MAX];
		int b;

		if (mt) {
			pthread_barrier_wait(&pool.start);
			msub_run(&part[0]);
			pthread_barrier_wait(&pool.done);
		} else {
			msub_run(&part[0]);
			msub_run(&part[1]);
		}
		/* ties go to the lower index, as a single pass would */
		b = part[1].best > part[0].best ? part[1].at : part[0].at;
		best = fabsf(s[b]);
		c->last = best;
		if (it >= c->niter || !(best > c->threshold))
			break;
		c->flux += component(sp, v, model, idx[b], b, c->gain, comp);
		c->done++;
		for (int t = 0; t < 2; t++) {
			part[t].any = 0;
			for (int k = 0; k < nsub; k++) {
				part[t].comp[k] = comp[k];
				part[t].any |= comp[k] != 0;
			}
			part[t].bx = xy[2 * b];
			part[t].by = xy[2 * b + 1];
		}
	}
	if (mt)
		pool_stop(&pool, th);
	for (int i = 0; i < nidx; i++) {
		for (int b = 0; b < nsub; b++)
			r[b][idx[i]] = v[b][i];
		mfs[idx[i]] = s[i];
	}
out:
	for (int b = 0; b < nsub; b++)
		free(v[b]);
	if (nsub > 1)
		free(s);
	free(xy);
}
