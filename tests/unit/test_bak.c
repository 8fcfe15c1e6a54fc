/*
 * test_bak.c: unit tests of the backup archive names (bak_name_time, now
 * parsed with core/ids' strict group-id parser) and the retention choice
 * built on them, with known epochs. TAP output.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ops/bak.h"

static int n, failed;

static void ok(int cond, const char *name)
{
	n++;
	if (!cond)
		failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, name);
}

int main(void)
{
	/* 2025-10-24T12:00:03Z = 1761307203 */
	ok(bak_name_time("uvmake-20251024T120003Z.tar.zst") == 1761307203, "a name: its UTC time");
	ok(bak_name_time("/srv/backups/uvmake-20251024T120003Z.tar.zst") == 1761307203, "a path: its name's time");
	ok(bak_name_time("uvmake-20251024T120003Z.tar.zst.tmp.12") == -1 &&
	       bak_name_time("uvmake-20251024T120003.tar.zst") == -1 &&
	       bak_name_time("uvmake-20251024T12003Z.tar.zst") == -1 &&
	       bak_name_time("uvmake-2025102AT120003Z.tar.zst") == -1 &&
	       bak_name_time("other-20251024T120003Z.tar.zst") == -1 && bak_name_time("uvmake-") == -1,
	    "temporaries, missing Z, short or non-digit ids, other prefixes refused");
	ok(bak_name_time("uvmake-20251332T120003Z.tar.zst") == -1 &&
	       bak_name_time("uvmake-20250229T120003Z.tar.zst") == -1 &&
	       bak_name_time("uvmake-20251024T246003Z.tar.zst") == -1,
	    "impossible dates and times refused (no normalising)");
	{
		char *names[] = {"uvmake-20251024T120003Z.tar.zst", "uvmake-20251020T230000Z.tar.zst",
		    "uvmake-20251020T100000Z.tar.zst", "uvmake-20250101T000000Z.tar.zst", "notes.txt"};
		int keep[5];
		bak_retention(names, 5, (time_t)1761307203 + 3600, 1, 30, keep);
		ok(keep[0] && keep[1] && !keep[2] && !keep[3] && keep[4],
		    "retention: recent kept, newest of an older day kept, too old dropped, foreign kept");
	}
	printf("1..%d\n", n);
	return failed != 0;
}
