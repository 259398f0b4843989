/* ipop-turnserver: command line, process lifecycle (limits, daemon,
 * privileges, signals) and the worker threads. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <ifaddrs.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "addr.h"
#include "log.h"
#include "metrics_http.h"
#include "turn_accounts.h"
#include "turn_alloc.h"
#include "turn_conf.h"
#include "turn_metrics.h"
#include "turn_self.h"
#include "turn_server.h"
#include "turn_worker.h"

#ifndef IPOP_BUILD_REV
#define IPOP_BUILD_REV "unknown" /* the Makefile names the commit */
#endif
#ifndef IPOP_VERSION
#define IPOP_VERSION "0.1.0"
#endif
#define DEFAULT_CONF "/etc/ipop/turn.conf"
#define MAX_WORKERS 256

struct opts {
	const char *conf_path;
	bool check_only, foreground, debug;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ipop-turnserver [-c FILE] [-n] [-f] [-d] [-v] [-h]\n"
		"A STUN/TURN relay (RFC 8489, RFC 8656) over UDP, TCP and TLS.\n\n"
		"  -c, --conf FILE   configuration file (default " DEFAULT_CONF ")\n"
		"  -n, --check       check the configuration, print every error as\n"
		"                    file:line, and exit (0 when it is usable)\n"
		"  -f, --foreground  stay in the foreground even with daemon = true\n"
		"  -d, --debug       log at debug level\n"
		"  -v, --version     print the version and the commit it was built from, exit\n"
		"  -h, --help        print this help and exit\n\n"
		"Signals: SIGHUP re-reads the account file, SIGUSR1 logs counters,\n"
		"SIGTERM or SIGINT stop the server.\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "conf", required_argument, NULL, 'c' },   { "check", no_argument, NULL, 'n' },
		{ "foreground", no_argument, NULL, 'f' }, { "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'v' },    { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->conf_path = DEFAULT_CONF;
	while ((c = getopt_long(argc, argv, "c:nfdvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->conf_path = optarg; break;
		case 'n': o->check_only = true; break;
		case 'f': o->foreground = true; break;
		case 'd': o->debug = true; break;
		case 'v': printf("ipop-turnserver %s (%s)\n", IPOP_VERSION, IPOP_BUILD_REV); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipop-turnserver: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Every allocation holds a relay socket, so the descriptor limit caps the
 * number of allocations: take all the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = old;
	}
	log_info("open file limit: %llu", (unsigned long long)rl.rlim_cur);
}

static int daemonize(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -errno;
	pid = fork(); /* no longer a session leader: never reacquires a tty */
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -errno;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

static int drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		log_error("unpriv_user '%s': no such user", user);
		return -ENOENT;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_error("cannot switch to user '%s': %s", user, strerror(errno));
		return -errno;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		log_error("could regain root after dropping privileges");
		return -EPERM;
	}
	log_info("running as user %s (uid %u)", user, (unsigned)pw->pw_uid);
	return 0;
}

static void print_listening(const struct turn_conf *c, bool tls)
{
	char as[ADDR_STRLEN];

	for (unsigned i = 0; i < c->n_listen; i++) {
		addr_format((const struct sockaddr *)&c->listen[i], false, as);
		const char *fmt = c->listen[i].ss_family == AF_INET6 ? "listening on %s [%s]:%u" : "listening on %s %s:%u";
		if (c->udp_port)
			log_info(fmt, "udp", as, c->udp_port);
		if (c->tcp_port)
			log_info(fmt, "tcp", as, c->tcp_port);
		if (tls && c->tls_port)
			log_info(fmt, "tls", as, c->tls_port);
	}
	for (unsigned i = 0; i < c->n_alt; i++) {
		char ps[ADDR_STRLEN];
		addr_format((const struct sockaddr *)&c->alt_listen[i], false, as);
		addr_format((const struct sockaddr *)&c->alt_primary[i], false, ps);
		log_info("RFC 5780: alternate address %s (with %s), udp ports %u and %u", as, ps,
			 c->udp_port, c->alt_udp_port);
	}
	const struct sockaddr_storage *relay = c->n_relay ? c->relay : c->listen;
	unsigned n = c->n_relay ? c->n_relay : c->n_listen;
	for (unsigned i = 0; i < n; i++)
		log_info("relay address %s ports %u-%u",
			 addr_format((const struct sockaddr *)&relay[i], false, as), c->min_port,
			 c->max_port);
}

static void log_stats(const char *what, struct turn_worker **w, unsigned n)
{
	struct turn_worker_stats sum = { 0 }, one;

	for (unsigned i = 0; i < n; i++) {
		turn_worker_get_stats(w[i], &one);
		turn_worker_stats_add(&sum, &one);
	}
	const struct turn_stats *c = &sum.core;
	log_info("%s: allocs_active=%llu allocs_created=%llu allocs_expired=%llu stun_in=%llu "
		 "bad_in=%llu auth_fail=%llu auth_limited=%llu rate_limited=%llu relayed_to_peer=%llu "
		 "relayed_to_client=%llu dropped_no_perm=%llu dropped_bw=%llu dropped_policy=%llu",
		 what, (unsigned long long)c->allocs_active, (unsigned long long)c->allocs_created,
		 (unsigned long long)c->allocs_expired, (unsigned long long)c->stun_in,
		 (unsigned long long)c->bad_in, (unsigned long long)c->auth_fail,
		 (unsigned long long)c->auth_limited,
		 (unsigned long long)c->rate_limited, (unsigned long long)c->relayed_to_peer,
		 (unsigned long long)c->relayed_to_client, (unsigned long long)c->dropped_no_perm,
		 (unsigned long long)c->dropped_bw, (unsigned long long)c->dropped_policy);
	log_info("%s: udp_in=%llu udp_out=%llu udp_send_failed=%llu udp_truncated=%llu udp_gso_msgs=%llu udp_gso_fallbacks=%llu udp_ring_calls=%llu udp_gro_trains=%llu "
		 "relays_open=%llu relay_open_failed=%llu conns_open=%llu conns_accepted=%llu conns_rejected=%llu "
		 "conns_idle_closed=%llu conns_ip_limited=%llu conns_shed=%llu accept_paused=%llu "
		 "stream_dropped_wq=%llu stream_bad_framing=%llu tls_failed=%llu",
		 what, (unsigned long long)sum.udp_in, (unsigned long long)sum.tx.out,
		 (unsigned long long)sum.tx.send_failed, (unsigned long long)sum.udp_truncated,
		 (unsigned long long)sum.tx.gso_msgs, (unsigned long long)sum.tx.gso_fallbacks,
		 (unsigned long long)sum.tx.ring_calls,
		 (unsigned long long)sum.udp_gro_trains,
		 (unsigned long long)sum.relays_open, (unsigned long long)sum.relay_open_failed,
		 (unsigned long long)sum.conns_open,
		 (unsigned long long)sum.conns_accepted, (unsigned long long)sum.conns_rejected,
		 (unsigned long long)sum.conns_idle_closed, (unsigned long long)sum.conns_ip_limited,
		 (unsigned long long)sum.conns_shed, (unsigned long long)sum.accept_paused,
		 (unsigned long long)sum.stream.dropped_wq,
		 (unsigned long long)sum.stream.bad_framing, (unsigned long long)sum.stream.tls_failed);
}

/* Every address of this host joins the server's own ones (turn_self.h),
 * which no client may reach through the relay. Read at start and on
 * SIGHUP; addresses that went away stay refused. */
static void add_host_addresses(struct turn_self *self)
{
	struct ifaddrs *ifa, *i;
	unsigned before = turn_self_count(self);
	bool full = false;

	if (getifaddrs(&ifa) < 0) {
		log_warn("getifaddrs: %s; only the configured addresses are refused as peers",
			 strerror(errno));
		return;
	}
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
				     i->ifa_addr->sa_family != AF_INET6))
			continue;
		full |= turn_self_add(self, i->ifa_addr) == -ENOSPC;
	}
	freeifaddrs(ifa);
	if (full)
		log_warn("more than %d host addresses: the rest are not refused as peers",
			 TURN_SELF_MAX);
	if (turn_self_count(self) != before)
		log_info("%u addresses of this host refused as peers", turn_self_count(self));
}

/* Runs until SIGTERM/SIGINT; SIGHUP reloads accounts, SIGUSR1 logs stats. */
static void signal_loop(int sfd, struct turn_worker_shared *sh, struct turn_worker **w, unsigned n)
{
	struct turn_accounts *acc = sh->accounts;
	for (;;) {
		struct signalfd_siginfo si;
		ssize_t r = read(sfd, &si, sizeof(si));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(si)) {
			log_error("signalfd: %s", r < 0 ? strerror(errno) : "short read");
			return;
		}
		if (si.ssi_signo == SIGHUP) {
			int cnt = turn_accounts_reload(acc);
			if (cnt < 0)
				log_warn("SIGHUP: account reload failed (%s), keeping the old accounts",
					 strerror(-cnt));
			else
				log_info("SIGHUP: accounts reloaded, %d accounts", cnt);
			add_host_addresses(turn_shared_self(sh->shared));
		} else if (si.ssi_signo == SIGUSR1) {
			log_stats("stats", w, n);
		} else {
			log_info("signal %u: stopping", si.ssi_signo);
			return;
		}
	}
}

static unsigned worker_count(const struct turn_conf *c)
{
	long n = c->threads ? (long)c->threads : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

struct daemon_state {
	struct turn_conf conf;
	struct turn_worker_shared sh;
	uint8_t nonce_key[32];
	struct turn_worker *workers[MAX_WORKERS];
	unsigned n_workers;
	int sfd;
	int64_t start_unix;
	struct turn_metrics metrics;     /* what the exporter's thread reads */
	struct metrics_http *http;       /* NULL unless metrics_address is set */
};

static int setup_shared(struct daemon_state *d)
{
	struct turn_worker_shared *sh = &d->sh;
	struct turn_conf *c = &d->conf;

	sh->conf = c;
	if (c->nonce_key && *c->nonce_key) {
		sh->nonce_key = (const uint8_t *)c->nonce_key;
		sh->nonce_key_len = strlen(c->nonce_key);
	} else {
		if (RAND_bytes(d->nonce_key, sizeof(d->nonce_key)) != 1)
			return -EIO;
		sh->nonce_key = d->nonce_key;
		sh->nonce_key_len = sizeof(d->nonce_key);
	}
	sh->accounts = turn_accounts_new(c);
	if (!sh->accounts) {
		log_error("cannot load the accounts");
		return -EINVAL;
	}
	sh->shared = turn_shared_new(c);
	if (!sh->shared)
		return -ENOMEM;
	if (c->tls) {
		sh->tls = turn_stream_tls_ctx_new(c->cert_file, c->private_key_file);
		if (!sh->tls)
			return -EINVAL;
	}
	sh->max_conns = c->max_client ? c->max_client * 2 : 20000;
	sh->connlimit = turn_connlimit_new(sh->max_conns, c->max_connections_per_ip);
	if (!sh->connlimit)
		return -ENOMEM;
	sh->wq_budget.cap = (size_t)c->stream_queue_total_kb * 1024;
	add_host_addresses(turn_shared_self(sh->shared));
	sh->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return sh->stop_fd < 0 ? -errno : 0;
}

/* The Prometheus endpoint (metrics_address), bound like the listeners
 * before privileges are dropped. Its thread only reads what the workers
 * publish. */
static int start_metrics(struct daemon_state *d)
{
	const struct turn_conf *c = &d->conf;

	if (!c->metrics)
		return 0;
	d->metrics = (struct turn_metrics){
		.info = { .version = IPOP_VERSION, .realm = c->realm ? c->realm : "ipop",
			  .max_client = c->max_client, .start_unix = d->start_unix, .process = true },
		.workers = d->workers,
		.n = d->n_workers,
	};
	d->http = metrics_http_start((const struct sockaddr *)&c->metrics_addr, turn_metrics_render,
				     &d->metrics);
	return d->http ? 0 : -EADDRNOTAVAIL;
}

static int start_workers(struct daemon_state *d)
{
	unsigned n = worker_count(&d->conf);

	for (unsigned i = 0; i < n; i++) {
		d->workers[i] = turn_worker_new(&d->sh, i);
		if (!d->workers[i])
			return -EINVAL;
		d->n_workers++;
	}
	if (start_metrics(d) < 0)
		return -EADDRNOTAVAIL;
	/* Listeners are bound: root is no longer needed. */
	if (d->conf.unpriv_user && *d->conf.unpriv_user && drop_privileges(d->conf.unpriv_user) < 0)
		return -EPERM;
	for (unsigned i = 0; i < n; i++)
		if (turn_worker_start(d->workers[i]) < 0)
			return -EAGAIN;
	log_info("%u worker thread%s", n, n == 1 ? "" : "s");
	return 0;
}

static void teardown(struct daemon_state *d)
{
	metrics_http_stop(d->http); /* its thread reads the workers */
	d->http = NULL;
	if (d->sh.stop_fd > 0) {
		uint64_t one = 1;
		if (write(d->sh.stop_fd, &one, sizeof(one)) < 0)
			log_warn("cannot signal the workers: %s", strerror(errno));
	}
	for (unsigned i = 0; i < d->n_workers; i++)
		turn_worker_join(d->workers[i]);
	if (d->n_workers)
		log_stats("final", d->workers, d->n_workers);
	for (unsigned i = 0; i < d->n_workers; i++)
		turn_worker_free(d->workers[i]);
	if (d->sh.shared)
		turn_shared_free(d->sh.shared);
	turn_connlimit_free(d->sh.connlimit);
	if (d->sh.accounts)
		turn_accounts_free(d->sh.accounts);
	SSL_CTX_free(d->sh.tls);
	if (d->sh.stop_fd > 0)
		close(d->sh.stop_fd);
	if (d->sfd >= 0)
		close(d->sfd);
	OPENSSL_cleanse(d->nonce_key, sizeof(d->nonce_key));
	turn_conf_free(&d->conf);
}

static int block_signals(void)
{
	sigset_t set;

	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1 };
	const size_t n = sizeof(sigs) / sizeof(sigs[0]);

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		sigaddset(&set, sigs[i]);
	/* Blocked before any thread exists, so every worker inherits the mask
	 * and only the signalfd sees them. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	/* An ignored signal is discarded, never queued to the signalfd, and a
	 * shell starts background jobs with SIGINT ignored. */
	for (size_t i = 0; i < n; i++)
		signal(sigs[i], SIG_DFL);
	int fd = signalfd(-1, &set, SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int main(int argc, char **argv)
{
	static struct daemon_state d;
	struct opts o = { 0 };

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	log_init("ipop-turnserver", o.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO, false);
	int errs = turn_conf_load(&d.conf, o.conf_path);
	if (errs) {
		fprintf(stderr, "%s: %d error%s\n", o.conf_path, errs, errs == 1 ? "" : "s");
		turn_conf_free(&d.conf);
		return 1;
	}
	if (o.check_only) {
		printf("%s: configuration ok\n", o.conf_path);
		turn_conf_free(&d.conf);
		return 0;
	}
	bool daemon = d.conf.daemon && !o.foreground;
	if (d.conf.syslog || daemon)
		log_init("ipop-turnserver", o.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO, true);
	d.sh.stop_fd = -1;
	d.sfd = -1;
	int rc = 1;
	if (daemon && daemonize() < 0) {
		log_error("cannot become a daemon: %s", strerror(errno));
		goto out;
	}
	log_info("ipop-turnserver %s (%s) starting with %s", IPOP_VERSION, IPOP_BUILD_REV, o.conf_path);
	d.start_unix = time(NULL);
	raise_nofile();
	d.sfd = block_signals();
	if (d.sfd < 0 || setup_shared(&d) < 0 || start_workers(&d) < 0)
		goto out;
	print_listening(&d.conf, d.sh.tls != NULL);
	signal_loop(d.sfd, &d.sh, d.workers, d.n_workers);
	rc = 0;
out:
	teardown(&d);
	log_info("stopped");
	OPENSSL_cleanup(); /* nothing left for valgrind to call reachable */
	return rc;
}
