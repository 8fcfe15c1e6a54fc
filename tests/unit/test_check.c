/*
 * test_check.c: unit tests of the UVH5 checks (src/lib/check.c) on
 * synthetic headers and data blocks: a consistent header passes with no
 * message; each error is detected with its text; the soft problems
 * (uvw disagreeing with antenna positions, LST off, odd units, BDA-style
 * Nblts) are warnings, not errors; data checks find non-finite unflagged
 * samples and complex autos, and ignore flagged ones; the JSON report
 * escapes hostile names; chk_file classifies missing/unreadable/non-UVH5
 * files and accepts a file written by the UVH5 writer.
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uvh5/check.h"
#include "uvh5/uvh5.h"
#include "core/uvm.h"

#include "tap.h"

#define NANT 4
#define NT 3
#define NF 8
#define NP 2
#define NBL (NANT * (NANT + 1) / 2)
#define NBLT (NBL * NT)

static const double lat_deg = 37.2339, lon_deg = -118.2825;
static const double enu_pos[NANT][3] = {
	{ 0, 0, 0 }, { 30, 5, 0.5 }, { -12, 80, -1 }, { 200, -40, 2 },
};

/* ENU -> ECEF offset (transpose of the ECEF -> ENU rotation). */
static void enu_to_ecef(double lat, double lon, const double *e, double *x)
{
	double sl = sin(lat), cl = cos(lat), so = sin(lon), co = cos(lon);

	x[0] = -so * e[0] - sl * co * e[1] + cl * co * e[2];
	x[1] = co * e[0] - sl * so * e[1] + cl * so * e[2];
	x[2] = cl * e[1] + sl * e[2];
}

/* A consistent drift-scan header: 4 antennas numbered 10..13, autos and
 * crosses, 3 times, 8 descending channels, xx/yy, unprojected uvw. */
static void make_header(struct uvh5_header *h)
{
	double lat = lat_deg * M_PI / 180, lon = lon_deg * M_PI / 180;
	int a, b, t, k, row = 0;

	memset(h, 0, sizeof *h);
	h->Nants_data = NANT;
	h->Nants_telescope = NANT;
	h->Nbls = NBL;
	h->Nblts = NBLT;
	h->Nfreqs = NF;
	h->Npols = NP;
	h->Ntimes = NT;
	h->Nspws = 1;
	h->Nphase = 1;
	if (uvh5_header_alloc(h) < 0) {
		perror("uvh5_header_alloc");
		exit(1);
	}
	snprintf(h->telescope_name, sizeof h->telescope_name, "TEST");
	snprintf(h->instrument, sizeof h->instrument, "TEST");
	snprintf(h->vis_units, sizeof h->vis_units, "Jy");
	h->latitude = lat_deg;
	h->longitude = lon_deg;
	h->altitude = 1222;
	for (a = 0; a < NANT; a++) {
		h->antenna_numbers[a] = 10 + a;
		snprintf(h->antenna_names[a], sizeof h->antenna_names[a], "a%d", a);
		enu_to_ecef(lat, lon, enu_pos[a], h->antenna_positions + a * 3);
		h->antenna_diameters[a] = 4.65;
	}
	for (t = 0; t < NT; t++)
		for (a = 0; a < NANT; a++)
			for (b = a; b < NANT; b++, row++) {
				h->ant_1_array[row] = 10 + a;
				h->ant_2_array[row] = 10 + b;
				for (k = 0; k < 3; k++)
					h->uvw_array[row * 3 + k] = enu_pos[b][k] - enu_pos[a][k];
				h->time_array[row] = 2460973.0 + t * 12.884902 / 86400;
				h->lst_array[row] = chk_lst(h->time_array[row], lon);
				h->integration_time[row] = 12.884902;
				h->phase_center_id_array[row] = 0;
			}
	for (k = 0; k < NF; k++) {
		h->freq_array[k] = 1.499e9 - (k + 0.5) * 244140.625;
		h->channel_width[k] = 244140.625;
		h->flex_spw_id_array[k] = 0;
	}
	h->spw_array[0] = 0;
	h->polarization_array[0] = -5;
	h->polarization_array[1] = -6;
	h->phase_centers[0].id = 0;
	snprintf(h->phase_centers[0].name, sizeof h->phase_centers[0].name, "drift");
	snprintf(h->phase_centers[0].type, sizeof h->phase_centers[0].type, "unprojected");
}

/* Does any error (warning if warn) of r contain s? */
static int has(const struct chk_report *r, int warn, const char *s)
{
	int i, n = warn ? r->nwarn : r->nerr;

	for (i = 0; i < n; i++)
		if (strstr(warn ? r->warn[i] : r->err[i], s))
			return 1;
	return 0;
}

/* Check h and print its messages (for a failing test's diagnosis). */
static void run(const struct uvh5_header *h, struct chk_report *r)
{
	int i;

	chk_init(r);
	chk_header(h, r);
	for (i = 0; i < r->nerr; i++)
		printf("# error: %s\n", r->err[i]);
	for (i = 0; i < r->nwarn; i++)
		printf("# warning: %s\n", r->warn[i]);
}

/* Fresh header in the caller's h, mutate, check: an error containing s, status 65. */
#define EXPECT_ERROR(name, mutation, s)                                          \
	do {                                                                     \
		make_header(&h);                                                 \
		mutation;                                                        \
		run(&h, &r);                                                     \
		ok(r.nerr >= 1 && has(&r, 0, s) && r.status == EX_DATAERR, name); \
		uvh5_header_free(&h);                                            \
	} while (0)

/* Fresh header in the caller's h, mutate, check: no error, a warning containing s. */
#define EXPECT_WARNING(name, mutation, s)                                        \
	do {                                                                     \
		make_header(&h);                                                 \
		mutation;                                                        \
		run(&h, &r);                                                     \
		ok(r.nerr == 0 && r.status == 0 && has(&r, 1, s), name);         \
		uvh5_header_free(&h);                                            \
	} while (0)

static void test_header(void)
{
	struct chk_report r;
	struct uvh5_header h;
	int i;

	make_header(&h);
	run(&h, &r);
	ok(r.nerr == 0 && r.nwarn == 0 && r.status == 0, "consistent header: no error, no warning");
	ok(r.auto_rows == NANT * NT && r.uvw_mismatch_rows == 0 && r.Nbls == NBL,
	    "consistent header: counts filled");
	uvh5_header_free(&h);

	EXPECT_ERROR("Nants_data wrong", h.Nants_data = 3, "Nants_data is 3 but");
	EXPECT_ERROR("Nbls wrong", h.Nbls = 9, "Nbls is 9 but the data hold 10 baselines");
	EXPECT_ERROR("Ntimes wrong", h.Ntimes = 4, "Ntimes is 4 but time_array holds 3");
	EXPECT_ERROR("ant_2 not in antenna_numbers", h.ant_2_array[5] = 99,
	    "antenna 99 (in ant_1_array/ant_2_array) is not in antenna_numbers: 1 rows");
	EXPECT_ERROR("negative antenna number", h.antenna_numbers[0] = -1;
	    for (i = 0; i < NBLT; i++) {
		    if (h.ant_1_array[i] == 10) h.ant_1_array[i] = -1;
		    if (h.ant_2_array[i] == 10) h.ant_2_array[i] = -1;
	    }, "antenna_numbers out of range");
	EXPECT_ERROR("polarization code 0", h.polarization_array[1] = 0, "polarization code 0 is not valid");
	EXPECT_ERROR("polarization code 5", h.polarization_array[1] = 5, "polarization code 5 is not valid");
	EXPECT_ERROR("polarization code -9", h.polarization_array[0] = -9, "polarization code -9 is not valid");
	EXPECT_ERROR("auto with non-zero uvw", h.uvw_array[0 * 3 + 1] = 0.01,
	    "auto-correlations with non-zero uvw: 1 rows (first row 0");
	EXPECT_ERROR("cross with zero uvw", h.uvw_array[1 * 3] = h.uvw_array[1 * 3 + 1] =
	    h.uvw_array[1 * 3 + 2] = 0, "cross-correlations with zero uvw: 1 rows (first row 1, antennas 10-11)");
	EXPECT_ERROR("uvw not finite", h.uvw_array[4] = NAN, "uvw_array not finite");
	EXPECT_ERROR("frequency not monotonic", h.freq_array[4] = h.freq_array[2],
	    "frequencies not strictly monotonic in spectral window 0 at channel 4");
	EXPECT_ERROR("repeated frequency", h.freq_array[5] = h.freq_array[4],
	    "frequencies not strictly monotonic in spectral window 0 at channel 5");
	EXPECT_ERROR("negative frequency", h.freq_array[7] = -1, "freq_array not finite and positive at channel 7");
	EXPECT_ERROR("channel width nan", h.channel_width[3] = NAN, "channel_width not finite: 1 channels");
	EXPECT_ERROR("flex_spw_id not in spw_array", h.flex_spw_id_array[6] = 3,
	    "flex_spw_id_array value 3 (channel 6) is not in spw_array");
	EXPECT_ERROR("time not a plausible JD", h.time_array[7] = 60973.0; h.Ntimes = 4,
	    "time_array outside JD 2400000-2500000: 1 rows (first row 7");
	EXPECT_ERROR("time nan", h.time_array[0] = NAN; h.Ntimes = 4, "time_array outside JD");
	EXPECT_ERROR("lst nan", h.lst_array[3] = NAN, "lst_array not finite: 1 rows");
	EXPECT_ERROR("integration_time inf", h.integration_time[3] = INFINITY,
	    "integration_time not finite: 1 rows");
	EXPECT_ERROR("phase centre id unknown", h.phase_center_id_array[2] = 7,
	    "phase_center_id_array value 7 is not in the phase centre catalogue: 1 rows");
	EXPECT_ERROR("Nphase against catalogue", h.Nphase = 2,
	    "Nphase is 2 but the phase centre catalogue has 1 entries");
	EXPECT_ERROR("latitude out of range", h.latitude = 91, "telescope location not valid");
	EXPECT_ERROR("antenna position nan", h.antenna_positions[5] = NAN,
	    "antenna_positions not finite or beyond 1e8 m: 1 values");
	/* Warnings, not errors. */
	EXPECT_WARNING("uvw off by 20 m is a warning", h.uvw_array[5 * 3] += 20,
	    "uvw disagree with antenna positions by more than 1 m in 1 of 30 rows (largest 20 m)");
	EXPECT_WARNING("uvw with opposite sign is a warning",
	    for (i = 0; i < NBLT * 3; i++) h.uvw_array[i] = -h.uvw_array[i],
	    "; uvw have the opposite sign");
	EXPECT_WARNING("lst off is a warning", h.lst_array[8] += 0.01,
	    "lst_array disagrees with time_array and longitude by more than 0.001 rad in 1 rows");
	EXPECT_WARNING("unknown vis_units is a warning", snprintf(h.vis_units, sizeof h.vis_units, "furlongs"),
	    "vis_units 'furlongs' is not one of");
	EXPECT_WARNING("duplicate polarization is a warning", h.polarization_array[1] = -5,
	    "polarization code -5 appears twice");
	/* An unused fifth antenna reusing number 12. */
	make_header(&h);
	h.Nants_telescope = 5;
	h.antenna_numbers = realloc(h.antenna_numbers, 5 * sizeof *h.antenna_numbers);
	h.antenna_names = realloc(h.antenna_names, 5 * sizeof *h.antenna_names);
	h.antenna_positions = realloc(h.antenna_positions, 15 * sizeof *h.antenna_positions);
	h.antenna_diameters = realloc(h.antenna_diameters, 5 * sizeof *h.antenna_diameters);
	h.antenna_numbers[4] = 12;
	snprintf(h.antenna_names[4], sizeof h.antenna_names[4], "dup");
	memset(h.antenna_positions + 12, 0, 3 * sizeof *h.antenna_positions);
	h.antenna_diameters[4] = 4.65;
	run(&h, &r);
	ok(r.nerr == 0 && has(&r, 1, "antenna_numbers has 1 duplicate entries"),
	    "duplicate antenna number is a warning");
	uvh5_header_free(&h);
	EXPECT_WARNING("negative channel width is a warning", h.channel_width[0] = -244140.625,
	    "channel_width not positive: 1 channels");
	EXPECT_WARNING("zero integration time is a warning", h.integration_time[0] = 0,
	    "integration_time not positive: 1 rows");

	/* BDA: Nblts != Nbls * Ntimes is fine (drop two rows of the last time). */
	make_header(&h);
	h.Nblts = NBLT - 2;
	run(&h, &r);
	ok(r.nerr == 0 && r.nwarn == 0, "Nblts != Nbls * Ntimes (BDA) is not an error");
	h.Nblts = NBLT;
	uvh5_header_free(&h);

	/* Ascending frequencies pass too; two spws each monotonic, overall not. */
	make_header(&h);
	for (i = 0; i < NF; i++)
		h.freq_array[i] = 1.3e9 + i * 1e6;
	run(&h, &r);
	ok(r.nerr == 0, "ascending frequencies are fine");
	uvh5_header_free(&h);
	{
		make_header(&h);
		h.Nspws = 2;
		free(h.spw_array);
		h.spw_array = malloc(2 * sizeof *h.spw_array);
		h.spw_array[0] = 1;
		h.spw_array[1] = 2;
		h.flex_spw = 1;
		for (i = 0; i < NF; i++) {
			h.flex_spw_id_array[i] = i < 4 ? 2 : 1;
			h.freq_array[i] = i < 4 ? 1.4e9 - i * 1e6 : 1.3e9 - i * 1e6;
		}
		run(&h, &r);
		ok(r.nerr == 0, "two spectral windows, each monotonic: fine");
		h.freq_array[6] = 1.5e9;
		run(&h, &r);
		ok(has(&r, 0, "not strictly monotonic in spectral window 1 at channel 6"),
		    "non-monotonic inside the second window: error");
		h.spw_array[1] = 1;
		run(&h, &r);
		ok(has(&r, 0, "spw_array has duplicate spectral window 1"), "duplicate spw: error");
		uvh5_header_free(&h);
	}

	/* Meridian-phased drift scan (uvm-sim): uvw for HA = 0, Dec = 33.16 deg. */
	make_header(&h);
	uvh5_header_set_keyword(&h, "phasing", "meridian");
	uvh5_header_set_keyword(&h, "phase_dec_deg", "33.16");
	run(&h, &r);
	ok(r.nerr == 0 && has(&r, 1, "disagree with antenna positions"),
	    "meridian keyword with ENU uvw: warning");
	{
		double la = lat_deg * M_PI / 180, dec = 33.16 * M_PI / 180;

		for (i = 0; i < NBLT; i++) {
			double *w = h.uvw_array + i * 3, e = w[0], nn = w[1], u = w[2];
			double x = -sin(la) * nn + cos(la) * u, z = cos(la) * nn + sin(la) * u;

			w[0] = e;
			w[1] = -sin(dec) * x + cos(dec) * z;
			w[2] = cos(dec) * x + sin(dec) * z;
		}
	}
	run(&h, &r);
	ok(r.nerr == 0 && r.nwarn == 0, "meridian keyword with meridian uvw: clean");
	uvh5_header_free(&h);

	/* Phased (sidereal) data: compared by length only. */
	make_header(&h);
	snprintf(h.phase_centers[0].type, sizeof h.phase_centers[0].type, "sidereal");
	for (i = 0; i < NBLT * 3; i += 3) {   /* rotate about w: lengths kept */
		double u = h.uvw_array[i], v = h.uvw_array[i + 1];

		h.uvw_array[i] = 0.6 * u - 0.8 * v;
		h.uvw_array[i + 1] = 0.8 * u + 0.6 * v;
	}
	run(&h, &r);
	ok(r.nerr == 0 && r.nwarn == 0, "sidereal: rotated uvw of the right length are fine");
	for (i = 5 * 3; i < 6 * 3; i++)    /* row 5 (11,12), 86 m: 10% longer */
		h.uvw_array[i] *= 1.1;
	run(&h, &r);
	ok(r.nerr == 0 && has(&r, 1, "uvw lengths disagree with antenna baseline lengths"),
	    "sidereal: a wrong length is a warning");
	uvh5_header_free(&h);

	/* Many errors: the first is kept first, all are counted. */
	make_header(&h);
	h.Nants_data = 1;
	h.polarization_array[0] = 9;
	h.time_array[0] = 0;
	run(&h, &r);
	ok(r.nerr_total >= 3 && strstr(r.err[0], "Nants_data") != NULL, "several errors all recorded");
	uvh5_header_free(&h);
}

static void test_lst(void)
{
	/* GMST at J2000.0 (JD 2451545.0 UT1) is 18.697374558 h. */
	double g = chk_lst(2451545.0, 0), want = 18.697374558 / 24 * 2 * M_PI;

	ok(fabs(g - want) < 1e-6, "chk_lst: GMST at J2000.0");
	g = chk_lst(2451545.0, -M_PI / 2);
	ok(fabs(g - (want - M_PI / 2)) < 1e-6, "chk_lst: adds east longitude");
}

static void test_data(void)
{
	struct uvh5_header h;
	struct chk_report r;
	struct chk_data d;
	int64_t n = (int64_t)NBLT * NF * NP, i;
	float complex *vis = malloc((size_t)n * sizeof *vis);
	uint8_t *flags = calloc((size_t)n, 1);
	float *ns = malloc((size_t)n * sizeof *ns);
	int64_t row;

	make_header(&h);
	for (row = 0; row < NBLT; row++)
		for (i = 0; i < NF * NP; i++)
			vis[row * NF * NP + i] = h.ant_1_array[row] == h.ant_2_array[row] ?
			    100.0f + (float)i : 1.0f + 2.0f * I;
	for (i = 0; i < n; i++)
		ns[i] = 1;

#define DATA_RUN()                                                      \
	do {                                                            \
		chk_init(&r);                                           \
		chk_data_begin(&d, &h);                                 \
		for (row = 0; row < NBLT; row += NBL)                   \
			chk_data_rows(&d, row, NBL, vis + row * NF * NP, \
			    flags + row * NF * NP, ns + row * NF * NP); \
		chk_data_end(&d, &r);                                   \
	} while (0)

	DATA_RUN();
	ok(r.nerr == 0 && r.nwarn == 0 && r.samples == n && r.flagged == 0, "clean data: no message");

	/* row 11 is (10,11) at time 1: channel 3, pol yy -> sample 11*16 + 3*2 + 1 */
	vis[11 * NF * NP + 3 * NP + 1] = NAN;
	DATA_RUN();
	ok(r.nerr == 1 && has(&r, 0, "non-finite unflagged visibilities: 1 samples "
	    "(first at row 11, channel 3, pol yy)") && r.nonfinite_unflagged == 1,
	    "unflagged nan: error with its place");
	vis[12 * NF * NP] = INFINITY * I;
	DATA_RUN();
	ok(has(&r, 0, "non-finite unflagged visibilities: 2 samples (first at row 11"),
	    "unflagged inf in the imaginary part counted");
	flags[11 * NF * NP + 3 * NP + 1] = 1;
	flags[12 * NF * NP] = 1;
	DATA_RUN();
	ok(r.nerr == 0 && r.nonfinite_flagged == 2 && r.flagged == 2, "flagged non-finite: fine, counted");

	/* row 0 is the auto (10,10) at time 0 */
	vis[0 * NF * NP + 2 * NP] = 100.0f + 0.5f * I;
	DATA_RUN();
	ok(r.nerr == 1 && has(&r, 0, "auto-correlations with non-zero imaginary part: 1 unflagged "
	    "samples (first at row 0, channel 2, pol xx; |imag/real| up to 0.005)"),
	    "complex auto: error");
	vis[0 * NF * NP + 2 * NP] = 100.0f + 1e-4f * I;    /* 1e-6 relative */
	DATA_RUN();
	ok(r.nerr == 0, "auto with rounding-size imaginary part: fine");
	vis[0 * NF * NP + 2 * NP] = 100.0f + 0.5f * I;
	flags[0 * NF * NP + 2 * NP] = 1;
	DATA_RUN();
	ok(r.nerr == 0, "flagged complex auto: fine");
	flags[0 * NF * NP + 2 * NP] = 0;
	h.polarization_array[0] = -7;    /* xy autos are complex by nature */
	DATA_RUN();
	ok(r.nerr == 0, "complex auto in a cross-hand pol (xy): fine");
	h.polarization_array[0] = -5;
	vis[0 * NF * NP + 2 * NP] = 100.0f;

	ns[40] = -1;
	DATA_RUN();
	ok(r.nerr == 0 && has(&r, 1, "nsamples negative or not finite: 1 unflagged samples"),
	    "negative nsamples: warning");
	ns[40] = 1;

	memset(flags, 1, (size_t)n);
	DATA_RUN();
	ok(r.nerr == 0 && has(&r, 1, "every sample is flagged") && r.flagged == n,
	    "all flagged: warning only");
	free(vis);
	free(flags);
	free(ns);
	uvh5_header_free(&h);
}

static void test_json(void)
{
	struct chk_report r;
	char *js;

	chk_init(&r);
	chk_error(&r, "bad \"thing\"\tthere");
	chk_warn(&r, "w1");
	js = chk_report_json(&r, "dir/a b\n$(x)\"\\\xff\xc3\xa9.h5");
	ok(js != NULL && strstr(js, "\"file\":\"dir/a b\\u000a$(x)\\\"\\\\\\ufffd\xc3\xa9.h5\"") != NULL,
	    "json: hostile file name escaped, UTF-8 kept, invalid byte replaced");
	ok(js && strstr(js, "\"valid\":false,\"status\":65") != NULL, "json: invalid status");
	ok(js && strstr(js, "\"errors\":[\"bad \\\"thing\\\"\\u0009there\"]") != NULL, "json: error escaped");
	ok(js && strstr(js, "\"warnings\":[\"w1\"]") && strstr(js, "\"counts\":{}") &&
	    strchr(js, '\n') == js + strlen(js) - 1, "json: one line, empty counts without a header");
	free(js);
}

static void test_files(void)
{
	struct chk_report r;
	char dir[] = "/tmp/test_check.XXXXXX", path[256];
	struct uvh5_header h;
	uvh5_writer *w;
	int st = 0;
	char err[UVH5_ERRLEN];
	int64_t n = (int64_t)NBLT * NF * NP, i;
	float complex *vis = malloc((size_t)n * sizeof *vis);
	uint8_t *flags = calloc((size_t)n, 1);
	float *ns = malloc((size_t)n * sizeof *ns);
	FILE *fp;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof path, "%s/missing.uvh5", dir);
	ok(chk_file(path, &r) == EX_NOINPUT && r.nerr == 1, "chk_file: missing file -> 66");
	ok(chk_file(dir, &r) == EX_IOERR, "chk_file: a directory -> 74");
	snprintf(path, sizeof path, "%s/text.uvh5", dir);
	fp = fopen(path, "w");
	fputs("not hdf5\n", fp);
	fclose(fp);
	ok(chk_file(path, &r) == EX_DATAERR && has(&r, 0, "not an HDF5 file"),
	    "chk_file: not HDF5 -> 65");
	unlink(path);

	make_header(&h);
	for (i = 0; i < n; i++) {
		vis[i] = 1.0f;
		ns[i] = 1;
	}
	snprintf(path, sizeof path, "%s/good.uvh5", dir);
	w = uvh5_create(path, &h, 0, &st, err);
	if (w && uvh5_write_rows(w, 0, NBLT, vis, flags, ns, &st, err) == 0 &&
	    uvh5_writer_commit(w, &st, err) == 0) {
		ok(chk_file(path, &r) == 0 && r.nerr == 0 && r.nwarn == 0 && r.rows_read == NBLT,
		    "chk_file: a file from the UVH5 writer is valid");
	} else {
		printf("# writer: %s\n", err);
		ok(0, "chk_file: a file from the UVH5 writer is valid");
	}
	unlink(path);
	vis[5 * NF * NP + 7] = NAN;
	snprintf(path, sizeof path, "%s/nan.uvh5", dir);
	w = uvh5_create(path, &h, 0, &st, err);
	if (w && uvh5_write_rows(w, 0, NBLT, vis, flags, ns, &st, err) == 0 &&
	    uvh5_writer_commit(w, &st, err) == 0) {
		ok(chk_file(path, &r) == EX_DATAERR && has(&r, 0, "non-finite unflagged visibilities: 1 samples "
		    "(first at row 5, channel 3, pol yy)"), "chk_file: a nan in the data -> 65");
	} else {
		printf("# writer: %s\n", err);
		ok(0, "chk_file: a nan in the data -> 65");
	}
	unlink(path);
	rmdir(dir);
	uvh5_header_free(&h);
	free(vis);
	free(flags);
	free(ns);
}

int main(void)
{
	test_header();
	test_lst();
	test_data();
	test_json();
	test_files();
	printf("1..%d\n", ntest);
	return nfail != 0;
}
