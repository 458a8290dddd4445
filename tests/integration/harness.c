/*
 * harness.c -- see harness.h.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct harness_env H;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

void harness_init(void)
{
	const char *path = getenv("PGPERF_ITEST_ENV");
	FILE *f;
	char line[1024];

	signal(SIGPIPE, SIG_IGN);
	if (!path)
		die("PGPERF_ITEST_ENV is not set: run through ctest%s", "");
	f = fopen(path, "r");
	if (!f)
		die("cannot open %s: did the fixture run?", path);
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '='), *nl = strchr(line, '\n');

		if (!eq)
			continue;
		if (nl)
			*nl = '\0';
		*eq++ = '\0';
#define SET(name, field)             \
	if (strcmp(line, name) == 0) \
	snprintf(H.field, sizeof(H.field), "%s", eq)
		if (strcmp(line, "PG_PORT") == 0)
			H.pg_port = atoi(eq);
		SET("PG_DIR", pg_dir);
		SET("TLS_CERT", tls_cert);
		SET("TLS_KEY", tls_key);
		SET("WORK_DIR", work_dir);
		SET("PGPERF_BIN", pgperf_bin);
		SET("PGPERF_CTL", pgperf_ctl);
		SET("ROOT_DIR", root_dir);
#undef SET
	}
	fclose(f);
	if (!H.pg_port)
		die("bad env file %s", path);
}

/*
 * A port nothing uses right now, below the ephemeral range (32768+) so
 * that outgoing connections do not take it before pgperf binds it.
 */
static int free_port(void)
{
	static unsigned seed;

	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	for (int i = 0; i < 200; i++) {
		struct sockaddr_in a;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int port = 20000 + (int)(rand_r(&seed) % 12000);

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(fd);
			return port;
		}
		close(fd);
	}
	return 0;
}

static bool port_open(int port)
{
	int fd = raw_connect(port);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool proxy_start_once(struct proxy *p, const char *pgperf_extra,
			     const char *dbs_extra);

/*
 * The free port can be taken between our check and pgperf's bind (by an
 * outgoing connection's ephemeral port): try a few ports before failing.
 */
bool proxy_start(struct proxy *p, const char *pgperf_extra,
		 const char *dbs_extra)
{
	for (int attempt = 0; attempt < 3; attempt++)
		if (proxy_start_once(p, pgperf_extra, dbs_extra))
			return true;
	return false;
}

static bool proxy_start_once(struct proxy *p, const char *pgperf_extra,
			     const char *dbs_extra)
{
	static int seq;
	char users[700];
	FILE *f;

	memset(p, 0, sizeof(*p));
	p->port = free_port();
	snprintf(p->dir, sizeof(p->dir), "%s/proxy-%d-%d", H.work_dir,
		 (int)getpid(), ++seq);
	mkdir(p->dir, 0700);
	snprintf(p->config, sizeof(p->config), "%s/pgperf.ini", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/pgperf.log", p->dir);
	snprintf(users, sizeof(users), "%s/users.txt", p->dir);
	f = fopen(users, "w");
	if (!f)
		return false;
	fprintf(f, "\"app\" \"app-secret\"\n"
		   "\"md5user\" \"md5-secret\"\n"
		   "\"admin\" \"admin-secret\"\n"
		   "\"stats\" \"stats-secret\"\n"
		   /* "\u FB01 le": SASLprep makes it "file" */
		   "\"prepuser\" \"\xef\xac\x81le\"\n");
	fclose(f);
	chmod(users, 0600);
	f = fopen(p->config, "w");
	if (!f)
		return false;
	fprintf(f,
		"[databases]\n"
		"appdb = host=127.0.0.1 port=%d dbname=appdb\n"
		"%s\n"
		"[pgperf]\n"
		"listen_addr = 127.0.0.1\n"
		"listen_port = %d\n"
		"auth_file = users.txt\n"
		"admin_users = admin\n"
		"stats_users = stats\n"
		"server_tls_sslmode = disable\n"
		"min_pool_size = 0\n"
		"log_level = debug\n"
		"%s\n",
		H.pg_port, dbs_extra ? dbs_extra : "", p->port,
		pgperf_extra ? pgperf_extra : "");
	fclose(f);
	p->pid = fork();
	if (p->pid == 0) {
		int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* never outlive the test program, even when it crashes */
		prctl(PR_SET_PDEATHSIG, SIGKILL);

		dup2(fd, 2);
		dup2(fd, 1);
		/* PGPERF_WRAPPER runs pgperf under a tool, e.g. valgrind */
		if (getenv("PGPERF_WRAPPER") && *getenv("PGPERF_WRAPPER")) {
			char cmd[2048];

			snprintf(cmd, sizeof(cmd), "exec %s '%s' '%s'",
				 getenv("PGPERF_WRAPPER"), H.pgperf_bin,
				 p->config);
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		} else {
			execl(H.pgperf_bin, "pgperf", p->config, (char *)NULL);
		}
		_exit(127);
	}
	for (int i = 0; i < 3000; i++) {
		int status;

		if (port_open(p->port))
			return true;
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return false;
		}
		usleep(10000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
	return false;
}

int proxy_stop(struct proxy *p, int sig)
{
	int status;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	for (int i = 0; i < 1500; i++) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status)
						 : 128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	return -1;
}

const char *proxy_ctl(const struct proxy *p, const char *user,
		      const char *password, const char *args, int *status)
{
	static char out[65536];
	char cmd[2048];
	FILE *f;
	size_t n;
	int rc;

	snprintf(cmd, sizeof(cmd),
		 "PGPASSWORD='%s' '%s' -h 127.0.0.1 -p %d -U %s %s 2>&1",
		 password, H.pgperf_ctl, p->port, user, args);
	f = popen(cmd, "r");
	if (!f) {
		*status = -1;
		return "";
	}
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	rc = pclose(f);
	*status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	return out;
}

PGconn *proxy_connect(const struct proxy *p, const char *user,
		      const char *password, const char *db, const char *extra)
{
	char ci[1024];

	snprintf(
		ci, sizeof(ci),
		"host=127.0.0.1 port=%d user=%s password=%s dbname=%s connect_timeout=10 %s",
		p->port, user, password, db, extra ? extra : "");
	return PQconnectdb(ci);
}

PGconn *pg_connect_direct(void)
{
	char ci[512];

	snprintf(
		ci, sizeof(ci),
		"host=127.0.0.1 port=%d user=app password=app-secret dbname=appdb sslmode=disable connect_timeout=10",
		H.pg_port);
	return PQconnectdb(ci);
}

const char *q1(PGconn *c, const char *sql)
{
	static char val[8192];
	PGresult *r = PQexec(c, sql);

	val[0] = '\0';
	if (PQresultStatus(r) != PGRES_TUPLES_OK &&
	    PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "query failed: %s: %s", sql, PQerrorMessage(c));
		PQclear(r);
		return NULL;
	}
	if (PQntuples(r) > 0 && PQnfields(r) > 0)
		snprintf(val, sizeof(val), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return val;
}

const char *result_sqlstate(PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

bool proxy_log_contains(const struct proxy *p, const char *needle)
{
	FILE *f = fopen(p->log, "r");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

int proc_fd_count(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

long proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int pg_count_app_backends(void)
{
	PGconn *d = pg_connect_direct();
	const char *v =
		q1(d, "select count(*) from pg_stat_activity "
		      "where usename = 'app' and pid <> pg_backend_pid()");
	int n = v ? atoi(v) : -1;

	PQfinish(d);
	return n;
}

bool wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (cond(arg))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 +
			    (now.tv_nsec - t0.tv_nsec) / 1000000 >=
		    timeout_ms)
			return false;
		usleep(20000);
	}
}

/* One count(*) from pg_stat_activity, straight from PostgreSQL. */
static int activity_count(const char *where, const char *arg)
{
	const char *vals[1] = {arg};
	char sql[256];
	PGconn *d = pg_connect_direct();
	PGresult *r;
	int n = -1;

	snprintf(sql, sizeof(sql),
		 "select count(*) from pg_stat_activity where %s", where);
	r = PQexecParams(d, sql, 1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		n = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(d);
	return n;
}

static bool running_cond(void *arg)
{
	return activity_count("state = 'active' and query like $1 and "
			      "pid <> pg_backend_pid()",
			      arg) > 0;
}

bool pg_wait_running(const char *pattern, int timeout_ms)
{
	return wait_until(running_cond, (void *)pattern, timeout_ms);
}

static bool gone_cond(void *arg)
{
	return activity_count("pid = $1::int", arg) == 0;
}

bool pg_wait_backend_gone(const char *pid, int timeout_ms)
{
	return wait_until(gone_cond, (void *)pid, timeout_ms);
}

struct ctl_wait {
	const struct proxy *p;
	const char *args, *needle;
	bool present;
};

static bool ctl_cond(void *arg)
{
	const struct ctl_wait *w = arg;
	int st;
	const char *out =
		proxy_ctl(w->p, "admin", "admin-secret", w->args, &st);

	return st == 0 && (strstr(out, w->needle) != NULL) == w->present;
}

bool proxy_ctl_wait(const struct proxy *p, const char *args, const char *needle,
		    bool present, int timeout_ms)
{
	struct ctl_wait w = {p, args, needle, present};

	return wait_until(ctl_cond, &w, timeout_ms);
}

struct log_wait {
	const struct proxy *p;
	const char *needle;
};

static bool log_cond(void *arg)
{
	const struct log_wait *w = arg;

	return proxy_log_contains(w->p, w->needle);
}

bool proxy_wait_log(const struct proxy *p, const char *needle, int timeout_ms)
{
	struct log_wait w = {p, needle};

	return wait_until(log_cond, &w, timeout_ms);
}

bool pg_restart(void)
{
	char cmd[4096];

	snprintf(
		cmd, sizeof(cmd),
		"'%s/scripts/throwaway-pg.sh' stop '%s' && '%s/scripts/throwaway-pg.sh' start '%s' %d",
		H.root_dir, H.pg_dir, H.root_dir, H.pg_dir, H.pg_port);
	return system(cmd) == 0;
}

/* ---- raw sockets ---- */

int raw_connect(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

bool raw_send(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

static bool read_exact(int fd, void *buf, size_t n, int timeout_ms)
{
	uint8_t *b = buf;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (n > 0) {
		ssize_t r;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		r = recv(fd, b, n, 0);
		if (r <= 0)
			return false;
		b += r;
		n -= (size_t)r;
	}
	return true;
}

bool raw_read_msg(int fd, char *type, uint8_t *body, size_t cap, uint32_t *len,
		  int timeout_ms)
{
	uint8_t hdr[5];
	uint32_t n;

	if (!read_exact(fd, hdr, 5, timeout_ms))
		return false;
	n = ((uint32_t)hdr[1] << 24) | ((uint32_t)hdr[2] << 16) |
	    ((uint32_t)hdr[3] << 8) | hdr[4];
	if (n < 4 || n - 4 > cap)
		return false;
	*type = (char)hdr[0];
	*len = n - 4;
	return read_exact(fd, body, n - 4, timeout_ms);
}

const char *raw_expect_error(int fd, int timeout_ms)
{
	static char state[6];
	static uint8_t body[65536];
	char type;
	uint32_t len;

	while (raw_read_msg(fd, &type, body, sizeof(body), &len, timeout_ms)) {
		size_t i = 0;

		if (type != 'E')
			continue;
		while (i < len && body[i]) {
			char code = (char)body[i++];
			const char *val = (const char *)body + i;

			if (code == 'C') {
				snprintf(state, sizeof(state), "%s", val);
				return state;
			}
			i += strlen(val) + 1;
		}
		return NULL;
	}
	return NULL;
}

bool raw_wait_closed(int fd, int timeout_ms)
{
	uint8_t buf[4096];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms -
		       (int)((now.tv_sec - start.tv_sec) * 1000 +
			     (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return false;
		if (recv(fd, buf, sizeof(buf), 0) <= 0)
			return true;
	}
}

size_t raw_startup(uint8_t *buf, const char *user, const char *db)
{
	size_t n = 8;

	buf[4] = 0;
	buf[5] = 3;
	buf[6] = 0;
	buf[7] = 0;
	n += (size_t)sprintf((char *)buf + n, "user") + 1;
	n += (size_t)sprintf((char *)buf + n, "%s", user) + 1;
	n += (size_t)sprintf((char *)buf + n, "database") + 1;
	n += (size_t)sprintf((char *)buf + n, "%s", db) + 1;
	buf[n++] = 0;
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	return n;
}

bool raw_login(int fd, const char *user, const char *db)
{
	uint8_t buf[512];
	static uint8_t body[65536];
	size_t n = raw_startup(buf, user, db);
	char type;
	uint32_t len;

	if (!raw_send(fd, buf, n))
		return false;
	while (raw_read_msg(fd, &type, body, sizeof(body), &len, 5000)) {
		if (type == 'Z')
			return true;
		if (type == 'E')
			return false;
	}
	return false;
}
