/*
 * metrics.h: the pipeline's state as a Prometheus textfile (uvm-metrics).
 *
 * Reads state/pipeline.sqlite (and the watcher's state/watch.json when
 * present) into the text of a file for node_exporter's textfile collector.
 * One prefix (uvmake_), base units (seconds, bytes), _total counters,
 * labels only from bounded sets (stage, class, state: never a group id or a
 * file name; the known states are always present, 0 included, so a rule
 * on one of them can resolve). The derived gauges of alert.h (failure
 * ratio of the last hour, image and calibration age, queue depth, most
 * attempts, tmpfs use, watcher up) are exported too: uvm-alert reads
 * nothing but this file.
 *
 * Stage names come from the jobs themselves, and where a metric is about
 * one stage from the stage description (core/stages.h): the group latency
 * runs from the start of a group's last job of the entry stage (the one
 * reading the incoming files, verify) to the end of its successful job of
 * the stage of role image.
 */
#ifndef UVM_OPS_METRICS_H
#define UVM_OPS_METRICS_H

#include <stddef.h>

#include "core/cfg.h"
#include "core/stages.h"

/*
 * The textfile of the deployment of c at time now into *text (malloc'd,
 * *len bytes). 0, or an exit status (74: the database cannot be opened,
 * logged).
 */
int metrics_text(const struct cfg *c, const struct stages *st, double now, char **text, size_t *len);

#endif
