/*
 * sim_run.c: write the simulated stream the way the DSA-110 correlator
 * does, inject faults, and write the truth file (contract in sim.h).
 *
 * Per group, every subband file is created as
 * "<dir>/YYYY-MM-DDTHH:MM:SS_sbNN_incomplete.hdf5" (built at an fsx
 * temporary by uvh5_create, so a crash leaves only a *.tmp.<pid>), written
 * one integration at a time from buffers allocated once, then renamed to
 * "<dir>/YYYY-MM-DDTHH:MM:SS_sbNN.hdf5" in the order of the jittered file
 * times. A producer thread computes the visibilities while the main thread
 * writes. Unpaced (-p 0), the files are written and renamed one after the
 * other (one file's HDF5 caches in memory, one *_incomplete at a time);
 * paced, all files of a group are open
 * together and integration i of group g is written when
 * (g * Tgroup + (i + 1) * Tint) / pace seconds have elapsed, as the
 * correlator streams them, and file k is renamed at
 * (g * Tgroup + Tgroup + jitter_k) / pace.
 *
 * Faults (group 0 unless @G):
 *   truncate:SB   the file is cut to half its size
 *   flip:SB       16 bytes are inverted at 40 bytes in (the superblock's
 *                 addresses), at one third and at two thirds of the file
 *   shape:SB      /Header/Nfreqs says nchan + 1; the data keep nchan
 *   nan:SB        three unflagged visibilities of the first cross-
 *                 correlation are NaN in every integration
 *   missing:SB    the subband is not written
 *   late:SB       written after the rest of its group (and, when paced,
 *                 half a group later)
 *   duplicate:SB  a second, identical-data copy with a file time 1 s later
 *   hostile       extra entries in the output directory: names with a
 *                 space, "$(touch pwned)", ';', a newline, a quote, '#',
 *                 an extra ':', a directory named like a subband file, and
 *                 a symlink to /etc/passwd named like a valid subband file
 * On any write failure every temporary and *_incomplete file of the run
 * is removed; complete files already renamed stay.
 */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"
#include "sci/sim.h"
#include "sci/astro.h"
#include "sci/sim_defects.h"
#include "uvh5/uvh5.h"

struct job {
	int sb;
	long name_unix;
	int late, dup, nan, truncate, flip, shape;
	char incomplete[PATH_MAX];
	char final[PATH_MAX];
	uvh5_writer *w;
	int committed;  /* the _incomplete file exists */
};

static int fault_at(const struct sim *s, enum sim_fault_kind k, int gi, int sb)
{
	for (int i = 0; i < s->o.nfaults; i++)
		if (s->o.faults[i].kind == k && s->o.faults[i].group == gi &&
		    (k == SIM_F_HOSTILE || s->o.faults[i].sb == sb))
			return 1;
	return 0;
}

static void stamp(long t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* File name (no directory) of subband sb with file time t. */
static void file_name(long t, int sb, const char *suffix, char *buf, size_t n)
{
	char ts[32];

	stamp(t, ts, sizeof ts);
	snprintf(buf, n, "%s_sb%02d%s.hdf5", ts, sb, suffix);
}

/* Jobs of group gi (missing ones left out, late ones last, a duplicate
 * right after its original); returns their count. */
static int plan_group(const struct sim *s, int gi, struct job *jobs)
{
	const struct sim_group *g = &s->groups[gi];
	int n = 0;

	for (int pass = 0; pass < 2; pass++)
		for (int sb = 0; sb < s->o.nsub; sb++) {
			int late = fault_at(s, SIM_F_LATE, gi, sb);
			if (fault_at(s, SIM_F_MISSING, gi, sb) || late != pass)
				continue;
			for (int dup = 0; dup < 1 + fault_at(s, SIM_F_DUPLICATE, gi, sb); dup++) {
				struct job *j = &jobs[n++];
				char name[128];
				memset(j, 0, sizeof *j);
				j->sb = sb;
				j->late = late;
				j->dup = dup;
				j->name_unix = g->sb_unix[sb] + dup;
				j->nan = fault_at(s, SIM_F_NAN, gi, sb);
				j->truncate = fault_at(s, SIM_F_TRUNCATE, gi, sb);
				j->flip = fault_at(s, SIM_F_FLIP, gi, sb);
				j->shape = fault_at(s, SIM_F_SHAPE, gi, sb);
				file_name(j->name_unix, sb, "_incomplete", name, sizeof name);
				snprintf(j->incomplete, sizeof j->incomplete, "%s/%s", s->o.outdir, name);
				file_name(j->name_unix, sb, "", name, sizeof name);
				snprintf(j->final, sizeof j->final, "%s/%s", s->o.outdir, name);
			}
		}
	return n;
}

/*
 * Header of group gi (all but the frequencies, set per subband). The
 * DSA-110 layouts follow the writer (dsamfs/uvh5_utils.py, LAYOUT.md):
 * 117 stations named "1".."117", numbered 0..116, Nants_data active; the
 * pointing only in extra_keywords (phase_center_dec in radians,
 * ha_phase_center 0, phase_center_epoch 2000) and, since June 2022, the
 * scalar phase_center_app_dec; spw 1; telescope OVRO_MMA, instrument DSA.
 * The UVH5 layout keeps uvm-sim's former header (a catalog entry and the
 * phase_dec_deg/phasing keywords).
 */
static int build_header(const struct sim *s, int gi, struct uvh5_header *h)
{
	int nb = s->nbls, nt = s->o.ntimes, dsa = s->o.layout != SIM_L_UVH5;
	char v[64];

	memset(h, 0, sizeof *h);
	h->Nants_data = s->o.nants;
	h->Nants_telescope = dsa ? SIM_NSTATIONS : s->o.nants;
	h->Nbls = nb;
	h->Nblts = (int64_t)nb * nt;
	h->Nfreqs = s->o.nchan;
	h->Npols = 2;
	h->Ntimes = nt;
	h->Nspws = 1;
	h->Nphase = 1;
	if (uvh5_header_alloc(h) < 0)
		return -1;
	h->phase_center_app_dec = calloc((size_t)h->Nblts, sizeof(double));
	if (!h->phase_center_app_dec)
		return -1;
	if (!dsa) {
		h->phase_center_app_ra = calloc((size_t)h->Nblts, sizeof(double));
		h->phase_center_frame_pa = calloc((size_t)h->Nblts, sizeof(double));
		if (!h->phase_center_app_ra || !h->phase_center_frame_pa)
			return -1;
	}
	h->layout = dsa ? UVH5_LAYOUT_DSA110 : UVH5_LAYOUT_1_2;
	h->app_dec_scalar = s->o.layout == SIM_L_DSA110;
	if (s->o.layout == SIM_L_DSA110_OLD) {
		free(h->phase_center_app_dec);
		h->phase_center_app_dec = NULL;
	}
	snprintf(h->telescope_name, sizeof h->telescope_name, dsa ? "OVRO_MMA" : "DSA-110");
	snprintf(h->instrument, sizeof h->instrument, dsa ? "DSA" : "DSA-110");
	snprintf(h->object_name, sizeof h->object_name, dsa ? "search" : "drift");
	if (!dsa)
		snprintf(h->x_orientation, sizeof h->x_orientation, "east");
	snprintf(h->vis_units, sizeof h->vis_units, "uncalib");
	snprintf(h->phase_type, sizeof h->phase_type, "drift");
	h->latitude = SIM_LAT_DEG;
	h->longitude = SIM_LON_DEG;
	h->altitude = SIM_ALT_M;
	if (dsa) {
		for (int k = 0; k < SIM_NSTATIONS; k++) {
			h->antenna_numbers[k] = k;
			snprintf(h->antenna_names[k], sizeof h->antenna_names[k], "%d", k + 1);
			memcpy(h->antenna_positions + 3 * k, s->st_ecef + 3 * k, 3 * sizeof(double));
			h->antenna_diameters[k] = SIM_DIAM_M;
		}
	} else {
		for (int a = 0; a < s->o.nants; a++) {
			h->antenna_numbers[a] = a;
			snprintf(h->antenna_names[a], sizeof h->antenna_names[a], "ant%03d", a);
			memcpy(h->antenna_positions + 3 * a, s->ecef + 3 * a, 3 * sizeof(double));
			h->antenna_diameters[a] = SIM_DIAM_M;
		}
	}
	for (int t = 0; t < nt; t++) {
		double tc = sim_time(s, gi, t), jd = sim_jd(tc), lst = sim_lst(tc, s->lon);
		for (int b = 0; b < nb; b++) {
			int64_t r = (int64_t)t * nb + b;
			h->ant_1_array[r] = s->ant_num[s->a1[b]];
			h->ant_2_array[r] = s->ant_num[s->a2[b]];
			memcpy(h->uvw_array + 3 * r, s->uvw + 3 * b, 3 * sizeof(double));
			h->time_array[r] = jd;
			h->lst_array[r] = lst;
			h->integration_time[r] = SIM_TINT_S;
			h->phase_center_id_array[r] = 0;
			if (h->phase_center_app_dec)
				h->phase_center_app_dec[r] = s->dec;
			if (!dsa) {
				h->phase_center_app_ra[r] = lst;
				h->phase_center_frame_pa[r] = 0;
			}
		}
	}
	for (int k = 0; k < s->o.nchan; k++) {
		h->channel_width[k] = s->chan_width;
		h->flex_spw_id_array[k] = dsa ? 1 : 0;
	}
	h->spw_array[0] = dsa ? 1 : 0;
	h->polarization_array[0] = -5;
	h->polarization_array[1] = -6;
	h->phase_centers[0].id = 0;
	snprintf(h->phase_centers[0].name, sizeof h->phase_centers[0].name, "drift");
	snprintf(h->phase_centers[0].type, sizeof h->phase_centers[0].type, "unprojected");
	h->phase_centers[0].lon = 0;
	h->phase_centers[0].lat = s->dec;
	if (dsa) {
		snprintf(v, sizeof v, "%.17g", s->dec);
		if (uvh5_header_set_keyword(h, "phase_center_dec", v) < 0 ||
		    uvh5_header_set_keyword(h, "ha_phase_center", "0.0") < 0 ||
		    uvh5_header_set_keyword(h, "phase_center_epoch", "2000") < 0)
			return -1;
	} else {
		snprintf(v, sizeof v, "%.17g", s->o.dec_deg);
		if (uvh5_header_set_keyword(h, "phase_dec_deg", v) < 0 ||
		    uvh5_header_set_keyword(h, "phasing", "meridian") < 0)
			return -1;
	}
	if (uvh5_header_set_keyword(h, "group_id", s->groups[gi].id) < 0)
		return -1;
	snprintf(v, sizeof v, "%llu", (unsigned long long)s->o.seed);
	if (uvh5_header_set_keyword(h, "sim_seed", v) < 0)
		return -1;
	return 0;
}

static int set_subband(const struct sim *s, struct uvh5_header *h, int gi, int sb)
{
	char hist[256];

	for (int k = 0; k < s->o.nchan; k++)
		h->freq_array[k] = s->freq[sb * s->o.nchan + k];
	snprintf(hist, sizeof hist, "simulated by uvm-sim: seed %llu, group %s, subband %d\n",
	    (unsigned long long)s->o.seed, s->groups[gi].id, sb);
	free(h->history);
	h->history = strdup(hist);
	return h->history ? 0 : -1;
}

/* Sleep until `at` seconds after the monotonic instant w0. */
static void sleep_until(const struct timespec *w0, double at)
{
	struct timespec ts = *w0;
	double fl = floor(at);

	ts.tv_sec += (time_t)fl;
	ts.tv_nsec += (long)((at - fl) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Invert n bytes at off. 0 or -1. */
static int flip_at(int fd, off_t off, size_t n)
{
	unsigned char b[16];

	if (n > sizeof b)
		n = sizeof b;
	if (pread(fd, b, n, off) != (ssize_t)n)
		return -1;
	for (size_t i = 0; i < n; i++)
		b[i] ^= 0xff;
	return pwrite(fd, b, n, off) == (ssize_t)n ? 0 : -1;
}

/* Apply the file-level faults of j to its complete _incomplete file. */
static int damage(const struct sim *s, const struct job *j)
{
	struct stat st;
	int fd, rc = 0;

	if (j->shape) {
		hid_t f = H5Fopen(j->incomplete, H5F_ACC_RDWR, H5P_DEFAULT), d = -1;
		int64_t v = s->o.nchan + 1;
		if (f >= 0)
			d = H5Dopen2(f, "/Header/Nfreqs", H5P_DEFAULT);
		if (d < 0 || H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0)
			rc = -1;
		if (d >= 0)
			H5Dclose(d);
		if (f >= 0 && H5Fclose(f) < 0)
			rc = -1;
		if (rc < 0) {
			errno = EIO;
			return -1;
		}
	}
	if (!j->truncate && !j->flip)
		return 0;
	fd = open(j->incomplete, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		rc = -1;
	if (!rc && j->flip &&
	    (flip_at(fd, 40, 16) < 0 || flip_at(fd, st.st_size / 3, 16) < 0 ||
	    flip_at(fd, 2 * (st.st_size / 3), 16) < 0))
		rc = -1;
	if (!rc && j->truncate && ftruncate(fd, st.st_size / 2) < 0)
		rc = -1;
	if (!rc && fsync(fd) < 0)
		rc = -1;
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/* The first file time from t on that no real file of group g uses
 * (duplicates included). */
static long free_time(const struct sim *s, const struct sim_group *g, long t)
{
	for (int again = 1; again;) {
		again = 0;
		for (int sb = 0; sb < s->o.nsub; sb++)
			if (g->sb_unix[sb] == t || g->sb_unix[sb] + 1 == t)
				again = 1;
		if (again)
			t++;
	}
	return t;
}

/* Hostile entries for group gi; the names are recorded into names
 * (newline-separated is ambiguous, so NUL-separated, count in *n). */
static int hostile(const struct sim *s, int gi, char names[][160], int *n)
{
	const struct sim_group *g = &s->groups[gi];
	char ts[32], path[PATH_MAX];
	int sbl = s->o.nsub - 1, fd;
	long t = g->name_unix + 1;

	t = free_time(s, g, t);
	stamp(t, ts, sizeof ts);
	*n = 0;
	snprintf(names[(*n)++], 160, "%s_sb%02d copy.hdf5", ts, 0);
	snprintf(names[(*n)++], 160, "$(touch pwned)_sb%02d.hdf5", 0);
	snprintf(names[(*n)++], 160, "%s_sb%02d.hdf5;touch pwned", ts, 0);
	snprintf(names[(*n)++], 160, "%s\n_sb%02d.hdf5", ts, 0);
	snprintf(names[(*n)++], 160, "%s_sb%02d'\".hdf5", ts, 0);
	snprintf(names[(*n)++], 160, "#%s_sb%02d.hdf5", ts, 0);
	snprintf(names[(*n)++], 160, "%s_sb%02d:x.hdf5", ts, 0);
	for (int i = 0; i < *n; i++) {
		snprintf(path, sizeof path, "%s/%s", s->o.outdir, names[i]);
		if (fsx_write_file(path, "not a uvh5 file\n", 16, 0644) < 0)
			return -1;
	}
	stamp(free_time(s, g, t + 1), ts, sizeof ts);
	snprintf(names[(*n)++], 160, "%s_sb%02d.hdf5", ts, 1 % s->o.nsub);
	snprintf(path, sizeof path, "%s/%s", s->o.outdir, names[*n - 1]);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	stamp(t, ts, sizeof ts);
	snprintf(names[(*n)++], 160, "%s_sb%02d.hdf5", ts, sbl);
	snprintf(path, sizeof path, "%s/%s", s->o.outdir, names[*n - 1]);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		errno = EEXIST;
		return -1;
	}
	unlink(path);
	if (symlink("/etc/passwd", path) < 0)
		return -1;
	return fsx_sync_dir(s->o.outdir);
}

/* Remove what a failed group left: open temporaries, _incomplete files. */
static void cleanup(struct job *jobs, int n)
{
	for (int i = 0; i < n; i++) {
		if (jobs[i].w)
			uvh5_writer_abort(jobs[i].w);
		jobs[i].w = NULL;
		if (jobs[i].committed)
			unlink(jobs[i].incomplete);
		jobs[i].committed = 0;
	}
}

static int cmp_time(const void *a, const void *b)
{
	const struct job *x = *(struct job *const *)a, *y = *(struct job *const *)b;

	if (x->late != y->late)
		return x->late - y->late;
	if (x->name_unix != y->name_unix)
		return x->name_unix < y->name_unix ? -1 : 1;
	return x->sb - y->sb;
}

/*
 * The producer: a thread computing the visibilities of jobs order[lo..hi)
 * for every integration, in the order the writer takes them, into a ring
 * of NSLOT buffers, so that computing overlaps writing (two cores: about
 * half the time each). Only this thread touches the model's work arrays
 * while it runs.
 */
#define NSLOT 3
struct producer {
	struct sim *s;
	int gi, lo, hi, inter;  /* inter: integration-major over the jobs */
	struct job **order;
	float complex **buf;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	long made, taken;
	int stop, started, failed;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	int n = p->hi - p->lo, nt = p->s->o.ntimes;

	for (long k = 0; k < (long)n * nt; k++) {
		int t = p->inter ? (int)(k / n) : (int)(k % nt);
		int i = p->lo + (p->inter ? (int)(k % n) : (int)(k / nt));
		long slot;
		int rc;

		pthread_mutex_lock(&p->mu);
		while (!p->stop && p->made - p->taken >= NSLOT)
			pthread_cond_wait(&p->cv, &p->mu);
		slot = p->made % NSLOT;
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		pthread_mutex_unlock(&p->mu);
		rc = sim_visibilities(p->s, p->gi, t, p->order[i]->sb, p->order[i]->nan,
		    p->buf[slot]);
		if (!rc) /* defects hook (sim_defects.c) */
			sim_defects_apply(p->s, p->gi, t, p->order[i]->sb, p->buf[slot]);
		pthread_mutex_lock(&p->mu);
		if (rc < 0)
			p->failed = 1;
		p->made++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

/* Start the producer; 0 or -1 with errno. */
static int producer_start(struct producer *p)
{
	int e;

	p->made = p->taken = 0;
	p->stop = p->started = p->failed = 0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	e = pthread_create(&p->th, NULL, producer_main, p);
	if (e) {
		errno = e;
		return -1;
	}
	p->started = 1;
	return 0;
}

/* The next buffer in order, once computed; NULL if out of memory. */
static float complex *producer_take(struct producer *p)
{
	float complex *b;

	pthread_mutex_lock(&p->mu);
	while (p->made <= p->taken)
		pthread_cond_wait(&p->cv, &p->mu);
	b = p->failed ? NULL : p->buf[p->taken % NSLOT];
	pthread_mutex_unlock(&p->mu);
	return b;
}

/* Hand the buffer returned by producer_take back for reuse. */
static void producer_release(struct producer *p)
{
	pthread_mutex_lock(&p->mu);
	p->taken++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Stop (early or at the end) and join. */
static void producer_stop(struct producer *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	p->started = 0;
}

/* Hostile names recorded for the truth file. */
struct hostile_rec { int group, n; char names[10][160]; };

static int write_truth(const struct sim *s, const struct hostile_rec *hr, int nhr);

/* Create j's writer (header h for subband j->sb); 0 or an exit status. */
static int open_job(const struct sim *s, struct uvh5_header *h, int gi, struct job *j)
{
	char err[UVH5_ERRLEN];
	int status = 0;

	if (set_subband(s, h, gi, j->sb) < 0) {
		log_err("out of memory");
		return EX_OSERR;
	}
	j->w = uvh5_create(j->incomplete, h, s->nbls, &status, err);
	if (!j->w) {
		log_err("%s", err);
		return status ? status : EX_SOFTWARE;
	}
	return 0;
}

/* Close j's complete file under its _incomplete name; 0 or an exit status. */
static int commit_job(struct job *j)
{
	char err[UVH5_ERRLEN];
	int status = 0, rc = uvh5_writer_commit(j->w, &status, err);

	j->w = NULL;
	if (rc < 0) {
		log_err("%s", err);
		return status ? status : EX_IOERR;
	}
	j->committed = 1;
	return 0;
}

/* Apply j's file faults and rename it to its final name; 0 or a status. */
static int finish_job(const struct sim *s, struct job *j)
{
	if (damage(s, j) < 0) {
		log_err("cannot damage '%s': %s", j->incomplete, strerror(errno));
		return fsx_exit_for_errno(errno);
	}
	if (rename(j->incomplete, j->final) < 0) {
		log_err("cannot rename '%s': %s", j->incomplete, strerror(errno));
		return fsx_exit_for_errno(errno);
	}
	j->committed = 0;
	if (fsx_sync_dir(s->o.outdir) < 0) {
		log_err("cannot sync '%s': %s", s->o.outdir, strerror(errno));
		return fsx_exit_for_errno(errno);
	}
	return 0;
}

int sim_run(struct sim *s)
{
	int nsub = s->o.nsub, nc = s->o.nchan, nb = s->nbls, status = 0;
	size_t nsamp = (size_t)nb * nc * 2;
	float complex *ring[NSLOT] = { NULL };
	uint8_t *flags = calloc(nsamp, 1);
	float *nsm = malloc(nsamp * sizeof *nsm);
	struct job *jobs = calloc((size_t)nsub * 2 + 1, sizeof *jobs);
	struct job **order = calloc((size_t)nsub * 2 + 1, sizeof *order);
	struct hostile_rec *hr = calloc((size_t)s->o.nfaults + 1, sizeof *hr);
	int nhr = 0, njobs = 0;
	struct uvh5_header h;
	struct timespec w0;
	double gdur = s->o.ntimes * SIM_TINT_S;
	char err[UVH5_ERRLEN];

	memset(&h, 0, sizeof h);
	for (int k = 0; k < NSLOT; k++)
		ring[k] = malloc(nsamp * sizeof *ring[k]);
	if (!ring[NSLOT - 1] || !ring[0] || !flags || !nsm || !jobs || !order || !hr) {
		log_err("out of memory");
		status = EX_OSERR;
		goto out;
	}
	for (size_t i = 0; i < nsamp; i++)
		nsm[i] = 1.0f;
	if (fsx_mkdirs(s->o.outdir, 0755) < 0) {
		log_err("cannot create '%s': %s", s->o.outdir, strerror(errno));
		status = fsx_exit_for_errno(errno);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &w0);
	for (int gi = 0; gi < s->o.ngroups && !status; gi++) {
		log_set_group(s->groups[gi].id);
		if (fault_at(s, SIM_F_HOSTILE, gi, -1)) {
			hr[nhr].group = gi;
			if (hostile(s, gi, hr[nhr].names, &hr[nhr].n) < 0) {
				log_err("cannot create hostile files in '%s': %s", s->o.outdir,
				    strerror(errno));
				status = fsx_exit_for_errno(errno);
				break;
			}
			nhr++;
		}
		uvh5_header_free(&h);
		if (build_header(s, gi, &h) < 0) {
			log_err("out of memory");
			status = EX_OSERR;
			break;
		}
		njobs = plan_group(s, gi, jobs);
		for (int i = 0; i < njobs; i++)
			order[i] = &jobs[i];
		qsort(order, (size_t)njobs, sizeof *order, cmp_time);
		/* Two passes: the on-time files together, then the late ones. */
		for (int pass = 0; pass < 2 && !status; pass++) {
			int lo = -1, hi = -1;
			for (int i = 0; i < njobs; i++)
				if (order[i]->late == pass) {
					if (lo < 0)
						lo = i;
					hi = i + 1;
				}
			if (lo < 0)
				continue;
			if (pass == 1 && s->o.pace > 0)
				sleep_until(&w0, (gi * gdur + 1.5 * gdur) / s->o.pace);
			/* Paced: all files of the pass open together and fill one
			 * integration at a time, like the correlator; unpaced: one
			 * file after the other (one file's HDF5 caches in memory). */
			int inter = s->o.pace > 0, n = hi - lo, nt = s->o.ntimes;
			struct producer pr = { .s = s, .gi = gi, .order = order, .lo = lo,
				.hi = hi, .inter = inter, .buf = ring };
			for (int i = lo; i < hi && !status && inter; i++)
				status = open_job(s, &h, gi, order[i]);
			if (!status && producer_start(&pr) < 0) {
				log_err("cannot start a thread: %s", strerror(errno));
				status = EX_OSERR;
			}
			for (long k = 0; k < (long)n * nt && !status; k++) {
				int t = inter ? (int)(k / n) : (int)(k % nt);
				struct job *j = order[lo + (inter ? (int)(k % n) : (int)(k / nt))];
				float complex *v;
				if (inter && pass == 0 && k % n == 0)
					sleep_until(&w0, (gi * gdur + (t + 1) * SIM_TINT_S) / s->o.pace);
				if (!inter && t == 0 && (status = open_job(s, &h, gi, j)))
					break;
				v = producer_take(&pr);
				if (!v) {
					log_err("out of memory");
					status = EX_OSERR;
				} else if (uvh5_write_rows(j->w, (int64_t)t * nb, nb, v, flags, nsm,
				    &status, err) < 0) {
					log_err("%s", err);
				}
				producer_release(&pr);
				if (!status && !inter && t == nt - 1 && !(status = commit_job(j)))
					status = finish_job(s, j);
			}
			if (pr.started)
				producer_stop(&pr);
			for (int i = lo; i < hi && !status && inter; i++)
				status = commit_job(order[i]);
			for (int i = lo; i < hi && !status && inter; i++) {
				struct job *j = order[i];
				if (pass == 0)
					sleep_until(&w0, (gi * gdur + gdur +
					    (double)(j->name_unix - s->groups[gi].sb_unix[0])) / s->o.pace);
				status = finish_job(s, j);
			}
			if (status)
				cleanup(jobs, njobs);
		}
	}
	log_set_group(NULL);
	if (!status && s->o.truth)
		status = write_truth(s, hr, nhr);
out:
	uvh5_header_free(&h);
	for (int k = 0; k < NSLOT; k++)
		free(ring[k]);
	free(flags);
	free(nsm);
	free(jobs);
	free(order);
	free(hr);
	return status;
}

/* ---------------------------------------------------------------- truth */

static void jnum(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.17g", v);
	else
		fputs("null", f);
}

static void jkey(FILE *f, const char *k, double v)
{
	json_str_file(f, k);
	fputc(':', f);
	jnum(f, v);
}

static void truth_gain(FILE *f, const struct sim_gain *g)
{
	fputc('{', f);
	jkey(f, "amp", g->amp);
	fputc(',', f);
	jkey(f, "phi0_rad", g->phi0);
	fputc(',', f);
	jkey(f, "tau_s", g->tau_s);
	fputc(',', f);
	jkey(f, "rate_rad_s", g->rate_rad_s);
	fputc(',', f);
	jkey(f, "slope", g->slope);
	fputc(',', f);
	jkey(f, "ripple", g->ripple);
	fputc(',', f);
	jkey(f, "ripple_period_hz", g->period_hz);
	fputc(',', f);
	jkey(f, "ripple_phase_rad", g->rphase);
	fputc('}', f);
}

static int write_truth(const struct sim *s, const struct hostile_rec *hr, int nhr)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	double gdur = s->o.ntimes * SIM_TINT_S, fc = SIM_F_TOP_HZ - SIM_BAND_HZ / 2;
	int nf = s->nfreq, rc;
	double nvals = 2.0 * s->o.ngroups * s->o.ntimes * s->o.nants * 2 * nf;

	if (!f) {
		log_err("out of memory");
		return EX_OSERR;
	}
	fputs("{\"convention\":", f);
	json_str_file(f, "V_12 = g_1 conj(g_2) (sum_s S_s(f) A_s(f) exp(-2 pi i (u l + v m + w (n-1))) + noise),"
	    " uvw = pos(ant_2) - pos(ant_1) in metres for (HA 0, Dec dec_deg) (meridian phasing,"
	    " phase centre RA = LST of each integration), u,v,w in wavelengths in the exponent,"
	    " l towards east; autocorrelations |g|^2 (sum_s S_s A_s + sefd_jy + real noise);"
	    " A = the power beam of telescope.beam_model (taper: |E(u)/E(0)|^2, E(u) = int_b^1 g(rho)"
	    " J0(u rho) rho drho, u = pi D sin(theta) f / c, g = c_edge + (1 - c_edge)(1 - rho^2),"
	    " c_edge = 10^(beam_edge_taper_db/20), b = beam_blockage_m / D; airy: (2 J1(u)/u)^2;"
	    " gauss: exp(-4 ln2 theta^2 / fwhm^2), fwhm = 1.2 c / (f D));"
	    " S(f) = flux_jy (f / ref_freq_hz)^spectral_index; positions treated as apparent"
	    " (no precession); LST = mean sidereal time 18.697374558 + 24.06570982441908"
	    " (JD - 2451545) hours + longitude");
	fprintf(f, ",\"generator\":\"uvm-sim\",\"seed\":%llu", (unsigned long long)s->o.seed);
	fputs(",\"telescope\":{\"name\":\"DSA-110\",", f);
	jkey(f, "latitude_deg", SIM_LAT_DEG);
	fputc(',', f);
	jkey(f, "longitude_deg", SIM_LON_DEG);
	fputc(',', f);
	jkey(f, "altitude_m", SIM_ALT_M);
	fputc(',', f);
	jkey(f, "dish_diameter_m", SIM_DIAM_M);
	fputc(',', f);
	fprintf(f, "\"beam_model\":\"%s\",", sim_beam_name());
	jkey(f, "beam_edge_taper_db", BEAM_TAPER_DB);
	fputc(',', f);
	jkey(f, "beam_blockage_m", BEAM_BLOCK_M);
	fputc(',', f);
	jkey(f, "beam_fwhm_factor", 1.2);
	fputc(',', f);
	jkey(f, "sefd_jy", SIM_SEFD_JY);
	fputs("}", f);
	fprintf(f, ",\"nants\":%d,\"nsub\":%d,\"nchan\":%d,\"ntimes\":%d,\"ngroups\":%d,",
	    s->o.nants, s->o.nsub, s->o.nchan, s->o.ntimes, s->o.ngroups);
	jkey(f, "integration_s", SIM_TINT_S);
	fputc(',', f);
	jkey(f, "dec_deg", s->o.dec_deg);
	fputc(',', f);
	jkey(f, "jitter_s", s->o.jitter_s);
	fputc(',', f);
	jkey(f, "channel_width_hz", s->chan_width);
	fputc(',', f);
	jkey(f, "centre_freq_hz", fc);
	fputs(",\"freq_hz_ascending\":[", f);
	for (int j = nf - 1; j >= 0; j--) {
		jnum(f, s->freq[j]);
		if (j)
			fputc(',', f);
	}
	fputs("],\"antennas\":[", f);
	for (int a = 0; a < s->o.nants; a++) {
		if (s->o.layout == SIM_L_UVH5)
			fprintf(f, "%s{\"number\":%d,\"name\":\"ant%03d\",\"enu_m\":[", a ? "," : "",
			    a, a);
		else
			fprintf(f, "%s{\"number\":%d,\"name\":\"%d\",\"enu_m\":[", a ? "," : "",
			    s->ant_num[a], s->ant_num[a] + 1);
		for (int k = 0; k < 3; k++) {
			jnum(f, s->enu[3 * a + k]);
			fputs(k < 2 ? "," : "],\"ecef_m\":[", f);
		}
		for (int k = 0; k < 3; k++) {
			jnum(f, s->ecef[3 * a + k]);
			fputs(k < 2 ? "," : "]}", f);
		}
	}
	fputs("],\"groups\":[", f);
	for (int gi = 0; gi < s->o.ngroups; gi++) {
		const struct sim_group *g = &s->groups[gi];
		struct job *jobs = calloc((size_t)s->o.nsub * 2 + 1, sizeof *jobs);
		int n = jobs ? plan_group(s, gi, jobs) : 0;
		double mid = g->start_unix + gdur / 2, lst = sim_lst(mid, s->lon);
		fprintf(f, "%s{\"index\":%d,\"id\":\"%s\",\"files\":[", gi ? "," : "", gi, g->id);
		for (int i = 0; i < n; i++) {
			if (i)
				fputc(',', f);
			json_str_file(f, strrchr(jobs[i].final, '/') + 1);
		}
		free(jobs);
		fputs("],", f);
		jkey(f, "start_jd", sim_jd(g->start_unix));
		fputc(',', f);
		jkey(f, "mid_jd", sim_jd(mid));
		fputc(',', f);
		jkey(f, "lst_mid_rad", lst);
		fputc(',', f);
		{
			/* The phase centre at mid-time, CIRS and ICRS. */
			double ra, dec;
			astro_cirs_to_icrs(sim_jd(mid), lst, s->dec, &ra, &dec);
			jkey(f, "phase_ra_deg", ra * 180 / M_PI);
			fputc(',', f);
			jkey(f, "phase_dec_deg", dec * 180 / M_PI);
			fputc(',', f);
			jkey(f, "app_ra_deg", lst * 180 / M_PI);
			fputc(',', f);
		}
		jkey(f, "dec_deg", s->o.dec_deg);
		fputs(",\"calibrator\":", f);
		if (s->calname[0] && s->o.cal_group == gi)
			json_str_file(f, s->calname);
		else
			fputs("null", f);
		fputc('}', f);
	}
	fputs("],\"sources\":[", f);
	for (int k = 0; k < s->nsrcs; k++) {
		const struct sim_source *x = &s->src[k];
		fputs(k ? ",{\"name\":" : "{\"name\":", f);
		json_str_file(f, x->name);
		fputc(',', f);
		jkey(f, "ra_deg", x->ra * 180 / M_PI);
		fputc(',', f);
		jkey(f, "dec_deg", x->dec * 180 / M_PI);
		fputc(',', f);
		jkey(f, "flux_jy", x->flux_jy);
		fputc(',', f);
		jkey(f, "ref_freq_hz", x->ref_freq_hz);
		fputc(',', f);
		jkey(f, "spectral_index", x->alpha);
		fprintf(f, ",\"calibrator\":%s,\"apparent_flux_jy\":[", x->is_cal ? "true" : "false");
		for (int gi = 0; gi < s->o.ngroups; gi++) {
			double mid = s->groups[gi].start_unix + gdur / 2, l, m, n, ra, dec;
			astro_icrs_to_cirs(sim_jd(mid), x->ra, x->dec, &ra, &dec);
			sim_lmn(ra, dec, sim_lst(mid, s->lon), s->dec, &l, &m, &n);
			double th = 2 * asin(fmin(1, sqrt(l * l + m * m + (n - 1) * (n - 1)) / 2));
			if (gi)
				fputc(',', f);
			jnum(f, n > 0 ? sim_flux(x, fc) * sim_beam(th, fc) : 0);
		}
		/* Its CIRS position at each group's mid-time (what the data
		 * hold; the ICRS ra_deg/dec_deg are the truth). */
		for (int pass = 0; pass < 2; pass++) {
			fputs(pass ? "],\"app_dec_deg\":[" : "],\"app_ra_deg\":[", f);
			for (int gi = 0; gi < s->o.ngroups; gi++) {
				double mid = s->groups[gi].start_unix + gdur / 2, ra, dec;
				astro_icrs_to_cirs(sim_jd(mid), x->ra, x->dec, &ra, &dec);
				if (gi)
					fputc(',', f);
				jnum(f, (pass ? dec : ra) * 180 / M_PI);
			}
		}
		fputs("]}", f);
	}
	fputs("],", f);
	jkey(f, "noise_jy", s->o.noise_jy);
	fputs(",\"noise_convention\":\"rms of each of the real and imaginary parts of a"
	    " cross-correlation before gains (real part only for autocorrelations)\"", f);
	fputs(",\"gains\":{\"model\":", f);
	json_str_file(f, "g = amp B(f) exp(i (phi0_rad + 2 pi f tau_s + rate_rad_s (t - t0))),"
	    " B(f) = 1 + slope (f - f_ref_hz) / f_ref_hz + ripple cos(2 pi (f - f_ref_hz) /"
	    " ripple_period_hz + ripple_phase_rad), t in seconds, t0 = t0_jd");
	fputc(',', f);
	jkey(f, "level", s->o.gain_level);
	fputc(',', f);
	jkey(f, "t0_jd", sim_jd(s->t0_unix));
	fputc(',', f);
	jkey(f, "f_ref_hz", SIM_GAIN_FREF_HZ);
	fputs(",\"antennas\":[", f);
	for (int a = 0; a < s->o.nants; a++) {
		fprintf(f, "%s{\"number\":%d,\"xx\":", a ? "," : "", s->ant_num[a]);
		truth_gain(f, &s->gain[2 * a]);
		fputs(",\"yy\":", f);
		truth_gain(f, &s->gain[2 * a + 1]);
		fputc('}', f);
	}
	fputc(']', f);
	if (nvals <= 2e6) {
		fputs(",\"values_layout\":\"[group][time][antenna][pol xx,yy][channel, ascending"
		    " frequency] -> [re, im]\",\"values\":[", f);
		for (int gi = 0; gi < s->o.ngroups; gi++) {
			fputs(gi ? ",[" : "[", f);
			for (int t = 0; t < s->o.ntimes; t++) {
				double tr = sim_time(s, gi, t) - s->t0_unix;
				fputs(t ? ",[" : "[", f);
				for (int a = 0; a < s->o.nants; a++) {
					fputs(a ? ",[" : "[", f);
					for (int p = 0; p < 2; p++) {
						fputs(p ? ",[" : "[", f);
						for (int j = nf - 1; j >= 0; j--) {
							double complex g = sim_gain_eval(&s->gain[2 * a + p],
							    s->freq[j], tr);
							fputc('[', f);
							jnum(f, creal(g));
							fputc(',', f);
							jnum(f, cimag(g));
							fputs(j ? "]," : "]", f);
						}
						fputc(']', f);
					}
					fputc(']', f);
				}
				fputc(']', f);
			}
			fputc(']', f);
		}
		fputc(']', f);
	}
	fputc('}', f);
	sim_defects_truth(s, f); /* defects hook (sim_defects.c) */
	fputs(",\"faults\":[", f);
	int first = 1;
	for (int i = 0; i < s->o.nfaults; i++) {
		const struct sim_fault *x = &s->o.faults[i];
		if (x->group >= s->o.ngroups)
			continue;
		fprintf(f, "%s{\"kind\":\"%s\",\"group\":%d,\"group_id\":\"%s\"", first ? "" : ",",
		    sim_fault_name(x->kind), x->group, s->groups[x->group].id);
		first = 0;
		if (x->kind == SIM_F_HOSTILE) {
			fputs(",\"files\":[", f);
			for (int r = 0; r < nhr; r++)
				if (hr[r].group == x->group)
					for (int k = 0; k < hr[r].n; k++) {
						if (k)
							fputc(',', f);
						json_str_file(f, hr[r].names[k]);
					}
			fputs("]}", f);
		} else {
			char name[128];
			fprintf(f, ",\"subband\":%d,\"file\":", x->sb);
			if (x->sb >= s->o.nsub || x->kind == SIM_F_MISSING) {
				fputs("null", f);
			} else {
				file_name(s->groups[x->group].sb_unix[x->sb] +
				    (x->kind == SIM_F_DUPLICATE), x->sb, "", name, sizeof name);
				json_str_file(f, name);
			}
			fputc('}', f);
		}
	}
	fputs("]}\n", f);
	if (ferror(f) | fclose(f)) {
		free(buf);
		log_err("out of memory");
		return EX_OSERR;
	}
	rc = fsx_write_file(s->o.truth, buf, len, 0644);
	free(buf);
	if (rc < 0) {
		log_err("cannot write '%s': %s", s->o.truth, strerror(errno));
		return fsx_exit_for_errno(errno);
	}
	return 0;
}
