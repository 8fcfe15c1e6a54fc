/*
 * check_ants.c: the antenna, baseline and uvw checks of chk_header. The
 * antenna numbers are ranked once through a sorted table so that the
 * distinct antennas and baselines count by bitmap rather than by sorting,
 * and those ranks then pair each row with its antenna positions to compare
 * uvw with the baselines the positions predict (in the frame uvw_mode
 * finds). Apart from the other header checks because these share the
 * table and the geometry, and nothing else does.
 */
#include "uvh5/check_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Distinct values of the n keys in s (sorted here, in place). */
static int64_t distinct_sorted_i64(int64_t *s, int64_t n)
{
	int64_t i, k = n > 0;

	qsort(s, (size_t)n, sizeof *s, chk_cmp_i64);
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
 * The sorted table of distinct antenna numbers: tab (room for
 * Nants_telescope entries) gets antenna_numbers sorted with the first of
 * each duplicate kept (a warning counts the rest), *nbad the entries out
 * of [0, INT32_MAX]. Returns the number of distinct entries.
 */
static int64_t ant_table(const struct uvh5_header *h, struct chk_report *r, struct ant *tab,
    int64_t *nbad)
{
	int64_t na = h->Nants_telescope, i, u = 0;

	*nbad = 0;
	for (i = 0; i < na; i++) {
		tab[i].num = h->antenna_numbers[i];
		tab[i].idx = i;
		if (tab[i].num < 0 || tab[i].num > INT32_MAX)
			(*nbad)++;
	}
	qsort(tab, (size_t)na, sizeof *tab, cmp_ant);
	for (i = 0; i < na; i++)       /* keep the first of duplicates */
		if (u == 0 || tab[i].num != tab[u - 1].num)
			tab[u++] = tab[i];
	if (u != na)
		chk_warn(r, "antenna_numbers has %lld duplicate entries", (long long)(na - u));
	return u;
}

/*
 * Each row's antennas as ranks into tab (u entries) in r1/r2 (Nblts each,
 * -1 when absent). Reports out-of-range antenna numbers (nbad of them, an
 * error only when a row uses one) and rows whose antennas are not in
 * antenna_numbers. Returns the number of such rows.
 */
static int64_t ant_ranks(const struct uvh5_header *h, struct chk_report *r, const struct ant *tab,
    int64_t u, int64_t nbad, int32_t *r1, int32_t *r2)
{
	int64_t n = h->Nblts, i, missing = 0, first_missing = 0;
	/* antenna numbers below 64 Ki (every real array's): the ranks from
	 * a direct table, not two binary searches a row (1/10 of a verify) */
	int64_t top = u > 0 && tab[0].num >= 0 && tab[u - 1].num < 65536 ? tab[u - 1].num : -1;
	int32_t *dense = top >= 0 ? malloc((size_t)(top + 1) * sizeof *dense) : NULL;

	if (dense) {
		for (int64_t v = 0; v <= top; v++)
			dense[v] = -1;
		for (int64_t k = 0; k < u; k++)
			dense[tab[k].num] = (int32_t)ant_rank(tab, u, tab[k].num);
	}
	for (i = 0; i < n; i++) {
		int64_t a1 = h->ant_1_array[i], a2 = h->ant_2_array[i];

		if (dense) {
			r1[i] = a1 >= 0 && a1 <= top ? dense[a1] : -1;
			r2[i] = a2 >= 0 && a2 <= top ? dense[a2] : -1;
		} else {
			r1[i] = (int32_t)ant_rank(tab, u, a1);
			r2[i] = (int32_t)ant_rank(tab, u, a2);
		}
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
	free(dense);
	if (missing)
		chk_error(r, "antenna %lld (in ant_1_array/ant_2_array) is not in antenna_numbers: "
		    "%lld rows", (long long)first_missing, (long long)missing);
	return missing;
}

/*
 * Distinct antennas in ant_1_array/ant_2_array: by rank (r1/r2 into a
 * table of u) when every antenna is known (missing == 0), else by sorting
 * the numbers. -1 if out of memory.
 */
static int64_t count_antennas(const struct uvh5_header *h, int64_t u, const int32_t *r1,
    const int32_t *r2, int64_t missing)
{
	int64_t n = h->Nblts, i, k, ndist;

	if (!missing) {
		uint8_t *used = calloc((size_t)u, 1);

		if (!used)
			return -1;
		for (i = 0; i < n; i++)
			used[r1[i]] = used[r2[i]] = 1;
		for (ndist = 0, k = 0; k < u; k++)
			ndist += used[k];
		free(used);
	} else {
		int64_t *s = malloc((size_t)n * 2 * sizeof *s);

		if (!s)
			return -1;
		memcpy(s, h->ant_1_array, (size_t)n * sizeof *s);
		memcpy(s + n, h->ant_2_array, (size_t)n * sizeof *s);
		ndist = distinct_sorted_i64(s, 2 * n);
		free(s);
	}
	return ndist;
}

/*
 * Distinct (ant_1, ant_2) pairs: a bitmap over ranks when every antenna is
 * known and the table (u) is small, else by sorting packed keys. -1 if
 * out of memory.
 */
static int64_t count_baselines(const struct uvh5_header *h, int64_t u, const int32_t *r1,
    const int32_t *r2, int64_t missing)
{
	int64_t n = h->Nblts, i, npairs;

	if (!missing && u <= 4096) {
		size_t bits = (size_t)u * (size_t)u;
		uint8_t *used = calloc((bits + 7) / 8, 1);

		if (!used)
			return -1;
		for (npairs = 0, i = 0; i < n; i++) {
			size_t b = (size_t)r1[i] * (size_t)u + (size_t)r2[i];

			if (!(used[b >> 3] & (1u << (b & 7)))) {
				used[b >> 3] |= (uint8_t)(1u << (b & 7));
				npairs++;
			}
		}
		free(used);
	} else {
		/* Pairs of 32-bit numbers packed into one key (out-of-range ones
		 * are already errors; they may merge here, which is harmless). */
		int64_t *s = malloc((size_t)n * sizeof *s);

		if (!s)
			return -1;
		for (i = 0; i < n; i++)
			s[i] = (int64_t)(((uint64_t)(uint32_t)h->ant_1_array[i] << 32) |
			    (uint32_t)h->ant_2_array[i]);
		npairs = distinct_sorted_i64(s, n);
		free(s);
	}
	return npairs;
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
	int64_t n = h->Nblts, u, nbad, missing, ndist, npairs;
	struct ant *tab = malloc((size_t)h->Nants_telescope * sizeof *tab);
	int32_t *r1 = malloc((size_t)n * sizeof *r1), *r2 = malloc((size_t)n * sizeof *r2);

	if (!tab || !r1 || !r2)
		goto oom;
	u = ant_table(h, r, tab, &nbad);
	missing = ant_ranks(h, r, tab, u, nbad, r1, r2);
	if ((ndist = count_antennas(h, u, r1, r2, missing)) < 0)
		goto oom;
	if (ndist != h->Nants_data)
		chk_error(r, "Nants_data is %lld but ant_1_array/ant_2_array hold %lld antennas",
		    (long long)h->Nants_data, (long long)ndist);
	r->Nants_data = h->Nants_data;
	if ((npairs = count_baselines(h, u, r1, r2, missing)) < 0)
		goto oom;
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

/*
 * The antenna and uvw checks of chk_header (see check_priv.h): the
 * antenna table and per-row ranks check_antennas builds feed check_uvw
 * and are freed here. -1 if out of memory.
 */
int chk_antennas_uvw(const struct uvh5_header *h, struct chk_report *r)
{
	struct ant *tab = NULL;
	int64_t ntab = 0;
	int32_t *rank1 = NULL, *rank2 = NULL;
	int e = 0;

	if (check_antennas(h, r, &tab, &ntab, &rank1, &rank2) < 0 ||
	    check_uvw(h, r, tab, ntab, rank1, rank2) < 0)
		e = -1;
	free(tab);
	free(rank1);
	free(rank2);
	return e;
}
