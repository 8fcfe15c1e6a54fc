/*
 * test_json.c: unit tests of core/json (the one JSON string writer and the
 * strict flat-object reader) and core/buf (the growable buffer), with
 * known answers: hostile strings (quotes, control bytes, DEL, invalid and
 * overlong UTF-8, surrogates) must give exactly the expected literal; the
 * reader must find only top-level members, never look-alike keys inside
 * strings or nested values, and refuse malformed text. TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"

static int n, failed;

static void ok(int cond, const char *name)
{
	n++;
	if (!cond)
		failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, name);
}

/* json_str_buf and json_str_file both give want for in. */
static int esc_is(const char *in, const char *want)
{
	struct buf b = {0};
	char fbuf[512] = "";
	FILE *f = fmemopen(fbuf, sizeof fbuf, "w");
	int r;
	json_str_buf(&b, in);
	json_str_file(f, in);
	fclose(f);
	r = !b.oom && b.p && !strcmp(b.p, want) && !strcmp(fbuf, want);
	if (!r)
		fprintf(stderr, "# got %s / %s want %s\n", b.p ? b.p : "(null)", fbuf, want);
	buf_free(&b);
	return r;
}

/* json_get_array callback: the elements' texts joined by '|' into arg
 * (a char[128]); a negative result for the element "stop". */
static int collect(const char *elem, size_t len, void *arg)
{
	char *out = arg;
	size_t k = strlen(out);
	if (len == 6 && !memcmp(elem, "\"stop\"", 6))
		return -1;
	if (k + len + 2 > 128)
		return -1;
	if (k)
		out[k++] = '|';
	memcpy(out + k, elem, len);
	out[k + len] = 0;
	return 0;
}

static int num(const char *js, const char *key, double want)
{
	double v = -12345;
	return json_get_number(js, key, &v) == 1 && v == want;
}

int main(void)
{
	double v;
	int bv;
	char s[16];

	ok(esc_is("plain.hdf5", "\"plain.hdf5\""), "escape: plain");
	ok(esc_is(NULL, "\"\"") && esc_is("", "\"\""), "escape: NULL and empty");
	ok(esc_is("a\"b\\c/d", "\"a\\\"b\\\\c/d\""), "escape: quote and backslash");
	ok(esc_is("nl\nx\ttab\x01\x1f\x7f", "\"nl\\u000ax\\u0009tab\\u0001\\u001f\\u007f\""),
	    "escape: control bytes and DEL as \\u00XX");
	ok(esc_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa1", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa1\""),
	    "escape: valid UTF-8 kept");
	ok(esc_is("bad\xff\xc3(\xed\xa0\x80\xc0\xaf", "\"bad\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\""),
	    "escape: invalid, surrogate and overlong bytes each U+FFFD");
	ok(esc_is("\xf4\x90\x80\x80\xe2\x82", "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\""),
	    "escape: above U+10FFFF and truncated sequences");
	ok(esc_is("\",\"pass\":true,\"x\":\"", "\"\\\",\\\"pass\\\":true,\\\"x\\\":\\\"\""),
	    "escape: an injected member stays inside the string");

	ok(num("{\"n\": 1761307503}", "n", 1761307503), "number: top level");
	ok(num("{\"n\": -0.5e2}", "n", -50) && num("{\"n\":0}", "n", 0), "number: sign, fraction, exponent, zero");
	ok(num(" {\"groups\":[{\"n\":1},{\"a\":\"}\"}],\"s\":\"\\\"n\\\": 2\",\"n\" : 3.5 } \n", "n", 3.5),
	    "number: nested and quoted look-alikes skipped");
	ok(json_get_number("{\"a\":{\"n\":7}}", "n", &v) == 0, "number: a nested key is not a top-level one");
	ok(json_get_number("{\"n\": null}", "n", &v) == 0 && json_get_number("{}", "n", &v) == 0,
	    "number: null or absent is 0");
	ok(json_get_number("{\"nn\": 1, \"n_\": 2}", "n", &v) == 0, "number: keys that only start alike");
	ok(json_get_number("{\"n\": 1, \"n\": 2}", "n", &v) == -1, "number: a duplicate key is an error");
	ok(json_get_number("{\"n\": \"5\"}", "n", &v) == -1 && json_get_number("{\"n\": true}", "n", &v) == -1,
	    "number: a string or boolean is not a number");
	ok(json_get_number("{\"n\": 01}", "n", &v) == -1 && json_get_number("{\"n\": 1.}", "n", &v) == -1 &&
	       json_get_number("{\"n\": 0x10}", "n", &v) == -1 && json_get_number("{\"n\": 1e999}", "n", &v) == -1 &&
	       json_get_number("{\"n\": NaN}", "n", &v) == -1 && json_get_number("{\"n\": -}", "n", &v) == -1,
	    "number: leading zero, bare dot, hex, overflow, NaN refused");
	ok(json_get_number("[1]", "n", &v) == -1 && json_get_number("", "n", &v) == -1 &&
	       json_get_number("{\"a\": \"unterminated}", "n", &v) == -1 &&
	       json_get_number("{\"a\" 1}", "n", &v) == -1 && json_get_number("{\"a\": 1 \"n\": 2}", "n", &v) == -1 &&
	       json_get_number("{\"n\": 1,}", "n", &v) == -1 && json_get_number("{\"n\": 1} x", "n", &v) == -1 &&
	       json_get_number("{\"n\": 1, \"b\": [1,]}", "n", &v) == -1 &&
	       json_get_number("{\"n\": 1, \"b\": \"\\q\"}", "n", &v) == -1 &&
	       json_get_number("{\"n\": 1, \"b\": \"a\tb\"}", "n", &v) == -1 &&
	       json_get_number("{\"n\": 1, \"b\": tru}", "n", &v) == -1,
	    "syntax: not an object, unterminated, missing colon or comma, trailing comma or text, bad escape, raw tab, bad literal");
	{
		char deep[300];
		int i;
		strcpy(deep, "{\"n\":1,\"d\":");
		for (i = 0; i < 70; i++)
			strcat(deep, "[");
		for (i = 0; i < 70; i++)
			strcat(deep, "]");
		strcat(deep, "}");
		ok(json_get_number(deep, "n", &v) == -1, "syntax: nesting deeper than 64 refused");
	}

	ok(json_get_bool("{\"checks\":[{\"pass\":false}],\"pass\": true}", "pass", &bv) == 1 && bv == 1,
	    "bool: the top-level member, not the nested one");
	ok(json_is_null("{\"n\": null}", "n") == 1 && json_is_null("{\"n\": 0}", "n") == 0 &&
	       json_is_null("{}", "n") == 0 && json_is_null("{\"n\": nul}", "n") == -1,
	    "null: null, a value, absent, invalid");
	ok(json_get_bool("{\"pass\":false}", "pass", &bv) == 1 && bv == 0, "bool: false");
	ok(json_get_bool("{\"pass\":\"true\"}", "pass", &bv) == -1 && json_get_bool("{\"pass\":1}", "pass", &bv) == -1,
	    "bool: a string or number is not a boolean");

	ok(json_get_string("{\"s\":\"a\\\"b\\\\c\\/d\\n\"}", "s", s, sizeof s) == 1 && !strcmp(s, "a\"b\\c/d\n"),
	    "string: escapes decoded");
	ok(json_get_string("{\"s\":\"\\u00e9\\u20ac\\ud83d\\udce1\"}", "s", s, sizeof s) == 1 &&
	       !strcmp(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa1"),
	    "string: \\u escapes and a surrogate pair to UTF-8");
	ok(json_get_string("{\"s\":\"\\ud83d\"}", "s", s, sizeof s) == -1 &&
	       json_get_string("{\"s\":\"\\udce1\"}", "s", s, sizeof s) == -1 &&
	       json_get_string("{\"s\":\"\\u12g4\"}", "s", s, sizeof s) == -1,
	    "string: lone surrogates and bad hex refused");
	ok(json_get_string("{\"s\":\"a\\u0000b\"}", "s", s, sizeof s) == -1, "string: U+0000 refused");
	ok(json_get_string("{\"s\":\"0123456789abcdef\"}", "s", s, sizeof s) == -1 &&
	       json_get_string("{\"s\":\"0123456789abcde\"}", "s", s, sizeof s) == 1 && !strcmp(s, "0123456789abcde"),
	    "string: too long refused, exactly fitting kept");
	ok(json_get_string("{\"x\":\"\\\",\\\"s\\\":\\\"evil\",\"s\":\"good\"}", "s", s, sizeof s) == 1 &&
	       !strcmp(s, "good"),
	    "string: a member injected inside another string is not a member");
	ok(json_get_string("{\"s\":5}", "s", s, sizeof s) == -1, "string: a number is not a string");

	{
		char a[128] = "";
		ok(json_get_array("{\"x\":[1],\"a\": [ {\"name\":\"a,]\"} , \"s\",[2, 3] ,null ]}", "a", collect, a) == 1 &&
		       !strcmp(a, "{\"name\":\"a,]\"}|\"s\"|[2, 3]|null"),
		    "array: each element's text in order, white space around it dropped");
		a[0] = 0;
		ok(json_get_array("{\"a\":[]}", "a", collect, a) == 1 && !*a, "array: empty");
		ok(json_get_array("{\"a\":null}", "a", collect, a) == 0 && json_get_array("{}", "a", collect, a) == 0 &&
		       json_get_array("{\"b\":{\"a\":[1]}}", "a", collect, a) == 0 && !*a,
		    "array: null, absent or nested is 0");
		ok(json_get_array("{\"a\":\"[1]\"}", "a", collect, a) == -1 &&
		       json_get_array("{\"a\":{\"b\":1}}", "a", collect, a) == -1 && !*a,
		    "array: a string or object is not an array");
		ok(json_get_array("{\"a\":[1,]}", "a", collect, a) == -1 &&
		       json_get_array("{\"a\":[1], \"b\": tru}", "a", collect, a) == -1 &&
		       json_get_array("{\"a\":[1], \"a\": [2]}", "a", collect, a) == -1 && !*a,
		    "array: invalid text or a duplicate key refused before any element");
		ok(json_get_array("{\"a\":[1,\"stop\",2]}", "a", collect, a) == -1 && !strcmp(a, "1"),
		    "array: a callback's refusal stops the walk");
	}

	{
		struct buf b = {0};
		char big[3000], *t;
		memset(big, 'x', sizeof big - 1);
		big[sizeof big - 1] = 0;
		buf_printf(&b, "%s|%d", big, 42);
		buf_puts(&b, "!");
		ok(!b.oom && b.n == sizeof big + 3 && !strcmp(b.p + sizeof big - 1, "|42!"),
		    "buf: long formatted output and appends");
		t = buf_take(&b);
		ok(t && strlen(t) == sizeof big + 3 && !b.p && b.n == 0, "buf: take hands over the contents");
		free(t);
		t = buf_take(&b);
		ok(t && !*t, "buf: take of an empty buffer is \"\"");
		free(t);
		b.oom = 1;
		buf_puts(&b, "x");
		ok(!b.p && !buf_take(&b) && !b.oom, "buf: after out of memory appends are ignored, take gives NULL");
	}

	printf("1..%d\n", n);
	return failed != 0;
}
