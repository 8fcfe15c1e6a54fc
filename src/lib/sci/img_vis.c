/*
 * img_vis.c: a group's visibilities as rephased Stokes I samples for the
 * imager (contract in img.h).
 *
 * Phase centres. A drift-scan file (SCIENCE.md) has each integration
 * phased to the meridian at the pointing dec (RA = LST of that
 * integration); a "sidereal" file to a fixed RA/Dec; a pyuvdata "drift" or
 * altaz "unprojected" file to the zenith. Whatever the old centre s_old of
 * a row, the data are moved to the common centre s_new with
 *     V_new = V_old exp(-2 pi i (w_old - w_new) f / c),
 * w = b . s, and the new (u, v) are the baseline b projected for s_new,
 * b = pos(ant_2) - pos(ant_1) recomputed from the antenna positions and the
 * LST of the row (antenna "uvw" are linear in the position, so they are
 * computed once per integration and differenced per baseline). The common
 * centre is RA = LST at the group mid-time, Dec = pointing dec for drift
 * data, or the file's own centre when every file is phased to one fixed
 * direction.
 *
 * Sign: files hold V = conj(g_1) g_2 sum S exp(+2 pi i b.(s - s0)/lambda)
 * (pyuvdata and the DSA-110 writer; derivation in sim.h); the samples are
 * conjugated on reading into the textbook form the rest of the imager
 * uses, exp(-2 pi i b.(s - s0)/lambda).
 *
 * Frames (astro.h): the rephasing works in CIRS at the group's mid-time,
 * the meridian being at RA = ERA + longitude; the common centre, its CIRS
 * position, becomes the image's tangent point, written as its ICRS
 * position (ra0_icrs, dec0_icrs), and u, v are turned by psi (the angle
 * of CIRS north in ICRS there) so the grid's axes are ICRS east and north.
 * What is left out: the variation of aberration across the field (below
 * 1 arcsec within 3 degrees).
 *
 * Stokes I = (XX + YY) / 2 (or (RR + LL) / 2, or pI as stored, or a lone
 * XX, YY, RR or LL with a warning), kept only
 * where both polarisations are unflagged, have nsamples > 0 and finite
 * values; its weight is the inverse variance in units of one sample's:
 * 4 / (1/ns_1 + 1/ns_2). Autocorrelations are skipped.
 */
#include "sci/img.h"
#include "sci/img_int.h"

#include <complex.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "sci/astro.h"
#include "sci/geom.h"
#include "core/log.h"
#include "uvh5/uvh5.h"

enum centre_kind { CK_MERIDIAN, CK_FIXED };

struct img_file {
	uvh5_file *f;
	const struct uvh5_header *h;
	int *ia1, *ia2;                /* per row: antenna index */
	double *enu;                   /* per antenna, metres */
	int ip1, ip2;                  /* polarisation indices (ip2 -1: one) */
	int uniform;                   /* evenly spaced channels */
	enum centre_kind kind;
	double ra_old, dec_old;        /* CK_FIXED: centre (ICRS); CK_MERIDIAN: dec */
	double ra_app, dec_app;        /* CK_FIXED: centre in CIRS (astro.h) */
};

static int fail(int *status, char *err, int st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int *status, char *err, int st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, IMG_ERRLEN, fmt, ap);
	va_end(ap);
	*status = st;
	return -1;
}

/* Index of antenna number num in h, or -1. */
static int ant_index(const struct uvh5_header *h, int64_t num)
{
	for (int64_t i = 0; i < h->Nants_telescope; i++)
		if (h->antenna_numbers[i] == num)
			return (int)i;
	return -1;
}

/* Pick the polarisations making Stokes I: 0 for pI or a pair (xx+yy,
 * rr+ll), 1 for a single one standing for I (exact for unpolarised
 * sources), -1 for none. */
static int pick_pols(struct img_file *x)
{
	const struct uvh5_header *h = x->h;
	int ixx = -1, iyy = -1, irr = -1, ill = -1, ii = -1;

	for (int p = 0; p < h->Npols; p++) {
		switch (h->polarization_array[p]) {
		case -5: ixx = p; break;
		case -6: iyy = p; break;
		case -1: irr = p; break;
		case -2: ill = p; break;
		case 1: ii = p; break;
		}
	}
	x->ip2 = -1;
	if (ii >= 0)
		x->ip1 = ii;
	else if (ixx >= 0 && iyy >= 0)
		x->ip1 = ixx, x->ip2 = iyy;
	else if (irr >= 0 && ill >= 0)
		x->ip1 = irr, x->ip2 = ill;
	else if (ixx >= 0 || iyy >= 0 || irr >= 0 || ill >= 0)
		return x->ip1 = ixx >= 0 ? ixx : iyy >= 0 ? iyy : irr >= 0 ? irr : ill, 1;
	else
		return -1;
	return 0;
}

/* Old phase centre of file x (uvh5_pointing: the catalogue, the
 * writer's keywords or the zenith); -1 with why filled when the file does
 * not say where it is pointed. */
static int old_centre(struct img_file *x, char *why, size_t n)
{
	double ra, dec;
	int k = uvh5_pointing(x->h, &ra, &dec, why, n);

	if (k < 0)
		return -1;
	x->kind = k == UVH5_PT_FIXED ? CK_FIXED : CK_MERIDIAN;
	x->ra_old = ra;
	x->dec_old = dec;
	x->ra_app = ra;
	x->dec_app = dec;
	if (k == UVH5_PT_FIXED)
		astro_icrs_to_cirs(x->h->time_array[0], ra, dec, &x->ra_app, &x->dec_app);
	return 0;
}

void img_input_close(struct img_input *in)
{
	for (int i = 0; i < in->nfiles; i++) {
		struct img_file *x = &in->files[i];
		if (x->f)
			uvh5_close(x->f);
		free(x->ia1);
		free(x->ia2);
		free(x->enu);
	}
	free(in->files);
	in->files = NULL;
	in->nfiles = 0;
}

/* Fit up = a e + b n + c to the antennas used (ridge-regularised so a
 * line of antennas gives the horizontal plane through it); the normal
 * (-a, -b, 1) seen from the common centre at hour angle ha gives the SIN
 * projection's xi, eta. */
static void array_plane(struct img_input *in, const double *enu, const char *used, int na, double ha)
{
	double s[3][3] = {{0}}, t[3] = {0}, det, a, b, nrm[3], z[3];
	int m = 0;

	for (int i = 0; i < na; i++) {
		const double *p = enu + 3 * i, r[3] = {p[0], p[1], 1};
		if (!used[i])
			continue;
		m++;
		for (int j = 0; j < 3; j++) {
			for (int k = 0; k < 3; k++)
				s[j][k] += r[j] * r[k];
			t[j] += r[j] * p[2];
		}
	}
	in->xi = in->eta = 0;
	if (m < 3)
		return;
	s[0][0] += 1e-3 * (s[0][0] + s[1][1]) + 1;
	s[1][1] += 1e-3 * (s[0][0] + s[1][1]) + 1;
	/* Cramer's rule on the 3 x 3 normal equations. */
	det = s[0][0] * (s[1][1] * s[2][2] - s[1][2] * s[2][1]) -
	    s[0][1] * (s[1][0] * s[2][2] - s[1][2] * s[2][0]) +
	    s[0][2] * (s[1][0] * s[2][1] - s[1][1] * s[2][0]);
	if (fabs(det) < 1e-300)
		return;
	a = (t[0] * (s[1][1] * s[2][2] - s[1][2] * s[2][1]) -
		s[0][1] * (t[1] * s[2][2] - s[1][2] * t[2]) +
		s[0][2] * (t[1] * s[2][1] - s[1][1] * t[2])) / det;
	b = (s[0][0] * (t[1] * s[2][2] - s[1][2] * t[2]) -
		t[0] * (s[1][0] * s[2][2] - s[1][2] * s[2][0]) +
		s[0][2] * (s[1][0] * t[2] - t[1] * s[2][0])) / det;
	nrm[0] = -a;
	nrm[1] = -b;
	nrm[2] = 1;
	geom_enu_to_uvw(nrm, in->lat, ha, in->dec0, z);
	if (z[2] > 1e-6) {
		in->xi = z[0] / z[2];
		in->eta = z[1] / z[2];
	}
}

/* Warn when the file's uvw of its first integration disagree with the
 * baselines recomputed from the antenna positions for its phase centre:
 * the data would then be phased with another convention than the one
 * the rephasing assumes (SCIENCE.md). */
static void uvw_check(const struct img_input *in, const struct img_file *x, const char *path)
{
	const struct uvh5_header *h = x->h;
	double worst = 0, flip = 0, t0 = h->time_array[0];
	double ha = x->kind == CK_FIXED ? geom_lst(t0, in->lon / GEOM_DEG) - x->ra_app : 0;
	int64_t nr = 0;

	for (int64_t r = 0; r < h->Nblts && nr < 4096; r++) {
		const double *p = x->enu + 3 * x->ia2[r], *q = x->enu + 3 * x->ia1[r];
		double b[3] = {p[0] - q[0], p[1] - q[1], p[2] - q[2]}, u[3], d = 0, e = 0;

		if (h->time_array[r] != t0 || x->ia1[r] == x->ia2[r])
			continue;
		nr++;
		geom_enu_to_uvw(b, in->lat, ha, x->kind == CK_FIXED ? x->dec_app : x->dec_old, u);
		for (int k = 0; k < 3; k++) {
			d += (u[k] - h->uvw_array[3 * r + k]) * (u[k] - h->uvw_array[3 * r + k]);
			e += (u[k] + h->uvw_array[3 * r + k]) * (u[k] + h->uvw_array[3 * r + k]);
		}
		if (sqrt(d) > worst)
			worst = sqrt(d);
		if (sqrt(e) > flip)
			flip = sqrt(e);
	}
	if (nr > 0 && worst > 1.0)
		log_warn("'%s': uvw differ from the antenna positions by up to %.3g m%s", path, worst,
		    flip < 1.0 ? " (opposite sign convention)" : "");
}

int img_input_open(struct img_input *in, char *const *paths, int n, int *status, char *err)
{
	char uerr[UVH5_ERRLEN];
	double lat0 = 0, lon0 = 0, dec_drift = NAN, ra_fix = NAN, dec_fix = NAN;
	int nmer = 0, mixed_fixed = 0;
	char *used = NULL;
	double *enu_used = NULL;
	int na_used = 0;

	memset(in, 0, sizeof *in);
	in->files = calloc((size_t)n, sizeof *in->files);
	if (!in->files)
		return fail(status, err, EX_OSERR, "out of memory");
	in->nfiles = n;
	in->jd_first = INFINITY;
	in->jd_last = -INFINITY;
	in->fmin = INFINITY;
	in->fmax = -INFINITY;
	for (int i = 0; i < n; i++) {
		struct img_file *x = &in->files[i];
		const struct uvh5_header *h;
		int st;
		double fs = 0;
		struct stat sb;

		if (stat(paths[i], &sb) == 0 && !S_ISREG(sb.st_mode))
			return fail(status, err, EX_DATAERR, "'%s': not a regular file", paths[i]);
		x->f = uvh5_open(paths[i], &st, uerr);
		if (!x->f)
			return fail(status, err, st, "%s", uerr);
		h = x->h = uvh5_header(x->f);
		if (h->Nblts < 1 || h->Nfreqs < 1 || h->Npols < 1 || h->Nants_telescope < 1)
			return fail(status, err, EX_DATAERR, "'%s': no data", paths[i]);
		st = pick_pols(x);
		if (st < 0)
			return fail(status, err, EX_DATAERR,
			    "'%s': no polarisations for Stokes I (need xx, yy, rr, ll or pI)", paths[i]);
		if (st > 0)
			log_warn("'%s': one polarisation (%s) stands for Stokes I", paths[i],
			    uvh5_pol_name(h->polarization_array[x->ip1]));
		if (i == 0) {
			lat0 = h->latitude;
			lon0 = h->longitude;
			in->lat = lat0 * GEOM_DEG;
			in->lon = lon0 * GEOM_DEG;
			in->alt = h->altitude;
			snprintf(in->telescope, sizeof in->telescope, "%s", h->telescope_name);
			snprintf(in->instrument, sizeof in->instrument, "%s", h->instrument);
			const char *g = uvh5_header_keyword(h, "group_id");
			snprintf(in->group, sizeof in->group, "%s", g ? g : "");
			if (!isfinite(lat0) || !isfinite(lon0) || fabs(lat0) > 90)
				return fail(status, err, EX_DATAERR, "'%s': bad telescope location", paths[i]);
		} else if (fabs(h->latitude - lat0) > 1e-6 || fabs(h->longitude - lon0) > 1e-6) {
			return fail(status, err, EX_DATAERR,
			    "'%s': telescope location differs from '%s'", paths[i], paths[0]);
		}
		x->enu = malloc(sizeof *x->enu * 3 * (size_t)h->Nants_telescope);
		x->ia1 = malloc(sizeof *x->ia1 * (size_t)h->Nblts);
		x->ia2 = malloc(sizeof *x->ia2 * (size_t)h->Nblts);
		if (!x->enu || !x->ia1 || !x->ia2)
			return fail(status, err, EX_OSERR, "out of memory");
		for (int64_t a = 0; a < h->Nants_telescope; a++) {
			const double *p = h->antenna_positions + 3 * a;
			if (!isfinite(p[0]) || !isfinite(p[1]) || !isfinite(p[2]) ||
			    fabs(p[0]) + fabs(p[1]) + fabs(p[2]) > 1e8)
				return fail(status, err, EX_DATAERR, "'%s': bad antenna position", paths[i]);
			geom_ecef_to_enu(p, in->lat, in->lon, x->enu + 3 * a);
		}
		for (int64_t r = 0; r < h->Nblts; r++) {
			double t = h->time_array[r];
			double it = h->integration_time ? h->integration_time[r] : 0;
			x->ia1[r] = ant_index(h, h->ant_1_array[r]);
			x->ia2[r] = ant_index(h, h->ant_2_array[r]);
			if (x->ia1[r] < 0 || x->ia2[r] < 0)
				return fail(status, err, EX_DATAERR, "'%s': row %lld: unknown antenna",
				    paths[i], (long long)r);
			if (!isfinite(t) || t < 2000000 || t > 3000000 || !isfinite(it) || fabs(it) > 86400)
				return fail(status, err, EX_DATAERR, "'%s': row %lld: bad time",
				    paths[i], (long long)r);
			if (t - it / GEOM_DAY_S / 2 < in->jd_first)
				in->jd_first = t - it / GEOM_DAY_S / 2;
			if (t + it / GEOM_DAY_S / 2 > in->jd_last)
				in->jd_last = t + it / GEOM_DAY_S / 2;
		}
		x->uniform = 1;
		for (int64_t c = 0; c < h->Nfreqs; c++) {
			double f = h->freq_array[c], w = fabs(h->channel_width[c]);
			if (!isfinite(f) || f <= 0 || !isfinite(w))
				return fail(status, err, EX_DATAERR, "'%s': bad frequency", paths[i]);
			if (f < in->fmin)
				in->fmin = f;
			if (f > in->fmax)
				in->fmax = f;
			if (w > in->chan_width)
				in->chan_width = w;
			if (c == 1)
				fs = f - h->freq_array[0];
			else if (c > 1 && fabs(f - h->freq_array[c - 1] - fs) > 1e-6 * fabs(fs))
				x->uniform = 0;
		}
		{
			char why[256];
			if (old_centre(x, why, sizeof why) < 0)
				return fail(status, err, EX_DATAERR, "'%s': %s", paths[i], why);
		}
		uvw_check(in, x, paths[i]);
		if (x->kind == CK_MERIDIAN) {
			if (nmer++ == 0)
				dec_drift = x->dec_old;
			else if (fabs(x->dec_old - dec_drift) > 1e-6)
				return fail(status, err, EX_DATAERR,
				    "'%s': pointing dec differs from the other files'", paths[i]);
		} else if (isnan(ra_fix)) {
			ra_fix = x->ra_old;
			dec_fix = x->dec_old;
		} else if (fabs(x->ra_old - ra_fix) > 1e-9 || fabs(x->dec_old - dec_fix) > 1e-9) {
			mixed_fixed = 1;
		}
	}
	in->jd_mid = (in->jd_first + in->jd_last) / 2;
	if (nmer > 0 || mixed_fixed) {
		in->drift = 1;
		in->ra0 = geom_lst(in->jd_mid, lon0);
		in->dec0 = nmer > 0 ? dec_drift : dec_fix;
		astro_cirs_to_icrs(in->jd_mid, in->ra0, in->dec0, &in->ra0_icrs, &in->dec0_icrs);
	} else {
		in->ra0_icrs = ra_fix;
		in->dec0_icrs = dec_fix;
		astro_icrs_to_cirs(in->jd_mid, ra_fix, dec_fix, &in->ra0, &in->dec0);
	}
	in->psi = getenv("PSI0") ? 0 : astro_north_angle(in->jd_mid, in->ra0, in->dec0);

	/* Longest baseline and array plane over the antennas with data. */
	{
		const struct img_file *x = &in->files[0];
		const struct uvh5_header *h = x->h;
		int na = (int)h->Nants_telescope;

		used = calloc((size_t)na, 1);
		enu_used = x->enu;
		na_used = na;
		if (!used)
			return fail(status, err, EX_OSERR, "out of memory");
		for (int64_t r = 0; r < h->Nblts; r++)
			used[x->ia1[r]] = used[x->ia2[r]] = 1;
		for (int a = 0; a < na; a++)
			for (int b = a + 1; b < na; b++) {
				const double *p = x->enu + 3 * a, *q = x->enu + 3 * b;
				double d = sqrt((p[0] - q[0]) * (p[0] - q[0]) +
				    (p[1] - q[1]) * (p[1] - q[1]) + (p[2] - q[2]) * (p[2] - q[2]));
				if (used[a] && used[b] && d > in->bmax)
					in->bmax = d;
			}
		array_plane(in, enu_used, used, na_used,
		    geom_wrap_pi(geom_lst(in->jd_mid, lon0) - in->ra0));
		{       /* into the ICRS-aligned axes, like u, v */
			double cp = cos(in->psi), sp = sin(in->psi), xi = in->xi;
			in->xi = xi * cp + in->eta * sp;
			in->eta = in->eta * cp - xi * sp;
		}
		free(used);
	}
	if (!(in->bmax > 0))
		return fail(status, err, EX_DATAERR, "no baselines between distinct antennas");
	return 0;
}

/* Per-antenna coordinates for one time: new u, v, w and old w, metres. */
static void ant_coords(const struct img_input *in, const struct img_file *x, double jd,
    double *un, double *wo)
{
	double lst = geom_lst(jd, in->lon / GEOM_DEG);
	double ha_new = lst - in->ra0;
	double ha_old = x->kind == CK_FIXED ? lst - x->ra_app : 0;
	double cp = cos(in->psi), sp = sin(in->psi);

	for (int64_t a = 0; a < x->h->Nants_telescope; a++) {
		double o[3], *p = un + 3 * a, u;
		geom_enu_to_uvw(x->enu + 3 * a, in->lat, ha_new, in->dec0, p);
		/* u, v along ICRS east and north at the tangent point. */
		u = p[0] * cp + p[1] * sp;
		p[1] = p[1] * cp - p[0] * sp;
		p[0] = u;
		geom_enu_to_uvw(x->enu + 3 * a, in->lat, ha_old,
		    x->kind == CK_FIXED ? x->dec_app : x->dec_old, o);
		wo[a] = o[2];
	}
}

/*
 * A file's blocks read ahead by a thread of its own (the only caller of
 * libhdf5 while a scan runs), into two slots in turn, while the caller
 * works through the other: the read and the rows' work overlap. A slot
 * is the caller's from full until it hands it back. Without the thread
 * (it could not start) the caller reads each block itself.
 */
struct rslot {
	float complex *vis;
	uint8_t *flg;
	float *ns;
	int64_t nr;
	int full, failed, st;
	char err[UVH5_ERRLEN];
};

struct ahead {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	struct rslot s[2];
	uvh5_file *f;
	int64_t nblts, block;
	int want_vis, stop, threaded;
};

static void read_slot(struct ahead *a, struct rslot *s, int64_t r0)
{
	s->nr = a->nblts - r0 < a->block ? a->nblts - r0 : a->block;
	s->st = 0;
	s->failed = uvh5_read_rows(a->f, r0, s->nr, a->want_vis ? s->vis : NULL, s->flg, s->ns,
	    &s->st, s->err) < 0;
}

/* *flag = v under the lock, told to whoever waits. */
static void ahead_set(struct ahead *a, int *flag, int v)
{
	pthread_mutex_lock(&a->mu);
	*flag = v;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static void *ahead_main(void *arg)
{
	struct ahead *a = arg;
	int k = 0, go = 1;

	for (int64_t r0 = 0; go && r0 < a->nblts; r0 += a->block, k ^= 1) {
		struct rslot *s = &a->s[k];

		pthread_mutex_lock(&a->mu);
		while (s->full && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		go = !a->stop;
		pthread_mutex_unlock(&a->mu);
		if (!go)
			break;
		read_slot(a, s, r0);
		go = !s->failed;
		ahead_set(a, &s->full, 1);
	}
	return NULL;
}

/* Read f's blocks from now on (the slots empty). */
static void ahead_start(struct ahead *a, uvh5_file *f, int64_t nblts, int64_t block)
{
	a->f = f;
	a->nblts = nblts;
	a->block = block;
	a->stop = 0;
	a->s[0].full = a->s[1].full = 0;
	a->threaded = pthread_create(&a->th, NULL, ahead_main, a) == 0;
}

/* Slot k, holding the block at row r0, once full. */
static struct rslot *ahead_take(struct ahead *a, int k, int64_t r0)
{
	struct rslot *s = &a->s[k];

	if (!a->threaded) {
		read_slot(a, s, r0);
		return s;
	}
	pthread_mutex_lock(&a->mu);
	while (!s->full)
		pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
	return s;
}

/* Slot s back to the reader. */
static void ahead_give(struct ahead *a, struct rslot *s)
{
	if (a->threaded)
		ahead_set(a, &s->full, 0);
}

/* The reader stopped and joined (whatever it was doing). */
static void ahead_stop(struct ahead *a)
{
	if (!a->threaded)
		return;
	ahead_set(a, &a->stop, 1);
	pthread_join(a->th, NULL);
	a->threaded = 0;
}

int img_scan_rows(struct img_input *in, int want_vis, img_row_fn fn, void *ctx, int *status,
    char *err)
{
	size_t cap = 0;
	int64_t maxants = 0, maxf = 0;
	float complex *rv = NULL;
	float *rw = NULL;
	double *un = NULL, *wo = NULL;
	int rc = 0, ok = 1;
	struct ahead a = { .want_vis = want_vis };

	in->nrows = in->nflagged = in->nautos = in->nnonfinite = 0;
	if (in->keep_times) {
		size_t nblt = 0;
		for (int i = 0; i < in->nfiles; i++)
			nblt += (size_t)in->files[i].h->Nblts;
		free(in->row_time);
		if (!(in->row_time = malloc(sizeof *in->row_time * (nblt ? nblt : 1))))
			return fail(status, err, EX_OSERR, "out of memory");
	}
	/* Buffers for the largest block of any file, allocated once. */
	for (int i = 0; i < in->nfiles; i++) {
		const struct uvh5_header *h = in->files[i].h;
		size_t per = (size_t)h->Nfreqs * (size_t)h->Npols;
		size_t rows = (size_t)(h->Nbls > 0 ? h->Nbls : 1);
		if (rows > (size_t)h->Nblts)
			rows = (size_t)h->Nblts;
		if (rows * per > ((size_t)64 << 20) / sizeof(float complex))
			rows = ((size_t)64 << 20) / sizeof(float complex) / per + 1;
		if (rows * per > cap)
			cap = rows * per;
		if (h->Nants_telescope > maxants)
			maxants = h->Nants_telescope;
		if (h->Nfreqs > maxf)
			maxf = h->Nfreqs;
	}
	for (int k = 0; k < 2; k++) {
		ok &= (a.s[k].flg = malloc(cap)) != NULL;
		ok &= (a.s[k].ns = malloc(sizeof *a.s[k].ns * cap)) != NULL;
		if (want_vis)
			ok &= (a.s[k].vis = malloc(sizeof *a.s[k].vis * cap)) != NULL;
	}
	un = malloc(sizeof *un * 3 * (size_t)maxants);
	wo = malloc(sizeof *wo * (size_t)maxants);
	rv = malloc(sizeof *rv * (size_t)maxf);
	rw = malloc(sizeof *rw * (size_t)maxf);
	if (!ok || !un || !wo || !rv || !rw) {
		rc = fail(status, err, EX_OSERR, "out of memory");
		goto out;
	}
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cv, NULL);
	for (int i = 0; i < in->nfiles; i++) {
		struct img_file *x = &in->files[i];
		const struct uvh5_header *h = x->h;
		int64_t nf = h->Nfreqs, np = h->Npols;
		int64_t block = (int64_t)(cap / (size_t)(nf * np));
		double tcache = NAN, df = nf > 1 ? h->freq_array[1] - h->freq_array[0] : 0;

		if (block > h->Nbls && h->Nbls > 0)
			block = h->Nbls;
		ahead_start(&a, x->f, h->Nblts, block);
		for (int64_t r0 = 0, k = 0; r0 < h->Nblts; r0 += block, k ^= 1) {
			struct rslot *sl = ahead_take(&a, (int)k, r0);
			const float complex *vis = sl->vis;
			const uint8_t *flg = sl->flg;
			const float *ns = sl->ns;
			int64_t nr = sl->nr;

			if (sl->failed) {
				ahead_stop(&a);
				rc = fail(status, err, sl->st, "%s", sl->err);
				goto done;
			}
			for (int64_t r = 0; r < nr; r++) {
				int64_t row = r0 + r;
				int a1 = x->ia1[row], a2 = x->ia2[row];
				double bu, bv, dw, t = h->time_array[row];
				double complex ph = 1, step = 1;

				if (a1 == a2) {
					in->nautos++;
					continue;
				}
				if (in->keep_times)
					in->row_time[in->nrows] = t;
				in->nrows++;
				if (t != tcache) {
					ant_coords(in, x, t, un, wo);
					tcache = t;
				}
				bu = un[3 * a2] - un[3 * a1];
				bv = un[3 * a2 + 1] - un[3 * a1 + 1];
				dw = (wo[a2] - wo[a1]) - (un[3 * a2 + 2] - un[3 * a1 + 2]);
				if (want_vis && x->uniform) {
					ph = cexp(-2 * M_PI * I * dw * h->freq_array[0] / IMG_C);
					step = cexp(-2 * M_PI * I * dw * df / IMG_C);
				}
				for (int64_t c = 0; c < nf; c++, ph *= step) {
					size_t b = ((size_t)r * (size_t)nf + (size_t)c) * (size_t)np;
					double f = h->freq_array[c];
					float n1 = ns[b + x->ip1], w;
					float complex V = 0;

					rv[c] = 0;
					rw[c] = 0;
					if (x->ip2 >= 0) {
						float n2 = ns[b + x->ip2];
						if (flg[b + x->ip1] || flg[b + x->ip2] || !(n1 > 0) || !(n2 > 0)) {
							in->nflagged++;
							continue;
						}
						w = 4 / (1 / n1 + 1 / n2);
						if (want_vis)
							V = (vis[b + x->ip1] + vis[b + x->ip2]) / 2;
					} else {
						if (flg[b + x->ip1] || !(n1 > 0)) {
							in->nflagged++;
							continue;
						}
						w = n1;
						if (want_vis)
							V = vis[b + x->ip1];
					}
					if (!isfinite(w) || !isfinite(crealf(V)) || !isfinite(cimagf(V))) {
						in->nnonfinite++;
						continue;
					}
					if (want_vis) {
						V = conjf(V);    /* file convention -> ours */
						if (!x->uniform || (c & 63) == 0)
							ph = cexp(-2 * M_PI * I * dw * f / IMG_C);
						V *= (float complex)ph;
					}
					rv[c] = V;
					rw[c] = w;
				}
				fn(ctx, i, bu, bv, rv, rw, (int)nf);
			}
			ahead_give(&a, sl);
		}
		ahead_stop(&a);
	}
done:
	pthread_cond_destroy(&a.cv);
	pthread_mutex_destroy(&a.mu);
out:
	for (int k = 0; k < 2; k++) {
		free(a.s[k].vis);
		free(a.s[k].flg);
		free(a.s[k].ns);
	}
	free(un);
	free(wo);
	free(rv);
	free(rw);
	return rc;
}

struct visit {
	const struct img_input *in;
	img_vis_fn fn;
	void *ctx;
};

static void visit_row(void *ctx, int file, double bu, double bv, const float complex *V,
    const float *w, int nf)
{
	const struct visit *x = ctx;
	const double *fr = x->in->files[file].h->freq_array;

	for (int c = 0; c < nf; c++)
		if (w[c] != 0)
			x->fn(x->ctx, bu * fr[c] / IMG_C, bv * fr[c] / IMG_C, V[c], w[c], fr[c]);
}

int img_input_scan(struct img_input *in, int want_vis, img_vis_fn fn, void *ctx,
    int *status, char *err)
{
	struct visit x = {in, fn, ctx};

	return img_scan_rows(in, want_vis, visit_row, &x, status, err);
}

const double *img_file_freqs(const struct img_input *in, int file, int *nf)
{
	*nf = (int)in->files[file].h->Nfreqs;
	return in->files[file].h->freq_array;
}

void img_row_baselines(const struct img_input *in, int stride, img_bl_fn fn, void *ctx)
{
	int64_t maxants = 0;
	double *un, *wo;

	for (int i = 0; i < in->nfiles; i++)
		if (in->files[i].h->Nants_telescope > maxants)
			maxants = in->files[i].h->Nants_telescope;
	un = malloc(sizeof *un * 3 * (size_t)maxants);
	wo = malloc(sizeof *wo * (size_t)maxants);
	for (int i = 0; un && wo && i < in->nfiles; i++) {
		const struct img_file *x = &in->files[i];
		const struct uvh5_header *h = x->h;
		double tcache = NAN;

		for (int64_t r = 0; r < h->Nblts; r += stride) {
			int a1 = x->ia1[r], a2 = x->ia2[r];

			if (a1 == a2)
				continue;
			if (h->time_array[r] != tcache) {
				ant_coords(in, x, h->time_array[r], un, wo);
				tcache = h->time_array[r];
			}
			fn(ctx, i, un[3 * a2] - un[3 * a1], un[3 * a2 + 1] - un[3 * a1 + 1]);
		}
	}
	free(un);
	free(wo);
}
