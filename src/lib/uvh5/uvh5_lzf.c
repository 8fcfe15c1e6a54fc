/*
 * uvh5_lzf.c: the LZF compression filter (HDF5 filter id 32000) on liblzf.
 *
 * h5py's LZF filter is not part of libhdf5, yet pyuvdata writes flags and
 * nsamples with it, so every UVH5 reader needs it. A chunk is stored as one
 * raw liblzf block; cd_values are {filter revision, LZF version, chunk
 * size in bytes}, the last used as the first guess of the decompressed
 * size. We register the same id so our files read in h5py and theirs here.
 *
 * Decompression is our own (lzf_expand): liblzf's copies every back
 * reference that overlaps its own output (longer than its distance) byte
 * by byte, and flags and nsamples are almost all such references (runs of
 * 0 bytes, of a repeated float), so decoding them cost more than checking
 * them. Copying by blocks that double the distance does the same work in
 * a few memcpy calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * liblzf's compressor leaves its hash table uninitialised unless built with
 * INIT_HTAB, so the bytes it produces depend on stack garbage: valid, but
 * not repeatable run to run (and valgrind reports it). liblzf-dev ships its
 * source for embedding; when it is there we compile the compressor with
 * INIT_HTAB under our own name, so that a product written twice is the
 * same bytes. Decompression is our own (lzf_expand below).
 */
#if defined(__has_include) && __has_include("/usr/src/liblzf/lzf_c.c")
#define INIT_HTAB 1
#define STRICT_ALIGN 1 /* byte loads: no unaligned access (UBSan-clean) */
#define lzf_compress uvh5_lzf_compress
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include "/usr/src/liblzf/lzf_c.c"
#pragma GCC diagnostic pop
#undef lzf_compress
#define UVH5_LZF_COMPRESS uvh5_lzf_compress
#endif

#if defined(__has_include) && !__has_include(<lzf.h>)
#include <liblzf/lzf.h>
#else
#include <lzf.h>
#endif

#ifndef UVH5_LZF_COMPRESS
#define UVH5_LZF_COMPRESS lzf_compress
#endif

#include "uvh5/uvh5_priv.h"

#define LZF_FILTER_REVISION 4
#define LZF_FORMAT_VERSION 0x0105

/*
 * Fill cd_values for a dataset about to be created: revision, version and
 * the chunk size in bytes (type size times chunk elements). Negative if the
 * dataset is not chunked.
 */
static herr_t lzf_set_local(hid_t dcpl, hid_t type, hid_t space)
{
	unsigned flags, cd[3] = { 0, 0, 0 };
	size_t ncd = 3;
	hsize_t chunk[H5S_MAX_RANK];
	int rank, i;
	size_t bytes;

	(void)space;
	if (H5Pget_filter_by_id2(dcpl, UVH5_LZF_FILTER, &flags, &ncd, cd, 0, NULL, NULL) < 0)
		return -1;
	rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk);
	if (rank < 1)
		return -1;
	bytes = H5Tget_size(type);
	if (bytes == 0)
		return -1;
	for (i = 0; i < rank; i++)
		bytes *= chunk[i];
	cd[0] = LZF_FILTER_REVISION;
	cd[1] = LZF_FORMAT_VERSION;
	cd[2] = bytes > 0xffffffffu ? 0 : (unsigned)bytes;
	return H5Pmodify_filter(dcpl, UVH5_LZF_FILTER, flags, 3, cd);
}

/*
 * The filter proper. Compressing: a block no larger than the input, or 0
 * (failure) when LZF cannot shrink it, which makes libhdf5 store the chunk
 * uncompressed (the filter is optional). Decompressing: start from the
 * recorded chunk size and grow the buffer until the block fits.
 */
/*
 * Decode the LZF block in[0..n) into out (capacity outn): the number of
 * bytes produced, or 0 with errno E2BIG (out too small) or EINVAL
 * (corrupt: a run or reference outside its buffer, a truncated block).
 * Never reads or writes outside the two buffers.
 */
static size_t lzf_expand(const unsigned char *in, size_t n, unsigned char *out, size_t outn)
{
	const unsigned char *ip = in, *end = in + n;
	unsigned char *op = out, *oend = out + outn;

	while (ip < end) {
		size_t c = *ip++, len;

		if (c < 32) {                   /* literal run of c + 1 bytes */
			len = c + 1;
			if (len > (size_t)(oend - op))
				goto e2big;
			if (len > (size_t)(end - ip))
				goto einval;
			memcpy(op, ip, len);
			op += len;
			ip += len;
			continue;
		}
		len = c >> 5;                   /* back reference */
		if (ip >= end)
			goto einval;
		if (len == 7) {
			len += *ip++;
			if (ip >= end)
				goto einval;
		}
		{
			size_t dist = ((c & 0x1f) << 8) + *ip++ + 1;
			const unsigned char *ref;

			len += 2;
			if (dist > (size_t)(op - out))
				goto einval;
			if (len > (size_t)(oend - op))
				goto e2big;
			ref = op - dist;
			if (dist == 1) {
				memset(op, *ref, len);
				op += len;
				continue;
			}
			/* The pattern of period dist repeats: each copy doubles
			 * the distance, no copy overlaps itself. */
			while (len) {
				size_t k = (size_t)(op - ref) < len ? (size_t)(op - ref) : len;

				memcpy(op, ref, k);
				op += k;
				len -= k;
			}
		}
	}
	return (size_t)(op - out);
e2big:
	errno = E2BIG;
	return 0;
einval:
	errno = EINVAL;
	return 0;
}

static size_t lzf_filter(unsigned flags, size_t ncd, const unsigned cd[],
    size_t nbytes, size_t *buf_size, void **buf)
{
	void *out = NULL;
	size_t outsize, n;

	if (!(flags & H5Z_FLAG_REVERSE)) {
		outsize = nbytes;
		if (outsize < 2)
			return 0;
		out = H5allocate_memory(outsize, 0);
		if (!out)
			return 0;
		n = uvh5_lzf_encode(*buf, nbytes, out, outsize);
		if (n == 0) {
			H5free_memory(out);
			return 0;
		}
	} else {
		outsize = (ncd >= 3 && cd[2] != 0) ? cd[2] : *buf_size;
		if (outsize < 64)
			outsize = 64;
		for (;;) {
			out = H5allocate_memory(outsize, 0);
			if (!out)
				return 0;
			n = lzf_expand(*buf, nbytes, out, outsize);
			if (n != 0)
				break;
			H5free_memory(out);
			out = NULL;
			if (errno != E2BIG || outsize > ((size_t)1 << 31))
				return 0;
			outsize *= 2;
		}
	}
	H5free_memory(*buf);
	*buf = out;
	*buf_size = outsize;
	return n;
}

size_t uvh5_lzf_encode(const void *in, size_t n, void *out, size_t outn)
{
	if (n < 2 || n > 0xffffffffu)
		return 0;
	return UVH5_LZF_COMPRESS(in, (unsigned)n, out, (unsigned)(outn < n ? outn : n));
}

int uvh5_lzf_decode(const void *in, size_t n, void *out, size_t outn)
{
	if (n == 0)
		return -1;
	return lzf_expand(in, n, out, outn) == outn ? 0 : -1;
}

int uvh5_register_lzf(void)
{
	static int done;
	static const H5Z_class2_t cls = {
		H5Z_CLASS_T_VERS,
		(H5Z_filter_t)UVH5_LZF_FILTER,
		1, 1,
		"lzf",
		NULL,
		lzf_set_local,
		lzf_filter,
	};

	if (done)
		return 0;
	uvh5_h5_quiet();
	if (H5Zregister(&cls) < 0)
		return -1;
	done = 1;
	return 0;
}
