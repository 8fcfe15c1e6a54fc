/*
 * status_render.c: the writers of the status snapshot (contract in
 * status.h): the terminal summary, JSON for scripts and state/health.json,
 * and the self-contained HTML dashboard. They only format what
 * status_collect.c gathered; every string from files or data is escaped
 * for its medium (control characters on the terminal, core/json.h for
 * JSON, entities and URL escapes in HTML).
 */
#include "ops/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"

const char *status_level_name(int level)
{
	return level >= 2 ? "failing" : level == 1 ? "degraded" : "ok";
}

static void iso(char buf[32], double t)
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

/* A data string for the terminal: control characters become '?'. */
static void tstr(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

/* The title line, the stage table and the running jobs. */
static void text_stages(FILE *f, const struct status *s)
{
	char t[32];
	iso(t, s->now);
	fputs("uvmake status of ", f);
	tstr(f, s->home);
	fprintf(f, " at %s: %s\n\n", t, status_level_name(s->health));
	fprintf(f, "%-12s %6s %6s %8s %6s %11s %7s\n", "stage", "ok", "failed", "deferred", "dead", "quarantined",
	    "running");
	for (int i = 0; i < s->nstages; i++) {
		const struct status_stage *g = &s->stages[i];
		char name[13];
		snprintf(name, sizeof name, "%s", g->stage);
		for (char *p = name; *p; p++)
			*p = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
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
		iso(t, s->wait_first);
		iso(t2, s->wait_deadline);
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
		iso(t, j->ended);
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
		iso(t, a->since);
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

/* Recent failures and the calibration table in use. */
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

void status_html_str(FILE *f, const char *s)
{
	for (const char *p = s ? s : ""; *p; p++) {
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*p, f);
		}
	}
}

/* A relative URL path component, percent-encoded (then safe in HTML). */
static void url_part(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p))
			fputc(*p, f);
		else
			fprintf(f, "%%%02X", *p);
	}
}

/* An inline SVG bar chart of v[0..n), labels under every `every`th bar. */
static void svg_bars(FILE *f, const char *title, const double *v, char (*labels)[32], int n, int every,
    const char *unit, const char *colour)
{
	const int w = 560, h = 180, left = 40, bottom = 30, top = 20;
	double max = 0;
	for (int i = 0; i < n; i++)
		max = v[i] > max ? v[i] : max;
	fprintf(f, "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">",
	    w, h);
	fputs("<title>", f);
	status_html_str(f, title);
	fputs("</title>", f);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", left, h - bottom, w,
	    h - bottom);
	fprintf(f, "<text x=\"2\" y=\"%d\" font-size=\"10\">%.3g %s</text>", top - 6, max, unit);
	double bw = n ? (double)(w - left - 4) / n : 0;
	for (int i = 0; i < n; i++) {
		double bh = max > 0 ? v[i] / max * (h - bottom - top) : 0;
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>",
		    left + i * bw + 1, h - bottom - bh, bw > 3 ? bw - 2 : bw, bh, colour);
		status_html_str(f, labels[i]);
		fprintf(f, ": %.3g</title></rect>", v[i]);
		if (i % every == 0) {
			fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">", left + i * bw + 1, h - bottom + 14);
			status_html_str(f, labels[i]);
			fputs("</text>", f);
		}
	}
	fputs("</svg><figcaption>", f);
	status_html_str(f, title);
	fputs("</figcaption></figure>\n", f);
}

static void td(FILE *f, const char *s)
{
	fputs("<td>", f);
	status_html_str(f, s);
	fputs("</td>", f);
}

/* The page head, title and the health checks table. */
static void html_head_health(FILE *f, const struct status *s)
{
	char t[32];
	iso(t, s->now);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
	    "<meta http-equiv=\"refresh\" content=\"60\"><title>uvmake status</title><style>"
	    "body{font-family:sans-serif;margin:1em 2em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
	    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}figure{display:inline-block;margin:0 1em 1em 0}"
	    "#thumb{border:1px solid #888;background:#000}"
	    ".ok{color:#1a7f37}.degraded{color:#b08800}.failing{color:#cf222e}</style></head><body>\n", f);
	fprintf(f, "<h1>uvmake: <span class=\"%s\">%s</span></h1><p>", status_level_name(s->health),
	    status_level_name(s->health));
	status_html_str(f, s->home);
	fprintf(f, " at %s</p>\n<h2>Health</h2><table><tr><th>check</th><th>status</th><th>detail</th></tr>", t);
	for (int i = 0; i < s->nchecks; i++) {
		fputs("<tr>", f);
		td(f, s->checks[i].name);
		fprintf(f, "<td class=\"%s\">%s</td>", status_level_name(s->checks[i].level),
		    status_level_name(s->checks[i].level));
		td(f, s->checks[i].detail);
		fputs("</tr>", f);
	}
}

/* The active alerts table. */
static void html_alerts(FILE *f, const struct status *s)
{
	char t[32];
	fputs("</table>\n<h2>Active alerts</h2>", f);
	if (!s->nalerts)
		fputs("<p>none</p>", f);
	else {
		fputs("<table><tr><th>level</th><th>name</th><th>since</th><th>metric</th><th>value</th>"
		      "<th>acked</th></tr>", f);
		for (int i = 0; i < s->nalerts; i++) {
			const struct status_alert *a = &s->alerts[i];
			char v[64];
			iso(t, a->since);
			snprintf(v, sizeof v, "%g", a->value);
			fputs("<tr>", f);
			td(f, a->level);
			td(f, a->name);
			td(f, t);
			td(f, a->metric);
			td(f, v);
			td(f, a->acked ? "yes" : "no");
			fputs("</tr>", f);
		}
		fputs("</table>", f);
	}
}

/* The latest image thumbnail and the queue of groups. */
static void html_image_queue(FILE *f, const struct status *s)
{
	fputs("\n<h2>Latest image</h2>", f);
	if (s->thumb) {
		fprintf(f, "<figure><img id=\"thumb\" width=\"%d\" height=\"%d\" alt=\"latest image\" src=\"data:image/png;base64,",
		    s->thumb_w, s->thumb_h);
		fputs(s->thumb, f); /* base64: no character HTML treats specially */
		fputs("\"><figcaption>products/", f);
		status_html_str(f, s->thumb_grp);
		fputs("/image.fits</figcaption></figure>", f);
	} else {
		fputs("<p>no image yet</p>", f);
	}
	fprintf(f, "\n<h2>Queue</h2><p>%d group%s queued; %.0f finished in the last hour; catch-up ", s->queued,
	    s->queued == 1 ? "" : "s", s->thr_1h);
	if (!s->queued)
		fputs("not needed", f);
	else if (s->eta >= 0)
		fprintf(f, "in %.1f h", s->eta / 3600);
	else
		fputs("time unknown (nothing finished in the last hour)", f);
	fputs(".</p>", f);
	if (s->nqueue) {
		fputs("<ol id=\"queue\">", f);
		for (int i = 0; i < s->nqueue && i < 20; i++) {
			fputs("<li>", f);
			status_html_str(f, s->queue[i].grp);
			fputs(" (", f);
			status_html_str(f, s->queue[i].state);
			fputs(")</li>", f);
		}
		fputs("</ol>", f);
	}
}

/* The last 24 hours: throughput, latency and failure-class charts. */
static void html_charts(FILE *f, const struct status *s)
{
	char labels[24][32];
	fputs("\n<h2>Last 24 hours</h2>\n", f);
	for (int h = 0; h < 24; h++) {
		time_t hs = (time_t)(s->now - (23 - h) * 3600);
		struct tm tm;
		gmtime_r(&hs, &tm);
		strftime(labels[h], 32, "%HZ", &tm);
	}
	svg_bars(f, "groups finished per hour", s->thr, labels, 24, 3, "groups", "#2a9d8f");
	svg_bars(f, "mean latency per hour (first seen to last product)", s->lat_hour, labels, 24, 3, "s", "#e76f51");
	{
		int n = s->nfail_class < 24 ? s->nfail_class : 24;
		double v[24];
		char cl[24][32];
		for (int i = 0; i < n; i++) {
			v[i] = (double)s->fail_count[i];
			snprintf(cl[i], 32, "%s", s->fail_class[i]);
		}
		if (n)
			svg_bars(f, "failed jobs by class", v, cl, n, 1, "jobs", "#8338ec");
		else
			fputs("<p>No failed jobs in the last 24 hours.</p>", f);
	}
	fprintf(f, "<p>Latency over %d groups: p50 %.0f s, p90 %.0f s, p99 %.0f s.</p>\n", s->nlat, s->lat_p50,
	    s->lat_p90, s->lat_p99);
}

/* The stage counts, recent failures and quarantined inputs tables. */
static void html_tables(FILE *f, const struct status *s)
{
	char t[32];
	fputs("<h2>Stages</h2><table><tr><th>stage</th><th>ok</th><th>failed</th><th>deferred</th>"
	      "<th>dead</th><th>quarantined</th><th>running</th></tr>", f);
	for (int i = 0; i < s->nstages; i++) {
		const struct status_stage *g = &s->stages[i];
		fputs("<tr>", f);
		td(f, g->stage);
		fprintf(f, "<td>%ld</td><td>%ld</td><td>%ld</td><td>%ld</td><td>%ld</td><td>%ld</td></tr>", g->ok,
		    g->failed, g->deferred, g->dead, g->quarantined, g->running);
	}
	fputs("</table>\n<h2>Recent failures</h2><table><tr><th>ended</th><th>stage</th><th>target</th>"
	      "<th>class</th><th>reason</th></tr>", f);
	for (int i = 0; i < s->nfailures; i++) {
		const struct status_job *j = &s->failures[i];
		iso(t, j->ended);
		fputs("<tr>", f);
		td(f, t);
		td(f, j->stage);
		td(f, j->target);
		td(f, j->klass);
		td(f, j->reason);
		fputs("</tr>", f);
	}
	fputs("</table>\n<h2>Quarantined inputs</h2><table><tr><th>at</th><th>file</th><th>target</th>"
	      "<th>reason</th></tr>", f);
	for (int i = 0; i < s->nquar; i++) {
		iso(t, s->quar[i].at);
		fputs("<tr>", f);
		td(f, t);
		td(f, s->quar[i].original);
		td(f, s->quar[i].target);
		td(f, s->quar[i].reason);
		fputs("</tr>", f);
	}
}

/* The recent groups table with links to their logs. */
static void html_groups(FILE *f, const struct status *s)
{
	char t[32];
	fputs("</table>\n<h2>Recent groups</h2><table><tr><th>group</th><th>state</th><th>first seen</th>"
	      "<th>latency</th><th>logs</th></tr>", f);
	for (int i = 0; i < s->ngroups; i++) {
		const struct status_group *g = &s->groups[i];
		char lat[32] = "-";
		iso(t, g->first_seen);
		if (g->done_at > 0)
			snprintf(lat, sizeof lat, "%.0f s", g->done_at - g->first_seen);
		fputs("<tr>", f);
		td(f, g->grp);
		td(f, g->state);
		td(f, t);
		td(f, lat);
		fputs("<td>", f);
		const char *l = g->logs;
		for (int k = 0; k < g->nlogs; k++, l += strlen(l) + 1) {
			fputs("<a href=\"logs/", f);
			url_part(f, g->grp);
			fputc('/', f);
			url_part(f, l);
			fputs("\">", f);
			status_html_str(f, l);
			fputs("</a> ", f);
		}
		fputs("</td></tr>", f);
	}
	fputs("</table>\n</body></html>\n", f);
}

void status_html(FILE *f, const struct status *s)
{
	html_head_health(f, s);
	html_alerts(f, s);
	html_image_queue(f, s);
	html_charts(f, s);
	html_tables(f, s);
	html_groups(f, s);
}
