/*
 * log.c -- the logger: one of the two pieces of mutable global state pgperf
 * allows (the other is signal plumbing).
 */
#include "pgperf/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum log_level log_current_level = LOG_INFO;
static FILE *log_file; /* owned; NULL means stderr */

static const char *const level_names[] = {"ERROR", "WARNING", "LOG", "DEBUG",
					  "NOISE"};

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

bool log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} map[] = {{"error", LOG_ERROR}, {"warning", LOG_WARNING},
		   {"info", LOG_INFO},	 {"log", LOG_INFO},
		   {"debug", LOG_DEBUG}, {"noise", LOG_NOISE}};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (strcasecmp(s, map[i].name) == 0) {
			*out = map[i].level;
			return true;
		}
	}
	return false;
}

bool log_open(const char *path)
{
	FILE *f;

	if (!path || !*path) {
		log_close();
		return true;
	}
	f = fopen(path, "a");
	if (!f)
		return false;
	setvbuf(f, NULL, _IOLBF, 0);
	log_close();
	log_file = f;
	return true;
}

void log_close(void)
{
	if (log_file)
		fclose(log_file);
	log_file = NULL;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	va_list ap;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03d UTC [%d] %s ",
			      (int)(tv.tv_usec / 1000), (int)getpid(),
			      level_names[level]);
	va_start(ap, fmt);
	if (n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	fprintf(log_file ? log_file : stderr, "%s\n", line);
}
