/*
 * buf.h: one growable byte/string buffer for every report built in memory
 * (JSON reports, status files, metrics text) before one atomic write.
 *
 * Out of memory is sticky: the first failed allocation sets b->oom, later
 * appends are ignored, and the caller checks b->oom once at the end (then
 * frees). The contents are always NUL-terminated after a successful append,
 * so b->p can be used as a C string; b->p is NULL while nothing was added.
 * A zeroed struct buf is an empty buffer: `struct buf b = {0};`.
 */
#ifndef UVM_BUF_H
#define UVM_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *p;         /* contents, NUL-terminated (NULL while empty) */
	size_t n, cap;   /* length without the NUL, allocated size */
	int oom;         /* an allocation failed; contents are incomplete */
};

/* Append n bytes of s. */
void buf_add(struct buf *b, const char *s, size_t n);
/* Append the C string s. */
void buf_puts(struct buf *b, const char *s);
/* Append formatted text, of any length. */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Hand the contents to the caller (malloc'd, "" when empty) and empty b;
 * NULL (b freed) when an allocation failed. */
char *buf_take(struct buf *b);
/* Free the contents and empty b (oom cleared). */
void buf_free(struct buf *b);

#endif
