/*
 * sim.c: the simulator's model (contract in sim.h): array layout, sky,
 * gains, timing, and the visibilities of one integration and subband.
 *
 * Speed matters (a full group is 1.6 GB): per integration the source
 * directions are computed once; per subband the beam-weighted spectra and
 * the gains of its channels; per baseline and source the fringe phasor
 * takes two sincos calls and then advances from channel to channel by one
 * complex multiplication (the channels are equally spaced), so no
 * trigonometric call is made per sample; complex arithmetic is spelled out
 * on doubles (no __muldc3), and the noise comes from xoshiro256** through
 * a ziggurat, two deviates per 64-bit draw.
 */
#include "sci/beam.h"
#include "sci/sim.h"
#include "sci/astro.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "core/fsx.h"

/* ---------------------------------------------------------------- rng */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t x = seed;
	uint64_t k[3] = { a, b, c };

	for (int i = 0; i < 3; i++) {
		x ^= splitmix(&x) + k[i] * 0xd1342543de82ef95ULL;
		splitmix(&x);
	}
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

double sim_rng_uniform(struct sim_rng *r)
{
	return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Ziggurat of 128 layers for the standard normal (Marsaglia & Tsang's
 * construction, Doornik's float variant), tables built on first use. */
#define ZN 128
static double zx[ZN + 1], zrat[ZN];
static int zready;

static void zig_init(void)
{
	const double r = 3.442619855899, v = 9.91256303526217e-3;
	double f = exp(-0.5 * r * r);

	zx[0] = v / f;
	zx[1] = r;
	zx[ZN] = 0;
	for (int i = 2; i < ZN; i++) {
		zx[i] = sqrt(-2 * log(v / zx[i - 1] + f));
		f = exp(-0.5 * zx[i] * zx[i]);
	}
	for (int i = 0; i < ZN; i++)
		zrat[i] = zx[i + 1] / zx[i];
	zready = 1;
}

/* Outside layer i's rectangle at abscissa u: the tail (i = 0) or the
 * wedge test; NAN asks the caller to start a new sample. */
static double zig_slow(struct sim_rng *r, int i, double u)
{
	double x, f0, f1;

	if (i == 0) {
		double xt, y;
		do {
			xt = -log(1 - sim_rng_uniform(r)) / zx[1];
			y = -log(1 - sim_rng_uniform(r));
		} while (y + y < xt * xt);
		return u > 0 ? zx[1] + xt : -zx[1] - xt;
	}
	x = u * zx[i];
	f0 = exp(-0.5 * (zx[i] * zx[i] - x * x));
	f1 = exp(-0.5 * (zx[i + 1] * zx[i + 1] - x * x));
	return f1 + sim_rng_uniform(r) * (f0 - f1) < 1.0 ? x : NAN;
}

double sim_rng_normal(struct sim_rng *r)
{
	if (!zready)
		zig_init();
	for (;;) {
		uint64_t b = sim_rng_next(r);
		int i = (int)(b & (ZN - 1));
		double u = 2 * ((double)(b >> 11) * 0x1.0p-53) - 1, x;

		if (fabs(u) < zrat[i])
			return u * zx[i];
		x = zig_slow(r, i, u);
		if (!isnan(x))
			return x;
	}
}

/*
 * Two normal deviates from one 64-bit draw in the common case: each 32-bit
 * half picks a ziggurat layer (7 bits) and a signed abscissa (25 bits);
 * outside the rectangle the usual tail or wedge test follows, and a
 * rejection starts a new, full-precision sample (exact distribution).
 */
static inline double zig_half(struct sim_rng *r, uint32_t h)
{
	int i = (int)(h & (ZN - 1));
	double u = (double)(int32_t)(h & ~(uint32_t)(ZN - 1)) * 0x1.0p-31, x;

	if (fabs(u) < zrat[i])
		return u * zx[i];
	x = zig_slow(r, i, u);
	return isnan(x) ? sim_rng_normal(r) : x;
}

static inline void normal_pair(struct sim_rng *r, double *a, double *b)
{
	uint64_t x = sim_rng_next(r);

	*a = zig_half(r, (uint32_t)x);
	*b = zig_half(r, (uint32_t)(x >> 32));
}

/* ----------------------------------------------------------- geometry */

/*
 * Place n antennas along a line from 0 with spacings that start near
 * 5-8 m and grow towards the far end(s) (grow_both: both ends, the line
 * centred on 0), total length len. r draws the irregularity.
 */
static void arm(int n, double len, int grow_both, struct sim_rng *r, double *pos)
{
	double raw[4096], sum = 0, minsp = 1.2 * SIM_DIAM_M, p;

	if (n <= 0)
		return;
	if (n == 1) {
		pos[0] = 0;
		return;
	}
	if (len < 1.5 * minsp * (n - 1))
		len = 1.5 * minsp * (n - 1);
	for (int i = 0; i < n - 1; i++) {
		double x = grow_both ? fabs(i - (n - 2) / 2.0) / ((n - 1) / 2.0)
				     : (double)i / (n - 1);
		raw[i] = (1 + 0.6 * sim_rng_uniform(r)) * (1 + 8 * x * x);
		sum += raw[i];
	}
	p = grow_both ? -len / 2 : 0;
	pos[0] = p;
	for (int i = 0; i < n - 1; i++) {
		p += minsp + (len - minsp * (n - 1)) * raw[i] / sum;
		pos[i + 1] = p;
	}
}

void sim_layout(int nants, double *enu)
{
	struct sim_rng r;
	int nns = nants / 3, n_ew = nants - nns;
	double *e = malloc(sizeof(double) * (size_t)(nants + 1));

	sim_rng_seed(&r, 0x4453412d313130ULL, 1, 2, 3); /* fixed: "DSA-110" */
	if (!e) {
		for (int i = 0; i < nants; i++) {
			enu[3 * i] = 10.0 * i;
			enu[3 * i + 1] = enu[3 * i + 2] = 0;
		}
		return;
	}
	/* East-west bar of the T, centred on the junction. */
	arm(n_ew, 1200.0, 1, &r, e);
	for (int i = 0; i < n_ew; i++) {
		enu[3 * i] = e[i];
		enu[3 * i + 1] = 0.4 * (sim_rng_uniform(&r) - 0.5);
		enu[3 * i + 2] = 1.0 * (sim_rng_uniform(&r) - 0.5);
	}
	/* North-south stem, starting 20 m north of the bar. */
	arm(nns, 1300.0, 0, &r, e);
	for (int i = 0; i < nns; i++) {
		double *p = enu + 3 * (n_ew + i);
		p[0] = 0.4 * (sim_rng_uniform(&r) - 0.5);
		p[1] = 20.0 + e[i];
		p[2] = 1.0 * (sim_rng_uniform(&r) - 0.5);
	}
	free(e);
}

/* WGS84 geodetic (radians, metres) to ECEF metres. */
static void geodetic_to_ecef(double lat, double lon, double h, double *x)
{
	const double a = 6378137.0, f = 1 / 298.257223563, e2 = f * (2 - f);
	double n = a / sqrt(1 - e2 * sin(lat) * sin(lat));

	x[0] = (n + h) * cos(lat) * cos(lon);
	x[1] = (n + h) * cos(lat) * sin(lon);
	x[2] = (n * (1 - e2) + h) * sin(lat);
}

int sim_layout_dsa110(int nants, double lat, double lon, double alt, double *st_enu, int *num)
{
	double c[3], emean = 0, sl = sin(lat), cl = cos(lat), so = sin(lon), co = cos(lon);
	int ne = 0, rot;

	if (nants < 1 || nants > SIM_NSTATIONS)
		return -1;
	for (int k = 0; k < SIM_NSTATIONS; k++)
		if (isfinite(sim_stations[k][2]))
			emean += sim_stations[k][2], ne++;
	emean /= ne;
	geodetic_to_ecef(lat, lon, alt, c);
	for (int k = 0; k < SIM_NSTATIONS; k++) {
		double x[3], d[3], *e = st_enu + 3 * k;
		double h = isfinite(sim_stations[k][2]) ? sim_stations[k][2] : emean;

		geodetic_to_ecef(sim_stations[k][0] * M_PI / 180, sim_stations[k][1] * M_PI / 180, h, x);
		for (int i = 0; i < 3; i++)
			d[i] = x[i] - c[i];
		e[0] = -so * d[0] + co * d[1];
		e[1] = -sl * co * d[0] - sl * so * d[1] + cl * d[2];
		e[2] = cl * co * d[0] + cl * so * d[1] + sl * d[2];
	}
	/* Evenly spread stations, the list rotated by 18% (about 30% of the
	 * baselines then have ant_1 > ant_2, as in the writer's files). */
	rot = (int)(0.18 * nants);
	for (int i = 0; i < nants; i++) {
		int j = (i + rot) % nants;
		num[i] = nants == 1 ? 0 : (int)lround((double)j * (SIM_NSTATIONS - 1) / (nants - 1));
	}
	return 0;
}

void sim_enu_to_ecef(double lat, double lon, const double *b, double *xyz)
{
	double sl = sin(lat), cl = cos(lat), so = sin(lon), co = cos(lon);

	xyz[0] = -so * b[0] - sl * co * b[1] + cl * co * b[2];
	xyz[1] = co * b[0] - sl * so * b[1] + cl * so * b[2];
	xyz[2] = cl * b[1] + sl * b[2];
}

void sim_uvw_meridian(double lat, double dec, const double *b, double *uvw)
{
	/* Equatorial components: X towards (HA 0, Dec 0), Y towards HA -6h
	 * (east), Z towards the pole. */
	double X = -sin(lat) * b[1] + cos(lat) * b[2];
	double Y = b[0];
	double Z = cos(lat) * b[1] + sin(lat) * b[2];

	uvw[0] = Y;
	uvw[1] = -sin(dec) * X + cos(dec) * Z;
	uvw[2] = cos(dec) * X + sin(dec) * Z;
}

void sim_lmn(double ra, double dec, double ra0, double dec0, double *l, double *m, double *n)
{
	double da = ra - ra0;

	*l = cos(dec) * sin(da);
	*m = sin(dec) * cos(dec0) - cos(dec) * sin(dec0) * cos(da);
	*n = sin(dec) * sin(dec0) + cos(dec) * cos(dec0) * cos(da);
}

double sim_jd(double unix_s)
{
	return 2440587.5 + unix_s / 86400.0;
}

double sim_lst(double unix_s, double lon)
{
	double days = floor(unix_s / 86400.0);

	return astro_local_era2(2440587.5 + days, (unix_s - days * 86400.0) / 86400.0, lon);
}

double sim_flux(const struct sim_source *src, double freq_hz)
{
	return src->flux_jy * pow(freq_hz / src->ref_freq_hz, src->alpha);
}

double complex sim_gain_eval(const struct sim_gain *g, double f, double t_rel)
{
	double x = (f - SIM_GAIN_FREF_HZ);
	double b = 1 + g->slope * x / SIM_GAIN_FREF_HZ +
	    g->ripple * cos(2 * M_PI * x / g->period_hz + g->rphase);
	double ph = g->phi0 + 2 * M_PI * f * g->tau_s + g->rate_rad_s * t_rel;

	return g->amp * b * (cos(ph) + I * sin(ph));
}

double sim_time(const struct sim *s, int gi, int t)
{
	return s->groups[gi].start_unix + (t + 0.5) * SIM_TINT_S;
}

/* Angular distance from the phase centre given direction cosines. */
static double theta_of(double l, double m, double n)
{
	double c = sqrt(l * l + m * m + (n - 1) * (n - 1));

	return 2 * asin(c / 2 > 1 ? 1 : c / 2);
}

/* ---------------------------------------------------------------- setup */

void sim_opts_default(struct sim_opts *o)
{
	memset(o, 0, sizeof *o);
	o->nants = 96;
	o->nsub = 16;
	o->nchan = 48;
	o->ntimes = 24;
	o->ngroups = 1;
	o->dec_deg = 33.16;
	o->seed = 1;
	o->start_unix = 1761307200.0; /* 2025-10-24T12:00:00Z */
	o->cal_group = -1;
	o->nsrc = 10;
	o->noise_jy = 2.0;
	o->gain_level = 1.0;
	o->pace = 0;
	o->jitter_s = 20;
}

static const char *fault_names[] = {
	"truncate", "flip", "shape", "nan", "missing", "late", "duplicate", "hostile"
};

const char *sim_fault_name(enum sim_fault_kind k)
{
	return fault_names[k];
}

int sim_parse_fault(const char *s, struct sim_fault *f)
{
	size_t n = strcspn(s, ":@");
	const char *p = s + n;
	char *end;

	f->sb = -1;
	f->group = 0;
	for (int k = 0; k <= SIM_F_HOSTILE; k++) {
		if (strlen(fault_names[k]) != n || strncmp(s, fault_names[k], n))
			continue;
		f->kind = (enum sim_fault_kind)k;
		if (k == SIM_F_HOSTILE) {
			if (*p == ':')
				return -1;
		} else {
			if (*p != ':' || p[1] < '0' || p[1] > '9')
				return -1;
			errno = 0;
			long v = strtol(p + 1, &end, 10);
			if (errno || v < 0 || v > 999)
				return -1;
			f->sb = (int)v;
			p = end;
		}
		if (*p == '@') {
			if (p[1] < '0' || p[1] > '9')
				return -1;
			errno = 0;
			long g = strtol(p + 1, &end, 10);
			if (errno || g < 0 || g > 1000000)
				return -1;
			f->group = (int)g;
			p = end;
		}
		return *p ? -1 : 0;
	}
	return -1;
}

/* Parse one number field of a catalogue line; 0 or -1. */
static int field(char **p, double *v)
{
	char *end, *q = *p;

	if (!q)
		return -1;
	errno = 0;
	*v = strtod(q, &end);
	if (end == q || errno || !isfinite(*v))
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\r')
		end++;
	if (*end == ',')
		*p = end + 1;
	else if (*end == 0)
		*p = NULL;
	else
		return -1;
	return 0;
}

/*
 * Read a catalogue (name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index
 * lines, '#' comments) and append its sources to s->src, all of them, or
 * only `only` (none found: EX_DATAERR). 0 or an exit status with err.
 */
static int read_catalogue(struct sim *s, const char *path, const char *only, char *err)
{
	size_t len;
	char *buf = fsx_read_file(path, &len), *line, *save = NULL;
	int lineno = 0, found = 0;

	if (!buf) {
		snprintf(err, SIM_ERRLEN, "cannot open '%s': %s", path, strerror(errno));
		return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sim_source src;
		char *p = line, *comma;
		double ra, dec, flux, ref, alpha;
		size_t nl;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#' || *p == '\r')
			continue;
		comma = strchr(p, ',');
		if (!comma)
			goto bad;
		nl = (size_t)(comma - p);
		if (nl == 0 || nl >= sizeof src.name)
			goto bad;
		memset(&src, 0, sizeof src);
		memcpy(src.name, p, nl);
		p = comma + 1;
		if (field(&p, &ra) || field(&p, &dec) || field(&p, &flux) || field(&p, &ref) ||
		    field(&p, &alpha) || p || fabs(dec) > 90 || flux < 0 || ref <= 0)
			goto bad;
		if (only && strcmp(only, src.name))
			continue;
		src.ra = ra * M_PI / 180;
		src.dec = dec * M_PI / 180;
		src.flux_jy = flux;
		src.ref_freq_hz = ref * 1e6;
		src.alpha = alpha;
		src.is_cal = only != NULL;
		struct sim_source *ns = realloc(s->src, sizeof *ns * (size_t)(s->nsrcs + 1));
		if (!ns) {
			free(buf);
			snprintf(err, SIM_ERRLEN, "out of memory");
			return EX_OSERR;
		}
		s->src = ns;
		s->src[s->nsrcs++] = src;
		found++;
		continue;
bad:
		snprintf(err, SIM_ERRLEN, "'%s' line %d: bad source line", path, lineno);
		free(buf);
		return EX_DATAERR;
	}
	free(buf);
	if (only && !found) {
		snprintf(err, SIM_ERRLEN, "'%s': no calibrator named '%s'", path, only);
		return EX_DATAERR;
	}
	return 0;
}

/* Add nsrc random sources around (ra0, dec0): within 0.75 FWHM at the
 * band centre, fluxes log-uniform in 0.5-5 Jy; or (sky_counts) drawn from
 * the source counts out to the first null of the Airy beam at the band's
 * lowest frequency (the edge of what any of the beam models sees), or
 * sky_radius_deg when set (a small field for a fast test). 0 or
 * -1 (memory). */
static int random_sources(struct sim *s, int gi, double ra0, struct sim_rng *r)
{
	double fc = SIM_F_TOP_HZ - SIM_BAND_HZ / 2;
	double fwhm = 1.2 * SIM_C / (fc * SIM_DIAM_M), smin;
	struct sim_source *ns = realloc(s->src, sizeof *ns * (size_t)(s->nsrcs + s->o.nsrc + 1));
	double *drawn = NULL;

	if (!ns)
		return -1;
	s->src = ns;
	if (s->o.sky_counts) {
		double edge = s->o.sky_radius_deg > 0 ? s->o.sky_radius_deg * M_PI / 180 :
		    beam_first_null(BEAM_AIRY, SIM_F_TOP_HZ - SIM_BAND_HZ, SIM_DIAM_M);

		drawn = malloc(sizeof *drawn * 3 * (size_t)(s->o.nsrc + 1));
		if (!drawn || sim_counts_draw(s->o.nsrc, edge, r, drawn, drawn + s->o.nsrc,
			drawn + 2 * s->o.nsrc, &smin) < 0) {
			free(drawn);
			return -1;
		}
	}
	for (int k = 0; k < s->o.nsrc; k++) {
		struct sim_source *x = &s->src[s->nsrcs++];
		double rad, pa, l, m, n, d0 = s->dec;

		if (drawn) {
			rad = drawn[s->o.nsrc + k];
			pa = drawn[2 * s->o.nsrc + k];
		} else {
			rad = 0.75 * fwhm * sqrt(sim_rng_uniform(r));
			pa = 2 * M_PI * sim_rng_uniform(r);
		}
		/* the former sky kept as it was drawn: small-angle l, m */
		l = drawn ? sin(rad) * sin(pa) : rad * sin(pa);
		m = drawn ? sin(rad) * cos(pa) : rad * cos(pa);
		n = sqrt(1 - l * l - m * m);
		memset(x, 0, sizeof *x);
		snprintf(x->name, sizeof x->name, "sim%03d_%03d", gi, k);
		/* Drawn about the CIRS meridian point, kept in ICRS. */
		x->dec = asin(m * cos(d0) + n * sin(d0));
		x->ra = fmod(ra0 + atan2(l, n * cos(d0) - m * sin(d0)) + 2 * M_PI, 2 * M_PI);
		astro_cirs_to_icrs(sim_jd(s->groups[gi].start_unix + s->o.ntimes * SIM_TINT_S / 2),
		    x->ra, x->dec, &x->ra, &x->dec);
		x->flux_jy = drawn ? drawn[k] : 0.5 * pow(10.0, sim_rng_uniform(r));
		x->ref_freq_hz = 1.4e9;
		x->alpha = -0.7 + 0.2 * sim_rng_normal(r);
	}
	free(drawn);
	return 0;
}

static void make_gains(struct sim *s)
{
	struct sim_rng r;
	double L = s->o.gain_level;

	sim_rng_seed(&r, s->o.seed, 2, 0, 0);
	for (int a = 0; a < s->o.nants * 2; a++) {
		struct sim_gain *g = &s->gain[a];
		double n1 = sim_rng_normal(&r), u1 = sim_rng_uniform(&r);
		double n2 = sim_rng_normal(&r), n3 = sim_rng_normal(&r);
		double u2 = sim_rng_uniform(&r), u3 = sim_rng_uniform(&r);
		double u4 = sim_rng_uniform(&r), u5 = sim_rng_uniform(&r);

		g->amp = 1 + 0.1 * L * n1;
		if (g->amp < 0.1)
			g->amp = 0.1;
		g->phi0 = L * M_PI * (2 * u1 - 1);
		g->tau_s = L * 3e-9 * n2;
		g->rate_rad_s = L * 1e-5 * n3;
		g->slope = L * 0.5 * (2 * u2 - 1);
		g->ripple = L * 0.05 * u3;
		g->period_hz = 20e6 + 40e6 * u4;
		g->rphase = 2 * M_PI * u5;
	}
}

/* LST-synchronised start: the calibrator transits at the mid-time of group
 * cal_group, at or after the requested start. */
static double transit_start(const struct sim *s, double ra_icrs, double dec_icrs)
{
	double gdur = s->o.ntimes * SIM_TINT_S;
	double tmid = s->o.start_unix + (s->o.cal_group + 0.5) * gdur;
	double sid = 86400.0 / 1.00273781191135448;

	for (int it = 0; it < 4; it++) {
		double ra, dec, d;
		astro_icrs_to_cirs(sim_jd(tmid), ra_icrs, dec_icrs, &ra, &dec);
		d = ra - sim_lst(tmid, s->lon);
		d = fmod(d, 2 * M_PI);
		if (it == 0 && d < 0)
			d += 2 * M_PI;
		else if (it > 0 && d > M_PI)
			d -= 2 * M_PI;
		else if (it > 0 && d < -M_PI)
			d += 2 * M_PI;
		tmid += d / (2 * M_PI) * sid;
	}
	return tmid - (s->o.cal_group + 0.5) * gdur;
}

static void *xcalloc(size_t n, size_t sz, int *bad)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p)
		*bad = 1;
	return p;
}

int sim_init(struct sim *s, const struct sim_opts *o, char *err)
{
	int bad = 0, st;
	size_t na, nf;
	double gdur, jit;
	struct sim_rng r;

	memset(s, 0, sizeof *s);
	s->o = *o;
	s->cur_group = s->cur_time = -1;
	if (o->nants < 1 || o->nants > 2048 || o->nsub < 1 || o->nsub > 100 || o->nchan < 1 ||
	    o->nchan > 100000 || o->ntimes < 1 || o->ntimes > 100000 || o->ngroups < 1 ||
	    o->ngroups > 100000 || fabs(o->dec_deg) > 90 || o->nsrc < 0 || o->nsrc > 100000 ||
	    !(o->noise_jy >= 0 || o->noise_jy == -1) || !(o->gain_level >= 0) || !(o->pace >= 0) ||
	    !(o->jitter_s >= 0) || o->jitter_s > 3600) {
		snprintf(err, SIM_ERRLEN, "option value out of range");
		return EX_USAGE;
	}
	s->nbls = o->nants * (o->nants + 1) / 2;
	s->nfreq = o->nsub * o->nchan;
	s->npol = 2;
	s->lat = SIM_LAT_DEG * M_PI / 180;
	s->lon = SIM_LON_DEG * M_PI / 180;
	s->dec = o->dec_deg * M_PI / 180;
	s->chan_width = SIM_BAND_HZ / s->nfreq;
	if (o->noise_jy < 0)
		s->o.noise_jy = SIM_SEFD_JY / sqrt(2 * s->chan_width * SIM_TINT_S);
	na = (size_t)o->nants;
	nf = (size_t)s->nfreq;
	s->freq = xcalloc(nf, sizeof(double), &bad);
	s->enu = xcalloc(na * 3, sizeof(double), &bad);
	s->ecef = xcalloc(na * 3, sizeof(double), &bad);
	s->ant_num = xcalloc(na, sizeof(int), &bad);
	s->a1 = xcalloc((size_t)s->nbls, sizeof(int), &bad);
	s->a2 = xcalloc((size_t)s->nbls, sizeof(int), &bad);
	s->uvw = xcalloc((size_t)s->nbls * 3, sizeof(double), &bad);
	s->gain = xcalloc(na * 2, sizeof *s->gain, &bad);
	s->groups = xcalloc((size_t)o->ngroups, sizeof *s->groups, &bad);
	s->g = xcalloc(na * 2 * (size_t)o->nchan, sizeof(double complex), &bad);
	s->autosky = xcalloc((size_t)o->nchan, sizeof(double), &bad);
	s->acc = xcalloc((size_t)o->nchan * 2, sizeof(double complex), &bad);
	s->scr = xcalloc((size_t)o->nchan * 2, sizeof(double), &bad);
	if (bad)
		goto nomem;
	for (int j = 0; j < s->nfreq; j++)
		s->freq[j] = SIM_F_TOP_HZ - (j + 0.5) * s->chan_width;
	if (o->layout == SIM_L_UVH5) {
		sim_layout(o->nants, s->enu);
		for (int a = 0; a < o->nants; a++)
			s->ant_num[a] = a;
	} else {
		double *ste = xcalloc(SIM_NSTATIONS * 3, sizeof(double), &bad);
		s->st_ecef = xcalloc(SIM_NSTATIONS * 3, sizeof(double), &bad);
		if (bad) {
			free(ste);
			goto nomem;
		}
		if (sim_layout_dsa110(o->nants, s->lat, s->lon, SIM_ALT_M, ste, s->ant_num) < 0) {
			free(ste);
			snprintf(err, SIM_ERRLEN, "the DSA-110 layout has at most %d antennas (-a)",
			    SIM_NSTATIONS);
			return EX_USAGE;
		}
		for (int k = 0; k < SIM_NSTATIONS; k++)
			sim_enu_to_ecef(s->lat, s->lon, ste + 3 * k, s->st_ecef + 3 * k);
		for (int a = 0; a < o->nants; a++)
			memcpy(s->enu + 3 * a, ste + 3 * s->ant_num[a], 3 * sizeof(double));
		free(ste);
	}
	for (int a = 0; a < o->nants; a++)
		sim_enu_to_ecef(s->lat, s->lon, s->enu + 3 * a, s->ecef + 3 * a);
	for (int a = 0, b = 0; a < o->nants; a++)
		for (int c = a; c < o->nants; c++, b++) {
			double d[3];
			s->a1[b] = a;
			s->a2[b] = c;
			for (int k = 0; k < 3; k++)
				d[k] = s->enu[3 * c + k] - s->enu[3 * a + k];
			sim_uvw_meridian(s->lat, s->dec, d, s->uvw + 3 * b);
		}

	/* Calibrator: its catalogue entry sets the pointing (unless -d) and
	 * the start time. */
	if (o->calname) {
		if ((st = read_catalogue(s, o->catalogue, o->calname, err)))
			return st;
		snprintf(s->calname, sizeof s->calname, "%s", o->calname);
		if (!o->dec_given) {
			s->dec = s->src[0].dec;
			s->o.dec_deg = s->dec * 180 / M_PI;
			for (int b = 0; b < s->nbls; b++) {
				double d[3];
				for (int k = 0; k < 3; k++)
					d[k] = s->enu[3 * s->a2[b] + k] - s->enu[3 * s->a1[b] + k];
				sim_uvw_meridian(s->lat, s->dec, d, s->uvw + 3 * b);
			}
		}
	}
	gdur = o->ntimes * SIM_TINT_S;
	s->t0_unix = o->calname ? transit_start(s, s->src[0].ra, s->src[0].dec) : o->start_unix;
	if (o->calname && !o->dec_given) {
		/* Point at the calibrator's CIRS declination at its transit. */
		double ra, tr = s->t0_unix + (o->cal_group + 0.5) * o->ntimes * SIM_TINT_S;
		astro_icrs_to_cirs(sim_jd(tr), s->src[0].ra, s->src[0].dec, &ra, &s->dec);
		s->o.dec_deg = s->dec * 180 / M_PI;
		for (int b = 0; b < s->nbls; b++) {
			double d[3];
			for (int k = 0; k < 3; k++)
				d[k] = s->enu[3 * s->a2[b] + k] - s->enu[3 * s->a1[b] + k];
			sim_uvw_meridian(s->lat, s->dec, d, s->uvw + 3 * b);
		}
	}
	/* Jitter must keep groups apart: at most a third of a group. */
	jit = floor(o->jitter_s);
	if (jit > floor(gdur / 3))
		jit = floor(gdur / 3);
	s->o.jitter_s = jit;
	sim_rng_seed(&r, o->seed, 3, 0, 0);
	for (int gi = 0; gi < o->ngroups; gi++) {
		struct sim_group *g = &s->groups[gi];
		struct tm tm;
		time_t tt;

		g->start_unix = s->t0_unix + gi * gdur;
		g->sb_unix = calloc((size_t)o->nsub, sizeof(long));
		if (!g->sb_unix)
			goto nomem;
		for (int sb = 0; sb < o->nsub; sb++) {
			long j = (long)floor(sim_rng_uniform(&r) * (jit + 1));
			g->sb_unix[sb] = (long)floor(g->start_unix) + (j > jit ? (long)jit : j);
		}
		g->name_unix = g->sb_unix[0];
		tt = (time_t)g->name_unix;
		gmtime_r(&tt, &tm);
		strftime(g->id, sizeof g->id, "%Y%m%dT%H%M%S", &tm);
	}

	if (o->srcfile && (st = read_catalogue(s, o->srcfile, NULL, err)))
		return st;
	sim_rng_seed(&r, o->seed, 1, 0, 0);
	for (int gi = 0; gi < o->ngroups; gi++) {
		double mid = s->groups[gi].start_unix + gdur / 2;
		if (random_sources(s, gi, sim_lst(mid, s->lon), &r) < 0)
			goto nomem;
	}
	make_gains(s);
	s->act = xcalloc((size_t)s->nsrcs, sizeof(int), &bad);
	s->lmn = xcalloc((size_t)s->nsrcs * 4, sizeof(double), &bad);
	s->amp = xcalloc((size_t)s->nsrcs * (size_t)o->nchan, sizeof(double), &bad);
	if (bad)
		goto nomem;
	return 0;
nomem:
	snprintf(err, SIM_ERRLEN, "out of memory");
	return EX_OSERR;
}

void sim_free(struct sim *s)
{
	if (s->groups)
		for (int gi = 0; gi < s->o.ngroups; gi++)
			free(s->groups[gi].sb_unix);
	free(s->groups);
	free(s->freq);
	free(s->enu);
	free(s->ecef);
	free(s->ant_num);
	free(s->st_ecef);
	free(s->a1);
	free(s->a2);
	free(s->uvw);
	free(s->src);
	free(s->gain);
	free(s->act);
	free(s->lmn);
	free(s->amp);
	free(s->g);
	free(s->autosky);
	free(s->acc);
	free(s->scr);
	memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------- visibilities */

void sim_apparent(const struct sim *s, struct sim_source *x, int gi)
{
	if (x->app_group == gi + 1)
		return;
	astro_icrs_to_cirs(sim_jd(s->groups[gi].start_unix + s->o.ntimes * SIM_TINT_S / 2),
	    x->ra, x->dec, &x->ra_app, &x->dec_app);
	x->app_group = gi + 1;
}

/* Per integration: source direction cosines and distance from the
 * pointing (lmn[4k..4k+3] = l, m, n, theta) and the sources that matter:
 * those above 1e-6 Jy apparent at either band edge. */
static void prepare(struct sim *s, int gi, int t)
{
	double lst = sim_lst(sim_time(s, gi, t), s->lon);
	int nf = s->nfreq;

	s->nact = 0;
	for (int k = 0; k < s->nsrcs; k++) {
		double *p = s->lmn + 4 * k;
		sim_apparent(s, &s->src[k], gi);
		sim_lmn(s->src[k].ra_app, s->src[k].dec_app, lst, s->dec, &p[0], &p[1], &p[2]);
		p[3] = theta_of(p[0], p[1], p[2]);
		if (p[2] <= 0 ||
		    (sim_flux(&s->src[k], s->freq[nf - 1]) * sim_beam(p[3], s->freq[nf - 1]) < 1e-6 &&
		    sim_flux(&s->src[k], s->freq[0]) * sim_beam(p[3], s->freq[0]) < 1e-6))
			continue;
		s->act[s->nact++] = k;
	}
	s->cur_group = gi;
	s->cur_time = t;
}

/*
 * acc[2c], acc[2c+1] = sum over active sources of amp[q][c] times the
 * fringe phasor exp(-2 pi i (u l + v m + w (n - 1)) f / c) of baseline b
 * for the nchan channels from global channel j0. The phasor advances by
 * one complex multiplication per channel (the channels are equally
 * spaced), in four interleaved lanes (stride 4 channels) so the
 * recurrences run in parallel: two sincos per baseline and source, none
 * per sample.
 */
static void fringes(struct sim *s, int b, int j0, double *acc)
{
	int nc = s->o.nchan, c4 = nc & ~3;
	double *are = s->scr, *aim = s->scr + nc, df = -s->chan_width;
	const double *uvw = s->uvw + 3 * b;

	for (int c = 0; c < nc; c++)
		are[c] = aim[c] = 0;
	for (int q = 0; q < s->nact; q++) {
		const double *p = s->lmn + 4 * s->act[q];
		const double *amp = s->amp + (size_t)q * nc;
		double tau = -2 * M_PI * (uvw[0] * p[0] + uvw[1] * p[1] + uvw[2] * (p[2] - 1)) / SIM_C;
		double zr[4], zi[4], sr, si, s4r, s4i, x;
		int c;

		sincos(tau * s->freq[j0], &zi[0], &zr[0]);
		sincos(tau * df, &si, &sr);
		for (int l = 1; l < 4; l++) {
			zr[l] = zr[l - 1] * sr - zi[l - 1] * si;
			zi[l] = zr[l - 1] * si + zi[l - 1] * sr;
		}
		s4r = sr * sr - si * si;
		s4i = 2 * sr * si;
		x = s4r * s4r - s4i * s4i;
		s4i = 2 * s4r * s4i;
		s4r = x;
		for (c = 0; c < c4; c += 4) {
			for (int l = 0; l < 4; l++) {
				double nr = zr[l] * s4r - zi[l] * s4i;
				are[c + l] += amp[c + l] * zr[l];
				aim[c + l] += amp[c + l] * zi[l];
				zi[l] = zr[l] * s4i + zi[l] * s4r;
				zr[l] = nr;
			}
		}
		for (int l = 0; c < nc; c++, l++) {
			are[c] += amp[c] * zr[l];
			aim[c] += amp[c] * zi[l];
		}
	}
	for (int c = 0; c < nc; c++) {
		acc[2 * c] = are[c];
		acc[2 * c + 1] = aim[c];
	}
}

int sim_visibilities(struct sim *s, int gi, int t, int sb, int nan_fault, float complex *out)
{
	int nc = s->o.nchan, j0 = sb * nc;
	double sigma = s->o.noise_jy;
	double *acc = (double *)s->acc;  /* re, im pairs */
	struct sim_rng r;

	double tr = sim_time(s, gi, t) - s->t0_unix;

	if (s->cur_group != gi || s->cur_time != t)
		prepare(s, gi, t);
	/* This subband's apparent spectra, autocorrelation sky, gains. */
	for (int c = 0; c < nc; c++)
		s->autosky[c] = SIM_SEFD_JY;
	for (int q = 0; q < s->nact; q++) {
		const struct sim_source *src = &s->src[s->act[q]];
		double th = s->lmn[4 * s->act[q] + 3];
		for (int c = 0; c < nc; c++) {
			double a = sim_flux(src, s->freq[j0 + c]) * sim_beam(th, s->freq[j0 + c]);
			s->amp[(size_t)q * nc + c] = a;
			s->autosky[c] += a;
		}
	}
	for (int a = 0; a < s->o.nants * 2; a++)
		for (int c = 0; c < nc; c++)
			s->g[(size_t)a * nc + c] = sim_gain_eval(&s->gain[a], s->freq[j0 + c], tr);
	if (!zready)
		zig_init();
	sim_rng_seed(&r, s->o.seed, 4 + (uint64_t)gi, (uint64_t)t, (uint64_t)sb);
	for (int b = 0; b < s->nbls; b++) {
		int a1 = s->a1[b], a2 = s->a2[b];
		float *o = (float *)(out + (size_t)b * nc * 2);

		if (a1 == a2) {
			for (int k = 0; k < nc; k++) {
				acc[2 * k] = s->autosky[k];
				acc[2 * k + 1] = 0;
			}
		} else {
			fringes(s, b, j0, acc);
		}
		for (int c = 0; c < nc; c++) {
			for (int pol = 0; pol < 2; pol++) {
				const double complex *g1 = s->g + ((size_t)a1 * 2 + pol) * nc + c;
				const double complex *g2 = s->g + ((size_t)a2 * 2 + pol) * nc + c;
				double g1r = creal(*g1), g1i = cimag(*g1);
				double g2r = creal(*g2), g2i = -cimag(*g2);
				double gr = g1r * g2r - g1i * g2i, gim = g1r * g2i + g1i * g2r;
				double vr = acc[2 * c], vi = acc[2 * c + 1];
				if (sigma > 0) {
					double n1, n2;
					normal_pair(&r, &n1, &n2);
					vr += sigma * n1;
					if (a1 != a2)
						vi += sigma * n2;
				}
				if (a1 == a2)
					gim = 0; /* |g|^2 exactly real */
				o[4 * c + 2 * pol] = (float)(gr * vr - gim * vi);
				/* Written conjugated: the file convention (sim.h). */
				o[4 * c + 2 * pol + 1] = (float)-(gr * vi + gim * vr);
			}
		}
	}
	if (nan_fault && s->nbls > 1) {
		/* A few unflagged NaNs on the first cross-correlation. */
		float *o = (float *)(out + (size_t)1 * nc * 2);
		o[0] = o[1] = NAN;
		if (nc > 1)
			o[6] = NAN;
	}
	return 0;
}
