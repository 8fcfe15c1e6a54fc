/*
 * thumb.c: block-averaged, asinh-stretched PNG previews (contract in
 * thumb.h). libpng's simplified write API encodes to memory; cfitsio reads
 * the FITS file from a buffer we read ourselves.
 */
#include "ops/thumb.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <openssl/evp.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsx.h"

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

int thumb_png(const float *pix, long nx, long ny, int maxdim, unsigned char **png, size_t *len, int *w,
    int *h)
{
	if (nx <= 0 || ny <= 0 || maxdim <= 0) {
		errno = EINVAL;
		return -1;
	}
	long big = nx > ny ? nx : ny, k = (big + maxdim - 1) / maxdim;
	long ox = nx / k, oy = ny / k;
	ox = ox ? ox : 1;
	oy = oy ? oy : 1;
	float *blk = malloc((size_t)(ox * oy) * sizeof *blk), *sorted = malloc((size_t)(ox * oy) * sizeof *sorted);
	unsigned char *grey = malloc((size_t)(ox * oy));
	long nfin = 0;
	int rc = -1;
	png_image im;
	memset(&im, 0, sizeof im);
	if (!blk || !sorted || !grey) {
		errno = ENOMEM;
		goto out;
	}
	for (long by = 0; by < oy; by++)
		for (long bx = 0; bx < ox; bx++) {
			double sum = 0;
			long n = 0;
			for (long y = by * k; y < (by + 1) * k && y < ny; y++)
				for (long x = bx * k; x < (bx + 1) * k && x < nx; x++) {
					float v = pix[y * nx + x];
					if (isfinite(v)) {
						sum += v;
						n++;
					}
				}
			blk[by * ox + bx] = n ? (float)(sum / (double)n) : NAN;
			if (n)
				sorted[nfin++] = blk[by * ox + bx];
		}
	qsort(sorted, (size_t)nfin, sizeof *sorted, cmp_float);
	double lo = nfin ? sorted[(long)floor(0.01 * (double)(nfin - 1) + 0.5)] : 0;
	double hi = nfin ? sorted[(long)floor(0.995 * (double)(nfin - 1) + 0.5)] : 0;
	for (long y = 0; y < oy; y++)
		for (long x = 0; x < ox; x++) {
			float v = blk[(oy - 1 - y) * ox + x];
			double t = 0;
			if (isfinite(v) && hi > lo)
				t = fmin(1.0, fmax(0.0, (v - lo) / (hi - lo)));
			grey[y * ox + x] = (unsigned char)lround(255.0 * asinh(10.0 * t) / asinh(10.0));
		}

	im.version = PNG_IMAGE_VERSION;
	im.width = (png_uint_32)ox;
	im.height = (png_uint_32)oy;
	im.format = PNG_FORMAT_GRAY;
	png_alloc_size_t size = 0;
	if (!png_image_write_to_memory(&im, NULL, &size, 0, grey, (png_int_32)ox, NULL)) {
		errno = EIO;
		goto out;
	}
	*png = malloc(size);
	if (!*png) {
		errno = ENOMEM;
		goto out;
	}
	if (!png_image_write_to_memory(&im, *png, &size, 0, grey, (png_int_32)ox, NULL)) {
		free(*png);
		*png = NULL;
		errno = EIO;
		goto out;
	}
	*len = size;
	*w = (int)ox;
	*h = (int)oy;
	rc = 0;
out:
	png_image_free(&im);
	free(blk);
	free(sorted);
	free(grey);
	return rc;
}

int thumb_png_fits(const char *path, int maxdim, unsigned char **png, size_t *len, int *w, int *h)
{
	size_t n;
	char *buf = fsx_read_file(path, &n);
	void *mem = buf;
	size_t msize = n;
	fitsfile *f = NULL;
	int st = 0, bitpix, naxis, any, rc = -1;
	long naxes[4] = {0, 0, 1, 1};
	float *pix = NULL;
	if (!buf)
		return -1;
	if (n < 2880 || fits_open_memfile(&f, "image.fits", READONLY, &mem, &msize, 0, NULL, &st) ||
	    fits_get_img_param(f, 4, &bitpix, &naxis, naxes, &st) || naxis < 2 || naxis > 4 || naxes[0] <= 0 ||
	    naxes[1] <= 0 || naxes[0] > 65536 || naxes[1] > 65536) {
		errno = EINVAL;
		goto out;
	}
	pix = malloc((size_t)(naxes[0] * naxes[1]) * sizeof *pix);
	if (!pix) {
		errno = ENOMEM;
		goto out;
	}
	float nul = NAN;
	if (fits_read_img(f, TFLOAT, 1, (LONGLONG)naxes[0] * naxes[1], &nul, pix, &any, &st)) {
		errno = EINVAL;
		goto out;
	}
	rc = thumb_png(pix, naxes[0], naxes[1], maxdim, png, len, w, h);
out:
	if (f) {
		int s2 = 0;
		fits_close_file(f, &s2);
	}
	free(pix);
	free(buf);
	return rc;
}

char *thumb_base64(const unsigned char *buf, size_t n)
{
	if (n > (size_t)1 << 30)
		return NULL;
	char *s = malloc(4 * ((n + 2) / 3) + 1);
	if (!s)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, buf, (int)n);
	return s;
}
