/*
 * cfg.h: the deployment and its config file.
 *
 * A deployment is a directory (from -D DIR, else $UVM_HOME, else ".") with
 * incoming/ products/ caltables/ mosaics/ quarantine/ state/ logs/ and
 * uvmake.conf: "KEY=value" lines that both sh (". uvmake.conf") and make
 * ("include uvmake.conf") read, so values are plain words without quotes or
 * spaces, "#" starts a comment line. Unknown keys are kept (rules may use
 * them); every known key has a default (cfg_defaults) so an empty file works.
 */
#ifndef UVM_CFG_H
#define UVM_CFG_H

#include <limits.h>

struct cfg_kv {
	char *key;
	char *val;
};

struct cfg {
	char home[PATH_MAX]; /* deployment root, absolute */
	struct cfg_kv *kv;
	int n, cap;
};

/* The built-in defaults, as "KEY=value\n# comment" text (uvm-init writes it). */
extern const char cfg_default_text[];

/*
 * Resolve the deployment (dir, else $UVM_HOME, else "."), load defaults then
 * home/uvmake.conf (missing file is fine), then the defaults the stage
 * description gives (stages_cfg_defaults: STAGING_STAGES when empty,
 * SLOTS_<stage> when unset). Returns 0, or -1 after logging a one-line
 * error (unreadable file, malformed line: "uvmake.conf:12: ...").
 */
int cfg_load(struct cfg *c, const char *dir);
/* cfg_load, then check home is a deployment (has state/): 0, or -1 after
 * logging "'home' is not a deployment (run uvm-init)" (c freed). Programs
 * map -1 to EX_NOINPUT. */
int cfg_load_deployment(struct cfg *c, const char *dir);
void cfg_free(struct cfg *c);
/* Value or the given fallback when unset. */
const char *cfg_str(const struct cfg *c, const char *key, const char *dflt);
long long cfg_int(const struct cfg *c, const char *key, long long dflt);
double cfg_double(const struct cfg *c, const char *key, double dflt);
/* Set (or override) a value in memory. */
int cfg_set(struct cfg *c, const char *key, const char *val);
/* home/sub into buf (PATH_MAX); returns buf. */
char *cfg_path(const struct cfg *c, const char *sub, char *buf);
/*
 * An installation file named by config key (dflt when unset), e.g. the
 * calibrator catalogue or the AOFlagger strategy: an absolute value as it
 * is; a relative one looked for under the deployment, then $UVM_ROOT,
 * then around the running program (bin/.. of a build tree,
 * bin/../share/uvmake of an installation). buf (PATH_MAX) gets the first that exists: 0; else the
 * deployment's candidate, for the caller's message: -1.
 */
int cfg_resource(const struct cfg *c, const char *key, const char *dflt, char *buf);

#endif
