/*
 * flag_run.c: uvm-flag's whole job on one group: read it into memory,
 * run the three passes of flag.h, count what each flagged, write the JSON
 * report and the flagged copy (contract in flag.h).
 *
 * The group is held whole because AOFlagger needs each baseline's full
 * time x frequency plane and the file is time-major, but as amplitudes
 * and flags (5 bytes a sample: 860 MB for a full DSA-110 group, against
 * 1.5 GB for the visibilities); it is read in blocks of rows of about
 * 2 MB, and the visibilities and nsamples are streamed from the input
 * again while writing, compressed on every core (flag_write.c). The
 * report holds no time stamp or timing, so the same input gives the
 * same bytes.
 */
#include "sci/flag.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "core/fsx.h"
#include "core/prov.h"
#include "sci/aoflag.h"
#include "sci/flag_write.h"
#include "uvh5/uvh5.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct counts {
	long long total, input, ants, chans, aoflagger, final;
};

/* Non-zero bytes of f[0, n): eight at a time (the high bit of each byte
 * of t is set where that byte is non-zero), four passes of the group on
 * the one thread between the parallel ones. */
static long long count_flags(const uint8_t *f, size_t n)
{
	const uint64_t lo7 = 0x7f7f7f7f7f7f7f7fULL, ones = 0x0101010101010101ULL;
	long long c = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x, t;

		memcpy(&x, f + i, 8);
		t = ((x & lo7) + lo7) | x;
		c += (long long)((((t >> 7) & ones) * ones) >> 56);
	}
	for (; i < n; i++)
		c += f[i] != 0;
	return c;
}

static double frac(long long a, long long b)
{
	return b > 0 ? (double)a / (double)b : 0;
}

struct blfrac {
	int b;
	double f;
};

static int by_frac(const void *x, const void *y)
{
	const struct blfrac *a = x, *b = y;

	if (a->f != b->f)
		return a->f > b->f ? -1 : 1;
	return a->b - b->b;
}

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The report as JSON text in *buf; 0 or -1 (memory). */
static int report_json(const struct flag_opts *o, const struct uvh5_header *h,
    const struct flag_data *d, const struct flag_ants *a, const uint8_t *badchan,
    const uint8_t *badtime, const struct counts *c, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	int nf = d->nfreq, np = d->npol, nt = d->ntimes, nb = d->nbls, na = d->nants;
	size_t rowlen = (size_t)nf * np;
	long long *ant = calloc((size_t)na + 1, sizeof *ant), *antn = calloc((size_t)na + 1, sizeof *antn);
	long long *ch = calloc((size_t)nf + 1, sizeof *ch);
	struct blfrac *bl = calloc((size_t)nb + 1, sizeof *bl);
	int top = o->top > 0 ? o->top : 20, first;

	if (!f || !ant || !antn || !ch || !bl) {
		if (f)
			fclose(f);
		free(*buf);
		free(ant);
		free(antn);
		free(ch);
		free(bl);
		return -1;
	}
	for (int b = 0; b < nb; b++) {
		long long n = 0;
		for (int t = 0; t < nt; t++) {
			const uint8_t *fl = d->flags + ((size_t)t * nb + b) * rowlen;
			for (size_t s = 0; s < rowlen; s++)
				if (fl[s]) {
					n++;
					ch[s / np]++;
				}
		}
		bl[b].b = b;
		bl[b].f = frac(n, (long long)nt * (long long)rowlen);
		ant[d->a1[b]] += n;
		antn[d->a1[b]] += (long long)nt * (long long)rowlen;
		if (d->a2[b] != d->a1[b]) {
			ant[d->a2[b]] += n;
			antn[d->a2[b]] += (long long)nt * (long long)rowlen;
		}
	}
	qsort(bl, (size_t)nb, sizeof *bl, by_frac);
	fputs("{\"input\":", f);
	jstr(f, o->in);
	fputs(",\"strategy\":", f);
	jstr(f, o->strategy);
	fputs(",\"aoflagger_version\":", f);
	jstr(f, aoflag_version());
	fprintf(f, ",\"nants\":%d,\"nbls\":%d,\"ntimes\":%d,\"nfreqs\":%d,\"npols\":%d,"
	    "\"samples\":%lld", na, nb, nt, nf, np, c->total);
	fprintf(f, ",\"flagged_fraction\":%.6f,\"max_fraction\":%.6f,\"overflagged\":%s",
	    frac(c->final, c->total), o->max_fraction,
	    frac(c->final, c->total) > o->max_fraction ? "true" : "false");
	fprintf(f, ",\"flagged_by\":{\"input\":%.6f,\"antennas\":%.6f,"
	    "\"channels_integrations\":%.6f,\"aoflagger\":%.6f}", frac(c->input, c->total),
	    frac(c->ants - c->input, c->total), frac(c->chans - c->ants, c->total),
	    frac(c->aoflagger - c->chans, c->total));
	for (int pass = 0; pass < 2; pass++) {
		const uint8_t *which = pass ? a->bad : a->dead;
		fprintf(f, ",\"%s_antennas\":[", pass ? "bad" : "dead");
		first = 1;
		for (int i = 0; i < na; i++)
			if (which[i]) {
				fprintf(f, "%s{\"antenna\":%lld,\"name\":", first ? "" : ",",
				    (long long)h->antenna_numbers[i]);
				jstr(f, h->antenna_names[i]);
				fputs(",\"reason\":", f);
				jstr(f, a->why[i]);
				fputc('}', f);
				first = 0;
			}
		fputc(']', f);
	}
	fputs(",\"bad_channels\":[", f);
	first = 1;
	for (int i = 0; i < nf; i++)
		if (badchan[i]) {
			fprintf(f, "%s%d", first ? "" : ",", i);
			first = 0;
		}
	fputs("],\"bad_integrations\":[", f);
	first = 1;
	for (int i = 0; i < nt; i++)
		if (badtime[i]) {
			fprintf(f, "%s%d", first ? "" : ",", i);
			first = 0;
		}
	fputs("],\"antennas\":[", f);
	first = 1;
	for (int i = 0; i < na; i++) {
		if (!antn[i])
			continue;
		fprintf(f, "%s{\"antenna\":%lld,\"flagged_fraction\":%.6f}", first ? "" : ",",
		    (long long)h->antenna_numbers[i], frac(ant[i], antn[i]));
		first = 0;
	}
	fputs("],\"channels_flagged_fraction\":[", f);
	for (int i = 0; i < nf; i++)
		fprintf(f, "%s%.6f", i ? "," : "", frac(ch[i], (long long)nb * nt * np));
	fprintf(f, "],\"baselines_worst\":[");
	for (int i = 0; i < nb && i < top; i++)
		fprintf(f, "%s{\"ant_1\":%lld,\"ant_2\":%lld,\"flagged_fraction\":%.6f}", i ? "," : "",
		    (long long)h->antenna_numbers[d->a1[bl[i].b]],
		    (long long)h->antenna_numbers[d->a2[bl[i].b]], bl[i].f);
	fputs("],\"provenance\":", f);
	fputs(prov_json() ? prov_json() : "null", f);
	fputs("}\n", f);
	free(ant);
	free(antn);
	free(ch);
	free(bl);
	if (ferror(f) | fclose(f)) {
		free(*buf);
		return -1;
	}
	return 0;
}

/* Baseline antenna indices and the combined layout check; 0 or -1 with
 * the reason in err (UVH5_ERRLEN bytes, the caller's reader buffer). */
static int layout(const struct uvh5_header *h, int *a1, int *a2, char *err)
{
	int64_t nb = h->Nbls;

	if (nb <= 0 || h->Ntimes <= 0 || h->Nblts != nb * h->Ntimes) {
		snprintf(err, UVH5_ERRLEN, "Nblts %lld is not Nbls x Ntimes (%lld x %lld)",
		    (long long)h->Nblts, (long long)nb, (long long)h->Ntimes);
		return -1;
	}
	for (int64_t b = 0; b < nb; b++) {
		a1[b] = a2[b] = -1;
		for (int64_t i = 0; i < h->Nants_telescope; i++) {
			if (h->antenna_numbers[i] == h->ant_1_array[b])
				a1[b] = (int)i;
			if (h->antenna_numbers[i] == h->ant_2_array[b])
				a2[b] = (int)i;
		}
		if (a1[b] < 0 || a2[b] < 0) {
			snprintf(err, UVH5_ERRLEN, "baseline %lld: antenna not in the antenna list",
			    (long long)b);
			return -1;
		}
	}
	for (int64_t r = 0; r < h->Nblts; r++) {
		int64_t b = r % nb, t0 = r - b;
		if (h->ant_1_array[r] != h->ant_1_array[b] || h->ant_2_array[r] != h->ant_2_array[b] ||
		    h->time_array[r] != h->time_array[t0]) {
			snprintf(err, UVH5_ERRLEN, "rows are not in time blocks of the same %lld "
			    "baselines (row %lld)", (long long)nb, (long long)r);
			return -1;
		}
	}
	return 0;
}

static int out_header(struct uvh5_header *oh, const struct uvh5_header *h,
    const struct flag_opts *o, double fr)
{
	char line[1024];
	const char *base = strrchr(o->strategy, '/');

	if (uvh5_header_copy(oh, h) < 0)
		return -1;
	base = base ? base + 1 : o->strategy;
	snprintf(line, sizeof line, "uvm-flag: AOFlagger %s, strategy '%s'; flagged fraction %.4f.",
	    aoflag_version(), base, fr);
	if (uvh5_header_add_history(oh, line) < 0)
		return -1;
	snprintf(line, sizeof line, "%.6f", fr);
	if (uvh5_header_set_keyword(oh, "flag_strategy", base) < 0 ||
	    uvh5_header_set_keyword(oh, "flagged_fraction", line) < 0)
		return -1;
	return 0;
}

int flag_run(const struct flag_opts *o, struct flag_timing *tm, char *err)
{
	struct flag_timing tdummy;
	struct flag_data d;
	struct flag_ants a;
	struct uvh5_header oh;
	struct counts c;
	const struct uvh5_header *h;
	uvh5_file *f = NULL;
	uvh5_writer *w = NULL;
	float complex *vis = NULL;
	uint8_t *flags = NULL, *badchan = NULL, *badtime = NULL, *skip = NULL;
	float *amp = NULL;
	int64_t blk;
	int *a1 = NULL, *a2 = NULL;
	char e[UVH5_ERRLEN], *rep = NULL;
	size_t replen = 0, rowlen, n;
	int s = 0, rc = 0;
	double t0;

	if (!tm)
		tm = &tdummy;
	memset(tm, 0, sizeof *tm);
	memset(&a, 0, sizeof a);
	memset(&oh, 0, sizeof oh);
	memset(&c, 0, sizeof c);
	t0 = now();
	f = uvh5_open(o->in, &s, e);
	if (!f) {
		snprintf(err, FLAG_ERRLEN, "%s", e);
		return s ? s : EX_DATAERR;
	}
	h = uvh5_header(f);
	a1 = malloc(sizeof(int) * (size_t)(h->Nbls > 0 ? h->Nbls : 1));
	a2 = malloc(sizeof(int) * (size_t)(h->Nbls > 0 ? h->Nbls : 1));
	if (!a1 || !a2) {
		snprintf(err, FLAG_ERRLEN, "out of memory");
		rc = EX_SOFTWARE;
		goto out;
	}
	if (layout(h, a1, a2, e) < 0) {
		snprintf(err, FLAG_ERRLEN, "'%s': %s", o->in, e);
		rc = EX_DATAERR;
		goto out;
	}
	rowlen = (size_t)h->Nfreqs * h->Npols;
	n = (size_t)h->Nblts * rowlen;
	blk = (2L << 20) / (long)(rowlen * sizeof *vis);
	if (blk > h->Nbls)
		blk = h->Nbls;
	if (blk < 1)
		blk = 1;
	vis = malloc(sizeof *vis * (size_t)blk * rowlen);
	amp = malloc(sizeof *amp * n);
	flags = malloc(n);
	badchan = calloc((size_t)h->Nfreqs, 1);
	badtime = calloc((size_t)h->Ntimes, 1);
	skip = calloc((size_t)h->Nants_telescope, 1);
	if (!vis || !amp || !flags || !badchan || !badtime || !skip) {
		snprintf(err, FLAG_ERRLEN, "out of memory (%zu MB for the group)",
		    n * 5 >> 20);
		rc = EX_SOFTWARE;
		goto out;
	}
	for (int64_t r0 = 0; r0 < h->Nblts; r0 += blk) {
		int64_t nr = h->Nblts - r0 < blk ? h->Nblts - r0 : blk;
		uint8_t *fl = flags + (size_t)r0 * rowlen;
		float *am = amp + (size_t)r0 * rowlen;

		if (uvh5_read_rows(f, r0, nr, vis, fl, NULL, &s, e) < 0) {
			snprintf(err, FLAG_ERRLEN, "%s", e);
			rc = s ? s : EX_IOERR;
			goto out;
		}
		for (size_t i = 0; i < (size_t)nr * rowlen; i++) {
			if (!isfinite(crealf(vis[i])) || !isfinite(cimagf(vis[i]))) {
				fl[i] = 1;
				am[i] = NAN;
			} else {
				/* cabsf's value (glibc's hypotf: the double sum
				 * of squares, rounded once), without its call */
				double re = crealf(vis[i]), im = cimagf(vis[i]);

				am[i] = (float)sqrt(re * re + im * im);
			}
		}
	}
	tm->read_s = now() - t0;

	t0 = now();
	d.nants = (int)h->Nants_telescope;
	d.nbls = (int)h->Nbls;
	d.ntimes = (int)h->Ntimes;
	d.nfreq = (int)h->Nfreqs;
	d.npol = (int)h->Npols;
	d.a1 = a1;
	d.a2 = a2;
	d.amp = amp;
	d.flags = flags;
	d.nthreads = o->nthreads;
	c.total = (long long)n;
	c.input = count_flags(flags, n);
	if (flag_antennas(&d, &a) < 0) {
		snprintf(err, FLAG_ERRLEN, "out of memory");
		rc = EX_SOFTWARE;
		goto out;
	}
	for (int i = 0; i < d.nants; i++)
		skip[i] = a.dead[i] | a.bad[i];
	/* channels and integrations from the good antennas only */
	if (flag_channels(&d, skip, badchan, badtime) < 0) {
		snprintf(err, FLAG_ERRLEN, "out of memory");
		rc = EX_SOFTWARE;
		goto out;
	}
	for (int t = 0; t < d.ntimes; t++)
		for (int b = 0; b < d.nbls; b++)
			if (skip[a1[b]] || skip[a2[b]])
				memset(flags + ((size_t)t * d.nbls + b) * rowlen, 1, rowlen);
	c.ants = count_flags(flags, n);
	for (int t = 0; t < d.ntimes; t++)
		for (int b = 0; b < d.nbls; b++) {
			uint8_t *fl = flags + ((size_t)t * d.nbls + b) * rowlen;
			if (badtime[t]) {
				memset(fl, 1, rowlen);
				continue;
			}
			for (int fch = 0; fch < d.nfreq; fch++)
				if (badchan[fch])
					memset(fl + (size_t)fch * d.npol, 1, (size_t)d.npol);
		}
	c.chans = count_flags(flags, n);
	tm->stats_s = now() - t0;

	t0 = now();
	if (flag_aoflagger(&d, skip, o->strategy, o->nthreads, e) < 0) {
		snprintf(err, FLAG_ERRLEN, "'%s': %s", o->strategy, e);
		rc = strstr(e, "memory") ? EX_SOFTWARE : EX_UNAVAILABLE;
		goto out;
	}
	c.aoflagger = c.final = count_flags(flags, n);
	tm->aoflagger_s = now() - t0;

	t0 = now();
	if (o->report) {
		if (report_json(o, h, &d, &a, badchan, badtime, &c, &rep, &replen) < 0) {
			snprintf(err, FLAG_ERRLEN, "out of memory");
			rc = EX_SOFTWARE;
			goto out;
		}
		if (fsx_write_file(o->report, rep, replen, 0644) < 0) {
			snprintf(err, FLAG_ERRLEN, "cannot write '%s': %s", o->report, strerror(errno));
			rc = fsx_exit_for_errno(errno);
			goto out;
		}
	}
	if (frac(c.final, c.total) > o->max_fraction) {
		snprintf(err, FLAG_ERRLEN, "'%s': %.1f%% of the samples flagged, more than the "
		    "%.1f%% allowed", o->in, 100 * frac(c.final, c.total), 100 * o->max_fraction);
		rc = UVM_EX_OVERFLAGGED;
		goto out;
	}
	if (out_header(&oh, h, o, frac(c.final, c.total)) < 0) {
		snprintf(err, FLAG_ERRLEN, "out of memory");
		rc = EX_SOFTWARE;
		goto out;
	}
	w = uvh5_create(o->out, &oh, blk, &s, e);
	if (!w) {
		snprintf(err, FLAG_ERRLEN, "%s", e);
		rc = s ? s : EX_CANTCREAT;
		goto out;
	}
	if (flag_write(f, w, flags, o->nthreads, &s, e) < 0) {
		snprintf(err, FLAG_ERRLEN, "%s", e);
		rc = s ? s : EX_IOERR;
		goto out;
	}
	if (uvh5_writer_commit(w, &s, e) < 0) {
		snprintf(err, FLAG_ERRLEN, "%s", e);
		rc = s ? s : EX_IOERR;
	}
	w = NULL;
	tm->write_s = now() - t0;
out:
	if (w)
		uvh5_writer_abort(w);
	uvh5_header_free(&oh);
	uvh5_close(f);
	flag_ants_free(&a);
	free(rep);
	free(vis);
	free(amp);
	free(flags);
	free(badchan);
	free(badtime);
	free(skip);
	free(a1);
	free(a2);
	return rc;
}
