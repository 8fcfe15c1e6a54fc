/*
 * run_prov.c: provenance on the wrapper's side (contract in run.h). The
 * product says what made it (core/prov.h, written by the program); the
 * job row adds when, and the inputs' times as the wrapper saw them. The
 * wrapper does not open the product: reading FITS or HDF5 would load
 * those libraries for every job (bench/bench-prov.sh); uvm-why reads it.
 */
#include "engine/run.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/prov.h"

void run_record_provenance(struct run_db *d, long long job_id, const char *target,
    const char *stage, const char **inputs, int ninputs)
{
	char *mine;
	struct buf b = {0};
	prov_begin(stage);
	for (int i = 0; i < ninputs; i++)
		prov_input(inputs[i]);
	mine = prov_json_timed();
	if (mine && *mine == '{') {
		buf_add(&b, mine, strlen(mine) - 1);
		buf_printf(&b, ",\"target\":");
		json_str_buf(&b, target);
		buf_puts(&b, "}");
	}
	free(mine);
	if (b.oom || !b.p || rdb_provenance(d, job_id, b.p) < 0)
		log_warn("'%s': cannot record its provenance in the job record", target);
	buf_free(&b);
	prov_reset();
}
