/*
 * status_html.c: the self-contained HTML dashboard of the status snapshot
 * (contract in status.h): one page that refreshes itself, inline SVG bar
 * charts for the last 24 hours and no external resource, so it can be
 * served as a static file. Every string from files or data is written as
 * entities (status_html_str) or, in links, percent-encoded. Apart from the
 * terminal and JSON writers (status_render.c) because it is as long as
 * both together and shares nothing with them but the time format.
 */
#include "ops/status.h"

#include <string.h>
#include <time.h>

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
	status_iso(t, s->now);
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
			status_iso(t, a->since);
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

/* ", " before each kept name of v (of n), escaped; "none" when n is 0. */
static void html_names(FILE *f, const char (*v)[FLAG_REPORT_NAMELEN], int kept, int n)
{
	if (!n)
		fputs("none", f);
	for (int i = 0; i < kept; i++) {
		fputs(i ? ", " : "", f);
		status_html_str(f, v[i]);
	}
	if (n > kept)
		fprintf(f, " and %d more", n - kept);
}

/* The newest group's flag report: fraction, dead and bad antennas. */
static void html_flagging(FILE *f, const struct status *s)
{
	fputs("\n<h2>Flagging</h2>", f);
	if (!s->has_flag) {
		fputs("<p>no flag report yet</p>", f);
		return;
	}
	fputs("<p id=\"flagging\">group ", f);
	status_html_str(f, s->flag_grp);
	fprintf(f, ": %.1f%% of the samples flagged; dead antennas: ", 100 * s->flag.fraction);
	html_names(f, s->flag.dead, s->flag.ldead, s->flag.ndead);
	fputs("; bad antennas: ", f);
	html_names(f, s->flag.bad, s->flag.lbad, s->flag.nbad);
	fputs(".</p>", f);
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
	html_flagging(f, s);
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
		status_iso(t, j->ended);
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
		status_iso(t, s->quar[i].at);
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
		status_iso(t, g->first_seen);
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
