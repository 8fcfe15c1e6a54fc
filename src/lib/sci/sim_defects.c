/*
 * sim_defects.c: inject RFI, dead and bad antennas, delays and bandpass
 * ripple into the simulated stream, and record them in the truth file
 * (contract in sim_defects.h).
 *
 * Every draw comes from streams of the seed separate from the model's
 * (stream ids from 2^40 up), so turning defects on leaves the sky, gains
 * and noise unchanged, and a block's defects depend only on (seed, group,
 * integration, subband): the output is the same whatever the order of
 * computation.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/uvm.h"
#include "sci/sim_defects.h"

#define STREAM(k) ((1ULL << 40) + (k))

static int ant_list(const char *v, int *list, int *n, char *err)
{
	char *end;
	long a;

	errno = 0;
	a = strtol(v, &end, 10);
	if (errno || end == v || *end || a < 0 || a > 100000 || *n >= SIM_DFX_MAXANT) {
		snprintf(err, SIM_ERRLEN, "bad antenna '%s' in defects", v);
		return -1;
	}
	list[(*n)++] = (int)a;
	return 0;
}

int sim_defects_parse(const char *spec, struct sim_defects *d, char *err)
{
	char *dup = strdup(spec), *save = NULL;
	int rc = 0;

	memset(d, 0, sizeof *d);
	if (!dup) {
		snprintf(err, SIM_ERRLEN, "out of memory");
		return -1;
	}
	for (char *w = strtok_r(dup, ",", &save); w && !rc; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "rfi"))
			d->rfi = 1;
		else if (!strcmp(w, "delays"))
			d->delays = 1;
		else if (!strcmp(w, "ripple"))
			d->ripple = 1;
		else if (!strcmp(w, "all")) {
			d->rfi = d->delays = d->ripple = 1;
			if (!d->ndead)
				d->dead[d->ndead++] = 1;
			if (!d->nbad)
				d->bad[d->nbad++] = 2;
		} else if (!strncmp(w, "dead=", 5))
			rc = ant_list(w + 5, d->dead, &d->ndead, err);
		else if (!strncmp(w, "bad=", 4))
			rc = ant_list(w + 4, d->bad, &d->nbad, err);
		else {
			snprintf(err, SIM_ERRLEN, "unknown defect '%s'", w);
			rc = -1;
		}
	}
	free(dup);
	return rc;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int sim_defects_init(struct sim *s, struct sim_defects *d, char *err)
{
	int na = s->o.nants, nf = s->nfreq, nt = s->o.ntimes, ng = s->o.ngroups;
	struct sim_rng r;

	for (int i = 0; i < d->ndead + d->nbad; i++) {
		int a = i < d->ndead ? d->dead[i] : d->bad[i - d->ndead];
		if (a >= na) {
			snprintf(err, SIM_ERRLEN, "defect antenna %d: only %d antennas", a, na);
			return EX_USAGE;
		}
	}
	d->isdead = calloc((size_t)na, 1);
	d->isbad = calloc((size_t)na, 1);
	d->coup = calloc((size_t)na, sizeof *d->coup);
	d->nchan_rfi = d->rfi ? (nf >= 200 ? nf / 100 : 1 + (nf >= 32)) : 0;
	d->chan = calloc((size_t)d->nchan_rfi + 1, sizeof *d->chan);
	d->chan_jy = calloc((size_t)d->nchan_rfi + 1, sizeof *d->chan_jy);
	d->burst_t = calloc((size_t)ng, sizeof *d->burst_t);
	d->burst_jy = calloc((size_t)ng, sizeof *d->burst_jy);
	int nev_per = d->rfi ? (s->nbls >= 400 ? s->nbls / 200 : 2) : 0;
	d->ev = calloc((size_t)ng * nev_per + 1, sizeof *d->ev);
	if (!d->isdead || !d->isbad || !d->coup || !d->chan || !d->chan_jy ||
	    !d->burst_t || !d->burst_jy || !d->ev) {
		snprintf(err, SIM_ERRLEN, "out of memory");
		return EX_OSERR;
	}
	for (int i = 0; i < d->ndead; i++)
		d->isdead[d->dead[i]] = 1;
	for (int i = 0; i < d->nbad; i++)
		d->isbad[d->bad[i]] = 1;

	sim_rng_seed(&r, s->o.seed, STREAM(0), 0, 0);
	for (int a = 0; a < na; a++) {
		double amp = 0.7 + 0.6 * sim_rng_uniform(&r), ph = 2 * M_PI * sim_rng_uniform(&r);
		d->coup[a] = amp * cexp(I * ph);
	}
	/* Narrowband channels: distinct, away from the band edges. */
	for (int i = 0; i < d->nchan_rfi; i++) {
		int j, dup;
		do {
			j = 2 + (int)(sim_rng_uniform(&r) * (nf - 4 > 1 ? nf - 4 : 1));
			dup = 0;
			for (int k = 0; k < i; k++)
				dup |= d->chan[k] == j;
		} while (dup && nf > d->nchan_rfi + 4);
		d->chan[i] = j;
		d->chan_jy[i] = 40 * pow(10, sim_rng_uniform(&r));   /* 40-400 Jy */
	}
	qsort(d->chan, (size_t)d->nchan_rfi, sizeof *d->chan, cmp_int);
	for (int g = 0; g < ng && d->rfi; g++) {
		d->burst_t[g] = (int)(sim_rng_uniform(&r) * nt);
		d->burst_jy[g] = 20 + 80 * sim_rng_uniform(&r);      /* 20-100 Jy */
		for (int e = 0; e < nev_per; e++) {
			struct sim_dfx_event *ev = &d->ev[d->nev];
			int b, len, w, tries = 0;
			do {
				b = (int)(sim_rng_uniform(&r) * s->nbls);
			} while ((s->a1[b] == s->a2[b] || d->isdead[s->a1[b]] || d->isdead[s->a2[b]] ||
			    d->isbad[s->a1[b]] || d->isbad[s->a2[b]]) && ++tries < 1000);
			if (tries >= 1000)
				break;
			len = 2 + (int)(sim_rng_uniform(&r) * 5);
			if (len > nt)
				len = nt;
			w = 5 + (int)(sim_rng_uniform(&r) * 36);
			if (w > nf)
				w = nf;
			ev->group = g;
			ev->bl = b;
			ev->t0 = (int)(sim_rng_uniform(&r) * (nt - len + 1));
			ev->t1 = ev->t0 + len;
			ev->j0 = (int)(sim_rng_uniform(&r) * (nf - w + 1));
			ev->j1 = ev->j0 + w;
			ev->power_jy = 30 + 120 * sim_rng_uniform(&r);   /* 30-150 Jy */
			d->nev++;
		}
	}
	/* Delays and ripple go into the model gains. */
	sim_rng_seed(&r, s->o.seed, STREAM(1), 0, 0);
	int nbig = na >= 32 ? na / 32 : 1;
	for (int a = 0; a < na; a++)
		for (int p = 0; p < 2; p++) {
			struct sim_gain *g = &s->gain[2 * a + p];
			double n1 = sim_rng_normal(&r), u1 = sim_rng_uniform(&r);
			double u2 = sim_rng_uniform(&r), u3 = sim_rng_uniform(&r);
			double u4 = sim_rng_uniform(&r);
			if (d->delays) {
				g->tau_s = 30e-9 * n1;
				if (a % (na / nbig > 0 ? na / nbig : 1) == na / (2 * nbig))
					g->tau_s = (u1 < 0.5 ? -1 : 1) * (0.5e-6 + 1.5e-6 * u2);
			}
			if (d->ripple) {
				g->ripple = 0.05 + 0.15 * u3;
				g->period_hz = 3e6 + 9e6 * u4;
			}
		}
	s->dfx = d;
	return 0;
}

void sim_defects_free(struct sim_defects *d)
{
	free(d->isdead);
	free(d->isbad);
	free(d->coup);
	free(d->chan);
	free(d->chan_jy);
	free(d->burst_t);
	free(d->burst_jy);
	free(d->ev);
	memset(d, 0, sizeof *d);
}

/* Add RFI of power p and phase ph to baseline b's sample (both pols). */
static void add_rfi(const struct sim *s, const struct sim_defects *d, int b,
    float complex *v, double p, double ph)
{
	int a1 = s->a1[b], a2 = s->a2[b];
	double complex x = a1 == a2 ? p * cabs(d->coup[a1]) * cabs(d->coup[a1])
	    : p * d->coup[a1] * conj(d->coup[a2]) * cexp(I * ph);

	for (int q = 0; q < s->npol; q++)
		v[q] += (float complex)x;
}

void sim_defects_apply(const struct sim *s, int gi, int t, int sb, float complex *out)
{
	const struct sim_defects *d = s->dfx;
	int nc = s->o.nchan, np = s->npol, j0 = sb * nc;
	struct sim_rng r;

	if (!d)
		return;
	sim_rng_seed(&r, s->o.seed, STREAM(2 + (uint64_t)gi), (uint64_t)t, (uint64_t)sb);
	if (d->rfi) {
		for (int i = 0; i < d->nchan_rfi; i++) {
			int c = d->chan[i] - j0;
			if (c < 0 || c >= nc)
				continue;
			double ph = 2 * M_PI * sim_rng_uniform(&r);
			for (int b = 0; b < s->nbls; b++)
				add_rfi(s, d, b, out + ((size_t)b * nc + c) * np, d->chan_jy[i], ph);
		}
		if (d->burst_t[gi] == t)
			for (int c = 0; c < nc; c++) {
				double ph = 2 * M_PI * sim_rng_uniform(&r);
				double p = d->burst_jy[gi] * (0.5 + sim_rng_uniform(&r));
				for (int b = 0; b < s->nbls; b++)
					add_rfi(s, d, b, out + ((size_t)b * nc + c) * np, p, ph);
			}
		for (int e = 0; e < d->nev; e++) {
			const struct sim_dfx_event *ev = &d->ev[e];
			if (ev->group != gi || t < ev->t0 || t >= ev->t1)
				continue;
			for (int c = 0; c < nc; c++) {
				if (j0 + c < ev->j0 || j0 + c >= ev->j1)
					continue;
				double ph = 2 * M_PI * sim_rng_uniform(&r);
				double p = ev->power_jy * (0.5 + sim_rng_uniform(&r));
				add_rfi(s, d, ev->bl, out + ((size_t)ev->bl * nc + c) * np, p, ph);
			}
		}
	}
	if (!d->ndead && !d->nbad)
		return;
	double sig = 20 * (s->o.noise_jy > 0 ? s->o.noise_jy : 1) / sqrt(2);
	for (int b = 0; b < s->nbls; b++) {
		int a1 = s->a1[b], a2 = s->a2[b];
		float complex *v = out + (size_t)b * nc * np;
		if (d->isdead[a1] || d->isdead[a2]) {
			memset(v, 0, sizeof *v * (size_t)nc * np);
		} else if (d->isbad[a1] || d->isbad[a2]) {
			for (int k = 0; k < nc * np; k++) {
				if (a1 == a2)
					v[k] = (float)(SIM_SEFD_JY * exp(0.5 * sim_rng_normal(&r)));
				else
					v[k] = (float)(sig * sim_rng_normal(&r)) +
					    I * (float)(sig * sim_rng_normal(&r));
			}
		}
	}
}

/* A list of antennas (indices into the simulated array) by the numbers
 * the files give them (ant_1_array, antenna_numbers). */
static void ants(FILE *f, const struct sim *s, const char *key, const int *v, int n)
{
	fprintf(f, "\"%s\":[", key);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%d", i ? "," : "", s->ant_num[v[i]]);
	fputc(']', f);
}

void sim_defects_truth(const struct sim *s, FILE *f)
{
	const struct sim_defects *d = s->dfx;
	int nf = s->nfreq;

	if (!d)
		return;
	fputs(",\"defects\":{\"mask_convention\":\"RFI samples of a combined group, both"
	    " polarizations: channel indices ascending in frequency (0 = lowest), integration"
	    " index within the group, ranges half-open [a, b); rfi_channels: every integration"
	    " of every group, every baseline (autos included); rfi_bursts: one integration of"
	    " one group, every channel and baseline; rfi_baselines: one baseline (ant_1, ant_2:"
	    " antenna numbers as in the files, either order), antennas: numbers as in the files;"
	    " a block of integrations x channels; samples of dead or bad antennas are not in"
	    " the mask\",", f);
	fprintf(f, "\"rfi\":%s,\"delays\":%s,\"ripple\":%s,", d->rfi ? "true" : "false",
	    d->delays ? "true" : "false", d->ripple ? "true" : "false");
	ants(f, s, "dead_antennas", d->dead, d->ndead);
	fputc(',', f);
	ants(f, s, "bad_antennas", d->bad, d->nbad);
	fputs(",\"rfi_channels\":[", f);
	for (int i = d->nchan_rfi - 1, k = 0; i >= 0; i--, k++)
		fprintf(f, "%s{\"channel\":%d,\"power_jy\":%.6g}", k ? "," : "",
		    nf - 1 - d->chan[i], d->chan_jy[i]);
	fputs("],\"rfi_bursts\":[", f);
	for (int g = 0; g < s->o.ngroups && d->rfi; g++)
		fprintf(f, "%s{\"group\":%d,\"time\":%d,\"power_jy\":%.6g}", g ? "," : "", g,
		    d->burst_t[g], d->burst_jy[g]);
	fputs("],\"rfi_baselines\":[", f);
	for (int e = 0; e < d->nev; e++) {
		const struct sim_dfx_event *ev = &d->ev[e];
		fprintf(f, "%s{\"group\":%d,\"ant_1\":%d,\"ant_2\":%d,\"time0\":%d,\"time1\":%d,"
		    "\"chan0\":%d,\"chan1\":%d,\"power_jy\":%.6g}", e ? "," : "", ev->group,
		    s->ant_num[s->a1[ev->bl]], s->ant_num[s->a2[ev->bl]], ev->t0, ev->t1, nf - ev->j1, nf - ev->j0,
		    ev->power_jy);
	}
	fputs("]}", f);
}
