/*
 * uvm-verify: validate UVH5 files before the pipeline uses them.
 *
 * Each file is checked as pyuvdata's UVData.check() would (header counts,
 * shapes, antennas, polarization codes, uvw of autos and crosses,
 * frequencies, times) plus every data sample (unflagged visibilities
 * finite, autos real); the rules are in src/lib/check.h. Data are streamed
 * in blocks of rows (at most one integration, about 64 Ki samples), so
 * memory stays bounded whatever the file size.
 * An invalid file gets one line on stderr,
 *     uvm-verify: 'path': invalid: <first error>
 * and, with -j, a one-line JSON report on stdout holding every error and
 * warning and the counts. -o writes that report atomically to a file only
 * when the file is valid: the pipeline's products/<group>/sbNN.ok stamp, so
 * the stamp exists only for a verified input. A stale report at that path
 * is left alone on failure (it is older than the input, so make reruns).
 * -q silences the warnings (errors are always printed).
 *
 * Several files may be given; the exit status is the largest of theirs.
 * Options end at the first operand (or "--"), so a file named "-j" after
 * one is a file.
 * Exit: 0 valid, 64 usage, 65 invalid (or not UVH5), 66 missing, 73/74
 * cannot write the report, 74 unreadable input (a directory, a read error)
 * or stdout write error.
 *
 * Every file is read by libhdf5 inside this process only: the pipeline runs
 * one uvm-verify per file, so a malformed file that crashes libhdf5 ends
 * this process with a signal (which the recipe wrapper retries, then
 * dead-letters) and takes nothing else down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uvh5/check.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/uvm.h"

#define USAGE "uvm-verify [-jq] [-o report] file..."

/* Verify one file; print and write what was asked; its exit status. */
static int verify(const char *path, int json, int quiet, const char *out)
{
	struct chk_report *r = malloc(sizeof *r);
	char *js = NULL;
	int st, i;

	if (!r) {
		log_err("cannot verify '%s': out of memory", path);
		return EX_OSERR;
	}
	st = chk_file(path, r);
	if (st == EX_DATAERR)
		log_err("'%s': invalid: %s", path, r->err[0]);
	else if (st != 0)
		log_err("%s", r->nerr ? r->err[0] : "cannot verify");
	if (!quiet)
		for (i = 0; i < r->nwarn; i++)
			log_warn("'%s': %s", path, r->warn[i]);
	if (json || (out && st == 0)) {
		if (!(js = chk_report_json(r, path))) {
			log_err("cannot report on '%s': out of memory", path);
			free(r);
			return EX_OSERR;
		}
	}
	if (json)
		fputs(js, stdout);
	if (out && st == 0 && fsx_write_file(out, js, strlen(js), 0644) < 0) {
		int e = errno;

		log_err("cannot write '%s': %s", out, strerror(e));
		st = fsx_exit_for_errno(e);
	}
	free(js);
	free(r);
	return st;
}

int main(int argc, char **argv)
{
	int c, json = 0, quiet = 0, status = 0, st, i;
	const char *out = NULL;

	prog_start(argc, argv, USAGE);
	while ((c = getopt(argc, argv, "+jqo:")) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return log_usage(USAGE);
		}
	}
	if (optind >= argc || (out && argc - optind != 1))
		return log_usage(USAGE);
	for (i = optind; i < argc; i++) {
		st = verify(argv[i], json, quiet, out);
		if (st > status)
			status = st;
	}
	st = fsx_close_stdout();
	return st > status ? st : status;
}
