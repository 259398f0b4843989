/* ipopd: the GroupVPN node daemon. Command line and process setup; the
 * daemon itself is in node.c. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "node.h"
#include "node_conf.h"
#include "node_keyfile.h"


#ifndef IPOP_BUILD_REV
#define IPOP_BUILD_REV "unknown" /* the Makefile names the commit */
#endif

static struct node g_node;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ipopd -c CONFIG [-n] [-d] [-p PORT]\n"
		"       ipopd -h | -V\n"
		"\n"
		"Joins this machine to the ipop virtual network described by CONFIG (the\n"
		"config.json of the original IPOP; keys and defaults: docs/config.md).\n"
		"\n"
		"  -c, --config FILE  config.json to use (required)\n"
		"  -n, --check        check the configuration, print what is wrong, exit\n"
		"                     (0: usable, 1: errors)\n"
		"  -d, --debug        log at debug level (overrides log_level)\n"
		"  -p, --port PORT    local UDP port for ICE and the tunnel (default 0:\n"
		"                     a random port)\n"
		"  -h, --help         this help\n"
		"  -V, --version      print the version and the commit it was built from\n"
		"\n"
		"The node needs CAP_NET_ADMIN to create its TUN interface. It logs to\n"
		"stderr. SIGINT/SIGTERM: say bye to the peers and exit.\n");
}

static void on_signal(int sig)
{
	(void)sig;
	node_request_stop(&g_node);
}

/* The key's directory, created 0700 when missing (first run). */
static void ensure_key_dir(const char *path)
{
	char *dup = strdup(path);
	if (!dup)
		return;
	const char *dir = dirname(dup);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("cannot create %s: %s", dir, strerror(errno));
	free(dup);
}

struct opts {
	const char *cfg;
	bool check, debug;
	uint16_t port;
};

/* Returns -1 to go on, or the exit status (help, version, usage error). */
static int parse_args(int argc, char **argv, struct opts *op)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 'n' },
		{ "debug", no_argument, NULL, 'd' },	    { "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },	    { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long port;
	int o;

	while ((o = getopt_long(argc, argv, "c:ndp:hV", longopts, NULL)) != -1) {
		switch (o) {
		case 'c': op->cfg = optarg; break;
		case 'n': op->check = true; break;
		case 'd': op->debug = true; break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || end == optarg || port < 0 || port > 65535) {
				fprintf(stderr, "ipopd: -p: not a port: %s\n", optarg);
				return 2;
			}
			op->port = (uint16_t)port;
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ipopd %s (%s)\n", IPOPD_VERSION, IPOP_BUILD_REV); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!op->cfg || optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Logging, warnings about insecure settings, libsodium and the static key.
 * Returns 0, or -1 when the node cannot start. */
static int prepare(const struct node_conf *conf, bool debug)
{
	log_init("ipopd", debug ? LOG_LVL_DEBUG : conf->log_level, false);
	log_info("ipopd %s (%s) starting", IPOPD_VERSION, IPOP_BUILD_REV);
	const char *warn[4];
	unsigned nw = node_conf_security_warnings(conf, warn, 4);
	for (unsigned i = 0; i < nw && i < 4; i++)
		log_warn("%s", warn[i]);
	if (noise_init() < 0)
		fatal("libsodium failed to initialise");
	ensure_key_dir(conf->key_file);
	bool created = false;
	if (node_keyfile_load_or_create(conf->key_file, &g_node.kp, &created) < 0)
		return -1;
	if (created)
		log_info("created static key %s", conf->key_file);
	return 0;
}

static void handle_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	/* A fixed mmap threshold: every allocation of 128 KB or more is its
	 * own mapping, returned to the kernel when freed. glibc's default
	 * raises the threshold to the largest such block freed (and the heap's
	 * trim threshold to twice that), after which those blocks came from
	 * the heap and stayed resident once freed. None is on the packet
	 * path (docs/benchmarks.md, "Where an ipopd's RSS goes"). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	struct opts op = { 0 };
	int rc = parse_args(argc, argv, &op);
	if (rc >= 0)
		return rc;
	struct node_conf conf;
	int nerr = node_conf_load(&conf, op.cfg);
	if (nerr) {
		fprintf(stderr, "ipopd: %s: %d error(s); not starting\n", op.cfg, nerr);
		node_conf_free(&conf);
		return 1;
	}
	if (op.check) {
		printf("%s: ok (%u warning(s))\n", op.cfg, conf.n_warnings);
		node_conf_free(&conf);
		return 0;
	}
	if (prepare(&conf, op.debug) < 0) {
		node_conf_free(&conf);
		return 1;
	}
	handle_signals();
	rc = node_init(&g_node, &conf, op.port);
	if (rc == 0)
		rc = node_run(&g_node);
	node_free(&g_node);
	node_conf_free(&conf);
	if (rc < 0)
		log_error("exiting: %s", strerror(-rc));
	return rc < 0 ? 1 : 0;
}
