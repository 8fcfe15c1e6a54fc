/*
 * check.c: UVH5 validation (contract and the list of checks in check.h).
 *
 * Header checks run over the per-row metadata that uvh5_open already holds
 * in memory; the distinct-value counts avoid sorting where they can (rank
 * of each antenna through a sorted antenna table, a bitmap of antenna
 * pairs, a run count over time_array when it is already ordered) so that a
 * full DSA-110 subband is checked in milliseconds. Data checks are a
 * branch-free pass over each block of samples that only goes back to find
 * the first offender when a block has one.
 */
#include "uvh5/check.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/uvm.h"

static void vadd(char (*msgs)[CHK_MSGLEN], int *n, int *total, const char *fmt, va_list ap)
{
	if (*n < CHK_MAXMSG)
		vsnprintf(msgs[(*n)++], CHK_MSGLEN, fmt, ap);
	(*total)++;
}

void chk_init(struct chk_report *r)
{
	memset(r, 0, sizeof *r);
	r->Nblts = r->Nbls = r->Ntimes = r->Nfreqs = r->Npols = r->Nspws = -1;
	r->Nphase = r->Nants_data = r->Nants_telescope = -1;
}

void chk_error(struct chk_report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(r->err, &r->nerr, &r->nerr_total, fmt, ap);
	va_end(ap);
	if (r->status == 0)
		r->status = EX_DATAERR;
}

void chk_warn(struct chk_report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(r->warn, &r->nwarn, &r->nwarn_total, fmt, ap);
	va_end(ap);
}

double chk_lst(double jd, double lon_rad)
{
	double t = (jd - 2451545.0) / 36525.0;
	double s = 67310.54841 + (876600.0 * 3600.0 + 8640184.812866) * t +
	    0.093104 * t * t - 6.2e-6 * t * t * t;
	double a = fmod(s, 86400.0) / 86400.0 * 2 * M_PI + lon_rad;

	a = fmod(a, 2 * M_PI);
	return a < 0 ? a + 2 * M_PI : a;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_f64(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Distinct values of v[0..n) (exact comparison); -1 if out of memory. */
static int64_t distinct_f64(const double *v, int64_t n)
{
	double *s;
	int64_t i, k = n > 0;
	int sorted = 1;

	for (i = 1; i < n && sorted; i++)
		sorted = v[i] >= v[i - 1];
	if (sorted) {
		for (i = 1; i < n; i++)
			k += v[i] != v[i - 1];
		return k;
	}
	if (!(s = malloc((size_t)n * sizeof *s)))
		return -1;
	memcpy(s, v, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_f64);
	for (i = 1; i < n; i++)
		k += s[i] != s[i - 1];
	free(s);
	return k;
}

/* Distinct values of the n keys in s (sorted here, in place). */
static int64_t distinct_sorted_i64(int64_t *s, int64_t n)
{
	int64_t i, k = n > 0;

	qsort(s, (size_t)n, sizeof *s, cmp_i64);
	for (i = 1; i < n; i++)
		k += s[i] != s[i - 1];
	return k;
}

/* Antenna table: antenna numbers sorted, with the index of each in the header. */
struct ant {
	int64_t num;
	int64_t idx;
};

static int cmp_ant(const void *a, const void *b)
{
	const struct ant *x = a, *y = b;

	if (x->num != y->num)
		return (x->num > y->num) - (x->num < y->num);
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Rank (position in the sorted distinct table) of antenna number v, or -1. */
static int64_t ant_rank(const struct ant *t, int64_t n, int64_t v)
{
	int64_t lo = 0, hi = n - 1;

	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (t[mid].num == v)
			return mid;
		if (t[mid].num < v)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static int is_auto_pol(int64_t p)
{
	/* rr, ll, xx, yy and the pseudo-Stokes parameters. */
	return p == -1 || p == -2 || p == -5 || p == -6 || (p >= 1 && p <= 4);
}

/* ECEF offset (relative to the telescope) to local east/north/up. */
static void ecef_to_enu(double lat, double lon, const double *x, double *e)
{
	double sl = sin(lat), cl = cos(lat), so = sin(lon), co = cos(lon);

	e[0] = -so * x[0] + co * x[1];
	e[1] = -sl * co * x[0] - sl * so * x[1] + cl * x[2];
	e[2] = cl * co * x[0] + cl * so * x[1] + sl * x[2];
}

/* ENU vector to uvw axes for hour angle 0 and declination dec at latitude
 * lat (linear, so it applies to positions and baselines alike). */
static void enu_to_meridian_uvw(double lat, double dec, const double *b, double *uvw)
{
	double x = -sin(lat) * b[1] + cos(lat) * b[2];
	double z = cos(lat) * b[1] + sin(lat) * b[2];

	uvw[0] = b[0];
	uvw[1] = -sin(dec) * x + cos(dec) * z;
	uvw[2] = cos(dec) * x + sin(dec) * z;
}

enum uvw_mode { UVW_ENU, UVW_MERIDIAN, UVW_LENGTH };

/* How the uvw of h can be compared with its antenna positions (the
 * pointing as uvh5_pointing finds it; a fixed or unknown one: lengths). */
static enum uvw_mode uvw_mode(const struct uvh5_header *h, double *dec)
{
	char why[256];
	double ra;
	int k = uvh5_pointing(h, &ra, dec, why, sizeof why);
	int i;

	if (k == UVH5_PT_MERIDIAN)
		return UVW_MERIDIAN;
	if (k != UVH5_PT_ZENITH)
		return UVW_LENGTH;
	if (h->n_phase_centers == 0)
		return strcmp(h->phase_type, "drift") == 0 ? UVW_ENU : UVW_LENGTH;
	for (i = 0; i < h->n_phase_centers; i++)
		if (strcmp(h->phase_centers[i].type, "unprojected") != 0)
			return UVW_LENGTH;
	return UVW_ENU;
}

/*
 * Antennas: numbers in range, duplicates; ant_1/ant_2 in antenna_numbers;
 * Nants_data and Nbls against the distinct antennas and pairs. On return
 * rank1/rank2 (Nblts) hold each row's antennas as ranks into tab (-1 when
 * absent) and tab the sorted distinct table (*ntab entries). -1 if out of
 * memory.
 */
static int check_antennas(const struct uvh5_header *h, struct chk_report *r,
    struct ant **tabp, int64_t *ntab, int32_t **rank1, int32_t **rank2)
{
	int64_t na = h->Nants_telescope, n = h->Nblts, i, k, u = 0;
	int64_t missing = 0, first_missing = 0, nbad = 0, ndist, npairs;
	struct ant *tab = malloc((size_t)na * sizeof *tab);
	int32_t *r1 = malloc((size_t)n * sizeof *r1), *r2 = malloc((size_t)n * sizeof *r2);
	uint8_t *used = NULL;

	if (!tab || !r1 || !r2)
		goto oom;
	for (i = 0; i < na; i++) {
		tab[i].num = h->antenna_numbers[i];
		tab[i].idx = i;
		if (tab[i].num < 0 || tab[i].num > INT32_MAX)
			nbad++;
	}
	qsort(tab, (size_t)na, sizeof *tab, cmp_ant);
	for (i = 0; i < na; i++)       /* keep the first of duplicates */
		if (u == 0 || tab[i].num != tab[u - 1].num)
			tab[u++] = tab[i];
	if (u != na)
		chk_warn(r, "antenna_numbers has %lld duplicate entries", (long long)(na - u));
	for (i = 0; i < n; i++) {
		r1[i] = (int32_t)ant_rank(tab, u, h->ant_1_array[i]);
		r2[i] = (int32_t)ant_rank(tab, u, h->ant_2_array[i]);
		if (r1[i] < 0 || r2[i] < 0) {
			if (missing++ == 0)
				first_missing = r1[i] < 0 ? h->ant_1_array[i] : h->ant_2_array[i];
		}
	}
	/* Out-of-range numbers (the writer's -1 "NONE" placeholders for
	 * stations without data) matter only when a row uses them. */
	if (nbad) {
		int64_t used_bad = 0;

		for (i = 0; i < n; i++)
			used_bad += h->ant_1_array[i] < 0 || h->ant_1_array[i] > INT32_MAX ||
			    h->ant_2_array[i] < 0 || h->ant_2_array[i] > INT32_MAX;
		if (used_bad)
			chk_error(r, "antenna_numbers out of range [0, 2147483647]: %lld entries, "
			    "used by %lld rows", (long long)nbad, (long long)used_bad);
		else
			chk_warn(r, "antenna_numbers out of range [0, 2147483647]: %lld entries "
			    "(placeholders no row uses)", (long long)nbad);
	}
	if (missing)
		chk_error(r, "antenna %lld (in ant_1_array/ant_2_array) is not in antenna_numbers: "
		    "%lld rows", (long long)first_missing, (long long)missing);

	/* Distinct antennas and baselines: by rank when every antenna is known. */
	if (!missing) {
		if (!(used = calloc((size_t)u, 1)))
			goto oom;
		for (i = 0; i < n; i++)
			used[r1[i]] = used[r2[i]] = 1;
		for (ndist = 0, k = 0; k < u; k++)
			ndist += used[k];
		free(used);
		used = NULL;
	} else {
		int64_t *s = malloc((size_t)n * 2 * sizeof *s);

		if (!s)
			goto oom;
		memcpy(s, h->ant_1_array, (size_t)n * sizeof *s);
		memcpy(s + n, h->ant_2_array, (size_t)n * sizeof *s);
		ndist = distinct_sorted_i64(s, 2 * n);
		free(s);
	}
	if (ndist != h->Nants_data)
		chk_error(r, "Nants_data is %lld but ant_1_array/ant_2_array hold %lld antennas",
		    (long long)h->Nants_data, (long long)ndist);
	r->Nants_data = h->Nants_data;

	if (!missing && u <= 4096) {
		size_t bits = (size_t)u * (size_t)u;

		if (!(used = calloc((bits + 7) / 8, 1)))
			goto oom;
		for (npairs = 0, i = 0; i < n; i++) {
			size_t b = (size_t)r1[i] * (size_t)u + (size_t)r2[i];

			if (!(used[b >> 3] & (1u << (b & 7)))) {
				used[b >> 3] |= (uint8_t)(1u << (b & 7));
				npairs++;
			}
		}
		free(used);
		used = NULL;
	} else {
		/* Pairs of 32-bit numbers packed into one key (out-of-range ones
		 * are already errors; they may merge here, which is harmless). */
		int64_t *s = malloc((size_t)n * sizeof *s);

		if (!s)
			goto oom;
		for (i = 0; i < n; i++)
			s[i] = (int64_t)(((uint64_t)(uint32_t)h->ant_1_array[i] << 32) |
			    (uint32_t)h->ant_2_array[i]);
		npairs = distinct_sorted_i64(s, n);
		free(s);
	}
	if (npairs != h->Nbls)
		chk_error(r, "Nbls is %lld but the data hold %lld baselines",
		    (long long)h->Nbls, (long long)npairs);
	*tabp = tab;
	*ntab = u;
	*rank1 = r1;
	*rank2 = r2;
	return 0;
oom:
	free(tab);
	free(r1);
	free(r2);
	free(used);
	return -1;
}

/*
 * uvw: finite and in range; autos zero, crosses not; agreement with the
 * antenna positions (a warning). rank1/rank2/tab from check_antennas.
 */
static int check_uvw(const struct uvh5_header *h, struct chk_report *r,
    const struct ant *tab, int64_t ntab, const int32_t *rank1, const int32_t *rank2)
{
	double lat = h->latitude * M_PI / 180, lon = h->longitude * M_PI / 180, dec = 0;
	enum uvw_mode mode = uvw_mode(h, &dec);
	int64_t i, k, nbad = 0, nauto = 0, autobad = 0, crossbad = 0, mism = 0, flipped = 0;
	int64_t first_bad = -1, first_auto = -1, first_cross = -1;
	double worst = 0, worst_auto = 0;
	double *enu = malloc((size_t)(ntab > 0 ? ntab : 1) * 3 * sizeof *enu);

	if (!enu)
		return -1;
	/* Antenna positions in the frame of the expected uvw (ECEF for lengths). */
	for (k = 0; k < ntab; k++) {
		const double *p = h->antenna_positions + tab[k].idx * 3;
		double e[3];

		if (mode == UVW_LENGTH) {
			memcpy(enu + k * 3, p, 3 * sizeof *p);
		} else if (mode == UVW_ENU) {
			ecef_to_enu(lat, lon, p, enu + k * 3);
		} else {
			ecef_to_enu(lat, lon, p, e);
			enu_to_meridian_uvw(lat, dec, e, enu + k * 3);
		}
	}
	for (i = 0; i < h->Nblts; i++) {
		const double *w = h->uvw_array + i * 3;
		double len2 = w[0] * w[0] + w[1] * w[1] + w[2] * w[2];
		int a = h->ant_1_array[i] == h->ant_2_array[i];

		if (!(isfinite(len2) && fabs(w[0]) < 1e8 && fabs(w[1]) < 1e8 && fabs(w[2]) < 1e8)) {
			if (nbad++ == 0)
				first_bad = i;
			continue;
		}
		if (a) {
			double m = fmax(fabs(w[0]), fmax(fabs(w[1]), fabs(w[2])));

			nauto++;
			if (m > CHK_UVW_AUTO_TOL) {
				if (autobad++ == 0)
					first_auto = i;
				worst_auto = fmax(worst_auto, m);
			}
			continue;
		}
		if (len2 <= CHK_UVW_AUTO_TOL * CHK_UVW_AUTO_TOL) {
			if (crossbad++ == 0)
				first_cross = i;
		}
		if (rank1[i] >= 0 && rank2[i] >= 0) {
			const double *p1 = enu + (int64_t)rank1[i] * 3, *p2 = enu + (int64_t)rank2[i] * 3;
			double e[3] = { p2[0] - p1[0], p2[1] - p1[1], p2[2] - p1[2] }, d, dn;

			if (mode == UVW_LENGTH) {
				d = fabs(sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2]) - sqrt(len2));
				dn = d;
			} else {
				d = sqrt((w[0] - e[0]) * (w[0] - e[0]) + (w[1] - e[1]) * (w[1] - e[1]) +
				    (w[2] - e[2]) * (w[2] - e[2]));
				dn = sqrt((w[0] + e[0]) * (w[0] + e[0]) + (w[1] + e[1]) * (w[1] + e[1]) +
				    (w[2] + e[2]) * (w[2] + e[2]));
			}
			if (!(d <= CHK_UVW_ANTPOS_TOL)) {
				mism++;
				flipped += dn <= CHK_UVW_ANTPOS_TOL;
				worst = fmax(worst, d);
			}
		}
	}
	free(enu);
	r->auto_rows = nauto;
	r->uvw_mismatch_rows = mism;
	if (nbad)
		chk_error(r, "uvw_array not finite or beyond 1e8 m: %lld rows (first row %lld)",
		    (long long)nbad, (long long)first_bad);
	if (autobad)
		chk_error(r, "auto-correlations with non-zero uvw: %lld rows (first row %lld, "
		    "up to %.3g m)", (long long)autobad, (long long)first_auto, worst_auto);
	if (crossbad)
		chk_error(r, "cross-correlations with zero uvw: %lld rows (first row %lld, "
		    "antennas %lld-%lld)", (long long)crossbad, (long long)first_cross,
		    (long long)h->ant_1_array[first_cross], (long long)h->ant_2_array[first_cross]);
	if (mism)
		chk_warn(r, "uvw %s by more than %g m in %lld of %lld rows (largest %.3g m)%s",
		    mode == UVW_LENGTH ? "lengths disagree with antenna baseline lengths" :
		    "disagree with antenna positions", CHK_UVW_ANTPOS_TOL, (long long)mism,
		    (long long)h->Nblts, worst, flipped == mism ? "; uvw have the opposite sign" : "");
	return 0;
}

/* Frequencies finite, positive, strictly monotonic within each spw. */
static int check_freqs(const struct uvh5_header *h, struct chk_report *r)
{
	int64_t nspw = h->Nspws, k, c, nbadw = 0, nzerow = 0;
	int64_t *spws = malloc((size_t)nspw * sizeof *spws);
	double *last = malloc((size_t)nspw * sizeof *last);
	int *dir = calloc((size_t)nspw, sizeof *dir);
	int64_t *seen = calloc((size_t)nspw, sizeof *seen);
	int reported = 0, missing = 0;

	if (!spws || !last || !dir || !seen) {
		free(spws);
		free(last);
		free(dir);
		free(seen);
		return -1;
	}
	memcpy(spws, h->spw_array, (size_t)nspw * sizeof *spws);
	qsort(spws, (size_t)nspw, sizeof *spws, cmp_i64);
	for (k = 1; k < nspw; k++)
		if (spws[k] == spws[k - 1]) {
			chk_error(r, "spw_array has duplicate spectral window %lld", (long long)spws[k]);
			break;
		}
	if (!h->flex_spw_id_array && nspw > 1)
		chk_error(r, "Nspws is %lld but flex_spw_id_array is missing", (long long)nspw);
	for (c = 0; c < h->Nfreqs; c++) {
		double f = h->freq_array[c], w = h->channel_width[c];
		int64_t s = 0;

		if (!isfinite(w))
			nbadw++;
		else if (w <= 0)
			nzerow++;
		if (h->flex_spw_id_array) {
			int64_t lo = 0, hi = nspw - 1, id = h->flex_spw_id_array[c];

			s = -1;
			while (lo <= hi) {
				int64_t mid = lo + (hi - lo) / 2;

				if (spws[mid] == id) {
					s = mid;
					break;
				}
				if (spws[mid] < id)
					lo = mid + 1;
				else
					hi = mid - 1;
			}
			if (s < 0) {
				if (!missing++)
					chk_error(r, "flex_spw_id_array value %lld (channel %lld) is not in "
					    "spw_array", (long long)id, (long long)c);
				continue;
			}
		}
		if (!(isfinite(f) && f > 0)) {
			if (!reported++)
				chk_error(r, "freq_array not finite and positive at channel %lld (%g Hz)",
				    (long long)c, f);
			continue;
		}
		if (seen[s]++) {
			int d = f > last[s] ? 1 : f < last[s] ? -1 : 0;

			if (d == 0 || (dir[s] && d != dir[s])) {
				if (!reported++)
					chk_error(r, "frequencies not strictly monotonic in spectral window "
					    "%lld at channel %lld (%.10g Hz after %.10g Hz)",
					    (long long)spws[s], (long long)c, f, last[s]);
			} else {
				dir[s] = d;
			}
		}
		last[s] = f;
	}
	if (nbadw)
		chk_error(r, "channel_width not finite: %lld channels", (long long)nbadw);
	if (nzerow)
		chk_warn(r, "channel_width not positive: %lld channels", (long long)nzerow);
	free(spws);
	free(last);
	free(dir);
	free(seen);
	return 0;
}

/* Times, LSTs, integration times; Ntimes against distinct times. */
static int check_times(const struct uvh5_header *h, struct chk_report *r)
{
	double lon = h->longitude * M_PI / 180, jd_last = NAN, lst_exp = 0, worst = 0;
	int64_t i, nbad = 0, first = 0, nlst = 0, lstoff = 0, nint = 0, nintneg = 0, ndist;

	for (i = 0; i < h->Nblts; i++) {
		double t = h->time_array[i];

		if (!(isfinite(t) && t >= CHK_JD_MIN && t <= CHK_JD_MAX)) {
			if (nbad++ == 0)
				first = i;
			continue;
		}
		if (h->lst_array) {
			double l = h->lst_array[i], d;

			if (!isfinite(l)) {
				nlst++;
				continue;
			}
			if (t != jd_last) {
				lst_exp = chk_lst(t, lon);
				jd_last = t;
			}
			d = fabs(remainder(l - lst_exp, 2 * M_PI));
			if (d > CHK_LST_TOL_RAD) {
				lstoff++;
				worst = fmax(worst, d);
			}
		}
	}
	if (nbad)
		chk_error(r, "time_array outside JD %.0f-%.0f: %lld rows (first row %lld: %.17g)",
		    CHK_JD_MIN, CHK_JD_MAX, (long long)nbad, (long long)first, h->time_array[first]);
	if (nlst)
		chk_error(r, "lst_array not finite: %lld rows", (long long)nlst);
	if (lstoff)
		chk_warn(r, "lst_array disagrees with time_array and longitude by more than %g rad "
		    "in %lld rows (largest %.3g rad)", CHK_LST_TOL_RAD, (long long)lstoff, worst);
	if (h->integration_time) {
		for (i = 0; i < h->Nblts; i++) {
			double v = h->integration_time[i];

			nint += !isfinite(v);
			nintneg += isfinite(v) && v <= 0;
		}
		if (nint)
			chk_error(r, "integration_time not finite: %lld rows", (long long)nint);
		if (nintneg)
			chk_warn(r, "integration_time not positive: %lld rows", (long long)nintneg);
	}
	if ((ndist = distinct_f64(h->time_array, h->Nblts)) < 0)
		return -1;
	if (ndist != h->Ntimes)
		chk_error(r, "Ntimes is %lld but time_array holds %lld distinct times",
		    (long long)h->Ntimes, (long long)ndist);
	return 0;
}

/* Polarizations, phase centres, telescope, antenna positions, units. */
static void check_misc(const struct uvh5_header *h, struct chk_report *r)
{
	int64_t i, j, nbadpos = 0, nid = 0, first_id = 0;
	static const char *units[] = { "uncalib", "Jy", "K str" };
	int known = h->vis_units[0] == 0;

	for (i = 0; i < h->Npols; i++) {
		int64_t p = h->polarization_array[i];

		if (!((p >= -8 && p <= -1) || (p >= 1 && p <= 4)))
			chk_error(r, "polarization code %lld is not valid (AIPS memo 117: -8..-1, 1..4)",
			    (long long)p);
		for (j = 0; j < i; j++)
			if (h->polarization_array[j] == p)
				chk_warn(r, "polarization code %lld appears twice", (long long)p);
	}
	if (h->n_phase_centers > 0 && h->Nphase != h->n_phase_centers)
		chk_error(r, "Nphase is %lld but the phase centre catalogue has %d entries",
		    (long long)h->Nphase, h->n_phase_centers);
	if (h->phase_center_id_array && h->n_phase_centers > 0) {
		for (i = 0; i < h->Nblts; i++) {
			int64_t id = h->phase_center_id_array[i];
			int found = 0;

			for (j = 0; j < h->n_phase_centers && !found; j++)
				found = h->phase_centers[j].id == id;
			if (!found && nid++ == 0)
				first_id = id;
		}
		if (nid)
			chk_error(r, "phase_center_id_array value %lld is not in the phase centre "
			    "catalogue: %lld rows", (long long)first_id, (long long)nid);
	}
	if (!(isfinite(h->latitude) && fabs(h->latitude) <= 90 && isfinite(h->longitude) &&
	    h->longitude >= -180 && h->longitude <= 360 && isfinite(h->altitude)))
		chk_error(r, "telescope location not valid: latitude %g, longitude %g, altitude %g",
		    h->latitude, h->longitude, h->altitude);
	for (i = 0; i < h->Nants_telescope * 3; i++)
		nbadpos += !(isfinite(h->antenna_positions[i]) && fabs(h->antenna_positions[i]) < 1e8);
	if (nbadpos)
		chk_error(r, "antenna_positions not finite or beyond 1e8 m: %lld values",
		    (long long)nbadpos);
	for (i = 0; i < 3 && !known; i++)
		known = strcasecmp(h->vis_units, units[i]) == 0;
	if (!known)
		chk_warn(r, "vis_units '%s' is not one of uncalib, Jy, K str", h->vis_units);
}

int chk_header(const struct uvh5_header *h, struct chk_report *r)
{
	int before = r->nerr_total;
	struct ant *tab = NULL;
	int64_t ntab = 0;
	int32_t *rank1 = NULL, *rank2 = NULL;
	int e = 0;

	r->have_header = 1;
	snprintf(r->version, sizeof r->version, "%s", h->version);
	r->vistype = uvh5_vistype_name(h->vistype);
	r->Nblts = h->Nblts;
	r->Nbls = h->Nbls;
	r->Ntimes = h->Ntimes;
	r->Nfreqs = h->Nfreqs;
	r->Npols = h->Npols;
	r->Nspws = h->Nspws;
	r->Nphase = h->Nphase;
	r->Nants_telescope = h->Nants_telescope;
	r->Nants_data = h->Nants_data;

	{
		char why[256];
		double ra, dec;

		if (uvh5_pointing(h, &ra, &dec, why, sizeof why) < 0)
			chk_error(r, "cannot determine the pointing: %s", why);
	}
	if (check_antennas(h, r, &tab, &ntab, &rank1, &rank2) < 0 ||
	    check_uvw(h, r, tab, ntab, rank1, rank2) < 0 ||
	    check_freqs(h, r) < 0 || check_times(h, r) < 0)
		e = -1;
	else
		check_misc(h, r);
	free(tab);
	free(rank1);
	free(rank2);
	if (e < 0) {
		chk_error(r, "out of memory checking the header");
		r->status = EX_OSERR;
		return -1;
	}
	return r->nerr_total - before;
}

void chk_data_begin(struct chk_data *d, const struct uvh5_header *h)
{
	int64_t p;

	memset(d, 0, sizeof *d);
	d->h = h;
	d->per = h->Nfreqs * h->Npols;
	for (p = 0; p < h->Npols && p < 16; p++)
		d->autopol[p] = (uint8_t)is_auto_pol(h->polarization_array[p]);
	d->first_nonfinite = d->first_autoimag = d->first_badns = -1;
}

/* Not finite: the exponent bits all set (inf or nan), on the raw bits. */
static inline uint32_t bad_bits(uint32_t x)
{
	return (x & 0x7f800000u) == 0x7f800000u;
}

#define CHK_LANE 64   /* samples per inner block: a constant trip count vectorizes at -O2 */

/* Count unflagged non-finite, flagged non-finite and flagged samples of
 * [i0, i1) exactly (the slow path for blocks known to hold a bad one). */
static void count_slow(const uint32_t *bits, const uint8_t *flags, int64_t i0, int64_t i1,
    int64_t *nf, int64_t *nff)
{
	for (int64_t i = i0; i < i1; i++)
		if (bad_bits(bits[2 * i]) | bad_bits(bits[2 * i + 1])) {
			if (flags[i])
				(*nff)++;
			else
				(*nf)++;
		}
}

void chk_data_rows(struct chk_data *d, int64_t row0, int64_t nrows,
    const float complex *vis, const uint8_t *flags, const float *nsamples)
{
	const struct uvh5_header *h = d->h;
	int64_t n = nrows * d->per, i, row, nf = 0, nff = 0, nfl = 0, nbadns = 0;
	const uint32_t *bits = (const uint32_t *)(const void *)vis;

	/*
	 * Fast pass by blocks of CHK_LANE samples: OR of "exponent all ones"
	 * over the block and the sum of its flag bytes, both branch-free;
	 * only a block holding a non-finite value is looked at sample by sample.
	 */
	for (i = 0; i + CHK_LANE <= n; i += CHK_LANE) {
		const uint32_t *b = bits + 2 * i;
		const uint8_t *fl = flags + i;
		uint32_t any = 0, sum = 0;
		int k;

		for (k = 0; k < 2 * CHK_LANE; k++)
			any |= (b[k] & 0x7f800000u) == 0x7f800000u;
		for (k = 0; k < CHK_LANE; k++)
			sum += fl[k] != 0;
		nfl += sum;
		if (any)
			count_slow(bits, flags, i, i + CHK_LANE, &nf, &nff);
	}
	for (; i < n; i++)
		nfl += flags[i] != 0;
	count_slow(bits, flags, n - n % CHK_LANE, n, &nf, &nff);
	d->flagged += nfl;
	d->nonfinite_flagged += nff;
	if (nf) {
		if (d->first_nonfinite < 0)
			for (i = 0; i < n; i++)
				if (!flags[i] && (bad_bits(bits[2 * i]) | bad_bits(bits[2 * i + 1]))) {
					d->first_nonfinite = row0 * d->per + i;
					break;
				}
		d->nonfinite += nf;
	}
	for (row = 0; row < nrows; row++) {
		int64_t g = row0 + row, base = row * d->per, c, p;

		if (h->ant_1_array[g] != h->ant_2_array[g])
			continue;
		for (c = 0; c < h->Nfreqs; c++)
			for (p = 0; p < h->Npols; p++) {
				int64_t k = base + c * h->Npols + p;
				float re = crealf(vis[k]), im = cimagf(vis[k]);

				if (flags[k] || p >= 16 || !d->autopol[p] || im == 0)
					continue;
				if (fabsf(im) <= CHK_AUTO_IMAG_REL * fabsf(re) || !isfinite(im))
					continue;
				if (d->autoimag++ == 0)
					d->first_autoimag = row0 * d->per + k;
				d->worst_autoimag = fmax(d->worst_autoimag,
				    re != 0 ? fabs((double)im / re) : INFINITY);
			}
	}
	if (nsamples) {
		/* Same scheme: nsamples must be >= 0 and finite where unflagged. */
		for (i = 0; i < n; i += CHK_LANE) {
			int64_t k, e = i + CHK_LANE <= n ? i + CHK_LANE : n;
			uint32_t any = 0;

			if (e - i == CHK_LANE) {
				const float *v = nsamples + i;

				for (k = 0; k < CHK_LANE; k++)
					any |= !((v[k] >= 0.0f) & (v[k] <= FLT_MAX));
			} else {
				any = 1;
			}
			if (!any)
				continue;
			for (k = i; k < e; k++)
				if (!flags[k] && !(nsamples[k] >= 0.0f && nsamples[k] <= FLT_MAX)) {
					if (d->badns == 0 && nbadns == 0)
						d->first_badns = row0 * d->per + k;
					nbadns++;
				}
		}
		d->badns += nbadns;
	}
	d->next_row = row0 + nrows;
}

/* "row R, channel C, pol P" of flat sample index s. */
static void where(const struct chk_data *d, int64_t s, char *buf, size_t n)
{
	const struct uvh5_header *h = d->h;
	int64_t row = s / d->per, c = (s % d->per) / h->Npols, p = s % h->Npols;

	snprintf(buf, n, "row %lld, channel %lld, pol %s", (long long)row, (long long)c,
	    uvh5_pol_name(h->polarization_array[p]));
}

void chk_data_end(struct chk_data *d, struct chk_report *r)
{
	char w[128];

	r->rows_read = d->next_row;
	r->samples = d->next_row * d->per;
	r->flagged = d->flagged;
	r->nonfinite_unflagged = d->nonfinite;
	r->nonfinite_flagged = d->nonfinite_flagged;
	r->auto_imag = d->autoimag;
	if (d->nonfinite) {
		where(d, d->first_nonfinite, w, sizeof w);
		chk_error(r, "non-finite unflagged visibilities: %lld samples (first at %s)",
		    (long long)d->nonfinite, w);
	}
	if (d->autoimag) {
		where(d, d->first_autoimag, w, sizeof w);
		chk_error(r, "auto-correlations with non-zero imaginary part: %lld unflagged samples "
		    "(first at %s; |imag/real| up to %.3g)", (long long)d->autoimag, w,
		    d->worst_autoimag);
	}
	if (d->badns) {
		where(d, d->first_badns, w, sizeof w);
		chk_warn(r, "nsamples negative or not finite: %lld unflagged samples (first at %s)",
		    (long long)d->badns, w);
	}
	if (r->samples > 0 && d->flagged == r->samples && d->next_row == d->h->Nblts)
		chk_warn(r, "every sample is flagged");
}

/* Remove the file name from a reader message (our line already names the
 * file): a leading "cannot read 'path': " and " in 'path'". */
static void strip_path(char *msg, const char *path)
{
	size_t n = strlen(path) + 32;
	char *pat = malloc(n), *p;

	if (!pat)
		return;
	snprintf(pat, n, "cannot read '%s': ", path);
	if (strncmp(msg, pat, strlen(pat)) == 0)
		memmove(msg, msg + strlen(pat), strlen(msg + strlen(pat)) + 1);
	snprintf(pat, n, " in '%s'", path);
	if ((p = strstr(msg, pat)) != NULL)
		memmove(p, p + strlen(pat), strlen(p + strlen(pat)) + 1);
	free(pat);
}

/* Little-endian unsigned integer of n (<= 8) bytes. */
static uint64_t le(const unsigned char *b, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | b[n];
	return v;
}

/*
 * libhdf5 calls a file "truncated" whenever it is shorter than the
 * end-of-file address in its superblock: bytes missing, or the address
 * itself damaged. Tell the two apart by reading that address (HDF5 file
 * format specification: the superblock is at 0 or a power of two >= 512;
 * versions 0 and 1 keep the end-of-file address after the base and
 * free-space addresses at byte 24 or 28, versions 2 and 3 after the base
 * and extension addresses at byte 12). An address of 2^48 bytes or more
 * cannot be a real size: the superblock is corrupt.
 */
static void explain_truncation(const char *path, char *msg, size_t size)
{
	static const unsigned char sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
	unsigned char b[64];
	FILE *fp;
	struct stat st;
	long off;
	uint64_t eof;
	int o, at;

	if (!strstr(msg, "truncated file") || !(fp = fopen(path, "rb")))
		return;
	if (fstat(fileno(fp), &st) < 0)
		goto out;
	for (off = 0; off + (long)sizeof b <= st.st_size; off = off ? off * 2 : 512) {
		if (fseek(fp, off, SEEK_SET) < 0 || fread(b, 1, sizeof b, fp) != sizeof b)
			goto out;
		if (memcmp(b, sig, 8) == 0)
			break;
		if (off > (1L << 30))
			goto out;
	}
	if (off + (long)sizeof b > st.st_size)
		goto out;
	if (b[8] <= 1) {
		o = b[13];
		at = (b[8] == 0 ? 24 : 28) + 2 * o;
	} else {
		o = b[9];
		at = 12 + 2 * o;
	}
	if (o < 2 || o > 8 || at + o > (int)sizeof b)
		goto out;
	eof = le(b + at, o);
	if (eof >= ((uint64_t)1 << 48))
		snprintf(msg, size, "corrupt superblock: end-of-file address %#llx, file size %lld",
		    (unsigned long long)eof, (long long)st.st_size);
	else if ((uint64_t)st.st_size < eof + (uint64_t)off)
		snprintf(msg, size, "truncated file: %lld of %llu bytes",
		    (long long)st.st_size, (unsigned long long)(eof + (uint64_t)off));
out:
	fclose(fp);
}

int chk_file(const char *path, struct chk_report *r)
{
	char err[UVH5_ERRLEN];
	int st = 0;
	uvh5_file *f;
	const struct uvh5_header *h;
	struct chk_data d;
	int64_t per, block, row, n;
	float complex *vis = NULL;
	uint8_t *flags = NULL;
	float *ns = NULL;

	chk_init(r);
	f = uvh5_open(path, &st, err);
	if (!f) {
		if (st == EX_DATAERR) {
			strip_path(err, path);
			explain_truncation(path, err, sizeof err);
		}
		chk_error(r, "%s", err);
		r->status = st ? st : EX_DATAERR;
		return r->status;
	}
	h = uvh5_header(f);
	if (chk_header(h, r) < 0)
		goto done;
	per = h->Nfreqs * h->Npols;
	block = h->Nbls;
	if (block > ((int64_t)1 << 22) / per)
		block = ((int64_t)1 << 22) / per;
	if (block < 1)
		block = 1;
	if (block > h->Nblts)
		block = h->Nblts;
	vis = malloc((size_t)(block * per) * sizeof *vis);
	flags = malloc((size_t)(block * per));
	ns = malloc((size_t)(block * per) * sizeof *ns);
	if (!vis || !flags || !ns) {
		chk_error(r, "out of memory for %lld rows of data", (long long)block);
		r->status = EX_OSERR;
		goto done;
	}
	chk_data_begin(&d, h);
	for (row = 0; row < h->Nblts; row += n) {
		n = h->Nblts - row < block ? h->Nblts - row : block;
		if (uvh5_read_rows(f, row, n, vis, flags, ns, &st, err) < 0) {
			int prev = r->status;

			strip_path(err, path);
			chk_error(r, "%s", err);
			/* A chunk that does not decompress is damaged content, not a
			 * failing disk: whatever status the reader gave, it is bad data.
			 * Other read failures leave the file unverified: retry. */
			if (prev == 0 && st != EX_DATAERR && !strstr(err, "filter"))
				r->status = st;
			break;
		}
		chk_data_rows(&d, row, n, vis, flags, ns);
	}
	chk_data_end(&d, r);
done:
	free(vis);
	free(flags);
	free(ns);
	uvh5_close(f);
	return r->status;
}

static void put_msgs(struct buf *b, const char *key, char (*m)[CHK_MSGLEN], int n)
{
	int i;

	buf_printf(b, ",\"%s\":[", key);
	for (i = 0; i < n; i++) {
		if (i)
			buf_add(b, ",", 1);
		json_str_buf(b, m[i]);
	}
	buf_add(b, "]", 1);
}

char *chk_report_json(const struct chk_report *r, const char *path)
{
	struct buf b = { 0 };
	struct chk_report *rw = (struct chk_report *)r;

	buf_puts(&b, "{\"file\":");
	json_str_buf(&b, path);
	buf_printf(&b, ",\"valid\":%s,\"status\":%d", r->status == 0 ? "true" : "false", r->status);
	put_msgs(&b, "errors", rw->err, r->nerr);
	put_msgs(&b, "warnings", rw->warn, r->nwarn);
	buf_printf(&b, ",\"errors_total\":%d,\"warnings_total\":%d", r->nerr_total, r->nwarn_total);
	if (r->have_header) {
		buf_puts(&b, ",\"uvh5_version\":");
		json_str_buf(&b, r->version);
		buf_puts(&b, ",\"vistype\":");
		json_str_buf(&b, r->vistype ? r->vistype : "");
		buf_printf(&b, ",\"counts\":{\"Nblts\":%lld,\"Nbls\":%lld,\"Ntimes\":%lld,"
		    "\"Nfreqs\":%lld,\"Npols\":%lld,\"Nspws\":%lld,\"Nphase\":%lld,",
		    (long long)r->Nblts, (long long)r->Nbls, (long long)r->Ntimes,
		    (long long)r->Nfreqs, (long long)r->Npols, (long long)r->Nspws,
		    (long long)r->Nphase);
		buf_printf(&b, "\"Nants_data\":%lld,\"Nants_telescope\":%lld,\"auto_rows\":%lld,"
		    "\"uvw_mismatch_rows\":%lld,", (long long)r->Nants_data,
		    (long long)r->Nants_telescope, (long long)r->auto_rows,
		    (long long)r->uvw_mismatch_rows);
		buf_printf(&b, "\"rows_read\":%lld,\"samples\":%lld,\"flagged\":%lld,"
		    "\"flagged_fraction\":%.6g,", (long long)r->rows_read, (long long)r->samples,
		    (long long)r->flagged, r->samples > 0 ? (double)r->flagged / (double)r->samples : 0.0);
		buf_printf(&b, "\"nonfinite_unflagged\":%lld,\"nonfinite_flagged\":%lld,"
		    "\"auto_imag\":%lld}", (long long)r->nonfinite_unflagged,
		    (long long)r->nonfinite_flagged, (long long)r->auto_imag);
	} else {
		buf_puts(&b, ",\"counts\":{}");
	}
	buf_puts(&b, "}\n");
	char *js = buf_take(&b);
	if (!js)
		errno = ENOMEM;
	return js;
}
