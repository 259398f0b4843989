#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *log_prog = "ipop";
static _Atomic int log_level = LOG_LVL_INFO;
static bool log_syslog;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_init(const char *progname, enum log_level level, bool use_syslog)
{
	log_prog = progname;
	log_level = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level) { log_level = level; }
enum log_level log_get_level(void) { return (enum log_level)log_level; }

int log_level_parse(const char *s)
{
	for (int i = 0; i <= LOG_LVL_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_syslog) {
		syslog(prio[level], "%s", line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%s]: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, log_prog, level_names[level], line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int)level > log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ms)
{
	if (rl->interval_ms && now_ms > rl->last_ms) {
		uint64_t add = (now_ms - rl->last_ms) / rl->interval_ms;
		if (add) {
			rl->tokens = add >= rl->burst ? rl->burst : rl->tokens + (uint32_t)add;
			if (rl->tokens > rl->burst)
				rl->tokens = rl->burst;
			rl->last_ms = now_ms;
		}
	}
	if (rl->tokens == 0) {
		rl->suppressed++;
		return false;
	}
	rl->tokens--;
	return true;
}
