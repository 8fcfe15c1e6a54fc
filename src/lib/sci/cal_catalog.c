/*
 * cal_catalog.c: calibrator catalogue (contract in cal_catalog.h).
 *
 * The file is tiny and hand-edited, so the parser is strict (six fields,
 * numbers that parse completely, finite, positive flux and frequency) and
 * names the line it rejects.
 */
#include "sci/astro.h"
#include "sci/cal_catalog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "core/fsx.h"
#include "sci/geom.h"

/* Strict number: whole field, finite. */
static int num(const char *s, double *v)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	errno = 0;
	*v = strtod(s, &end);
	while (*end == ' ' || *end == '\t')
		end++;
	return end != s && !*end && !errno && isfinite(*v) ? 0 : -1;
}

/* Parse one data line into s; 0 or -1. */
static int parse_line(char *line, struct cal_source *s)
{
	char *f[7];
	int n = 0;
	char *save = NULL;
	double mhz;

	for (char *t = strtok_r(line, ",", &save); t && n < 7; t = strtok_r(NULL, ",", &save))
		f[n++] = t;
	if (n != 6)
		return -1;
	while (*f[0] == ' ' || *f[0] == '\t')
		f[0]++;
	size_t len = strcspn(f[0], " \t");
	if (len == 0 || len >= sizeof s->name || f[0][len + strspn(f[0] + len, " \t")])
		return -1;
	memcpy(s->name, f[0], len);
	s->name[len] = 0;
	if (num(f[1], &s->ra_deg) || num(f[2], &s->dec_deg) || num(f[3], &s->flux_jy) ||
	    num(f[4], &mhz) || num(f[5], &s->alpha))
		return -1;
	if (s->dec_deg < -90 || s->dec_deg > 90 || s->flux_jy <= 0 || mhz <= 0)
		return -1;
	s->ra_deg = fmod(s->ra_deg, 360.0);
	if (s->ra_deg < 0)
		s->ra_deg += 360.0;
	s->ref_freq_hz = mhz * 1e6;
	return 0;
}

int cal_catalog_load(const char *path, struct cal_catalog *c, char *err, size_t errlen)
{
	size_t len;
	char *text = fsx_read_file(path, &len);
	int lineno = 0, cap = 0;

	memset(c, 0, sizeof *c);
	c->min_flux_jy = CAL_MIN_FLUX_JY;
	if (!text) {
		int e = errno;
		snprintf(err, errlen, "cannot open catalogue '%s': %s", path, strerror(e));
		return e == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	/* strtok_r would merge empty lines and lose the numbering */
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		line[strcspn(line, "\r")] = 0;
		char *p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		if (c->n == cap) {
			int nc = cap ? 2 * cap : 16;
			struct cal_source *ns = realloc(c->src, (size_t)nc * sizeof *ns);
			if (!ns) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			c->src = ns;
			cap = nc;
		}
		if (parse_line(p, &c->src[c->n]) < 0) {
			snprintf(err, errlen, "%s:%d: expected name,ra_deg,dec_deg,flux_jy,"
			    "ref_freq_mhz,spectral_index", path, lineno);
			goto fail;
		}
		c->n++;
	}
	free(text);
	if (c->n == 0) {
		snprintf(err, errlen, "catalogue '%s' lists no source", path);
		cal_catalog_free(c);
		return EX_DATAERR;
	}
	return 0;
fail:
	free(text);
	cal_catalog_free(c);
	return EX_DATAERR;
}

void cal_catalog_free(struct cal_catalog *c)
{
	free(c->src);
	c->src = NULL;
	c->n = 0;
}

const struct cal_source *cal_catalog_find(const struct cal_catalog *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (!strcasecmp(c->src[i].name, name))
			return &c->src[i];
	return NULL;
}

void cal_source_apparent(const struct cal_source *s, double jd, double *ra, double *dec)
{
	astro_icrs_to_cirs(jd, s->ra_deg * GEOM_DEG, s->dec_deg * GEOM_DEG, ra, dec);
}

double cal_source_flux(const struct cal_source *s, double freq_hz)
{
	return geom_flux(s->flux_jy, s->ref_freq_hz, s->alpha, freq_hz);
}

/*
 * The transit of s nearest mid (lst: the local sidereal time at mid) into
 * *t, and its apparent flux at 1.4 GHz (flux x primary beam) into *app;
 * 0 when s is too weak or its CIRS declination is beyond max_sep_deg of
 * dec_deg.
 */
static int source_transit(const struct cal_catalog *c, const struct cal_source *s, double mid,
    double lst, double dec_deg, double max_sep_deg, double *t, double *app)
{
	const double sidereal = 1.00273781191135448; /* sidereal days per solar day */
	double ra, dec;

	if (s->flux_jy < c->min_flux_jy || fabs(s->dec_deg - dec_deg) > max_sep_deg + 1)
		return 0;       /* precession moves sources by < 1 deg */
	cal_source_apparent(s, mid, &ra, &dec);
	if (fabs(dec / GEOM_DEG - dec_deg) > max_sep_deg)
		return 0;
	*t = mid + geom_wrap_pi(ra - lst) / (2 * GEOM_PI) / sidereal;
	*app = s->flux_jy * geom_pb(fabs(dec / GEOM_DEG - dec_deg) * GEOM_DEG, 1.4e9, GEOM_DISH_DIAM_M);
	return 1;
}

const struct cal_source *cal_catalog_transit(const struct cal_catalog *c, double jd0,
    double jd1, double lon_deg, double dec_deg, double max_sep_deg, double *transit_jd)
{
	const double sidereal = 1.00273781191135448; /* sidereal days per solar day */
	double mid = (jd0 + jd1) / 2, lst = geom_lst(mid, lon_deg), best = HUGE_VAL;
	double half = GEOM_PI * sidereal * (jd1 - jd0); /* hour angle, transit to an end */
	const struct cal_source *found = NULL;
	double best_app = -1;

	for (int i = 0; i < c->n; i++) {
		const struct cal_source *s = &c->src[i];
		double t, app;

		/* a source more than 0.1 rad of RA beyond the group's hour-angle
		 * span in its catalogue RA cannot transit in the group (below 80
		 * deg of declination, within a century of J2000, precession moves
		 * RA by < 11 s a year), and its apparent place (ERFA's nutation,
		 * 3/4 of a planning pass over a long history) is not needed */
		if (fabs(s->dec_deg) < 80 && fabs(mid - 2451545.0) < 36525 &&
		    fabs(geom_wrap_pi(s->ra_deg * GEOM_DEG - lst)) > half + 0.1)
			continue;
		if (!source_transit(c, s, mid, lst, dec_deg, max_sep_deg, &t, &app) || t < jd0 || t > jd1)
			continue;
		if (app > best_app * (1 + 1e-9) ||
		    (app > best_app * (1 - 1e-9) && fabs(t - mid) < best)) {
			best_app = app;
			best = fabs(t - mid);
			found = s;
			if (transit_jd)
				*transit_jd = t;
		}
	}
	return found;
}

int cal_catalog_transits(const struct cal_catalog *c, double jd0, double jd1, double lon_deg,
    double dec_deg, double max_sep_deg, double *transit_jd, int max)
{
	double mid = (jd0 + jd1) / 2, lst = geom_lst(mid, lon_deg);
	int n = 0;

	for (int i = 0; i < c->n; i++) {
		double t, app;
		if (source_transit(c, &c->src[i], mid, lst, dec_deg, max_sep_deg, &t, &app) &&
		    t >= jd0 && t <= jd1 && n < max)
			transit_jd[n++] = t;
	}
	return n;
}
