/*
 * prov_ext.c: the parts of the provenance record (contract in prov.h) that
 * need the external libraries: their versions, asked of the libraries
 * themselves at run time (so the record names what ran, not what the
 * headers said at build time), and the record as FITS HISTORY cards.
 * Apart from prov.c so that a program that only keeps job records
 * (uvm-run, every job) does not load HDF5, cfitsio and their dependencies.
 */
#include "core/prov.h"

#include <fftw3.h>
#include <hdf5.h>
#include <sep.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wcslib/wcs.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/prog.h"

const char *eraVersion(void); /* erfaextra.h, not included by erfa.h */

/* The members of "libraries" (without the braces). */
static void libraries(struct buf *b)
{
	unsigned maj, min, rel;
	float fv = 0;
	int wv[3];
	char v[64];
	buf_puts(b, "\"hdf5\":");
	if (H5get_libversion(&maj, &min, &rel) >= 0)
		snprintf(v, sizeof v, "%u.%u.%u", maj, min, rel);
	else
		snprintf(v, sizeof v, "unknown");
	json_str_buf(b, v);
	fits_get_version(&fv);
	snprintf(v, sizeof v, "%g", (double)fv);
	buf_puts(b, ",\"cfitsio\":");
	json_str_buf(b, v);
	buf_puts(b, ",\"wcslib\":");
	json_str_buf(b, wcslib_version(wv));
	buf_puts(b, ",\"erfa\":");
	json_str_buf(b, eraVersion());
	buf_puts(b, ",\"sep\":");
	json_str_buf(b, sep_version_string);
	buf_puts(b, ",\"fftw\":");
	json_str_buf(b, fftw_version);
	buf_puts(b, ",\"sqlite\":");
	json_str_buf(b, sqlite3_libversion());
}

const char *prov_json(void)
{
	return prov_cached(libraries);
}

#define FITS_TAG "UVMPROV "
#define FITS_PIECE 63

static int count(const char *elem, size_t len, void *arg)
{
	(void)elem;
	(void)len;
	++*(int *)arg;
	return 0;
}

int prov_fits_write(fitsfile *f, int *status)
{
	const char *js = prov_json();
	char line[FITS_PIECE + 16], table[PATH_MAX];
	size_t n;
	int nin = 0;
	if (*status)
		return *status;
	if (!js)
		return *status = MEMORY_ALLOCATION;
	snprintf(line, sizeof line, "%s %s", log_prog(), prog_version());
	fits_write_history(f, line, status);
	if (json_get_array(js, "inputs", count, &nin) < 0 ||
	    json_get_string(js, "caltable", table, sizeof table) != 1)
		table[0] = 0;
	snprintf(line, sizeof line, "made from %d input(s)%s%.40s", nin, table[0] ? ", table " : "",
	    table);
	fits_write_history(f, line, status);
	for (const char *p = js; *p && !*status; p += n) {
		size_t k = strlen(FITS_TAG);
		n = strlen(p) < FITS_PIECE ? strlen(p) : FITS_PIECE;
		memcpy(line, FITS_TAG, k);
		for (size_t i = 0; i < n; i++)
			line[k + i] = p[i] >= 32 && p[i] <= 126 ? p[i] : '?';
		line[k + n] = '|';
		line[k + n + 1] = 0;
		fits_write_history(f, line, status);
	}
	return *status;
}

char *prov_fits_read(const char *path)
{
	fitsfile *f;
	int st = 0, nkeys = 0;
	char card[FLEN_CARD];
	struct buf b = {0};
	const char *tag = "HISTORY " FITS_TAG;
	struct stat sb;
	/* a plain name (no cfitsio extended syntax), a regular file (a FIFO
	 * would block) */
	if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || fits_open_diskfile(&f, path, READONLY, &st))
		return NULL;
	fits_get_hdrspace(f, &nkeys, NULL, &st);
	for (int i = 1; i <= nkeys && !st; i++) {
		char *bar;
		if (fits_read_record(f, i, card, &st) || strncmp(card, tag, strlen(tag)))
			continue;
		if ((bar = strrchr(card, '|')))
			buf_add(&b, card + strlen(tag), (size_t)(bar - card) - strlen(tag));
	}
	st = 0;
	fits_close_file(f, &st);
	if (!b.n || b.oom) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

