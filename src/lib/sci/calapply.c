/*
 * calapply.c: divide visibilities by the table's gains (contract in
 * calapply.h).
 *
 * The gains for one integration time are gathered once into an
 * (antenna, channel, polarization) array indexed like the data, with a
 * flag byte, so the inner loop over rows is two lookups and a division.
 *
 * Threads: uvh5_copy_encoded's workers each take a whole block (one
 * chunk of the output) in turn, calibrate it with the gains of its data
 * times (a gain set per time, computed by the first worker that needs it
 * and shared) and encode it as stored, while the calling thread reads the
 * next blocks and writes the finished ones. Rows are independent and
 * blocks are written in order, so the output is the same bytes for any
 * number of workers; each worker counts its own samples and flags, added
 * up when all have finished.
 */
#include "sci/calapply.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "core/stats.h"
#include "sci/geom.h"
#include "uvh5/uvh5.h"
#include "uvh5/uvh5_stream.h"

struct applier {
	const struct cal_table *t;
	const struct uvh5_header *h;
	int n, nf, np;
	int *tab_ant;      /* data antenna index -> table antenna, -1 */
	int *tab_chan;     /* data channel -> table channel, -1 */
	int *tab_pol;      /* data pol -> table pol, -1 */
	double scale2;     /* (median |g|)^2: weights scale as |g1 g2| / scale2, squared */
	double cur;        /* time the gains below are for */
	double complex *g; /* [a][f][p], of a gain set (struct gset) */
	uint8_t *gflag;
};

static int usable(const struct cal_table *t, size_t c)
{
	double complex g = t->gains[c];

	return !t->flags[c] && g != 0 && isfinite(creal(g)) && isfinite(cimag(g));
}

int calapply_gain_at(const struct cal_table *t, int64_t ta, int64_t tf, int64_t tp, double jd,
    double complex *g)
{
	int lo = -1, hi = -1;

	*g = 0;
	for (int i = 0; i < t->ntimes; i++) {
		if (!usable(t, cal_idx(t, i, ta, tf, tp)))
			continue;
		if (t->times[i] <= jd && (lo < 0 || t->times[i] > t->times[lo]))
			lo = i;
		if (t->times[i] >= jd && (hi < 0 || t->times[i] < t->times[hi]))
			hi = i;
	}
	if (lo < 0 && hi < 0)
		return -1;
	if (lo < 0 || hi < 0 || lo == hi || !(t->times[hi] > t->times[lo])) {
		*g = t->gains[cal_idx(t, lo >= 0 ? lo : hi, ta, tf, tp)];
	} else {
		double complex g0 = t->gains[cal_idx(t, lo, ta, tf, tp)];
		double complex g1 = t->gains[cal_idx(t, hi, ta, tf, tp)];
		double w = (jd - t->times[lo]) / (t->times[hi] - t->times[lo]);
		double amp = (1 - w) * cabs(g0) + w * cabs(g1);

		*g = amp * cexp(I * (carg(g0) + w * carg(g1 * conj(g0))));
	}
	return 0;
}

/* Gains for data time jd into g / gflag (calapply_gain_at). */
static void gains_at(const struct applier *ap, double jd, double complex *g, uint8_t *gflag)
{
	for (int a = 0; a < ap->n; a++)
		for (int f = 0; f < ap->nf; f++)
			for (int p = 0; p < ap->np; p++) {
				size_t k = ((size_t)a * ap->nf + f) * ap->np + p;
				int ta = ap->tab_ant[a], tf = ap->tab_chan[f], tp = ap->tab_pol[p];

				g[k] = 0;
				gflag[k] = ta < 0 || tf < 0 || tp < 0 ||
				    calapply_gain_at(ap->t, ta, tf, tp, jd, &g[k]) < 0;
			}
}

/* Median amplitude of the usable gains (1 if none): the scale of the
 * weights. */
static double gain_scale(const struct cal_table *t)
{
	size_t n = (size_t)(t->ntimes * t->nants * t->nfreqs * t->npols), m = 0;
	double *v = malloc(sizeof *v * (n + 1)), med = 1;

	if (!v)
		return 1;
	for (size_t c = 0; c < n; c++)
		if (usable(t, c))
			v[m++] = cabs(t->gains[c]);
	if (m) {
		med = stats_kth_d(v, m, m / 2);
		med = med > 0 ? med : 1;
	}
	free(v);
	return med;
}

/* Match antennas, channels and polarizations; counts of the unmatched. */
static int match(struct applier *ap, struct calapply_stats *st)
{
	const struct cal_table *t = ap->t;
	const struct uvh5_header *h = ap->h;
	int anyc = 0, anya = 0, anyp = 0;

	for (int a = 0; a < ap->n; a++) {
		ap->tab_ant[a] = -1;
		for (int i = 0; i < t->nants; i++)
			if (t->antenna_numbers[i] == h->antenna_numbers[a])
				ap->tab_ant[a] = i;
		anya |= ap->tab_ant[a] >= 0;
		st->ants_unmatched += ap->tab_ant[a] < 0;
	}
	for (int f = 0; f < ap->nf; f++) {
		/* same channelization only: centres agree to 0.1% of a channel */
		double w = fabs(h->channel_width[f]), best = 1e-3 * w;

		ap->tab_chan[f] = -1;
		for (int i = 0; i < t->nfreqs; i++) {
			double d = fabs(t->freq_array[i] - h->freq_array[f]);
			if (d < best) {
				best = d;
				ap->tab_chan[f] = i;
			}
		}
		anyc |= ap->tab_chan[f] >= 0;
		st->chans_unmatched += ap->tab_chan[f] < 0;
	}
	for (int p = 0; p < ap->np; p++) {
		ap->tab_pol[p] = -1;
		for (int i = 0; i < t->npols; i++)
			if (t->polarization_array[i] == h->polarization_array[p])
				ap->tab_pol[p] = i;
		anyp |= ap->tab_pol[p] >= 0;
	}
	return anya && anyc && anyp ? 0 : -1;
}

/* Output header: the input's plus units, history and keywords; 0 or -1. */
static int out_header(struct uvh5_header *oh, const struct uvh5_header *h,
    const struct calapply_opts *o, const struct cal_table *t)
{
	char line[2048];

	if (uvh5_header_copy(oh, h) < 0)
		return -1;
	snprintf(oh->vis_units, sizeof oh->vis_units, "Jy");
	/* no wall-clock time: the same inputs give the same bytes */
	snprintf(line, sizeof line, "uvm-calapply: calibrated with '%s' (calibrator %s, "
	    "group %s, level %s).", o->table_name, t->calibrator, t->group,
	    cal_level_name(o->level));
	if (uvh5_header_add_history(oh, line) < 0)
		return -1;
	if (uvh5_header_set_keyword(oh, "cal_table", o->table_name) < 0 ||
	    uvh5_header_set_keyword(oh, "cal_calibrator", t->calibrator) < 0 ||
	    uvh5_header_set_keyword(oh, "cal_group", t->group) < 0 ||
	    uvh5_header_set_keyword(oh, "cal_level", cal_level_name(o->level)) < 0)
		return -1;
	return 0;
}

/* The gains of one data time, shared by the workers: computed once by the
 * first that needs them (a worker holds at most one set, so nth + 1 sets
 * always leave one free). */
struct gset {
	double jd;             /* NAN: none yet */
	int users, ready;
	double complex *g;
	uint8_t *gflag;
};

struct gains {
	pthread_mutex_t mu;    /* guards every set's jd, users and ready */
	pthread_cond_t ready;  /* a set computed or let go */
	struct gset *gs;
	int ngs;
};

/* A worker's own state (uvh5_copy_encoded's worker index picks it). */
struct worker {
	struct applier ap;     /* gains of the set held */
	struct gains *gains;
	struct gset *held;
	long long samples, before, after;
};

/* Point wk's gains at the set for data time jd, letting go of the one
 * held: an existing set, else computed here into a free one. */
static void take_gains(struct worker *wk, double jd)
{
	struct gains *gn = wk->gains;
	struct gset *mine;

	pthread_mutex_lock(&gn->mu);
	if (wk->held) {
		wk->held->users--;
		wk->held = NULL;
		pthread_cond_broadcast(&gn->ready);
	}
	for (;;) {
		struct gset *spare = NULL;

		mine = NULL;
		for (int i = 0; i < gn->ngs && !mine; i++) {
			if (gn->gs[i].jd == jd)
				mine = &gn->gs[i];
			else if (!gn->gs[i].users && !spare)
				spare = &gn->gs[i];
		}
		if (mine && mine->ready) {
			mine->users++;
			break;
		}
		if (!mine && spare) {
			mine = spare;
			mine->jd = jd;
			mine->ready = 0;
			mine->users = 1;
			pthread_mutex_unlock(&gn->mu);
			gains_at(&wk->ap, jd, mine->g, mine->gflag);
			pthread_mutex_lock(&gn->mu);
			mine->ready = 1;
			pthread_cond_broadcast(&gn->ready);
			break;
		}
		pthread_cond_wait(&gn->ready, &gn->mu);
	}
	wk->held = mine;
	pthread_mutex_unlock(&gn->mu);
	wk->ap.g = mine->g;
	wk->ap.gflag = mine->gflag;
	wk->ap.cur = jd;
}

/* Calibrate rows [0, nr) of a block starting at file row r0 in place.
 * Gains are in the model's convention, files hold its conjugate (sim.h):
 * V_file / (conj(g_1) g_2). */
static void apply_rows(struct worker *wk, int64_t r0, int64_t nr, float complex *vis,
    uint8_t *flags, float *ns)
{
	struct applier *ap = &wk->ap;
	size_t row = (size_t)ap->nf * ap->np;

	for (int64_t r = 0; r < nr; r++) {
		int64_t rr = r0 + r;
		int a = -1, c = -1;

		if (!(ap->h->time_array[rr] == ap->cur))
			take_gains(wk, ap->h->time_array[rr]);
		for (int i = 0; i < ap->n; i++) {
			if (ap->h->antenna_numbers[i] == ap->h->ant_1_array[rr])
				a = i;
			if (ap->h->antenna_numbers[i] == ap->h->ant_2_array[rr])
				c = i;
		}
		for (size_t k = 0; k < row; k++) {
			size_t d = (size_t)r * row + k;
			int bad = a < 0 || c < 0 || ap->gflag[(size_t)a * row + k] ||
			    ap->gflag[(size_t)c * row + k];

			wk->samples++;
			wk->before += flags[d] != 0;
			if (bad) {
				vis[d] = 0;
				flags[d] = 1;
			} else {
				/* in reals: C's complex product checks for NaNs, its
				 * division scales against overflow (__divdc3) and
				 * cabs is hypot, together 40% of uvm-calapply's CPU,
				 * for gains that are finite, non-zero and near 1 */
				double complex g1 = ap->g[(size_t)a * row + k];
				double complex g2 = ap->g[(size_t)c * row + k];
				double gr = creal(g1) * creal(g2) + cimag(g1) * cimag(g2);
				double gi = creal(g1) * cimag(g2) - cimag(g1) * creal(g2);
				double m2 = gr * gr + gi * gi, vr = crealf(vis[d]), vi = cimagf(vis[d]);

				/* V / gg, gg = conj(g1) g2 = gr + i gi */
				vis[d] = (float)((vr * gr + vi * gi) / m2) +
				    (float)((vi * gr - vr * gi) / m2) * I;
				/* the noise of V / (conj(g1) g2) scales as 1 / |g1 g2|:
				 * the weight by (|gg| / scale2)^2 */
				ns[d] = (float)(ns[d] * (m2 / (ap->scale2 * ap->scale2)));
			}
			wk->after += flags[d] != 0;
		}
	}
}

/* uvh5_copy_encoded's block function: calibrate the block with the state
 * of worker i of the array ctx; the flags to encode are the block's. */
static const uint8_t *calibrate(void *ctx, int i, int64_t r0, int64_t nr, float complex *vis,
    uint8_t *flags, float *ns)
{
	struct worker *wk = ctx;

	apply_rows(&wk[i], r0, nr, vis, flags, ns);
	return flags;
}

int calapply_run(const struct calapply_opts *o, const struct cal_table *t,
    struct calapply_stats *st, char *err)
{
	struct applier ap;
	struct uvh5_header oh;
	struct gains gn;
	struct worker *wk = NULL;
	uvh5_file *f = NULL;
	uvh5_writer *w = NULL;
	char e[UVH5_ERRLEN];
	int s = 0, rc = 0, nth = uvh5_stream_threads(o->nthreads);
	int64_t b;
	size_t row;

	memset(&ap, 0, sizeof ap);
	memset(&oh, 0, sizeof oh);
	memset(&gn, 0, sizeof gn);
	memset(st, 0, sizeof *st);
	pthread_mutex_init(&gn.mu, NULL);
	pthread_cond_init(&gn.ready, NULL);
	f = uvh5_open(o->vis, &s, e);
	if (!f) {
		snprintf(err, CAL_ERRLEN, "%s", e);
		rc = s ? s : EX_DATAERR;
		goto out;
	}
	ap.t = t;
	ap.h = uvh5_header(f);
	ap.n = (int)ap.h->Nants_telescope;
	ap.nf = (int)ap.h->Nfreqs;
	ap.np = (int)ap.h->Npols;
	row = (size_t)ap.nf * ap.np;
	/* rows a chunk of the output, each calibrated and encoded by one worker */
	b = (o->block_bytes > 0 ? o->block_bytes : 2L << 20) / (long)(row * sizeof(float complex));
	if (b > ap.h->Nbls)
		b = ap.h->Nbls;
	if (b < 1)
		b = 1;
	ap.tab_ant = malloc(sizeof(int) * (size_t)ap.n);
	ap.tab_chan = malloc(sizeof(int) * (size_t)ap.nf);
	ap.tab_pol = malloc(sizeof(int) * (size_t)ap.np);
	wk = calloc((size_t)nth, sizeof *wk);
	if (!ap.tab_ant || !ap.tab_chan || !ap.tab_pol || !wk)
		goto nomem;
	gn.ngs = nth + 1;
	gn.gs = calloc((size_t)gn.ngs, sizeof *gn.gs);
	for (int i = 0; gn.gs && i < gn.ngs; i++) {
		gn.gs[i].jd = NAN;
		gn.gs[i].g = malloc(sizeof *gn.gs[i].g * (size_t)ap.n * row);
		gn.gs[i].gflag = malloc((size_t)ap.n * row);
		if (!gn.gs[i].g || !gn.gs[i].gflag)
			goto nomem;
	}
	if (!gn.gs)
		goto nomem;
	if (match(&ap, st) < 0) {
		snprintf(err, CAL_ERRLEN, "table '%s' shares no antenna, channel or polarization "
		    "with '%s'", o->table_name, o->vis);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (out_header(&oh, ap.h, o, t) < 0)
		goto nomem;
	w = uvh5_create(o->out, &oh, b, &s, e);
	if (!w) {
		snprintf(err, CAL_ERRLEN, "%s", e);
		rc = s ? s : EX_CANTCREAT;
		goto out;
	}
	ap.scale2 = gain_scale(t);
	ap.scale2 *= ap.scale2; /* one sort of the table, not two */
	for (int i = 0; i < nth; i++) {
		wk[i].ap = ap;
		wk[i].ap.cur = NAN;
		wk[i].gains = &gn;
	}
	if (uvh5_copy_encoded(f, w, nth, 1, calibrate, wk, &s, e) < 0) {
		/* memory is an internal error here, as below */
		rc = s == EX_OSERR ? EX_SOFTWARE : s ? s : EX_IOERR;
		snprintf(err, CAL_ERRLEN, "%s", e);
		goto out;
	}
	for (int i = 0; i < nth; i++) {
		st->samples += wk[i].samples;
		st->flagged_before += wk[i].before;
		st->flagged_after += wk[i].after;
	}
	if (uvh5_writer_commit(w, &s, e) < 0) {
		snprintf(err, CAL_ERRLEN, "%s", e);
		rc = s ? s : EX_IOERR;
	}
	w = NULL;
	goto out;
nomem:
	snprintf(err, CAL_ERRLEN, "out of memory");
	rc = EX_SOFTWARE;
out:
	if (w)
		uvh5_writer_abort(w);
	uvh5_header_free(&oh);
	if (f)
		uvh5_close(f);
	free(ap.tab_ant);
	free(ap.tab_chan);
	free(ap.tab_pol);
	for (int i = 0; gn.gs && i < gn.ngs; i++) {
		free(gn.gs[i].g);
		free(gn.gs[i].gflag);
	}
	free(gn.gs);
	free(wk);
	pthread_cond_destroy(&gn.ready);
	pthread_mutex_destroy(&gn.mu);
	return rc;
}
