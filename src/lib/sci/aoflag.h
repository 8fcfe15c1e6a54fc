/*
 * aoflag.h: AOFlagger (C++ library, Debian aoflagger-dev) behind a small C
 * interface, so the rest of uvmake stays C. aoflag.cc is the project's only
 * C++ file: it turns one baseline's time x frequency x polarization plane
 * into an AOFlagger image set, runs a Lua strategy on it and gives the
 * mask back.
 *
 * AOFlagger's Strategy object is not thread-safe: make one aoflag per
 * thread (each loads the strategy once) and reuse it for every baseline.
 * No C++ exception crosses this interface: every failure becomes a return
 * value and one line in err.
 */
#ifndef UVM_AOFLAG_H
#define UVM_AOFLAG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AOFLAG_ERRLEN 512

typedef struct aoflag aoflag;

/*
 * Load the Lua strategy at path. NULL on failure with err filled (an
 * unreadable file, a Lua syntax error or an out-of-memory condition).
 */
aoflag *aoflag_new(const char *path, char *err);

/*
 * Flag one baseline. vis holds npol (1 or 2) planes of nfreq x ntimes
 * complex samples as interleaved float pairs (re, im), laid out
 * [pol][freq][time]; inflags (NULL: none) and mask are nfreq x ntimes
 * bytes [freq][time], one mask for all polarizations (AOFlagger's model).
 * inflags marks samples the strategy must treat as already flagged (the
 * strategy decides whether to use them). mask gets 0/1. Returns 0, or -1
 * with err filled.
 */
int aoflag_run(aoflag *a, size_t ntimes, size_t nfreq, size_t npol,
    const float *vis, const uint8_t *inflags, uint8_t *mask, char *err);

void aoflag_free(aoflag *a);

/* AOFlagger's version string, e.g. "3.1.0". */
const char *aoflag_version(void);

#ifdef __cplusplus
}
#endif

#endif
