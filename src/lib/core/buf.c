/*
 * buf.c: the growable buffer (contract in buf.h). Capacity doubles from
 * 1 KiB, so n appends cost O(n) amortised; formatted text goes through a
 * stack buffer first and falls back to an exact allocation when longer.
 */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 1024;
		char *np;
		while (nc < b->n + n + 1)
			nc *= 2;
		np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

void buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	char tmp[512];
	va_list aq;
	int n;
	if (b->oom)
		return;
	va_copy(aq, ap);
	n = vsnprintf(tmp, sizeof tmp, fmt, aq);
	va_end(aq);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)n < sizeof tmp) {
		buf_add(b, tmp, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = 1;
		return;
	}
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	buf_add(b, big, (size_t)n);
	free(big);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *buf_take(struct buf *b)
{
	char *p;
	if (b->oom) {
		buf_free(b);
		return NULL;
	}
	if (!b->p)
		return calloc(1, 1);
	p = b->p;
	b->p = NULL;
	b->n = b->cap = 0;
	return p;
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
	b->oom = 0;
}
