/*
 * test_loadgen_json.c - the JSON writer: strings are escaped so that any input bytes give
 * valid JSON (quotes, backslashes, control characters, invalid UTF-8), nesting and commas
 * come out right, non-finite doubles become null.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

/* Writes s as a JSON string and returns the text (static buffer). */
static const char *esc(const char *s)
{
	static char buf[256];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	lg_json_write_string(f, s);
	fclose(f);
	return buf;
}

static int is(const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	tap_diag("got  %s", got);
	tap_diag("want %s", want);
	return 0;
}

int main(void)
{
	char doc[1024];
	struct lg_json j;
	FILE *f;
	int rc;

	tap_ok(is(esc("plain"), "\"plain\""), "plain string");
	tap_ok(is(esc("a\"b\\c"), "\"a\\\"b\\\\c\""), "quote and backslash");
	tap_ok(is(esc("l1\nl2\t\r\b\f"), "\"l1\\nl2\\t\\r\\b\\f\""), "named control characters");
	tap_ok(is(esc("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\""), "other control characters");
	tap_ok(is(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""),
	       "valid UTF-8 passes through");
	tap_ok(is(esc("x\xff\xc3y"), "\"x\\ufffd\\ufffdy\""), "invalid bytes become U+FFFD");
	tap_ok(is(esc("\xc0\xaf"), "\"\\ufffd\\ufffd\""), "overlong encodings are refused");
	tap_ok(is(esc("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\""), "surrogates are refused");

	f = fmemopen(doc, sizeof(doc), "w");
	lg_json_init(&j, f);
	lg_json_object(&j, NULL);
	lg_json_str(&j, "s", "v");
	lg_json_uint(&j, "u", 18446744073709551615ull);
	lg_json_int(&j, "i", -5);
	lg_json_double(&j, "d", 0.5);
	lg_json_double(&j, "nan", NAN);
	lg_json_bool(&j, "b", true);
	lg_json_str(&j, "n", NULL);
	lg_json_array(&j, "a");
	lg_json_uint(&j, NULL, 1);
	lg_json_object(&j, NULL);
	lg_json_end_object(&j);
	lg_json_array(&j, NULL);
	lg_json_end_array(&j);
	lg_json_end_array(&j);
	lg_json_end_object(&j);
	rc = lg_json_finish(&j);
	fclose(f);
	tap_ok(rc == 0, "balanced document finishes cleanly");
	tap_ok(is(doc, "{\n  \"s\": \"v\",\n  \"u\": 18446744073709551615,\n  \"i\": -5,\n"
		       "  \"d\": 0.5,\n  \"nan\": null,\n  \"b\": true,\n  \"n\": null,\n"
		       "  \"a\": [\n    1,\n    {},\n    []\n  ]\n}\n"),
	       "members, commas, nesting and indentation");

	f = fmemopen(doc, sizeof(doc), "w");
	lg_json_init(&j, f);
	lg_json_object(&j, NULL);
	rc = lg_json_finish(&j);
	fclose(f);
	tap_ok(rc < 0, "an unclosed object is reported");
	return tap_done();
}
