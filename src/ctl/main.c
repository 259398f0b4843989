/* ipopctl: asks a running ipopd about itself over its control socket.
 *   ipopctl [-s PATH | -i IFNAME] [--json] [COMMAND [ARGS]]
 * Global options may also follow the command ("ipopctl peers --json"). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_cli.h"
#include "ctl_proto.h"

static int cmd_help(struct ctl_cli *c, int argc, char **argv);

static const struct {
	const char *name, *args, *summary;
	ctl_cli_fn fn;
} commands[] = {
	{ "status", "", "show this node: JID, node id, address, XMPP state, public address", ctl_cmd_status },
	{ "peers", "", "show each peer's link: state, path, RTT, traffic, last handshake", ctl_cmd_peers },
	{ "members", "", "GroupVPN: every member, how it is reached (link, or via whom), hops, RTT",
	  ctl_cmd_members },
	{ "friends", "", "list friends: JID, address in our space, online, relation, link", ctl_cmd_friends },
	{ "friend", "add|accept|remove JID", "ask JID to be friends, accept their request, or end it",
	  ctl_cmd_friend },
	{ "hosts", "", "print /etc/hosts lines for the friends (ADDRESS user.ipop)", ctl_cmd_hosts },
	{ "netcheck", "", "probe the network without the daemon: UDP, public address, NAT kind, relays",
	  ctl_cmd_netcheck },
	{ "pins", "", "list node ids pinned to their key and member, and who owns which address", ctl_cmd_pins },
	{ "pin", "forget JID|ID|ADDRESS", "forget a member's pins and addresses (a re-assigned address...)",
	  ctl_cmd_pin },
	{ "help", "", "show this help", cmd_help },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: ipopctl [-s PATH | -i IFNAME] [-c CONFIG] [--json] [COMMAND [ARGS]]\n\n"
		   "Commands (default: status):\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %-21s %s\n", commands[i].name, commands[i].args, commands[i].summary);
	fprintf(f, "\nOptions:\n"
		   "  -s, --socket PATH  the daemon's control socket (default " CTL_DEFAULT_SOCKET ")\n"
		   "  -i, --interface IF the socket of the daemon for interface IF (" CTL_RUN_DIR "/IF.sock)\n"
		   "  -c, --config FILE  the node's config.json, for netcheck (default /etc/ipop/config.json)\n"
		   "  -j, --json         JSON output for scripts\n"
		   "  -h, --help         show this help\n\n"
		   "Exit status: 0 ok, 1 the daemon reported an error, 2 usage error,\n"
		   "3 no daemon answers on the socket.\n");
}

static int cmd_help(struct ctl_cli *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(c->out);
	return CTL_EXIT_OK;
}

static bool use_color(void)
{
	const char *term = getenv("TERM");
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

/* Takes the global options out of argv wherever they are, leaving the
 * command and its arguments in order. Returns 0 or CTL_EXIT_USAGE. */
static int parse_options(struct ctl_cli *c, int *argc, char **argv, char *sock_buf, size_t cap)
{
	int out = 0;
	bool opts_done = false;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		if (opts_done || a[0] != '-' || a[1] == '\0') {
			argv[out++] = argv[i];
		} else if (strcmp(a, "--") == 0) {
			opts_done = true;
		} else if (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0) {
			c->json = true;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= *argc || !*argv[i + 1]) {
				fprintf(stderr, "ipopctl: %s needs a file name (see ipopctl help)\n", a);
				return CTL_EXIT_USAGE;
			}
			c->config = argv[++i];
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			argv[out++] = (char *)"help";
		} else if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0 || strcmp(a, "-i") == 0 ||
			   strcmp(a, "--interface") == 0 || strncmp(a, "--socket=", 9) == 0) {
			bool iface = a[1] == 'i' || a[2] == 'i';
			if (strncmp(a, "--socket=", 9) == 0)
				val = a + 9;
			else if (i + 1 < *argc)
				val = argv[++i];
			if (!val || !*val) {
				fprintf(stderr, "ipopctl: %s needs a value (see ipopctl help)\n", a);
				return CTL_EXIT_USAGE;
			}
			if (iface && (strchr(val, '/') || strlen(val) >= CTL_IFNAME_LEN)) {
				fprintf(stderr, "ipopctl: '%s' is not an interface name\n", val);
				return CTL_EXIT_USAGE;
			}
			if (iface)
				snprintf(sock_buf, cap, "%s/%s.sock", CTL_RUN_DIR, val);
			c->socket = iface ? sock_buf : val;
		} else {
			fprintf(stderr, "ipopctl: unknown option '%s' (see ipopctl help)\n", a);
			return CTL_EXIT_USAGE;
		}
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

int main(int argc, char **argv)
{
	static char sock_buf[128];
	struct ctl_cli c = {
		.socket = CTL_DEFAULT_SOCKET,
		.out = stdout,
		.err = stderr,
		.now = time(NULL),
	};
	int rc = parse_options(&c, &argc, argv, sock_buf, sizeof(sock_buf));
	if (rc != 0)
		return rc;
	c.color = !c.json && use_color();
	char *deflt[] = { (char *)"status", NULL };
	char **args = argc > 0 ? argv : deflt;
	int nargs = argc > 0 ? argc : 1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(args[0], commands[i].name) == 0) {
			rc = commands[i].fn(&c, nargs, args);
			if (fflush(stdout) != 0 && rc == CTL_EXIT_OK)
				rc = CTL_EXIT_FAIL;
			return rc;
		}
	}
	fprintf(stderr, "ipopctl: unknown command '%s' (see ipopctl help)\n", args[0]);
	return CTL_EXIT_USAGE;
}
