/*
 * log.h -- leveled logging to stderr or a file.  The level is checked before
 * any formatting.  Log lines about a connection name it through its label
 * ("C-12 appdb/alice@127.0.0.1:50122").  Never pass secrets or literal query
 * values at INFO or above.
 */
#ifndef PGPERF_LOG_H
#define PGPERF_LOG_H

#include "lib/common.h"

enum log_level { LOG_ERROR = 0, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_NOISE };

extern enum log_level log_current_level;

void log_write(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Send output to `path` (append), or stderr when NULL.  Returns false on error. */
bool log_open(const char *path);
void log_close(void);
bool log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

#define log_at(lvl, ...)                               \
	do {                                           \
		if (log_current_level >= (lvl))        \
			log_write((lvl), __VA_ARGS__); \
	} while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_at(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_noise(...) log_at(LOG_NOISE, __VA_ARGS__)

/* Log about a client or server: anything embedding a `struct conn c`. */
#define clog_at(lvl, conn, fmt, ...) \
	log_at((lvl), "%s: " fmt, (conn)->c.label, ##__VA_ARGS__)
#define clog_error(conn, ...) clog_at(LOG_ERROR, conn, __VA_ARGS__)
#define clog_warning(conn, ...) clog_at(LOG_WARNING, conn, __VA_ARGS__)
#define clog_info(conn, ...) clog_at(LOG_INFO, conn, __VA_ARGS__)
#define clog_debug(conn, ...) clog_at(LOG_DEBUG, conn, __VA_ARGS__)
#define clog_noise(conn, ...) clog_at(LOG_NOISE, conn, __VA_ARGS__)

#endif
