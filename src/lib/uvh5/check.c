/*
 * check.c: UVH5 validation (contract and the list of checks in check.h):
 * the report (messages, counts, its JSON) and chk_file, which opens a file,
 * explains why it cannot be read (a truncated HDF5 file says so), and runs
 * the header checks (check_header.c, check_ants.c) and the data checks
 * (check_data.c) over it, both threads at once (check_pass.c).
 */
#include "uvh5/check_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/json.h"
#include "core/uvm.h"

static void vadd(char (*msgs)[CHK_MSGLEN], int *n, int *total, const char *fmt, va_list ap)
{
	if (*n < CHK_MAXMSG)
		vsnprintf(msgs[(*n)++], CHK_MSGLEN, fmt, ap);
	(*total)++;
}

void chk_init(struct chk_report *r)
{
	memset(r, 0, sizeof *r);
	r->Nblts = r->Nbls = r->Ntimes = r->Nfreqs = r->Npols = r->Nspws = -1;
	r->Nphase = r->Nants_data = r->Nants_telescope = -1;
	r->pointing = -1;
}

void chk_error(struct chk_report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(r->err, &r->nerr, &r->nerr_total, fmt, ap);
	va_end(ap);
	if (r->status == 0)
		r->status = EX_DATAERR;
}

void chk_warn(struct chk_report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(r->warn, &r->nwarn, &r->nwarn_total, fmt, ap);
	va_end(ap);
}

void chk_strip_path(char *msg, const char *path)
{
	size_t n = strlen(path) + 32;
	char *pat = malloc(n), *p;

	if (!pat)
		return;
	snprintf(pat, n, "cannot read '%s': ", path);
	if (strncmp(msg, pat, strlen(pat)) == 0)
		memmove(msg, msg + strlen(pat), strlen(msg + strlen(pat)) + 1);
	snprintf(pat, n, " in '%s'", path);
	if ((p = strstr(msg, pat)) != NULL)
		memmove(p, p + strlen(pat), strlen(p + strlen(pat)) + 1);
	free(pat);
}

/* Little-endian unsigned integer of n (<= 8) bytes. */
static uint64_t le(const unsigned char *b, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | b[n];
	return v;
}

/*
 * libhdf5 calls a file "truncated" whenever it is shorter than the
 * end-of-file address in its superblock: bytes missing, or the address
 * itself damaged. Tell the two apart by reading that address (HDF5 file
 * format specification: the superblock is at 0 or a power of two >= 512;
 * versions 0 and 1 keep the end-of-file address after the base and
 * free-space addresses at byte 24 or 28, versions 2 and 3 after the base
 * and extension addresses at byte 12). An address of 2^48 bytes or more
 * cannot be a real size: the superblock is corrupt.
 */
static void explain_truncation(const char *path, char *msg, size_t size)
{
	static const unsigned char sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
	unsigned char b[64];
	FILE *fp;
	struct stat st;
	long off;
	uint64_t eof;
	int o, at;

	if (!strstr(msg, "truncated file") || !(fp = fopen(path, "rb")))
		return;
	if (fstat(fileno(fp), &st) < 0)
		goto out;
	for (off = 0; off + (long)sizeof b <= st.st_size; off = off ? off * 2 : 512) {
		if (fseek(fp, off, SEEK_SET) < 0 || fread(b, 1, sizeof b, fp) != sizeof b)
			goto out;
		if (memcmp(b, sig, 8) == 0)
			break;
		if (off > (1L << 30))
			goto out;
	}
	if (off + (long)sizeof b > st.st_size)
		goto out;
	if (b[8] <= 1) {
		o = b[13];
		at = (b[8] == 0 ? 24 : 28) + 2 * o;
	} else {
		o = b[9];
		at = 12 + 2 * o;
	}
	if (o < 2 || o > 8 || at + o > (int)sizeof b)
		goto out;
	eof = le(b + at, o);
	if (eof >= ((uint64_t)1 << 48))
		snprintf(msg, size, "corrupt superblock: end-of-file address %#llx, file size %lld",
		    (unsigned long long)eof, (long long)st.st_size);
	else if ((uint64_t)st.st_size < eof + (uint64_t)off)
		snprintf(msg, size, "truncated file: %lld of %llu bytes",
		    (long long)st.st_size, (unsigned long long)(eof + (uint64_t)off));
out:
	fclose(fp);
}

int chk_file(const char *path, struct chk_report *r)
{
	char err[UVH5_ERRLEN];
	int st = 0;
	uvh5_file *f;
	const struct uvh5_header *h;
	struct chk_data d;
	int64_t per, block;

	chk_init(r);
	f = uvh5_open(path, &st, err);
	if (!f) {
		if (st == EX_DATAERR) {
			chk_strip_path(err, path);
			explain_truncation(path, err, sizeof err);
		}
		chk_error(r, "%s", err);
		r->status = st ? st : EX_DATAERR;
		return r->status;
	}
	h = uvh5_header(f);
	per = h->Nfreqs * h->Npols;
	/* Blocks of 64 Ki samples (~0.8 MB with flags and nsamples) stay in
	 * the L2 cache from the read to the check; blocks of whole
	 * integrations (57 MB for a combined group) made chk_data_rows wait
	 * on memory for 40% of the run. */
	block = h->Nbls;
	if (block > ((int64_t)1 << 16) / per)
		block = ((int64_t)1 << 16) / per;
	if (block < 1)
		block = 1;
	if (block > h->Nblts)
		block = h->Nblts;
	chk_data_begin(&d, h);
	if (chk_pass(f, h, block, &d, r, path) < 0)
		goto done;
	chk_data_end(&d, r);
done:
	uvh5_close(f);
	return r->status;
}

static void put_msgs(struct buf *b, const char *key, char (*m)[CHK_MSGLEN], int n)
{
	int i;

	buf_printf(b, ",\"%s\":[", key);
	for (i = 0; i < n; i++) {
		if (i)
			buf_add(b, ",", 1);
		json_str_buf(b, m[i]);
	}
	buf_add(b, "]", 1);
}

char *chk_report_json(const struct chk_report *r, const char *path)
{
	struct buf b = { 0 };
	struct chk_report *rw = (struct chk_report *)r;

	buf_puts(&b, "{\"file\":");
	json_str_buf(&b, path);
	buf_printf(&b, ",\"valid\":%s,\"status\":%d", r->status == 0 ? "true" : "false", r->status);
	put_msgs(&b, "errors", rw->err, r->nerr);
	put_msgs(&b, "warnings", rw->warn, r->nwarn);
	buf_printf(&b, ",\"errors_total\":%d,\"warnings_total\":%d", r->nerr_total, r->nwarn_total);
	if (r->have_header) {
		buf_puts(&b, ",\"uvh5_version\":");
		json_str_buf(&b, r->version);
		buf_puts(&b, ",\"vistype\":");
		json_str_buf(&b, r->vistype ? r->vistype : "");
		buf_printf(&b, ",\"counts\":{\"Nblts\":%lld,\"Nbls\":%lld,\"Ntimes\":%lld,"
		    "\"Nfreqs\":%lld,\"Npols\":%lld,\"Nspws\":%lld,\"Nphase\":%lld,",
		    (long long)r->Nblts, (long long)r->Nbls, (long long)r->Ntimes,
		    (long long)r->Nfreqs, (long long)r->Npols, (long long)r->Nspws,
		    (long long)r->Nphase);
		buf_printf(&b, "\"Nants_data\":%lld,\"Nants_telescope\":%lld,\"auto_rows\":%lld,"
		    "\"uvw_mismatch_rows\":%lld,", (long long)r->Nants_data,
		    (long long)r->Nants_telescope, (long long)r->auto_rows,
		    (long long)r->uvw_mismatch_rows);
		buf_printf(&b, "\"rows_read\":%lld,\"samples\":%lld,\"flagged\":%lld,"
		    "\"flagged_fraction\":%.6g,", (long long)r->rows_read, (long long)r->samples,
		    (long long)r->flagged, r->samples > 0 ? (double)r->flagged / (double)r->samples : 0.0);
		buf_printf(&b, "\"nonfinite_unflagged\":%lld,\"nonfinite_flagged\":%lld,"
		    "\"auto_imag\":%lld}", (long long)r->nonfinite_unflagged,
		    (long long)r->nonfinite_flagged, (long long)r->auto_imag);
		/* where the data point, for the planner's calibrator choice */
		if (r->pointing == UVH5_PT_FIXED)
			buf_printf(&b, ",\"pointing\":{\"kind\":\"fixed\",\"ra_deg\":%.9g,"
			    "\"dec_deg\":%.9g}", r->point_ra_deg, r->point_dec_deg);
		else if (r->pointing >= 0)
			buf_printf(&b, ",\"pointing\":{\"kind\":\"%s\",\"dec_deg\":%.9g}",
			    r->pointing == UVH5_PT_MERIDIAN ? "meridian" : "zenith", r->point_dec_deg);
	} else {
		buf_puts(&b, ",\"counts\":{}");
	}
	buf_puts(&b, "}\n");
	char *js = buf_take(&b);
	if (!js)
		errno = ENOMEM;
	return js;
}
