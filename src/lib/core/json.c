/*
 * json.c: JSON string escaping and the strict flat-object reader
 * (contract in json.h). The reader is a small recursive-descent validator
 * over a NUL-terminated text: each parse function takes a pointer at the
 * start of a value and returns the pointer after it, or NULL on a syntax
 * error; the top-level loop notes where the wanted member's value starts.
 */
#include "core/json.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAXDEPTH 64

/* ---- writing ---- */

/* Length (2..4) of the well-formed UTF-8 sequence at s, or 0. */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;
	int n;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* The escaper, writing through put(ctx, bytes, n). */
static void escape(const char *str, void (*put)(void *, const char *, size_t), void *ctx)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	put(ctx, "\"", 1);
	while (*s) {
		const unsigned char *run = s;
		while (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
			s++;
		if (s > run)
			put(ctx, (const char *)run, (size_t)(s - run));
		if (!*s)
			break;
		if (*s == '"' || *s == '\\') {
			char e[2] = {'\\', (char)*s};
			put(ctx, e, 2);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			char e[7];
			snprintf(e, sizeof e, "\\u%04x", *s);
			put(ctx, e, 6);
			s++;
		} else {
			int n = utf8_len(s);
			if (n) {
				put(ctx, (const char *)s, (size_t)n);
				s += n;
			} else {
				put(ctx, "\\ufffd", 6);
				s++;
			}
		}
	}
	put(ctx, "\"", 1);
}

static void put_buf(void *ctx, const char *s, size_t n)
{
	buf_add(ctx, s, n);
}

static void put_file(void *ctx, const char *s, size_t n)
{
	fwrite(s, 1, n, ctx);
}

void json_str_buf(struct buf *b, const char *s)
{
	escape(s, put_buf, b);
}

void json_str_file(FILE *f, const char *s)
{
	escape(s, put_file, f);
}

/* ---- reading ---- */

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/*
 * p at '"': the byte after the closing quote, or NULL for a bad string
 * (raw control byte, unknown escape, bad \u, lone surrogate). When out is
 * not NULL the decoded bytes go there (at most size-1 and a NUL); *fits is
 * cleared when they did not fit or held U+0000.
 */
static const char *str(const char *p, char *out, size_t size, int *fits)
{
	size_t n = 0;
	for (p++;; p++) {
		unsigned char c = (unsigned char)*p;
		char u[4];
		size_t k = 1;
		if (c == '"')
			break;
		if (c < 0x20)
			return NULL; /* NUL (end of text) included */
		u[0] = (char)c;
		if (c == '\\') {
			unsigned cp;
			switch (*++p) {
			case '"': case '\\': case '/': u[0] = *p; break;
			case 'b': u[0] = '\b'; break;
			case 'f': u[0] = '\f'; break;
			case 'n': u[0] = '\n'; break;
			case 'r': u[0] = '\r'; break;
			case 't': u[0] = '\t'; break;
			case 'u':
				if (hex4(p + 1, &cp) < 0)
					return NULL;
				p += 4;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return NULL;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					unsigned lo;
					if (p[1] != '\\' || p[2] != 'u' || hex4(p + 3, &lo) < 0 ||
					    lo < 0xdc00 || lo > 0xdfff)
						return NULL;
					p += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (cp == 0 && fits)
					*fits = 0;
				if (cp < 0x80)
					u[0] = (char)cp;
				else if (cp < 0x800)
					k = 2, u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f));
				else if (cp < 0x10000)
					k = 3, u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
					u[2] = (char)(0x80 | (cp & 0x3f));
				else
					k = 4, u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
					u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f));
				break;
			default:
				return NULL;
			}
		}
		if (out) {
			if (n + k < size)
				memcpy(out + n, u, k);
			else
				*fits = 0;
			n += k;
		}
	}
	if (out && size)
		out[n < size ? n : size - 1] = 0;
	return p + 1;
}

/* p at a number: the byte after it (RFC 8259 grammar), or NULL. */
static const char *number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (!(*++p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

/* p at a value (white space skipped): the byte after it, or NULL. */
static const char *value(const char *p, int depth)
{
	if (depth > JSON_MAXDEPTH)
		return NULL;
	switch (*p) {
	case '"':
		return str(p, NULL, 0, NULL);
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	case '[':
		p = ws(p + 1);
		if (*p == ']')
			return p + 1;
		for (;;) {
			if (!(p = value(p, depth + 1)))
				return NULL;
			p = ws(p);
			if (*p == ']')
				return p + 1;
			if (*p++ != ',')
				return NULL;
			p = ws(p);
		}
	case '{':
		p = ws(p + 1);
		if (*p == '}')
			return p + 1;
		for (;;) {
			if (*p != '"' || !(p = str(p, NULL, 0, NULL)))
				return NULL;
			p = ws(p);
			if (*p++ != ':')
				return NULL;
			if (!(p = value(ws(p), depth + 1)))
				return NULL;
			p = ws(p);
			if (*p == '}')
				return p + 1;
			if (*p++ != ',')
				return NULL;
			p = ws(p);
		}
	default:
		return number(p);
	}
}

/*
 * Validate js as one JSON object and find the top-level member key:
 * 1 with *val at its value, 0 absent, -1 invalid text or a duplicate key.
 */
static int member(const char *js, const char *key, const char **val)
{
	size_t klen = strlen(key);
	const char *p = ws(js);
	int found = 0;
	if (*p++ != '{')
		return -1;
	p = ws(p);
	if (*p == '}')
		p++;
	else
		for (;;) {
			const char *k = p + 1, *q;
			if (*p != '"' || !(q = str(p, NULL, 0, NULL)))
				return -1;
			if ((size_t)(q - 1 - k) == klen && !memcmp(k, key, klen)) {
				if (found++)
					return -1;
				*val = ws(ws(q) + 1);
			}
			p = ws(q);
			if (*p++ != ':')
				return -1;
			if (!(p = value(ws(p), 1)))
				return -1;
			p = ws(p);
			if (*p == '}') {
				p++;
				break;
			}
			if (*p++ != ',')
				return -1;
			p = ws(p);
		}
	if (*ws(p))
		return -1;
	return found;
}

int json_get_number(const char *js, const char *key, double *out)
{
	const char *v;
	char *end;
	double d;
	int r = member(js, key, &v);
	if (r <= 0)
		return r;
	if (!strncmp(v, "null", 4))
		return 0;
	if (!(*v == '-' || (*v >= '0' && *v <= '9')))
		return -1;
	d = strtod(v, &end);
	if (end != number(v) || !isfinite(d))
		return -1;
	*out = d;
	return 1;
}

int json_is_null(const char *js, const char *key)
{
	const char *v;
	int r = member(js, key, &v);
	if (r <= 0)
		return r;
	return !strncmp(v, "null", 4);
}

int json_get_bool(const char *js, const char *key, int *out)
{
	const char *v;
	int r = member(js, key, &v);
	if (r <= 0)
		return r;
	if (!strncmp(v, "null", 4))
		return 0;
	if (!strncmp(v, "true", 4))
		*out = 1;
	else if (!strncmp(v, "false", 5))
		*out = 0;
	else
		return -1;
	return 1;
}

int json_get_string(const char *js, const char *key, char *out, size_t size)
{
	const char *v;
	int fits = 1, r = member(js, key, &v);
	if (r <= 0)
		return r;
	if (!strncmp(v, "null", 4))
		return 0;
	if (*v != '"' || size == 0)
		return -1;
	str(v, out, size, &fits);
	return fits ? 1 : -1;
}

/* Top-level member under key that must be an array or object (its first
 * character open): 1 with *v at it, 0 absent or null, -1 another type or
 * invalid text. */
static int container(const char *js, const char *key, char open, const char **v)
{
	int r = member(js, key, v);
	if (r <= 0)
		return r;
	if (!strncmp(*v, "null", 4))
		return 0;
	return **v == open ? 1 : -1;
}

int json_get_array(const char *js, const char *key,
    int (*each)(const char *elem, size_t len, void *arg), void *arg)
{
	const char *v, *e;
	int r = container(js, key, '[', &v);
	if (r <= 0)
		return r;
	v = ws(v + 1);
	if (*v == ']')
		return 1;
	for (;;) {
		e = value(v, 2); /* valid: member() checked the whole text */
		if (each(v, (size_t)(e - v), arg) < 0)
			return -1;
		v = ws(e);
		if (*v == ']')
			return 1;
		v = ws(v + 1); /* the ',' */
	}
}

int json_get_object(const char *js, const char *key, char **out)
{
	const char *v, *e;
	int r = container(js, key, '{', &v);

	*out = NULL;
	if (r <= 0)
		return r;
	e = value(v, 2); /* valid: member() checked the whole text */
	*out = strndup(v, (size_t)(e - v));
	return *out ? 1 : -1;
}
