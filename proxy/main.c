/*
 * main.c -- the pgperf command line: options, daemonizing, the pid file.
 */
#include "pgperf/bufpool.h"
#include "pgperf/daemon.h"
#include "pgperf/log.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static bool write_pidfile(const char *path)
{
	FILE *f;

	if (!path || !*path)
		return true;
	f = fopen(path, "w");
	if (!f)
		return false;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) == 0;
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"daemon", no_argument, NULL, 'd'},
		{"upstream", required_argument, NULL, 'u'},
		{"listen", required_argument, NULL, 'l'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"check", no_argument, NULL, 't'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *upstream = NULL, *listen = NULL, *path = NULL;
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
			upstream = optarg;
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
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "pgperf: unexpected argument \"%s\"\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}

	cfg = daemon_build_config(path, upstream, listen, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "pgperf: %s\n", err);
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
		return 0;
	}
	if (!log_open(cfg->logfile)) {
		fprintf(stderr, "pgperf: cannot open logfile %s: %s\n",
			cfg->logfile, strerror(errno));
		config_free(cfg);
		return 1;
	}
	pp = daemon_new(cfg, err, sizeof(err));
	if (!pp) {
		fprintf(stderr, "pgperf: %s\n", err);
		return 1;
	}
	pp->config_path = path ? strdup(path) : NULL;
	pp->upstream_url = upstream ? strdup(upstream) : NULL;
	pp->listen_override = listen ? strdup(listen) : NULL;
	if (!daemon_listen(pp, err, sizeof(err))) {
		fprintf(stderr, "pgperf: %s\n", err);
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
			daemon_free(pp);
			return 1;
		}
		/* the event base must be told it now lives in another process */
		event_reinit(pp->base);
	}
	if (!write_pidfile(pp->cfg->pidfile)) {
		log_error("cannot write pidfile %s: %s", pp->cfg->pidfile,
			  strerror(errno));
		daemon_free(pp);
		return 1;
	}
	log_info("pgperf %s started (pid %d)", PGPERF_VERSION, (int)getpid());
	note_scheduling_group();
	rc = daemon_run(pp);
	if (*pp->cfg->pidfile)
		unlink(pp->cfg->pidfile);
	log_info("pgperf exiting");
	daemon_free(pp);
	log_close();
	return rc;
}
