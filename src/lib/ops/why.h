/*
 * why.h: uvm-why, why a product is or would be re-made and what it was
 * made from.
 *
 * Make's view first: the target's rule in the generated state/pipeline.mk
 * (its prerequisites as the planner wrote them), followed down through
 * the prerequisites that are themselves targets, as make does: a missing
 * target, a prerequisite newer than it (a settings file among them: which
 * keys changed, the product's recorded value against the config's), a
 * prerequisite that would itself be re-made; the verdict is `make -q`'s.
 * A setting changed in uvmake.conf that the planner has not written yet
 * is named too (the next cycle re-makes for it). Then the records: the
 * product's own provenance (core/prov.h) and the last successful job that
 * made it, with the job's provenance (uvm-run's jobs table).
 *
 * Text output is one fact a line, "<fact> <detail>":
 *   target PATH / stage NAME / planned yes|no
 *   verdict re-make|up-to-date
 *   because missing PATH | newer PREREQ TARGET | remade PREREQ |
 *           setting KEY OLD NEW | unplanned-setting KEY OLD NEW
 *   made-by PROGRAM VERSION / input PATH SIZE / table PATH ID /
 *   setting KEY=VALUE / library NAME VERSION / job ID ENDED
 * Values are printed as they are, with "-" for an empty one; -j prints one
 * JSON object instead (why.c: members).
 */
#ifndef UVM_WHY_H
#define UVM_WHY_H

#include "core/cfg.h"

/*
 * Explain target (relative to the deployment c, or absolute inside it) on
 * stdout, as text or (json) JSON. Returns 0 up to date, 1 would be
 * re-made, EX_NOINPUT (66) not a product of the stage description or
 * neither planned nor present, EX_CONFIG for an unusable description,
 * EX_IOERR when stdout cannot be written; errors are logged.
 */
int why_run(const struct cfg *c, const char *target, int json);

#endif
