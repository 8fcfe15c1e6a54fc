/*
 * watch_status.c: what uvm-watch tells the world about itself: the status
 * file state/watch.json (written atomically, rewritten when something
 * changed, retried with a growing delay when the disk refuses) and the
 * STATUS= line for the service manager, plus the clocks and time format
 * both use. Apart from the loop so that the one place that defines the
 * status file's fields is easy to read against the documentation.
 */
#include "engine/watch_priv.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"

static const char *const reason_name[] = {
	"startup", "event", "overflow", "rescan", "wakeup", "config", "rules", "retry",
};

double watch_mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

double watch_real_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ISO 8601 UTC with milliseconds, as in the log lines. */
char *watch_iso(double t, char *buf, size_t n)
{
	time_t s = (time_t)floor(t);
	int ms = (int)((t - (double)s) * 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03dZ", ms > 999 ? 999 : ms);
	return buf;
}

void watch_reasons_text(unsigned r, char *buf, size_t n)
{
	size_t k = 0;
	buf[0] = 0;
	for (int i = 0; i < (int)(sizeof reason_name / sizeof *reason_name); i++)
		if (r & (1u << i))
			k += (size_t)snprintf(buf + k, k < n ? n - k : 0, "%s%s", k ? "," : "",
			    reason_name[i]);
}

static const char *state_name(const struct watch *w)
{
	if (w->stopping)
		return w->child ? "stopping" : "stopped";
	if (w->child)
		return "running";
	if (w->want)
		return "waiting";
	return w->nst ? "settling" : "idle";
}

static void json_time(struct buf *b, double t)
{
	char buf[40];
	if (t < 0)
		buf_add(b, "null", 4);
	else
		buf_printf(b, "\"%s\"", watch_iso(t, buf, sizeof buf));
}

/* The status as JSON text into b. */
static void status_json(struct watch *w, struct buf *b, double now)
{
	double rn = watch_real_now(), due;
	char reasons[128];
	buf_printf(b, "{\n  \"pid\": %ld,\n  \"started\": ", (long)getpid());
	json_time(b, w->started);
	buf_add(b, ",\n  \"updated\": ", 14);
	json_time(b, rn);
	buf_printf(b, ",\n  \"state\": \"%s\",\n  \"home\": ", state_name(w));
	json_str_buf(b, w->cfg.home);
	buf_add(b, ",\n  \"incoming\": ", 16);
	json_str_buf(b, w->incoming);
	buf_add(b, ",\n  \"command\": ", 15);
	json_str_buf(b, w->command);
	buf_printf(b, ",\n  \"settle\": %g,\n  \"debounce\": %g,\n  \"max_delay\": %g,\n  \"rescan\": %g",
	    w->settle, w->debounce, w->maxdelay, w->rescan);
	buf_add(b, ",\n  \"last_event\": ", 17);
	if (w->last_event_kind) {
		buf_add(b, "{\"time\": ", 9);
		json_time(b, w->last_event_real);
		buf_printf(b, ", \"kind\": \"%s\", \"name\": ", w->last_event_kind);
		if (w->last_event_name[0])
			json_str_buf(b, w->last_event_name);
		else
			buf_add(b, "null", 4);
		buf_add(b, "}", 1);
	} else {
		buf_add(b, "null", 4);
	}
	buf_printf(b, ",\n  \"cycles\": %ld,\n  \"last_run\": ", w->cycles);
	if (w->cycles) {
		watch_reasons_text(w->run_reasons, reasons, sizeof reasons);
		buf_add(b, "{\"start\": ", 10);
		json_time(b, w->run_start);
		buf_add(b, ", \"end\": ", 9);
		json_time(b, w->run_end);
		if (w->run_exit >= 0)
			buf_printf(b, ", \"exit\": %d", w->run_exit);
		else
			buf_add(b, ", \"exit\": null", 14);
		buf_printf(b, ", \"reason\": \"%s\"}", reasons);
	} else {
		buf_add(b, "null", 4);
	}
	if (w->child)
		buf_printf(b, ",\n  \"running_pid\": %ld", (long)w->child);
	else
		buf_add(b, ",\n  \"running_pid\": null", 23);
	watch_reasons_text(w->want, reasons, sizeof reasons);
	buf_printf(b, ",\n  \"pending\": {\"count\": %ld, \"reason\": \"%s\", \"names\": [", w->nevents,
	    reasons);
	for (int i = 0; i < w->nnames; i++) {
		if (i)
			buf_add(b, ", ", 2);
		json_str_buf(b, w->names[i] ? w->names[i] : "");
	}
	buf_printf(b, "]},\n  \"settling\": {\"count\": %d, \"names\": [", w->nst);
	for (int i = 0; i < w->nst && i < MAX_NAMES; i++) {
		if (i)
			buf_add(b, ", ", 2);
		json_str_buf(b, w->st[i].name);
	}
	buf_add(b, "]},\n  \"next_cycle\": ", 20);
	due = w->child || w->stopping ? NEVER : watch_cycle_due(w);
	json_time(b, due >= NEVER ? -1 : rn + (due > now ? due - now : 0));
	buf_add(b, ",\n  \"next_rescan\": ", 18);
	json_time(b, w->child || w->stopping || w->next_rescan >= NEVER ? -1 : rn + (w->next_rescan - now));
	if (w->wakeup_epoch > 0)
		buf_printf(b, ",\n  \"next_wakeup\": %.0f", w->wakeup_epoch);
	else
		buf_add(b, ",\n  \"next_wakeup\": null", 23);
	buf_printf(b, ",\n  \"overflows\": %ld,\n  \"rescans\": %ld,\n  \"failures\": %d\n}\n",
	    w->overflows, w->rescans, w->failures);
}

/* Write state/watch.json if due; on failure keep it dirty and retry with
 * a growing delay (1 s .. 60 s), logging once per streak. */
void watch_status_write(struct watch *w, double now, int force)
{
	struct buf b = {0};
	if (!w->status_dirty && !force)
		return;
	if (now < w->status_next && !(force && !w->status_failing))
		return;
	status_json(w, &b, now);
	if (!b.oom && fsx_write_file(w->status_path, b.p, b.n, 0644) == 0) {
		if (w->status_failing)
			log_info("status file '%s' written again", w->status_path);
		w->status_failing = 0;
		w->status_dirty = 0;
		w->status_backoff = 0;
		w->status_next = now + STATUS_SPACING;
	} else {
		int e = b.oom ? ENOMEM : errno;
		if (!w->status_failing)
			log_warn("cannot write '%s': %s; retrying", w->status_path, strerror(e));
		w->status_failing = 1;
		w->status_dirty = 1;
		w->status_backoff = w->status_backoff ? w->status_backoff * 2 : 1;
		if (w->status_backoff > 60)
			w->status_backoff = 60;
		w->status_next = now + w->status_backoff;
	}
	buf_free(&b);
}

void watch_notify_status(struct watch *w, const char *extra)
{
	char msg[512];
	snprintf(msg, sizeof msg, "%sSTATUS=%s; %ld cycles, last exit %d; %ld pending, %d settling", extra,
	    state_name(w), w->cycles, w->run_exit, w->nevents, w->nst);
	if (watch_notify(msg) < 0)
		log_debug("cannot notify the service manager: %s", strerror(errno));
}
