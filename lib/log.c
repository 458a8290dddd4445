/*
 * log.c -- the logger: one of the two pieces of mutable global state pgperf
 * allows (the other is signal plumbing).
 */
#include "lib/log.h"

#include <fcntl.h>
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
	int fd;

	if (!path || !*path) {
		log_close();
		return true;
	}
	/* created 0640 whatever umask pgperf inherited: client addresses,
	 * user names and statements' shapes are not for every local user */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return false;
	f = fdopen(fd, "a");
	if (!f) {
		close(fd);
		return false;
	}
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

/*
 * Copy `msg` into `dst` (room for `cap` bytes) with every control
 * character written as \xNN, so that a name from a startup packet or a
 * statement's text cannot start a fake log line or send escape sequences
 * to whoever tails the log.  Returns the length written.
 */
static size_t escape_into(char *dst, size_t cap, const char *msg)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p >= 0x20 && *p != 0x7f) {
			if (o + 1 >= cap)
				break;
			dst[o++] = (char)*p;
		} else {
			if (o + 4 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[*p >> 4];
			dst[o++] = hex[*p & 15];
		}
	}
	dst[o] = '\0';
	return o;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	char line[2048], msg[2048];
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
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < sizeof(line))
		escape_into(line + n, sizeof(line) - n, msg);
	fprintf(log_file ? log_file : stderr, "%s\n", line);
}
