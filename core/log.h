/*
 * log.h - one line per message on stderr, prefixed with the program name and level.
 *
 * The level is process-wide and set once by main() (--verbose raises it to debug).
 * Logging never exits and is safe from any thread (one fputs-sized write per line).
 */
#ifndef RL_LOG_H
#define RL_LOG_H

enum rl_log_level {
	RL_LOG_ERROR = 0,
	RL_LOG_WARN = 1,
	RL_LOG_INFO = 2,
	RL_LOG_DEBUG = 3,
};

/* Sets the program name shown before every line and the most verbose level printed. */
void rl_log_init(const char *prog, enum rl_log_level level);

/* Returns non-zero when messages of `level` are printed (to skip costly formatting). */
int rl_log_enabled(enum rl_log_level level);

/* Formats and prints one line ("prog: level: message\n") if `level` is enabled. */
__attribute__((format(printf, 2, 3))) void rl_log(enum rl_log_level level, const char *fmt, ...);

#define rl_err(...)   rl_log(RL_LOG_ERROR, __VA_ARGS__)
#define rl_warn(...)  rl_log(RL_LOG_WARN, __VA_ARGS__)
#define rl_info(...)  rl_log(RL_LOG_INFO, __VA_ARGS__)
#define rl_debug(...) rl_log(RL_LOG_DEBUG, __VA_ARGS__)

#endif
