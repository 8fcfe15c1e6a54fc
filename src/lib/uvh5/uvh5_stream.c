/*
 * uvh5_stream.c: the pool behind uvh5_copy_encoded (contract in
 * uvh5_stream.h).
 *
 * libhdf5 may be called from one thread at a time, and it compresses in
 * the thread that calls H5Dwrite: a program that copies a file while
 * changing its rows did all of its LZF on the thread that also read and
 * wrote, a third of uvm-calapply's CPU time, while the other core idled.
 * Here the calling thread alone calls libhdf5 (uvh5_read_rows,
 * uvh5_write_encoded) and the workers do the rest: the caller's change to
 * a block and its encoding as stored (uvh5_encode_rows, no libhdf5). A
 * block is one chunk of the output, so each is encoded whole by one
 * worker and written with H5Dwrite_chunk; blocks are written in order and
 * rows are independent, so the output does not depend on the number of
 * workers. A fixed ring of slots bounds the memory to a few chunks.
 */
#include "uvh5/uvh5_stream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "uvh5/uvh5_priv.h"

int uvh5_stream_threads(int nthreads)
{
	int n = nthreads > 0 ? nthreads : (int)sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > UVH5_MAX_THREADS ? UVH5_MAX_THREADS : n;
}

/*
 * Block k lives in slot k % nslot: read there by the calling thread
 * (FREE -> READ), changed and encoded by a worker (READ -> BUSY -> DONE),
 * written by the calling thread (DONE -> FREE). Workers take blocks in
 * order, the calling thread writes them in order. Fields below mu are
 * guarded by it; a slot's buffers belong to whoever moved it last.
 */
enum { SLOT_FREE, SLOT_READ, SLOT_BUSY, SLOT_DONE };

struct slot {
	int state;
	int64_t k, r0, nr;
	float complex *vis;
	uint8_t *flags;        /* NULL when the copy does not read flags */
	float *ns;
	struct uvh5_encoded enc;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work;   /* a block read, or stop */
	pthread_cond_t done;   /* a block encoded, or a failure */
	struct slot *slot;
	int nslot;
	int64_t nblk, next_enc;
	int stop, failed;
	int status;            /* the first failure's */
	char err[UVH5_ERRLEN];
	const uvh5_writer *w;
	uvh5_block_fn *fn;
	void *ctx;
};

struct worker {
	struct pool *pool;
	int idx, started;
	pthread_t th;
};

/* Record a failure (the first one only is kept) and stop the pool; with
 * p->mu held. */
static void fail(struct pool *p, int status, const char *err)
{
	if (!p->failed) {
		p->failed = 1;
		p->status = status;
		snprintf(p->err, sizeof p->err, "%s", err);
	}
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->done);
}

/* A worker: change and encode the blocks read, in order, until every
 * block is taken or the pool stops. */
static void *work(void *arg)
{
	struct worker *wk = arg;
	struct pool *p = wk->pool;
	char err[UVH5_ERRLEN];
	int st = 0;

	pthread_mutex_lock(&p->mu);
	while (!p->stop && p->next_enc < p->nblk) {
		struct slot *s = &p->slot[p->next_enc % p->nslot];
		const uint8_t *fl;
		int rc;

		if (s->state != SLOT_READ || s->k != p->next_enc) {
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		s->state = SLOT_BUSY;
		p->next_enc++;
		pthread_mutex_unlock(&p->mu);
		fl = p->fn ? p->fn(p->ctx, wk->idx, s->r0, s->nr, s->vis, s->flags, s->ns) : s->flags;
		rc = uvh5_encode_rows(p->w, s->r0, s->nr, s->vis, fl, s->ns, &s->enc, &st, err);
		pthread_mutex_lock(&p->mu);
		s->state = SLOT_DONE;
		if (rc < 0)
			fail(p, st ? st : EX_SOFTWARE, err);
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/*
 * The calling thread's part: read each block of b rows into its slot and
 * write the encoded blocks in order, waiting only when there is neither a
 * block to write nor a free slot to read into. Stops at the pool's first
 * failure (its own read or write, or a worker's), and stops the pool.
 */
static void stream(struct pool *p, uvh5_file *f, uvh5_writer *w, int64_t b, int64_t nblts)
{
	int64_t nread = 0, nwritten = 0;
	char err[UVH5_ERRLEN];
	int st = 0, rc;

	pthread_mutex_lock(&p->mu);
	while (nwritten < p->nblk && !p->failed) {
		struct slot *ws = &p->slot[nwritten % p->nslot], *rs = &p->slot[nread % p->nslot];

		if (ws->state == SLOT_DONE && ws->k == nwritten) {
			pthread_mutex_unlock(&p->mu);
			rc = uvh5_write_encoded(w, &ws->enc, &st, err);
			pthread_mutex_lock(&p->mu);
			if (rc < 0) {
				fail(p, st ? st : EX_IOERR, err);
				break;
			}
			ws->state = SLOT_FREE;
			nwritten++;
		} else if (nread < p->nblk && rs->state == SLOT_FREE) {
			rs->k = nread;
			rs->r0 = nread * b;
			rs->nr = nblts - rs->r0 < b ? nblts - rs->r0 : b;
			pthread_mutex_unlock(&p->mu);
			rc = uvh5_read_rows(f, rs->r0, rs->nr, rs->vis, rs->flags, rs->ns, &st, err);
			pthread_mutex_lock(&p->mu);
			if (rc < 0) {
				fail(p, st ? st : EX_IOERR, err);
				break;
			}
			rs->state = SLOT_READ;
			nread++;
			pthread_cond_broadcast(&p->work);
		} else {
			pthread_cond_wait(&p->done, &p->mu);
		}
	}
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
}

/* Allocate p's slots for blocks of n samples; 0 or -1 (memory). */
static int slots(struct pool *p, size_t n, int read_flags)
{
	p->slot = calloc((size_t)p->nslot, sizeof *p->slot);
	for (int i = 0; p->slot && i < p->nslot; i++) {
		struct slot *s = &p->slot[i];

		s->vis = malloc(sizeof *s->vis * n);
		s->flags = read_flags ? malloc(n) : NULL;
		s->ns = malloc(sizeof *s->ns * n);
		if (!s->vis || (read_flags && !s->flags) || !s->ns)
			return -1;
	}
	return p->slot ? 0 : -1;
}

int uvh5_copy_encoded(uvh5_file *f, uvh5_writer *w, int nthreads, int read_flags,
    uvh5_block_fn *fn, void *ctx, int *status, char *err)
{
	const struct uvh5_header *h = uvh5_header(f);
	int64_t b = uvh5_writer_chunk_rows(w);
	int nth = uvh5_stream_threads(nthreads), nstarted = 0, rc = -1;
	struct worker *wk = calloc((size_t)nth, sizeof *wk);
	struct pool p;

	memset(&p, 0, sizeof p);
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.done, NULL);
	p.nblk = (h->Nblts + b - 1) / b;
	p.w = w;
	p.fn = fn;
	p.ctx = ctx;
	/* a block being read, one being written, one for each worker and
	 * one more so that neither side waits for the other's turn */
	p.nslot = nth + 3;
	if (!wk || slots(&p, (size_t)b * (size_t)h->Nfreqs * (size_t)h->Npols, read_flags) < 0) {
		uvh5_fail(status, err, EX_OSERR, "out of memory");
		goto out;
	}
	for (int i = 0; i < nth; i++) {
		wk[i].pool = &p;
		wk[i].idx = i;
		wk[i].started = pthread_create(&wk[i].th, NULL, work, &wk[i]) == 0;
		nstarted += wk[i].started;
	}
	if (!nstarted) {
		uvh5_fail(status, err, EX_SOFTWARE, "cannot start a thread");
		goto out;
	}
	stream(&p, f, w, b, h->Nblts);
	for (int i = 0; i < nth; i++)
		if (wk[i].started)
			pthread_join(wk[i].th, NULL);
	if (p.failed) {
		*status = p.status;
		snprintf(err, UVH5_ERRLEN, "%s", p.err);
	} else {
		rc = 0;
	}
out:
	for (int i = 0; p.slot && i < p.nslot; i++) {
		free(p.slot[i].vis);
		free(p.slot[i].flags);
		free(p.slot[i].ns);
		uvh5_encoded_free(&p.slot[i].enc);
	}
	free(p.slot);
	free(wk);
	pthread_cond_destroy(&p.work);
	pthread_cond_destroy(&p.done);
	pthread_mutex_destroy(&p.mu);
	return rc;
}
