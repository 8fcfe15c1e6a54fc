/*
 * prov.h: provenance, what made a product. One record per process, built
 * here and nowhere else: the program and its version (prog_version), the
 * versions of the libraries it runs with (asked of the libraries
 * themselves), the stage ($UVM_STAGE, set by uvm-run) and that stage's
 * settings (the keys its line of rules/stages names, with the values the
 * config of $UVM_HOME gives: what the program read; the planner writes the
 * same text to state/settings/<stage>.conf), the inputs with their sizes,
 * and the calibration table used (path and id).
 *
 * The record is a one-line JSON object. Products carry it (FITS HISTORY,
 * the UVH5 root attribute uvm_provenance, a "provenance" member of JSON
 * reports) without times or job ids, so the same inputs still give the
 * same bytes (the suite compares products across runs); the job record
 * (uvm-run's jobs.provenance) adds the inputs' modification times and the
 * time the record was made, and leaves out the libraries. Members:
 *
 *   program version stage        strings ("" when not run by uvm-run)
 *   libraries                    {"hdf5": "1.14.5", ...}
 *   inputs                       [{"path": p, "size": n[, "mtime": "ISO"]}]
 *                                paths as given, made relative to $UVM_HOME
 *                                when under it
 *   caltable caltable_id         strings, present when a table was used
 *                                (directly, or by an input: prov_inherit)
 *   settings                     {"KEY": "value", ...} sorted by key
 *   made                         (job record only) ISO 8601 UTC
 *
 * Writers call prov_json(); programs declare their inputs and table first.
 */
#ifndef UVM_PROV_H
#define UVM_PROV_H

#include <fitsio.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/stages.h"

#define PROV_MAXIN 512

/* Start this process's record over for stage (NULL: $UVM_STAGE). */
void prov_begin(const char *stage);
/* Add an input: 0, or -1 with errno when it cannot be stat'ed (then it is
 * listed without a size). Beyond PROV_MAXIN inputs are counted only. */
int prov_input(const char *path);
/* prov_input for each of the n paths (a program's operands). */
void prov_inputs(char *const *paths, int n);
/* The calibration table used (id: the registry's, NULL or "" unknown). */
void prov_caltable(const char *path, const char *id);
/* Take the table named by an input's provenance (JSON text, NULL ignored)
 * unless one is set already. 1 taken, 0 none. */
int prov_inherit(const char *json);
/* A library only some programs link (AOFlagger): name and version. */
void prov_lib(const char *name, const char *version);
/*
 * The record as JSON (owned here, valid until the next prov_* change);
 * NULL when memory ran out. A process that called nothing else gets the
 * program, version, libraries, stage and settings.
 */
const char *prov_json(void);
/* The record with the inputs' mtimes and "made", without "libraries" (the
 * job record: the product has them), malloc'd; NULL on ENOMEM. */
char *prov_json_timed(void);
/*
 * In a FITS header (the current HDU of f): a HISTORY line saying what made
 * it in words, then the record split over "HISTORY UVMPROV <text>|" cards
 * (the '|' ends each piece, as FITS readers drop trailing blanks; bytes
 * outside printable ASCII become '?'). cfitsio's status convention.
 */
int prov_fits_write(fitsfile *f, int *status);
/* The record back from the primary HDU of the FITS file at path,
 * malloc'd; NULL when the file cannot be read or has none. */
char *prov_fits_read(const char *path);
/* Forget everything (tests; frees memory). */
void prov_reset(void);
/*
 * For prov_ext.c: the record built now (timed: with the inputs' mtimes
 * and "made"; libs, when given, writes the members of "libraries"),
 * malloc'd; and the untimed one cached until the next change. NULL on
 * ENOMEM.
 */
char *prov_build(int timed, void (*libs)(struct buf *));
const char *prov_cached(void (*libs)(struct buf *));

/*
 * The settings of stage s: "KEY=value\n" for every key of c its keys
 * column matches, sorted by key (a canonical text: equal settings give
 * equal bytes). malloc'd, *len its length (0 and "" when the stage has no
 * keys); NULL on ENOMEM.
 */
char *prov_settings_text(const struct stages *st, int s, const struct cfg *c, size_t *len);
/* state/settings/<stage>.conf relative to the deployment, into buf (PATH_MAX). */
char *prov_settings_rel(const char *stage, char *buf);

#endif
