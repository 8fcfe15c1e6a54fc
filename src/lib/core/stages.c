/*
 * stages.c: the reader of the pipeline graph's description (contract and
 * format in stages.h). Fixed-size tables, no allocation: the description
 * is read by the planner every cycle and by cfg_load in every program.
 */
#include "core/stages.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/ids.h"

/* has_rules: root/rules/common.mk exists; its resolved rules/ into buf. */
static int has_rules(const char *root, char *buf)
{
	char p[PATH_MAX + 32];
	struct stat st;
	snprintf(p, sizeof p, "%s/rules/common.mk", root);
	if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	snprintf(p, sizeof p, "%s/rules", root);
	return realpath(p, buf) != NULL;
}

/* installed_rules: prefix/share/uvmake/rules, where make install puts it. */
static int installed_rules(const char *prefix, char *buf)
{
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/share/uvmake", prefix);
	return has_rules(p, buf);
}

int stages_install_dir(char *buf)
{
	char exe[PATH_MAX];
	const char *root = getenv("UVM_ROOT");
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		for (int up = 0; up < 4; up++) {
			char *slash = strrchr(exe, '/');
			if (!slash || slash == exe)
				break;
			*slash = 0; /* exe is now the parent directory */
			if (up > 0 && has_rules(exe, buf))
				return 0;
			if (up == 1 && installed_rules(exe, buf))
				return 0;
		}
	}
	if (root && *root && has_rules(root, buf))
		return 0;
	return -1;
}

int stages_stable_path(char *path)
{
	char *share = strstr(path, "/share/uvmake/"), *slash, ver[PATH_MAX], cur[PATH_MAX + 16];
	char a[PATH_MAX], b[PATH_MAX], out[PATH_MAX];
	if (!share)
		return 0;
	snprintf(ver, sizeof ver, "%.*s", (int)(share - path), path);
	if (!(slash = strrchr(ver, '/')) || slash == ver || !strcmp(slash, "/current"))
		return 0;
	snprintf(cur, sizeof cur, "%.*s/current", (int)(slash - ver), ver);
	if (!realpath(cur, a) || !realpath(ver, b) || strcmp(a, b) ||
	    snprintf(out, sizeof out, "%s%s", cur, share) >= (int)sizeof out)
		return 0;
	memcpy(path, out, strlen(out) + 1);
	return 1;
}

int stages_rules_dir(const struct cfg *c, char *buf)
{
	const char *r = cfg_str(c, "RULES_DIR", "");
	if (*r) {
		cfg_path(c, r, buf);
		return 0;
	}
	return stages_install_dir(buf);
}

int stages_find(const struct stages *st, const char *name)
{
	for (int i = 0; i < st->n; i++)
		if (!strcmp(st->v[i].name, name))
			return i;
	return -1;
}

int stages_reads(const struct stages *st, int t, int s)
{
	for (int k = 0; k < st->v[t].nin; k++)
		if (st->v[t].in[k].stage == s && !st->v[t].in[k].chosen)
			return 1;
	return 0;
}

int stages_reader(const struct stages *st, int s)
{
	for (int t = 0; s >= 0 && t < st->n; t++)
		if (st->v[t].scope == STAGE_GROUP && stages_reads(st, t, s))
			return t;
	return -1;
}

int stages_entry(const struct stages *st)
{
	for (int t = 0; t < st->n; t++)
		if (st->v[t].nin == 0)
			return t;
	return -1;
}

int stages_key_matters(const struct stages *st, int s, const char *key)
{
	for (const char *p = st->v[s].keys; *p;) {
		size_t n = strcspn(p, ",");
		if (n && p[n - 1] == '*' ? !strncmp(p, key, n - 1) : strlen(key) == n && !strncmp(p, key, n))
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

/* Template t with id and sb substituted, into buf (PATH_MAX). */
static char *expand(const char *t, const char *id, int sb, char *buf)
{
	size_t n = 0;
	for (const char *p = t; *p && n < PATH_MAX - 32; p++) {
		if (!strncmp(p, "{G}", 3) || !strncmp(p, "{H}", 3)) {
			n += (size_t)snprintf(buf + n, PATH_MAX - n, "%s", id);
			p += 2;
		} else if (!strncmp(p, "{S}", 3)) {
			n += (size_t)snprintf(buf + n, PATH_MAX - n, "sb%02d", sb);
			p += 2;
		} else {
			buf[n++] = *p;
		}
	}
	buf[n] = 0;
	return buf;
}

char *stages_product(const struct stages *st, int s, const char *id, int sb, char *buf)
{
	return expand(st->v[s].product, id, sb, buf);
}

char *stages_also(const struct stages *st, int s, int k, const char *id, int sb, char *buf)
{
	return expand(st->v[s].also[k], id, sb, buf);
}

int stages_report(const struct stages *st)
{
	for (int s = 0; s < st->n; s++) {
		const char *a = st->v[s].also[0];
		size_t n = strlen(a);
		if (st->v[s].scope == STAGE_GROUP && st->v[s].nalso > 0 && n > 5 && !strcmp(a + n - 5, ".json"))
			return s;
	}
	return -1;
}

/* Match rel against template t: *id and *sb get what {G} or {H}, and {S}
 * stand for (strict ids, core/ids.h). 1 on a match, else 0. */
static int match(const char *t, const char *rel, char *id, int *sb)
{
	long long e;
	*sb = 0;
	id[0] = 0;
	while (*t) {
		if (!strncmp(t, "{G}", 3) || !strncmp(t, "{H}", 3)) {
			size_t len = t[1] == 'G' ? 15 : 11;
			char v[IDS_LEN];
			if (strlen(rel) < len)
				return 0;
			memcpy(v, rel, len);
			v[len] = 0;
			if (t[1] == 'G' ? ids_parse_group(v, &e) < 0 : ids_parse_hour(v, 1, &e) < 0)
				return 0;
			if (id[0] && strcmp(id, v))
				return 0;
			memcpy(id, v, len + 1);
			rel += len;
			t += 3;
		} else if (!strncmp(t, "{S}", 3)) {
			if (strncmp(rel, "sb", 2) || !isdigit((unsigned char)rel[2]) ||
			    !isdigit((unsigned char)rel[3]))
				return 0;
			*sb = (rel[2] - '0') * 10 + (rel[3] - '0');
			rel += 4;
			t += 3;
		} else if (*t++ != *rel++) {
			return 0;
		}
	}
	return *rel == 0;
}

int stages_of_product(const struct stages *st, const char *rel, char *id, int *sb)
{
	for (int s = 0; s < st->n; s++)
		if (match(st->v[s].product, rel, id, sb))
			return s;
	return -1;
}

int stages_also_of(const struct stages *st, const char *rel, char *target)
{
	char id[IDS_LEN];
	int sb;
	for (int s = 0; s < st->n; s++)
		for (int k = 0; k < st->v[s].nalso; k++)
			if (match(st->v[s].also[k], rel, id, &sb)) {
				expand(st->v[s].product, id, sb, target);
				return 1;
			}
	return 0;
}

/* ---- parsing ---- */

struct parse {
	struct stages *st;
	char *err;
	size_t errlen;
	int line;
	char dir[PATH_MAX];      /* of the file: where rules/<name>.mk live */
	/* inputs by name until every line is read (forward references) */
	char in[STAGES_MAX][STAGES_MAXIN][STAGES_NAMELEN + 8];
};

__attribute__((format(printf, 3, 4))) static int fail(struct parse *ps, int line,
    const char *fmt, ...)
{
	va_list ap;
	size_t n;
	if (line)
		n = (size_t)snprintf(ps->err, ps->errlen, "%s:%d: ", ps->st->path, line);
	else
		n = (size_t)snprintf(ps->err, ps->errlen, "%s: ", ps->st->path);
	if (n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int valid_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z') || strlen(s) >= STAGES_NAMELEN)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* Count of placeholder ph ("{G}") in t. */
static int count(const char *t, const char *ph)
{
	int n = 0;
	for (const char *p = t; (p = strstr(p, ph)); p += 3)
		n++;
	return n;
}

/* A product template: plain path bytes and {G} {S} {H} only; relative,
 * no empty, '.' or '..' component. NULL if fine, else what is wrong. */
static const char *bad_template(const char *t)
{
	if (strlen(t) >= STAGES_TMPLLEN)
		return "too long";
	if (*t == '/' || !*t || t[strlen(t) - 1] == '/')
		return "not a relative file path";
	for (const char *p = t; *p; p++) {
		if (*p == '{') {
			if (strncmp(p, "{G}", 3) && strncmp(p, "{S}", 3) && strncmp(p, "{H}", 3))
				return "only {G}, {S} and {H} may be substituted";
			p += 2;
		} else if (!(isalnum((unsigned char)*p) || strchr("._/-", *p))) {
			return "characters other than [A-Za-z0-9._/-] and {G} {S} {H}";
		}
	}
	for (const char *c = t; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		size_t len = strcspn(c, "/");
		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && !strncmp(c, "..", 2)))
			return "an empty, '.' or '..' component";
	}
	return NULL;
}

/* Split s at whitespace into at most max fields; the count (max+1: more). */
static int fields(char *s, char **f, int max)
{
	int n = 0;
	for (char *save = NULL, *t = strtok_r(s, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		if (n == max)
			return max + 1;
		f[n++] = t;
	}
	return n;
}

static int digits(const char *s)
{
	if (!*s || strlen(s) > 9)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/*
 * Fields 1-2 of a stage line (f) into s: a new valid name that has a
 * rules file, a well-formed product template no other stage produces.
 * 0, else fail()'s value with the message in ps->err.
 */
static int parse_name_product(struct parse *ps, struct stage *s, char **f)
{
	struct stages *st = ps->st;
	int i;
	if (!valid_name(f[0]) || !strcmp(f[0], "common"))
		return fail(ps, ps->line, "stage name '%s': want [a-z][a-z0-9_]* (not 'common'), "
		    "at most %d bytes", f[0], STAGES_NAMELEN - 1);
	if (stages_find(st, f[0]) >= 0)
		return fail(ps, ps->line, "stage '%s' already defined on line %d", f[0],
		    st->v[stages_find(st, f[0])].line);
	snprintf(s->name, sizeof s->name, "%s", f[0]);
	{
		char mk[PATH_MAX + STAGES_NAMELEN + 8];
		struct stat sb;
		snprintf(mk, sizeof mk, "%s/%s.mk", ps->dir, s->name);
		if (stat(mk, &sb) < 0 || !S_ISREG(sb.st_mode))
			return fail(ps, ps->line, "stage '%s' has no rules file '%s'", s->name, mk);
	}
	{
		/* the target, then what the same job writes beside it */
		char *save = NULL, *t;
		const char *why;
		if (f[1][0] == ',' || f[1][strlen(f[1]) - 1] == ',' || strstr(f[1], ",,"))
			return fail(ps, ps->line, "product '%s': an empty template", f[1]);
		t = strtok_r(f[1], ",", &save);
		if ((why = bad_template(t)))
			return fail(ps, ps->line, "product '%s': %s", t, why);
		snprintf(s->product, sizeof s->product, "%s", t);
		while ((t = strtok_r(NULL, ",", &save))) {
			if (s->nalso == STAGES_MAXALSO)
				return fail(ps, ps->line, "more than %d files beside the product",
				    STAGES_MAXALSO);
			if ((why = bad_template(t)))
				return fail(ps, ps->line, "product '%s': %s", t, why);
			if (!strcmp(t, s->product))
				return fail(ps, ps->line, "product '%s' named twice", t);
			for (const char *const *ph = (const char *const[]){"{G}", "{H}", "{S}", NULL}; *ph; ph++)
				if (!strstr(t, *ph) != !strstr(s->product, *ph))
					return fail(ps, ps->line, "product '%s': not the placeholders of '%s'",
					    t, s->product);
			snprintf(s->also[s->nalso++], STAGES_TMPLLEN, "%s", t);
		}
	}
	for (i = 0; i < st->n; i++)
		if (!strcmp(st->v[i].product, s->product))
			return fail(ps, ps->line, "product '%s' is also stage '%s''s", s->product,
			    st->v[i].name);
	return 0;
}

/*
 * Fields 3-4 into s: the input names (resolved once every line is read,
 * into ps->in) and the scope, which the product's placeholders must fit.
 * 0, else fail()'s value.
 */
static int parse_inputs_scope(struct parse *ps, struct stage *s, char **f)
{
	struct stages *st = ps->st;
	static const char *scopes[] = {"subband", "group", "hour"};
	int i;
	/* inputs: resolved once every line is read */
	if (strcmp(f[2], "-")) {
		char *save = NULL;
		if (f[2][0] == ',' || f[2][strlen(f[2]) - 1] == ',' || strstr(f[2], ",,"))
			return fail(ps, ps->line, "inputs '%s': an empty name", f[2]);
		for (char *t = strtok_r(f[2], ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (s->nin == STAGES_MAXIN)
				return fail(ps, ps->line, "more than %d inputs", STAGES_MAXIN);
			if (strlen(t) >= STAGES_NAMELEN + 7)
				return fail(ps, ps->line, "unknown input '%s'", t);
			snprintf(ps->in[st->n][s->nin++], STAGES_NAMELEN + 7, "%s", t);
		}
	}
	for (i = 0; i < 3 && strcmp(f[3], scopes[i]); i++)
		;
	if (i == 3)
		return fail(ps, ps->line, "scope '%s': want subband, group or hour", f[3]);
	s->scope = (enum stage_scope)i;
	{
		int g = count(s->product, "{G}"), sb = count(s->product, "{S}"), h = count(s->product, "{H}");
		if ((s->scope == STAGE_SUBBAND && (g != 1 || sb != 1 || h)) ||
		    (s->scope == STAGE_GROUP && (g != 1 || sb || h)) ||
		    (s->scope == STAGE_HOUR && (g || sb || h != 1)))
			return fail(ps, ps->line, "product '%s' does not fit scope %s (want %s)", s->product,
			    f[3], s->scope == STAGE_SUBBAND ? "{G} and {S} once each" :
			    s->scope == STAGE_GROUP ? "{G} once" : "{H} once");
	}
	return 0;
}

/*
 * Fields 5-9 into s: when, staging, retain, slots and role (the image
 * stage is recorded in ps->st). 0, else fail()'s value.
 */
static int parse_options(struct parse *ps, struct stage *s, char **f)
{
	struct stages *st = ps->st;
	char *c;
	if (!strcmp(f[4], "calibrator"))
		s->calibrator = 1;
	else if (strcmp(f[4], "-"))
		return fail(ps, ps->line, "when '%s': want - or calibrator", f[4]);
	if (s->calibrator && s->scope == STAGE_HOUR)
		return fail(ps, ps->line, "when calibrator: not for a per-hour stage");
	if (!strcmp(f[5], "tmpfs"))
		s->tmpfs = 1;
	else if (strcmp(f[5], "disk"))
		return fail(ps, ps->line, "staging '%s': want tmpfs or disk", f[5]);
	if (s->tmpfs && (s->scope != STAGE_GROUP || strncmp(s->product, "products/{G}/", 13) ||
			    strchr(s->product + 13, '/') || strchr(s->product + 13, '{')))
		return fail(ps, ps->line, "staging tmpfs: only for a per-group product/{G}/<name>");
	if (strcmp(f[6], "keep")) {
		c = strchr(f[6], ':');
		if (!c || c == f[6] || !digits(c + 1) || (size_t)(c - f[6]) >= STAGES_NAMELEN)
			return fail(ps, ps->line, "retain '%s': want keep or CLASS:DAYS", f[6]);
		*c = 0;
		for (char *p = f[6]; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
				return fail(ps, ps->line, "retain class '%s': want [a-z0-9]+", f[6]);
		if (s->scope != STAGE_GROUP)
			return fail(ps, ps->line, "retain %s: only per-group products are removed", f[6]);
		snprintf(s->retain, sizeof s->retain, "%s", f[6]);
		s->retain_days = atoll(c + 1);
	}
	if (!digits(f[7]))
		return fail(ps, ps->line, "slots '%s': want a number", f[7]);
	s->slots = atoll(f[7]);
	if (!strcmp(f[8], "image")) {
		if (st->image >= 0)
			return fail(ps, ps->line, "role image: already stage '%s''s", st->v[st->image].name);
		if (s->scope != STAGE_GROUP)
			return fail(ps, ps->line, "role image: only for a per-group stage");
		s->image = 1;
		st->image = st->n;
	} else if (strcmp(f[8], "-")) {
		return fail(ps, ps->line, "role '%s': want - or image", f[8]);
	}
	return 0;
}

/* Field 10, keys, into s: '-' or KEY[*] patterns, comma-separated, each
 * [A-Z][A-Z0-9_]*. 0, else fail()'s value. */
static int parse_keys(struct parse *ps, struct stage *s, const char *f)
{
	const char *p = f;
	if (!strcmp(f, "-"))
		return 0;
	if (strlen(f) >= sizeof s->keys)
		return fail(ps, ps->line, "keys: longer than %zu bytes", sizeof s->keys - 1);
	while (*p) {
		size_t n = strcspn(p, ","), k = 0;
		if (n && p[n - 1] == '*')
			n--;
		while (k < n && (isupper((unsigned char)p[k]) || (k && (isdigit((unsigned char)p[k]) ||
			    p[k] == '_'))))
			k++;
		if (n == 0 || k != n || (p[n] != ',' && p[n] != '*' && p[n]) ||
		    (p[n] == '*' && p[n + 1] && p[n + 1] != ','))
			return fail(ps, ps->line, "keys '%s': want - or KEY[*],... ([A-Z][A-Z0-9_]*)", f);
		p += n + (p[n] == '*');
		if (*p == ',' && !*++p)
			return fail(ps, ps->line, "keys '%s': an empty name", f);
	}
	snprintf(s->keys, sizeof s->keys, "%s", f);
	return 0;
}

/* One stage line into st->v[st->n]: 0, else fail()'s value. */
static int parse_line(struct parse *ps, char *text)
{
	struct stages *st = ps->st;
	struct stage *s;
	char *f[10];
	int nf = fields(text, f, 10), rc;
	if (nf != 9 && nf != 10)
		return fail(ps, ps->line, "%d fields, want 9 or 10: name product inputs scope when "
		    "staging retain slots role [keys]", nf > 10 ? 11 : nf);
	if (st->n == STAGES_MAX)
		return fail(ps, ps->line, "more than %d stages", STAGES_MAX);
	s = &st->v[st->n];
	memset(s, 0, sizeof *s);
	s->line = ps->line;
	if ((rc = parse_name_product(ps, s, f)) != 0)
		return rc;
	if ((rc = parse_inputs_scope(ps, s, f)) != 0)
		return rc;
	if ((rc = parse_options(ps, s, f)) != 0)
		return rc;
	if (nf == 10 && (rc = parse_keys(ps, s, f[9])) != 0)
		return rc;
	if (s->scope == STAGE_HOUR && st->hour < 0)
		st->hour = st->n;
	st->n++;
	return 0;
}

/* Resolve input names, check what edges may join. */
static int resolve(struct parse *ps)
{
	struct stages *st = ps->st;
	for (int i = 0; i < st->n; i++) {
		struct stage *s = &st->v[i];
		for (int k = 0; k < s->nin; k++) {
			const char *nm = ps->in[i][k];
			int chosen = !strncmp(nm, "chosen:", 7), t;
			t = stages_find(st, chosen ? nm + 7 : nm);
			if (t < 0)
				return fail(ps, s->line, "unknown stage '%s' in the inputs of '%s'",
				    chosen ? nm + 7 : nm, s->name);
			if (t == i)
				return fail(ps, s->line, "stage '%s' reads its own product", s->name);
			for (int j = 0; j < k; j++)
				if (s->in[j].stage == t)
					return fail(ps, s->line, "input '%s' named twice", st->v[t].name);
			s->in[k].stage = t;
			s->in[k].chosen = chosen;
			if (chosen) {
				if (s->scope != STAGE_GROUP || st->v[t].scope != STAGE_GROUP)
					return fail(ps, s->line, "chosen:%s: only between per-group stages", nm + 7);
				if (st->chosen >= 0 && st->chosen != t)
					return fail(ps, s->line, "chosen:%s: the chosen table is already '%s''s",
					    nm + 7, st->v[st->chosen].name);
				st->chosen = t;
			} else if (s->scope == STAGE_SUBBAND && st->v[t].scope != STAGE_SUBBAND) {
				return fail(ps, s->line, "per-subband stage '%s' can only read per-subband "
				    "products ('%s' is per %s)", s->name, nm,
				    st->v[t].scope == STAGE_GROUP ? "group" : "hour");
			} else if (s->scope == STAGE_GROUP && st->v[t].scope == STAGE_HOUR) {
				return fail(ps, s->line, "per-group stage '%s' cannot read the per-hour '%s'",
				    s->name, nm);
			}
		}
		if (i == st->hour &&
		    (s->nin != 1 || s->in[0].chosen || st->v[s->in[0].stage].scope != STAGE_GROUP ||
			st->v[s->in[0].stage].calibrator))
			return fail(ps, s->line, "per-hour stage '%s': want exactly one per-group input "
			    "made for every group", s->name);
		/* the per-hour stages after the first work on its products
		 * (the mosaic's catalogue): one per-hour input each */
		if (s->scope == STAGE_HOUR && i != st->hour &&
		    (s->nin != 1 || st->v[s->in[0].stage].scope != STAGE_HOUR))
			return fail(ps, s->line, "per-hour stage '%s': want exactly one per-hour input "
			    "(only the first, '%s', reads per-group products)", s->name,
			    st->v[st->hour].name);
	}
	return 0;
}

/* Depth-first search for a cycle through i; 0 or -1 with the message. */
static int acyclic(struct parse *ps, int i, char *mark, int *path, int depth)
{
	struct stages *st = ps->st;
	mark[i] = 1; /* on the path */
	path[depth] = i;
	for (int k = 0; k < st->v[i].nin; k++) {
		int t = st->v[i].in[k].stage;
		if (mark[t] == 1) {
			char msg[STAGES_MAX * (STAGES_NAMELEN + 4)];
			size_t n = 0;
			int from = 0;
			while (path[from] != t)
				from++;
			for (int j = from; j <= depth; j++)
				n += (size_t)snprintf(msg + n, sizeof msg - n, "%s <- ", st->v[path[j]].name);
			snprintf(msg + n, sizeof msg - n, "%s", st->v[t].name);
			return fail(ps, st->v[t].line, "cycle: %s", msg);
		}
		if (!mark[t] && acyclic(ps, t, mark, path, depth + 1) < 0)
			return -1;
	}
	mark[i] = 2; /* done */
	return 0;
}

int stages_load(struct stages *st, const char *path, char *err, size_t errlen)
{
	struct parse *ps = calloc(1, sizeof *ps);
	char *text, *slash;
	int rc = -1;
	memset(st, 0, sizeof *st);
	st->hour = st->image = st->chosen = -1;
	snprintf(st->path, sizeof st->path, "%s", path);
	if (!ps) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	ps->st = st;
	ps->err = err;
	ps->errlen = errlen;
	snprintf(ps->dir, sizeof ps->dir, "%s", path);
	slash = strrchr(ps->dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(ps->dir, sizeof ps->dir, ".");
	text = fsx_read_file(path, NULL);
	if (!text) {
		fail(ps, 0, "cannot read the stage description: %s", strerror(errno));
		free(ps);
		return -1;
	}
	/* strtok_r would skip empty lines and lose the count: walk by hand */
	for (char *l = text, *next; l; l = next) {
		next = strchr(l, '\n');
		if (next)
			*next++ = 0;
		ps->line++;
		while (*l == ' ' || *l == '\t')
			l++;
		if (!*l || *l == '#' || *l == '\r')
			continue;
		if (parse_line(ps, l) < 0)
			goto out;
	}
	if (st->n == 0) {
		fail(ps, 0, "no stage");
		goto out;
	}
	if (resolve(ps) < 0)
		goto out;
	{
		char mark[STAGES_MAX] = {0};
		int pathv[STAGES_MAX + 1];
		for (int i = 0; i < st->n; i++)
			if (!mark[i] && acyclic(ps, i, mark, pathv, 0) < 0)
				goto out;
	}
	rc = 0;
out:
	free(text);
	free(ps);
	if (rc < 0)
		st->n = 0;
	return rc;
}

int stages_load_cfg(struct stages *st, const struct cfg *c, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX + 8];
	if (stages_rules_dir(c, dir) < 0) {
		memset(st, 0, sizeof *st);
		st->hour = st->image = st->chosen = -1;
		snprintf(err, errlen, "cannot find the rules directory (set RULES_DIR in '%s/uvmake.conf')",
		    c->home);
		return -1;
	}
	snprintf(path, sizeof path, "%s/stages", dir);
	return stages_load(st, path, err, errlen);
}

int stages_cfg_defaults(struct cfg *c)
{
	struct stages *st = malloc(sizeof *st);
	char err[PATH_MAX + 256], key[STAGES_NAMELEN + 8], val[32];
	int rc = 0;
	if (!st)
		return -1;
	if (stages_load_cfg(st, c, err, sizeof err) < 0) {
		free(st);
		return 0; /* the planner reports it */
	}
	if (!*cfg_str(c, "STAGING_STAGES", "")) {
		char list[STAGES_MAX * STAGES_NAMELEN] = "";
		size_t n = 0;
		for (int i = 0; i < st->n; i++)
			if (st->v[i].tmpfs)
				n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? "," : "",
				    st->v[i].name);
		if (n && cfg_set(c, "STAGING_STAGES", list) < 0)
			rc = -1;
	}
	for (int i = 0; i < st->n && rc == 0; i++) {
		snprintf(key, sizeof key, "SLOTS_%s", st->v[i].name);
		snprintf(val, sizeof val, "%lld", st->v[i].slots);
		if (st->v[i].slots > 0 && !cfg_str(c, key, NULL) && cfg_set(c, key, val) < 0)
			rc = -1;
	}
	free(st);
	return rc;
}
