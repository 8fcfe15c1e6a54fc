/*
 * json.h: the one JSON string writer and the one flat-JSON reader.
 *
 * Writing: every JSON report (status, alerts, audit, QA, check, watch
 * state, calibration) quotes its strings here, so hostile file names and
 * messages always give valid JSON. '"' and '\' are backslash-escaped;
 * control bytes (0x00-0x1f) and DEL (0x7f) become \u00XX; valid UTF-8 is
 * copied as it is; every byte that does not start a well-formed UTF-8
 * sequence (stray continuation bytes, overlong forms, surrogates, code
 * points above U+10FFFF, truncated sequences) becomes \ufffd, one per byte.
 * So the output is always valid UTF-8 and valid JSON, and a valid input
 * round-trips exactly.
 *
 * Reading: programs exchange small JSON objects (state/plan.json,
 * qa.json); they need one member of the top-level object, never a full
 * DOM. json_get_* validate the WHOLE text strictly (RFC 8259 grammar:
 * numbers, string escapes, literals, nesting up to 64 levels, nothing but
 * white space after the object) and look only at members of the top-level
 * object: keys inside nested values or inside strings never match. Keys
 * are compared byte for byte as written between the quotes. A key that
 * appears twice at the top level is an error (which one is meant is
 * ambiguous, and a second copy is how hostile text would override the
 * first). Results: 1 found (value stored), 0 absent or null, -1 the text
 * is not a valid JSON object or the value has another type.
 */
#ifndef UVM_JSON_H
#define UVM_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "core/buf.h"

/* Append s (NULL as "") to b as a JSON string literal, quotes included. */
void json_str_buf(struct buf *b, const char *s);
/* Write s (NULL as "") to f as a JSON string literal (stdio errors are
 * left in f's error flag for the caller's final check). */
void json_str_file(FILE *f, const char *s);

/* Top-level number under key: finite values only. */
int json_get_number(const char *js, const char *key, double *out);
/* 1 when the top-level member key is null, 0 when absent or not null,
 * -1 for invalid text (tells "absent" from "null" after json_get_*). */
int json_is_null(const char *js, const char *key);
/* Top-level boolean under key: *out 1 or 0. */
int json_get_bool(const char *js, const char *key, int *out);
/* Top-level string under key, unescaped into out (size bytes with the
 * NUL); -1 when it does not fit or contains \u0000. */
int json_get_string(const char *js, const char *key, char *out, size_t size);
/*
 * Top-level array under key: each(elem, len, arg) is called for its
 * elements in order, elem at the element's text (len bytes, one complete,
 * already validated JSON value, not NUL-terminated). A negative result of
 * each stops the walk and gives -1. An empty array calls nothing and gives 1.
 */
int json_get_array(const char *js, const char *key,
    int (*each)(const char *elem, size_t len, void *arg), void *arg);
/*
 * Top-level object under key: *out a malloc'd, NUL-terminated copy of its
 * text (a valid JSON object, for json_get_* in turn); NULL when absent or
 * null. -1 for another type, invalid text, or no memory.
 */
int json_get_object(const char *js, const char *key, char **out);

#endif
