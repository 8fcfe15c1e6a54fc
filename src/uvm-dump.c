/*
 * uvm-dump: print a UVH5 file's header as key=value lines and, with -d,
 * checksums of its data (flag count, sum of |vis| over unflagged samples,
 * sum of nsamples), read one block of rows at a time.
 *
 * It is the project's window on what the UVH5 reader sees: the
 * conformance tests compare its output with h5dump's for real files, and
 * a person can diff two dumps. Values: integers in decimal, floats with
 * %.17g (exact round trip), strings as stored with \\, \n, \t and other
 * control characters escaped.
 *
 * Exit: 0 ok, 64 usage, 65 not a (valid) UVH5 file, 66 file missing,
 * 74 read error (including a directory or an unreadable file, and a
 * failed write of stdout).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "uvh5/uvh5.h"
#include "core/uvm.h"

#define USAGE "uvm-dump [-d] file"

/* Print s with control characters and backslashes escaped. */
static void put_escaped(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\')
			fputs("\\\\", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static void kv_str(const char *key, const char *val)
{
	printf("%s=", key);
	put_escaped(val);
	putchar('\n');
}

static void dump_header(const struct uvh5_header *h)
{
	int64_t k;
	int i;

	kv_str("version", h->version);
	printf("data_ndim=%d\n", h->data_ndim);
	printf("vistype=%s\n", uvh5_vistype_name(h->vistype));
	printf("Nants_data=%lld\n", (long long)h->Nants_data);
	printf("Nants_telescope=%lld\n", (long long)h->Nants_telescope);
	printf("Nbls=%lld\n", (long long)h->Nbls);
	printf("Nblts=%lld\n", (long long)h->Nblts);
	printf("Nfreqs=%lld\n", (long long)h->Nfreqs);
	printf("Npols=%lld\n", (long long)h->Npols);
	printf("Ntimes=%lld\n", (long long)h->Ntimes);
	printf("Nspws=%lld\n", (long long)h->Nspws);
	printf("Nphase=%lld\n", (long long)h->Nphase);
	printf("flex_spw=%d\n", h->flex_spw);
	kv_str("telescope_name", h->telescope_name);
	kv_str("instrument", h->instrument);
	kv_str("object_name", h->object_name);
	kv_str("x_orientation", h->x_orientation);
	kv_str("phase_type", h->phase_type);
	kv_str("vis_units", h->vis_units);
	printf("latitude=%.17g\n", h->latitude);
	printf("longitude=%.17g\n", h->longitude);
	printf("altitude=%.17g\n", h->altitude);
	printf("freq_first=%.17g\n", h->freq_array[0]);
	printf("freq_last=%.17g\n", h->freq_array[h->Nfreqs - 1]);
	printf("channel_width_first=%.17g\n", h->channel_width[0]);
	printf("spw_array=");
	for (k = 0; k < h->Nspws; k++)
		printf("%s%lld", k ? "," : "", (long long)h->spw_array[k]);
	printf("\npolarization_array=");
	for (k = 0; k < h->Npols; k++)
		printf("%s%lld", k ? "," : "", (long long)h->polarization_array[k]);
	printf("\npolarizations=");
	for (k = 0; k < h->Npols; k++)
		printf("%s%s", k ? "," : "", uvh5_pol_name(h->polarization_array[k]));
	printf("\ntime_first=%.17g\n", h->time_array[0]);
	printf("time_last=%.17g\n", h->time_array[h->Nblts - 1]);
	printf("antenna_first=%lld ", (long long)h->antenna_numbers[0]);
	put_escaped(h->antenna_names[0]);
	printf("\nhistory_length=%zu\n", strlen(h->history));
	printf("n_phase_centers=%d\n", h->n_phase_centers);
	for (i = 0; i < h->n_phase_centers; i++) {
		const struct uvh5_phase_center *p = &h->phase_centers[i];

		printf("phase_center.%d.name=", p->id);
		put_escaped(p->name);
		printf("\nphase_center.%d.type=", p->id);
		put_escaped(p->type);
		printf("\nphase_center.%d.lon=%.17g\n", p->id, p->lon);
		printf("phase_center.%d.lat=%.17g\n", p->id, p->lat);
		printf("phase_center.%d.epoch=%.17g\n", p->id, p->epoch);
		printf("phase_center.%d.frame=", p->id);
		put_escaped(p->frame);
		putchar('\n');
	}
	printf("n_extra_keywords=%d\n", h->n_keywords);
	for (i = 0; i < h->n_keywords; i++) {
		printf("extra.%s=", h->keywords[i].name);
		put_escaped(h->keywords[i].value);
		putchar('\n');
	}
	{
		static const char *kind[] = { "zenith", "meridian", "fixed" };
		char why[256];
		double ra, dec;
		int pk = uvh5_pointing(h, &ra, &dec, why, sizeof why);

		printf("pointing=%s\n", pk < 0 ? "unknown" : kind[pk]);
		if (pk >= 0)
			printf("pointing_dec_deg=%.10g\n", dec * 180 / M_PI);
		printf("phase_center_app_dec=%s\n", !h->phase_center_app_dec ? "absent" :
		    h->app_dec_scalar ? "scalar" : "per-row");
	}
}

/* Read all data by blocks of Nbls rows (at most 2^16 samples, which stay
 * in the L2 cache between the read and the sums) and print
 * checksums; exit status. */
static int dump_data(uvh5_file *f, const char *path)
{
	const struct uvh5_header *h = uvh5_header(f);
	int64_t per = h->Nfreqs * h->Npols, block = h->Nbls, row, n, i;
	long long nflag = 0, nonfinite = 0;
	double vsum = 0, nsum = 0;
	float complex *vis;
	uint8_t *flags;
	float *ns;
	int status = 0;
	char err[UVH5_ERRLEN];

	if (block > ((int64_t)1 << 16) / per)
		block = ((int64_t)1 << 16) / per;
	if (block < 1)
		block = 1;
	if (block > h->Nblts)
		block = h->Nblts;
	vis = malloc((size_t)(block * per) * sizeof *vis);
	flags = malloc((size_t)(block * per));
	ns = malloc((size_t)(block * per) * sizeof *ns);
	if (!vis || !flags || !ns) {
		log_err("cannot read '%s': out of memory", path);
		status = EX_OSERR;
		goto done;
	}
	for (row = 0; row < h->Nblts; row += n) {
		n = h->Nblts - row < block ? h->Nblts - row : block;
		if (uvh5_read_rows(f, row, n, vis, flags, ns, &status, err) < 0) {
			log_err("%s", err);
			goto done;
		}
		for (i = 0; i < n * per; i++) {
			nsum += ns[i];
			double re = crealf(vis[i]), im = cimagf(vis[i]), a;

			if (flags[i]) {
				nflag++;
				continue;
			}
			/* |v| in double: exact enough, and much cheaper than hypotf. */
			a = sqrt(re * re + im * im);
			if (isfinite(a))
				vsum += a;
			else
				nonfinite++;
		}
	}
	printf("flag_count=%lld\n", nflag);
	printf("vis_abs_sum=%.17g\n", vsum);
	printf("nonfinite_count=%lld\n", nonfinite);
	printf("nsamples_sum=%.17g\n", nsum);
done:
	free(vis);
	free(flags);
	free(ns);
	return status;
}

int main(int argc, char **argv)
{
	int c, data = 0, status = 0, st;
	char err[UVH5_ERRLEN];
	uvh5_file *f;

	prog_start(argc, argv, USAGE);
	while ((c = getopt(argc, argv, "d")) != -1) {
		if (c == 'd')
			data = 1;
		else
			return log_usage(USAGE);
	}
	if (argc - optind != 1)
		return log_usage(USAGE);
	f = uvh5_open(argv[optind], &status, err);
	if (!f) {
		log_err("%s", err);
		return status;
	}
	dump_header(uvh5_header(f));
	if (data)
		status = dump_data(f, argv[optind]);
	uvh5_close(f);
	st = fsx_close_stdout();
	return status ? status : st;
}
