/*
 * check_pass.c: the header checks and the data pass of chk_file, spread
 * over two threads so that a file costs about half its reading and
 * checking, not their sum.
 *
 * Files whose rows can be read by file offset (uvh5_pread_rows: uvm-sim's,
 * uvmake's, most of pyuvdata's) are cut into blocks of rows that both
 * threads claim in turn; each reads its block into its own buffers (small
 * enough to stay in that core's cache from the read to the check) and
 * checks it into the block's own tallies, which are added up in file
 * order at the end. The calling thread runs the header checks first, so
 * they overlap the data. Other files (filters, split chunks: the
 * correlator's) go through libhdf5, which only one thread may call: a
 * reader thread fills one of two buffers while the caller checks the
 * other.
 *
 * Either way the result is that of one pass in file order: a read error
 * is reported after exactly the blocks before it are counted.
 */
#include "uvh5/check_priv.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/uvm.h"

/* Record a failed read of rows into r: content damage (a chunk that does
 * not decompress) is invalid data, other failures leave the file
 * unverified (their own status: worth a retry). */
static void read_failed(struct chk_report *r, int st, char *err, const char *path)
{
	int prev = r->status;

	chk_strip_path(err, path);
	chk_error(r, "%s", err);
	if (prev == 0 && st != EX_DATAERR && !strstr(err, "filter"))
		r->status = st;
}

static void oom(struct chk_report *r, int64_t block)
{
	chk_error(r, "out of memory for %lld rows of data", (long long)block);
	r->status = EX_OSERR;
}

/* ---- by file offset, both threads reading and checking ---- */

struct pass {
	const uvh5_file *f;
	const struct uvh5_header *h;
	const struct chk_data *start;   /* chk_data_begin's state */
	struct chk_data *blk;           /* one per block */
	int64_t block, nb;
	atomic_llong next;              /* next block to claim */
	atomic_int stop;                /* header check out of memory */
	pthread_mutex_t mu;
	int64_t fail;                   /* lowest block that failed to read, nb none */
	int fail_st;
	char fail_err[UVH5_ERRLEN];
};

/* Claim, read and check blocks until none is left (or one before them
 * failed). */
static void *work(void *arg)
{
	struct pass *p = arg;
	size_t m = (size_t)(p->block * p->h->Nfreqs * p->h->Npols);
	float complex *vis = malloc(m * sizeof *vis);
	uint8_t *flags = malloc(m);
	float *ns = malloc(m * sizeof *ns);
	char err[UVH5_ERRLEN];
	int64_t b;
	int st;

	if (!vis || !flags || !ns)
		goto out;       /* the other thread does the work, or nobody: see blk[].h */
	while (!atomic_load(&p->stop) && (b = atomic_fetch_add(&p->next, 1)) < p->nb) {
		int64_t row = b * p->block, n = p->h->Nblts - row < p->block ? p->h->Nblts - row :
		    p->block;

		pthread_mutex_lock(&p->mu);
		st = b > p->fail;
		pthread_mutex_unlock(&p->mu);
		if (st)
			break;
		st = 0;
		if (uvh5_pread_rows(p->f, row, n, vis, flags, ns, &st, err) < 0) {
			pthread_mutex_lock(&p->mu);
			if (b < p->fail) {
				p->fail = b;
				p->fail_st = st;
				memcpy(p->fail_err, err, sizeof err);
			}
			pthread_mutex_unlock(&p->mu);
			break;
		}
		p->blk[b] = *p->start;
		chk_data_rows(&p->blk[b], row, n, vis, flags, ns);
	}
out:
	free(vis);
	free(flags);
	free(ns);
	return NULL;
}

static int pread_pass(const uvh5_file *f, const struct uvh5_header *h, int64_t block,
    struct chk_data *d, struct chk_report *r, const char *path)
{
	struct pass p = { .f = f, .h = h, .start = d, .block = block };
	pthread_t th;
	int threaded, rc = 0;

	p.nb = (h->Nblts + block - 1) / block;
	p.fail = p.nb;
	atomic_init(&p.next, 0);
	atomic_init(&p.stop, 0);
	if (!(p.blk = calloc((size_t)(p.nb ? p.nb : 1), sizeof *p.blk))) {
		oom(r, block);
		return -1;
	}
	pthread_mutex_init(&p.mu, NULL);
	threaded = pthread_create(&th, NULL, work, &p) == 0;
	if (chk_header(h, r) < 0) {
		atomic_store(&p.stop, 1);
		rc = -1;
	}
	work(&p);
	if (threaded)
		pthread_join(th, NULL);
	pthread_mutex_destroy(&p.mu);
	for (int64_t b = 0; rc == 0 && b < p.fail; b++)
		if (!p.blk[b].h) {      /* never checked: no thread had buffers */
			oom(r, block);
			rc = -1;
		}
	if (rc == 0) {
		for (int64_t b = 0; b < p.fail; b++)
			chk_data_merge(d, &p.blk[b]);
		if (p.fail < p.nb)
			read_failed(r, p.fail_st, p.fail_err, path);
	}
	free(p.blk);
	return rc;
}

/* ---- through libhdf5: a reader thread, the caller checks ---- */

struct rbuf {
	float complex *vis;
	uint8_t *flags;
	float *ns;
	int64_t row, n;
	int full, rc, st;
	char err[UVH5_ERRLEN];
};

struct reader {
	uvh5_file *f;
	int64_t nblts, block;
	struct rbuf b[2];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static void *read_blocks(void *arg)
{
	struct reader *q = arg;
	int k = 0;

	for (int64_t row = 0; row < q->nblts; k ^= 1) {
		struct rbuf *b = &q->b[k];
		int64_t n = q->nblts - row < q->block ? q->nblts - row : q->block;
		int stop;

		pthread_mutex_lock(&q->mu);
		while (b->full && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		stop = q->stop;
		pthread_mutex_unlock(&q->mu);
		if (stop)
			break;
		b->row = row;
		b->n = n;
		b->st = 0;
		b->rc = uvh5_read_rows(q->f, row, n, b->vis, b->flags, b->ns, &b->st, b->err);
		pthread_mutex_lock(&q->mu);
		b->full = 1;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
		if (b->rc < 0)
			break;
		row += n;
	}
	return NULL;
}

static int hdf5_pass(uvh5_file *f, const struct uvh5_header *h, int64_t block,
    struct chk_data *d, struct chk_report *r, const char *path)
{
	struct reader q = { .f = f, .nblts = h->Nblts, .block = block };
	size_t m = (size_t)(block * h->Nfreqs * h->Npols);
	pthread_t th;
	int e = 0, k = 0;

	if (chk_header(h, r) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		q.b[i].vis = malloc(m * sizeof *q.b[i].vis);
		q.b[i].flags = malloc(m);
		q.b[i].ns = malloc(m * sizeof *q.b[i].ns);
		if (!q.b[i].vis || !q.b[i].flags || !q.b[i].ns)
			e = -1;
	}
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.cv, NULL);
	if (e == 0 && pthread_create(&th, NULL, read_blocks, &q) != 0)
		e = -1;
	if (e < 0) {
		oom(r, block);
		goto out;
	}
	for (int64_t row = 0; row < h->Nblts; k ^= 1) {
		struct rbuf *b = &q.b[k];

		pthread_mutex_lock(&q.mu);
		while (!b->full)
			pthread_cond_wait(&q.cv, &q.mu);
		pthread_mutex_unlock(&q.mu);
		if (b->rc < 0) {
			read_failed(r, b->st, b->err, path);
			break;
		}
		chk_data_rows(d, b->row, b->n, b->vis, b->flags, b->ns);
		row += b->n;
		pthread_mutex_lock(&q.mu);
		b->full = 0;
		pthread_cond_broadcast(&q.cv);
		pthread_mutex_unlock(&q.mu);
	}
	pthread_mutex_lock(&q.mu);
	q.stop = 1;
	pthread_cond_broadcast(&q.cv);
	pthread_mutex_unlock(&q.mu);
	pthread_join(th, NULL);
out:
	pthread_mutex_destroy(&q.mu);
	pthread_cond_destroy(&q.cv);
	for (int i = 0; i < 2; i++) {
		free(q.b[i].vis);
		free(q.b[i].flags);
		free(q.b[i].ns);
	}
	return e;
}

int chk_pass(uvh5_file *f, const struct uvh5_header *h, int64_t block, struct chk_data *d,
    struct chk_report *r, const char *path)
{
	if (uvh5_can_pread(f))
		return pread_pass(f, h, block, d, r, path);
	return hdf5_pass(f, h, block, d, r, path);
}
