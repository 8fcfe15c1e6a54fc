/*
 * ids.c: names and ids parsed and formatted in one place (contract in
 * ids.h). Character by character with integer date arithmetic: no
 * allocation, no timegm, no time zone.
 */
#include "core/ids.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int digits(const char *s, int n, int *v)
{
	int r = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		r = r * 10 + (s[i] - '0');
	}
	*v = r;
	return 0;
}

static int leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

long long ids_days_from_civil(long long y, int m, int d)
{
	static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	long long p = y - 1; /* whole years before y, counted from year 1 */
	long long days = 365 * p + p / 4 - p / 100 + p / 400 + before[m - 1] + (d - 1) +
	    (m > 2 && leap(y));
	return days - 719162; /* 0001-01-01 .. 1970-01-01 */
}

/* A valid date and time from 1970 on; its epoch into *t. 0 or -1. */
static int civil(int y, int mo, int d, int h, int mi, int se, long long *t)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 || se > 59)
		return -1;
	*t = ids_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

enum ids_name_status ids_parse_file(const char *s, long long *epoch, int *sb)
{
	int y, mo, d, h, mi, se, n;
	/* 0123456789012345678901234567 8 */
	/* YYYY-MM-DDTHH:MM:SS_sbNN.hdf5 */
	if (strlen(s) != 29 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || memcmp(s + 19, "_sb", 3) || memcmp(s + 24, ".hdf5", 5) ||
	    digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se) ||
	    digits(s + 22, 2, &n))
		return IDS_NAME_PATTERN;
	if (civil(y, mo, d, h, mi, se, epoch) < 0)
		return IDS_NAME_DATE;
	*sb = n;
	return IDS_NAME_OK;
}

void ids_group_id(long long epoch, char *id)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(id, IDS_LEN, "%04d%02d%02dT%02d%02d%02d", (tm.tm_year + 1900) % 10000,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void ids_hour_id(long long epoch, char *id)
{
	ids_group_id(epoch, id);
	id[11] = 0;
}

int ids_parse_group(const char *s, long long *epoch)
{
	int y, mo, d, h, mi, se;
	if (!s || strlen(s) != 15 || s[8] != 'T' || digits(s, 4, &y) || digits(s + 4, 2, &mo) ||
	    digits(s + 6, 2, &d) || digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) ||
	    digits(s + 13, 2, &se))
		return -1;
	return civil(y, mo, d, h, mi, se, epoch);
}

int ids_parse_hour(const char *s, int hours, long long *start)
{
	int y, mo, d, h;
	if (!s || strlen(s) != 11 || s[8] != 'T' || digits(s, 4, &y) || digits(s + 4, 2, &mo) ||
	    digits(s + 6, 2, &d) || digits(s + 9, 2, &h) || hours < 1 || hours > 24 || h % hours)
		return -1;
	return civil(y, mo, d, h, 0, 0, start);
}
