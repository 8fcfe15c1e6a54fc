/*
 * uvm-watch: run pipeline cycles as files land (the inotify daemon).
 *
 * usage: uvm-watch [-D home] [-c command] [-s settle] [-d debounce] [-m max-delay] [-r rescan] [-1]
 *
 * Watches INCOMING, uvmake.conf and the rules directory and runs a cycle
 * (`uvm-make -D home -w 3600`: plan + make under state/make.lock) when a
 * file is renamed in, or written in place and stable (size, mtime) for
 * `settle` s (WATCH_SETTLE, default 2); bursts wait for `debounce` s of
 * quiet (WATCH_DEBOUNCE, 3) but at most `max-delay` s (WATCH_MAX_DELAY,
 * 30). One cycle at a time; anything arriving during it gives exactly one
 * more. Also a cycle at start-up, on an inotify overflow (and SIGUSR1), on
 * a config or rules change, every `rescan` s (WATCH_RESCAN, 300; 0: never)
 * and at the planner's next_wakeup (state/plan.json). Ignores dotfiles,
 * temporaries and *_incomplete.hdf5. A failing cycle backs off.
 *
 * -c command runs instead of uvm-make with the same arguments
 * (`command -D home -w secs`, UVM_HOME set): a program path or a name
 * looked up in PATH, executed directly, never through a shell, so a
 * wrapper script can end with `exec uvm-make "$@"`. Seconds may be
 * fractional; flags win over the config. -1: one cycle, then exit with
 * its status.
 *
 * Foreground; logs to stderr with time stamps. SIGTERM/SIGINT: let the
 * running cycle finish, exit 0 (a second one passes SIGTERM to the cycle).
 * SIGHUP, or its own executable changing (an upgrade): once the running
 * cycle is done, re-execute itself, same pid and arguments, which re-reads
 * the config and starts with a catch-up cycle; a new executable that
 * cannot run is logged and the old one carries on. Status in
 * state/watch.json; sd_notify READY, STATUS, RELOADING and WATCHDOG when
 * $NOTIFY_SOCKET is set (ops/uvm-watch.service).
 *
 * Exit status: 0 stopped by a signal; 64 usage; 65 malformed config;
 * 66 no deployment; 69 inotify unavailable; with -1, the cycle's status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/uvm.h"
#include "engine/watch.h"

#define USAGE "uvm-watch [-D home] [-c command] [-s settle] [-d debounce] [-m max-delay] [-r rescan] [-1]"

static int secs(int opt, const char *arg, double *out)
{
	if (watch_parse_secs(arg, out) == 0)
		return 0;
	log_err("invalid -%c value '%s': expected seconds", opt, arg);
	return -1;
}

int main(int argc, char **argv)
{
	struct watch_opt o = {.settle = -1, .debounce = -1, .maxdelay = -1, .rescan = -1};
	int opt;

	prog_start(argc, argv, USAGE);
	o.argv = argv;
	while ((opt = getopt(argc, argv, "1D:c:s:d:m:r:h")) != -1) {
		switch (opt) {
		case '1': o.once = 1; break;
		case 'D': o.home = optarg; break;
		case 'c':
			if (!*optarg)
				return log_usage(USAGE);
			o.command = optarg;
			break;
		case 's': if (secs(opt, optarg, &o.settle) < 0) return log_usage(USAGE); break;
		case 'd': if (secs(opt, optarg, &o.debounce) < 0) return log_usage(USAGE); break;
		case 'm': if (secs(opt, optarg, &o.maxdelay) < 0) return log_usage(USAGE); break;
		case 'r': if (secs(opt, optarg, &o.rescan) < 0) return log_usage(USAGE); break;
		case 'h': return prog_help(USAGE);
		default: return log_usage(USAGE);
		}
	}
	if (optind != argc)
		return log_usage(USAGE);
	setenv("UVM_LOG_TIME", "1", 1); /* a daemon's lines, and its cycles', carry the time */
	log_init(argv[0]);
	return watch_main(&o);
}
