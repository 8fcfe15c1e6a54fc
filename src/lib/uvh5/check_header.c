/*
 * check_header.c: chk_header, the checks over the per-row metadata that
 * uvh5_open already holds in memory: frequencies and spectral windows,
 * times and LSTs, polarizations, phase centres, the telescope; the
 * antennas and uvw are in check_ants.c. Distinct-value counts avoid
 * sorting where they can (a run count over time_array when it is already
 * ordered) so that a full DSA-110 subband is checked in milliseconds.
 */
#include "uvh5/check_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/uvm.h"

double chk_lst(double jd, double lon_rad)
{
	double t = (jd - 2451545.0) / 36525.0;
	double s = 67310.54841 + (876600.0 * 3600.0 + 8640184.812866) * t +
	    0.093104 * t * t - 6.2e-6 * t * t * t;
	double a = fmod(s, 86400.0) / 86400.0 * 2 * M_PI + lon_rad;

	a = fmod(a, 2 * M_PI);
	return a < 0 ? a + 2 * M_PI : a;
}

int chk_cmp_i64(const void *a, const void *b)
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
	qsort(spws, (size_t)nspw, sizeof *spws, chk_cmp_i64);
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

		int k = uvh5_pointing(h, &ra, &dec, why, sizeof why);

		if (k < 0) {
			chk_error(r, "cannot determine the pointing: %s", why);
		} else {
			r->pointing = k;
			r->point_ra_deg = ra * 180 / M_PI;
			r->point_dec_deg = dec * 180 / M_PI;
		}
	}
	if (chk_antennas_uvw(h, r) < 0 || check_freqs(h, r) < 0 || check_times(h, r) < 0)
		e = -1;
	else
		check_misc(h, r);
	if (e < 0) {
		chk_error(r, "out of memory checking the header");
		r->status = EX_OSERR;
		return -1;
	}
	return r->nerr_total - before;
}
