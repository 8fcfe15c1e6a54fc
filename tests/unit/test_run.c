/*
 * test_run.c: the recipe wrapper's decisions (run_policy.c), checked rule
 * by rule against the policy table in run.h and DESIGN.md: classification,
 * backoff with jitter bounds, in place vs deferred vs dead, the circuit
 * breaker's transitions, and the text helpers (argv rendering, LAUNCH
 * splitting, group from target, stamped lines). TAP output.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run.h"
#include "core/uvm.h"

static int n, failed;

static void ok(int cond, const char *name)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, name);
	if (!cond)
		failed++;
}

static struct run_policy pol(void)
{
	struct run_policy p = {
	    .retry_max = 5,
	    .base = 2,
	    .cap = 3600,
	    .inline_max = 10,
	    .unavail_base = 300,
	    .timeout = 60,
	    .kill_grace = 1,
	    .breaker_fails = 3,
	    .breaker_window = 600,
	    .breaker_cooldown = 300,
	    .disk_margin_mb = 512,
	};
	return p;
}

static void test_classify(void)
{
	ok(run_classify(1, 0, 0, 0, 0) == RC_OK, "exit 0 is ok");
	ok(run_classify(1, 64, 0, 0, 0) == RC_USAGE, "64 is usage");
	ok(run_classify(1, 65, 0, 0, 0) == RC_DATAERR, "65 is dataerr");
	ok(run_classify(1, 66, 0, 0, 0) == RC_NOINPUT, "66 is noinput");
	ok(run_classify(1, 69, 0, 0, 0) == RC_UNAVAILABLE, "69 is unavailable");
	ok(run_classify(1, 70, 0, 0, 0) == RC_SOFTWARE, "70 is software");
	ok(run_classify(1, 73, 0, 0, 0) == RC_CANTCREAT, "73 is cantcreat");
	ok(run_classify(1, 74, 0, 0, 0) == RC_IOERR, "74 is ioerr");
	ok(run_classify(1, 75, 0, 0, 0) == RC_TEMPFAIL, "75 is tempfail");
	ok(run_classify(1, 1, 0, 0, 0) == RC_OTHER, "1 is other");
	ok(run_classify(0, 0, SIGSEGV, 0, 0) == RC_SIGNAL, "SIGSEGV is signal");
	ok(run_classify(0, 0, SIGTERM, 1, 0) == RC_TIMEOUT, "killed after timeout is timeout");
	ok(run_classify(1, 0, 0, 1, 0) == RC_TIMEOUT, "exit 0 after the timeout TERM is still timeout");
	ok(run_classify(0, 0, SIGINT, 0, SIGINT) == RC_INTERRUPTED, "forwarded INT is interrupted");
	ok(!strcmp(run_class_name(RC_TIMEOUT), "timeout") && !strcmp(run_class_name(RC_DISK), "disk"),
	    "class names");
	ok(run_class_exit(RC_SIGNAL, 0) == EX_TEMPFAIL && run_class_exit(RC_OTHER, 3) == 3 &&
		run_class_exit(RC_DATAERR, 65) == 65 && run_class_exit(RC_DISK, 0) == EX_IOERR,
	    "wrapper exit statuses");
	ok(run_class_systemic(RC_TIMEOUT) && run_class_systemic(RC_SOFTWARE) &&
		run_class_systemic(RC_TEMPFAIL) && !run_class_systemic(RC_DATAERR) &&
		!run_class_systemic(RC_NOINPUT) && !run_class_systemic(RC_UNAVAILABLE) &&
		!run_class_systemic(RC_USAGE) && !run_class_systemic(RC_OK),
	    "breaker counts systemic classes only");
}

static void test_decide(void)
{
	struct run_policy p = pol();
	struct run_decision d;
	ok(run_backoff(2, 3600, 1) == 2 && run_backoff(2, 3600, 3) == 8 &&
		run_backoff(2, 3600, 30) == 3600 && run_backoff(0, 10, 4) == 0,
	    "backoff doubles from base, capped");
	run_decide(&p, RC_TEMPFAIL, 1, 0.0, &d);
	ok(d.action == RA_RETRY && d.delay == 1.0 && d.counted, "75, attempt 1: retry in place, d/2 at rnd 0");
	run_decide(&p, RC_TEMPFAIL, 1, 0.999999, &d);
	ok(d.action == RA_RETRY && d.delay > 1.99 && d.delay <= 2.0, "jitter upper bound is d");
	run_decide(&p, RC_TEMPFAIL, 3, 0.5, &d);
	ok(d.action == RA_RETRY && d.delay == 6.0, "75, attempt 3: 8 s nominal, in place");
	run_decide(&p, RC_TEMPFAIL, 4, 0.5, &d);
	ok(d.action == RA_DEFER && d.delay == 12.0, "75, attempt 4: 16 s > inline max: deferred");
	run_decide(&p, RC_TIMEOUT, 5, 0.5, &d);
	ok(d.action == RA_DEAD && d.alert, "timeout at RETRY_MAX: dead, alert");
	run_decide(&p, RC_IOERR, 1, 0.5, &d);
	ok(d.action == RA_RETRY && d.alert, "74 retries and alerts");
	run_decide(&p, RC_CANTCREAT, 2, 0.5, &d);
	ok(d.action == RA_RETRY && !d.alert, "73 retries");
	run_decide(&p, RC_NOINPUT, 1, 0.5, &d);
	ok(d.action == RA_DEFER && d.delay == 1.5, "66 always deferred");
	run_decide(&p, RC_UNAVAILABLE, 2, 0.0, &d);
	ok(d.action == RA_DEFER && d.delay == 300, "69 deferred from RETRY_UNAVAILABLE_BASE");
	run_decide(&p, RC_UNAVAILABLE, 5, 0.0, &d);
	ok(d.action == RA_DEAD, "69 dead after RETRY_MAX");
	run_decide(&p, RC_USAGE, 1, 0.5, &d);
	ok(d.action == RA_DEAD, "64 dead at once");
	run_decide(&p, RC_SOFTWARE, 1, 0.5, &d);
	ok(d.action == RA_DEAD && d.alert, "70 dead at once, alert");
	ok(run_classify(1, 79, 0, 0, 0) == RC_OVERFLAGGED &&
		!strcmp(run_class_name(RC_OVERFLAGGED), "overflagged") &&
		!run_class_systemic(RC_OVERFLAGGED) && run_class_exit(RC_OVERFLAGGED, 79) == 79,
	    "79 is overflagged, its own class, not systemic (no breaker)");
	run_decide(&p, RC_OVERFLAGGED, 1, 0.5, &d);
	ok(d.action == RA_DEAD && d.alert, "79 dead at once, alert: no retry, no quarantine");
	run_decide(&p, RC_DATAERR, 1, 0.5, &d);
	ok(d.action == RA_QUARANTINE, "65 quarantine");
	run_decide(&p, RC_DISK, 9, 0.0, &d);
	ok(d.action == RA_DEFER && !d.counted && d.delay == 256, "disk deferred, not counted");
	run_decide(&p, RC_INTERRUPTED, 5, 0.5, &d);
	ok(d.action == RA_NONE && !d.counted, "interrupted not counted");
	run_decide(&p, RC_OK, 3, 0.5, &d);
	ok(d.action == RA_DONE, "ok done");
	p.base = 0;
	run_decide(&p, RC_SIGNAL, 1, 0.5, &d);
	ok(d.action == RA_RETRY && d.delay == 0, "base 0: immediate retry in place");
}

static void test_breaker(void)
{
	struct run_policy p = pol();
	struct run_breaker b = {0};
	double t = 1000;
	ok(run_breaker_admit(&p, &b, t, 0) == ADMIT_RUN, "closed admits");
	ok(run_breaker_record(&p, &b, RC_TEMPFAIL, 0, t) && b.fails == 1 && b.state == BRK_CLOSED,
	    "first failure counted");
	ok(!run_breaker_record(&p, &b, RC_DATAERR, 0, t + 1) && b.fails == 1,
	    "65 neither trips nor resets");
	run_breaker_record(&p, &b, RC_TIMEOUT, 0, t + 2);
	ok(b.fails == 2 && b.state == BRK_CLOSED, "second failure");
	run_breaker_record(&p, &b, RC_SOFTWARE, 0, t + 3);
	ok(b.state == BRK_OPEN && b.opened_at == t + 3, "third failure opens");
	ok(run_breaker_admit(&p, &b, t + 100, 0) == ADMIT_REFUSE, "open refuses during cooldown");
	ok(run_breaker_admit(&p, &b, t + 303, 0) == ADMIT_TRIAL, "cooled down: trial");
	b.state = BRK_HALF;
	b.trial_pid = 4242;
	ok(run_breaker_admit(&p, &b, t + 304, 1) == ADMIT_REFUSE, "half-open with a live trial refuses");
	ok(run_breaker_admit(&p, &b, t + 304, 0) == ADMIT_TRIAL, "half-open with a dead trial: new trial");
	ok(run_breaker_record(&p, &b, RC_TEMPFAIL, 1, t + 305) && b.state == BRK_OPEN &&
		b.opened_at == t + 305 && !b.trial_pid,
	    "trial failure re-opens");
	b.state = BRK_HALF;
	b.trial_pid = 4242;
	ok(run_breaker_record(&p, &b, RC_NOINPUT, 1, t + 306) && b.state == BRK_HALF && !b.trial_pid,
	    "trial with a non-systemic outcome gives the trial back");
	b.trial_pid = 4243;
	ok(run_breaker_record(&p, &b, RC_OK, 1, t + 307) && b.state == BRK_CLOSED && b.fails == 0 &&
		!b.trial_pid,
	    "trial success closes");
	memset(&b, 0, sizeof b);
	run_breaker_record(&p, &b, RC_TEMPFAIL, 0, t);
	run_breaker_record(&p, &b, RC_TEMPFAIL, 0, t + 1);
	run_breaker_record(&p, &b, RC_TEMPFAIL, 0, t + 700);
	ok(b.state == BRK_CLOSED && b.fails == 1, "failures outside the window start over");
	run_breaker_record(&p, &b, RC_OK, 0, t + 701);
	ok(b.fails == 0, "success resets the count");
	p.breaker_fails = 0;
	b.state = BRK_OPEN;
	ok(run_breaker_admit(&p, &b, t, 0) == ADMIT_RUN, "BREAKER_FAILS=0 disables");
	ok(run_brk_parse("half-open") == BRK_HALF && !strcmp(run_brk_name(BRK_OPEN), "open"),
	    "breaker state names");
}

static void test_text(void)
{
	char g[64], *s, **v;
	int k;
	ok(run_group_from_target("products/20251024T120003/sb00.ok", g, sizeof g) == 0 &&
		!strcmp(g, "20251024T120003"),
	    "group from products/G/x");
	ok(run_group_from_target("./caltables/20251024T120003.cal.h5", g, sizeof g) == 0 &&
		!strcmp(g, "20251024T120003"),
	    "group from caltables/G.cal.h5");
	ok(run_group_from_target("mosaics/2025102412.fits", g, sizeof g) < 0 &&
		run_group_from_target("products/x", g, sizeof g) < 0 &&
		run_group_from_target("products/../x/y", g, sizeof g) < 0,
	    "no group for mosaics or malformed paths");
	ok(run_valid_name("verify") && !run_valid_name("../x") && !run_valid_name("a/b") &&
		!run_valid_name(""),
	    "valid names");
	{
		char *argv[] = {"uvm-verify", "-o", "a b", "it's", "x\ny", "$(rm -rf /);", NULL};
		s = run_render_argv(argv);
		ok(s && !strcmp(s, "uvm-verify -o 'a b' 'it'\\''s' $'x\\ny' '$(rm -rf /);'"),
		    "argv rendered with shell quoting, one line");
		free(s);
	}
	v = run_split_launch("srun,--exact,-N1,,-c2", &k);
	ok(v && k == 4 && !strcmp(v[0], "srun") && !strcmp(v[3], "-c2") && !v[4],
	    "LAUNCH split on commas");
	for (int i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
	v = run_split_launch("", &k);
	ok(v && k == 0 && !v[0], "empty LAUNCH");
	free(v);
	ok(run_line_stamped("2026-11-23T11:40:00.123Z uvm-x[G]: hi", 36) &&
		!run_line_stamped("hello world, plain line here", 28),
	    "stamped lines recognised");
	ok(!strcmp(run_fmt_time(0, g, sizeof g), "1970-01-01T00:00:00Z"), "UTC time format");
}

/* Admission arithmetic of the staging area and of declared memory. */
static void test_resources(void)
{
	const long long M = 1 << 20;
	struct run_policy p = {.retry_max = 3, .base = 1, .cap = 10, .inline_max = 5};
	struct run_decision d;
	/* 1000 MB tmpfs, 900 free: a 300 MB product needs 600 free */
	ok(run_stage_admit(1000 * M, 900 * M, 0, 300 * M, 100, 0), "staged: 2x room free");
	ok(!run_stage_admit(1000 * M, 900 * M, 400 * M, 300 * M, 100, 0),
	    "not staged: other jobs' reservations leave less than 2x");
	ok(run_stage_admit(1000 * M, 600 * M, 0, 300 * M, 100, 0) &&
		!run_stage_admit(1000 * M, 599 * M, 0, 300 * M, 100, 0),
	    "the 2x margin boundary");
	ok(!run_stage_admit(1000 * M, 900 * M, 0, 300 * M, 30, 0) &&
		run_stage_admit(1000 * M, 900 * M, 0, 300 * M, 40, 0),
	    "STAGING_MAX_PERCENT caps used + product (100 + 300 MB of 1000)");
	ok(!run_stage_admit(1000 * M, 900 * M, 0, 300 * M, 100, 399 * M) &&
		run_stage_admit(1000 * M, 900 * M, 0, 300 * M, 100, 400 * M),
	    "STAGING_LIMIT_MB caps used + product");
	ok(!run_stage_admit(1000 * M, 900 * M, 0, 0, 100, 0), "no size estimate: disk");
	ok(run_mem_admit(8000, 16000, 0, 0, 4000) && !run_mem_admit(8000, 16000, 5000, 1, 4000),
	    "memory: available minus others' outstanding reservations");
	ok(run_mem_admit(100, 16000, 0, 0, 0), "no declared peak: always admitted");
	ok(run_mem_admit(100, 16000, 0, 0, 20000) && !run_mem_admit(100, 16000, 0, 1, 20000) &&
		!run_mem_admit(100, 16000, 0, 0, 8000),
	    "a peak above MemTotal runs alone; one within it waits for memory");
	run_decide(&p, RC_RESOURCE, 1, 0.5, &d);
	ok(d.action == RA_NONE && !d.counted && run_class_exit(RC_RESOURCE, 0) == 75 &&
		!strcmp(run_class_name(RC_RESOURCE), "resource") && !run_class_systemic(RC_RESOURCE),
	    "class resource: not counted, exit 75, not systemic");
	run_decide(&p, RC_STAGING, 5, 0.5, &d);
	ok(d.action == RA_RETRY && d.delay == 0 && !d.counted && !d.alert &&
		!strcmp(run_class_name(RC_STAGING), "staging") && !run_class_systemic(RC_STAGING),
	    "class staging: again at once (on disk), not counted, not systemic, even at RETRY_MAX");
}

int main(void)
{
	test_classify();
	test_decide();
	test_breaker();
	test_text();
	test_resources();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
