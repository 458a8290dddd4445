/*
 * main.c -- the pgperf command line: options, daemonizing, the pid file.
 */
#include "proxy/bufpool.h"
#include "proxy/daemon.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pgperf [options] [CONFIG.ini]\n"
		"\n"
		"A PostgreSQL performance proxy: point DATABASE_URL at it.\n"
		"\n"
		"Options:\n"
		"  -d, --daemon           run in the background (needs logfile to log)\n"
		"  --upstream URL         proxy to postgresql://user:password@host:port/db\n"
		"                         without a config file; clients log in as that user\n"
		"  --upstream-file FILE   the same URL read from FILE's first line (or set\n"
		"                         PGPERF_UPSTREAM): keeps the password out of ps\n"
		"  --listen HOST:PORT     listen here (overrides listen_addr/listen_port)\n"
		"  -v, --verbose          more logging (repeat for more)\n"
		"  -q, --quiet            only warnings and errors\n"
		"  -t, --check            check the configuration and exit\n"
		"  -V, --version          print the version and exit\n"
		"  -h, --help             this help\n"
		"\n"
		"Signals: SIGHUP reloads the config, SIGTERM drains (no new clients, close\n"
		"each client once its transaction ends, then exit), SIGINT exits now.\n");
}

/*
 * The pid file is locked for as long as pgperf runs: a second instance
 * given the same file says who owns it and leaves it alone, and only the
 * owner removes it at exit.  The lock goes with the process, so a crash
 * leaves no lock behind (only the file, which the next start takes over).
 */
static int pidfile_fd = -1;
static char pidfile_path[4096];

static bool write_pidfile(const char *path, bool with_pid, char *err,
			  size_t errlen)
{
	char buf[32];
	int fd, n;

	if (!path || !*path)
		return true;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open pidfile %s: %s", path,
			 strerror(errno));
		return false;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		ssize_t got = read(fd, buf, sizeof(buf) - 1);

		buf[got > 0 ? got : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, errlen,
			 "pidfile %s is held by another pgperf (pid %s)", path,
			 *buf ? buf : "unknown");
		close(fd);
		return false;
	}
	/* in the background the pid is known after the fork: until then
	 * the file is empty (a reader sees no pid, not a stale one) */
	n = with_pid ? snprintf(buf, sizeof(buf), "%d\n", (int)getpid()) : 0;
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		snprintf(err, errlen, "cannot write pidfile %s: %s", path,
			 strerror(errno));
		close(fd);
		return false;
	}
	pidfile_fd = fd;
	snprintf(pidfile_path, sizeof(pidfile_path), "%s", path);
	return true;
}

/* After the fork into the background: the lock went along, the pid
 * changed. */
static bool update_pidfile(char *err, size_t errlen)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (pidfile_fd < 0)
		return true;
	if (ftruncate(pidfile_fd, 0) != 0 ||
	    pwrite(pidfile_fd, buf, (size_t)n, 0) != n) {
		snprintf(err, errlen, "cannot write pidfile %.900s: %s",
			 pidfile_path, strerror(errno));
		return false;
	}
	return true;
}

static void remove_pidfile(void)
{
	if (pidfile_fd < 0)
		return;
	unlink(pidfile_path);
	close(pidfile_fd);
	pidfile_fd = -1;
}

/*
 * With the kernel's autogroup scheduling, every process of a terminal
 * session shares one scheduling group.  A proxy in the same group as a
 * busy program (a load generator, a test suite) leaves PostgreSQL's
 * backends, in a group of their own, with a small share of the CPU the
 * proxy runs on: they sit runnable for 0.1-1.5 s at a time while the
 * other CPU idles (docs/performance.md).  Say so when it applies.
 */
static void note_scheduling_group(void)
{
	FILE *f = fopen("/proc/sys/kernel/sched_autogroup_enabled", "r");
	int c = f ? fgetc(f) : EOF;

	if (f)
		fclose(f);
	if (c == '1' && getsid(0) != getpid())
		log_info("pgperf shares the scheduling group of its session "
			 "(kernel autogroup): a busy program in the same "
			 "session can hold PostgreSQL's backends off the CPU "
			 "for 100 ms and more; run pgperf as a service, with "
			 "--daemon or under setsid (docs/performance.md)");
}

static bool daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return false;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return false;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid > 0)
		_exit(0);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return true;
}

/*
 * Overwrite the password of a URL given on the command line, so that ps
 * and /proc/PID/cmdline stop showing it once pgperf has read it (there is
 * a moment before that: --upstream-file or PGPERF_UPSTREAM have none).
 */
static void hide_password(char *url)
{
	char *p = strstr(url, "://"), *at, *colon;

	if (!p)
		return;
	p += 3;
	at = strchr(p, '@');
	colon = strchr(p, ':');
	if (!at || !colon || colon > at)
		return;
	for (char *q = colon + 1; q < at; q++)
		*q = '*';
}

/* The first line of a file, without its newline; NULL with errno set. */
static char *read_first_line(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	if (!f)
		return NULL;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		errno = EINVAL;
		return NULL;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return strdup(line);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"daemon", no_argument, NULL, 'd'},
		{"upstream", required_argument, NULL, 'u'},
		{"upstream-file", required_argument, NULL, 'U'},
		{"listen", required_argument, NULL, 'l'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"check", no_argument, NULL, 't'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *listen = NULL, *path = NULL;
	char *upstream = NULL;
	bool background = false, check_only = false;
	int verbose = 0, quiet = 0, ch, rc;
	struct config *cfg;
	struct pgperf *pp;
	char err[1024];

	bufpool_install(); /* before libevent allocates anything */
	while ((ch = getopt_long(argc, argv, "dvqtVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			background = true;
			break;
		case 'u':
			free(upstream);
			upstream = strdup(optarg);
			hide_password(optarg);
			break;
		case 'U':
			free(upstream);
			if (!(upstream = read_first_line(optarg))) {
				fprintf(stderr,
					"pgperf: cannot read --upstream-file %s: %s\n",
					optarg, strerror(errno));
				return 1;
			}
			break;
		case 'l':
			listen = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'q':
			quiet = 1;
			break;
		case 't':
			check_only = true;
			break;
		case 'V':
			printf("pgperf %s\n", PGPERF_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!upstream && getenv("PGPERF_UPSTREAM") &&
	    *getenv("PGPERF_UPSTREAM"))
		upstream = strdup(getenv("PGPERF_UPSTREAM"));
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "pgperf: unexpected argument \"%s\"\n",
			argv[optind]);
		usage(stderr);
		free(upstream);
		return 2;
	}

	cfg = daemon_build_config(path, upstream, listen, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "pgperf: %s\n", err);
		free(upstream);
		return 1;
	}
	if (verbose)
		cfg->log_level = cfg->log_level + verbose > LOG_NOISE
					 ? LOG_NOISE
					 : cfg->log_level + verbose;
	if (quiet)
		cfg->log_level = LOG_WARNING;
	if (check_only) {
		printf("pgperf: configuration is valid\n");
		config_free(cfg);
		free(upstream);
		return 0;
	}
	if (!log_open(cfg->logfile)) {
		fprintf(stderr, "pgperf: cannot open logfile %s: %s\n",
			cfg->logfile, strerror(errno));
		config_free(cfg);
		free(upstream);
		return 1;
	}
	pp = daemon_new(cfg, err, sizeof(err));
	if (!pp) {
		fprintf(stderr, "pgperf: %s\n", err);
		free(upstream);
		return 1;
	}
	pp->config_path = path ? strdup(path) : NULL;
	pp->upstream_url = upstream; /* owned by pp from here */
	pp->listen_override = listen ? strdup(listen) : NULL;
	/* before listening: a second pgperf must not touch the unix socket
	 * of the one that owns the pid file */
	if (!write_pidfile(pp->cfg->pidfile, !background, err, sizeof(err))) {
		log_error("%s", err);
		daemon_free(pp);
		return 1;
	}
	if (!daemon_listen(pp, err, sizeof(err))) {
		fprintf(stderr, "pgperf: %s\n", err);
		remove_pidfile();
		daemon_free(pp);
		return 1;
	}
	if (background) {
		if (!*pp->cfg->logfile)
			fprintf(stderr,
				"pgperf: warning: -d without logfile: logs are lost\n");
		if (!daemonize()) {
			fprintf(stderr, "pgperf: cannot daemonize: %s\n",
				strerror(errno));
			remove_pidfile();
			daemon_free(pp);
			return 1;
		}
		/* the event base must be told it now lives in another process */
		event_reinit(pp->base);
	}
	if (background && !update_pidfile(err, sizeof(err))) {
		log_error("%s", err);
		daemon_free(pp);
		return 1;
	}
	log_info("pgperf %s started (pid %d)", PGPERF_VERSION, (int)getpid());
	note_scheduling_group();
	rc = daemon_run(pp);
	remove_pidfile();
	log_info("pgperf exiting");
	daemon_free(pp);
	log_close();
	return rc;
}
