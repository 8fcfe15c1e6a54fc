/*
 * stages.h: the pipeline graph, read from one plain-text description,
 * RULES_DIR/stages (rules/stages of the installation by default; a
 * deployment can point RULES_DIR at a copy of rules/).
 *
 * One line per stage, nine or ten whitespace-separated columns ('#' starts
 * a comment line; '-' is "none"):
 *
 *   name     the stage: its recipe is the pattern rule in rules/<name>.mk,
 *            its jobs run as `uvm-run -s <name>`, its keys are SLOTS_<name>,
 *            MEM_<name>, TIMEOUT_<name>; [a-z][a-z0-9_]*
 *   product  path template relative to the deployment: {G} the group id,
 *            {S} the subband (sbNN), {H} the hour id (YYYYMMDDTHH); the
 *            make target. Comma-separated templates after it name files
 *            the same job writes beside it (a report: flag.json): not
 *            targets, but known to the audit as made with the target
 *   inputs   comma-separated stages whose products are the prerequisites of
 *            this one, in the order its recipe sees them ($< is the first):
 *            the same group's product (of every present subband, for a
 *            per-subband input of a per-group stage; of the same subband
 *            between per-subband stages; of every group of the hour, for a
 *            per-hour stage). `chosen:<stage>` is the product of <stage>
 *            the planner chose for the group from the calibration registry
 *            (CAL_<G>: the group's own table, else another group's, else
 *            none). '-': none, the stage reads the incoming files (IN_<G>/sbNN).
 *   scope    subband (one product per present subband of a group), group,
 *            or hour (one product per mosaic hour; the first such stage,
 *            the mosaic, has exactly one per-group input, each later one
 *            exactly one per-hour input: the mosaic's catalogue)
 *   when     '-' every group, or `calibrator`: only groups in which a
 *            catalogue calibrator transits
 *   staging  tmpfs (its product may be written to STAGING_DIR behind a
 *            link; per-group products/{G}/<name> only) or disk
 *   retain   keep (uvm-retain never removes it), or CLASS:DAYS: a finished
 *            group's product is removed after RETAIN_<CLASS>_DAYS days
 *            (default DAYS, 0 keeps; per-group stages only)
 *   slots    the default of SLOTS_<name> (0: no limit)
 *   role     '-' or `image`: the group's image (the status thumbnail, the
 *            image age and group latency metrics); at most one
 *   keys     (optional) the config keys that matter to the stage's
 *            products: comma-separated names, a trailing '*' matching a
 *            prefix (IMAGE_*,PB_MODEL). The planner writes their values to
 *            state/settings/<name>.conf, a prerequisite of the stage's
 *            products, so changing one re-makes them and what reads them
 *
 * The parser is strict: a bad line, an unknown or duplicate name, a cycle,
 * a scope or template that do not fit fail the whole file with one message
 * "path:line: what" (the planner then exits 78). Lines need not be in
 * dependency order, but that is the order the makefile includes the rules.
 */
#ifndef UVM_STAGES_H
#define UVM_STAGES_H

#include <limits.h>
#include <stddef.h>

#include "core/cfg.h"

#define STAGES_MAX 32
#define STAGES_MAXIN 8
#define STAGES_NAMELEN 32
#define STAGES_TMPLLEN 128
#define STAGES_MAXALSO 2
#define STAGES_KEYSLEN 256

enum stage_scope { STAGE_SUBBAND, STAGE_GROUP, STAGE_HOUR };

struct stage_input {
	int stage;       /* index into stages.v */
	int chosen;      /* chosen:<stage>: the group's chosen table (CAL_<G>) */
};

struct stage {
	char name[STAGES_NAMELEN];
	char product[STAGES_TMPLLEN];
	char also[STAGES_MAXALSO][STAGES_TMPLLEN]; /* written with it (a report) */
	int nalso;
	struct stage_input in[STAGES_MAXIN];
	int nin;
	enum stage_scope scope;
	int calibrator;                  /* when: calibrator groups only */
	int tmpfs;                       /* staging: may be staged */
	char retain[STAGES_NAMELEN];     /* CLASS, "" for keep */
	long long retain_days;           /* the default of RETAIN_<CLASS>_DAYS */
	long long slots;                 /* the default of SLOTS_<name> */
	int image;                       /* role image */
	char keys[STAGES_KEYSLEN];       /* "" none, else the patterns, comma-separated */
	int line;                        /* in the file, for messages */
};

struct stages {
	struct stage v[STAGES_MAX];
	int n;
	int hour;                        /* the first per-hour stage, -1 none */
	int image;                       /* the stage of role image, -1 none */
	int chosen;                      /* the stage chosen: names, -1 none */
	char path[PATH_MAX];             /* the file read */
};

/*
 * Read and check the description at path into st. 0, or -1 with the
 * one-line reason "path:line: what" (or "path: what") in err.
 */
int stages_load(struct stages *st, const char *path, char *err, size_t errlen);
/* The same, from the rules directory of c (stages_rules_dir). */
int stages_load_cfg(struct stages *st, const struct cfg *c, char *err, size_t errlen);
/*
 * The rules directory of c into buf (PATH_MAX): RULES_DIR when set
 * (relative to the deployment), else this installation's (stages_install_dir).
 * 0, or -1 when none is found.
 */
int stages_rules_dir(const struct cfg *c, char *buf);
/*
 * The rules/ directory of this installation into buf (PATH_MAX): the
 * nearest rules/common.mk found walking up from the running executable's
 * directory (bin/ -> ../rules; build/san/bin/ -> ../../../rules; installed,
 * PREFIX/bin/ -> ../share/uvmake/rules), else $UVM_ROOT/rules. 0, or -1
 * when none is found.
 */
int stages_install_dir(char *buf);

/*
 * A path inside a versioned installation (LIBDIR/<version>/share/uvmake/...,
 * make install) rewritten in place through LIBDIR/current when current
 * leads to that version, so that a deployment's config names the files of
 * whatever version is installed next rather than this one's; any other
 * path is left as it is. 1 when rewritten, else 0.
 */
int stages_stable_path(char *path);

/* Does config key match one of stage s's keys patterns? */
int stages_key_matters(const struct stages *st, int s, const char *key);

/* The index of the stage called name, or -1. */
int stages_find(const struct stages *st, const char *name);
/*
 * Stage s's product for group (or hour) id and subband sb (ignored unless
 * per subband) into buf (PATH_MAX); returns buf.
 */
char *stages_product(const struct stages *st, int s, const char *id, int sb, char *buf);
/*
 * Is rel (relative to the deployment) a file some stage writes beside its
 * product (stage.also)? 1 with that product's path in target (PATH_MAX),
 * else 0.
 */
int stages_also_of(const struct stages *st, const char *rel, char *target);
/* The stage whose product rel (relative to the deployment) is, with its
 * group or hour id in id (IDS_LEN, core/ids.h) and subband in *sb; -1 when none. */
int stages_of_product(const struct stages *st, const char *rel, char *id, int *sb);
/* The first per-group stage whose first file beside its product is a JSON
 * report (flag: products/{G}/flag.json), or -1. */
int stages_report(const struct stages *st);
/* Stage s's k-th file beside its product for id and sb into buf (PATH_MAX);
 * returns buf. */
char *stages_also(const struct stages *st, int s, int k, const char *id, int sb, char *buf);
/* Does stage t read stage s's product (directly, not as a chosen table)? */
int stages_reads(const struct stages *st, int t, int s);
/* The first per-group stage that reads stage s's product (the image's
 * report: qa), or -1. */
int stages_reader(const struct stages *st, int s);
/* The first stage with no input (it reads the incoming files: verify), or
 * -1. */
int stages_entry(const struct stages *st);

/*
 * The defaults the description gives the config, set in c where c leaves
 * them unset or empty: STAGING_STAGES (the tmpfs stages, comma-separated)
 * and SLOTS_<name>. Called by cfg_load; a description that cannot be read
 * sets nothing (the planner reports it). 0, or -1 on ENOMEM.
 */
int stages_cfg_defaults(struct cfg *c);

#endif
