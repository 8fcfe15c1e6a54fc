/*
 * uvh5_prov.c: the provenance of a UVH5 product (core/prov.h) as the root
 * string attribute uvm_provenance, written by the writer at commit and
 * read back by whoever asks what made a file (uvm-image, which carries
 * the calibration table on; uvm-why). An attribute at the root, not in
 * Header/: pyuvdata and the verifier ignore it, and the header stays the
 * correlator's.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/prov.h"
#include "uvh5/uvh5_priv.h"

#define ATTR "uvm_provenance"

int uvh5_put_provenance(hid_t fid)
{
	const char *js = prov_json();
	hid_t t, sp, a;
	int rc = -1;
	if (!js)
		return -1;
	t = H5Tcopy(H5T_C_S1);
	sp = H5Screate(H5S_SCALAR);
	if (t >= 0 && sp >= 0 && H5Tset_size(t, strlen(js) + 1) >= 0 &&
	    H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0 &&
	    (a = H5Acreate2(fid, ATTR, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0) {
		rc = H5Awrite(a, t, js) < 0 ? -1 : 0;
		if (H5Aclose(a) < 0)
			rc = -1;
	}
	if (t >= 0)
		H5Tclose(t);
	if (sp >= 0)
		H5Sclose(sp);
	return rc;
}

char *uvh5_provenance(const char *path)
{
	hid_t f, a = -1, t = -1, mt = -1;
	char *v = NULL;
	struct stat sb;
	uvh5_h5_quiet();
	if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
		return NULL;
	if (H5Aexists(f, ATTR) > 0 && (a = H5Aopen(f, ATTR, H5P_DEFAULT)) >= 0 &&
	    (t = H5Aget_type(a)) >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
		size_t n = H5Tget_size(t);
		mt = H5Tcopy(H5T_C_S1);
		if (n > 0 && n < (64u << 20) && mt >= 0 && H5Tset_size(mt, n + 1) >= 0 &&
		    (v = calloc(n + 2, 1)) && H5Aread(a, mt, v) < 0) {
			free(v);
			v = NULL;
		}
	}
	if (mt >= 0)
		H5Tclose(mt);
	if (t >= 0)
		H5Tclose(t);
	if (a >= 0)
		H5Aclose(a);
	H5Fclose(f);
	H5Eclear2(H5E_DEFAULT);
	return v;
}
