/*
 * calapply.c: divide visibilities by the table's gains (contract in
 * calapply.h).
 *
 * The gains for one integration time are gathered once into an
 * (antenna, channel, polarization) array indexed like the data, with a
 * flag byte, so the inner loop over rows is two lookups and a division.
 *
 * Threads: the rows of a block are shared among o->nthreads workers, each
 * with its own gain array (rows are independent, so the output is the
 * same for any number), and the blocks go through three buffers so that
 * the calling thread reads block k+1 and writes block k-1 while the
 * workers compute block k (the HDF5 calls all stay in the calling thread).
 */
#include "sci/calapply.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "sci/geom.h"
#include "uvh5/uvh5.h"

#define MAX_THREADS 64

struct applier {
	const struct cal_table *t;
	const struct uvh5_header *h;
	int n, nf, np;
	int *tab_ant;      /* data antenna index -> table antenna, -1 */
	int *tab_chan;     /* data channel -> table channel, -1 */
	int *tab_pol;      /* data pol -> table pol, -1 */
	double scale2;     /* (median |g|)^2: weights scale as |g1 g2| / scale2, squared */
	double cur;        /* time the gains below are for */
	double complex *g; /* [a][f][p] */
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

/* Gains for data time jd into ap->g / gflag (calapply_gain_at). */
static void gains_at(struct applier *ap, double jd)
{
	for (int a = 0; a < ap->n; a++)
		for (int f = 0; f < ap->nf; f++)
			for (int p = 0; p < ap->np; p++) {
				size_t k = ((size_t)a * ap->nf + f) * ap->np + p;
				int ta = ap->tab_ant[a], tf = ap->tab_chan[f], tp = ap->tab_pol[p];

				ap->g[k] = 0;
				ap->gflag[k] = ta < 0 || tf < 0 || tp < 0 ||
				    calapply_gain_at(ap->t, ta, tf, tp, jd, &ap->g[k]) < 0;
			}
	ap->cur = jd;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
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
		qsort(v, m, sizeof *v, cmp_double);
		med = v[m / 2] > 0 ? v[m / 2] : 1;
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

/* One worker's share of a block: rows [r_lo, r_hi) of the block starting
 * at file row r0, and its counts. */
struct share {
	struct applier ap;             /* own gains; tables shared */
	int unstarted;                 /* no thread: block_join runs it */
	float complex *vis;
	uint8_t *flags;
	float *ns;
	int64_t r0, r_lo, r_hi;
	long long samples, before, after;
	pthread_t th;
};

/* Calibrate the share's rows in place. Gains are in the model's
 * convention, files hold its conjugate (sim.h): V_file / (conj(g_1) g_2). */
static void *apply_rows(void *arg)
{
	struct share *sh = arg;
	struct applier *ap = &sh->ap;
	size_t row = (size_t)ap->nf * ap->np;

	for (int64_t r = sh->r_lo; r < sh->r_hi; r++) {
		int64_t rr = sh->r0 + r;
		int a = -1, c = -1;

		if (!(ap->h->time_array[rr] == ap->cur))
			gains_at(ap, ap->h->time_array[rr]);
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

			sh->samples++;
			sh->before += sh->flags[d] != 0;
			if (bad) {
				sh->vis[d] = 0;
				sh->flags[d] = 1;
			} else {
				double complex gg = conj(ap->g[(size_t)a * row + k]) *
				    ap->g[(size_t)c * row + k];
				double wr = cabs(gg) / ap->scale2;

				sh->vis[d] = (float complex)((double complex)sh->vis[d] / gg);
				/* the noise of V / (conj(g1) g2) scales as 1 / |g1 g2| */
				sh->ns[d] = (float)(sh->ns[d] * wr * wr);
			}
			sh->after += sh->flags[d] != 0;
		}
	}
	return NULL;
}

/* Start the workers on nr rows from file row r0 in the given buffers (the
 * last share runs in the caller at join time); rows are cut evenly. */
static void block_start(struct share *sh, int nth, int64_t r0, int64_t nr,
    float complex *vis, uint8_t *flags, float *ns)
{
	for (int i = 0; i < nth; i++) {
		sh[i].r0 = r0;
		sh[i].r_lo = nr * i / nth;
		sh[i].r_hi = nr * (i + 1) / nth;
		sh[i].vis = vis;
		sh[i].flags = flags;
		sh[i].ns = ns;
		sh[i].unstarted = i < nth - 1 &&
		    pthread_create(&sh[i].th, NULL, apply_rows, &sh[i]) != 0;
	}
}

static void block_join(struct share *sh, int nth)
{
	apply_rows(&sh[nth - 1]);
	for (int i = 0; i < nth - 1; i++)
		if (sh[i].unstarted)
			apply_rows(&sh[i]);
		else
			pthread_join(sh[i].th, NULL);
}

int calapply_run(const struct calapply_opts *o, const struct cal_table *t,
    struct calapply_stats *st, char *err)
{
	struct applier ap;
	struct uvh5_header oh;
	struct share *sh = NULL;
	uvh5_file *f = NULL;
	uvh5_writer *w = NULL;
	float complex *vis[3] = {NULL};
	uint8_t *flags[3] = {NULL};
	float *ns[3] = {NULL};
	char e[UVH5_ERRLEN];
	int s = 0, rc = 0, nth = o->nthreads, running = 0;
	int64_t b, nblts, nblk;
	size_t row;

	memset(&ap, 0, sizeof ap);
	memset(&oh, 0, sizeof oh);
	memset(st, 0, sizeof *st);
	if (nth <= 0)
		nth = (int)sysconf(_SC_NPROCESSORS_ONLN);
	nth = nth < 1 ? 1 : nth > MAX_THREADS ? MAX_THREADS : nth;
	f = uvh5_open(o->vis, &s, e);
	if (!f) {
		snprintf(err, CAL_ERRLEN, "%s", e);
		return s ? s : EX_DATAERR;
	}
	ap.t = t;
	ap.h = uvh5_header(f);
	ap.n = (int)ap.h->Nants_telescope;
	ap.nf = (int)ap.h->Nfreqs;
	ap.np = (int)ap.h->Npols;
	nblts = ap.h->Nblts;
	row = (size_t)ap.nf * ap.np;
	b = (o->block_bytes > 0 ? o->block_bytes : 2L << 20) / (long)(row * sizeof *vis[0]);
	if (b > ap.h->Nbls)
		b = ap.h->Nbls;
	if (b < 1)
		b = 1;
	nblk = (nblts + b - 1) / b;
	ap.tab_ant = malloc(sizeof(int) * (size_t)ap.n);
	ap.tab_chan = malloc(sizeof(int) * (size_t)ap.nf);
	ap.tab_pol = malloc(sizeof(int) * (size_t)ap.np);
	sh = calloc((size_t)nth, sizeof *sh);
	for (int i = 0; i < 3; i++) {
		vis[i] = malloc(sizeof *vis[i] * (size_t)b * row);
		flags[i] = malloc((size_t)b * row);
		ns[i] = malloc(sizeof *ns[i] * (size_t)b * row);
		if (!vis[i] || !flags[i] || !ns[i])
			rc = EX_SOFTWARE;
	}
	for (int i = 0; sh && i < nth; i++) {
		sh[i].ap.g = malloc(sizeof *sh[i].ap.g * (size_t)ap.n * row);
		sh[i].ap.gflag = malloc((size_t)ap.n * row);
		if (!sh[i].ap.g || !sh[i].ap.gflag)
			rc = EX_SOFTWARE;
	}
	if (rc || !ap.tab_ant || !ap.tab_chan || !ap.tab_pol || !sh) {
		snprintf(err, CAL_ERRLEN, "out of memory");
		rc = EX_SOFTWARE;
		goto out;
	}
	if (match(&ap, st) < 0) {
		snprintf(err, CAL_ERRLEN, "table '%s' shares no antenna, channel or polarization "
		    "with '%s'", o->table_name, o->vis);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (out_header(&oh, ap.h, o, t) < 0) {
		snprintf(err, CAL_ERRLEN, "out of memory");
		rc = EX_SOFTWARE;
		goto out;
	}
	w = uvh5_create(o->out, &oh, b, &s, e);
	if (!w) {
		snprintf(err, CAL_ERRLEN, "%s", e);
		rc = s ? s : EX_CANTCREAT;
		goto out;
	}
	ap.scale2 = gain_scale(t);
	ap.scale2 *= ap.scale2; /* one sort of the table, not two */
	for (int i = 0; i < nth; i++) {
		double complex *g = sh[i].ap.g;
		uint8_t *gf = sh[i].ap.gflag;

		sh[i].ap = ap;
		sh[i].ap.g = g;
		sh[i].ap.gflag = gf;
		sh[i].ap.cur = NAN;
	}
	/* block k lives in buffer k % 3: read k+1 and write k-1 while the
	 * workers compute k */
	if (nblk && uvh5_read_rows(f, 0, nblts < b ? nblts : b, vis[0], flags[0], ns[0], &s, e) < 0)
		goto ioerr;
	for (int64_t k = 0; k < nblk; k++) {
		int64_t r0 = k * b, nr = nblts - r0 < b ? nblts - r0 : b;
		int cur = (int)(k % 3), nxt = (int)((k + 1) % 3), prv = (int)((k + 2) % 3);

		block_start(sh, nth, r0, nr, vis[cur], flags[cur], ns[cur]);
		running = 1;
		if (k > 0 && uvh5_write_rows(w, r0 - b, b, vis[prv], flags[prv], ns[prv], &s, e) < 0)
			goto ioerr;
		if (k + 1 < nblk && uvh5_read_rows(f, r0 + b, nblts - r0 - b < b ? nblts - r0 - b : b,
		    vis[nxt], flags[nxt], ns[nxt], &s, e) < 0)
			goto ioerr;
		block_join(sh, nth);
		running = 0;
		if (k == nblk - 1 && uvh5_write_rows(w, r0, nr, vis[cur], flags[cur], ns[cur], &s,
		    e) < 0)
			goto ioerr;
	}
	for (int i = 0; i < nth; i++) {
		st->samples += sh[i].samples;
		st->flagged_before += sh[i].before;
		st->flagged_after += sh[i].after;
	}
	if (uvh5_writer_commit(w, &s, e) < 0) {
		snprintf(err, CAL_ERRLEN, "%s", e);
		rc = s ? s : EX_IOERR;
	}
	w = NULL;
	goto out;
ioerr:
	if (running)
		block_join(sh, nth);
	snprintf(err, CAL_ERRLEN, "%s", e);
	rc = s ? s : EX_IOERR;
out:
	if (w)
		uvh5_writer_abort(w);
	uvh5_header_free(&oh);
	uvh5_close(f);
	free(ap.tab_ant);
	free(ap.tab_chan);
	free(ap.tab_pol);
	for (int i = 0; sh && i < nth; i++) {
		free(sh[i].ap.g);
		free(sh[i].ap.gflag);
	}
	free(sh);
	for (int i = 0; i < 3; i++) {
		free(vis[i]);
		free(flags[i]);
		free(ns[i]);
	}
	return rc;
}
