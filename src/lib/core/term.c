/*
 * term.c: terminal-safe strings (contract in term.h).
 *
 * Non-ASCII bytes are escaped too, although a UTF-8 terminal would show
 * most of them: C1 controls (U+0080..U+009F, e.g. the one-byte CSI) act
 * like ESC on some terminals, and names in a deployment are ASCII by
 * design, so a byte >= 0x80 is worth seeing as what it is.
 */
#include "core/term.h"

#include <string.h>

/* The escape of byte c into e (at most 5 bytes with the NUL); its length. */
static size_t esc1(unsigned char c, char e[5])
{
	static const char hex[] = "0123456789abcdef";
	if (c >= 0x20 && c < 0x7f && c != '\\') {
		e[0] = (char)c, e[1] = 0;
		return 1;
	}
	e[0] = '\\';
	switch (c) {
	case '\\': e[1] = '\\'; e[2] = 0; return 2;
	case '\n': e[1] = 'n'; e[2] = 0; return 2;
	case '\r': e[1] = 'r'; e[2] = 0; return 2;
	case '\t': e[1] = 't'; e[2] = 0; return 2;
	default:
		e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15], e[4] = 0;
		return 4;
	}
}

char *term_escape(const char *s, char *out, size_t n)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t k = 0, ends[4] = {0}; /* where the last escapes began */
	char e[5];
	for (int i = 0; *p; p++, i++) {
		size_t l = esc1(*p, e);
		if (k + l + 1 > n) {
			/* "..." replaces the escapes it needs room from (at most
			 * 3 bytes: 3 escapes back), never part of one */
			for (int b = 1; b <= 4 && b <= i && k + 4 > n; b++)
				k = ends[(i - b) & 3];
			if (k + 4 <= n)
				memcpy(out + k, "...", 3), k += 3;
			break;
		}
		ends[i & 3] = k;
		memcpy(out + k, e, l);
		k += l;
	}
	out[k] = 0;
	return out;
}

void term_fputs(FILE *f, const char *s)
{
	char e[5];
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		size_t l = esc1(*p, e);
		fwrite(e, 1, l, f);
	}
}
