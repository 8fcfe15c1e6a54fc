/*
 * aoflag.cc: the C interface of aoflag.h over AOFlagger's C++ API.
 *
 * AOFlagger images have time along x (the fast axis, rows padded to a
 * stride) and frequency along y; a set of 2 images is one polarization's
 * real and imaginary parts, a set of 4 two polarizations'. The strategy
 * returns one mask for the whole set. Every call catches all exceptions:
 * nothing C++ escapes to the C callers.
 */
#include "sci/aoflag.h"

#include <aoflagger.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

struct aoflag {
	aoflagger::AOFlagger flagger;
	aoflagger::Strategy strategy;
};

static void seterr(char *err, const char *what, const char *detail)
{
	std::snprintf(err, AOFLAG_ERRLEN, "%s: %s", what, detail);
}

extern "C" aoflag *aoflag_new(const char *path, char *err)
{
	aoflag *a = nullptr;

	try {
		a = new aoflag;
		a->strategy = a->flagger.LoadStrategyFile(std::string(path));
		return a;
	} catch (const std::exception &e) {
		seterr(err, "aoflagger strategy", e.what());
	} catch (...) {
		seterr(err, "aoflagger strategy", "unknown error");
	}
	delete a;
	return nullptr;
}

extern "C" int aoflag_run(aoflag *a, size_t ntimes, size_t nfreq, size_t npol,
    const float *vis, const uint8_t *inflags, uint8_t *mask, char *err)
{
	if (npol < 1 || npol > 2 || !ntimes || !nfreq) {
		seterr(err, "aoflagger", "bad image size");
		return -1;
	}
	try {
		aoflagger::ImageSet set = a->flagger.MakeImageSet(ntimes, nfreq, 2 * npol);
		size_t st = set.HorizontalStride();

		for (size_t p = 0; p < npol; p++) {
			float *re = set.ImageBuffer(2 * p), *im = set.ImageBuffer(2 * p + 1);
			const float *v = vis + 2 * p * nfreq * ntimes;
			for (size_t f = 0; f < nfreq; f++)
				for (size_t t = 0; t < ntimes; t++) {
					size_t k = 2 * (f * ntimes + t);
					re[f * st + t] = v[k];
					im[f * st + t] = v[k + 1];
				}
		}
		aoflagger::FlagMask out;
		if (inflags) {
			aoflagger::FlagMask in = a->flagger.MakeFlagMask(ntimes, nfreq, false);
			bool *b = in.Buffer();
			size_t fs = in.HorizontalStride();
			for (size_t f = 0; f < nfreq; f++)
				for (size_t t = 0; t < ntimes; t++)
					b[f * fs + t] = inflags[f * ntimes + t] != 0;
			out = a->strategy.Run(set, in);
		} else {
			out = a->strategy.Run(set);
		}
		const bool *b = out.Buffer();
		size_t fs = out.HorizontalStride();
		for (size_t f = 0; f < nfreq; f++)
			for (size_t t = 0; t < ntimes; t++)
				mask[f * ntimes + t] = b[f * fs + t] ? 1 : 0;
		return 0;
	} catch (const std::exception &e) {
		seterr(err, "aoflagger", e.what());
	} catch (...) {
		seterr(err, "aoflagger", "unknown error");
	}
	return -1;
}

extern "C" void aoflag_free(aoflag *a)
{
	delete a;
}

extern "C" const char *aoflag_version(void)
{
	static char v[32];

	if (!v[0]) {
		try {
			std::snprintf(v, sizeof v, "%s",
			    aoflagger::AOFlagger::GetVersionString().c_str());
		} catch (...) {
			std::snprintf(v, sizeof v, "unknown");
		}
	}
	return v;
}
