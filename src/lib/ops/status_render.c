/*
 * status_render.c: the writers of the status snapshot (contract in
 * status.h): the terminal summary, and JSON for scripts and
 * state/health.json; the HTML dashboard is in status_html.c. They only
 * format what status_collect.c gathered; every string from files or data
 * is escaped for its medium (control characters on the terminal,
 * core/json.h for JSON).
 */
#include "ops/status.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/term.h"

const char *status_level_name(int level)
{
	return level >= 2 ? "failing" : level == 1 ? "degraded" : "ok";
}

/* Contract in status.h. */
void status_iso(char buf[32], double t)
{
	time_t s = (time_t)t;
	struct tm tm;
	if (t <= 0) {
		strcpy(buf, "-");
		return;
	}
	gmtime_r(&s, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A data string for the terminal, escaped (term.h). */
static void tstr(FILE *f, const char *s)
{
	term_fputs(f, s);
}

/* " none", or the kept names of v (of n in all) after a space each. */
static void text_names(FILE *f, const char (*v)[FLAG_REPORT_NAMELEN], int kept, int n)
{
	if (!n)
		fputs(" none", f);
	for (int i = 0; i < kept; i++) {
		fputc(' ', f);
		tstr(f, v[i]);
	}
	if (n > kept)
		fprintf(f, " and %d more", n - kept);
}

/* The title line, the stage table and the running jobs. */
static void text_stages(FILE *f, const struct status *s)
{
	char t[32];
	status_iso(t, s->now);
	fputs("uvmake status of ", f);
	tstr(f, s->home);
	fprintf(f, " at %s: %s\n\n", t, status_level_name(s->health));
	fprintf(f, "%-12s %6s %6s %8s %6s %11s %7s\n", "stage", "ok", "failed", "deferred", "dead", "quarantined",
	    "running");
	for (int i = 0; i < s->nstages; i++) {
		const struct status_stage *g = &s->stages[i];
		char name[13];
		term_escape(g->stage, name, sizeof name);
		fprintf(f, "%-12s %6ld %6ld %8ld %6ld %11ld %7ld\n", name, g->ok, g->failed, g->deferred, g->dead, g->quarantined, g->running);
	}
	if (!s->nstages)
		fputs("(no targets yet)\n", f);
	fprintf(f, "\nrunning: %d job%s\n", s->nrunning, s->nrunning == 1 ? "" : "s");
	for (int i = 0; i < s->nrunning; i++) {
		const struct status_job *j = &s->running[i];
		fputs("  ", f);
		tstr(f, j->stage);
		fputc(' ', f);
		tstr(f, j->target);
		fprintf(f, " (pid %ld, %.0f s)\n", j->pid, s->now - j->started);
	}
}

/* The oldest waiting group and the head of the queue. */
static void text_queue(FILE *f, const struct status *s)
{
	char t[32], t2[32];
	fputs("\noldest waiting group: ", f);
	if (s->wait_grp) {
		status_iso(t, s->wait_first);
		status_iso(t2, s->wait_deadline);
		tstr(f, s->wait_grp);
		fputc(' ', f);
		tstr(f, s->wait_state);
		fprintf(f, " since %s, deadline %s, missing: ", t, t2);
		tstr(f, *s->wait_missing ? s->wait_missing : "none");
		fputc('\n', f);
	} else {
		fputs("none\n", f);
	}
	fprintf(f, "\nqueue: %d group%s, throughput %.0f group%s in the last hour, catch-up ", s->queued,
	    s->queued == 1 ? "" : "s", s->thr_1h, s->thr_1h == 1 ? "" : "s");
	if (!s->queued)
		fputs("not needed\n", f);
	else if (s->eta >= 0)
		fprintf(f, "in %.1f h\n", s->eta / 3600);
	else
		fputs("unknown (nothing finished in the last hour)\n", f);
	for (int i = 0; i < s->nqueue && i < 10; i++) {
		fprintf(f, "  %2d. ", i + 1);
		tstr(f, s->queue[i].grp);
		fputc(' ', f);
		tstr(f, s->queue[i].state);
		if (s->queue[i].rank >= 0)
			fprintf(f, " (rank %ld)", s->queue[i].rank);
		fputc('\n', f);
	}
	if (s->queued > 10)
		fprintf(f, "  ... %d more\n", s->queued - 10);
}

/* Recent failures, calibration and latency. */
static void text_failures_cal(FILE *f, const struct status *s)
{
	char t[32];
	fprintf(f, "\nrecent failures: %s\n", s->nfailures ? "" : "none");
	for (int i = 0; i < s->nfailures; i++) {
		const struct status_job *j = &s->failures[i];
		status_iso(t, j->ended);
		fprintf(f, "  %s ", t);
		tstr(f, j->stage);
		fputc(' ', f);
		tstr(f, j->target);
		fputc(' ', f);
		tstr(f, j->klass);
		fprintf(f, " (%d)", j->status);
		if (*j->reason) {
			fputs(": ", f);
			tstr(f, j->reason);
		}
		fputc('\n', f);
	}
	fputs("\ncalibration: ", f);
	if (!s->has_cal)
		fputs("no good table\n", f);
	else {
		fputs(s->cal_age > 0 ? "expired " : "valid", f);
		if (s->cal_age > 0)
			fprintf(f, "%.1f h ago", s->cal_age / 3600);
		fputs(" (table of group ", f);
		tstr(f, s->cal_grp);
		fputs(")\n", f);
	}
	fputs("flagging: ", f);
	if (!s->has_flag)
		fputs("no report\n", f);
	else {
		fprintf(f, "%.4g of the samples flagged (group %s); dead antennas:", s->flag.fraction, s->flag_grp);
		text_names(f, s->flag.dead, s->flag.ldead, s->flag.ndead);
		fputs("; bad antennas:", f);
		text_names(f, s->flag.bad, s->flag.lbad, s->flag.nbad);
		fputc('\n', f);
	}
	fprintf(f, "latency (first seen to last product, %d group%s, 24 h): ", s->nlat, s->nlat == 1 ? "" : "s");
	if (s->nlat)
		fprintf(f, "p50 %.0f s, p90 %.0f s, p99 %.0f s, max %.0f s\n", s->lat_p50, s->lat_p90, s->lat_p99,
		    s->lat_max);
	else
		fputs("-\n", f);
}

/* The active alerts and the health checks. */
static void text_alerts_health(FILE *f, const struct status *s)
{
	char t[32];
	fprintf(f, "\nactive alerts: %s\n", s->nalerts ? "" : "none");
	for (int i = 0; i < s->nalerts; i++) {
		const struct status_alert *a = &s->alerts[i];
		status_iso(t, a->since);
		fputs("  ", f);
		tstr(f, a->level);
		fputc(' ', f);
		tstr(f, a->name);
		fprintf(f, " since %s: ", t);
		tstr(f, a->metric);
		fprintf(f, " = %g (threshold %g)%s\n", a->value, a->threshold, a->acked ? " acked" : "");
	}
	fprintf(f, "\nhealth: %s\n", status_level_name(s->health));
	for (int i = 0; i < s->nchecks; i++)
		fprintf(f, "  %-12s %-8s %s\n", s->checks[i].name, status_level_name(s->checks[i].level),
		    s->checks[i].detail);
}

void status_text(FILE *f, const struct status *s)
{
	text_stages(f, s);
	text_queue(f, s);
	text_failures_cal(f, s);
	text_alerts_health(f, s);
}

static void jnum(FILE *f, double v)
{
	fprintf(f, "%.17g", isfinite(v) ? v : 0.0);
}

static void checks_json(FILE *f, const struct status *s)
{
	fprintf(f, "{\"status\":\"%s\",\"time\":", status_level_name(s->health));
	jnum(f, s->now);
	fputs(",\"checks\":[", f);
	for (int i = 0; i < s->nchecks; i++) {
		fprintf(f, "%s{\"name\":\"%s\",\"status\":\"%s\",\"detail\":", i ? "," : "", s->checks[i].name,
		    status_level_name(s->checks[i].level));
		json_str_file(f, s->checks[i].detail);
		fputc('}', f);
	}
	fputs("]}", f);
}

void status_health_json(FILE *f, const struct status *s)
{
	checks_json(f, s);
	fputc('\n', f);
}

static void job_json(FILE *f, const struct status_job *j, int failed)
{
	fputs("{\"target\":", f);
	json_str_file(f, j->target);
	fputs(",\"group\":", f);
	json_str_file(f, j->grp);
	fputs(",\"stage\":", f);
	json_str_file(f, j->stage);
	fputs(",\"started\":", f);
	jnum(f, j->started);
	if (failed) {
		fputs(",\"ended\":", f);
		jnum(f, j->ended);
		fputs(",\"class\":", f);
		json_str_file(f, j->klass);
		fprintf(f, ",\"status\":%d,\"reason\":", j->status);
		json_str_file(f, j->reason);
	} else {
		fprintf(f, ",\"pid\":%ld", j->pid);
	}
	fputc('}', f);
}

/* The opening of the object: time, home, stage counts, running jobs. */
static void json_stages(FILE *f, const struct status *s)
{
	fputs("{\"time\":", f);
	jnum(f, s->now);
	fputs(",\"home\":", f);
	json_str_file(f, s->home);
	fputs(",\"stages\":{", f);
	for (int i = 0; i < s->nstages; i++) {
		const struct status_stage *g = &s->stages[i];
		fprintf(f, "%s", i ? "," : "");
		json_str_file(f, g->stage);
		fprintf(f, ":{\"ok\":%ld,\"failed\":%ld,\"deferred\":%ld,\"dead\":%ld,\"quarantined\":%ld,"
		    "\"running\":%ld}", g->ok, g->failed, g->deferred, g->dead, g->quarantined, g->running);
	}
	fputs("},\"running\":[", f);
	for (int i = 0; i < s->nrunning; i++) {
		fputs(i ? "," : "", f);
		job_json(f, &s->running[i], 0);
	}
}

/* The oldest waiting group (null when none). */
static void json_waiting(FILE *f, const struct status *s)
{
	fputs("],\"oldest_waiting\":", f);
	if (s->wait_grp) {
		fputs("{\"group\":", f);
		json_str_file(f, s->wait_grp);
		fputs(",\"state\":", f);
		json_str_file(f, s->wait_state);
		fputs(",\"first\":", f);
		jnum(f, s->wait_first);
		fputs(",\"deadline\":", f);
		if (s->wait_deadline > 0)
			jnum(f, s->wait_deadline);
		else
			fputs("null", f);
		fputs(",\"missing\":", f);
		json_str_file(f, s->wait_missing);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
}

/* The queue: size, throughput, catch-up estimate, order. */
static void json_queue(FILE *f, const struct status *s)
{
	fprintf(f, ",\"queue\":{\"groups\":%d,\"throughput_1h\":", s->queued);
	jnum(f, s->thr_1h);
	fputs(",\"eta_seconds\":", f);
	if (s->eta >= 0)
		jnum(f, s->eta);
	else
		fputs("null", f);
	fputs(",\"order\":[", f);
	for (int i = 0; i < s->nqueue; i++) {
		fputs(i ? ",{\"group\":" : "{\"group\":", f);
		json_str_file(f, s->queue[i].grp);
		fputs(",\"state\":", f);
		json_str_file(f, s->queue[i].state);
		if (s->queue[i].rank >= 0)
			fprintf(f, ",\"rank\":%ld}", s->queue[i].rank);
		else
			fputs(",\"rank\":null}", f);
	}
	fputs("]}", f);
}

/* The kept names of v as a JSON array of strings. */
static void json_names(FILE *f, const char (*v)[FLAG_REPORT_NAMELEN], int kept)
{
	fputc('[', f);
	for (int i = 0; i < kept; i++) {
		fputs(i ? "," : "", f);
		json_str_file(f, v[i]);
	}
	fputc(']', f);
}

/* Recent failures, the calibration table in use and the latest flagging. */
static void json_failures_cal(FILE *f, const struct status *s)
{
	fputs(",\"failures\":[", f);
	for (int i = 0; i < s->nfailures; i++) {
		fputs(i ? "," : "", f);
		job_json(f, &s->failures[i], 1);
	}
	fputs("],\"calibration\":", f);
	if (s->has_cal) {
		fputs("{\"group\":", f);
		json_str_file(f, s->cal_grp);
		fputs(",\"age_seconds\":", f);
		jnum(f, s->cal_age);
		fprintf(f, ",\"valid\":%s}", s->cal_age > 0 ? "false" : "true");
	} else {
		fputs("null", f);
	}
	fputs(",\"flagging\":", f);
	if (s->has_flag) {
		fputs("{\"group\":", f);
		json_str_file(f, s->flag_grp);
		fputs(",\"fraction\":", f);
		jnum(f, s->flag.fraction);
		fprintf(f, ",\"dead_count\":%d,\"dead_antennas\":", s->flag.ndead);
		json_names(f, s->flag.dead, s->flag.ldead);
		fprintf(f, ",\"bad_count\":%d,\"bad_antennas\":", s->flag.nbad);
		json_names(f, s->flag.bad, s->flag.lbad);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
}

/* Latency percentiles, failure classes of 24 h, quarantined inputs. */
static void json_latency_quar(FILE *f, const struct status *s)
{
	fprintf(f, ",\"latency\":{\"groups\":%d,\"p50\":", s->nlat);
	jnum(f, s->lat_p50);
	fputs(",\"p90\":", f);
	jnum(f, s->lat_p90);
	fputs(",\"p99\":", f);
	jnum(f, s->lat_p99);
	fputs(",\"max\":", f);
	jnum(f, s->lat_max);
	fputs("},\"failure_classes_24h\":{", f);
	for (int i = 0; i < s->nfail_class; i++) {
		fputs(i ? "," : "", f);
		json_str_file(f, s->fail_class[i]);
		fprintf(f, ":%ld", s->fail_count[i]);
	}
	fputs("},\"quarantined\":[", f);
	for (int i = 0; i < s->nquar; i++) {
		fputs(i ? ",{\"original\":" : "{\"original\":", f);
		json_str_file(f, s->quar[i].original);
		fputs(",\"reason\":", f);
		json_str_file(f, s->quar[i].reason);
		fputs(",\"target\":", f);
		json_str_file(f, s->quar[i].target);
		fputs(",\"at\":", f);
		jnum(f, s->quar[i].at);
		fputc('}', f);
	}
}

/* The active alerts, the health checks and the closing brace. */
static void json_alerts_health(FILE *f, const struct status *s)
{
	fputs("],\"alerts\":[", f);
	for (int i = 0; i < s->nalerts; i++) {
		const struct status_alert *a = &s->alerts[i];
		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		json_str_file(f, a->name);
		fputs(",\"level\":", f);
		json_str_file(f, a->level);
		fputs(",\"metric\":", f);
		json_str_file(f, a->metric);
		fputs(",\"value\":", f);
		jnum(f, a->value);
		fputs(",\"since\":", f);
		jnum(f, a->since);
		fprintf(f, ",\"acked\":%s}", a->acked ? "true" : "false");
	}
	fputs("],\"health\":", f);
	checks_json(f, s);
	fputs("}\n", f);
}

void status_json(FILE *f, const struct status *s)
{
	json_stages(f, s);
	json_waiting(f, s);
	json_queue(f, s);
	json_failures_cal(f, s);
	json_latency_quar(f, s);
	json_alerts_health(f, s);
}
