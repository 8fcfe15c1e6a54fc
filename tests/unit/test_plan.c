/*
 * test_plan.c: unit tests of the planner's pure parts (src/lib/plan*.c).
 *
 * Names: the strict pattern, date validation, and the epoch arithmetic
 * against timegm(3) over every day of 1970-2100 (an independent
 * implementation). Safe quarantine names, path checks. The done index:
 * range lookup with jitter and tolerance, save/load round trip. Grouping:
 * jitter, the tolerance boundary, duplicates, the group id from sb00 or the
 * earliest file. States at the timeout boundary. The makefile text of a
 * ready and a partial group, checked line by line against known text. The
 * stage description (rules/stages, core/stages.h): the installation's, and
 * broken ones refused with their file and line; a stage inserted in a copy
 * changes the edges of the stage that reads it and nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/plan.h"

static int ntest, nfail;
static struct stages stg; /* the installation's rules/stages */

static void ok(int cond, const char *name)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntest, name);
	fflush(stdout);
}

static void test_names(void)
{
	long long e = 0;
	int sb = -1, bad = 0;
	ok(ids_parse_file("2025-10-24T12:00:03_sb07.hdf5", &e, &sb) == IDS_NAME_OK &&
		e == 1761307203LL && sb == 7,
	    "strict name parses to the known epoch and subband");
	ok(ids_parse_file("2024-02-29T00:00:00_sb00.hdf5", &e, &sb) == IDS_NAME_OK,
	    "leap day 2024 accepted");
	ok(ids_parse_file("2025-02-29T00:00:00_sb00.hdf5", &e, &sb) == IDS_NAME_DATE,
	    "29 February 2025 rejected as a date");
	ok(ids_parse_file("1900-02-29T00:00:00_sb00.hdf5", &e, &sb) == IDS_NAME_DATE,
	    "1900 is not a leap year (and before 1970)");
	ok(ids_parse_file("2025-13-01T00:00:00_sb00.hdf5", &e, &sb) == IDS_NAME_DATE &&
		ids_parse_file("2025-04-31T00:00:00_sb00.hdf5", &e, &sb) == IDS_NAME_DATE &&
		ids_parse_file("2025-10-24T24:00:00_sb00.hdf5", &e, &sb) == IDS_NAME_DATE &&
		ids_parse_file("2025-10-24T12:60:00_sb00.hdf5", &e, &sb) == IDS_NAME_DATE &&
		ids_parse_file("2025-10-24T12:00:60_sb00.hdf5", &e, &sb) == IDS_NAME_DATE &&
		ids_parse_file("2025-10-00T12:00:00_sb00.hdf5", &e, &sb) == IDS_NAME_DATE,
	    "month 13, 31 April, hour 24, minute 60, second 60, day 0 rejected");
	{
		const char *badnames[] = {"2025-10-24T12:00:03_sb07.hdf5 ", " 2025-10-24T12:00:03_sb07.hdf5",
		    "2025-10-24T12:00:03_sb7.hdf5", "2025-10-24 12:00:03_sb07.hdf5",
		    "2025-10-24T12:00:03_sb07.h5", "2025-10-24T12:00:03_SB07.hdf5",
		    "2025-10-24T12-00-03_sb07.hdf5", "2025-10-24T12:00:03_sb07_incomplete.hdf5",
		    "+025-10-24T12:00:03_sb07.hdf5", "2025-10-24T12:00:0a_sb07.hdf5",
		    "2025-10-24T12:00:03_sb-7.hdf5", "", "x"};
		for (size_t i = 0; i < sizeof badnames / sizeof badnames[0]; i++)
			if (ids_parse_file(badnames[i], &e, &sb) != IDS_NAME_PATTERN)
				bad++;
		ok(!bad, "near-miss names rejected as not matching the pattern");
	}
	bad = 0;
	for (int y = 1970; y <= 2100; y++)
		for (int m = 1; m <= 12; m++)
			for (int d = 1; d <= 31; d++) {
				struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
				time_t t = timegm(&tm);
				if (tm.tm_mday != d) /* normalised: not a real date */
					continue;
				if (ids_days_from_civil(y, m, d) * 86400 != (long long)t)
					bad++;
			}
	ok(!bad, "days_from_civil agrees with timegm on every date 1970-2100");
	{
		char id[PLAN_IDLEN];
		ids_group_id(1761307203LL, id);
		ok(!strcmp(id, "20251024T120003"), "group id of 2025-10-24T12:00:03 is 20251024T120003");
	}
}

static void test_safe(void)
{
	char out[NAME_MAX + 1], longname[256];
	char *esc;
	plan_safe_name("a b", out);
	ok(!strcmp(out, "a%20b"), "space percent-encoded");
	plan_safe_name("$(touch pwned);x\ny#:%", out);
	ok(!strcmp(out, "%24%28touch%20pwned%29%3Bx%0Ay%23:%25"), "shell and make characters encoded");
	plan_safe_name("..", out);
	ok(!strcmp(out, "%2E."), "leading dot encoded");
	memset(longname, '\n', 255);
	longname[255] = 0;
	plan_safe_name(longname, out);
	ok(strlen(out) <= 231 && strchr(out, '~') && !strchr(out, '\n'),
	    "255 newlines: cut, hashed, within NAME_MAX with room for suffixes");
	esc = plan_escape("a\nb\\c\x01");
	ok(esc && !strcmp(esc, "a\\nb\\\\c\\x01"), "escape for reason files");
	free(esc);
	ok(plan_path_safe("/data/uvmake-1/var_2") && !plan_path_safe("/data/a b") &&
		!plan_path_safe("/data/a:b") && !plan_path_safe("/data/$x") && !plan_path_safe("/d/#") &&
		!plan_path_safe("/d/%") && !plan_path_safe(""),
	    "path safety: plain paths only");
}

/* Group and hour ids: strict, against timegm(3) as the independent reference. */
static void test_ids(void)
{
	long long t = 0;
	char id[IDS_LEN];
	int bad = 0;
	ok(ids_parse_group("20251024T120003", &t) == 0 && t == 1761307203LL, "group id parses");
	ok(ids_parse_group("20250229T000000", &t) < 0 && ids_parse_group("20251024T240000", &t) < 0 &&
		ids_parse_group("20251024 120003", &t) < 0 && ids_parse_group("2025102T4120003", &t) < 0 &&
		ids_parse_group("20251024T12000", &t) < 0 && ids_parse_group("20251024T1200030", &t) < 0 &&
		ids_parse_group("2025102+T120003", &t) < 0 && ids_parse_group(NULL, &t) < 0,
	    "group id: bad dates, shapes and signs refused");
	ok(ids_parse_hour("20251024T12", 1, &t) == 0 && t == 1761307200LL &&
		ids_parse_hour("20251024T12", 4, &t) == 0 && ids_parse_hour("20251024T13", 2, &t) < 0 &&
		ids_parse_hour("20251031T24", 1, &t) < 0 && ids_parse_hour("20250231T00", 1, &t) < 0 &&
		ids_parse_hour("20251024T1", 1, &t) < 0 && ids_parse_hour("20251024T12", 0, &t) < 0,
	    "hour id: multiple of the mosaic hours, real dates only");
	for (long long e = 0; e < 4102444800LL; e += 86400 * 7 + 3671) {
		struct tm tm;
		time_t tt = (time_t)e;
		long long back = -1;
		char want[IDS_LEN];
		gmtime_r(&tt, &tm);
		strftime(want, sizeof want, "%Y%m%dT%H%M%S", &tm);
		ids_group_id(e, id);
		if (strcmp(id, want) || ids_parse_group(id, &back) < 0 || back != e)
			bad++;
		ids_hour_id(e, id);
		want[11] = 0;
		if (strcmp(id, want) || ids_parse_hour(id, 1, &back) < 0 || back != e - e % 3600)
			bad++;
	}
	ok(bad == 0, "group and hour ids round trip against gmtime over 1970-2100");
}

static void test_done(void)
{
	struct plan_doneidx d, d2;
	struct plan_done e;
	char path[] = "/tmp/test_plan_done.XXXXXX";
	int fd = mkstemp(path);
	memset(&d, 0, sizeof d);
	for (int i = 0; i < 1000; i++) {
		memset(&e, 0, sizeof e);
		e.first = 1761307200LL + 300LL * (999 - i); /* added out of order */
		e.last = e.first + 40;
		ids_group_id(e.first + 3, e.id);
		if (i == 500)
			plan_setbit(e.missing, 7);
		plan_done_add(&d, &e);
	}
	d.tol = 60;
	plan_done_sort(&d);
	ok(plan_done_find(&d, 1761307200LL + 300 * 10 + 59, 60) &&
		plan_done_find(&d, 1761307200LL + 300 * 10 + 60, 60) &&
		!plan_done_find(&d, 1761307200LL + 300 * 10 + 61, 60) &&
		!plan_done_find(&d, 1761307200LL + 300 * 10 - 1, 60),
	    "find: [first, first+tol] of a done group, nothing outside");
	ok(!plan_done_find(&d, 1761307199LL, 60) && !plan_done_find(&d, 1761307200LL + 300 * 1000, 60),
	    "find: before the first and after the last group");
	{
		char id[PLAN_IDLEN];
		ids_group_id(1761307200LL + 300 * 42 + 3, id);
		ok(plan_done_has(&d, id) && !plan_done_has(&d, "20251024T120000"), "has by id");
	}
	close(fd);
	ok(plan_done_save(&d, path) == 0 && plan_done_load(&d2, path, 60) == 0 && d2.n == 1000,
	    "save and load 1000 entries");
	{
		int same = d2.n == d.n;
		for (int i = 0; same && i < d.n; i++)
			same = !strcmp(d.v[i].id, d2.v[i].id) && d.v[i].first == d2.v[i].first &&
			    d.v[i].last == d2.v[i].last &&
			    !memcmp(d.v[i].missing, d2.v[i].missing, sizeof d.v[i].missing);
		ok(same, "round trip keeps every entry, missing sets included");
		const struct plan_done *x = plan_done_find(&d2, 1761307200LL + 300 * 499 + 1, 60);
		ok(x && plan_bit(x->missing, 7) && !plan_bit(x->missing, 6), "missing set survives");
	}
	{
		const struct plan_done *x = NULL;
		long long g499 = 1761307200LL + 300 * 499, g10 = 1761307200LL + 300 * 10;
		int bad = 0;
		ok(plan_done_match(&d2, g10, 7, &x) == 1 && plan_done_match(&d2, g10 + 60, 3, &x) == 1 &&
			plan_done_match(&d2, g10 + 61, 3, &x) == 0 && plan_done_match(&d2, g10 - 1, 3, &x) == 0,
		    "match: a complete done group's range, bounds exact (cover bitmap)");
		ok(plan_done_match(&d2, g499 + 5, 6, &x) == 1 && plan_done_match(&d2, g499 + 5, 7, &x) == 2 &&
			x && x->first == g499,
		    "match: the missing subband of a partial done group is a late arrival");
		/* the bitmap agrees with the time index everywhere */
		for (long long t = 1761307200LL - 100; t < 1761307200LL + 300 * 1001; t++) {
			const struct plan_done *y = plan_done_find(&d2, t, 60);
			int m = plan_done_match(&d2, t, 3, &x);
			if ((y != NULL) != (m != 0))
				bad++;
		}
		ok(!bad, "match agrees with find at every second of the span");
	}
	{
		FILE *f = fopen(path, "r");
		char line[128] = "";
		if (f) {
			if (!fgets(line, sizeof line, f))
				line[0] = 0;
			fclose(f);
		}
		ok(!strcmp(line, "20251024T120003 1761307200 1761307240 -\n"), "file format, sorted by id");
	}
	unlink(path);
	plan_done_free(&d);
	plan_done_free(&d2);
}

/* Add a file to p; name built from epoch and subband. */
static void add(struct plan *p, long long ts, int sb, long long mtime)
{
	char name[64];
	time_t t = (time_t)ts;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(name, sizeof name, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(name + strlen(name), sizeof name - strlen(name), "_sb%02d.hdf5", sb);
	if (p->nfiles == p->capfiles) {
		p->capfiles = p->capfiles ? 2 * p->capfiles : 64;
		p->files = realloc(p->files, (size_t)p->capfiles * sizeof *p->files);
	}
	p->files[p->nfiles].name = strdup(name);
	p->files[p->nfiles].ts = ts;
	p->files[p->nfiles].sb = sb;
	p->files[p->nfiles].mtime = mtime;
	p->files[p->nfiles].unsettled = 0;
	p->nfiles++;
}

static void test_grouping(void)
{
	const long long t0 = 1761307200LL; /* 2025-10-24T12:00:00 */
	struct plan p;
	int *dup, ndup;
	memset(&p, 0, sizeof p);
	p.st = &stg;
	p.par = (struct plan_params){16, 60, 900, 12, t0 + 10000};
	/* group A: 16 subbands, jittered 0..40 s, sb00 at +3, sb05 earliest */
	for (int sb = 0; sb < 16; sb++)
		add(&p, t0 + (sb == 0 ? 3 : sb == 5 ? 0 : 5 + (sb * 7) % 36), sb, t0 + 50);
	/* a duplicate sb03 inside group A, later */
	add(&p, t0 + 45, 3, t0 + 50);
	/* group B: 5 min later, no sb00, 14 subbands from +301, the last at
	 * exactly +tolerance after the first */
	for (int sb = 1; sb < 15; sb++)
		add(&p, t0 + 300 + (sb == 14 ? 61 : sb), sb, t0 + 400);
	/* group C: tolerance + 1 s after B's first: a new group */
	add(&p, t0 + 362, 15, t0 + 400);
	ok(plan_group_files(&p, &dup, &ndup) == 0 && p.ngroups == 3, "three groups");
	ok(ndup == 1 && p.files[dup[0]].ts == t0 + 45 && p.files[dup[0]].sb == 3,
	    "the later duplicate subband is set aside");
	free(dup);
	ok(!strcmp(p.groups[0].id, "20251024T120003") && p.groups[0].nsub == 16,
	    "jittered group named by its sb00 timestamp, 16 subbands");
	ok(!strcmp(p.groups[1].id, "20251024T120501") && p.groups[1].nsub == 14 &&
		p.groups[1].file[14] >= 0,
	    "no sb00: named by the earliest file; a file at exactly +tolerance belongs");
	ok(!strcmp(p.groups[2].id, "20251024T120602") && p.groups[2].nsub == 1,
	    "a file at +tolerance+1 s starts a new group");
	plan_classify(&p, &p.groups[0], t0 + 50);
	ok(p.groups[0].state == PS_READY, "all subbands: ready");
	p.par.now = t0 + 400 + 899;
	plan_classify(&p, &p.groups[1], t0 + 400);
	ok(p.groups[1].state == PS_WAITING && p.groups[1].deadline == t0 + 1300,
	    "14 of 16 before the timeout: waiting until newest mtime + timeout");
	p.par.now = t0 + 400 + 900;
	plan_classify(&p, &p.groups[1], t0 + 400);
	ok(p.groups[1].state == PS_PARTIAL, "14 of 16 at the timeout: partial");
	plan_classify(&p, &p.groups[2], t0 + 400);
	ok(p.groups[2].state == PS_INCOMPLETE, "1 of 16 at the timeout: incomplete");

	/* the makefile of this plan */
	{
		size_t n;
		char *mk = plan_makefile(&p, "/d", "/r", "incoming", &n);
		ok(mk && strstr(mk, "UVM_HOME := /d\nUVM_RULES := /r\ninclude /d/uvmake.conf\n"
				    "include $(UVM_RULES)/common.mk\ninclude $(UVM_RULES)/verify.mk\n"
				    "include $(UVM_RULES)/combine.mk\n"),
		    "makefile header");
		ok(mk && strstr(mk, "all: \\\n  products/20251024T120003/qa.json \\\n"
				    "  products/20251024T120501/qa.json\n"),
		    "all: the final products of the ready and partial groups");
		ok(mk && strstr(mk, "products/20251024T120003/cal.uvh5: products/20251024T120003/flag.uvh5") &&
			!strstr(mk, "caltables/20251024T120003.cal.h5:"),
		    "a group with no calibrator transit: calapply, no calsolve");
		ok(mk && strstr(mk, "CAL_20251024T120003 := \n"), "no table chosen: CAL_ empty");
		ok(mk && !strstr(mk, "20251024T120602"), "incomplete group not in the makefile");
		ok(mk && strstr(mk, "IN_20251024T120003/sb05 := incoming/2025-10-24T12:00:00_sb05.hdf5\n") &&
			strstr(mk, "IN_20251024T120003/sb03 := incoming/") &&
			!strstr(mk, "12:00:45_sb03"),
		    "input variables; the duplicate is not used");
		ok(mk && strstr(mk, "SB_20251024T120501 := sb01 sb02 sb03 sb04 sb05 sb06 sb07 sb08 sb09 "
				    "sb10 sb11 sb12 sb13 sb14\nMISSING_20251024T120501 := sb00 sb15\n"),
		    "partial group: SB_ and MISSING_");
		ok(mk && !strstr(mk, "MISSING_20251024T120003"), "ready group: no MISSING_");
		ok(mk && strstr(mk, "products/20251024T120501/sb07.ok: state/settings/verify.conf | products/20251024T120501/\n") &&
			!strstr(mk, "products/20251024T120501/sb00.ok"),
		    "per-subband targets for the present subbands only");
		ok(mk && strstr(mk, "products/20251024T120501/vis.uvh5: \\\n  products/20251024T120501/sb01.ok") &&
			strstr(mk, "  products/20251024T120501/sb14.ok state/settings/combine.conf \\\n  | products/20251024T120501/\n"),
		    "combine target needs every present verify report");
		free(mk);
	}
	{
		size_t n;
		char *js;
		p.next_wakeup = 0;
		js = plan_json(&p, &n);
		ok(js && strstr(js, "{\"id\": \"20251024T120501\", \"state\": \"partial\", \"first\": 1761307501, "
				    "\"last\": 1761307561, \"deadline\": 1761308500, \"nsub\": 14, ") &&
			strstr(js, "\"missing\": [\"sb00\", \"sb15\"]}") && strstr(js, "\"next_wakeup\": null"),
		    "plan.json group entry");
		free(js);
	}
	plan_free(&p);
}

static void test_stages(void)
{
	struct plan_group g;
	char buf[PATH_MAX];
	int qa = stages_find(&stg, "qa");
	memset(&g, 0, sizeof g);
	strcpy(g.id, "20251024T120003");
	ok(stg.n >= 2 && !strcmp(stg.v[0].name, "verify") && plan_stage_per_sub(&stg, 0) &&
		!plan_stage_per_sub(&stg, 1),
	    "stage table: verify per subband, combine per group");
	ok(qa >= 0 && !plan_stage_final(&stg, 0, &g) && plan_stage_final(&stg, qa, &g),
	    "the last stage's product is final, verify is not");
	ok(!strcmp(plan_product(&stg, 0, &g, 9, buf), "products/20251024T120003/sb09.ok"), "product path");
}

/* write text to dir/name */
static void put(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Load text as dir/stages; the error (or "") into err. */
static int load_text(struct stages *st, const char *dir, const char *text, char *err, size_t n)
{
	char path[PATH_MAX];
	put(dir, "stages", text);
	snprintf(path, sizeof path, "%s/stages", dir);
	err[0] = 0;
	return stages_load(st, path, err, n);
}

/* Does err end with want (after "dir/stages:")? */
static int says(const char *err, const char *dir, const char *want)
{
	char full[PATH_MAX + 512];
	snprintf(full, sizeof full, "%s/stages:%s", dir, want);
	if (strcmp(err, full))
		printf("# got:  %s\n# want: %s\n", err, full);
	return !strcmp(err, full);
}

/*
 * Descriptions: the installation's columns and edges, strict errors (each
 * one line with the file and line), and a toy stage inserted between
 * flag and calapply in a copy.
 */
static void test_description(void)
{
	static const char *stagenames[] = {"verify", "combine", "flag", "calsolve", "calapply", "image",
	    "sources", "qa", "mosaic", "msources", "smooth"};
	static const char head[] =
	    "# a comment, then the graph\n"
	    "verify   products/{G}/{S}.ok     -        subband - disk keep  0 -\n"
	    "combine  products/{G}/vis.uvh5   verify   group   - tmpfs vis:7 2 -\n";
	char dir[] = "/tmp/test_stages.XXXXXX", err[PATH_MAX + 512];
	struct stages st;
	struct plan p;
	struct plan_group g;
	int i;
	if (!mkdtemp(dir)) {
		ok(0, "temporary directory");
		return;
	}
	for (size_t k = 0; k < sizeof stagenames / sizeof stagenames[0]; k++) {
		char mk[64];
		snprintf(mk, sizeof mk, "%s.mk", stagenames[k]);
		put(dir, mk, "# empty\n");
	}
	i = stages_find(&stg, "calapply");
	ok(i >= 0 && stg.v[i].nin == 2 && stg.v[stg.v[i].in[0].stage].scope == STAGE_GROUP &&
		!strcmp(stg.v[stg.v[i].in[0].stage].name, "flag") && stg.v[i].in[1].chosen &&
		stg.chosen == stages_find(&stg, "calsolve") && stg.v[i].tmpfs &&
		!strcmp(stg.v[i].retain, "cal") && stg.v[i].retain_days == 7,
	    "installation: calapply reads flag's product, then the chosen table; tmpfs; cal:7");
	{
		char t[PATH_MAX];
		ok(stages_also_of(&stg, "products/20251024T120003/flag.json", t) &&
			!strcmp(t, "products/20251024T120003/flag.uvh5") &&
			!stages_also_of(&stg, "products/20251024T120003/qa.json", t) &&
			!stages_also_of(&stg, "products/2025102XT120003/flag.json", t) &&
			!stages_also_of(&stg, "products/20251024T120003/flag.json.bak", t),
		    "installation: flag.json is written beside flag.uvh5, matched with a strict id");
	}
	ok(stg.hour >= 0 && !strcmp(stg.v[stg.hour].name, "mosaic") && stg.image >= 0 &&
		!strcmp(stg.v[stg.image].name, "image") &&
		stg.v[stages_find(&stg, "calsolve")].calibrator,
	    "installation: mosaic per hour, image is the image, calsolve for calibrators");

	ok(load_text(&st, dir, head, err, sizeof err) == 0 && st.n == 2 && st.hour < 0 &&
		st.chosen < 0 && st.v[1].slots == 2 && st.v[1].in[0].stage == 0,
	    "a two-stage description loads");
	ok(load_text(&st, dir, "\n# nothing\n", err, sizeof err) < 0 && st.n == 0 &&
		strstr(err, "/stages: no stage"),
	    "no stage at all: refused");
	ok(load_text(&st, dir, "verify products/{G}/{S}.ok - subband - disk keep 0\n", err,
		   sizeof err) < 0 && says(err, dir, "1: 8 fields, want 9 or 10: name product inputs "
		   "scope when staging retain slots role [keys]"),
	    "a missing column: line 1");
	{
		char t[1024];
		snprintf(t, sizeof t, "%scombine products/{G}/x.uvh5 verify group - disk keep 0 -\n", head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			says(err, dir, "4: stage 'combine' already defined on line 3"),
		    "duplicate name: refused at its line");
		snprintf(t, sizeof t, "%scalapply products/{G}/cal.uvh5 smoth group - disk keep 0 -\n", head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			says(err, dir, "4: unknown stage 'smoth' in the inputs of 'calapply'"),
		    "unknown input: refused at its line");
		snprintf(t, sizeof t, "%scalapply products/{G}/cal.uvh5 combine daily - disk keep 0 -\n",
		    head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			says(err, dir, "4: scope 'daily': want subband, group or hour"),
		    "bad scope: refused");
		snprintf(t, sizeof t, "%scalapply products/{G}/{S}.cal combine group - disk keep 0 -\n",
		    head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			says(err, dir, "4: product 'products/{G}/{S}.cal' does not fit scope group (want "
				       "{G} once)"),
		    "a per-group product with {S}: refused");
		snprintf(t, sizeof t, "%scalapply products/{G}/cal.uvh5 combine,image group - disk keep 0 -\n"
				     "image products/{G}/image.fits calapply group - disk keep 0 -\n",
		    head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			says(err, dir, "4: cycle: calapply <- image <- calapply"),
		    "a cycle: refused, the stages on it named");
		snprintf(t, sizeof t, "%sdespike products/{G}/d.uvh5 combine group - disk keep 0 -\n", head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			strstr(err, "/stages:4: stage 'despike' has no rules file '") && strstr(err, "/despike.mk'"),
		    "a stage without rules/<name>.mk: refused");
		snprintf(t, sizeof t, "%sqa products/{G}/qa.json combine group - tmpfs keep 0 image\n"
				     "mosaic mosaics/{H}.fits qa hour - disk vis:3 0 -\n",
		    head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			says(err, dir, "5: retain vis: only per-group products are removed"),
		    "retention of a per-hour product: refused");
		snprintf(t, sizeof t, "%smosaic mosaics/{H}.fits verify hour - disk keep 0 -\n", head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			says(err, dir, "4: per-hour stage 'mosaic': want exactly one per-group input made "
				       "for every group"),
		    "a per-hour stage on per-subband products: refused");
		snprintf(t, sizeof t, "%smosaic mosaics/{H}.fits combine hour - disk keep 0 -\n"
				     "msources mosaics/{H}.sources.json combine hour - disk keep 0 -\n", head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			says(err, dir, "5: per-hour stage 'msources': want exactly one per-hour input "
				       "(only the first, 'mosaic', reads per-group products)"),
		    "a second per-hour stage on per-group products: refused");
		snprintf(t, sizeof t, "%smosaic mosaics/{H}.fits combine hour - disk keep 0 -\n"
				     "msources mosaics/{H}.sources.json mosaic hour - disk keep 0 - SOURCES_*\n",
		    head);
		ok(load_text(&st, dir, t, err, sizeof err) == 0 && st.hour == 2 &&
			st.v[3].scope == STAGE_HOUR && st.v[3].in[0].stage == 2,
		    "a per-hour stage on the mosaic (its catalogue): loads, the mosaic stays the first");
		snprintf(t, sizeof t, "%ssmooth products/{G}/../x - subband - disk keep 0 -\n", head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 && strstr(err, "/stages:4: product"),
		    "a product outside the deployment: refused");
		snprintf(t, sizeof t, "%ssmooth products/{G}/s.uvh5,products/s.json combine group - disk keep 0 -\n",
		    head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			says(err, dir, "4: product 'products/s.json': not the placeholders of 'products/{G}/s.uvh5'"),
		    "a file beside the product without its placeholders: refused");
		snprintf(t, sizeof t, "%ssmooth caltables/{G}.s - group - tmpfs keep 0 -\n", head);
		ok(load_text(&st, dir, t, err, sizeof err) < 0 &&
			says(err, dir, "4: staging tmpfs: only for a per-group product/{G}/<name>"),
		    "tmpfs outside products/G/: refused");
	}

	/* a copy of the installation's description with a toy stage between
	 * flag and calapply: calapply's edge moves, all: does not */
	{
		char t[4096], *mk, path[PATH_MAX];
		size_t n;
		FILE *f;
		snprintf(path, sizeof path, "%s", stg.path);
		f = fopen(path, "r");
		n = f ? fread(t, 1, sizeof t - 1, f) : 0;
		if (f)
			fclose(f);
		t[n] = 0;
		{
			char *c = strstr(t, "\ncalapply"), *in = c ? strstr(c, "flag,chosen") : NULL;
			char out[4096];
			if (!in) {
				ok(0, "calapply in the installation's description");
				return;
			}
			snprintf(out, sizeof out, "%.*s\nsmooth products/{G}/smooth.uvh5 flag group - tmpfs "
			    "vis:7 0 -%.*ssmooth%s", (int)(c - t), t, (int)(in - c), c, in + 4);
			ok(load_text(&st, dir, out, err, sizeof err) == 0 && st.n == stg.n + 1, "toy stage loads");
		}
		memset(&p, 0, sizeof p);
		memset(&g, 0, sizeof g);
		for (int s = 0; s < PLAN_MAXSUB; s++)
			g.file[s] = -1;
		g.file[0] = 0;
		g.nsub = 1;
		g.state = PS_READY;
		strcpy(g.id, "20251024T120003");
		strcpy(g.cal, "caltables/20251024T110003.cal.h5");
		p.par.nsub = 1;
		p.st = &st;
		p.groups = &g;
		p.ngroups = 1;
		p.nfiles = 1;
		p.files = &(struct plan_file){.name = "2025-10-24T12:00:03_sb00.hdf5", .ts = 1761307203};
		mk = plan_makefile(&p, "/d", dir, "incoming", &n);
		ok(mk && strstr(mk, "\nproducts/20251024T120003/smooth.uvh5: products/20251024T120003/flag.uvh5"
				    " state/settings/smooth.conf \\\n  | products/20251024T120003/\n") &&
			strstr(mk, "\nproducts/20251024T120003/cal.uvh5: products/20251024T120003/smooth.uvh5"
				   " caltables/20251024T110003.cal.h5 state/chosen/20251024T120003"
				   " state/settings/calapply.conf \\\n  | products/20251024T120003/\n") &&
			strstr(mk, "include $(UVM_RULES)/smooth.mk\ninclude $(UVM_RULES)/calapply.mk\n"),
		    "toy stage: its own rule on flag's product; calapply reads it, then the table");
		ok(mk && strstr(mk, "all: \\\n  products/20251024T120003/qa.json\n"),
		    "toy stage: the group's final product is still qa.json");
		free(mk);
	}
	for (size_t k = 0; k < sizeof stagenames / sizeof stagenames[0]; k++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s.mk", dir, stagenames[k]);
		unlink(path);
	}
	{
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/stages", dir);
		unlink(path);
	}
	rmdir(dir);
}

/* Hour ids of the hourly mosaics, and their target in the makefile. */
static void test_mosaic_hours(void)
{
	char id[PLAN_IDLEN];
	long long start;
	struct plan p;
	char *in[2] = {"products/20251024T120003/qa.json", "products/20251024T120503/qa.json"};
	struct plan_hour h;
	size_t n;
	char *mk;

	ok(plan_id_epoch("20251024T120003") == 1761307203 && plan_id_epoch("20251024T12000") < 0 &&
		plan_id_epoch("20251324T120003") < 0 && plan_id_epoch("20251024X120003") < 0,
	    "group id to epoch, malformed ids rejected");
	plan_hour_of(1761307203 + 3599 - 3, 1, id, &start);
	ok(!strcmp(id, "20251024T12") && start == 1761307200, "the hour of a time");
	plan_hour_of(1761307200 + 3 * 3600 + 5, 6, id, &start);
	ok(!strcmp(id, "20251024T12") && start == 1761307200, "six-hour mosaics: aligned on midnight");
	plan_hour_of(1761307200 - 12 * 3600 - 1, 6, id, &start);
	ok(!strcmp(id, "20251023T18"), "the block before midnight");

	memset(&p, 0, sizeof p);
	memset(&h, 0, sizeof h);
	strcpy(h.id, "20251024T12");
	h.planned = 1;
	h.ninputs = 2;
	h.inputs = in;
	p.par.nsub = 16;
	p.st = &stg;
	p.hours = &h;
	p.nhours = 1;
	mk = plan_makefile(&p, "/d", "/r", "incoming", &n);
	ok(mk && strstr(mk, "include $(UVM_RULES)/mosaic.mk\n") &&
		strstr(mk, "\nall: mosaics/20251024T12.fits\n") &&
		strstr(mk, "mosaics/20251024T12.fits: \\\n  products/20251024T120003/qa.json \\\n"
			   "  products/20251024T120503/qa.json \\\n  state/settings/mosaic.conf \\\n  | mosaics/\n"),
	    "a planned hour: in all, with exactly its reports and the mosaic settings as prerequisites");
	free(mk);
	h.planned = 0;
	mk = plan_makefile(&p, "/d", "/r", "incoming", &n);
	ok(mk && !strstr(mk, "mosaics/20251024T12.fits"), "an hour not due stays out of the makefile");
	free(mk);
	mk = plan_json(&p, &n);
	ok(mk && strstr(mk, "\"mosaics\": [\n    {\"hour\": \"20251024T12\", \"state\": \"waiting\", "
			   "\"inputs\": 2}\n  ]"),
	    "plan.json lists the pending hours");
	free(mk);
}

int main(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 8], err[PATH_MAX + 256];
	if (plan_rules_dir(dir) < 0 ||
	    (snprintf(path, sizeof path, "%s/stages", dir), stages_load(&stg, path, err, sizeof err)) < 0) {
		printf("Bail out! the installation's rules/stages: %s\n", plan_rules_dir(dir) < 0 ?
		    "no rules directory" : err);
		return 1;
	}
	test_names();
	test_safe();
	test_ids();
	test_done();
	test_grouping();
	test_stages();
	test_description();
	test_mosaic_hours();
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
