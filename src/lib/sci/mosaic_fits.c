/*
 * mosaic_fits.c: the mosaic's FITS file (contract in mosaic_int.h).
 *
 * The three images are made from the sums as they are written, a block
 * of rows at a time, so no copy of the grid is held: cfitsio builds the
 * headers only (in memory, for a 1 x 1 image whose NAXIS1/NAXIS2 cards
 * are then given the grid's size), and the data, big-endian IEEE floats,
 * are written here to the fsx temporary. The file holds no wall-clock
 * time, so the same inputs give the same bytes.
 */
#include "sci/mosaic_int.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "core/fsx.h"
#include "core/ids.h"
#include "core/prov.h"
#include "sci/geom.h"

#define ROWS_OUT 64 /* rows converted per write */

/* s with bytes outside printable ASCII (and the quote) as \xNN into out. */
static void printable(const char *s, char *out, size_t n)
{
	size_t k = 0;
	for (; *s && k + 5 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c > 0x7e || c == '\\' || c == '\'')
			k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
		else
			out[k++] = (char)c;
	}
	out[k] = 0;
}

static void put_wcs(fitsfile *f, const struct grid *g, int *st)
{
	fits_update_key_str(f, "CTYPE1", "RA---SIN", NULL, st);
	fits_update_key_dbl(f, "CRVAL1", g->ra, 15, "[deg] meridian at the hour's mid-time", st);
	fits_update_key_dbl(f, "CDELT1", -g->cell, 15, "[deg]", st);
	fits_update_key_dbl(f, "CRPIX1", g->w.crpix[0], 10, NULL, st);
	fits_update_key_str(f, "CUNIT1", "deg", NULL, st);
	fits_update_key_str(f, "CTYPE2", "DEC--SIN", NULL, st);
	fits_update_key_dbl(f, "CRVAL2", g->dec, 15, "[deg] pointing declination", st);
	fits_update_key_dbl(f, "CDELT2", g->cell, 15, "[deg]", st);
	fits_update_key_dbl(f, "CRPIX2", g->w.crpix[1], 10, NULL, st);
	fits_update_key_str(f, "CUNIT2", "deg", NULL, st);
	fits_update_key_dbl(f, "LONPOLE", 180.0, 6, NULL, st);
	fits_update_key_str(f, "RADESYS", "ICRS", NULL, st);
}

/* The primary header's keys (the mosaic's description and HISTORY). */
static void primary_keys(fitsfile *f, const struct mosaic_opts *o, const struct grid *g,
    const struct input *in, int n, double wmax, int *st)
{
	char d[32], line[PATH_MAX + 400], esc[PATH_MAX * 4 + 1], hour[IDS_LEN];
	double freq = 0, bmaj = 0, bmin = 0, bpa = 0;
	int nused = 0;

	for (int i = 0; i < n; i++)
		if (!in[i].why[0]) {
			nused++;
			freq += in[i].freq;
			bmaj += in[i].bmaj;
			bmin += in[i].bmin;
			bpa += in[i].bpa;
		}
	if (nused) {
		freq /= nused;
		bmaj /= nused;
		bmin /= nused;
		bpa /= nused;
	}
	ids_hour_id(g->start, hour);
	fits_update_key_str(f, "BTYPE", "Intensity", NULL, st);
	fits_update_key_str(f, "BUNIT", "Jy/beam", "primary-beam corrected", st);
	snprintf(line, sizeof line, "mosaic %s", hour);
	fits_update_key_str(f, "OBJECT", line, NULL, st);
	fits_update_key_str(f, "TELESCOP", "DSA-110", NULL, st);
	fits_update_key_str(f, "ORIGIN", "uvmake uvm-mosaic", NULL, st);
	fits_update_key_str(f, "MOSHOUR", hour, "uvmake hour id (UTC)", st);
	fits_update_key_lng(f, "MOSHOURS", o->hours, "hours per mosaic", st);
	geom_iso((double)g->start / 86400.0 + 2440587.5, d);
	d[strcspn(d, "Z")] = 0;
	fits_update_key_str(f, "DATE-OBS", d, "start of the hour (UTC)", st);
	fits_update_key_dbl(f, "MJD-OBS", (double)g->start / 86400.0 + 40587.0, 10, NULL, st);
	geom_iso((double)(g->start + o->hours * 1800LL) / 86400.0 + 2440587.5, d);
	d[strcspn(d, "Z")] = 0;
	fits_update_key_str(f, "DATE-AVG", d, "mid-time: grid centre RA = LST", st);
	put_wcs(f, g, st);
	fits_update_key_dbl(f, "FREQ", freq, 12, "[Hz] mean frequency of the inputs", st);
	fits_update_key_dbl(f, "BMAJ", bmaj, 10, "[deg] mean restoring beam of the inputs", st);
	fits_update_key_dbl(f, "BMIN", bmin, 10, "[deg]", st);
	fits_update_key_dbl(f, "BPA", bpa, 8, "[deg]", st);
	fits_update_key_lng(f, "NINPUT", nused, "images used", st);
	fits_update_key_lng(f, "NSKIPPED", n - nused, "reports skipped (HISTORY says why)", st);
	fits_update_key_str(f, "PBTYPE", beam_name(o->beam), "primary beam (PB_MODEL, beam.h)", st);
	fits_update_key_dbl(f, "DISHDIAM", BEAM_DISH_M, 6, "[m]", st);
	fits_update_key_dbl(f, "PBCUTOFF", o->cutoff, 6, "blank where weight < PBCUTOFF*WTMAX", st);
	fits_update_key_dbl(f, "WTMAX", wmax, 10, "[(Jy/beam)^-2] largest weight", st);
	fits_update_key_str(f, "INTERP", "lanczos3", "reprojection interpolation", st);
	fits_write_history(f, "uvm-mosaic: M = sum w B I / sum w B^2, w = 1/rms^2 from qa.json", st);
	for (int i = 0; i < n; i++) {
		printable(in[i].why[0] ? in[i].qa : in[i].image, esc, sizeof esc);
		if (in[i].why[0])
			snprintf(line, sizeof line, "skipped %s: %s", esc, in[i].why);
		else
			snprintf(line, sizeof line, "used %s: rms %.6g Jy/beam, freq %.9g Hz", esc,
			    in[i].rms, in[i].freq);
		fits_write_history(f, line, st);
	}
	prov_fits_write(f, st);
}

/*
 * The three headers, each a malloc'd string of whole 2880-byte blocks
 * (cards, END, blanks) for an nx x ny image. 0, or -1 with err.
 */
static int headers(const struct mosaic_opts *o, const struct grid *g, const struct input *in,
    int n, double wmax, char *hdr[3], size_t len[3], char *err)
{
	fitsfile *f = NULL;
	int st = 0, nk;
	long one[2] = {1, 1};
	size_t size = 2880 * 8;
	void *buf = malloc(size);
	char msg[FLEN_ERRMSG], *h;
	static const char *ext[3][3] = {{NULL, NULL, NULL},
		{"WEIGHT", "sum of w B^2", "(Jy/beam)**-2"},
		{"RMS", "expected noise, 1/sqrt(WEIGHT)", "Jy/beam"}};

	if (!buf)
		return snprintf(err, MOSAIC_ERRLEN, "out of memory for the FITS headers"), -1;
	fits_create_memfile(&f, &buf, &size, 2880 * 8, realloc, &st);
	fits_create_img(f, FLOAT_IMG, 2, one, &st);
	primary_keys(f, o, g, in, n, wmax, &st);
	for (int k = 1; k < 3; k++) {
		fits_create_img(f, FLOAT_IMG, 2, one, &st);
		fits_update_key_str(f, "EXTNAME", ext[k][0], ext[k][1], &st);
		fits_update_key_str(f, "BUNIT", ext[k][2], NULL, &st);
		put_wcs(f, g, &st);
	}
	for (int k = 0; k < 3 && !st; k++) {
		fits_movabs_hdu(f, k + 1, NULL, &st);
		if (fits_hdr2str(f, 0, NULL, 0, &h, &nk, &st))
			break;
		/* cfitsio ends the string with the END card; one is added if not */
		if (nk > 0 && !strncmp(h + (size_t)(nk - 1) * 80, "END ", 4))
			nk--;
		len[k] = ((size_t)nk * 80 + 80 + 2879) / 2880 * 2880;
		hdr[k] = malloc(len[k]);
		if (!hdr[k]) {
			fits_free_memory(h, &st);
			st = MEMORY_ALLOCATION;
			break;
		}
		memset(hdr[k], ' ', len[k]);
		memcpy(hdr[k], h, (size_t)nk * 80);
		memcpy(hdr[k] + (size_t)nk * 80, "END", 3);
		fits_free_memory(h, &st);
		/* the grid's size into the NAXISn cards (fixed format) */
		for (int c = 0; c < nk; c++) {
			char *card = hdr[k] + c * 80, tmp[81];
			int ax = !strncmp(card, "NAXIS1  =", 9) ? 1 : !strncmp(card, "NAXIS2  =", 9) ? 2 : 0;
			if (!ax)
				continue;
			snprintf(tmp, sizeof tmp, "NAXIS%d  = %20ld / length of data axis %d", ax,
			    ax == 1 ? g->nx : g->ny, ax);
			memset(card, ' ', 80);
			memcpy(card, tmp, strlen(tmp));
		}
	}
	if (st) {
		fits_get_errstatus(st, msg);
		snprintf(err, MOSAIC_ERRLEN, "cannot build the FITS headers: %s", msg);
	}
	{
		int s2 = 0;
		fits_close_file(f, &s2);
	}
	free(buf);
	return st ? -1 : 0;
}

static uint32_t be32(float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	return __builtin_bswap32(u);
}

/* Image k (0 mosaic, 1 weight, 2 rms) of the sums, as FITS data. */
static int write_data(int fd, int k, const struct grid *g, const float *num, const float *den,
    double thr, uint32_t *blk)
{
	size_t nel = (size_t)g->nx * (size_t)g->ny, done = 0, pad;
	while (done < nel) {
		size_t m = (size_t)ROWS_OUT * (size_t)g->nx;
		if (m > nel - done)
			m = nel - done;
		for (size_t i = 0; i < m; i++) {
			double d = den[done + i];
			int blank = !(d > 0) || d < thr;
			float v = k == 1 ? (float)d : blank ? NAN : k == 0 ? (float)(num[done + i] / d) :
			    (float)(1 / sqrt(d));
			blk[i] = be32(v);
		}
		if (fsx_write_all(fd, blk, m * 4) < 0)
			return -1;
		done += m;
	}
	pad = (2880 - nel * 4 % 2880) % 2880;
	memset(blk, 0, pad);
	return pad ? fsx_write_all(fd, blk, pad) : 0;
}

int mosaic_write(const struct mosaic_opts *o, const struct grid *g, const struct input *in, int n,
    const float *num, const float *den, double thr, double wmax, const char *out, int *status,
    char *err)
{
	char *hdr[3] = {NULL, NULL, NULL};
	size_t len[3] = {0, 0, 0};
	uint32_t *blk = malloc((size_t)ROWS_OUT * (size_t)g->nx * 4 + 2880);
	struct fsx_out fo;
	int rc = -1, e, why = EX_OSERR;

	if (!blk) {
		snprintf(err, MOSAIC_ERRLEN, "out of memory for the FITS mosaic");
		goto out;
	}
	if (headers(o, g, in, n, wmax, hdr, len, err) < 0) {
		why = EX_SOFTWARE;
		goto out;
	}
	if (fsx_reserve(&fo, out, 0644) < 0) {
		e = errno;
		why = fsx_exit_for_errno(e);
		snprintf(err, MOSAIC_ERRLEN, "cannot create '%s': %s", out, strerror(e));
		goto out;
	}
	for (int k = 0; k < 3; k++)
		if (fsx_write_all(fo.fd, hdr[k], len[k]) < 0 ||
		    write_data(fo.fd, k, g, num, den, thr, blk) < 0)
			goto werr;
	if (fsx_commit(&fo) < 0)
		goto werr;
	rc = 0;
	goto out;
werr:
	e = errno;
	fsx_abort(&fo);
	why = fsx_exit_for_errno(e);
	snprintf(err, MOSAIC_ERRLEN, "cannot write '%s': %s", out, strerror(e));
out:
	if (rc < 0)
		*status = why;
	for (int k = 0; k < 3; k++)
		free(hdr[k]);
	free(blk);
	return rc;
}
