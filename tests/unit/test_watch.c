/*
 * test_watch.c: unit tests of uvm-watch's pure helpers (watch_util.c):
 * the incoming-name filter, seconds parsing, reading one number from a
 * JSON object without being fooled by nested or quoted look-alikes,
 * writing hostile names as valid JSON strings, and the sd_notify datagram
 * received on a real unix socket. TAP output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "engine/watch.h"

static int n, failed;

static void ok(int cond, const char *name)
{
	n++;
	if (!cond)
		failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, name);
}

static int num(const char *js, double *v)
{
	*v = -12345;
	return json_get_number(js, "next_wakeup", v);
}

static int json_is(const char *in, const char *want)
{
	struct buf b = {0};
	int r;
	json_str_buf(&b, in);
	r = !b.oom && !strcmp(b.p, want);
	if (!r)
		fprintf(stderr, "# got %s want %s\n", b.p ? b.p : "(null)", want);
	buf_free(&b);
	return r;
}

int main(void)
{
	double v;

	ok(watch_ignored(".hidden") && watch_ignored("x.hdf5.tmp.123") &&
	       watch_ignored("2025-10-24T12:00:03_sb00_incomplete.hdf5") && watch_ignored(""),
	    "ignored: dotfiles, temporaries, *_incomplete.hdf5, empty");
	ok(!watch_ignored("2025-10-24T12:00:03_sb00.hdf5") && !watch_ignored("incomplete.hdf5") &&
	       !watch_ignored("x.tmp.") && !watch_ignored("weird name"),
	    "counted: subband files and anything else the planner must judge");

	ok(watch_parse_secs("2", &v) == 0 && v == 2 && watch_parse_secs("0.25", &v) == 0 && v == 0.25 &&
	       watch_parse_secs("0", &v) == 0 && v == 0,
	    "seconds: integers and fractions");
	ok(watch_parse_secs("-1", &v) < 0 && watch_parse_secs("", &v) < 0 && watch_parse_secs("2s", &v) < 0 &&
	       watch_parse_secs("nan", &v) < 0 && watch_parse_secs("inf", &v) < 0 &&
	       watch_parse_secs("1e9", &v) < 0 && watch_parse_secs(NULL, &v) < 0,
	    "seconds: negative, empty, suffixed, non-finite and absurd values refused");

	ok(num("{\"next_wakeup\": 1761307503}", &v) == 1 && v == 1761307503, "json: top-level number");
	ok(num(" {\"groups\":[{\"next_wakeup\":1},{\"a\":\"}\"}],\"s\":\"\\\"next_wakeup\\\": 2\","
	       "\"next_wakeup\" : 3.5 }",
	       &v) == 1 && v == 3.5,
	    "json: nested and quoted look-alikes skipped");
	ok(num("{\"a\":{\"next_wakeup\":7}}", &v) == 0, "json: a nested key is not the top-level one");
	ok(num("{\"next_wakeup\": null, \"x\": 1}", &v) == 0 && num("{}", &v) == 0 &&
	       num("{\"x\": [1,2,{\"y\":\"z\"}], \"t\": true}", &v) == 0,
	    "json: null or absent is none");
	ok(num("[1]", &v) < 0 && num("", &v) < 0 && num("{\"next_wakeup\": \"5\"}", &v) < 0 &&
	       num("{\"a\": \"unterminated}", &v) < 0 && num("{\"a\" 1}", &v) < 0 &&
	       num("{\"a\": 1 \"next_wakeup\": 2}", &v) < 0 && num("{\"next_wakeup\": -}", &v) < 0,
	    "json: malformed text and non-numbers are errors");
	ok(num("{\"next_wakeup\": 0}", &v) == 1 && v == 0, "json: zero is a number (the caller treats it as none)");

	ok(json_is("plain.hdf5", "\"plain.hdf5\""), "json string: plain");
	ok(json_is("a\"b\\c", "\"a\\\"b\\\\c\""), "json string: quote and backslash");
	ok(json_is("nl\nx\ttab\x01\x7f", "\"nl\\u000ax\\u0009tab\\u0001\\u007f\""), "json string: control bytes");
	ok(json_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa1", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa1\""),
	    "json string: valid UTF-8 kept");
	ok(json_is("bad\xff\xc3(\xed\xa0\x80\xc0\xaf", "\"bad\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\""),
	    "json string: invalid, surrogate and overlong bytes replaced");

	{
		struct buf b = {0};
		char big[3000];
		memset(big, 'x', sizeof big - 1);
		big[sizeof big - 1] = 0;
		buf_printf(&b, "%s|%d", big, 42);
		ok(!b.oom && b.n == sizeof big + 2 && !strcmp(b.p + sizeof big - 1, "|42"),
		    "buf_printf: long output");
		buf_free(&b);
	}

	{
		char path[] = "/tmp/test_watch.XXXXXX", sock[200], got[256];
		struct sockaddr_un a;
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		ssize_t r = -1;
		double wd;
		if (!mkdtemp(path))
			return 1;
		snprintf(sock, sizeof sock, "%s/notify", path);
		memset(&a, 0, sizeof a);
		a.sun_family = AF_UNIX;
		snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
		if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
			return 1;
		setenv("NOTIFY_SOCKET", sock, 1);
		setenv("WATCHDOG_USEC", "3000000", 1);
		unsetenv("WATCHDOG_PID");
		wd = watch_notify_init();
		ok(wd == 1.5 && !getenv("NOTIFY_SOCKET") && !getenv("WATCHDOG_USEC"),
		    "notify: watchdog at half of WATCHDOG_USEC; variables not passed on");
		ok(watch_notify("READY=1\nSTATUS=idle") == 0, "notify: sent");
		r = recv(fd, got, sizeof got - 1, MSG_DONTWAIT);
		got[r > 0 ? r : 0] = 0;
		ok(r > 0 && !strcmp(got, "READY=1\nSTATUS=idle"), "notify: datagram received as sent");
		watch_notify_close();
		setenv("WATCHDOG_USEC", "3000000", 1);
		setenv("WATCHDOG_PID", "1", 1);
		ok(watch_notify_init() == 0, "notify: a watchdog meant for another pid is ignored");
		ok(watch_notify("WATCHDOG=1") == 0, "notify: no socket is not an error");
		close(fd);
		unlink(sock);
		rmdir(path);
	}

	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
