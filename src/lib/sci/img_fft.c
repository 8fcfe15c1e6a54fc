/*
 * img_fft.c: FFTW plans for the imager, with wisdom in a file, and the
 * half-spectrum folds around them (contract in img.h).
 *
 * The images are real, so their transforms are Hermitian and half of
 * each is redundant: a grid of visibilities (each gridded once, not with
 * its conjugate, whose image is the real part of the full transform) is
 * folded onto its half, T(k) = G(k) + conj G(-k), and transformed
 * complex-to-real; a model image is transformed real-to-complex and the
 * other half filled by symmetry for the degridder. Both take about half
 * the time and none of the memory of the complex transform they replace
 * (in place, on the same ng x ng complex buffer: the real image lies in
 * it with a row stride of 2 ng floats).
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
	{
		/* real rows of 2 ng floats, complex rows of ng (half used) */
		int dims[2] = {ng, ng}, cemb[2] = {ng, ng}, remb[2] = {ng, 2 * ng};

		f->plan = fftwf_plan_many_dft_c2r(2, dims, 1, (fftwf_complex *)buf, cemb, 1, 0,
		    (float *)buf, remb, 1, 0, flags);
		f->fwd = f->plan ? fftwf_plan_many_dft_r2c(2, dims, 1, (float *)buf, remb, 1, 0,
		    (fftwf_complex *)buf, cemb, 1, 0, flags) : NULL;
	}
	if (!f->plan || !f->fwd) {
		img_fft_free(f);
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

/* Column c's partner -c, wrapped. */
static inline int mirror(int c, int ng)
{
	return c ? ng - c : 0;
}

/* A self-paired column c: T(v) = G(v) + conj G(-v), Hermitian along v. */
static void fold_column(float complex *g, int ng, int c)
{
	size_t s = (size_t)ng;

	for (int v = 0; v <= ng / 2; v++) {
		float complex *a = g + (size_t)v * s + c, *b = g + (size_t)mirror(v, ng) * s + c;
		float complex x = *a + conjf(*b);

		*a = x;
		*b = conjf(x);
	}
}

/*
 * Fold grid G (ng x ng) onto its half, columns 0 .. ng/2, in place:
 * T(k) = G(k) + conj G(-k). Columns 1 .. (ng-1)/2 read their partners in
 * the other half, which nothing writes; the self-paired columns (0, and
 * ng/2 when ng is even) are made Hermitian along v pair by pair.
 */
static void fold_half(float complex *g, int ng)
{
	size_t s = (size_t)ng;

	for (int v = 0; v < ng; v++) {
		float complex *row = g + (size_t)v * s;
		const float complex *mrow = g + (size_t)mirror(v, ng) * s;

		for (int c = 1; c <= (ng - 1) / 2; c++)
			row[c] += conjf(mrow[ng - c]);
	}
	fold_column(g, ng, 0);
	if (ng % 2 == 0)
		fold_column(g, ng, ng / 2);
}

void img_fft_exec(const struct img_fft *f, float complex *buf)
{
	fold_half(buf, f->ng);
	fftwf_execute_dft_c2r((fftwf_plan)f->plan, (fftwf_complex *)buf, (float *)buf);
}

/*
 * After the real-to-complex (forward) transform, columns 0 .. ng/2 hold
 * F(k); make buf the full backward transform B = conj F the degridder
 * expects: B(k) = conj F(k) on the half, B(k) = F(-k) on the rest.
 */
static void unfold_half(float complex *g, int ng)
{
	size_t s = (size_t)ng;

	for (int v = 0; v < ng; v++) {
		float complex *row = g + (size_t)v * s;
		const float complex *mrow = g + (size_t)mirror(v, ng) * s;

		for (int c = ng / 2 + 1; c < ng; c++)
			row[c] = mrow[ng - c];
	}
	for (int v = 0; v < ng; v++) {
		float complex *row = g + (size_t)v * s;

		for (int c = 0; c <= ng / 2; c++)
			row[c] = conjf(row[c]);
	}
}

void img_fft_model(const struct img_fft *f, float complex *buf)
{
	fftwf_execute_dft_r2c((fftwf_plan)f->fwd, (float *)buf, (fftwf_complex *)buf);
	unfold_half(buf, f->ng);
}

void img_fft_free(struct img_fft *f)
{
	if (f->plan)
		fftwf_destroy_plan((fftwf_plan)f->plan);
	if (f->fwd)
		fftwf_destroy_plan((fftwf_plan)f->fwd);
	f->plan = f->fwd = NULL;
}

void img_fft_threads(int n)
{
	static int init;

	if (!init)
		init = fftwf_init_threads() ? 1 : -1;
	if (init > 0)
		fftwf_plan_with_nthreads(n < 1 ? 1 : n);
}
