/*
 * thumb.h: a small PNG preview of an image, for the status dashboard.
 *
 * The dashboard embeds the latest image as a data: URI so it needs no
 * external asset. thumb_png reduces a float image to at most maxdim pixels
 * on its longer side by averaging k x k blocks (k the smallest integer that
 * fits; images already small are not enlarged), ignoring non-finite pixels,
 * then maps each block to an 8-bit grey level with an asinh stretch between
 * the 1st and 99.5th percentiles of the blocks:
 *     t = clamp((v - lo) / (hi - lo), 0, 1),  grey = round(255 asinh(10 t) / asinh(10))
 * (grey 0 everywhere when hi <= lo; a block with no finite pixel is 0).
 * FITS rows run bottom to top, PNG rows top to bottom: row 0 of the PNG is
 * the last row of the image, so north stays up. libpng writes the PNG;
 * OpenSSL's EVP_EncodeBlock does the base64.
 */
#ifndef UVM_THUMB_H
#define UVM_THUMB_H

#include <stddef.h>

/* PNG (8-bit greyscale) of pix[nx*ny] (x fastest, FITS order) into a
 * malloc'd *png of *len bytes; *w, *h get its size. 0, or -1 (errno
 * EINVAL for an empty image, ENOMEM, or EIO when libpng fails). */
int thumb_png(const float *pix, long nx, long ny, int maxdim, unsigned char **png, size_t *len, int *w,
    int *h);

/* The same from the first plane of a FITS image file, read whole
 * (O_NOFOLLOW, no cfitsio file-name parsing). 0, or -1 with errno
 * (EINVAL when it is not a 2-4 axis image). */
int thumb_png_fits(const char *path, int maxdim, unsigned char **png, size_t *len, int *w, int *h);

/* base64 of buf[0..n) as a malloc'd NUL-terminated string, or NULL. */
char *thumb_base64(const unsigned char *buf, size_t n);

#endif
