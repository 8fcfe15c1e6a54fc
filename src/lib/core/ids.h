/*
 * ids.h: the one parser and formatter of uvmake's names and ids.
 *
 *   subband file   YYYY-MM-DDTHH:MM:SS_sbNN.hdf5   (the correlator's name)
 *   group id       YYYYMMDDTHHMMSS                 (UTC time of a group)
 *   hour id        YYYYMMDDTHH                     (UTC hour of a mosaic)
 *
 * Every parser is strict: exactly the pattern, digits where digits belong,
 * a real calendar date and time, and the id formatted back from the parsed
 * time must be the input itself. A string that parses is therefore safe in
 * a makefile, a shell command line and a path. Parsing does not allocate
 * and does not touch the time zone (the planner runs it on every name in
 * incoming/, over a million in a year-old deployment).
 */
#ifndef UVM_IDS_H
#define UVM_IDS_H

#define IDS_LEN 16 /* "YYYYMMDDTHHMMSS" + NUL; an hour id fits too */

enum ids_name_status {
	IDS_NAME_OK = 0,
	IDS_NAME_PATTERN, /* not YYYY-MM-DDTHH:MM:SS_sbNN.hdf5 */
	IDS_NAME_DATE,    /* the right shape, but not a valid date and time */
};

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
long long ids_days_from_civil(long long y, int m, int d);
/*
 * Parse a subband file name. On IDS_NAME_OK, *epoch gets the UTC time of
 * the name (seconds since 1970) and *sb the subband number.
 */
enum ids_name_status ids_parse_file(const char *name, long long *epoch, int *sb);
/* Group id of a UTC epoch into id (IDS_LEN bytes). */
void ids_group_id(long long epoch, char *id);
/* Hour id "YYYYMMDDTHH" of a UTC epoch into id (IDS_LEN bytes). */
void ids_hour_id(long long epoch, char *id);
/* Parse a group id; *epoch gets its UTC time. 0, or -1 if not one. */
int ids_parse_group(const char *id, long long *epoch);
/*
 * Parse an hour id whose hour is a multiple of hours (1..24); *start gets
 * the UTC epoch of its start. 0, or -1 if not one.
 */
int ids_parse_hour(const char *id, int hours, long long *start);

#endif
