/*
 * uvm-status: what the pipeline is doing, for the operator and for scripts.
 *
 * usage: uvm-status [-D home] [-j | --json] [-w | --watch secs] [-H | --html file]
 *
 * Prints a summary of the deployment (per-stage counts, running jobs, the
 * oldest waiting group and why, recent failures, calibration freshness,
 * latency percentiles, the queue in planned order with the time to catch
 * up, active alerts, health checks); -j prints it as one
 * JSON object instead. -H writes a static HTML dashboard to file (inline
 * SVG charts, a thumbnail of the latest image as a data: URI, relative
 * links to logs/<group>/) and state/health.json
 * (status ok, degraded or failing with its checks), both atomically, and
 * prints nothing. -w secs repeats every secs seconds (clearing the screen
 * for the text summary) until interrupted.
 *
 * Exit status: 0; 64 usage; 66 not a deployment; 73/74 cannot write.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "ops/status.h"
#include "core/uvm.h"

#define USAGE "uvm-status [-D home] [-j | --json] [-w | --watch secs] [-H | --html file]"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Render with fn into a buffer and write it atomically to path; 0 or an
 * exit status after logging. */
static int write_out(const char *path, void (*fn)(FILE *, const struct status *), const struct status *s)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return EX_OSERR;
	fn(f, s);
	if (fclose(f)) {
		free(buf);
		return EX_OSERR;
	}
	int rc = 0;
	if (fsx_write_file(path, buf, n, 0644) < 0) {
		log_err("cannot write '%s': %s", path, strerror(errno));
		rc = fsx_exit_for_errno(errno);
	}
	free(buf);
	return rc;
}

static int once(const struct cfg *c, int json, const char *html, int clear)
{
	struct status s;
	struct timespec ts;
	char path[PATH_MAX];
	int rc = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	status_collect(c, (double)ts.tv_sec + ts.tv_nsec / 1e9, &s);
	if (html) {
		status_thumbnail(&s);
		rc = write_out(html, status_html, &s);
		if (!rc)
			rc = write_out(cfg_path(c, "state/health.json", path), status_health_json, &s);
	} else {
		if (clear)
			fputs("\033[H\033[2J", stdout);
		(json ? status_json : status_text)(stdout, &s);
		if (fflush(stdout) == EOF)
			rc = EX_IOERR;
	}
	status_free(&s);
	return rc;
}

int main(int argc, char **argv)
{
	const char *home = NULL, *html = NULL;
	int opt, json = 0, rc;
	double every = 0;
	char *end;
	struct cfg c;

	prog_start(argc, argv, USAGE);
	/* the long forms operators type: --json, --watch secs, --html file */
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"watch", required_argument, NULL, 'w'},
	    {"html", required_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	while ((opt = getopt_long(argc, argv, "D:jw:H:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'D': home = optarg; break;
		case 'j': json = 1; break;
		case 'w':
			every = strtod(optarg, &end);
			if (*end || end == optarg || !(every > 0) || every > 86400)
				return log_usage(USAGE);
			break;
		case 'H': html = optarg; break;
		case 'h': return prog_help(USAGE);
		default: return log_usage(USAGE);
		}
	}
	if (optind != argc)
		return log_usage(USAGE);
	if (prog_deployment(&c, home))
		return EX_NOINPUT;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (;;) {
		rc = once(&c, json, html, every > 0 && !json);
		if (rc || every <= 0 || stop)
			break;
		struct timespec ts = {(time_t)every, (long)((every - (double)(time_t)every) * 1e9)};
		while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (stop)
			break;
	}
	cfg_free(&c);
	int s = fsx_close_stdout();
	return rc ? rc : s;
}
