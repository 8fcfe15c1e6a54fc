/*
 * why.c: uvm-why (contract and output in why.h). The explanation follows
 * the generated makefile rather than re-deriving the graph, so it says
 * what make would do with the rules it has now; make itself (`make -q`)
 * gives the verdict, and the records (the product's provenance, the job
 * row) say what the product was made from.
 *
 * JSON members (-j): target, stage, planned, remake (booleans), reasons
 * [{"why": "missing"|"newer"|"remade"|"setting"|"unplanned-setting"|"recipe",
 * "path" (the recipe's, rules/<stage>.mk, for "recipe"), "than" (newer), "key",
 * "old", "new" (settings)}], provenance
 * (the product's record or null), job ({"id", "ended", "provenance"} or
 * null).
 */
#include "ops/why.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/db.h"
#include "core/fsx.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/prov.h"
#include "core/stages.h"
#include "uvh5/uvh5.h"

#define WHY_DEPTH 16

enum why_kind { W_MISSING, W_NEWER, W_REMADE, W_SETTING, W_UNPLANNED, W_RECIPE };
static const char *const kind_name[] = {"missing", "newer", "remade", "setting",
    "unplanned-setting", "recipe"};

struct reason {
	enum why_kind kind;
	char *a, *b, *c; /* path, than | key, old, new */
};

struct why {
	const struct cfg *c;
	struct stages st;
	char *mk;                 /* state/pipeline.mk */
	struct reason *r;
	int nr, cap, oom;
	char seen[STAGES_MAX];    /* stages whose unplanned settings were looked at */
};

static void add(struct why *w, enum why_kind k, const char *a, const char *b, const char *c)
{
	if (w->nr == w->cap) {
		int nc = w->cap ? 2 * w->cap : 16;
		struct reason *nr = realloc(w->r, (size_t)nc * sizeof *nr);
		if (!nr) {
			w->oom = 1;
			return;
		}
		w->r = nr;
		w->cap = nc;
	}
	w->r[w->nr].kind = k;
	w->r[w->nr].a = strdup(a ? a : "");
	w->r[w->nr].b = strdup(b ? b : "");
	w->r[w->nr].c = strdup(c ? c : "");
	if (!w->r[w->nr].a || !w->r[w->nr].b || !w->r[w->nr].c)
		w->oom = 1;
	w->nr++;
}

/*
 * The prerequisites of target's explicit rule in the generated makefile
 * (the planner writes "target: p1 p2 \ ... | dir", continued with
 * backslashes; order-only ones after '|' are left out): a malloc'd array
 * of malloc'd strings in *out, their count returned; -1 when the makefile
 * has no rule for it.
 */
static int rule_of(const char *mk, const char *target, char ***out)
{
	size_t tl = strlen(target);
	const char *p;
	char **v = NULL;
	int n = 0;
	*out = NULL;
	for (p = mk; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, target, tl) && p[tl] == ':' && p[tl + 1] != '=')
			break;
	if (!p || !*p)
		return -1;
	p += tl + 1;
	for (;;) {
		size_t k;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\\' && p[1] == '\n') {
			p += 2;
			continue;
		}
		if (!*p || *p == '\n' || *p == '|')
			break;
		k = strcspn(p, " \t\n|");
		if (k == 1 && *p == '\\') { /* a stray backslash */
			p++;
			continue;
		}
		char **nv = realloc(v, ((size_t)n + 1) * sizeof *nv);
		if (!nv || !(nv[n] = strndup(p, k))) {
			free(nv ? nv : v);
			return -1;
		}
		v = nv;
		n++;
		p += k;
	}
	*out = v;
	return n;
}

static void free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int newer(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec > b->st_mtim.tv_sec ||
	    (a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec > b->st_mtim.tv_nsec);
}

/* The value of key in "KEY=value\n" text into out (size); 1 found, else 0. */
static int kv_get(const char *text, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, kl) && l[kl] == '=') {
			snprintf(out, size, "%.*s", (int)strcspn(l + kl + 1, "\n"), l + kl + 1);
			return 1;
		}
	return 0;
}

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && !strcmp(s + n - k, suf);
}

/* The provenance record a uvmake program wrote into the product at path
 * (FITS HISTORY, the UVH5 attribute, a JSON report's "provenance"; by the
 * name's extension), malloc'd; NULL when none. */
static char *product_provenance(const char *path)
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

/* The settings target was made with (its provenance's "settings"), as
 * JSON text; NULL when it has no record. */
static char *recorded_settings(const char *target)
{
	char *pv = product_provenance(target), *set = NULL;
	if (pv && json_get_object(pv, "settings", &set) != 1)
		set = NULL;
	free(pv);
	return set;
}

/* Settings file path is newer than target: name each key whose value in it
 * differs from what target recorded; when none does, the file changed for
 * the other thing it holds, the stage's recipe (plan_settings.c; the
 * record has no hash to tell rules/<stage>.mk from rules/common.mk). */
static void setting_changes(struct why *w, const char *target, const char *path)
{
	char *now = fsx_read_file(path, NULL), *rec = recorded_settings(target), recipe[PATH_MAX];
	int before = w->nr;
	const char *stage = path + strlen("state/settings/");
	for (const char *l = now; rec && l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char key[256], val[1024], old[1024];
		size_t kl = strcspn(l, "=\n");
		if (l[kl] != '=' || kl >= sizeof key)
			continue;
		snprintf(key, sizeof key, "%.*s", (int)kl, l);
		kv_get(l, key, val, sizeof val);
		if (json_get_string(rec, key, old, sizeof old) != 1)
			snprintf(old, sizeof old, "-");
		if (strcmp(old, val))
			add(w, W_SETTING, key, old, val);
	}
	if (w->nr == before) {
		snprintf(recipe, sizeof recipe, "rules/%.*s.mk", (int)strcspn(stage, "."), stage);
		add(w, W_RECIPE, recipe, NULL, NULL);
	}
	free(now);
	free(rec);
}

/* Stage s's settings as the config gives them now against the file the
 * planner last wrote: each difference (the next cycle re-makes for it).
 * 1 when any, else 0. */
static int unplanned(struct why *w, int s)
{
	char rel[PATH_MAX], *now, *file;
	size_t n;
	int any = 0;
	if (s < 0 || w->seen[s] || !w->st.v[s].keys[0])
		return 0;
	w->seen[s] = 1;
	if (!(now = prov_settings_text(&w->st, s, w->c, &n))) {
		w->oom = 1;
		return 0;
	}
	file = fsx_read_file(prov_settings_rel(w->st.v[s].name, rel), NULL);
	for (int pass = 0; file && pass < 2; pass++) {
		/* pass 0: keys now (changed or new); pass 1: keys gone */
		const char *text = pass ? file : now, *other = pass ? now : file;
		for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
			char key[256], a[1024], b[1024];
			size_t kl = strcspn(l, "=\n");
			if (l[kl] != '=' || kl >= sizeof key)
				continue;
			snprintf(key, sizeof key, "%.*s", (int)kl, l);
			kv_get(l, key, a, sizeof a);
			if (!kv_get(other, key, b, sizeof b))
				snprintf(b, sizeof b, "-");
			else if (pass)
				continue;
			if (strcmp(a, b)) {
				add(w, W_UNPLANNED, key, pass ? a : b, pass ? b : a);
				any = 1;
			}
		}
	}
	free(now);
	free(file);
	return any;
}

/*
 * Would make re-make t? Walks t's rule (none: a leaf, never re-made here)
 * and its prerequisites' rules, adding the reasons; 1 yes, 0 no.
 */
static int explain(struct why *w, const char *t, int depth)
{
	char **pre, id[IDS_LEN];
	int n = rule_of(w->mk, t, &pre), remake, sb;
	struct stat ts;
	int have = stat(t, &ts) == 0;
	if (n < 0)
		return 0;
	unplanned(w, stages_of_product(&w->st, t, id, &sb));
	remake = !have;
	if (!have)
		add(w, W_MISSING, t, NULL, NULL);
	for (int i = 0; i < n; i++) {
		struct stat ps;
		char **sub;
		int k = rule_of(w->mk, pre[i], &sub);
		free_list(sub, k > 0 ? k : 0);
		if (k >= 0 && depth < WHY_DEPTH && explain(w, pre[i], depth + 1)) {
			add(w, W_REMADE, pre[i], t, NULL);
			remake = 1;
		} else if (stat(pre[i], &ps) < 0) {
			add(w, W_MISSING, pre[i], NULL, NULL);
			remake = 1;
		} else if (have && newer(&ps, &ts)) {
			add(w, W_NEWER, pre[i], t, NULL);
			if (!strncmp(pre[i], "state/settings/", 15))
				setting_changes(w, t, pre[i]);
			remake = 1;
		}
	}
	free_list(pre, n);
	return remake;
}

/* make -q's verdict on t: 0 up to date, 1 would re-make, -1 unknown. */
static int make_verdict(const struct cfg *c, const char *t)
{
	char *argv[] = {"make", "-q", "--no-print-directory", "-C", (char *)c->home, "-f",
	    "state/pipeline.mk", (char *)t, NULL};
	int rc = fsx_run(argv, NULL);
	return rc == 0 || rc == 1 ? rc : -1;
}


/* ---- output ---- */

static const char *dash(const char *s)
{
	return s && *s ? s : "-";
}

static int text_input(const char *elem, size_t len, void *arg)
{
	char *e = strndup(elem, len), path[PATH_MAX];
	double size = -1;
	(void)arg;
	if (!e)
		return -1;
	if (json_get_string(e, "path", path, sizeof path) == 1) {
		if (json_get_number(e, "size", &size) == 1)
			printf("input %s %.0f\n", path, size);
		else
			printf("input %s -\n", path);
	}
	free(e);
	return 0;
}

/* The product's record, one fact a line; settings by the stage's keys. */
static void text_provenance(struct why *w, int s, const char *pv)
{
	static const char *const libs[] = {"hdf5", "cfitsio", "wcslib", "erfa", "sep", "fftw",
	    "sqlite", "aoflagger", NULL};
	char a[PATH_MAX], b[256], *obj = NULL, *keys;
	size_t n;
	if (!pv) {
		printf("made-by -\n");
		return;
	}
	if (json_get_string(pv, "program", a, sizeof a) != 1)
		a[0] = 0;
	if (json_get_string(pv, "version", b, sizeof b) != 1)
		b[0] = 0;
	printf("made-by %s %s\n", dash(a), dash(b));
	json_get_array(pv, "inputs", text_input, NULL);
	if (json_get_string(pv, "caltable", a, sizeof a) == 1 &&
	    json_get_string(pv, "caltable_id", b, sizeof b) >= 0)
		printf("table %s %s\n", a, dash(b));
	if (json_get_object(pv, "settings", &obj) == 1 && (keys = prov_settings_text(&w->st, s, w->c,
							       &n))) {
		for (const char *l = keys; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
			char key[256], val[1024];
			size_t kl = strcspn(l, "=\n");
			if (l[kl] != '=' || kl >= sizeof key)
				continue;
			snprintf(key, sizeof key, "%.*s", (int)kl, l);
			if (json_get_string(obj, key, val, sizeof val) == 1)
				printf("setting %s=%s\n", key, val);
		}
		free(keys);
	}
	free(obj);
	if (json_get_object(pv, "libraries", &obj) == 1)
		for (int i = 0; libs[i]; i++)
			if (json_get_string(obj, libs[i], b, sizeof b) == 1)
				printf("library %s %s\n", libs[i], b);
	free(obj);
}

struct job {
	long long id;
	char ended[32];
	char *prov;
};

/* The last successful job that made target (id 0: none). */
static void last_job(const char *target, struct job *j)
{
	sqlite3 *db = db_open_schema("state/pipeline.sqlite", NULL, 0, DB_RDONLY, NULL);
	sqlite3_stmt *q = NULL;
	memset(j, 0, sizeof *j);
	if (!db)
		return;
	if (sqlite3_prepare_v2(db, "SELECT id, ended, provenance FROM jobs WHERE target = ?1 AND "
		"class = 'ok' ORDER BY id DESC LIMIT 1", -1, &q, NULL) != SQLITE_OK) {
		sqlite3_finalize(q);
		q = NULL;
		sqlite3_prepare_v2(db, "SELECT id, ended, NULL FROM jobs WHERE target = ?1 AND "
		    "class = 'ok' ORDER BY id DESC LIMIT 1", -1, &q, NULL);
	}
	if (q) {
		sqlite3_bind_text(q, 1, target, -1, SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW) {
			time_t t = (time_t)sqlite3_column_double(q, 1);
			struct tm tm;
			const unsigned char *pv = sqlite3_column_text(q, 2);
			j->id = sqlite3_column_int64(q, 0);
			gmtime_r(&t, &tm);
			strftime(j->ended, sizeof j->ended, "%Y-%m-%dT%H:%M:%SZ", &tm);
			/* only a valid record goes on (it is printed inside JSON) */
			if (pv && json_is_null((const char *)pv, "program") >= 0)
				j->prov = strdup((const char *)pv);
		}
	}
	sqlite3_finalize(q);
	db_close(db);
}

static void print_text(struct why *w, const char *t, int s, int planned, int remake,
    const char *pv, const struct job *j)
{
	printf("target %s\nstage %s\nplanned %s\nverdict %s\n", t, w->st.v[s].name,
	    planned ? "yes" : "no", remake ? "re-make" : "up-to-date");
	for (int i = 0; i < w->nr; i++) {
		const struct reason *r = &w->r[i];
		if (r->kind == W_SETTING || r->kind == W_UNPLANNED)
			printf("because %s %s %s %s\n", kind_name[r->kind], r->a, dash(r->b), dash(r->c));
		else if (r->kind == W_NEWER)
			printf("because newer %s %s\n", r->a, r->b);
		else if (r->kind == W_RECIPE)
			printf("because recipe %s changed\n", r->a);
		else
			printf("because %s %s\n", kind_name[r->kind], r->a);
	}
	text_provenance(w, s, pv);
	if (j->id)
		printf("job %lld %s\n", j->id, j->ended);
	else
		printf("job -\n");
}

static void print_json(struct why *w, const char *t, int s, int planned, int remake,
    const char *pv, const struct job *j)
{
	struct buf b = {0};
	buf_puts(&b, "{\"target\":");
	json_str_buf(&b, t);
	buf_puts(&b, ",\"stage\":");
	json_str_buf(&b, w->st.v[s].name);
	buf_printf(&b, ",\"planned\":%s,\"remake\":%s,\"reasons\":[", planned ? "true" : "false",
	    remake ? "true" : "false");
	for (int i = 0; i < w->nr; i++) {
		const struct reason *r = &w->r[i];
		buf_printf(&b, "%s{\"why\":\"%s\"", i ? "," : "", kind_name[r->kind]);
		if (r->kind == W_SETTING || r->kind == W_UNPLANNED) {
			buf_puts(&b, ",\"key\":");
			json_str_buf(&b, r->a);
			buf_puts(&b, ",\"old\":");
			json_str_buf(&b, r->b);
			buf_puts(&b, ",\"new\":");
			json_str_buf(&b, r->c);
		} else {
			buf_puts(&b, ",\"path\":");
			json_str_buf(&b, r->a);
			if (r->kind == W_NEWER) {
				buf_puts(&b, ",\"than\":");
				json_str_buf(&b, r->b);
			}
		}
		buf_puts(&b, "}");
	}
	buf_printf(&b, "],\"provenance\":%s,\"job\":", pv && json_is_null(pv, "program") >= 0 ? pv :
	    "null");
	if (j->id) {
		buf_printf(&b, "{\"id\":%lld,\"ended\":\"%s\",\"provenance\":%s}", j->id, j->ended,
		    j->prov ? j->prov : "null");
	} else {
		buf_puts(&b, "null");
	}
	buf_puts(&b, "}\n");
	if (b.p)
		fputs(b.p, stdout);
	if (b.oom)
		w->oom = 1;
	buf_free(&b);
}

/* target relative to the deployment: as given, or absolute inside home. */
static const char *relative(const struct cfg *c, const char *target)
{
	size_t n = strlen(c->home);
	if (target[0] == '/' && !strncmp(target, c->home, n) && target[n] == '/')
		return target + n + 1;
	return target;
}

int why_run(const struct cfg *c, const char *target, int json)
{
	struct why w;
	char err[PATH_MAX + 256], id[IDS_LEN], **pre;
	const char *t = relative(c, target);
	struct job j;
	struct stat st;
	char *pv = NULL;
	int s, sb, planned, exists, remake, rc, mv, pending = 0;
	memset(&w, 0, sizeof w);
	w.c = c;
	if (stages_load_cfg(&w.st, c, err, sizeof err) < 0) {
		log_err("%s", err);
		return EX_CONFIG;
	}
	if (strstr(t, "..") || (s = stages_of_product(&w.st, t, id, &sb)) < 0) {
		log_err("'%s': not a product of '%s'", target, w.st.path);
		return EX_NOINPUT;
	}
	if (chdir(c->home) < 0) {
		log_err("cannot open '%s': %s", c->home, strerror(errno));
		return EX_NOINPUT;
	}
	w.mk = fsx_read_file("state/pipeline.mk", NULL);
	if (!w.mk && !(w.mk = strdup(""))) {
		log_err("out of memory");
		return EX_SOFTWARE;
	}
	planned = rule_of(w.mk, t, &pre);
	free_list(pre, planned > 0 ? planned : 0);
	planned = planned >= 0;
	exists = stat(t, &st) == 0;
	if (!planned && !exists) {
		log_err("'%s': no such product, and none planned", t);
		free(w.mk);
		return EX_NOINPUT;
	}
	remake = planned ? explain(&w, t, 0) : (unplanned(&w, s), 0);
	if (planned && (mv = make_verdict(c, t)) >= 0 && mv != remake) {
		/* make has the last word; keep only what it cannot know yet */
		int k = 0;
		for (int i = 0; i < w.nr; i++)
			if (mv || w.r[i].kind == W_UNPLANNED)
				w.r[k++] = w.r[i];
		w.nr = k;
		remake = mv;
	}
	for (int i = 0; i < w.nr; i++)
		pending |= w.r[i].kind == W_UNPLANNED;
	remake |= planned && pending;
	pv = exists ? product_provenance(t) : NULL;
	last_job(t, &j);
	if (json)
		print_json(&w, t, s, planned, remake, pv, &j);
	else
		print_text(&w, t, s, planned, remake, pv, &j);
	rc = fsx_close_stdout();
	if (w.oom) {
		log_err("out of memory");
		rc = EX_SOFTWARE;
	}
	for (int i = 0; i < w.nr; i++) {
		free(w.r[i].a);
		free(w.r[i].b);
		free(w.r[i].c);
	}
	free(w.r);
	free(w.mk);
	free(pv);
	free(j.prov);
	return rc ? rc : remake;
}
