/*
 * prov.c: the provenance record (contract in prov.h). One record per
 * process, because a program makes one product: the writers deep in the
 * library (FITS, UVH5, JSON reports) take it from here rather than have
 * every options struct carry it. What needs the external libraries (their
 * versions, FITS cards) is in prov_ext.c, so that uvm-run, which records
 * only the timed part, does not load them for every job.
 */
#include "core/prov.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"
#include "core/prog.h"

struct prov_in {
	char *path;
	long long size;  /* -1: could not stat */
	struct timespec mtime;
};

static struct {
	int begun;
	char stage[STAGES_NAMELEN];
	struct prov_in in[PROV_MAXIN];
	int nin, nmore;
	char caltable[PATH_MAX], calid[128];
	struct buf libs;  /* extra ,"name":"version" members */
	char *json;       /* cached prov_json */
} P;

void prov_reset(void)
{
	for (int i = 0; i < P.nin; i++)
		free(P.in[i].path);
	buf_free(&P.libs);
	free(P.json);
	memset(&P, 0, sizeof P);
}

static void changed(void)
{
	free(P.json);
	P.json = NULL;
}

/* A stage name safe in a path: [a-z][a-z0-9_]*, else "". */
static void set_stage(const char *s)
{
	size_t i = 0;
	P.stage[0] = 0;
	if (!s || !(*s >= 'a' && *s <= 'z') || strlen(s) >= sizeof P.stage)
		return;
	for (; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return;
	memcpy(P.stage, s, i + 1);
}

void prov_begin(const char *stage)
{
	prov_reset();
	P.begun = 1;
	set_stage(stage ? stage : getenv("UVM_STAGE"));
}

static void ensure(void)
{
	if (!P.begun)
		prov_begin(NULL);
}

/* path relative to $UVM_HOME when under it (the same product has the same
 * record in every deployment), else as given. */
static const char *relative(const char *path)
{
	const char *home = getenv("UVM_HOME");
	size_t n = home ? strlen(home) : 0;
	while (n > 1 && home[n - 1] == '/')
		n--;
	if (n && path[0] == '/' && !strncmp(path, home, n) && path[n] == '/' && path[n + 1])
		return path + n + 1;
	return path;
}

int prov_input(const char *path)
{
	struct stat st;
	struct prov_in *in;
	int rc = 0;
	ensure();
	changed();
	if (P.nin == PROV_MAXIN) {
		P.nmore++;
		return 0;
	}
	in = &P.in[P.nin];
	memset(in, 0, sizeof *in);
	if (!(in->path = strdup(relative(path))))
		return -1;
	in->size = -1;
	if (stat(path, &st) == 0) {
		in->size = (long long)st.st_size;
		in->mtime = st.st_mtim;
	} else {
		rc = -1;
	}
	P.nin++;
	return rc;
}

void prov_caltable(const char *path, const char *id)
{
	ensure();
	changed();
	snprintf(P.caltable, sizeof P.caltable, "%s", path ? relative(path) : "");
	snprintf(P.calid, sizeof P.calid, "%s", id ? id : "");
}

int prov_inherit(const char *json)
{
	char t[PATH_MAX], id[128] = "";
	ensure();
	if (!json || P.caltable[0] || json_get_string(json, "caltable", t, sizeof t) != 1 || !t[0])
		return 0;
	if (json_get_string(json, "caltable_id", id, sizeof id) != 1)
		id[0] = 0;
	prov_caltable(t, id);
	return 1;
}

void prov_lib(const char *name, const char *version)
{
	ensure();
	changed();
	buf_puts(&P.libs, ",");
	json_str_buf(&P.libs, name);
	buf_puts(&P.libs, ":");
	json_str_buf(&P.libs, version);
}

/*
 * The stage's settings as this process's config gives them (the keys of
 * its line in rules/stages, their values in $UVM_HOME/uvmake.conf and the
 * defaults: what the program itself read), as "KEY=value\n" lines;
 * malloc'd, NULL when there is no stage, deployment or description.
 */
static char *settings_now(void)
{
	const char *home = getenv("UVM_HOME");
	struct stages *st;
	struct cfg c;
	char err[PATH_MAX + 256], *text = NULL;
	size_t n;
	int s;
	if (!home || !*home || !P.stage[0] || !(st = malloc(sizeof *st)))
		return NULL;
	if (cfg_load(&c, home) == 0) {
		if (stages_load_cfg(st, &c, err, sizeof err) == 0 && (s = stages_find(st, P.stage)) >= 0)
			text = prov_settings_text(st, s, &c, &n);
		cfg_free(&c);
	}
	free(st);
	return text;
}

/* The settings as a JSON object of their KEY=value lines. */
static void settings(struct buf *b)
{
	char *text = settings_now();
	int first = 1;
	buf_puts(b, "\"settings\":{");
	for (char *l = text, *next; l && *l; l = next) {
		char *eq;
		next = strchr(l, '\n');
		if (next)
			*next++ = 0;
		if (!(eq = strchr(l, '=')))
			continue;
		*eq = 0;
		buf_puts(b, first ? "" : ",");
		json_str_buf(b, l);
		buf_puts(b, ":");
		json_str_buf(b, eq + 1);
		first = 0;
	}
	free(text);
	buf_puts(b, "}");
}

static void iso(const struct timespec *t, char *out, size_t n)
{
	struct tm tm;
	char s[32];
	gmtime_r(&t->tv_sec, &tm);
	strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%09ldZ", s, t->tv_nsec);
}

/* The record into a malloc'd string; timed: with mtimes and "made". */
char *prov_build(int timed, void (*libs)(struct buf *))
{
	struct buf b = {0};
	char t[48];
	ensure();
	buf_puts(&b, "{\"program\":");
	json_str_buf(&b, log_prog());
	buf_puts(&b, ",\"version\":");
	json_str_buf(&b, prog_version());
	buf_puts(&b, ",\"stage\":");
	json_str_buf(&b, P.stage);
	if (libs) {
		buf_puts(&b, ",\"libraries\":{");
		libs(&b);
		if (P.libs.n)
			buf_add(&b, P.libs.p, P.libs.n);
		buf_puts(&b, "}");
	}
	buf_puts(&b, ",\"inputs\":[");
	for (int i = 0; i < P.nin; i++) {
		buf_puts(&b, i ? ",{\"path\":" : "{\"path\":");
		json_str_buf(&b, P.in[i].path);
		if (P.in[i].size >= 0)
			buf_printf(&b, ",\"size\":%lld", P.in[i].size);
		if (timed && P.in[i].size >= 0) {
			iso(&P.in[i].mtime, t, sizeof t);
			buf_printf(&b, ",\"mtime\":\"%s\"", t);
		}
		buf_puts(&b, "}");
	}
	buf_puts(&b, "]");
	if (P.nmore)
		buf_printf(&b, ",\"inputs_not_listed\":%d", P.nmore);
	if (P.caltable[0]) {
		buf_puts(&b, ",\"caltable\":");
		json_str_buf(&b, P.caltable);
		buf_puts(&b, ",\"caltable_id\":");
		json_str_buf(&b, P.calid);
	}
	buf_puts(&b, ",");
	settings(&b);
	if (timed) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		iso(&now, t, sizeof t);
		buf_printf(&b, ",\"made\":\"%s\"", t);
	}
	buf_puts(&b, "}");
	return buf_take(&b);
}

const char *prov_cached(void (*libs)(struct buf *))
{
	if (!P.json)
		P.json = prov_build(0, libs);
	return P.json;
}

char *prov_json_timed(void)
{
	return prov_build(1, NULL);
}

char *prov_settings_rel(const char *stage, char *buf)
{
	snprintf(buf, PATH_MAX, "state/settings/%s.conf", stage);
	return buf;
}

static int by_key(const void *a, const void *b)
{
	return strcmp((*(const struct cfg_kv *const *)a)->key, (*(const struct cfg_kv *const *)b)->key);
}

char *prov_settings_text(const struct stages *st, int s, const struct cfg *c, size_t *len)
{
	const struct cfg_kv **v = malloc(((size_t)c->n + 1) * sizeof *v);
	struct buf b = {0};
	int n = 0;
	if (!v)
		return NULL;
	for (int i = 0; i < c->n; i++)
		if (stages_key_matters(st, s, c->kv[i].key))
			v[n++] = &c->kv[i];
	qsort(v, (size_t)n, sizeof *v, by_key);
	for (int i = 0; i < n; i++)
		buf_printf(&b, "%s=%s\n", v[i]->key, v[i]->val);
	free(v);
	*len = b.n;
	return buf_take(&b);
}

void prov_inputs(char *const *paths, int n)
{
	for (int i = 0; i < n; i++)
		prov_input(paths[i]);
}
