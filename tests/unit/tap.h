/*
 * tap.h: the one TAP reporter of the C unit tests (tests/unit/test_*.c):
 * ok() prints "ok N - name" or "not ok N - name" and counts; main ends
 * with printf("1..%d\n", ntest) and a status from nfail. stdout is
 * flushed after each line so a crash leaves every result before it.
 */
#ifndef UVM_TEST_TAP_H
#define UVM_TEST_TAP_H

#include <stdio.h>

static int ntest, nfail;

static void ok(int cond, const char *name)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntest, name);
	fflush(stdout);
}

#endif
