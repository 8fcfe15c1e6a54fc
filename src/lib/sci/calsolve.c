/*
 * calsolve.c: gains from a calibrator transit (method and contract in
 * calsolve.h).
 *
 * Memory: the visibilities of one integration, the interval's sums (36
 * bytes per baseline, channel and polarization), the delay sums (16
 * bytes per baseline, channel and polarization) and the raw solutions
 * (21 bytes per solution interval, antenna, channel and polarization). The
 * file is read twice (delays, then gains), one integration at a time.
 *
 * Threads (o->nthreads): the sums of an integration are shared by slot
 * ranges (each thread owns its baselines' sums, so every sum is added in
 * the same order whatever the thread count), and the cells of an interval
 * by blocks of CELL_BLOCK channels: a thread gathers its block's sums,
 * which lie [slot][channel][pol] so a block is contiguous per slot, into
 * dense matrices, clears them and solves each cell. A cell's result
 * depends on its own sums and its own warm start only, and the per-cell
 * residuals are added up in cell order afterwards, so the table is
 * bit-identical for any number of threads.
 */
#include "sci/calsolve.h"
#include "sci/beam.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "sci/cal_delay.h"
#include "sci/cal_stefcal.h"
#include "sci/geom.h"
#include "core/log.h"
#include "uvh5/uvh5.h"

#define SIDEREAL 1.00273781191135448 /* sidereal per solar time */
#define OUTLIER_CHI2 25.0            /* |raw - fit| > 5 sigma */
#define MIN_UNFLAGGED 0.05           /* antenna-pols with less input data fail */
#define MIN_COHERENCE 0.5            /* reference score below this times the
                                      * median of antennas with data: garbage */
#define DELAY_MIN_CHANS 32           /* fewer channels: no delay is solved
                                      * (4 channels cannot show a peak) */
#define CELL_BLOCK 4                 /* channels a thread gathers and solves at
                                      * once (4 x npol cells of ~370 kB each) */
#define MIN_GOOD_SOL 0.01            /* fewer usable gains: low snr (noisy
                                      * groups are judged by frac_flagged
                                      * and median_snr, as before) */

/* One thread's dense n x n matrices for a block of CELL_BLOCK x np cells,
 * and its share of the input-flag counts. */
struct cellwork {
	struct solver *s;
	int tid;
	double complex *Cd, *g;
	double *Dd, *Ad, *Kd, *snr;
	double *ngood, *ntot;            /* [a][p] */
	int ti;                          /* integration being summed */
};

struct solver {
	const struct calsolve_opts *o;
	int nth;                         /* threads */
	struct cellwork *cw;             /* nth */
	atomic_int next;                 /* next channel block to solve */
	int ii;                          /* interval being solved */
	double *cres2, *cmod2;           /* [f][p] residual and model of the cell */
	uvh5_file *f;
	const struct uvh5_header *h;
	int n, nf, np;
	double df;                       /* channel spacing if uniform, else 0 */
	double lat, lon;                 /* radians */
	double dec_p;                    /* pointing declination */
	int sidereal;                    /* phase centre fixed at (ra0, dec0) */
	double ra0, dec0;
	double ra_c, dec_c;              /* calibrator */
	const struct cal_source *cal;
	double *enu;                     /* n x 3 */
	int *ai, *bi;                    /* per row: antenna indices, -1 unknown */
	unsigned char *has_data;         /* n */
	int *slot_of;                    /* n x n */
	int nslots, *slot_a, *slot_b;    /* a < b */
	int ntimes, ntsol;
	double *tval;                    /* ntimes, JD */
	int64_t *trow0, *trow1;          /* rows of each time */
	double tint;                     /* integration time, s */
	double *lst;                     /* ntimes */
	/* interval sums */
	double complex *C;
	double *D, *A, *K;
	double complex *warm;            /* [f][p][a] last good solution */
	/* raw solutions [ti][a][f][p] */
	double complex *raw;
	float *rawsnr;
	uint8_t *rawok;
	double resid2, model2;
	/* delays: pass-1 sums [slot][f][p], results, antenna-pol state */
	float complex *dsum;
	float *dabs;
	float *dcnt;
	double *ngood, *ntot;            /* [a][p] unflagged / all cross samples */
	struct cal_delay_out dl;
	unsigned char *skip;             /* n: excluded from the solve */
	int m, *pos;                     /* solved antennas (data, not skipped),
	                                    index among them or -1 (n) */
	double complex *dph;             /* [a][f][p] exp(-2 pi i f tau) */
	int ref;
	int pass;                        /* 1: delay sums, 2: gain sums */
	/* one integration */
	float complex *vis;
	uint8_t *flags;
	double *w0, *u1, *v1, *w1, *model;
	char *err;
};

void calsolve_defaults(struct calsolve_opts *o)
{
	memset(o, 0, sizeof *o);
	o->interval = 1;
	o->min_uv_lambda = 0;
	o->flag_snr = 5;
	o->max_iter = 100;
	o->tol = 1e-6;
	o->validity_hours = 24;
	o->refant = -1;
	o->diam_m = GEOM_DISH_DIAM_M;
	o->beam = BEAM_AIRY;
	o->nthreads = 0;
}

static size_t ridx(const struct solver *s, int ti, int a, int f, int p)
{
	return (((size_t)ti * s->n + a) * s->nf + f) * s->np + p;
}

static int fail(struct solver *s, int status, const char *fmt, const char *arg)
{
	snprintf(s->err, CAL_ERRLEN, fmt, arg);
	return status;
}

/* Pointing declination and phase-centre kind from the header
 * (uvh5_pointing). */
static int pointing(struct solver *s)
{
	const struct uvh5_header *h = s->h;
	char why[256];
	double ra, dec;
	int k;

	if (h->n_phase_centers > 1)
		return fail(s, EX_DATAERR, "'%s': more than one phase centre", s->o->vis);
	k = uvh5_pointing(h, &ra, &dec, why, sizeof why);
	if (k < 0) {
		snprintf(s->err, CAL_ERRLEN, "'%s': %s", s->o->vis, why);
		return EX_DATAERR;
	}
	s->sidereal = k == UVH5_PT_FIXED;
	if (s->sidereal) {
		s->ra0 = ra;
		s->dec0 = dec;
	}
	s->dec_p = dec;
	return 0;
}

/* Antenna indices per row, ENU positions, baseline slots. */
static int layout(struct solver *s)
{
	const struct uvh5_header *h = s->h;
	int n = s->n;

	s->enu = malloc(sizeof(double) * 3 * (size_t)n);
	s->ai = malloc(sizeof(int) * (size_t)h->Nblts);
	s->bi = malloc(sizeof(int) * (size_t)h->Nblts);
	s->has_data = calloc((size_t)n, 1);
	s->slot_of = malloc(sizeof(int) * (size_t)n * (size_t)n);
	s->slot_a = malloc(sizeof(int) * (size_t)h->Nblts);
	s->slot_b = malloc(sizeof(int) * (size_t)h->Nblts);
	if (!s->enu || !s->ai || !s->bi || !s->has_data || !s->slot_of || !s->slot_a || !s->slot_b)
		return fail(s, EX_SOFTWARE, "%s", "out of memory");
	for (int a = 0; a < n; a++)
		geom_ecef_to_enu(h->antenna_positions + 3 * a, s->lat, s->lon, s->enu + 3 * a);
	for (size_t k = 0; k < (size_t)n * n; k++)
		s->slot_of[k] = -1;
	for (int64_t r = 0; r < h->Nblts; r++) {
		int a = -1, b = -1;

		for (int i = 0; i < n && (a < 0 || b < 0); i++) {
			if (h->antenna_numbers[i] == h->ant_1_array[r])
				a = i;
			if (h->antenna_numbers[i] == h->ant_2_array[r])
				b = i;
		}
		s->ai[r] = a;
		s->bi[r] = b;
		if (a < 0 || b < 0 || a == b)
			continue;
		int lo = a < b ? a : b, hi = a < b ? b : a;
		if (s->slot_of[lo * n + hi] < 0) {
			s->slot_of[lo * n + hi] = s->slot_of[hi * n + lo] = s->nslots;
			s->slot_a[s->nslots] = lo;
			s->slot_b[s->nslots] = hi;
			s->nslots++;
		}
		s->has_data[a] = s->has_data[b] = 1;
	}
	if (!s->nslots)
		return fail(s, EX_DATAERR, "'%s': no cross-correlations", s->o->vis);
	/* uniform channels (within a millihertz): accumulate steps the
	 * w-term phasor from channel to channel */
	s->df = h->Nfreqs > 1 ? (h->freq_array[h->Nfreqs - 1] - h->freq_array[0]) / (double)(h->Nfreqs - 1) : 0;
	for (int64_t f = 0; f < h->Nfreqs && s->df != 0; f++)
		if (fabs(h->freq_array[f] - (h->freq_array[0] + (double)f * s->df)) > 1e-3)
			s->df = 0;
	return 0;
}

/* Runs of rows sharing a time, in increasing time order; LST of each. */
static int times(struct solver *s)
{
	const struct uvh5_header *h = s->h;
	int cap = 0;

	for (int64_t r = 0; r < h->Nblts; r++) {
		double t = h->time_array[r];

		if (s->ntimes && fabs(t - s->tval[s->ntimes - 1]) < 1e-3 / GEOM_DAY_S) {
			if (r != s->trow1[s->ntimes - 1])
				return fail(s, EX_DATAERR, "'%s': rows not grouped by time", s->o->vis);
			s->trow1[s->ntimes - 1] = r + 1;
			continue;
		}
		if (s->ntimes && t < s->tval[s->ntimes - 1])
			return fail(s, EX_DATAERR, "'%s': rows not in time order", s->o->vis);
		if (s->ntimes == cap) {
			cap = cap ? 2 * cap : 64;
			double *nt = realloc(s->tval, sizeof(double) * (size_t)cap);
			if (nt)
				s->tval = nt;
			int64_t *n0 = realloc(s->trow0, sizeof(int64_t) * (size_t)cap);
			if (n0)
				s->trow0 = n0;
			int64_t *n1 = realloc(s->trow1, sizeof(int64_t) * (size_t)cap);
			if (n1)
				s->trow1 = n1;
			double *nl = realloc(s->lst, sizeof(double) * (size_t)cap);
			if (nl)
				s->lst = nl;
			if (!nt || !n0 || !n1 || !nl)
				return fail(s, EX_SOFTWARE, "%s", "out of memory");
		}
		s->tval[s->ntimes] = t;
		s->trow0[s->ntimes] = r;
		s->trow1[s->ntimes] = r + 1;
		s->lst[s->ntimes] = h->lst_array ? h->lst_array[r] : geom_lst(t, h->longitude);
		s->ntimes++;
	}
	if (!s->ntimes)
		return fail(s, EX_DATAERR, "'%s': no data", s->o->vis);
	s->tint = h->integration_time && h->integration_time[0] > 0 ? h->integration_time[0]
	    : s->ntimes > 1 ? (s->tval[1] - s->tval[0]) * GEOM_DAY_S : 10;
	s->ntsol = (s->ntimes + s->o->interval - 1) / s->o->interval;
	return 0;
}

/* LST at jd by extrapolation from the nearest integration. */
static double lst_at(const struct solver *s, double jd)
{
	int best = 0;

	for (int i = 1; i < s->ntimes; i++)
		if (fabs(s->tval[i] - jd) < fabs(s->tval[best] - jd))
			best = i;
	return geom_wrap_2pi(s->lst[best] + (jd - s->tval[best]) * 2 * GEOM_PI * SIDEREAL);
}

/* The calibrator: given, or the catalogue source transiting now. */
static int calibrator(struct solver *s, double *transit_jd)
{
	const struct uvh5_header *h = s->h;
	double fmin = HUGE_VAL, fmid = 0, tmid = (s->tval[0] + s->tval[s->ntimes - 1]) / 2;
	double half = s->tint / 2 / GEOM_DAY_S, sep;

	for (int f = 0; f < s->nf; f++) {
		if (h->freq_array[f] < fmin)
			fmin = h->freq_array[f];
		fmid += h->freq_array[f] / s->nf;
	}
	if (!(fmin > 0))
		return fail(s, EX_DATAERR, "'%s': bad frequencies", s->o->vis);
	s->cal = s->o->cal;
	if (!s->cal) {
		double fwhm_deg = GEOM_PB_FWHM_FACTOR * GEOM_C / fmin / s->o->diam_m / GEOM_DEG;

		if (!s->o->catalog)
			return fail(s, EX_UNAVAILABLE, "%s", "no calibrator catalogue");
		/* the catalogue is searched with our LST scale: shift the window by
		 * the offset between the file's LST and geom_lst */
		double dl = geom_wrap_pi(lst_at(s, tmid) - geom_lst(tmid, h->longitude));
		double dt = dl / (2 * GEOM_PI * SIDEREAL);
		s->cal = cal_catalog_transit(s->o->catalog, s->tval[0] - half + dt,
		    s->tval[s->ntimes - 1] + half + dt, h->longitude, s->dec_p / GEOM_DEG, fwhm_deg,
		    NULL);
		if (!s->cal)
			return fail(s, EX_UNAVAILABLE,
			    "'%s': no catalogue calibrator transits in the beam during the data",
			    s->o->vis);
	}
	cal_source_apparent(s->cal, tmid, &s->ra_c, &s->dec_c);   /* ICRS -> CIRS */
	*transit_jd = tmid + geom_wrap_pi(s->ra_c - lst_at(s, tmid)) / (2 * GEOM_PI * SIDEREAL);
	sep = geom_sep(s->ra_c, s->dec_c, lst_at(s, tmid), s->dec_p);
	if (beam_pb(s->o->beam, sep, fmid, s->o->diam_m) < 1e-3) {
		char m[256];
		snprintf(m, sizeof m, "calibrator '%s' is %.2f deg from the pointing at mid-time, "
		    "outside the beam", s->cal->name, sep / GEOM_DEG);
		return fail(s, EX_UNAVAILABLE, "%s", m);
	}
	return 0;
}

static int alloc_work(struct solver *s)
{
	size_t cell = (size_t)s->nslots * s->nf * s->np, nn = (size_t)s->n * s->n;
	size_t raw = (size_t)s->ntsol * s->n * s->nf * s->np;
	int64_t maxrows = 0;

	for (int i = 0; i < s->ntimes; i++)
		if (s->trow1[i] - s->trow0[i] > maxrows)
			maxrows = s->trow1[i] - s->trow0[i];
	s->C = calloc(cell, sizeof *s->C);
	s->D = calloc(cell, sizeof *s->D);
	s->A = calloc(cell, sizeof *s->A);
	s->K = calloc(cell, sizeof *s->K);
	s->cw = calloc((size_t)s->nth, sizeof *s->cw);
	s->cres2 = calloc((size_t)s->nf * s->np, sizeof *s->cres2);
	s->cmod2 = calloc((size_t)s->nf * s->np, sizeof *s->cmod2);
	if (!s->cw || !s->cres2 || !s->cmod2)
		return fail(s, EX_SOFTWARE, "%s", "out of memory");
	for (int i = 0; i < s->nth; i++) {
		struct cellwork *w = s->cw + i;
		size_t nc = (size_t)CELL_BLOCK * s->np;

		w->s = s;
		w->tid = i;
		/* calloc: entries no slot writes (diagonal, absent baselines)
		 * stay 0, which excludes them */
		w->Cd = calloc(nc * nn, sizeof *w->Cd);
		w->Dd = calloc(nc * nn, sizeof *w->Dd);
		w->Ad = calloc(nc * nn, sizeof *w->Ad);
		w->Kd = calloc(nc * nn, sizeof *w->Kd);
		w->g = calloc((size_t)s->n, sizeof *w->g);
		w->snr = calloc((size_t)s->n, sizeof *w->snr);
		w->ngood = calloc((size_t)s->n * s->np, sizeof *w->ngood);
		w->ntot = calloc((size_t)s->n * s->np, sizeof *w->ntot);
		if (!w->Cd || !w->Dd || !w->Ad || !w->Kd || !w->g || !w->snr || !w->ngood ||
		    !w->ntot)
			return fail(s, EX_SOFTWARE, "%s", "out of memory");
	}
	s->warm = calloc((size_t)s->nf * s->np * s->n, sizeof *s->warm);
	s->raw = calloc(raw, sizeof *s->raw);
	s->rawsnr = calloc(raw, sizeof *s->rawsnr);
	s->rawok = calloc(raw, 1);
	s->vis = malloc((size_t)maxrows * s->nf * s->np * sizeof *s->vis);
	s->flags = malloc((size_t)maxrows * s->nf * s->np);
	s->w0 = malloc(sizeof(double) * (size_t)s->n);
	s->u1 = malloc(sizeof(double) * (size_t)s->n);
	s->v1 = malloc(sizeof(double) * (size_t)s->n);
	s->w1 = malloc(sizeof(double) * (size_t)s->n);
	s->model = malloc(sizeof(double) * (size_t)s->nf);
	s->dsum = calloc(cell, sizeof *s->dsum);
	s->dabs = calloc(cell, sizeof *s->dabs);
	s->dcnt = calloc(cell, sizeof *s->dcnt);
	s->ngood = calloc((size_t)s->n * s->np, sizeof *s->ngood);
	s->ntot = calloc((size_t)s->n * s->np, sizeof *s->ntot);
	s->skip = calloc((size_t)s->n, 1);
	s->pos = calloc((size_t)s->n, sizeof *s->pos);
	s->dph = malloc(sizeof *s->dph * (size_t)s->n * s->nf * s->np);
	if (!s->dsum || !s->dabs || !s->dcnt || !s->ngood || !s->ntot || !s->skip || !s->pos || !s->dph)
		return fail(s, EX_SOFTWARE, "%s", "out of memory");
	if (!s->C || !s->D || !s->A || !s->K || !s->warm || !s->raw || !s->rawsnr || !s->rawok || !s->vis || !s->flags ||
	    !s->w0 || !s->u1 || !s->v1 || !s->w1 || !s->model)
		return fail(s, EX_SOFTWARE, "%s", "out of memory");
	return 0;
}

/*
 * Run fn(&s->cw[i]) for every thread i, thread 0 in the caller. A thread
 * that cannot be created has its share run by the caller afterwards: the
 * shares are independent, so the result is the same, only slower.
 */
static void run_threads(struct solver *s, void *(*fn)(void *))
{
	pthread_t th[CAL_MAX_THREADS];
	unsigned char made[CAL_MAX_THREADS] = {0};

	for (int i = 1; i < s->nth; i++)
		made[i] = pthread_create(&th[i], NULL, fn, &s->cw[i]) == 0;
	fn(&s->cw[0]);
	for (int i = 1; i < s->nth; i++)
		if (made[i])
			pthread_join(th[i], NULL);
		else
			fn(&s->cw[i]);
}

/* Antenna w terms and the model spectrum of integration ti. */
static void prepare(struct solver *s, int ti)
{
	const struct uvh5_header *h = s->h;
	double lst = s->lst[ti], ra0 = s->sidereal ? s->ra0 : lst;
	double dec0 = s->sidereal ? s->dec0 : s->dec_p;
	double sep = geom_sep(s->ra_c, s->dec_c, lst, s->dec_p);

	for (int a = 0; a < s->n; a++) {
		double uvw[3];

		geom_enu_to_uvw(s->enu + 3 * a, s->lat, lst - ra0, dec0, uvw);
		s->w0[a] = uvw[2];
		geom_enu_to_uvw(s->enu + 3 * a, s->lat, lst - s->ra_c, s->dec_c, uvw);
		s->u1[a] = uvw[0];
		s->v1[a] = uvw[1];
		s->w1[a] = uvw[2];
	}
	for (int f = 0; f < s->nf; f++)
		s->model[f] = cal_source_flux(s->cal, h->freq_array[f]) *
		    beam_pb(s->o->beam, sep, h->freq_array[f], s->o->diam_m);
}

/*
 * Add integration w->ti (already read into s->vis/flags, as stored: the
 * conjugate of the model's convention, sim.h) to the sums of the slots
 * this thread owns, [nslots * tid / nth, nslots * (tid + 1) / nth).
 */
#define PHASOR_RESEED 32
static void *accumulate(void *arg)
{
	struct cellwork *w = arg;
	struct solver *s = w->s;
	const struct uvh5_header *h = s->h;
	int ti = w->ti, nf = s->nf, np = s->np, n = s->n;
	int lo = (int)((long)s->nslots * w->tid / s->nth);
	int hi = (int)((long)s->nslots * (w->tid + 1) / s->nth);

	for (int64_t r = s->trow0[ti]; r < s->trow1[ti]; r++) {
		int a = s->ai[r], b = s->bi[r], slot;
		size_t row = (size_t)(r - s->trow0[ti]) * nf * np;
		double dw, uvm;

		if (a < 0 || b < 0 || a == b)
			continue;
		slot = s->slot_of[a * n + b];
		if (slot < lo || slot >= hi)
			continue;
		if (s->pass == 2 && (s->skip[a] || s->skip[b]))
			continue;
		dw = (s->w1[b] - s->w1[a]) - (s->w0[b] - s->w0[a]);
		uvm = hypot(s->u1[b] - s->u1[a], s->v1[b] - s->v1[a]);
		/* the phasor exp(2 pi i dw f / c): one sincos every PHASOR_RESEED
		 * channels, complex steps between (uniform channels; else one
		 * sincos a channel) */
		double ph = 2 * GEOM_PI * dw / GEOM_C, zr = 1, zi = 0, dr = 1, di = 0;
		if (s->df != 0)
			sincos(ph * s->df, &di, &dr);
		for (int f = 0; f < nf; f++) {
			double fr = h->freq_array[f], m = s->model[f];
			double complex z;

			if (s->df == 0 || f % PHASOR_RESEED == 0) {
				sincos(ph * fr, &zi, &zr);
			} else {
				double t = zr * dr - zi * di;
				zi = zr * di + zi * dr;
				zr = t;
			}

			if (s->pass == 1) {
				for (int p = 0; p < np; p++) {
					size_t k = row + (size_t)f * np + p;
					int bad = s->flags[k] || !isfinite(crealf(s->vis[k])) ||
					    !isfinite(cimagf(s->vis[k]));
					w->ntot[a * np + p]++;
					w->ntot[b * np + p]++;
					w->ngood[a * np + p] += !bad;
					w->ngood[b * np + p] += !bad;
				}
			}
			if ((s->pass == 2 && uvm * fr / GEOM_C < s->o->min_uv_lambda) || !(m > 0))
				continue;
			z = zr + I * zi;
			for (int p = 0; p < np; p++) {
				size_t k = row + (size_t)f * np + p, c;
				double complex v;

				if (s->flags[k] || !isfinite(crealf(s->vis[k])) ||
				    !isfinite(cimagf(s->vis[k])))
					continue;
				v = conj((double complex)s->vis[k]) * z;
				if (a > b)
					v = conj(v);
				c = ((size_t)slot * nf + f) * np + p;
				if (s->pass == 1) {
					s->dsum[c] += (float complex)v;
					/* |v| without hypot's overflow guard (a
					 * visibility is far from overflowing): cabs
					 * here was 9% of the CPU */
					s->dabs[c] += (float)sqrt(creal(v) * creal(v) + cimag(v) * cimag(v));
					s->dcnt[c]++;
					continue;
				}
				/* v ~ g_lo conj(g_hi): remove exp(2 pi i f (tau_lo - tau_hi)) */
				v *= s->dph[((size_t)s->slot_a[slot] * nf + f) * np + p] *
				    conj(s->dph[((size_t)s->slot_b[slot] * nf + f) * np + p]);
				s->C[c] += v * m;
				s->D[c] += m * m;
				s->A[c] += creal(v) * creal(v) + cimag(v) * cimag(v);
				s->K[c] += 1;
			}
		}
	}
	return NULL;
}

/*
 * Copy the sums of channels [f0, f1) into the thread's dense matrices
 * over the solved antennas (cell c = (f - f0) * np + p at offset
 * c * m * m) and clear them for the next interval. The other antennas
 * have no sums, so StEFCal on the m x m matrices makes exactly the same
 * operations in the same order as on n x n ones, without the empty rows.
 */
static void gather(struct solver *s, struct cellwork *w, int f0, int f1)
{
	int m = s->m, nf = s->nf, np = s->np, nc = (f1 - f0) * np;
	size_t nn = (size_t)m * m;

	for (int k = 0; k < s->nslots; k++) {
		size_t base = ((size_t)k * nf + f0) * np;
		int pa = s->pos[s->slot_a[k]], pb = s->pos[s->slot_b[k]];
		size_t ab = (size_t)pa * m + pb, ba = (size_t)pb * m + pa;

		if (pa < 0 || pb < 0)   /* left out: its sums stay 0 */
			continue;

		for (int c = 0; c < nc; c++) {
			size_t o = c * nn;

			w->Cd[o + ab] = s->C[base + c];
			w->Cd[o + ba] = conj(s->C[base + c]);
			w->Dd[o + ab] = w->Dd[o + ba] = s->D[base + c];
			w->Ad[o + ab] = w->Ad[o + ba] = s->A[base + c];
			w->Kd[o + ab] = w->Kd[o + ba] = s->K[base + c];
		}
		memset(s->C + base, 0, sizeof *s->C * (size_t)nc);
		memset(s->D + base, 0, sizeof *s->D * (size_t)nc);
		memset(s->A + base, 0, sizeof *s->A * (size_t)nc);
		memset(s->K + base, 0, sizeof *s->K * (size_t)nc);
	}
}

/* Solve blocks of channels of interval s->ii until none is left. */
static void *solve_cells(void *arg)
{
	struct cellwork *w = arg;
	struct solver *s = w->s;
	struct stefcal_opts so = {s->o->max_iter, s->o->tol};
	int n = s->n, m = s->m, nf = s->nf, np = s->np, ii = s->ii;
	size_t nn = (size_t)m * m;

	for (;;) {
		int f0 = atomic_fetch_add(&s->next, 1) * CELL_BLOCK;
		int f1 = f0 + CELL_BLOCK < nf ? f0 + CELL_BLOCK : nf;

		if (f0 >= nf)
			break;
		gather(s, w, f0, f1);
		for (int c = 0; c < (f1 - f0) * np; c++) {
			int f = f0 + c / np, p = c % np, ok;
			double complex *warm = s->warm + ((size_t)f * np + p) * n;
			struct stefcal_result r;

			for (int a = 0; a < n; a++)
				if (s->pos[a] >= 0)
					w->g[s->pos[a]] = warm[a];
			stefcal_solve(m, w->Cd + c * nn, w->Dd + c * nn, w->Ad + c * nn,
			    w->Kd + c * nn, w->g, w->snr, &so, &r);
			ok = r.converged && r.nactive >= 3;
			s->cres2[f * np + p] = ok ? r.resid2 : 0;
			s->cmod2[f * np + p] = ok ? r.model2 : 0;
			for (int a = 0; a < n; a++) {
				size_t k = ridx(s, ii, a, f, p);
				int q = s->pos[a];
				double complex g = q >= 0 ? w->g[q] : 0;
				double sn = q >= 0 ? w->snr[q] : 0;

				if (ok)
					warm[a] = g;
				s->raw[k] = g;
				s->rawsnr[k] = ok && isfinite(sn) ? (float)sn : 0;
				s->rawok[k] = ok && g != 0 && sn >= s->o->flag_snr;
			}
		}
	}
	return NULL;
}

/* Solve every (channel, pol) cell of interval ii from the sums, which are
 * left cleared. */
static void solve_interval(struct solver *s, int ii)
{
	s->ii = ii;
	atomic_store(&s->next, 0);
	run_threads(s, solve_cells);
	for (int c = 0; c < s->nf * s->np; c++) {
		s->resid2 += s->cres2[c];
		s->model2 += s->cmod2[c];
	}
}

/*
 * After the first pass: delays and the reference antenna from cal_delay
 * (the most coherent antenna, so never a dead, flagged or garbage one; a
 * reference asked for is used only if it is not left out), the antennas
 * left out of the solve (no coherent signal: reference score below
 * MIN_COHERENCE times the median over antennas with data), and the
 * phasors exp(-2 pi i f tau) that remove the delays. 0, or EX_DATAERR
 * (nothing usable) / EX_SOFTWARE with err filled.
 */
static int delays(struct solver *s)
{
	struct cal_delay_sums in = {s->n, s->nslots, s->ntimes, s->nf, s->np, s->slot_a,
	    s->slot_b, s->dsum, s->dabs, s->dcnt, s->h->freq_array};
	double *sc = malloc(sizeof *sc * (size_t)s->n), med;
	int m = 0;

	if (!sc)
		return fail(s, EX_SOFTWARE, "%s", "out of memory");
	if (cal_delay_solve_sums(&in, &s->dl) < 0) {
		free(sc);
		return fail(s, EX_SOFTWARE, "%s", "out of memory");
	}
	if (s->dl.refant < 0) {
		free(sc);
		return fail(s, EX_DATAERR, "'%s': no unflagged cross-correlation with signal",
		    s->o->vis);
	}
	for (int a = 0; a < s->n; a++)
		if (s->has_data[a])
			sc[m++] = s->dl.score[a];
	for (int i = 1; i < m; i++)   /* insertion sort: m <= 4096, once */
		for (int j = i; j > 0 && sc[j - 1] > sc[j]; j--) {
			double x = sc[j];
			sc[j] = sc[j - 1];
			sc[j - 1] = x;
		}
	med = m % 2 ? sc[m / 2] : (sc[m / 2 - 1] + sc[m / 2]) / 2;
	free(sc);
	for (int a = 0; a < s->n; a++)
		s->skip[a] = !s->has_data[a] || !(s->dl.score[a] > 0) ||
		    s->dl.score[a] < MIN_COHERENCE * med;
	s->ref = s->dl.refant;
	if (s->o->refant >= 0) {
		int want = -1;
		for (int a = 0; a < s->n; a++)
			if (s->h->antenna_numbers[a] == s->o->refant)
				want = a;
		if (want >= 0 && !s->skip[want])
			s->ref = want;
		else
			log_warn("reference antenna %ld has no usable data: using %lld", s->o->refant,
			    (long long)s->h->antenna_numbers[s->ref]);
	}
	s->skip[s->ref] = 0;
	m = 0;
	for (int a = 0; a < s->n; a++)
		m += s->has_data[a] && s->skip[a];
	log_info("reference antenna %lld (coherence %.2f, median %.2f); %d antenna%s with data "
	    "left out", (long long)s->h->antenna_numbers[s->ref], s->dl.score[s->ref], med, m,
	    m == 1 ? "" : "s");
	if (s->nf < DELAY_MIN_CHANS)
		for (int k = 0; k < s->n * s->np; k++) {
			s->dl.ok[k] = 1;
			s->dl.tau_s[k] = 0;
		}
	/* relative to the chosen reference (cal_delay's is at 0); 0 where the
	 * search failed or the antenna is left out */
	for (int p = 0; p < s->np; p++) {
		double tref = s->dl.ok[s->ref * s->np + p] ? s->dl.tau_s[s->ref * s->np + p] : 0;
		for (int a = 0; a < s->n; a++) {
			int k = a * s->np + p;
			s->dl.tau_s[k] = s->dl.ok[k] && !s->skip[a] ? s->dl.tau_s[k] - tref : 0;
		}
		s->dl.tau_s[s->ref * s->np + p] = 0;
	}
	s->m = 0;
	for (int a = 0; a < s->n; a++)
		s->pos[a] = s->has_data[a] && !s->skip[a] ? s->m++ : -1;
	for (int a = 0; a < s->n; a++)
		for (int f = 0; f < s->nf; f++)
			for (int p = 0; p < s->np; p++)
				s->dph[((size_t)a * s->nf + f) * s->np + p] =
				    cexp(-2 * GEOM_PI * I * s->h->freq_array[f] * s->dl.tau_s[a * s->np + p]);
	return 0;
}

/* Rotate every cell so that the reference antenna has phase 0; cells where
 * it has no good solution cannot be referenced and are flagged. */
static int reference(struct solver *s)
{
	int ref = s->ref;

	for (int ti = 0; ti < s->ntsol; ti++)
		for (int f = 0; f < s->nf; f++)
			for (int p = 0; p < s->np; p++) {
				size_t kr = ridx(s, ti, ref, f, p);
				double complex rot = s->rawok[kr] ? cexp(-I * carg(s->raw[kr])) : 0;

				for (int a = 0; a < s->n; a++) {
					size_t k = ridx(s, ti, a, f, p);
					s->raw[k] *= rot;
					if (!s->rawok[kr])
						s->rawok[k] = 0;
				}
			}
	return ref;
}

/*
 * Weighted rank-1 fit G[t][f] ~ T[t] B[f] (weights W, 0 = unused) by
 * alternating least squares; tok/bok say which factors had data.
 */
static void als(int nt, int nf, const double complex *G, const double *W, double complex *T,
    double complex *B, uint8_t *tok, uint8_t *bok)
{
	int fstar = 0, best = -1;

	for (int f = 0; f < nf; f++) {
		int m = 0;
		for (int t = 0; t < nt; t++)
			m += W[t * nf + f] > 0;
		if (m > best) {
			best = m;
			fstar = f;
		}
	}
	for (int t = 0; t < nt; t++) {
		double complex gv = G[t * nf + fstar];
		T[t] = W[t * nf + fstar] > 0 && gv != 0 ? gv / cabs(gv) : 1;
	}
	for (int it = 0; it < 200; it++) {
		double ch = 0, nb = 0;

		for (int f = 0; f < nf; f++) {
			double complex num = 0, old = B[f];
			double den = 0;

			for (int t = 0; t < nt; t++) {
				double w = W[t * nf + f];
				if (w > 0) {
					num += w * G[t * nf + f] * conj(T[t]);
					den += w * (creal(T[t]) * creal(T[t]) + cimag(T[t]) * cimag(T[t]));
				}
			}
			bok[f] = den > 0;
			B[f] = den > 0 ? num / den : 0;
			ch += cabs(B[f] - old) * cabs(B[f] - old);
			nb += cabs(B[f]) * cabs(B[f]);
		}
		for (int t = 0; t < nt; t++) {
			double complex num = 0;
			double den = 0;

			for (int f = 0; f < nf; f++) {
				double w = W[t * nf + f];
				if (w > 0) {
					num += w * G[t * nf + f] * conj(B[f]);
					den += w * (creal(B[f]) * creal(B[f]) + cimag(B[f]) * cimag(B[f]));
				}
			}
			tok[t] = den > 0;
			T[t] = den > 0 ? num / den : 0;
		}
		if (it > 0 && ch <= 1e-24 * nb)
			break;
	}
}

/* Factor the raw solutions and fill the table's gains and flags. */
static int factor(struct solver *s, struct cal_table *t)
{
	int nt = s->ntsol, nf = s->nf, np = s->np;
	double complex *G = malloc(sizeof *G * (size_t)nt * nf), *T = malloc(sizeof *T * (size_t)nt);
	double complex *B = calloc((size_t)nf, sizeof *B);
	double *W = malloc(sizeof *W * (size_t)nt * nf);
	uint8_t *tok = malloc((size_t)nt), *bok = malloc((size_t)nf);
	int rc = 0;

	if (!G || !T || !B || !W || !tok || !bok) {
		rc = fail(s, EX_SOFTWARE, "%s", "out of memory");
		goto out;
	}
	for (int a = 0; a < s->n; a++)
		for (int p = 0; p < np; p++) {
			double mean = 0;
			int nb = 0;

			for (int ti = 0; ti < nt; ti++)
				for (int f = 0; f < nf; f++) {
					size_t k = ridx(s, ti, a, f, p);
					double amp = cabs(s->raw[k]);

					G[ti * nf + f] = s->raw[k];
					W[ti * nf + f] = s->rawok[k] && amp > 0 ?
					    (double)s->rawsnr[k] * s->rawsnr[k] / (amp * amp) : 0;
				}
			memset(B, 0, sizeof *B * (size_t)nf);
			als(nt, nf, G, W, T, B, tok, bok);
			/* one round of outlier rejection */
			int rej = 0;
			for (int ti = 0; ti < nt; ti++)
				for (int f = 0; f < nf; f++) {
					size_t k = ti * nf + f;
					double complex d = G[k] - T[ti] * B[f];
					if (W[k] > 0 && W[k] * (creal(d) * creal(d) + cimag(d) * cimag(d)) >
					    OUTLIER_CHI2) {
						W[k] = 0;
						s->rawok[ridx(s, ti, a, f, p)] = 0;
						rej++;
					}
				}
			if (rej)
				als(nt, nf, G, W, T, B, tok, bok);
			for (int f = 0; f < nf; f++)
				if (bok[f]) {
					mean += cabs(B[f]);
					nb++;
				}
			mean = nb && mean > 0 ? mean / nb : 1;
			for (int f = 0; f < nf; f++)
				B[f] /= mean;
			for (int ti = 0; ti < nt; ti++)
				T[ti] *= mean;
			for (int f = 0; f < nf; f++)
				t->bandpass[((size_t)a * nf + f) * np + p] = bok[f] ? B[f] : 0;
			for (int ti = 0; ti < nt; ti++) {
				t->tgain[((size_t)ti * s->n + a) * np + p] = tok[ti] ? T[ti] : 0;
				for (int f = 0; f < nf; f++) {
					size_t k = cal_idx(t, ti, a, f, p);
					int good = s->has_data[a] && tok[ti] && bok[f];

					/* undo the delay removal: g = g' exp(2 pi i f tau) */
					t->gains[k] = good ? T[ti] * B[f] *
					    conj(s->dph[((size_t)a * nf + f) * np + p]) : 0;
					t->flags[k] = !good;
					t->snr[k] = s->rawsnr[ridx(s, ti, a, f, p)];
				}
			}
		}
out:
	free(G);
	free(T);
	free(B);
	free(W);
	free(tok);
	free(bok);
	return rc;
}

static int cmpf(const void *x, const void *y)
{
	float a = *(const float *)x, b = *(const float *)y;

	return a < b ? -1 : a > b;
}

/*
 * The state of each antenna-polarization (enum cal_antpol, the first reason
 * that applies), its delay, and the fraction of good ones among those with
 * data. A failed antenna-polarization has every gain flagged; each is
 * logged with its reason.
 */
static void antpols(struct solver *s, struct cal_table *t)
{
	int good = 0, withdata = 0;

	for (int a = 0; a < s->n; a++)
		for (int p = 0; p < s->np; p++) {
			int k = a * s->np + p, st, nok = 0;

			t->delay[k] = s->dl.tau_s[k];
			for (int ti = 0; ti < s->ntsol; ti++)
				for (int f = 0; f < s->nf; f++)
					nok += !t->flags[cal_idx(t, ti, a, f, p)];
			if (!s->has_data[a])
				st = CAL_AP_NODATA;
			else if (!(s->ngood[k] >= MIN_UNFLAGGED * s->ntot[k]) || !(s->ntot[k] > 0))
				st = CAL_AP_FLAGGED;
			else if (s->skip[a])
				st = CAL_AP_INCOHERENT;
			else if (!s->dl.ok[k])
				st = CAL_AP_NODELAY;
			else if (nok < MIN_GOOD_SOL * s->ntsol * s->nf)
				st = CAL_AP_LOWSNR;
			else
				st = CAL_AP_GOOD;
			t->antpol_status[k] = (uint8_t)st;
			withdata += st != CAL_AP_NODATA;
			good += st == CAL_AP_GOOD;
			if (st == CAL_AP_GOOD || st == CAL_AP_NODATA)
				continue;
			for (int ti = 0; ti < s->ntsol; ti++)
				for (int f = 0; f < s->nf; f++)
					t->flags[cal_idx(t, ti, a, f, p)] = 1;
			log_info("antenna %lld pol %lld: %s (delay snr %.1f, coherence %.2f, %.0f%% "
			    "unflagged on input)", (long long)s->h->antenna_numbers[a],
			    (long long)s->h->polarization_array[p], cal_antpol_reason(st),
			    s->dl.snr[k], s->dl.score[a],
			    s->ntot[k] > 0 ? 100 * s->ngood[k] / s->ntot[k] : 0.0);
		}
	t->frac_good_antpol = withdata ? (double)good / withdata : 0;
}

/* Quality figures over the antennas with data. */
static int quality(struct solver *s, struct cal_table *t)
{
	size_t cells = 0, bad = 0;
	float *v = malloc(sizeof *v * (size_t)s->ntsol * s->n * s->nf * s->np);

	if (!v)
		return fail(s, EX_SOFTWARE, "%s", "out of memory");
	for (int ti = 0; ti < s->ntsol; ti++)
		for (int a = 0; a < s->n; a++) {
			if (!s->has_data[a])
				continue;
			for (int f = 0; f < s->nf; f++)
				for (int p = 0; p < s->np; p++) {
					size_t k = ridx(s, ti, a, f, p);
					v[cells++] = s->rawsnr[k];
					bad += !s->rawok[k];
				}
		}
	qsort(v, cells, sizeof *v, cmpf);
	t->frac_flagged = cells ? (double)bad / (double)cells : 1;
	t->median_snr = !cells ? 0 : cells % 2 ? v[cells / 2] : (v[cells / 2 - 1] + v[cells / 2]) / 2;
	t->residual_rms = s->model2 > 0 ? sqrt(s->resid2 / s->model2) : 0;
	free(v);
	return 0;
}

static void free_solver(struct solver *s)
{
	void *p[] = {s->enu, s->ai, s->bi, s->has_data, s->slot_of, s->slot_a, s->slot_b,
	    s->tval, s->trow0, s->trow1, s->lst, s->C, s->D, s->A, s->K, s->cres2, s->cmod2, s->warm, s->raw, s->rawsnr, s->rawok, s->vis, s->flags,
	    s->w0, s->u1, s->v1, s->w1, s->model, s->dsum, s->dabs, s->dcnt, s->ngood, s->ntot,
	    s->skip, s->pos, s->dph};
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
		free(p[i]);
	for (int i = 0; s->cw && i < s->nth; i++) {
		struct cellwork *w = s->cw + i;
		void *q[] = {w->Cd, w->Dd, w->Ad, w->Kd, w->g, w->snr, w->ngood, w->ntot};
		for (size_t j = 0; j < sizeof q / sizeof q[0]; j++)
			free(q[j]);
	}
	free(s->cw);
	if (s->f)
		uvh5_close(s->f);
	cal_delay_free(&s->dl);
}

int calsolve_run(const struct calsolve_opts *o, struct cal_table *t, char *err)
{
	struct solver s;
	double transit_jd = 0;
	int rc, st = 0, ref;
	char e[UVH5_ERRLEN];

	memset(&s, 0, sizeof s);
	memset(t, 0, sizeof *t);
	s.o = o;
	s.err = err;
	if (o->interval < 1)
		return fail(&s, EX_USAGE, "%s", "solution interval must be >= 1");
	s.f = uvh5_open(o->vis, &st, e);
	if (!s.f) {
		snprintf(err, CAL_ERRLEN, "%s", e);
		return st ? st : EX_DATAERR;
	}
	s.h = uvh5_header(s.f);
	s.n = (int)s.h->Nants_telescope;
	s.nf = (int)s.h->Nfreqs;
	s.np = (int)s.h->Npols;
	s.nth = o->nthreads > 0 ? o->nthreads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (s.nth < 1)
		s.nth = 1;
	if (s.nth > CAL_MAX_THREADS)
		s.nth = CAL_MAX_THREADS;
	s.lat = s.h->latitude * GEOM_DEG;
	s.lon = s.h->longitude * GEOM_DEG;
	if (s.n < 3 || s.n > 4096 || s.nf < 1 || s.np < 1) {
		rc = fail(&s, EX_DATAERR, "'%s': unusable dimensions (need 3 to 4096 antennas)", o->vis);
		goto out;
	}
	if ((rc = pointing(&s)) || (rc = layout(&s)) || (rc = times(&s)) ||
	    (rc = calibrator(&s, &transit_jd)) || (rc = alloc_work(&s)))
		goto out;
	log_info("solving on '%s' (%.1f Jy at %.0f MHz), %d antennas, %d channels, %d "
	    "integrations, %d solution intervals", s.cal->name, s.cal->flux_jy,
	    s.cal->ref_freq_hz / 1e6, s.n, s.nf, s.ntimes, s.ntsol);
	/* pass 1: delay sums and input flags; pass 2: gains on delay-corrected
	 * data without the antennas left out */
	for (s.pass = 1; s.pass <= 2; s.pass++) {
		for (int ti = 0; ti < s.ntimes; ti++) {
			int64_t r0 = s.trow0[ti], nr = s.trow1[ti] - r0;

			if (uvh5_read_rows(s.f, r0, nr, s.vis, s.flags, NULL, &st, e) < 0) {
				snprintf(err, CAL_ERRLEN, "%s", e);
				rc = st ? st : EX_IOERR;
				goto out;
			}
			prepare(&s, ti);
			for (int i = 0; i < s.nth; i++)
				s.cw[i].ti = ti;
			run_threads(&s, accumulate);
			if (s.pass == 2 && ((ti + 1) % o->interval == 0 || ti == s.ntimes - 1))
				solve_interval(&s, ti / o->interval);
		}
		if (s.pass > 1)
			continue;
		for (int i = 0; i < s.nth; i++)   /* exact: counts */
			for (int k = 0; k < s.n * s.np; k++) {
				s.ngood[k] += s.cw[i].ngood[k];
				s.ntot[k] += s.cw[i].ntot[k];
			}
		if ((rc = delays(&s)))
			goto out;
	}
	ref = reference(&s);
	t->ntimes = s.ntsol;
	t->nants = s.n;
	t->nfreqs = s.nf;
	t->npols = s.np;
	if (cal_table_alloc(t) < 0) {
		rc = fail(&s, EX_SOFTWARE, "%s", "out of memory");
		goto out;
	}
	if ((rc = factor(&s, t)))
		goto out;
	antpols(&s, t);
	if ((rc = quality(&s, t)))
		goto out;
	memcpy(t->freq_array, s.h->freq_array, sizeof(double) * (size_t)s.nf);
	memcpy(t->antenna_numbers, s.h->antenna_numbers, sizeof(int64_t) * (size_t)s.n);
	memcpy(t->polarization_array, s.h->polarization_array, sizeof(int64_t) * (size_t)s.np);
	for (int ii = 0; ii < s.ntsol; ii++) {
		int t0 = ii * o->interval, t1 = t0 + o->interval - 1;
		double sum = 0;

		if (t1 >= s.ntimes)
			t1 = s.ntimes - 1;
		for (int ti = t0; ti <= t1; ti++)
			sum += s.tval[ti];
		t->times[ii] = sum / (t1 - t0 + 1);
		t->time_lo[ii] = s.tval[t0] - s.tint / 2 / GEOM_DAY_S;
		t->time_hi[ii] = s.tval[t1] + s.tint / 2 / GEOM_DAY_S;
	}
	snprintf(t->calibrator, sizeof t->calibrator, "%s", s.cal->name);
	snprintf(t->group, sizeof t->group, "%s", o->group ? o->group : "");
	snprintf(t->source, sizeof t->source, "%s", o->vis);
	t->refant = s.h->antenna_numbers[ref];
	t->transit_mjd = transit_jd - GEOM_MJD0;
	t->mjd_start = t->transit_mjd - o->validity_hours / 48;
	t->mjd_end = t->transit_mjd + o->validity_hours / 48;
	t->created = (double)time(NULL);
	rc = 0;
out:
	if (rc)
		cal_table_free(t);
	free_solver(&s);
	return rc;
}
