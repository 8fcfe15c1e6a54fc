/*
 * flag_write.c: uvm-flag's write phase (contract in flag_write.h).
 *
 * The flagged copy is the input's visibilities and nsamples with the new
 * flags. Written with uvh5_write_rows, libhdf5 compressed flags and
 * nsamples (LZF) inside H5Dwrite on the one thread that also read the
 * input again: the whole phase was serial while the other core idled.
 * Here, as in calapply.c, the calling thread only reads blocks of one
 * output chunk each and writes finished chunks (H5Dwrite_chunk); workers
 * take the blocks in order and encode them with the group's flags
 * (uvh5_encode_rows), each block by one worker. A layout the direct path
 * does not take (the DSA-110 one: nothing to compress) comes back from
 * uvh5_encode_rows as rows, and uvh5_write_encoded writes them with
 * uvh5_write_rows, in the same order.
 */
#include "sci/flag_write.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#define MAX_THREADS 64

/*
 * Block k lives in slot k % nslot: read there by the calling thread
 * (FREE -> READ), encoded by a worker (READ -> BUSY -> DONE), written by
 * the calling thread (DONE -> FREE). Fields below mu are guarded by it.
 */
enum { SLOT_FREE, SLOT_READ, SLOT_BUSY, SLOT_DONE };

struct slot {
	int state;
	int64_t k, r0, nr;
	float complex *vis;
	float *ns;
	struct uvh5_encoded enc;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work;   /* a block read, or stop */
	pthread_cond_t done;   /* a block encoded, or a worker failed */
	struct slot *slot;
	int nslot;
	int64_t nblk, next_enc;
	int stop, failed;
	const uvh5_writer *w;
	const uint8_t *flags;
	size_t row;            /* samples a row */
};

struct worker {
	struct pool *pool;
	int started, status;
	char err[UVH5_ERRLEN];
	pthread_t th;
};

/* A worker: encode the blocks read, in order, until every block is taken
 * or the pool stops; a failure stops the pool. */
static void *work(void *arg)
{
	struct worker *wk = arg;
	struct pool *p = wk->pool;

	pthread_mutex_lock(&p->mu);
	while (!p->stop && p->next_enc < p->nblk) {
		struct slot *s = &p->slot[p->next_enc % p->nslot];
		int rc;

		if (s->state != SLOT_READ || s->k != p->next_enc) {
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		s->state = SLOT_BUSY;
		p->next_enc++;
		pthread_mutex_unlock(&p->mu);
		rc = uvh5_encode_rows(p->w, s->r0, s->nr, s->vis, p->flags + (size_t)s->r0 * p->row,
		    s->ns, &s->enc, &wk->status, wk->err);
		pthread_mutex_lock(&p->mu);
		s->state = SLOT_DONE;
		if (rc < 0)
			p->failed = p->stop = 1;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/*
 * The calling thread: read each block into a free slot, write the encoded
 * blocks in order, waiting only when there is neither. 0, or -1 with
 * *status and err from the failed read or write (or p->failed set by a
 * worker); the pool is stopped either way.
 */
static int stream(struct pool *p, uvh5_file *f, uvh5_writer *w, int64_t b, int64_t nblts,
    int *status, char *err)
{
	int64_t nread = 0, nwritten = 0;
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	while (nwritten < p->nblk && !p->failed) {
		struct slot *ws = &p->slot[nwritten % p->nslot], *rs = &p->slot[nread % p->nslot];

		if (ws->state == SLOT_DONE && ws->k == nwritten) {
			pthread_mutex_unlock(&p->mu);
			rc = uvh5_write_encoded(w, &ws->enc, status, err);
			pthread_mutex_lock(&p->mu);
			if (rc < 0)
				break;
			ws->state = SLOT_FREE;
			nwritten++;
		} else if (nread < p->nblk && rs->state == SLOT_FREE) {
			rs->k = nread;
			rs->r0 = nread * b;
			rs->nr = nblts - rs->r0 < b ? nblts - rs->r0 : b;
			pthread_mutex_unlock(&p->mu);
			rc = uvh5_read_rows(f, rs->r0, rs->nr, rs->vis, NULL, rs->ns, status, err);
			pthread_mutex_lock(&p->mu);
			if (rc < 0)
				break;
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
	return rc < 0 || p->failed ? -1 : 0;
}

int flag_write(uvh5_file *f, uvh5_writer *w, const uint8_t *flags, int nthreads, int *status,
    char *err)
{
	const struct uvh5_header *h = uvh5_header(f);
	struct pool p;
	struct worker *wk = NULL;
	int64_t b = uvh5_writer_chunk_rows(w);
	int nth = nthreads, rc = -1, nstarted = 0;

	memset(&p, 0, sizeof p);
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.done, NULL);
	if (nth <= 0)
		nth = (int)sysconf(_SC_NPROCESSORS_ONLN);
	nth = nth < 1 ? 1 : nth > MAX_THREADS ? MAX_THREADS : nth;
	p.row = (size_t)h->Nfreqs * (size_t)h->Npols;
	p.nblk = (h->Nblts + b - 1) / b;
	p.w = w;
	p.flags = flags;
	/* a block being read, one being written, one for each worker and
	 * one more so that neither side waits for the other's turn */
	p.nslot = nth + 3;
	p.slot = calloc((size_t)p.nslot, sizeof *p.slot);
	wk = calloc((size_t)nth, sizeof *wk);
	if (!p.slot || !wk)
		goto nomem;
	for (int i = 0; i < p.nslot; i++) {
		p.slot[i].vis = malloc(sizeof *p.slot[i].vis * (size_t)b * p.row);
		p.slot[i].ns = malloc(sizeof *p.slot[i].ns * (size_t)b * p.row);
		if (!p.slot[i].vis || !p.slot[i].ns)
			goto nomem;
	}
	for (int i = 0; i < nth; i++) {
		wk[i].pool = &p;
		wk[i].started = pthread_create(&wk[i].th, NULL, work, &wk[i]) == 0;
		nstarted += wk[i].started;
	}
	if (!nstarted) {
		*status = EX_SOFTWARE;
		snprintf(err, UVH5_ERRLEN, "cannot start a thread");
		goto out;
	}
	rc = stream(&p, f, w, b, h->Nblts, status, err);
	for (int i = 0; i < nth; i++) {
		if (wk[i].started)
			pthread_join(wk[i].th, NULL);
		wk[i].started = 0;
		/* a worker's own failure is the cause when the pool stopped for it */
		if (rc < 0 && p.failed && wk[i].status) {
			*status = wk[i].status;
			snprintf(err, UVH5_ERRLEN, "%s", wk[i].err);
		}
	}
	goto out;
nomem:
	*status = EX_SOFTWARE;     /* flag_run's class for memory */
	snprintf(err, UVH5_ERRLEN, "out of memory");
out:
	for (int i = 0; wk && i < nth; i++)
		if (wk[i].started)
			pthread_join(wk[i].th, NULL);
	for (int i = 0; p.slot && i < p.nslot; i++) {
		free(p.slot[i].vis);
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
