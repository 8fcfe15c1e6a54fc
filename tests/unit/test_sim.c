/*
 * test_sim.c: unit tests of the simulator's model (src/lib/sim.c) against
 * independent computations: the visibilities of a few sources against a
 * direct evaluation of the SCIENCE.md formula (one cexp per sample, uvw
 * from the ECEF positions with the textbook hour-angle rotation, direction
 * cosines from unit vectors), a source at the phase centre giving its flux,
 * the uvw convention, gains, noise statistics and determinism, the layout,
 * frequencies, calibrator transit timing and fault parsing.
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sci/sim.h"
#include "sci/astro.h"

static int n_test, n_fail;

static void ok(int cond, const char *name)
{
	n_test++;
	if (!cond)
		n_fail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n_test, name);
}

static int setup(struct sim *s, int nants, int nsub, int nchan, int ntimes, int nsrc,
    double noise, double level, uint64_t seed)
{
	struct sim_opts o;
	char err[SIM_ERRLEN];
	int st;

	sim_opts_default(&o);
	o.nants = nants;
	o.nsub = nsub;
	o.nchan = nchan;
	o.ntimes = ntimes;
	o.nsrc = nsrc;
	o.noise_jy = noise;
	o.gain_level = level;
	o.seed = seed;
	o.outdir = "/nonexistent";
	st = sim_init(s, &o, err);
	if (st)
		fprintf(stderr, "# sim_init: %s\n", err);
	return st;
}

/* Independent LST (same definition, written out again). */
/* The meridian's CIRS RA: Earth rotation angle (IERS Conventions 2010,
 * eq. 5.15, UT1 = UTC) plus the longitude; written out here, not ERFA's. */
static double lst_of(double unix_s)
{
	double d = (unix_s - 946728000.0) / 86400.0;
	double turns = 0.7790572732640 + 0.00273781191135448 * d + fmod(d, 1.0);
	double x = fmod(turns * 2 * M_PI + SIM_LON_DEG * M_PI / 180, 2 * M_PI);
	return x < 0 ? x + 2 * M_PI : x;
}

/* uvw (m) of ECEF baseline d for hour angle H (Greenwich) and dec. */
static void uvw_ecef(const double *d, double H, double dec, double *uvw)
{
	uvw[0] = sin(H) * d[0] + cos(H) * d[1];
	uvw[1] = -sin(dec) * cos(H) * d[0] + sin(dec) * sin(H) * d[1] + cos(dec) * d[2];
	uvw[2] = cos(dec) * cos(H) * d[0] - cos(dec) * sin(H) * d[1] + sin(dec) * d[2];
}

/* Direction cosines from unit vectors. */
static void lmn_vec(double ra, double dec, double ra0, double dec0, double *lmn)
{
	double sv[3] = { cos(dec) * cos(ra), cos(dec) * sin(ra), sin(dec) };
	double e[3] = { -sin(ra0), cos(ra0), 0 };
	double nn[3] = { -sin(dec0) * cos(ra0), -sin(dec0) * sin(ra0), cos(dec0) };
	double p[3] = { cos(dec0) * cos(ra0), cos(dec0) * sin(ra0), sin(dec0) };

	lmn[0] = lmn[1] = lmn[2] = 0;
	for (int k = 0; k < 3; k++) {
		lmn[0] += sv[k] * e[k];
		lmn[1] += sv[k] * nn[k];
		lmn[2] += sv[k] * p[k];
	}
}

static double complex gain_direct(const struct sim_gain *g, double f, double t)
{
	double x = f - SIM_GAIN_FREF_HZ;
	double b = 1 + g->slope * x / SIM_GAIN_FREF_HZ +
	    g->ripple * cos(2 * M_PI * x / g->period_hz + g->rphase);
	return g->amp * b * cexp(I * (g->phi0 + 2 * M_PI * f * g->tau_s + g->rate_rad_s * t));
}

static void test_dft(void)
{
	struct sim s;
	int nc = 16, nsub = 3, worst_ok = 1, nchk = 0;
	double worst = 0;
	float complex *out;

	if (setup(&s, 12, nsub, nc, 3, 6, 0, 1, 7)) {
		ok(0, "dft: setup");
		return;
	}
	out = malloc(sizeof *out * (size_t)s.nbls * nc * 2);
	srand(12345);
	for (int t = 0; t < 3; t += 2)
		for (int sb = 0; sb < nsub; sb++) {
			double tc = sim_time(&s, 0, t), lst = lst_of(tc);
			double H = -(SIM_LON_DEG * M_PI / 180); /* GHA of the meridian */
			sim_visibilities(&s, 0, t, sb, 0, out);
			for (int trial = 0; trial < 60; trial++) {
				int b = rand() % s.nbls, c = rand() % nc, p = rand() % 2;
				int a1 = s.a1[b], a2 = s.a2[b];
				double f = SIM_F_TOP_HZ - (sb * nc + c + 0.5) * SIM_BAND_HZ / (nsub * nc);
				double d[3], uvw[3], scale = 0;
				double complex sum = 0, v;
				if (a1 == a2)
					continue;
				for (int k = 0; k < 3; k++)
					d[k] = s.ecef[3 * a2 + k] - s.ecef[3 * a1 + k];
				uvw_ecef(d, H, s.dec, uvw);
				for (int q = 0; q < s.nsrcs; q++) {
					double lmn[3], th, a;
					/* the simulator's CIRS place (checked against
					 * astropy in astrometry.bats) */
					lmn_vec(s.src[q].ra_app, s.src[q].dec_app, lst, s.dec, lmn);
					th = acos(lmn[2]);
					/* the simulator's default dish, in beam.c's
					 * closed form (sim_beam.c integrates it) */
					a = s.src[q].flux_jy * pow(f / s.src[q].ref_freq_hz, s.src[q].alpha) *
					    beam_pb(BEAM_TAPER, th, f, SIM_DIAM_M);
					/* File convention (pyuvdata, DSA-110 writer):
					 * exp(+2 pi i b.(s - s0) / lambda), b = pos2 - pos1. */
					sum += a * cexp(+2 * M_PI * I * (uvw[0] * lmn[0] + uvw[1] * lmn[1] +
					    uvw[2] * (lmn[2] - 1)) * f / SIM_C);
					scale += a;
				}
				v = conj(gain_direct(&s.gain[2 * a1 + p], f, tc - s.t0_unix)) *
				    gain_direct(&s.gain[2 * a2 + p], f, tc - s.t0_unix) * sum;
				scale *= cabs(gain_direct(&s.gain[2 * a1 + p], f, 0)) *
				    cabs(gain_direct(&s.gain[2 * a2 + p], f, 0));
				double e = cabs(out[((size_t)b * nc + c) * 2 + p] - v) / scale;
				if (e > worst)
					worst = e;
				if (e > 1e-5)
					worst_ok = 0;
				nchk++;
			}
		}
	printf("# dft: %d samples, worst relative error %.3g\n", nchk, worst);
	ok(worst_ok && nchk > 100, "visibilities match a direct Fourier evaluation to 1e-5");

	/* Autocorrelations: real, positive, |g|^2 (sum + SEFD). */
	sim_visibilities(&s, 0, 1, 1, 0, out);
	int aok = 1;
	for (int b = 0; b < s.nbls; b++) {
		if (s.a1[b] != s.a2[b])
			continue;
		for (int c = 0; c < nc; c++)
			for (int p = 0; p < 2; p++) {
				float complex x = out[((size_t)b * nc + c) * 2 + p];
				if (cimagf(x) != 0 || !(crealf(x) > SIM_SEFD_JY * 0.1))
					aok = 0;
			}
	}
	ok(aok, "autocorrelations are real and positive");
	free(out);
	sim_free(&s);
}

static void test_centre(void)
{
	struct sim s;
	int nc = 8, good = 1, real = 1;
	float complex *out;

	if (setup(&s, 7, 2, nc, 3, 0, 0, 0, 3)) {
		ok(0, "centre: setup");
		return;
	}
	/* One source exactly at the phase centre of integration 1. */
	s.nsrcs = 1;
	s.src = realloc(s.src, sizeof *s.src);
	memset(&s.src[0], 0, sizeof s.src[0]);
	s.src[0].ra_app = lst_of(sim_time(&s, 0, 1));   /* CIRS, group 0 */
	s.src[0].dec_app = s.dec;
	s.src[0].app_group = 1;
	s.src[0].flux_jy = 3.5;
	s.src[0].ref_freq_hz = 1.4e9;
	s.src[0].alpha = -0.7;
	s.act = realloc(s.act, sizeof(int));
	s.lmn = realloc(s.lmn, 4 * sizeof(double));
	s.amp = realloc(s.amp, sizeof(double) * (size_t)s.nfreq);
	s.cur_group = -1;
	out = malloc(sizeof *out * (size_t)s.nbls * nc * 2);
	for (int sb = 0; sb < 2; sb++) {
		sim_visibilities(&s, 0, 1, sb, 0, out);
		for (int b = 0; b < s.nbls; b++)
			for (int c = 0; c < nc; c++) {
				double f = s.freq[sb * nc + c];
				double want = 3.5 * pow(f / 1.4e9, -0.7) +
				    (s.a1[b] == s.a2[b] ? SIM_SEFD_JY : 0);
				for (int p = 0; p < 2; p++) {
					float complex x = out[((size_t)b * nc + c) * 2 + p];
					if (fabs(crealf(x) - want) > 1e-6 * want)
						good = 0;
					if (fabsf(cimagf(x)) > 1e-6f * (float)want)
						real = 0;
				}
			}
	}
	ok(good, "a source at the phase centre gives its flux density");
	ok(real, "a source at the phase centre gives a real visibility");
	free(out);
	sim_free(&s);
}

static void test_uvw(void)
{
	double lat = SIM_LAT_DEG * M_PI / 180, lon = SIM_LON_DEG * M_PI / 180;
	double e[3] = { 100, 0, 0 }, n[3] = { 0, 100, 0 }, uvw[3], x[3], u2[3];
	int good = 1;
	struct sim s;

	sim_uvw_meridian(lat, 0.5, e, uvw);
	ok(fabs(uvw[0] - 100) < 1e-9 && fabs(uvw[1]) < 1e-9 && fabs(uvw[2]) < 1e-9,
	    "an east baseline has u = length, v = w = 0");
	sim_uvw_meridian(lat, lat, n, uvw);
	ok(fabs(uvw[0]) < 1e-9 && fabs(uvw[1] - 100) < 1e-9 && fabs(uvw[2]) < 1e-9,
	    "a north baseline at the zenith has v = length");
	sim_uvw_meridian(lat, 0.3, n, uvw);
	ok(fabs(uvw[1] - 100 * cos(0.3 - lat)) < 1e-9 && fabs(uvw[2] - 100 * sin(0.3 - lat)) < 1e-9,
	    "a north baseline: v = L cos(dec - lat), w = L sin(dec - lat)");
	/* The ECEF rotation keeps lengths and puts up along the local vertical. */
	double up[3] = { 0, 0, 1 };
	sim_enu_to_ecef(lat, lon, up, x);
	ok(fabs(x[0] - cos(lat) * cos(lon)) < 1e-12 && fabs(x[1] - cos(lat) * sin(lon)) < 1e-12 &&
	    fabs(x[2] - sin(lat)) < 1e-12, "ENU up maps to the ECEF local vertical");

	if (setup(&s, 10, 1, 2, 2, 0, 0, 0, 1)) {
		ok(0, "uvw: setup");
		return;
	}
	for (int b = 0; b < s.nbls; b++) {
		double d[3];
		for (int k = 0; k < 3; k++)
			d[k] = s.ecef[3 * s.a2[b] + k] - s.ecef[3 * s.a1[b] + k];
		uvw_ecef(d, -lon, s.dec, u2);
		for (int k = 0; k < 3; k++)
			if (fabs(u2[k] - s.uvw[3 * b + k]) > 1e-6)
				good = 0;
		if (s.a1[b] > s.a2[b] || (b > 0 && s.a1[b] == s.a1[b - 1] && s.a2[b] != s.a2[b - 1] + 1))
			good = 0;
	}
	ok(good && s.nbls == 55, "uvw = pos(ant_2) - pos(ant_1) for HA 0 (ECEF check), ant_1 <= ant_2");
	sim_free(&s);
}

static void test_gains_noise(void)
{
	struct sim s, s2;
	int nc = 16, one = 1, same = 1, differ = 0;
	float complex *a, *b;
	double sr = 0, si = 0, sr2 = 0, si2 = 0, s4 = 0;
	long cnt = 0;

	if (setup(&s, 40, 2, nc, 2, 0, 2.5, 0, 11) || setup(&s2, 40, 2, nc, 2, 0, 2.5, 0, 11)) {
		ok(0, "noise: setup");
		return;
	}
	for (int q = 0; q < 32; q++)
		for (int j = 0; j < s.nfreq; j += 5)
			if (sim_gain_eval(&s.gain[q], s.freq[j], 1000) != 1)
				one = 0;
	ok(one, "-G 0 gives gains of exactly 1");
	a = malloc(sizeof *a * (size_t)s.nbls * nc * 2);
	b = malloc(sizeof *b * (size_t)s.nbls * nc * 2);
	sim_visibilities(&s, 0, 1, 1, 0, a);
	sim_visibilities(&s2, 0, 0, 0, 0, b); /* another order: no effect */
	sim_visibilities(&s2, 0, 1, 1, 0, b);
	for (size_t i = 0; i < (size_t)s.nbls * nc * 2; i++)
		if (memcmp(&a[i], &b[i], sizeof a[i]))
			same = 0;
	ok(same, "same seed gives identical visibilities whatever the order");
	for (int k = 0; k < s.nbls; k++) {
		if (s.a1[k] == s.a2[k])
			continue;
		for (int i = 0; i < nc * 2; i++) {
			float complex x = a[(size_t)k * nc * 2 + i];
			sr += crealf(x);
			si += cimagf(x);
			sr2 += crealf(x) * crealf(x);
			si2 += cimagf(x) * cimagf(x);
			s4 += pow(crealf(x) / 2.5, 4) + pow(cimagf(x) / 2.5, 4);
			cnt++;
		}
	}
	double rr = sqrt(sr2 / cnt), ri = sqrt(si2 / cnt);
	printf("# noise rms %.4f %.4f mean %.4f %.4f kurtosis %.3f over %ld\n", rr, ri, sr / cnt,
	    si / cnt, s4 / (2.0 * cnt), cnt);
	ok(fabs(rr - 2.5) < 0.05 && fabs(ri - 2.5) < 0.05 && fabs(sr / cnt) < 0.05 &&
	    fabs(si / cnt) < 0.05 && fabs(s4 / (2.0 * cnt) - 3) < 0.1,
	    "noise is Gaussian with rms noise_jy per real and imaginary part");
	sim_free(&s2);
	if (setup(&s2, 16, 2, nc, 2, 0, 2.5, 0, 12) == 0) {
		sim_visibilities(&s2, 0, 1, 1, 0, b);
		for (size_t i = 0; i < (size_t)s.nbls * nc * 2; i++)
			if (memcmp(&a[i], &b[i], sizeof a[i]))
				differ = 1;
		sim_free(&s2);
	}
	ok(differ, "a different seed gives different noise");
	sim_free(&s);

	/* With gains: visibilities of gain level 1 = gains x those of level 0. */
	struct sim g0, g1;
	int match = 1;
	if (setup(&g0, 8, 1, nc, 2, 4, 0, 0, 5) || setup(&g1, 8, 1, nc, 2, 4, 0, 1.5, 5)) {
		ok(0, "gains: setup");
		free(a);
		free(b);
		return;
	}
	sim_visibilities(&g0, 0, 1, 0, 0, a);
	sim_visibilities(&g1, 0, 1, 0, 0, b);
	for (int k = 0; k < g0.nbls; k++)
		for (int c = 0; c < nc; c++)
			for (int p = 0; p < 2; p++) {
				double f = g0.freq[c], t = sim_time(&g0, 0, 1) - g1.t0_unix;
				double complex gg = conj(gain_direct(&g1.gain[2 * g1.a1[k] + p], f, t)) *
				    gain_direct(&g1.gain[2 * g1.a2[k] + p], f, t);
				size_t i = ((size_t)k * nc + c) * 2 + p;
				if (cabs(gg * a[i] - b[i]) > 1e-5 * (cabs(gg) * cabs(a[i]) + 1e-3))
					match = 0;
			}
	ok(match, "gains multiply the model as conj(g1) g2 with the documented formula");
	int amp_spread = 0;
	for (int q = 0; q < 16; q++)
		if (fabs(g1.gain[q].amp - 1) > 0.01 && g1.gain[q].tau_s != 0)
			amp_spread++;
	ok(amp_spread > 8, "gain level 1.5 gives varied amplitudes and delays");
	sim_free(&g0);
	sim_free(&g1);
	free(a);
	free(b);
}

static void test_layout_freq(void)
{
	double enu[96 * 3], minsep = 1e9, emin = 0, emax = 0, nmax = 0;
	struct sim s;
	int desc = 1;

	sim_layout(96, enu);
	for (int i = 0; i < 96; i++) {
		for (int j = i + 1; j < 96; j++) {
			double d = hypot(enu[3 * i] - enu[3 * j], enu[3 * i + 1] - enu[3 * j + 1]);
			if (d < minsep)
				minsep = d;
		}
		emin = fmin(emin, enu[3 * i]);
		emax = fmax(emax, enu[3 * i]);
		nmax = fmax(nmax, enu[3 * i + 1]);
	}
	printf("# layout: E-W %.1f..%.1f m, N %.1f m, min separation %.2f m\n", emin, emax, nmax,
	    minsep);
	ok(minsep >= SIM_DIAM_M && emax - emin > 1100 && emax - emin < 1300 && nmax > 1200 &&
	    nmax < 1400, "layout is a T of ~1.2 km x ~1.3 km with no overlapping dishes");
	if (setup(&s, 4, 16, 48, 1, 0, 0, 0, 1)) {
		ok(0, "freq: setup");
		return;
	}
	for (int j = 1; j < s.nfreq; j++)
		if (!(s.freq[j] < s.freq[j - 1]))
			desc = 0;
	ok(desc && fabs(s.chan_width - 244140.625) < 1e-6 &&
	    fabs(s.freq[0] - (1499e6 - 122070.3125)) < 1e-3 &&
	    fabs(s.freq[s.nfreq - 1] - (1311.5e6 + 122070.3125)) < 1e-3,
	    "16 x 48 channels of 244.140625 kHz, 1311.5-1499 MHz, descending from sb00");
	sim_free(&s);
}

static void test_transit(void)
{
	char path[] = "/tmp/test_sim_cat.XXXXXX";
	int fd = mkstemp(path);
	const char *cat = "# name,ra,dec,flux,ref,alpha\n3C48,24.42208,33.15976,16.0,1400,-0.76\n"
			  "3C286,202.78453,30.50916,14.9,1400,-0.46\n";
	struct sim_opts o;
	struct sim s;
	char err[SIM_ERRLEN];

	if (fd < 0 || write(fd, cat, strlen(cat)) != (ssize_t)strlen(cat)) {
		ok(0, "transit: catalogue");
		return;
	}
	close(fd);
	sim_opts_default(&o);
	o.nants = 4;
	o.nsub = 1;
	o.nchan = 2;
	o.ngroups = 3;
	o.catalogue = path;
	o.calname = "3C286";
	o.cal_group = 1;
	o.outdir = "/nonexistent";
	if (sim_init(&s, &o, err)) {
		fprintf(stderr, "# %s\n", err);
		ok(0, "transit: init");
		unlink(path);
		return;
	}
	double mid = s.groups[1].start_unix + 24 * SIM_TINT_S / 2;
	double ra_app, dec_app;
	astro_icrs_to_cirs(sim_jd(mid), 202.78453 * M_PI / 180, 30.50916 * M_PI / 180, &ra_app,
	    &dec_app);
	double d = remainder(lst_of(mid) - ra_app, 2 * M_PI);
	ok(fabs(d) < 1e-7 && s.groups[0].start_unix >= o.start_unix &&
	    s.groups[0].start_unix < o.start_unix + 86400 &&
	    fabs(s.dec - dec_app) < 1e-9,
	    "the calibrator transits at the mid-time of its group, pointing at its dec");
	ok(s.nsrcs == 1 + 3 * 10 && s.src[0].is_cal && s.src[0].flux_jy == 14.9,
	    "the calibrator plus -N random sources per group");
	sim_free(&s);
	unlink(path);
}

static void test_faults_rng(void)
{
	struct sim_fault f;
	struct sim_rng r;
	double m = 0, v = 0, tail = 0;
	int n = 1000000;

	ok(sim_parse_fault("truncate:3", &f) == 0 && f.kind == SIM_F_TRUNCATE && f.sb == 3 &&
	    f.group == 0, "fault truncate:3");
	ok(sim_parse_fault("late:12@4", &f) == 0 && f.kind == SIM_F_LATE && f.sb == 12 &&
	    f.group == 4, "fault late:12@4");
	ok(sim_parse_fault("hostile@2", &f) == 0 && f.kind == SIM_F_HOSTILE && f.group == 2,
	    "fault hostile@2");
	ok(sim_parse_fault("truncate", &f) < 0 && sim_parse_fault("bogus:1", &f) < 0 &&
	    sim_parse_fault("nan:1@", &f) < 0 && sim_parse_fault("nan:x", &f) < 0 &&
	    sim_parse_fault("hostile:1", &f) < 0 && sim_parse_fault("flip:1@2x", &f) < 0,
	    "bad faults are refused");
	sim_rng_seed(&r, 42, 0, 0, 0);
	for (int i = 0; i < n; i++) {
		double x = sim_rng_normal(&r);
		m += x;
		v += x * x;
		if (fabs(x) > 3)
			tail++;
	}
	m /= n;
	v = v / n - m * m;
	printf("# normal: mean %.5f var %.5f P(|x|>3) %.5f\n", m, v, tail / n);
	ok(fabs(m) < 0.005 && fabs(v - 1) < 0.005 && fabs(tail / n - 0.0027) < 0.0004,
	    "ziggurat normal deviates: mean 0, variance 1, tails");
}

/* The simulator's dish (sim_beam.c: the aperture integrated numerically,
 * tabulated and interpolated) against beam.c's closed form of the same
 * aperture, code they do not share, from the axis to 40 deg and across
 * the band; and -B airy is beam.c's Airy pattern. */
static void test_beam(void)
{
	double worst = 0;

	sim_beam_use(BEAM_TAPER);
	for (double f = 1.3115e9; f <= 1.4995e9; f += 0.047e9)
		for (double d = 0; d <= 40; d += 0.0137) {
			double th = d * M_PI / 180;
			double e = fabs(sim_beam(th, f) - beam_pb(BEAM_TAPER, th, f, SIM_DIAM_M));
			if (e > worst)
				worst = e;
		}
	ok(worst < 1e-6, "sim beam (numerical aperture) = beam.c's closed form to 1e-6");
	sim_beam_use(BEAM_AIRY);
	ok(sim_beam(0.02, 1.4e9) == beam_pb(BEAM_AIRY, 0.02, 1.4e9, SIM_DIAM_M) &&
	    sim_beam(0.02, 1.4e9) < beam_pb(BEAM_TAPER, 0.02, 1.4e9, SIM_DIAM_M),
	    "sim -B airy: beam.c's Airy, narrower than the tapered dish");
	sim_beam_use(BEAM_TAPER);
}

int main(void)
{
	test_beam();
	test_dft();
	test_centre();
	test_uvw();
	test_gains_noise();
	test_layout_freq();
	test_transit();
	test_faults_rng();
	printf("1..%d\n", n_test);
	return n_fail ? 1 : 0;
}
