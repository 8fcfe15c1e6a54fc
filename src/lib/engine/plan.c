/*
 * plan.c: the product graph, grouping, group states and the text of
 * state/pipeline.mk and state/plan.json (contract in plan.h).
 *
 * Everything here is pure: it works on the file list the scan collected
 * (plan_scan.c) and the stage description (core/stages.h) and produces
 * text, so it is unit-tested without a file system. The makefile follows
 * ORCH.md: input names (which contain ':') appear only in variables used
 * by recipes, every product is an explicit target (so make never treats
 * one as intermediate and deletes it) whose prerequisites are its stage's
 * inputs in the description's order, and recipes come from the pattern
 * rules in rules/<stage>.mk, which take their inputs from those ($<, $^).
 */
#include "engine/plan.h"
#include "engine/plan_order.h"

#include "core/prov.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *plan_state_name(enum plan_state s)
{
	static const char *names[] = {"ready", "partial", "waiting", "incomplete", "done"};
	return names[s];
}

int plan_stage_applies(const struct stages *st, int s, const struct plan_group *g)
{
	return st->v[s].scope != STAGE_HOUR && (!st->v[s].calibrator || g->calibrator);
}

int plan_stage_per_sub(const struct stages *st, int s)
{
	return st->v[s].scope == STAGE_SUBBAND;
}

int plan_stage_final(const struct stages *st, int s, const struct plan_group *g)
{
	if (!plan_stage_applies(st, s, g))
		return 0;
	for (int t = 0; t < st->n; t++) {
		if (t == s || !plan_stage_applies(st, t, g))
			continue;
		for (int k = 0; k < st->v[t].nin; k++)
			if (st->v[t].in[k].stage == s && !st->v[t].in[k].chosen)
				return 0;
	}
	return 1;
}

char *plan_product(const struct stages *st, int s, const struct plan_group *g, int sb, char *buf)
{
	return stages_product(st, s, g->id, sb, buf);
}

static int by_file(const void *a, const void *b)
{
	const struct plan_file *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->sb != y->sb)
		return x->sb - y->sb;
	return strcmp(x->name, y->name);
}

int plan_group_files(struct plan *p, int **dup, int *ndup)
{
	int cap = 0, gcap = 0;
	*dup = NULL;
	*ndup = 0;
	p->ngroups = 0;
	free(p->groups);
	p->groups = NULL;
	if (p->nfiles == 0)
		return 0;
	qsort(p->files, (size_t)p->nfiles, sizeof *p->files, by_file);
	for (int i = 0; i < p->nfiles;) {
		struct plan_group *g;
		int j;
		if (p->ngroups == gcap) {
			int nc = gcap ? 2 * gcap : 16;
			struct plan_group *ng = realloc(p->groups, (size_t)nc * sizeof *ng);
			if (!ng)
				return -1;
			p->groups = ng;
			gcap = nc;
		}
		g = &p->groups[p->ngroups++];
		memset(g, 0, sizeof *g);
		for (int s = 0; s < PLAN_MAXSUB; s++)
			g->file[s] = -1;
		g->first = g->last = p->files[i].ts;
		g->newest_mtime = p->files[i].mtime;
		for (j = i; j < p->nfiles && p->files[j].ts - g->first <= p->par.tol; j++) {
			const struct plan_file *f = &p->files[j];
			if (g->file[f->sb] >= 0) {
				if (*ndup == cap) {
					int nc = cap ? 2 * cap : 8;
					int *nd = realloc(*dup, (size_t)nc * sizeof *nd);
					if (!nd)
						return -1;
					*dup = nd;
					cap = nc;
				}
				(*dup)[(*ndup)++] = j;
				continue;
			}
			g->file[f->sb] = j;
			g->nsub++;
			g->nunsettled += f->unsettled;
			if (f->ts > g->last)
				g->last = f->ts;
			if (f->mtime > g->newest_mtime)
				g->newest_mtime = f->mtime;
		}
		ids_group_id(g->file[0] >= 0 ? p->files[g->file[0]].ts : g->first, g->id);
		i = j;
	}
	return 0;
}

void plan_classify(const struct plan *p, struct plan_group *g, long long ref)
{
	int complete = 1;
	for (int s = 0; s < p->par.nsub; s++)
		if (g->file[s] < 0)
			complete = 0;
	g->deadline = ref + p->par.timeout;
	if (g->nunsettled)
		g->state = PS_WAITING;
	else if (complete)
		g->state = PS_READY;
	else if (p->par.now < g->deadline)
		g->state = PS_WAITING;
	else if (g->nsub >= p->par.pmin)
		g->state = PS_PARTIAL;
	else
		g->state = PS_INCOMPLETE;
}

static int active(const struct plan_group *g)
{
	return g->state == PS_READY || g->state == PS_PARTIAL;
}

/* Directory part of a product path with its trailing slash. */
static void dir_of(const char *path, char *dir)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path + 1) : 0;
	memcpy(dir, path, n);
	dir[n] = 0;
}

/* Stage s's settings file (plan_settings.c: its settings and recipes),
 * after its inputs: a changed one re-makes its products (and through make,
 * what reads them). */
static void settings_prereq(FILE *f, const struct stages *st, int s, const char *sep)
{
	char rel[PATH_MAX];
	fprintf(f, "%s%s", sep, prov_settings_rel(st->v[s].name, rel));
}

/* The explicit rules of stage s for group g: the product, its inputs'
 * products in the order of the description, its directory order-only. */
static void stage_rules(FILE *f, const struct plan *p, const struct plan_group *g, int s)
{
	const struct stages *st = p->st;
	char prod[PATH_MAX], dep[PATH_MAX], dir[PATH_MAX];
	int per = plan_stage_per_sub(st, s);
	for (int sb = 0; sb < (per ? p->par.nsub : 1); sb++) {
		if (per && g->file[sb] < 0)
			continue;
		plan_product(st, s, g, sb, prod);
		dir_of(prod, dir);
		fprintf(f, "%s:", prod);
		for (int k = 0; k < st->v[s].nin; k++) {
			int n = st->v[s].in[k].stage;
			if (st->v[s].in[k].chosen) {
				/* the table chosen for g (CAL_<G>), any group's */
				if (g->cal[0])
					fprintf(f, " %s state/chosen/%s", g->cal, g->id);
				continue;
			}
			if (!plan_stage_applies(st, n, g))
				continue;
			if (!plan_stage_per_sub(st, n)) {
				fprintf(f, " %s", plan_product(st, n, g, 0, dep));
			} else if (per) {
				fprintf(f, " %s", plan_product(st, n, g, sb, dep));
			} else {
				for (int t = 0; t < p->par.nsub; t++)
					if (g->file[t] >= 0)
						fprintf(f, " \\\n  %s", plan_product(st, n, g, t, dep));
			}
		}
		settings_prereq(f, st, s, " ");
		fprintf(f, "%s| %s\n", per ? " " : " \\\n  ", dir[0] ? dir : "./");
	}
}

/* The later per-hour stages of hour id (the mosaic's catalogue): each
 * product on its per-hour input's, in all. */
static void hour_chain_rules(FILE *f, const struct stages *st, const char *id)
{
	char prod[PATH_MAX], in[PATH_MAX], dir[PATH_MAX];
	for (int s = 0; s < st->n; s++) {
		if (st->v[s].scope != STAGE_HOUR || s == st->hour)
			continue;
		stages_product(st, s, id, 0, prod);
		stages_product(st, st->v[s].in[0].stage, id, 0, in);
		dir_of(prod, dir);
		fprintf(f, "all: %s\n%s: %s", prod, prod, in);
		settings_prereq(f, st, s, " \\\n  ");
		fprintf(f, " \\\n  | %s\n", dir[0] ? dir : "./");
	}
}

/*
 * The per-hour stage's products (plan_mosaic.c): mosaics/H.fits depends on
 * exactly its input's products of the hour's groups (their qa.json), so a
 * re-made image re-makes it; each is added to all by a rule line of its own,
 * and so are the later per-hour stages' products made from it.
 */
static void mosaic_rules(FILE *f, const struct plan *p)
{
	char prod[PATH_MAX], dir[PATH_MAX];
	for (int i = 0; i < p->nhours; i++) {
		const struct plan_hour *h = &p->hours[i];
		if (!h->planned || p->st->hour < 0)
			continue;
		stages_product(p->st, p->st->hour, h->id, 0, prod);
		dir_of(prod, dir);
		fprintf(f, "\n# %s %s: %d input(s)\nall: %s\n%s:", p->st->v[p->st->hour].name, h->id,
		    h->ninputs, prod, prod);
		for (int k = 0; k < h->ninputs; k++)
			fprintf(f, " \\\n  %s", h->inputs[k]);
		settings_prereq(f, p->st, p->st->hour, " \\\n  ");
		fprintf(f, " \\\n  | %s\n", dir[0] ? dir : "./");
		hour_chain_rules(f, p->st, h->id);
	}
}

char *plan_makefile(const struct plan *p, const char *home, const char *rules,
    const char *incoming, size_t *len)
{
	int *order = NULL, nact = 0;
	char *buf = NULL, prod[PATH_MAX];
	size_t n = 0;
	int nready = 0, npartial = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return NULL;
	for (int i = 0; i < p->ngroups; i++) {
		nready += p->groups[i].state == PS_READY;
		npartial += p->groups[i].state == PS_PARTIAL;
	}
	fprintf(f,
	    "# state/pipeline.mk: generated by uvm-plan from %s; do not edit.\n"
	    "# %d active group(s): %d ready, %d partial. Waiting and incomplete groups\n"
	    "# are listed in state/plan.json; finished ones in state/done.idx.\n"
	    "UVM_HOME := %s\n"
	    "UVM_RULES := %s\n"
	    "include %s/uvmake.conf\n"
	    "include $(UVM_RULES)/common.mk\n",
	    incoming, nready + npartial, nready, npartial, home, rules, home);
	for (int s = 0; s < p->st->n; s++)
		fprintf(f, "include $(UVM_RULES)/%s.mk\n", p->st->v[s].name);
	fprintf(f, "\n.DEFAULT_GOAL := all\n.PHONY: all\nall:");
	if (p->order) {
		/* priority order (plan_order.h), a batch of the backlog */
		if (!(order = malloc(((size_t)p->ngroups + 1) * sizeof *order)) ||
		    (nact = plan_order(p, p->order, order, NULL)) < 0) {
			free(order);
			fclose(f);
			free(buf);
			errno = ENOMEM;
			return NULL;
		}
		plan_order_all(f, p, order, plan_order_batch(p, p->order, order, nact));
	}
	for (int i = 0; !p->order && i < p->ngroups; i++) {
		const struct plan_group *g = &p->groups[i];
		if (!active(g))
			continue;
		for (int s = 0; s < p->st->n; s++) {
			int per = plan_stage_per_sub(p->st, s);
			if (!plan_stage_final(p->st, s, g))
				continue;
			for (int sb = 0; sb < (per ? p->par.nsub : 1); sb++)
				if (!per || g->file[sb] >= 0)
					fprintf(f, " \\\n  %s", plan_product(p->st, s, g, sb, prod));
		}
	}
	fputc('\n', f);
	if (order) {
		/* staged products: a missing one is re-made only when needed */
		plan_order_secondary(f, p, p->order, order, nact);
		free(order);
	}
	for (int i = 0; i < p->ngroups; i++) {
		const struct plan_group *g = &p->groups[i];
		if (!active(g))
			continue;
		fprintf(f, "\n# %s: %s, %d of %d subbands\n", g->id, plan_state_name(g->state), g->nsub,
		    p->par.nsub);
		for (int sb = 0; sb < p->par.nsub; sb++)
			if (g->file[sb] >= 0)
				fprintf(f, "IN_%s/sb%02d := %s/%s\n", g->id, sb, incoming,
				    p->files[g->file[sb]].name);
		fprintf(f, "SB_%s :=", g->id);
		for (int sb = 0; sb < p->par.nsub; sb++)
			if (g->file[sb] >= 0)
				fprintf(f, " sb%02d", sb);
		fputc('\n', f);
		if (g->nsub < p->par.nsub) {
			fprintf(f, "MISSING_%s :=", g->id);
			for (int sb = 0; sb < p->par.nsub; sb++)
				if (g->file[sb] < 0)
					fprintf(f, " sb%02d", sb);
			fputc('\n', f);
		}
		/* the chosen table, also a prerequisite of the stages that read
		 * it (a chosen: input): a better table re-makes the group */
		if (p->st->chosen >= 0)
			fprintf(f, "CAL_%s := %s\n", g->id, g->cal);
		for (int s = 0; s < p->st->n; s++)
			if (plan_stage_applies(p->st, s, g))
				stage_rules(f, p, g, s);
	}
	mosaic_rules(f, p);
	if (ferror(f) | fclose(f)) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	*len = n;
	return buf;
}

/* A JSON list of the subbands present (want 1) or missing (want 0). */
static void json_subs(FILE *f, const struct plan *p, const struct plan_group *g, int want)
{
	int any = 0;
	fputc('[', f);
	for (int sb = 0; sb < p->par.nsub; sb++)
		if ((g->file[sb] >= 0) == want) {
			fprintf(f, "%s\"sb%02d\"", any ? ", " : "", sb);
			any = 1;
		}
	fputc(']', f);
}

char *plan_json(const struct plan *p, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	int shown = 0;
	int *rank = malloc(((size_t)p->ngroups + 1) * sizeof *rank);
	FILE *f = rank ? open_memstream(&buf, &n) : NULL;
	if (!f) {
		free(rank);
		return NULL;
	}
	/* the queue in priority order, for the status */
	if (!p->order || plan_order(p, p->order, NULL, rank) < 0)
		for (int i = 0; i < p->ngroups; i++)
			rank[i] = i;
	fprintf(f, "{\n  \"subbands\": %d,\n  \"next_wakeup\": ", p->par.nsub);
	if (p->next_wakeup)
		fprintf(f, "%lld", p->next_wakeup);
	else
		fputs("null", f);
	fputs(",\n  \"groups\": [", f);
	for (int i = 0; i < p->ngroups; i++) {
		const struct plan_group *g = &p->groups[i];
		if (g->state == PS_DONE)
			continue;
		fprintf(f, "%s\n    {\"id\": \"%s\", \"state\": \"%s\", \"first\": %lld, \"last\": %lld, "
		    "\"deadline\": ", shown++ ? "," : "", g->id, plan_state_name(g->state), g->first,
		    g->last);
		if (g->state == PS_READY)
			fputs("null", f);
		else
			fprintf(f, "%lld", g->deadline);
		fprintf(f, ", \"nsub\": %d, \"rank\": %d, \"subbands\": ", g->nsub, rank[i]);
		json_subs(f, p, g, 1);
		fputs(", \"missing\": ", f);
		json_subs(f, p, g, 0);
		fputc('}', f);
	}
	free(rank);
	fputs(shown ? "\n  ],\n  \"mosaics\": [" : "],\n  \"mosaics\": [", f);
	for (int i = 0; i < p->nhours; i++)
		fprintf(f, "%s\n    {\"hour\": \"%s\", \"state\": \"%s\", \"inputs\": %d}", i ? "," : "",
		    p->hours[i].id, p->hours[i].planned ? "planned" : "waiting", p->hours[i].ninputs);
	fputs(p->nhours ? "\n  ]\n}\n" : "]\n}\n", f);
	if (ferror(f) | fclose(f)) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	*len = n;
	return buf;
}

void plan_free(struct plan *p)
{
	for (int i = 0; i < p->nfiles; i++)
		free(p->files[i].name);
	free(p->files);
	free(p->groups);
	for (int i = 0; i < p->nhours; i++) {
		for (int k = 0; k < p->hours[i].ninputs; k++)
			free(p->hours[i].inputs[k]);
		free(p->hours[i].inputs);
	}
	free(p->hours);
	p->hours = NULL;
	p->nhours = 0;
	p->files = NULL;
	p->groups = NULL;
	p->nfiles = p->capfiles = p->ngroups = 0;
}
