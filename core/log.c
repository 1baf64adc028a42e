/*
 * log.c - stderr logging with a process-wide level (see log.h).
 *
 * Each line is formatted into a local buffer and written with one write(2), so lines from
 * different threads never interleave mid-line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_prog = "ringlab";
static enum rl_log_level log_level = RL_LOG_INFO;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void rl_log_init(const char *prog, enum rl_log_level level)
{
	const char *slash = strrchr(prog, '/');

	log_prog = slash ? slash + 1 : prog;
	log_level = level;
}

int rl_log_enabled(enum rl_log_level level)
{
	return level <= log_level;
}

void rl_log(enum rl_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n, m;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "%s: %s: ", log_prog, level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
