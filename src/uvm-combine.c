/*
 * uvm-combine: merge one observation group's subband files into one UVH5
 * 1.2 file in ascending frequency (see combine.h for the checks).
 *
 * usage: uvm-combine [-m missing] -o out file...
 *   -m missing  subbands absent from a partial group, e.g. -m sb03,sb07 or
 *               -m sb03 -m sb07; recorded in the output's history and its
 *               extra keyword missing_subbands, and allowing frequency gaps
 *               of that many whole subbands
 *
 * Exit: 0 ok, 64 usage, 65 an input is not valid UVH5 or disagrees with
 * the others (antennas, baselines, times, polarizations, channel width,
 * contiguity): named on stderr and, when $UVM_BLAME_FILE is set, listed
 * there one path a line; 66 an input is missing, 70 internal error (out of
 * memory), 73 cannot create the output, 74 read or write error (disk full
 * included). The output appears whole or not at all.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sci/combine.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/uvm.h"
#include "core/prov.h"

#define USAGE "uvm-combine [-m missing] -o out file..."
#define MAXMISSING 64

static int is_sb(const char *s)
{
	return s[0] == 's' && s[1] == 'b' && isdigit((unsigned char)s[2]) &&
	    isdigit((unsigned char)s[3]) && !s[4];
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Write the blamed inputs to $UVM_BLAME_FILE, if set. */
static void write_blame(char **files, int n, const unsigned char *blame)
{
	const char *bf = getenv("UVM_BLAME_FILE");
	size_t len = 0;
	char *buf;

	if (!bf || !*bf)
		return;
	for (int i = 0; i < n; i++)
		if (blame[i])
			len += strlen(files[i]) + 1;
	buf = malloc(len + 1);
	if (!buf)
		return;
	len = 0;
	for (int i = 0; i < n; i++)
		if (blame[i])
			len += (size_t)sprintf(buf + len, "%s\n", files[i]);
	if (fsx_write_file(bf, buf, len, 0644) < 0)
		log_warn("cannot write blame file '%s': %s", bf, strerror(errno));
	free(buf);
}

int main(int argc, char **argv)
{
	static char mbuf[MAXMISSING][8];
	const char *missing[MAXMISSING];
	struct combine_opts o = {0};
	char err[COMBINE_ERRLEN];
	unsigned char *blame;
	int c, nm = 0, rc;

	prog_start(argc, argv, USAGE);
	while ((c = getopt(argc, argv, "hm:o:")) != -1) {
		switch (c) {
		case 'h':
			return prog_help(USAGE);
		case 'm': {
			char *save = NULL, *dup = strdup(optarg);
			for (char *t = strtok_r(dup, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
				if (!is_sb(t) || nm == MAXMISSING) {
					log_err("bad missing subband '%s' (expected sbNN)", t);
					free(dup);
					return log_usage(USAGE);
				}
				snprintf(mbuf[nm++], sizeof mbuf[0], "%s", t);
			}
			free(dup);
			break;
		}
		case 'o':
			o.out = optarg;
			break;
		default:
			return log_usage(USAGE);
		}
	}
	if (!o.out || optind >= argc)
		return log_usage(USAGE);
	/* sorted, duplicates dropped */
	for (int i = 0; i < nm; i++)
		missing[i] = mbuf[i];
	qsort(missing, (size_t)nm, sizeof *missing, cmp);
	for (int i = 0, j = 0; i < nm; i++)
		if (!j || strcmp(missing[j - 1], missing[i]))
			missing[j++] = missing[i], o.nmissing = j;
	o.missing = missing;
	o.inputs = (const char *const *)(argv + optind);
	o.ninputs = argc - optind;
	blame = calloc((size_t)o.ninputs, 1);
	if (!blame) {
		log_err("out of memory");
		return EX_SOFTWARE;
	}
	prov_inputs(argv + optind, o.ninputs);
	rc = combine_run(&o, blame, err);
	if (rc) {
		log_err("%s", err);
		if (rc == EX_DATAERR)
			write_blame(argv + optind, o.ninputs, blame);
		if (rc == EX_OSERR)
			rc = EX_SOFTWARE;
	}
	free(blame);
	return rc;
}
