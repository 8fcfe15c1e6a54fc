/*
 * run_prov.c: provenance on the wrapper's side (contract in run.h). The
 * product says what made it (core/prov.h, written by the program); the
 * job row adds when, and the inputs' times as the wrapper saw them, so
 * `uvm-why` can answer from either when the other is gone.
 */
#include "engine/run.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"
#include "core/prov.h"
#include "uvh5/uvh5.h"

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && !strcmp(s + n - k, suf);
}

char *run_product_provenance(const char *path)
{
	if (ends_with(path, ".fits"))
		return prov_fits_read(path);
	if (ends_with(path, ".uvh5") || ends_with(path, ".h5") || ends_with(path, ".hdf5"))
		return uvh5_provenance(path);
	if (ends_with(path, ".json")) {
		char *text = fsx_read_file(path, NULL), *pv = NULL;
		if (text && json_get_object(text, "provenance", &pv) != 1)
			pv = NULL;
		free(text);
		return pv;
	}
	return NULL;
}

void run_record_provenance(struct run_db *d, long long job_id, const char *target,
    const char *stage, const char **inputs, int ninputs)
{
	char *mine, *product;
	struct buf b = {0};
	prov_begin(stage);
	for (int i = 0; i < ninputs; i++)
		prov_input(inputs[i]);
	mine = prov_json_timed();
	product = run_product_provenance(target);
	if (mine && *mine == '{') {
		buf_add(&b, mine, strlen(mine) - 1);
		buf_printf(&b, ",\"target\":");
		json_str_buf(&b, target);
		buf_printf(&b, ",\"product\":%s}", product ? product : "null");
	}
	free(mine);
	free(product);
	if (b.oom || !b.p || rdb_provenance(d, job_id, b.p) < 0)
		log_warn("'%s': cannot record its provenance in the job record", target);
	buf_free(&b);
	prov_reset();
}
