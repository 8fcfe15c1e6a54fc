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
#include "sci/img_int.h"

/* The threads of the plans being made (img_fft_threads). */
static int fft_nthreads = 1;

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

/* Write the wisdom to path if planning learnt something since before
 * (*saved 1; -1 with err if it could not be written). Frees before. */
static void wisdom_save(const char *path, char *before, int *saved, char *err)
{
	char *after = fftwf_export_wisdom_to_string();

	if (after && (!before || strcmp(before, after))) {
		if (fsx_write_file(path, after, strlen(after), 0644) < 0) {
			snprintf(err, IMG_ERRLEN, "cannot write wisdom '%s': %s", path,
			    strerror(errno));
			*saved = -1;
		} else {
			*saved = 1;
		}
	}
	free(before);
	free(after);
}

int img_fft_plan(struct img_fft *f, int ng, float complex *buf, unsigned flags,
    const char *wisdom, int *loaded, int *saved, int *status, char *err)
{
	char *before = NULL;

	*loaded = *saved = 0;
	memset(f, 0, sizeof *f);
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
	if (wisdom)
		wisdom_save(wisdom, before, saved, err);
	return 0;
}

/* A batch of cnt transforms of length ng from element a: rows (along
 * the contiguous axis) or columns (stride ng). */
static void *batch_plan(int ng, int cols, int a, int cnt, float complex *buf, unsigned flags)
{
	fftwf_complex *x = (fftwf_complex *)buf + (cols ? (size_t)a : (size_t)a * ng);

	return fftwf_plan_many_dft(1, &ng, cnt, x, NULL, cols ? ng : 1, cols ? 1 : ng, x, NULL,
	    cols ? ng : 1, cols ? 1 : ng, FFTW_BACKWARD, flags);
}

/* The end of a pruned pass's planning: ok, the wisdom saved if it
 * learnt something (before: as wisdom_save, freed); else -1 with err. */
static int planned(int ok, int ng, const char *wisdom, char *before, int *saved, int *status,
    char *err)
{
	if (!ok) {
		free(before);
		snprintf(err, IMG_ERRLEN, "cannot plan %d-point transforms of a %d x %d grid", ng,
		    ng, ng);
		*status = EX_SOFTWARE;
		return -1;
	}
	if (wisdom)
		wisdom_save(wisdom, before, saved, err);
	return 0;
}

int img_fft_prune(struct img_fft *f, int p, int r, int c, float complex *buf, unsigned flags,
    const char *wisdom, int *saved, int *status, char *err)
{
	struct img_fft_pass *q = &f->pass[p];
	char *before;
	int ng = f->ng, keep;

	*saved = 0;
	if (r < 1 || c < 1 || 2 * r >= ng || 2 * c >= ng)
		return 0;
	before = wisdom ? fftwf_export_wisdom_to_string() : NULL;
	q->r = r;
	q->c = c;
	q->rows[0] = batch_plan(ng, 0, 0, r + 1, buf, flags);
	q->rows[1] = batch_plan(ng, 0, ng - r, r, buf, flags);
	q->cols[0] = batch_plan(ng, 1, 0, c + 1, buf, flags);
	q->cols[1] = batch_plan(ng, 1, ng - c, c, buf, flags);
	/* the model's: one row on one thread, img_fft_exec_t deals rows
	 * to threads */
	if (p == IMG_FFT_MODEL) {
		keep = fft_nthreads;
		img_fft_threads(1);
		q->row1 = batch_plan(ng, 0, 0, 1, buf, flags);
		img_fft_threads(keep);
	}
	return planned(q->rows[0] && q->rows[1] && q->cols[0] && q->cols[1] &&
	    (p != IMG_FFT_MODEL || q->row1), ng, wisdom, before, saved, status, err);
}

void img_fft_exec(const struct img_fft *f, float complex *buf)
{
	fftwf_execute_dft((fftwf_plan)f->plan, (fftwf_complex *)buf, (fftwf_complex *)buf);
}

void img_fft_exec_pass(const struct img_fft *f, int p, float complex *buf)
{
	const struct img_fft_pass *q = &f->pass[p];
	fftwf_complex *x = (fftwf_complex *)buf;
	size_t ng = (size_t)f->ng;

	if (!q->rows[0]) {
		img_fft_exec(f, buf);
		return;
	}
	fftwf_execute_dft((fftwf_plan)q->rows[0], x, x);
	fftwf_execute_dft((fftwf_plan)q->rows[1], x + (ng - (size_t)q->r) * ng,
	    x + (ng - (size_t)q->r) * ng);
	fftwf_execute_dft((fftwf_plan)q->cols[0], x, x);
	fftwf_execute_dft((fftwf_plan)q->cols[1], x + ng - (size_t)q->c, x + ng - (size_t)q->c);
}

int img_fft_prune_t(struct img_fft *f, int mr, float complex *buf, unsigned flags,
    const char *wisdom, int *saved, int *status, char *err)
{
	char *before;
	int ng = f->ng;

	*saved = 0;
	if (mr < 1 || 2 * mr >= ng || !f->pass[IMG_FFT_MODEL].row1)
		return 0;
	before = wisdom ? fftwf_export_wisdom_to_string() : NULL;
	f->mr = mr;
	f->mt[0] = batch_plan(ng, 0, 0, mr + 1, buf, flags);
	f->mt[1] = batch_plan(ng, 0, ng - mr, mr, buf, flags);
	return planned(f->mt[0] && f->mt[1], ng, wisdom, before, saved, status, err);
}

struct t_job {
	fftwf_plan plan;
	fftwf_complex *rows, *t;
	const int *live;
	int nlive, mr;
	size_t ng;
};

static void t_rows(void *ctx, size_t lo, size_t hi)
{
	const struct t_job *j = ctx;

	for (size_t i = lo; i < hi; i++) {
		fftwf_complex *x = j->rows + i * j->ng;
		fftwf_execute_dft(j->plan, x, x);
	}
}

/* Columns u of t's rows [lo, hi) of the 2 mr + 1 kept (k <= mr: u = k,
 * else u = ng - (2 mr + 1 - k)), eight a cache line of rows at a time. */
#define T_BLOCK 8
static void t_transpose(void *ctx, size_t lo, size_t hi)
{
	const struct t_job *j = ctx;
	size_t keep = 2 * (size_t)j->mr + 1;

	for (size_t k0 = lo * T_BLOCK; k0 < hi * T_BLOCK && k0 < keep; k0 += T_BLOCK) {
		size_t k1 = k0 + T_BLOCK < keep ? k0 + T_BLOCK : keep, u[T_BLOCK];

		for (size_t k = k0; k < k1; k++) {
			u[k - k0] = k <= (size_t)j->mr ? k : j->ng - (keep - k);
			memset(j->t + u[k - k0] * j->ng, 0, sizeof *j->t * j->ng);
		}
		for (int i = 0; i < j->nlive; i++) {
			const fftwf_complex *r = j->rows + (size_t)i * j->ng;
			size_t v = (size_t)j->live[i];

			for (size_t k = k0; k < k1; k++)
				j->t[u[k - k0] * j->ng + v] = r[u[k - k0]];
		}
	}
}

int img_fft_exec_t(const struct img_fft *f, float complex *rows, const int *live, int nlive,
    float complex *t, int nthreads)
{
	size_t ng = (size_t)f->ng, keep = 2 * (size_t)f->mr + 1;
	fftwf_complex *x = (fftwf_complex *)t;
	struct t_job j = { (fftwf_plan)f->pass[IMG_FFT_MODEL].row1, (fftwf_complex *)rows, x, live,
		nlive, f->mr, ng };

	if (!f->mt[0])
		return -1;
	if (nlive > 0)
		img_par((size_t)nlive, nthreads, t_rows, &j);
	img_par((keep + T_BLOCK - 1) / T_BLOCK, nthreads, t_transpose, &j);
	fftwf_execute_dft((fftwf_plan)f->mt[0], x, x);
	fftwf_execute_dft((fftwf_plan)f->mt[1], x + (ng - (size_t)f->mr) * ng,
	    x + (ng - (size_t)f->mr) * ng);
	return 0;
}

void img_fft_free(struct img_fft *f)
{
	if (f->plan)
		fftwf_destroy_plan((fftwf_plan)f->plan);
	for (int p = 0; p < IMG_FFT_PASSES; p++)
		for (int i = 0; i < 2; i++) {
			if (f->pass[p].rows[i])
				fftwf_destroy_plan((fftwf_plan)f->pass[p].rows[i]);
			if (f->pass[p].cols[i])
				fftwf_destroy_plan((fftwf_plan)f->pass[p].cols[i]);
		}
	for (int p = 0; p < IMG_FFT_PASSES; p++)
		if (f->pass[p].row1)
			fftwf_destroy_plan((fftwf_plan)f->pass[p].row1);
	for (int i = 0; i < 2; i++)
		if (f->mt[i])
			fftwf_destroy_plan((fftwf_plan)f->mt[i]);
	memset(f, 0, sizeof *f);
}

void img_fft_threads(int n)
{
	static int init;

	if (!init)
		init = fftwf_init_threads() ? 1 : -1;
	fft_nthreads = n < 1 ? 1 : n;
	if (init > 0)
		fftwf_plan_with_nthreads(fft_nthreads);
}
