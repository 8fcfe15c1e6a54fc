/*
 * img_fft.c: FFTW plans for the imager, with wisdom in a file (contract
 * in img.h).
 *
 * FFTW_MEASURE plans are several times faster than FFTW_ESTIMATE ones on
 * these grids but take seconds to make; wisdom remembers them across runs.
 * The wisdom file is read if it exists and rewritten (atomically, through
 * fsx) only when planning learnt something new, so concurrent imagers at
 * worst both write the same knowledge.
 */
#include "sci/img.h"

#include <errno.h>
#include <fftw3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "core/fsx.h"

/* Import wisdom from path (missing or unreadable file: no wisdom, not an
 * error: it is only a cache). Returns 1 if imported. */
static int wisdom_import(const char *path)
{
	size_t len;
	char *s = fsx_read_file(path, &len);
	int ok;

	if (!s)
		return 0;
	ok = fftwf_import_wisdom_from_string(s) != 0;
	free(s);
	return ok;
}

int img_fft_plan(struct img_fft *f, int ng, float complex *buf, unsigned flags,
    const char *wisdom, int *loaded, int *saved, int *status, char *err)
{
	char *before = NULL, *after;

	*loaded = *saved = 0;
	f->ng = ng;
	if (wisdom) {
		*loaded = wisdom_import(wisdom);
		before = fftwf_export_wisdom_to_string();
	}
	f->plan = fftwf_plan_dft_2d(ng, ng, (fftwf_complex *)buf, (fftwf_complex *)buf,
	    FFTW_BACKWARD, flags);
	if (!f->plan) {
		free(before);
		snprintf(err, IMG_ERRLEN, "cannot plan a %d x %d FFT", ng, ng);
		*status = EX_SOFTWARE;
		return -1;
	}
	if (!wisdom)
		return 0;
	after = fftwf_export_wisdom_to_string();
	if (after && (!before || strcmp(before, after))) {
		if (fsx_write_file(wisdom, after, strlen(after), 0644) < 0) {
			snprintf(err, IMG_ERRLEN, "cannot write wisdom '%s': %s", wisdom,
			    strerror(errno));
			*saved = -1;
		} else {
			*saved = 1;
		}
	}
	free(before);
	free(after);
	return 0;
}

void img_fft_exec(const struct img_fft *f, float complex *buf)
{
	fftwf_execute_dft((fftwf_plan)f->plan, (fftwf_complex *)buf, (fftwf_complex *)buf);
}

void img_fft_free(struct img_fft *f)
{
	if (f->plan)
		fftwf_destroy_plan((fftwf_plan)f->plan);
	f->plan = NULL;
}

void img_fft_threads(int n)
{
	static int init;

	if (!init)
		init = fftwf_init_threads() ? 1 : -1;
	if (init > 0)
		fftwf_plan_with_nthreads(n < 1 ? 1 : n);
}
