/*
 * tap.h - a tiny Test Anything Protocol emitter for the C unit tests.
 *
 * Each test binary calls tap_plan() (or tap_done() at the end for a trailing plan),
 * then one tap_ok() per assertion; tap_exit() returns the process status meson expects
 * (0 when every assertion passed).  Header-only and static: every test includes it once.
 */
#ifndef RL_TAP_H
#define RL_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 2, 3), unused)) static int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		tap_failed++;
	return cond;
}

__attribute__((format(printf, 1, 2), unused)) static void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Prints the trailing plan line and returns the exit status: 0 all passed, 1 otherwise. */
static int tap_done(void)
{
	printf("1..%d\n", tap_count);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif
