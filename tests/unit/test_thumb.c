/*
 * test_thumb: the dashboard thumbnail. A synthetic image with known
 * quadrant values goes through thumb_png and thumb_png_fits; libpng decodes
 * the result and the test checks the size (block averaging to at most 256
 * pixels, no enlargement), the orientation (FITS row 0 at the bottom), the
 * stretch end points and the asinh levels, and that base64 round-trips.
 */
#include <fitsio.h>
#include <math.h>
#include <openssl/evp.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/thumb.h"

static int n, failed;

static void ok(int cond, const char *name)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, name);
	failed |= !cond;
}

/* Decode png into a malloc'd 8-bit grey buffer; NULL on failure. */
static unsigned char *decode(const unsigned char *png, size_t len, int *w, int *h)
{
	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&im, png, len))
		return NULL;
	im.format = PNG_FORMAT_GRAY;
	unsigned char *g = malloc(PNG_IMAGE_SIZE(im));
	if (!g || !png_image_finish_read(&im, NULL, g, 0, NULL)) {
		free(g);
		png_image_free(&im);
		return NULL;
	}
	*w = (int)im.width;
	*h = (int)im.height;
	return g;
}

/* 512 x 256: value 0 lower left, 50 upper left, 100 lower right, 150 upper
 * right ("upper": FITS rows 128..255); one NaN 2x2 block at the origin. */
static float *quadrants(void)
{
	float *p = malloc(512 * 256 * sizeof *p);
	for (int y = 0; y < 256; y++)
		for (int x = 0; x < 512; x++)
			p[y * 512 + x] = (float)((x >= 256 ? 100 : 0) + (y >= 128 ? 50 : 0));
	p[0] = p[1] = p[512] = p[513] = NAN;
	return p;
}

static int level(double t)
{
	return (int)lround(255.0 * asinh(10.0 * t) / asinh(10.0));
}

static void check_quadrants(const unsigned char *png, size_t len, const char *what)
{
	char name[128];
	int w = 0, h = 0;
	unsigned char *g = decode(png, len, &w, &h);
	snprintf(name, sizeof name, "%s: decodes as a 256 x 128 PNG", what);
	ok(g && w == 256 && h == 128, name);
	if (!g)
		return;
	/* PNG row 0 is the top: FITS rows 254..255. */
	snprintf(name, sizeof name, "%s: upper right (150, the 99.5th percentile) is 255", what);
	ok(g[0 * w + 255] == 255 && g[10 * w + 200] == 255, name);
	snprintf(name, sizeof name, "%s: lower left (0, the 1st percentile) is 0; NaN block is 0", what);
	ok(g[100 * w + 10] == 0 && g[127 * w + 0] == 0, name);
	snprintf(name, sizeof name, "%s: 50 and 100 get the asinh levels %d and %d", what, level(1.0 / 3),
	    level(2.0 / 3));
	ok(g[10 * w + 10] == level(1.0 / 3) && g[100 * w + 200] == level(2.0 / 3), name);
	free(g);
}

int main(void)
{
	unsigned char *png = NULL;
	size_t len = 0;
	int w, h;
	float *p = quadrants();

	ok(thumb_png(p, 512, 256, 256, &png, &len, &w, &h) == 0 && w == 256 && h == 128, "thumb_png 512x256 -> 256x128");
	check_quadrants(png, len, "thumb_png");

	char *b64 = thumb_base64(png, len);
	unsigned char *back = malloc(len + 4);
	int k = b64 ? EVP_DecodeBlock(back, (const unsigned char *)b64, (int)strlen(b64)) : -1;
	ok(b64 && strlen(b64) == 4 * ((len + 2) / 3) && k >= (int)len && !memcmp(back, png, len),
	    "base64 round-trips");
	free(b64);
	free(back);
	free(png);

	/* The same image through a FITS file (3 axes, as the imager writes). */
	char path[] = "/tmp/test_thumb_XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	char bang[64];
	snprintf(bang, sizeof bang, "!%s", path);
	fitsfile *f;
	int st = 0;
	long ax[3] = {512, 256, 1};
	fits_create_file(&f, bang, &st);
	fits_create_img(f, FLOAT_IMG, 3, ax, &st);
	fits_write_img(f, TFLOAT, 1, 512 * 256, p, &st);
	fits_close_file(f, &st);
	ok(st == 0, "synthetic FITS written");
	png = NULL;
	ok(thumb_png_fits(path, 256, &png, &len, &w, &h) == 0, "thumb_png_fits reads it");
	if (png)
		check_quadrants(png, len, "thumb_png_fits");
	free(png);
	unlink(path);
	ok(thumb_png_fits("/nonexistent/image.fits", 256, &png, &len, &w, &h) < 0, "missing file fails");

	/* Small images are not enlarged; a constant image is all 0. */
	float c[6 * 4];
	for (int i = 0; i < 24; i++)
		c[i] = 7;
	png = NULL;
	unsigned char *g = NULL;
	if (thumb_png(c, 6, 4, 256, &png, &len, &w, &h) == 0)
		g = decode(png, len, &w, &h);
	int zero = g != NULL;
	for (int i = 0; g && i < 24; i++)
		zero &= g[i] == 0;
	ok(g && w == 6 && h == 4 && zero, "6x4 stays 6x4, constant is 0");
	free(g);
	free(png);
	ok(thumb_png(c, 0, 4, 256, &png, &len, &w, &h) < 0, "empty image is refused");
	free(p);
	return failed;
}
