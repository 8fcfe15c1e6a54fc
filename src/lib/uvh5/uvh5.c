/*
 * uvh5.c: what the UVH5 reader and writer share: header memory management
 * (alloc, deep copy, free, extra keywords), polarization names, and the
 * translation of libhdf5's error stack into one-line messages and exit
 * statuses. The reader is in uvh5_header.c and uvh5_data.c, the writer in uvh5_write.c, the
 * LZF filter in uvh5_lzf.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "uvh5/uvh5_priv.h"

/*
 * libhdf5 closes every id still open at exit (H5_term_library, through
 * atexit). After a failed H5Fclose (its flush hit ENOSPC), libhdf5 1.10
 * keeps a half-closed file in its id table and that teardown dereferences
 * it: SIGSEGV at exit instead of the writer's EX_IOERR. Every writer
 * closes its files itself (or gives up on them: the temporary is
 * unlinked), so the teardown is turned off here, before the library first
 * initialises (H5dont_atexit has no effect later). Memory libhdf5 holds
 * at exit stays reachable from its tables (no leak report).
 */
__attribute__((constructor)) static void uvh5_no_teardown(void)
{
	H5dont_atexit();
}

struct walk {
	char inner[256];
	int io;
	int truncated;
	int set;
};

/* The last failure libhdf5 reported, recorded when it happened: any later
 * successful API call (closing ids on the way out) clears the stack. */
static struct walk last_error;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
	struct walk *w = data;

	(void)n;
	if (e->maj_num == H5E_IO && (e->min_num == H5E_READERROR ||
	    e->min_num == H5E_WRITEERROR || e->min_num == H5E_SEEKERROR ||
	    e->min_num == H5E_CLOSEERROR))
		w->io = 1;
	if (e->min_num == H5E_TRUNCATED)
		w->truncated = 1;
	if (!w->inner[0] && e->desc && e->desc[0])
		snprintf(w->inner, sizeof w->inner, "%s", e->desc);
	return 0;
}

/* Automatic error handler: record instead of printing. */
static herr_t record_error(hid_t estack, void *data)
{
	(void)data;
	memset(&last_error, 0, sizeof last_error);
	H5Ewalk2(estack, H5E_WALK_UPWARD, walk_cb, &last_error);
	last_error.set = 1;
	return 0;
}

void uvh5_h5_quiet(void)
{
	/* per thread: a thread-safe libhdf5 keeps the handler per thread */
	static _Thread_local int done;

	if (!done) {
		H5Eset_auto2(H5E_DEFAULT, record_error, NULL);
		done = 1;
	}
}

int uvh5_h5_reason(char *reason, size_t n)
{
	struct walk w = last_error;
	const char *m, *q;

	memset(&last_error, 0, sizeof last_error);
	H5Eclear2(H5E_DEFAULT);
	if (!w.set) {
		snprintf(reason, n, "hdf5 error");
		return EX_DATAERR;
	}
	if (w.truncated) {
		snprintf(reason, n, "truncated file");
	} else if (w.io && (m = strstr(w.inner, "error message = '")) != NULL) {
		/* sec2 driver: "... errno = 28, error message = 'No space...', ..." */
		m += strlen("error message = '");
		q = strchr(m, '\'');
		snprintf(reason, n, "%.*s", q ? (int)(q - m) : (int)strlen(m), m);
	} else if (w.inner[0]) {
		snprintf(reason, n, "%s", w.inner);
	} else {
		snprintf(reason, n, "hdf5 error");
	}
	return w.io ? EX_IOERR : EX_DATAERR;
}

void uvh5_fail(int *status, char *err, int st, const char *fmt, ...)
{
	va_list ap;

	if (status)
		*status = st;
	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, UVH5_ERRLEN, fmt, ap);
		va_end(ap);
	}
}

hid_t uvh5_bool_type(void)
{
	hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
	signed char v;

	if (t < 0)
		return t;
	v = 0;
	if (H5Tenum_insert(t, "FALSE", &v) < 0)
		goto fail;
	v = 1;
	if (H5Tenum_insert(t, "TRUE", &v) < 0)
		goto fail;
	return t;
fail:
	H5Tclose(t);
	return -1;
}

void uvh5_header_free(struct uvh5_header *h)
{
	if (!h)
		return;
	free(h->antenna_numbers);
	free(h->antenna_names);
	free(h->antenna_positions);
	free(h->antenna_diameters);
	free(h->ant_1_array);
	free(h->ant_2_array);
	free(h->uvw_array);
	free(h->time_array);
	free(h->lst_array);
	free(h->integration_time);
	free(h->phase_center_id_array);
	free(h->phase_center_app_ra);
	free(h->phase_center_app_dec);
	free(h->phase_center_frame_pa);
	free(h->freq_array);
	free(h->channel_width);
	free(h->spw_array);
	free(h->flex_spw_id_array);
	free(h->polarization_array);
	free(h->history);
	free(h->phase_centers);
	free(h->keywords);
	memset(h, 0, sizeof *h);
}

/* calloc of n items of size sz, never returning NULL for n == 0 on success. */
static void *zalloc(int64_t n, size_t sz)
{
	if (n < 0)
		return NULL;
	return calloc(n > 0 ? (size_t)n : 1, sz);
}

int uvh5_header_alloc(struct uvh5_header *h)
{
	int64_t na = h->Nants_telescope, nb = h->Nblts, nf = h->Nfreqs;

	if (na < 0 || nb < 0 || nf < 0 || h->Npols < 0 || h->Nspws < 0 || h->Nphase < 0)
		return -1;
	if (!(h->antenna_numbers = zalloc(na, sizeof *h->antenna_numbers)) ||
	    !(h->antenna_names = zalloc(na, sizeof *h->antenna_names)) ||
	    !(h->antenna_positions = zalloc(na * 3, sizeof(double))) ||
	    !(h->antenna_diameters = zalloc(na, sizeof(double))) ||
	    !(h->ant_1_array = zalloc(nb, sizeof(int64_t))) ||
	    !(h->ant_2_array = zalloc(nb, sizeof(int64_t))) ||
	    !(h->uvw_array = zalloc(nb * 3, sizeof(double))) ||
	    !(h->time_array = zalloc(nb, sizeof(double))) ||
	    !(h->lst_array = zalloc(nb, sizeof(double))) ||
	    !(h->integration_time = zalloc(nb, sizeof(double))) ||
	    !(h->phase_center_id_array = zalloc(nb, sizeof(int64_t))) ||
	    !(h->freq_array = zalloc(nf, sizeof(double))) ||
	    !(h->channel_width = zalloc(nf, sizeof(double))) ||
	    !(h->flex_spw_id_array = zalloc(nf, sizeof(int64_t))) ||
	    !(h->spw_array = zalloc(h->Nspws, sizeof(int64_t))) ||
	    !(h->polarization_array = zalloc(h->Npols, sizeof(int64_t))) ||
	    !(h->history = zalloc(1, 1)) ||
	    !(h->phase_centers = zalloc(h->Nphase, sizeof *h->phase_centers)))
		return -1;
	h->n_phase_centers = (int)h->Nphase;
	return 0;
}

/* Duplicate n*sz bytes of src into *dst (NULL stays NULL); 0 or -1. */
static int dup_arr(void *dst, const void *src, int64_t n, size_t sz)
{
	void **d = dst;

	*d = NULL;
	if (!src)
		return 0;
	if (n < 0)
		return -1;
	*d = malloc(n > 0 ? (size_t)n * sz : 1);
	if (!*d)
		return -1;
	if (n > 0)
		memcpy(*d, src, (size_t)n * sz);
	return 0;
}

int uvh5_header_copy(struct uvh5_header *dst, const struct uvh5_header *src)
{
	struct uvh5_header *d = dst;
	const struct uvh5_header *s = src;
	int64_t na = s->Nants_telescope, nb = s->Nblts, nf = s->Nfreqs;

	*d = *s;
	/* No pointer of d may alias src if a copy fails half way. */
	d->antenna_numbers = NULL; d->antenna_names = NULL;
	d->antenna_positions = d->antenna_diameters = NULL;
	d->ant_1_array = d->ant_2_array = NULL;
	d->uvw_array = d->time_array = d->lst_array = d->integration_time = NULL;
	d->phase_center_id_array = NULL;
	d->phase_center_app_ra = d->phase_center_app_dec = d->phase_center_frame_pa = NULL;
	d->freq_array = d->channel_width = NULL;
	d->flex_spw_id_array = d->spw_array = d->polarization_array = NULL;
	d->history = NULL;
	d->phase_centers = NULL;
	d->keywords = NULL;
	if (dup_arr(&d->antenna_numbers, s->antenna_numbers, na, sizeof(int64_t)) ||
	    dup_arr(&d->antenna_names, s->antenna_names, na, sizeof *s->antenna_names) ||
	    dup_arr(&d->antenna_positions, s->antenna_positions, na * 3, sizeof(double)) ||
	    dup_arr(&d->antenna_diameters, s->antenna_diameters, na, sizeof(double)) ||
	    dup_arr(&d->ant_1_array, s->ant_1_array, nb, sizeof(int64_t)) ||
	    dup_arr(&d->ant_2_array, s->ant_2_array, nb, sizeof(int64_t)) ||
	    dup_arr(&d->uvw_array, s->uvw_array, nb * 3, sizeof(double)) ||
	    dup_arr(&d->time_array, s->time_array, nb, sizeof(double)) ||
	    dup_arr(&d->lst_array, s->lst_array, nb, sizeof(double)) ||
	    dup_arr(&d->integration_time, s->integration_time, nb, sizeof(double)) ||
	    dup_arr(&d->phase_center_id_array, s->phase_center_id_array, nb, sizeof(int64_t)) ||
	    dup_arr(&d->phase_center_app_ra, s->phase_center_app_ra, nb, sizeof(double)) ||
	    dup_arr(&d->phase_center_app_dec, s->phase_center_app_dec, nb, sizeof(double)) ||
	    dup_arr(&d->phase_center_frame_pa, s->phase_center_frame_pa, nb, sizeof(double)) ||
	    dup_arr(&d->freq_array, s->freq_array, nf, sizeof(double)) ||
	    dup_arr(&d->channel_width, s->channel_width, nf, sizeof(double)) ||
	    dup_arr(&d->flex_spw_id_array, s->flex_spw_id_array, nf, sizeof(int64_t)) ||
	    dup_arr(&d->spw_array, s->spw_array, s->Nspws, sizeof(int64_t)) ||
	    dup_arr(&d->polarization_array, s->polarization_array, s->Npols, sizeof(int64_t)) ||
	    dup_arr(&d->history, s->history ? s->history : "",
	        (int64_t)strlen(s->history ? s->history : "") + 1, 1) ||
	    dup_arr(&d->phase_centers, s->phase_centers, s->n_phase_centers,
	        sizeof *s->phase_centers) ||
	    dup_arr(&d->keywords, s->keywords, s->n_keywords, sizeof *s->keywords)) {
		uvh5_header_free(d);
		return -1;
	}
	return 0;
}

int uvh5_header_add_history(struct uvh5_header *h, const char *line)
{
	const char *old = h->history ? h->history : "";
	size_t hl = strlen(old), nl = hl + strlen(line) + 2;
	char *nh = malloc(nl);

	if (!nh)
		return -1;
	snprintf(nh, nl, "%s%s%s", old, hl && old[hl - 1] != '\n' ? "\n" : "", line);
	free(h->history);
	h->history = nh;
	return 0;
}

int uvh5_header_set_keyword(struct uvh5_header *h, const char *name, const char *value)
{
	struct uvh5_keyword *k;
	int i;

	if (!name || !name[0] || strlen(name) >= sizeof k->name || strchr(name, '/') ||
	    strcmp(name, ".") == 0)
		return -1;
	for (i = 0; i < h->n_keywords; i++)
		if (strcmp(h->keywords[i].name, name) == 0)
			break;
	if (i == h->n_keywords) {
		k = realloc(h->keywords, ((size_t)h->n_keywords + 1) * sizeof *k);
		if (!k)
			return -1;
		h->keywords = k;
		h->n_keywords++;
		memset(&k[i], 0, sizeof k[i]);
		snprintf(k[i].name, sizeof k[i].name, "%s", name);
	}
	snprintf(h->keywords[i].value, sizeof h->keywords[i].value, "%s", value ? value : "");
	return 0;
}

const char *uvh5_header_keyword(const struct uvh5_header *h, const char *name)
{
	int i;

	for (i = 0; i < h->n_keywords; i++)
		if (strcmp(h->keywords[i].name, name) == 0)
			return h->keywords[i].value;
	return NULL;
}

/* Keyword name as one finite number (whole value); 1, or 0 if absent/bad. */
static int kw_num(const struct uvh5_header *h, const char *name, double *v)
{
	const char *s = uvh5_header_keyword(h, name);
	char *end;

	if (!s || !*s)
		return 0;
	*v = strtod(s, &end);
	while (*end == ' ')
		end++;
	return end != s && !*end && isfinite(*v);
}

int uvh5_pointing(const struct uvh5_header *h, double *ra, double *dec, char *why, size_t n)
{
	const struct uvh5_phase_center *pc = h->n_phase_centers > 0 ? &h->phase_centers[0] : NULL;
	const char *ph = uvh5_header_keyword(h, "phasing");
	double v;
	int i;

	*ra = 0;
	*dec = h->latitude * M_PI / 180;
	if (!strcmp(h->phase_type, "phased") || (pc && !strcmp(pc->type, "sidereal"))) {
		if (!pc || !isfinite(pc->lat) || fabs(pc->lat) > M_PI / 2 || !isfinite(pc->lon)) {
			snprintf(why, n, "phased file without a usable phase centre position");
			return -1;
		}
		*ra = pc->lon;
		*dec = pc->lat;
		return UVH5_PT_FIXED;
	}
	if (kw_num(h, "phase_center_dec", &v)) {
		if (fabs(v) > M_PI / 2) {
			snprintf(why, n, "extra_keywords/phase_center_dec %.17g is not a declination "
			    "in radians", v);
			return -1;
		}
		*dec = v;
		return UVH5_PT_MERIDIAN;
	}
	if (h->app_dec_scalar && h->phase_center_app_dec) {
		v = h->phase_center_app_dec[0];
		if (!isfinite(v) || fabs(v) > M_PI / 2) {
			snprintf(why, n, "phase_center_app_dec %.17g is not a declination in radians", v);
			return -1;
		}
		*dec = v;
		return UVH5_PT_MERIDIAN;
	}
	if (kw_num(h, "phase_dec_deg", &v)) {
		if (fabs(v) > 90) {
			snprintf(why, n, "extra_keywords/phase_dec_deg %.17g is not a declination", v);
			return -1;
		}
		*dec = v * M_PI / 180;
		return UVH5_PT_MERIDIAN;
	}
	if (uvh5_header_keyword(h, "ha_phase_center") || uvh5_header_keyword(h, "phase_center_epoch") ||
	    (ph && !strcmp(ph, "meridian"))) {
		if (h->phase_center_app_dec && isfinite(v = h->phase_center_app_dec[0]) &&
		    fabs(v) <= M_PI / 2) {
			*dec = v;
			return UVH5_PT_MERIDIAN;
		}
		snprintf(why, n, "meridian drift file without its pointing declination "
		    "(no extra_keywords/phase_center_dec, no phase_center_app_dec)");
		return -1;
	}
	for (i = 0; i < h->n_phase_centers; i++)
		if (!strcmp(h->phase_centers[i].type, "sidereal")) {
			snprintf(why, n, "more than one kind of phase centre");
			return -1;
		}
	return UVH5_PT_ZENITH;
}

const char *uvh5_pol_name(int64_t code)
{
	static const char *neg[] = { "rr", "ll", "rl", "lr", "xx", "yy", "xy", "yx" };
	static const char *pos[] = { "pI", "pQ", "pU", "pV" };

	if (code <= -1 && code >= -8)
		return neg[-code - 1];
	if (code >= 1 && code <= 4)
		return pos[code - 1];
	return "?";
}

const char *uvh5_vistype_name(enum uvh5_vistype t)
{
	switch (t) {
	case UVH5_CF32: return "complex64";
	case UVH5_CF64: return "complex128";
	case UVH5_CI32: return "int32";
	}
	return "?";
}
