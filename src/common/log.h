/* Logging: levels, a process-name prefix, stderr or syslog, and a rate
 * limit for messages that remote input can trigger. */
#ifndef IPOP_LOG_H
#define IPOP_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *progname, enum log_level level, bool use_syslog);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 when unknown. */
int log_level_parse(const char *s);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints and exits with status 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                          \
	do {                                                    \
		if (log_get_level() >= LOG_LVL_DEBUG)           \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);    \
	} while (0)

/* A token bucket for log lines: at most `burst` lines, refilled at one per
 * `interval_ms`. log_ratelimit_ok() takes the current monotonic time. */
struct log_ratelimit {
	uint64_t last_ms;
	uint32_t tokens, burst, interval_ms;
	uint64_t suppressed;
};
#define LOG_RATELIMIT_INIT(burst_, interval_ms_) { 0, (burst_), (burst_), (interval_ms_), 0 }
bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ms);

#endif
