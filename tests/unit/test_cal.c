/*
 * test_cal.c: unit tests of the calibration library's pure parts.
 *
 * geom.c against closed-form known values (J2000.0 epoch and GMST, frame
 * round trips, uvw toward the zenith, the half-power point of the beam);
 * StEFCal on synthetic visibilities from random gains (exact recovery up
 * to one phase without noise, errors consistent with its own SNR with
 * noise, missing baselines and an antenna without data); the calibrator
 * catalogue (parsing, strict rejection with the line number, transit
 * search against geom_lst); the calibration table (write/read round trip
 * bit for bit, non-tables and missing files rejected with the documented
 * statuses); the registry and the fallback chain of cal_choose with rows
 * at chosen distances (ok, stale, last-good, none, missing files skipped,
 * rejected rows ignored, CAL_MAX_AGE_HOURS honoured).
 */
#include <complex.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "sci/calapply.h"
#include "sci/cal_catalog.h"
#include "sci/cal_registry.h"
#include "sci/cal_stefcal.h"
#include "sci/cal_table.h"
#include "core/cfg.h"
#include "core/fsx.h"
#include "sci/geom.h"

#include <hdf5.h>

#include "tap.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
	double u = uniform(), v = uniform();
	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * GEOM_PI * v);
}

static void test_geom(void)
{
	double jd, x[3] = {123.4, -567.8, 910.1}, enu[3], back[3], uvw[3];
	char id[16], iso[32];
	const char *end;

	ok(geom_jd(2000, 1, 1, 12, 0, 0) == 2451545.0, "geom_jd: J2000.0 is JD 2451545.0");
	ok(geom_jd(1858, 11, 17, 0, 0, 0) == GEOM_MJD0, "geom_jd: MJD 0 is 1858-11-17");
	ok(!geom_parse_stamp("2025-10-24T12:00:03", &jd, NULL) &&
	    fabs(jd - geom_jd(2025, 10, 24, 12, 0, 3)) < 1e-9, "parse ISO stamp");
	ok(!geom_parse_stamp("20251024T120003", &jd, NULL) &&
	    fabs(jd - geom_jd(2025, 10, 24, 12, 0, 3)) < 1e-9, "parse compact group id");
	ok(!geom_parse_stamp("2025-10-24T12:00:03_sb00.hdf5", &jd, &end) && !strcmp(end, "_sb00.hdf5"),
	    "parse stamp with trailing text, end pointer");
	ok(geom_parse_stamp("2025-10-24T12:00:03_sb00", &jd, NULL) < 0 &&
	    geom_parse_stamp("2025-13-24T12:00:03", &jd, NULL) < 0 &&
	    geom_parse_stamp("20251024 120003", &jd, NULL) < 0, "reject malformed stamps");
	geom_group_id(geom_jd(2025, 10, 24, 12, 0, 3) + 0.2 / GEOM_DAY_S, id);
	ok(!strcmp(id, "20251024T120003"), "group id formatting, rounded to the second");
	geom_iso(geom_jd(2024, 2, 29, 23, 59, 59.5), iso);
	ok(!strcmp(iso, "2024-02-29T23:59:59.500Z"), "ISO formatting on a leap day");
	ok(fabs(geom_gmst(2451545.0) - geom_wrap_2pi(280.46061837 * GEOM_DEG)) < 1e-12,
	    "GMST at J2000.0 is 280.46061837 deg");
	/* one sidereal day later the sidereal time is the same */
	ok(fabs(geom_wrap_pi(geom_gmst(2451545.0 + 1 / 1.00273781191135448) -
	    geom_gmst(2451545.0))) < 1e-6, "GMST repeats after a sidereal day");
	/* the local sidereal angle is the Earth rotation angle (IAU 2000:
	 * 0.7790572732640 turns at JD 2451545.0 UT1, UT1 = UTC here) plus the
	 * east longitude: the hour angle of a CIRS position */
	ok(fabs(geom_wrap_pi(geom_lst(2451545.0, -118.2825) - 0.7790572732640 * 2 * M_PI +
	    118.2825 * GEOM_DEG)) < 1e-9, "LST = Earth rotation angle + east longitude");
	geom_ecef_to_enu(x, 0.65, -2.06, enu);
	geom_enu_to_ecef(enu, 0.65, -2.06, back);
	ok(fabs(back[0] - x[0]) + fabs(back[1] - x[1]) + fabs(back[2] - x[2]) < 1e-9,
	    "ENU <-> ECEF round trip");
	ok(fabs(sqrt(enu[0] * enu[0] + enu[1] * enu[1] + enu[2] * enu[2]) -
	    sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])) < 1e-9, "ENU rotation keeps length");
	/* toward the zenith (HA 0, Dec = latitude) u = east, v = north, w = up */
	enu[0] = 3;
	enu[1] = 5;
	enu[2] = 7;
	geom_enu_to_uvw(enu, 0.65, 0, 0.65, uvw);
	ok(fabs(uvw[0] - 3) + fabs(uvw[1] - 5) + fabs(uvw[2] - 7) < 1e-12, "uvw toward the zenith");
	/* toward the pole w is the component along the Earth's axis */
	geom_enu_to_uvw(enu, 0.65, 1.3, GEOM_PI / 2, uvw);
	ok(fabs(uvw[2] - (cos(0.65) * 5 + sin(0.65) * 7)) < 1e-12, "w toward the pole");
	ok(fabs(geom_sep(0.1, 0.2, 0.1, 0.2 + 1e-7) - 1e-7) < 1e-15 &&
	    fabs(geom_sep(0, 0, GEOM_PI, 0) - GEOM_PI) < 1e-12, "angular separation");
	{
		double fwhm = 1.2 * GEOM_C / 1.4e9 / 4.65;
		ok(fabs(geom_pb(fwhm / 2, 1.4e9, 4.65) - 0.5) < 1e-12 && geom_pb(0, 1.4e9, 4.65) == 1,
		    "primary beam: 1 at the centre, 0.5 at half the FWHM");
	}
	{
		double l, m, n;
		geom_lmn(0.3 + 0.01, 0.5, 0.3, 0.5, &l, &m, &n);
		ok(l > 0 && fabs(l - cos(0.5) * sin(0.01)) < 1e-15 && fabs(l * l + m * m + n * n - 1) < 1e-12,
		    "direction cosines: l east for increasing RA, unit vector");
	}
}

/* Visibility sums for StEFCal from gains g, one point source of flux s,
 * nsamp samples of complex noise of variance 2 sigma^2; pairs with
 * drop(q, p) true are left out. */
static void make_sums(int n, const double complex *g, double s, double sigma, int nsamp,
    int (*drop)(int, int), double complex *C, double *D, double *A, double *K)
{
	memset(C, 0, sizeof *C * (size_t)n * n);
	memset(D, 0, sizeof *D * (size_t)n * n);
	memset(A, 0, sizeof *A * (size_t)n * n);
	memset(K, 0, sizeof *K * (size_t)n * n);
	for (int q = 0; q < n; q++)
		for (int p = q + 1; p < n; p++) {
			if (drop && drop(q, p))
				continue;
			for (int k = 0; k < nsamp; k++) {
				double complex v = g[q] * s * conj(g[p]) + sigma * (gauss() + I * gauss());
				C[q * n + p] += v * s;
				D[q * n + p] += s * s;
				A[q * n + p] += creal(v) * creal(v) + cimag(v) * cimag(v);
				K[q * n + p] += 1;
			}
			C[p * n + q] = conj(C[q * n + p]);
			D[p * n + q] = D[q * n + p];
			A[p * n + q] = A[q * n + p];
			K[p * n + q] = K[q * n + p];
		}
}

static int drop_some(int q, int p)
{
	return (q + 2 * p) % 5 == 0 || q == 7 || p == 7; /* antenna 7 has no data at all */
}

/* Largest |g e^{i phi} - t| over active antennas, phi the best common phase. */
static double err_up_to_phase(int n, const double complex *g, const double complex *t)
{
	double complex acc = 0;
	double e = 0;

	for (int p = 0; p < n; p++)
		if (g[p] != 0)
			acc += t[p] * conj(g[p]);
	for (int p = 0; p < n; p++)
		if (g[p] != 0 && cabs(g[p] * acc / cabs(acc) - t[p]) > e)
			e = cabs(g[p] * acc / cabs(acc) - t[p]);
	return e;
}

static void test_stefcal(void)
{
	enum { N = 16 };
	double complex g[N], t[N], C[N * N];
	double D[N * N], A[N * N], K[N * N], snr[N];
	struct stefcal_opts o = {200, 1e-10};
	struct stefcal_result r;
	int na;

	for (int p = 0; p < N; p++)
		t[p] = (0.5 + uniform()) * cexp(I * 2 * GEOM_PI * uniform());
	make_sums(N, t, 10, 0, 1, NULL, C, D, A, K);
	memset(g, 0, sizeof g);
	na = stefcal_solve(N, C, D, A, K, g, snr, &o, &r);
	ok(na == N && r.converged, "stefcal converges on noise-free data");
	ok(err_up_to_phase(N, g, t) < 1e-8, "stefcal recovers the gains up to one phase");
	ok(r.resid2 < 1e-12 * r.model2, "noise-free residual is zero");
	stefcal_reference(N, g, 3);
	ok(fabs(cimag(g[3])) < 1e-15 && creal(g[3]) > 0, "reference antenna made real positive");

	make_sums(N, t, 10, 0, 1, drop_some, C, D, A, K);
	memset(g, 0, sizeof g);
	na = stefcal_solve(N, C, D, A, K, g, snr, &o, &r);
	ok(na == N - 1 && g[7] == 0 && snr[7] == 0, "an antenna without baselines: inactive, g = 0");
	ok(r.converged && err_up_to_phase(N, g, t) < 1e-8, "missing baselines: still exact");

	/* noise: the error of each gain should match its own SNR */
	{
		double sigma = 1.0, worst = 0, sumz = 0;
		int nsamp = 20;

		make_sums(N, t, 10, sigma, nsamp, NULL, C, D, A, K);
		memset(g, 0, sizeof g);
		stefcal_solve(N, C, D, A, K, g, snr, &o, &r);
		ok(r.converged, "stefcal converges with noise");
		ok(fabs(r.sigma2 / (2 * sigma * sigma) - 1) < 0.1,
		    "noise variance estimated within 10%");
		{
			double complex acc = 0;
			for (int p = 0; p < N; p++)
				acc += t[p] * conj(g[p]);
			for (int p = 0; p < N; p++) {
				double e = cabs(g[p] * acc / cabs(acc) - t[p]);
				double z = e / (cabs(g[p]) / snr[p]);
				sumz += z * z;
				if (z > worst)
					worst = z;
			}
		}
		/* z^2 is chi^2 with 2 dof over 2 (mean 1); the common phase takes
		 * one dof out of the whole */
		ok(sumz / N > 0.3 && sumz / N < 2.5 && worst < 5, "errors consistent with the SNR");
	}
	ok(stefcal_solve(0, C, D, A, K, g, snr, &o, &r) < 0, "n = 0 refused");
}

static char tmpdir[] = "/tmp/test_cal.XXXXXX";

static void test_catalog(void)
{
	char path[256], err[256];
	struct cal_catalog c;
	const struct cal_source *s;
	double tj = 0, lo = geom_jd(2025, 10, 24, 0, 0, 0);
	int rc;

	snprintf(path, sizeof path, "%s/cal.csv", tmpdir);
	{
		const char *text = "# comment\n\n3C48,24.42208,33.15976,16.0,1400,-0.76\n"
		    " 3C286 , 202.78453 , 30.50916 , 14.9 , 1400 , -0.46\n";
		fsx_write_file(path, text, strlen(text), 0644);
	}
	rc = cal_catalog_load(path, &c, err, sizeof err);
	ok(rc == 0 && c.n == 2, "catalogue: two sources, comments and blanks skipped");
	s = cal_catalog_find(&c, "3c286");
	ok(s && s->ra_deg == 202.78453 && s->ref_freq_hz == 1.4e9 && s->alpha == -0.46,
	    "catalogue: case-insensitive find, fields, MHz to Hz");
	ok(fabs(cal_source_flux(s, 2.8e9) - 14.9 * pow(2, -0.46)) < 1e-12, "power-law flux");
	/* 3C48 transits once a sidereal day: search a whole day */
	s = cal_catalog_transit(&c, lo, lo + 1, -118.2825, 33.16, 3, &tj);
	{
		double ra = 0, dec = 0;
		if (s)
			cal_source_apparent(s, tj, &ra, &dec);
		ok(s && !strcmp(s->name, "3C48") && tj >= lo && tj <= lo + 1 &&
			fabs(geom_wrap_pi(geom_lst(tj, -118.2825) - ra)) < 1e-6 &&
			fabs(ra - 24.42208 * GEOM_DEG) > 1e-4,
		    "transit: 3C48 found, LST = its apparent (CIRS) RA, not the J2000 one");
	}
	ok(!cal_catalog_transit(&c, tj + 0.01, tj + 0.02, -118.2825, 33.16, 3, NULL),
	    "transit: none in a window after it");
	{
		/* group-long windows (309 s) with the transit 10 s inside
		 * either end, or 10 s outside: the planner's calls, where
		 * sources far from transit are skipped before their apparent
		 * place; the day-long search above skips none */
		double g = 309 / 86400.0, e = 10 / 86400.0, t1 = 0, t2 = 0;
		const struct cal_source *a1 = cal_catalog_transit(&c, tj - e, tj - e + g, -118.2825,
		    33.16, 3, &t1);
		const struct cal_source *a2 = cal_catalog_transit(&c, tj + e - g, tj + e, -118.2825,
		    33.16, 3, &t2);

		ok(a1 && a2 && fabs(t1 - tj) * 86400 < 1e-3 && fabs(t2 - tj) * 86400 < 1e-3 &&
			!cal_catalog_transit(&c, tj + e, tj + e + g, -118.2825, 33.16, 3, NULL) &&
			!cal_catalog_transit(&c, tj - e - g, tj - e, -118.2825, 33.16, 3, NULL),
		    "transit: a group-long window finds it 10 s inside either end, not 10 s outside");
	}
	ok(!cal_catalog_transit(&c, lo, lo + 1, -118.2825, 60, 3, NULL),
	    "transit: none far from the pointing declination");
	cal_catalog_free(&c);
	fsx_write_file(path, "3C48,24.4,33.1,16,1400,-0.7\n3C286,1,2,3\n", 41, 0644);
	rc = cal_catalog_load(path, &c, err, sizeof err);
	ok(rc == EX_DATAERR && strstr(err, "cal.csv:2: expected"), "catalogue: bad line named");
	fsx_write_file(path, "3C48,24.4,33.1,-16,1400,-0.7\n", 29, 0644);
	ok(cal_catalog_load(path, &c, err, sizeof err) == EX_DATAERR, "catalogue: negative flux");
	fsx_write_file(path, "# nothing\n", 10, 0644);
	ok(cal_catalog_load(path, &c, err, sizeof err) == EX_DATAERR, "catalogue: empty");
	snprintf(path, sizeof path, "%s/nosuch.csv", tmpdir);
	ok(cal_catalog_load(path, &c, err, sizeof err) == EX_NOINPUT, "catalogue: missing 66");
}

static void test_table(void)
{
	struct cal_table a, b;
	char path[256], err[CAL_ERRLEN];
	int same;
	size_t n;

	memset(&a, 0, sizeof a);
	a.ntimes = 3;
	a.nants = 5;
	a.nfreqs = 7;
	a.npols = 2;
	ok(cal_table_alloc(&a) == 0, "table alloc");
	n = (size_t)(a.ntimes * a.nants * a.nfreqs * a.npols);
	for (size_t i = 0; i < n; i++) {
		a.gains[i] = gauss() + I * gauss();
		a.flags[i] = uniform() < 0.3;
		a.snr[i] = (float)(100 * uniform());
	}
	for (int i = 0; i < a.nants * a.nfreqs * a.npols; i++)
		a.bandpass[i] = gauss() + I * gauss();
	for (int i = 0; i < a.ntimes * a.nants * a.npols; i++)
		a.tgain[i] = gauss() + I * gauss();
	for (int i = 0; i < a.nfreqs; i++)
		a.freq_array[i] = 1.3e9 + i * 244140.625;
	for (int i = 0; i < a.ntimes; i++) {
		a.times[i] = 2460973.5 + i * 1e-4;
		a.time_lo[i] = a.times[i] - 5e-5;
		a.time_hi[i] = a.times[i] + 5e-5;
	}
	for (int i = 0; i < a.nants; i++)
		a.antenna_numbers[i] = 100 + i;
	a.polarization_array[0] = -5;
	a.polarization_array[1] = -6;
	snprintf(a.calibrator, sizeof a.calibrator, "3C48");
	snprintf(a.group, sizeof a.group, "20251024T120007");
	snprintf(a.source, sizeof a.source, "products/x/vis.uvh5");
	a.history = strdup("solved\nby test");
	a.refant = 102;
	a.transit_mjd = 60972.5;
	a.mjd_start = 60972;
	a.mjd_end = 60973;
	a.frac_flagged = 0.125;
	a.median_snr = 42.5;
	a.residual_rms = 0.031;
	a.created = 1.7e9;
	a.frac_good_antpol = 0.7;
	for (int i = 0; i < a.nants * a.npols; i++)
		a.delay[i] = 1e-9 * gauss();
	a.antpol_status[2 * 1 + 0] = a.antpol_status[2 * 1 + 1] = CAL_AP_FLAGGED;
	a.antpol_status[2 * 3 + 1] = CAL_AP_NODELAY;
	a.antpol_status[2 * 4 + 0] = CAL_AP_NODATA;
	{
		char buf[256], tiny[30];
		ok(cal_antpol_summary(&a, buf, sizeof buf) == 3 &&
		    !strcmp(buf, "101 flagged on input; 103 pol -6 delay search failed"),
		    "antpol summary names the failed ones and why");
		cal_antpol_summary(&a, tiny, sizeof tiny);
		ok(!strcmp(tiny, "101 flagged on input..."), "antpol summary truncated with ...");
	}
	snprintf(path, sizeof path, "%s/t.cal.h5", tmpdir);
	ok(cal_table_write(path, &a, err) == 0, "table write");
	ok(cal_table_read(path, &b, err) == 0, "table read");
	same = b.ntimes == a.ntimes && b.nants == a.nants && b.nfreqs == a.nfreqs &&
	    b.npols == a.npols && !memcmp(a.gains, b.gains, n * sizeof *a.gains) &&
	    !memcmp(a.flags, b.flags, n) && !memcmp(a.snr, b.snr, n * sizeof *a.snr) &&
	    !memcmp(a.bandpass, b.bandpass, sizeof *a.bandpass * (size_t)(a.nants * a.nfreqs * a.npols)) &&
	    !memcmp(a.tgain, b.tgain, sizeof *a.tgain * (size_t)(a.ntimes * a.nants * a.npols)) &&
	    !memcmp(a.freq_array, b.freq_array, sizeof(double) * (size_t)a.nfreqs) &&
	    !memcmp(a.times, b.times, sizeof(double) * (size_t)a.ntimes) &&
	    !memcmp(a.time_hi, b.time_hi, sizeof(double) * (size_t)a.ntimes) &&
	    !memcmp(a.antenna_numbers, b.antenna_numbers, sizeof(int64_t) * (size_t)a.nants) &&
	    !memcmp(a.polarization_array, b.polarization_array, sizeof(int64_t) * 2);
	ok(same, "table round trip: arrays bit for bit");
	ok(!strcmp(b.calibrator, "3C48") && !strcmp(b.group, a.group) && !strcmp(b.source, a.source) &&
	    !strcmp(b.history, a.history) && b.refant == 102 && b.transit_mjd == a.transit_mjd &&
	    b.mjd_start == a.mjd_start && b.mjd_end == a.mjd_end && b.frac_flagged == 0.125 &&
	    b.median_snr == 42.5 && b.residual_rms == 0.031 && b.created == a.created,
	    "table round trip: attributes");
	ok(!memcmp(a.delay, b.delay, sizeof(double) * (size_t)(a.nants * a.npols)) &&
	    !memcmp(a.antpol_status, b.antpol_status, (size_t)(a.nants * a.npols)) &&
	    b.frac_good_antpol == 0.7, "table round trip: delays, antpol status, good fraction");
	cal_table_free(&b);
	{
		/* a table from before delays: still readable, good fraction unknown */
		hid_t fid = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
		int del = fid >= 0 && H5Ldelete(fid, "delay", H5P_DEFAULT) >= 0 &&
		    H5Ldelete(fid, "antpol_status", H5P_DEFAULT) >= 0 &&
		    H5Adelete(fid, "frac_good_antpol") >= 0;
		if (fid >= 0)
			H5Fclose(fid);
		ok(del && cal_table_read(path, &b, err) == 0 && isnan(b.frac_good_antpol) &&
		    b.delay[3] == 0 && b.antpol_status[2] == CAL_AP_GOOD &&
		    !memcmp(a.gains, b.gains, n * sizeof *a.gains), "a table without delays reads");
		cal_table_free(&b);
		struct cal_entry e;
		struct cfg c0 = {0};
		cal_entry_from_table(&e, &a, "t.cal.h5", "G", &c0);
		ok(!strcmp(e.status, "rejected") && !strcmp(e.reason, "70.0% of antenna-polarizations "
		    "good (min 90.0%): 101 flagged on input; 103 pol -6 delay search failed"),
		    "gate: too few good antenna-pols rejected, named");
		a.frac_good_antpol = NAN;
		cal_entry_from_table(&e, &a, "t.cal.h5", "G", &c0);
		ok(!strcmp(e.status, "good"), "gate: an older table without the figure passes");
		a.frac_good_antpol = 0.7;
		cal_table_write(path, &a, err);
	}
	{
		struct stat st;
		char t[300];
		snprintf(t, sizeof t, "%s.tmp.%ld", path, (long)getpid());
		ok(stat(t, &st) < 0, "no temporary left after a write");
	}
	snprintf(path, sizeof path, "%s/nosuch.cal.h5", tmpdir);
	ok(cal_table_read(path, &b, err) == EX_NOINPUT, "table: missing 66");
	snprintf(path, sizeof path, "%s/cal.csv", tmpdir);
	ok(cal_table_read(path, &b, err) == EX_DATAERR && strstr(err, "not an HDF5 file"),
	    "table: not HDF5 65");
	snprintf(path, sizeof path, "%s/nodir/t.cal.h5", tmpdir);
	ok(cal_table_write(path, &a, err) == EX_CANTCREAT, "table: missing directory 73");
	cal_table_free(&a);
}

static void touch(const char *home, const char *name)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", home, name);
	fsx_write_file(p, "x", 1, 0644);
}

static void put(sqlite3 *db, const char *grp, const char *path, double transit, double half,
    const char *status)
{
	struct cal_entry e;

	memset(&e, 0, sizeof e);
	snprintf(e.group, sizeof e.group, "%s", grp);
	snprintf(e.path, sizeof e.path, "%s", path);
	snprintf(e.calibrator, sizeof e.calibrator, "3C48");
	snprintf(e.status, sizeof e.status, "%s", status);
	e.transit_mjd = transit;
	e.mjd_start = transit - half;
	e.mjd_end = transit + half;
	ok(cal_registry_put(db, &e) == 0, "registry put");
}

/* calapply_gain_at against gains set by hand (JD times: ~1e-8 of a
 * 15-minute span is the resolution): amplitude and phase linear
 * in time between unflagged solutions (across the -pi/pi cut the short
 * way), a flagged one skipped, the nearest outside the span, -1 with none. */
static void test_interp(void)
{
	struct cal_table t;
	double complex g;

	memset(&t, 0, sizeof t);
	t.ntimes = 4;
	t.nants = 1;
	t.nfreqs = 1;
	t.npols = 2;
	ok(cal_table_alloc(&t) == 0, "interp: alloc");
	for (int i = 0; i < 4; i++)
		t.times[i] = 2460000.0 + i * 0.01;
	/* pol 0: amplitude 1 -> 3, phase 170 deg -> -170 deg (20 deg the short way) */
	t.gains[cal_idx(&t, 0, 0, 0, 0)] = 1 * cexp(I * 170 * M_PI / 180);
	t.gains[cal_idx(&t, 1, 0, 0, 0)] = 99;          /* flagged: skipped */
	t.flags[cal_idx(&t, 1, 0, 0, 0)] = 1;
	t.gains[cal_idx(&t, 2, 0, 0, 0)] = 3 * cexp(-I * 170 * M_PI / 180);
	t.gains[cal_idx(&t, 3, 0, 0, 0)] = 2;
	/* pol 1: every solution flagged */
	for (int i = 0; i < 4; i++)
		t.flags[cal_idx(&t, i, 0, 0, 1)] = 1;
	ok(calapply_gain_at(&t, 0, 0, 0, 2460000.005, &g) == 0 &&
	    fabs(cabs(g) - 1.5) < 1e-6 && fabs(carg(g) * 180 / M_PI - 175) < 1e-5,
	    "interp: a quarter of the way: amplitude 1.5, phase 175 deg");
	ok(calapply_gain_at(&t, 0, 0, 0, 2460000.015, &g) == 0 &&
	    fabs(cabs(g) - 2.5) < 1e-6 && fabs(carg(g) * 180 / M_PI + 175) < 1e-5,
	    "interp: across the cut: amplitude 2.5, phase -175 deg");
	ok(calapply_gain_at(&t, 0, 0, 0, 2460000.02, &g) == 0 && cabs(g - t.gains[cal_idx(&t, 2, 0,
	    0, 0)]) < 1e-15, "interp: at a solution, that solution");
	ok(calapply_gain_at(&t, 0, 0, 0, 2459999.0, &g) == 0 && cabs(g - t.gains[0]) < 1e-15 &&
	    calapply_gain_at(&t, 0, 0, 0, 2460001.0, &g) == 0 && cabs(g - 2) < 1e-15,
	    "interp: outside the span, the nearest");
	ok(calapply_gain_at(&t, 0, 0, 1, 2460000.01, &g) == -1 && g == 0,
	    "interp: no usable solution, -1");
	cal_table_free(&t);
}

static void test_registry(void)
{
	char home[256], p[512];
	struct cal_choice ch;
	sqlite3 *db;
	double m = 60973.0;
	int rc;

	snprintf(home, sizeof home, "%s/home", tmpdir);
	snprintf(p, sizeof p, "%s/state", home);
	fsx_mkdirs(p, 0755);
	snprintf(p, sizeof p, "%s/caltables", home);
	fsx_mkdirs(p, 0755);
	rc = cal_choose(home, m, &ch);
	ok(rc == EX_UNAVAILABLE && ch.level == CAL_LEVEL_NONE, "choose: no registry yet -> 69");
	snprintf(p, sizeof p, "%s/state/calibration.sqlite", home);
	ok(access(p, F_OK) < 0, "choose does not create the registry");
	db = cal_registry_open(home);
	ok(db != NULL, "registry open creates and migrates");
	put(db, "R", "caltables/R.cal.h5", m, 0.5, "rejected");
	touch(home, "caltables/R.cal.h5");
	rc = cal_choose(home, m, &ch);
	ok(rc == EX_UNAVAILABLE, "choose: rejected rows are never chosen");
	put(db, "L", "caltables/L.cal.h5", m - 10, 0.5, "good");
	touch(home, "caltables/L.cal.h5");
	rc = cal_choose(home, m, &ch);
	ok(rc == 0 && ch.level == CAL_LEVEL_LAST && !strcmp(ch.path, "caltables/L.cal.h5") &&
	    fabs(ch.age_hours - 240) < 1e-6, "choose: 10 days away -> last-good");
	put(db, "S", "caltables/S.cal.h5", m + 2, 0.5, "good");
	rc = cal_choose(home, m, &ch);
	ok(rc == 0 && ch.level == CAL_LEVEL_LAST && !strcmp(ch.path, "caltables/L.cal.h5"),
	    "choose: a row whose file is missing is skipped");
	touch(home, "caltables/S.cal.h5");
	rc = cal_choose(home, m, &ch);
	ok(rc == 0 && ch.level == CAL_LEVEL_STALE && !strcmp(ch.path, "caltables/S.cal.h5"),
	    "choose: 48 h away -> stale");
	snprintf(p, sizeof p, "%s/uvmake.conf", home);
	fsx_write_file(p, "CAL_MAX_AGE_HOURS=24\n", 21, 0644);
	rc = cal_choose(home, m, &ch);
	ok(rc == 0 && ch.level == CAL_LEVEL_LAST && !strcmp(ch.path, "caltables/S.cal.h5"),
	    "choose: CAL_MAX_AGE_HOURS=24 makes it last-good");
	unlink(p);
	put(db, "N", "caltables/N.cal.h5", m + 0.1, 0.05, "good"); /* near, not covering */
	put(db, "O", "caltables/O.cal.h5", m - 0.3, 0.5, "good");  /* covering */
	touch(home, "caltables/N.cal.h5");
	touch(home, "caltables/O.cal.h5");
	rc = cal_choose(home, m, &ch);
	ok(rc == 0 && ch.level == CAL_LEVEL_OK && !strcmp(ch.path, "caltables/O.cal.h5") &&
	    !strcmp(ch.entry.group, "O"), "choose: a covering window beats a nearer transit");
	put(db, "O", "caltables/O.cal.h5", m - 0.3, 0.5, "rejected");
	rc = cal_choose(home, m, &ch);
	ok(rc == 0 && ch.level == CAL_LEVEL_STALE && !strcmp(ch.path, "caltables/N.cal.h5"),
	    "choose: a re-solve that was rejected replaces the group's row");
	{
		struct cal_entry e;
		ok(cal_group_entry(home, "O", &e) == 0 && !strcmp(e.status, "rejected") &&
		    !strcmp(e.path, "caltables/O.cal.h5") && e.transit_mjd == m - 0.3,
		    "group entry: the row of a calibrator group");
		ok(cal_group_entry(home, "nosuch", &e) == EX_UNAVAILABLE, "group entry: none -> 69");
	}
	ok(cal_level_for(m, m - 1, m + 1, m, 72) == CAL_LEVEL_OK &&
	    cal_level_for(m + 2, m - 1, m + 1, m, 72) == CAL_LEVEL_STALE &&
	    cal_level_for(m + 4, m - 1, m + 1, m, 72) == CAL_LEVEL_LAST, "cal_level_for");
	ok(!strcmp(cal_level_name(CAL_LEVEL_LAST), "last-good") &&
	    !strcmp(cal_level_name(CAL_LEVEL_NONE), "none"), "level names");
	sqlite3_close(db);
}

/*
 * Registry failures are classified for the wrapper: busy is 75 (retried),
 * a corrupt registry 69 (waits; never 65, which would quarantine the
 * group's visibilities), never 70, which dead-letters the calibration of
 * every group that meets a passing condition (the disk-full issue).
 */
static void test_registry_errors(void)
{
	char home[256], p[512], page[4096];
	struct cal_choice ch;
	struct cal_entry e;
	sqlite3 *db, *lock;
	double m = 60973.0;
	int fd, rc;

	snprintf(home, sizeof home, "%s/home2", tmpdir);
	snprintf(p, sizeof p, "%s/state", home);
	fsx_mkdirs(p, 0755);
	snprintf(p, sizeof p, "%s/caltables", home);
	fsx_mkdirs(p, 0755);
	db = cal_registry_open(home);
	for (int i = 0; i < 40; i++) { /* rows beyond the first pages */
		char g[16];
		snprintf(g, sizeof g, "G%02d", i);
		put(db, g, "caltables/G.cal.h5", m - i, 0.5, "good");
	}
	touch(home, "caltables/G.cal.h5");
	sqlite3_close(db);
	snprintf(p, sizeof p, "%s/state/calibration.sqlite", home);

	/* another process holds the registry locked */
	sqlite3_open_v2(p, &lock, SQLITE_OPEN_READWRITE, NULL);
	sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL);
	rc = sqlite3_exec(lock, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;"
	    " UPDATE caltables SET created = 1", NULL, NULL, NULL);
	ok(rc == SQLITE_OK, "registry: locked exclusively by another connection");
	rc = cal_choose_db(db, home, m, 72, &ch);
	ok(rc == EX_TEMPFAIL, "registry busy: choose says 75 (retry), not 70");
	sqlite3_close(db);
	sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(lock);
	rc = cal_choose(home, m, &ch);
	ok(rc == 0 && !strcmp(ch.entry.group, "G00"),
	    "registry free again: chosen");

	/* every page but the schema's overwritten: opens, fails reading */
	memset(page, 0xa5, sizeof page);
	fd = open(p, O_WRONLY);
	for (off_t off = 4096; off < 6 * 4096; off += 4096)
		if (pwrite(fd, page, sizeof page, off) != (ssize_t)sizeof page)
			break;
	close(fd);
	rc = cal_choose(home, m, &ch);
	ok(rc == EX_UNAVAILABLE, "registry corrupt: choose says 69 (wait), not 65 or 70");
	rc = cal_group_entry(home, "G01", &e);
	ok(rc == EX_UNAVAILABLE, "registry corrupt: group entry says 69");
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_geom();
	test_stefcal();
	test_catalog();
	test_table();
	test_interp();
	test_registry();
	test_registry_errors();
	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
