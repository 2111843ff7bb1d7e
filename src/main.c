/* SPDX-License-Identifier: MIT */
/*
 * chatd: the FastCGI daemon of the chat backend.
 *
 * Start-up order matters: settings, log, the JWT key and the FastCGI socket are set up
 * while still privileged (root may be needed to give the socket to the web server's
 * group); then privileges are dropped, the hashing pool and the workers start, and the
 * main thread waits for SIGTERM/SIGINT to stop them cleanly.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "auth/auth.h"
#include "base/log.h"
#include "bus/bus.h"
#include "chat/chat.h"
#include "fcgi/fcgi.h"
#include "settings.h"
#include "store/store.h"

static void
usage(void)
{
	fprintf(stderr, "usage: chatd [-c FILE] [--migrate] [--version]\n");
}

static void
die(const char *what, const char *msg)
{
	fprintf(stderr, "chatd: %s: %s\n", what, msg);
	log_error("%s: %s", what, msg);
	exit(1);
}

/* Switches to the unprivileged user when started as root: setgid, setgroups, setuid,
 * each checked, then no new privileges. */
static void
drop_privileges(const char *user)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return;
	pw = getpwnam(user);
	if (pw == NULL)
		die("privileges", "the user named by CHAT_USER does not exist");
	if (setgid(pw->pw_gid) != 0 || setgroups(1, &pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		die("privileges", strerror(errno));
	if (setuid(0) == 0)
		die("privileges", "could regain root after dropping it");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die("privileges", strerror(errno));
}

/* Each held request costs a descriptor: take what the hard limit allows. */
static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
migrate(struct settings *cfg)
{
	char	err[512];

	if (cfg->pg_conninfo == NULL)
		die("configuration", "CHAT_PG (PostgreSQL connection string) is not set");
	if (!settings_load_secret(cfg, err, sizeof(err)))
		die("jwt key", err);
	if (!store_migrate(cfg, cfg->sql_dir))
		die("migrate", "failed (see the log above)");
	return 0;
}

static int
serve(struct settings *cfg)
{
	char		 err[512];
	const char	*missing;
	sigset_t	 set;
	int		 fd;
	int		 sig;

	missing = settings_missing(cfg);
	if (missing != NULL)
		{
		snprintf(err, sizeof(err), "%s is not set", missing);
		die("configuration", err);
	}
	if (!settings_load_secret(cfg, err, sizeof(err)))
		die("jwt key", err);
	raise_nofile();
	/* Signals: SIGTERM/SIGINT are taken by this thread with sigwait; every thread
	 * inherits the mask. libfcgi's SIGPIPE handler turns broken pipes into EPIPE. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	fcgi_init();
	fd = fcgi_listen(cfg->socket_path, cfg->socket_group, err, sizeof(err));
	if (fd < 0)
		die("socket", err);
	drop_privileges(cfg->user);
	password_pool_start(cfg->hash_threads, cfg->hash_queue);
	chat_feed_naive = cfg->feed_naive != 0;
	if (chat_feed_naive)
		log_warn("CHAT_FEED_NAIVE is set: the event feed can lose events (tests only)");
	fcgi_start(fd, cfg);
	bus_listen_start(cfg, fcgi_wake_users, fcgi_evict_poll, fcgi_redis_state);
	log_info("chatd %s serving on %s with %u threads", PACKAGE_VERSION, cfg->socket_path,
	    cfg->threads);
	sigdelset(&set, SIGUSR2);
	do {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
	} while (sig == SIGHUP);
	log_info("signal %d: finishing in-flight requests", sig);
	close(fd);
	fcgi_stop();
	bus_listen_stop();
	password_pool_stop();
	log_info("stopped");
	return 0;
}

int
main(int argc, char *argv[])
{
	struct settings	 cfg;
	const char	*file;
	char		 err[512];
	bool		 do_migrate;
	int		 i;
	int		 rc;

	/* A few malloc arenas, not one per thread and core: the memory a burst of answers
	 * used goes back to a shared pool (and, trimmed, to the system) instead of staying
	 * with whichever of the 26 threads freed it. */
	(void)mallopt(M_ARENA_MAX, 4);
	file = NULL;
	do_migrate = false;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--migrate") == 0)
			do_migrate = true;
		else if (strcmp(argv[i], "--version") == 0) {
			printf("chatd %s\n", PACKAGE_VERSION);
			return 0;
		} else {
			usage();
			return 2;
		}
	}
	if (!settings_load(&cfg, file, err, sizeof(err)))
		die("configuration", err);
	if (cfg.instance == NULL)
		settings_default_instance(&cfg);
	if (log_open(cfg.log_path) != 0)
		die("log", "cannot open the log file");
	rc = do_migrate ? migrate(&cfg) : serve(&cfg);
	settings_fini(&cfg);
	return rc;
}
