/* config.json loading: the original IPOP file, defaults, every kind of
 * diagnostic with its exact file:line:column text, and the position scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "addr.h"
#include "json_pos.h"
#include "node_conf.h"

/* Fixtures: tests/data/node, two folders up from this file. */
static void fixture_path(const char *name, char *out, size_t cap)
{
	const char *slash = strrchr(__FILE__, '/');
	int dir = slash ? (int)(slash - __FILE__) : 0;
	snprintf(out, cap, "%.*s%s../../data/node/%s", dir, __FILE__, slash ? "/" : "", name);
}

struct loaded {
	struct node_conf c;
	int errors;
	char path[512];
	char *diag; /* everything the loader printed */
	size_t diag_len;
};

static void load_path(struct loaded *l, const char *path)
{
	snprintf(l->path, sizeof(l->path), "%s", path);
	FILE *f = open_memstream(&l->diag, &l->diag_len);
	assert_non_null(f);
	l->errors = node_conf_load_diag(&l->c, l->path, f);
	fclose(f);
}

/* A copy of path, mode 0600 like a real config.json (checkouts are 0644,
 * which would add the "others may read it" warning), then loaded. */
static void load_copy(struct loaded *l, const char *path)
{
	char p[] = "/tmp/test_node_conf_XXXXXX.json", buf[8192];
	FILE *in = fopen(path, "rb");
	if (!in) {
		load_path(l, path); /* the "cannot open" case */
		return;
	}
	size_t n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	int fd = mkstemps(p, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
	load_path(l, p);
	unlink(p);
}

static void load_fixture(struct loaded *l, const char *name)
{
	char p[512];
	fixture_path(name, p, sizeof(p));
	load_copy(l, p);
}

/* Writes text to a temporary file and loads it. */
static void load_text(struct loaded *l, const char *text)
{
	char p[] = "/tmp/test_node_conf_XXXXXX.json";
	int fd = mkstemps(p, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	load_path(l, p);
	unlink(p);
}

static void unload(struct loaded *l)
{
	node_conf_free(&l->c);
	free(l->diag);
}

/* The diagnostics contain exactly this line, prefixed with the file name. */
static void assert_line(const struct loaded *l, const char *rest)
{
	char want[1024];
	snprintf(want, sizeof(want), "%s:%s\n", l->path, rest);
	const char *p = l->diag;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		if (n == strlen(want) && memcmp(p, want, n) == 0)
			return;
		p += n;
	}
	print_error("missing line: %s--- got:\n%s---\n", want, l->diag ? l->diag : "");
	fail();
}

static unsigned count_lines(const struct loaded *l)
{
	unsigned n = 0;
	for (const char *p = l->diag; p && *p; p++)
		n += *p == '\n';
	return n;
}

static const char *ip4_str(struct in_addr a, char b[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, b, INET_ADDRSTRLEN);
}

static void test_original_verbatim(void **state)
{
	(void)state;
	struct loaded l;
	char b[INET_ADDRSTRLEN];
	load_fixture(&l, "original.json");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_warnings, 0);
	assert_int_equal(l.diag_len, 0);
	assert_string_equal(ip4_str(l.c.ip4, b), "172.31.0.100");
	assert_string_equal(l.c.xmpp_username, "ipopuser@ejabberd");
	assert_string_equal(l.c.xmpp_local, "ipopuser");
	assert_string_equal(l.c.xmpp_domain, "ejabberd");
	assert_string_equal(l.c.xmpp_password, "password");
	assert_int_equal(l.c.n_xmpp_hosts, 1);
	assert_string_equal(l.c.xmpp_hosts[0].host, "public-ip-of-ejabberd-server");
	assert_int_equal(l.c.xmpp_hosts[0].port, 0); /* xmpp_port */
	assert_int_equal(l.c.n_stun, 1);
	assert_string_equal(l.c.stun[0].host, "public-ip-of-your-vm");
	assert_int_equal(l.c.stun[0].port, 19302);
	assert_int_equal(l.c.n_turn, 1);
	assert_string_equal(l.c.turn[0].host, "public-ip-of-your-vm");
	assert_int_equal(l.c.turn[0].port, 19302);
	assert_int_equal(l.c.turn[0].transport, NODE_TURN_UDP);
	assert_string_equal(l.c.turn[0].user, "svpnjingle");
	assert_string_equal(l.c.turn[0].pass, "1234567890");
	assert_null(l.c.turn[0].ca_file);
	unload(&l);
}

static void test_defaults(void **state)
{
	(void)state;
	struct loaded l;
	load_fixture(&l, "minimal.json");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.diag_len, 0);
	assert_int_equal(l.c.ip4_mask, 24);
	assert_int_equal(l.c.xmpp_port, 5222);
	assert_int_equal(l.c.xmpp_tls, NODE_TLS_REQUIRED);
	assert_null(l.c.xmpp_ca_file);
	assert_int_equal(l.c.mode, NODE_MODE_GROUP);
	assert_string_equal(l.c.interface, "ipop0");
	assert_int_equal(l.c.mtu, 1280);
	assert_int_equal(l.c.crypto_threads, -1); /* auto */
	assert_string_equal(l.c.state_dir, "/var/lib/ipop");
	assert_string_equal(l.c.key_file, "/var/lib/ipop/ipop0.key");
	assert_string_equal(l.c.control_socket, "/run/ipop/ipop0.sock");
	assert_int_equal(l.c.log_level, LOG_LVL_INFO);
	assert_int_equal(l.c.n_stun, 0);
	assert_int_equal(l.c.n_turn, 0);
	assert_int_equal(l.c.n_ignore, 0);
	const char *w[2];
	assert_int_equal(node_conf_security_warnings(&l.c, w, 2), 0);
	unload(&l);
}

/* Paths the node writes follow interface and state_dir unless given. */
static void test_derived_paths(void **state)
{
	(void)state;
	struct loaded l;
	load_text(&l, "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\","
		      "\"xmpp_host\":\"b\",\"interface\":\"lab1\",\"state_dir\":\"/tmp/st\"}");
	assert_int_equal(l.errors, 0);
	assert_string_equal(l.c.key_file, "/tmp/st/lab1.key");
	assert_string_equal(l.c.control_socket, "/run/ipop/lab1.sock");
	assert_string_equal(l.c.state_dir, "/tmp/st");
	unload(&l);
}

static void test_every_key(void **state)
{
	(void)state;
	struct loaded l;
	char b[INET_ADDRSTRLEN];
	load_fixture(&l, "full.json");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.diag_len, 0);
	assert_string_equal(ip4_str(l.c.ip4, b), "192.168.77.9");
	assert_int_equal(l.c.ip4_mask, 16);
	assert_int_equal(l.c.n_xmpp_hosts, 1);
	assert_string_equal(l.c.xmpp_hosts[0].host, "2001:db8::5");
	assert_int_equal(l.c.xmpp_port, 5223);
	assert_int_equal(l.c.xmpp_tls, NODE_TLS_OPTIONAL);
	assert_string_equal(l.c.xmpp_ca_file, "/etc/ipop/xmpp-ca.pem");
	assert_int_equal(l.c.mode, NODE_MODE_SOCIAL);
	assert_string_equal(l.c.interface, "ipoplab7");
	assert_int_equal(l.c.mtu, 1400);
	assert_string_equal(l.c.key_file, "/srv/ipop/node.key");
	assert_string_equal(l.c.control_socket, "/tmp/ipop-lab.sock");
	assert_string_equal(l.c.state_dir, "/srv/ipop");
	assert_int_equal(l.c.log_level, LOG_LVL_DEBUG);
	/* stun: bare address, name:port, [v6]:port, stun: URI */
	static const struct { const char *host; unsigned port; } st[] = {
		{ "198.51.100.7", 3478 }, { "stun.example.net", 3479 },
		{ "2001:db8::1", 19302 }, { "203.0.113.4", 3478 },
	};
	assert_int_equal(l.c.n_stun, 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_string_equal(l.c.stun[i].host, st[i].host);
		assert_int_equal(l.c.stun[i].port, st[i].port);
	}
	/* turn: every URI form and the transport key */
	static const struct {
		const char *host;
		unsigned port;
		enum node_turn_transport tr;
	} tu[] = {
		{ "turn.example.net", 5349, NODE_TURN_TLS }, { "198.51.100.8", 3478, NODE_TURN_TCP },
		{ "2001:db8::8", 3480, NODE_TURN_UDP },      { "203.0.113.9", 5349, NODE_TURN_TLS },
		{ "198.51.100.9", 443, NODE_TURN_TLS },      { "198.51.100.10", 3481, NODE_TURN_UDP },
	};
	assert_int_equal(l.c.n_turn, 6);
	for (unsigned i = 0; i < 6; i++) {
		assert_string_equal(l.c.turn[i].host, tu[i].host);
		assert_int_equal(l.c.turn[i].port, tu[i].port);
		assert_int_equal(l.c.turn[i].transport, tu[i].tr);
	}
	assert_string_equal(l.c.turn[0].ca_file, "/etc/ipop/turn-ca.pem");
	assert_string_equal(l.c.turn[4].user, "u5");
	assert_string_equal(l.c.turn[4].pass, "p5");
	assert_int_equal(l.c.n_ignore, 2);
	assert_string_equal(l.c.network_ignore_list[0], "docker0");
	assert_string_equal(l.c.network_ignore_list[1], "virbr0");
	const char *w[2];
	assert_int_equal(node_conf_security_warnings(&l.c, w, 2), 1);
	assert_non_null(strstr(w[0], "optional"));
	unload(&l);
}

static void test_bad_ip4_position(void **state)
{
	(void)state;
	struct loaded l;
	load_fixture(&l, "bad_ip4.json");
	assert_int_equal(l.errors, 1);
	assert_line(&l, "2:12: key \"ip4\": expected an IPv4 address string like \"172.31.0.100\", "
			"got \"172.31.0.300\"");
	assert_int_equal(count_lines(&l), 1);
	unload(&l);
}

/* Every error of a file is reported in one run, each at its value. */
static void test_many_errors_one_run(void **state)
{
	(void)state;
	struct loaded l;
	static const char *const want[] = {
		"2:12: key \"ip4\": expected an IPv4 address string like \"172.31.0.100\", got 172",
		"3:22: key \"xmpp_username\": expected a bare JID string like \"ipopuser@ejabberd\", got "
		"\"ipopuser@ejabberd/laptop\": a bare JID has no /resource",
		"4:18: key \"xmpp_host\": expected a \"host\" or \"host:port\" string, got \"ejabberd:0\": the "
		"port must be a number from 1 to 65535",
		"5:18: key \"xmpp_port\": expected an integer from 1 to 65535, got 70000",
		"6:17: key \"xmpp_tls\": expected \"required\", \"optional\" or \"off\", got \"maybe\"",
		"7:18: key \"interface\": expected an interface name of 1 to 15 characters without '/', "
		"':' or spaces, got \"a-very-long-interface-name\"",
		"8:12: key \"mtu\": expected an integer from 576 to 9000, got 100",
		"9:13: key \"mode\": expected \"group\" or \"social\", got \"mesh\"",
		"10:18: key \"log_level\": expected \"error\", \"warn\", \"info\" or \"debug\", got \"loud\"",
		"11:14: key \"stun[0]\": expected a \"host:port\" string, got \"stun.example.net:0\": the "
		"port must be a number from 1 to 65535",
		"11:36: key \"stun[1]\": expected a \"host:port\" string, got 5",
		"13:20: key \"turn[0].server\": expected \"host:port\" or a turn:/turns: URI, got "
		"\"turns:198.51.100.1?transport=udp\": turns: with transport=udp means DTLS, which is "
		"not supported",
		"14:9: key \"turn[1]\": missing \"user\"; expected a non-empty string",
		"14:44: key \"turn[1].pass\": expected a non-empty string, got an empty string",
		"15:80: key \"turn[2].transport\": \"tls\" contradicts the server URI turn:198.51.100.3",
		" key \"xmpp_password\": missing; expected a non-empty string (ipopd does not prompt for it)",
	};
	load_fixture(&l, "many_errors.json");
	assert_int_equal(l.errors, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_line(&l, want[i]);
	assert_int_equal(count_lines(&l), sizeof(want) / sizeof(want[0]));
	unload(&l);
}

static void test_syntax_error(void **state)
{
	(void)state;
	struct loaded l;
	load_fixture(&l, "syntax.json");
	assert_int_equal(l.errors, 1);
	assert_line(&l, "4:19: '}' expected near '\"xmpp_password\"'");
	unload(&l);
}

static void test_duplicate_key(void **state)
{
	(void)state;
	struct loaded l;
	load_fixture(&l, "duplicate.json");
	assert_int_equal(l.errors, 1);
	assert_line(&l, "6:9: duplicate object key near '\"ip4\"'");
	unload(&l);
}

/* The original's extra keys warn; vpn_type and controller_logging map. */
static void test_legacy_and_unknown_keys(void **state)
{
	(void)state;
	struct loaded l;
	load_fixture(&l, "legacy.json");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_warnings, 5);
	assert_line(&l, "6:5: warning: key \"ip6_mask\": ignored: social mode is IPv4-only and routes no "
			"subnets (docs/ipv6.md)");
	assert_line(&l, "7:5: warning: key \"tincan_logging\": ignored (an original IPOP setting "
			"ipopd does not implement)");
	assert_line(&l, "10:5: warning: key \"on-demand_connection\": ignored: social mode links friends "
			"directly (the overlay is GroupVPN's)");
	assert_line(&l, "11:5: warning: key \"note\xc3\xa9\": unknown key, ignored");
	assert_line(&l, "12:5: warning: key \"colour\": unknown key, ignored");
	assert_int_equal(l.c.mode, NODE_MODE_SOCIAL);
	assert_int_equal(l.c.log_level, LOG_LVL_DEBUG);
	unload(&l);
}

static void test_new_keys_win_over_legacy(void **state)
{
	(void)state;
	struct loaded l;
	load_text(&l, "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\",\n"
		      "\"xmpp_host\":\"b\",\"mode\":\"group\",\"vpn_type\":\"SocialVPN\"}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.mode, NODE_MODE_GROUP);
	assert_line(&l, "2:32: warning: key \"vpn_type\": ignored because \"mode\" is set");
	unload(&l);
}

static void test_tls_off_warns(void **state)
{
	(void)state;
	struct loaded l;
	load_fixture(&l, "notls.json");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.xmpp_tls, NODE_TLS_OFF);
	const char *w[1] = { NULL };
	assert_int_equal(node_conf_security_warnings(&l.c, w, 1), 1);
	assert_non_null(strstr(w[0], "clear text"));
	/* max 0: still counted, nothing written */
	assert_int_equal(node_conf_security_warnings(&l.c, NULL, 0), 1);
	unload(&l);
}

static void test_broadcast_address(void **state)
{
	(void)state;
	struct loaded l;
	load_fixture(&l, "broadcast.json");
	assert_int_equal(l.errors, 1);
	assert_line(&l, "2:12: key \"ip4\": 172.31.0.255 is the network or broadcast address of its /24");
	unload(&l);
	load_text(&l, "{\"ip4\":\"10.1.0.0\",\"ip4_mask\":16,\"xmpp_username\":\"a@b\","
		      "\"xmpp_password\":\"p\",\"xmpp_host\":\"b\"}");
	assert_int_equal(l.errors, 1);
	unload(&l);
	load_text(&l, "{\"ip4\":\"10.1.0.255\",\"ip4_mask\":16,\"xmpp_username\":\"a@b\","
		      "\"xmpp_password\":\"p\",\"xmpp_host\":\"b\"}");
	assert_int_equal(l.errors, 0);
	unload(&l);
}

#define MIN_KEYS "\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\",\"xmpp_host\":\"b\""

static void test_crypto_threads(void **state)
{
	(void)state;
	struct loaded l;
	load_text(&l, "{" MIN_KEYS ",\"crypto_threads\":2}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.crypto_threads, 2);
	unload(&l);
	load_text(&l, "{" MIN_KEYS ",\"crypto_threads\":\"auto\"}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.crypto_threads, -1);
	unload(&l);
	load_text(&l, "{" MIN_KEYS ",\"crypto_threads\":9}");
	assert_int_equal(l.errors, 1);
	unload(&l);
	load_text(&l, "{" MIN_KEYS ",\"crypto_threads\":\"many\"}");
	assert_int_equal(l.errors, 1);
	assert_int_equal(l.c.crypto_threads, -1);
	unload(&l);
}

/* The overlay's keys: their meaning, their bounds (max_links leaves half
 * the link table to sessions through the overlay), the original's
 * multihop_cl only without max_links. */
static void test_overlay_keys(void **state)
{
	(void)state;
	struct loaded l;
	load_text(&l, "{" MIN_KEYS ",\"max_links\":24,\"on-demand_connection\":false,\"on-demand_inactive_timeout\":60,"
		      "\"on-demand_threshold\":2000,\"trim_enabled\":false,\"multihop\":false,\"multihop_hl\":8}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.max_links, 24);
	assert_false(l.c.on_demand);
	assert_int_equal(l.c.on_demand_timeout_s, 60);
	assert_int_equal(l.c.on_demand_bps, 2000);
	assert_false(l.c.trim);
	assert_false(l.c.multihop);
	assert_int_equal(l.c.hop_limit, 8);
	unload(&l);
	load_text(&l, "{" MIN_KEYS ",\"max_links\":128}");
	assert_int_equal(l.errors, 0);
	unload(&l);
	static const char *const bad[] = { "\"max_links\":129", "\"max_links\":1", "\"max_links\":\"32\"",
					   "\"multihop_hl\":0", "\"on-demand_inactive_timeout\":5",
					   "\"on-demand_threshold\":0", "\"trim_enabled\":1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "{" MIN_KEYS ",%s}", bad[i]);
		load_text(&l, text);
		assert_int_equal(l.errors, 1);
		unload(&l);
	}
	load_text(&l, "{" MIN_KEYS ",\"multihop_cl\":10}");
	assert_int_equal(l.c.max_links, 10);
	unload(&l);
	load_text(&l, "{" MIN_KEYS ",\"multihop_cl\":10,\"max_links\":20}");
	assert_int_equal(l.c.max_links, 20);
	assert_int_equal(l.errors, 0);
	unload(&l);
}

/* metrics_address: off by default; "IP" gets port 9642; errors and the
 * wildcard warning point at the key's line and column. */
static void test_metrics_address(void **state)
{
	(void)state;
	struct loaded l;
	char a[64];
	load_text(&l, "{" MIN_KEYS "}");
	assert_int_equal(l.errors, 0);
	assert_false(l.c.metrics);
	unload(&l);
	load_text(&l, "{" MIN_KEYS ",\"metrics_address\":\"127.0.0.1\"}");
	assert_int_equal(l.errors, 0);
	assert_true(l.c.metrics);
	assert_string_equal(addr_format((struct sockaddr *)&l.c.metrics_addr, true, a), "127.0.0.1:9642");
	unload(&l);
	load_text(&l, "{" MIN_KEYS ",\"metrics_address\":\"[::1]:9100\"}");
	assert_int_equal(l.errors, 0);
	assert_string_equal(addr_format((struct sockaddr *)&l.c.metrics_addr, true, a), "[::1]:9100");
	unload(&l);
	load_text(&l, "{" MIN_KEYS ",\n  \"metrics_address\": \"localhost:9642\"}");
	assert_int_equal(l.errors, 1);
	assert_false(l.c.metrics);
	assert_line(&l, "2:22: key \"metrics_address\": expected an IP address with an optional port, like "
			"\"127.0.0.1:9642\" or \"[::1]:9642\", got \"localhost:9642\"");
	unload(&l);
	load_text(&l, "{" MIN_KEYS ",\n\"metrics_address\":9642}");
	assert_int_equal(l.errors, 1);
	unload(&l);
	load_text(&l, "{" MIN_KEYS ",\n\"metrics_address\":\"0.0.0.0\"}");
	assert_int_equal(l.errors, 0);
	assert_true(l.c.metrics);
	assert_line(&l, "2:1: warning: key \"metrics_address\": 0.0.0.0 answers on every interface and has no "
			"authentication; bind it to localhost or a management network");
	unload(&l);
}

static void test_social_keys(void **state)
{
	(void)state;
	struct loaded l;
	char b[INET_ADDRSTRLEN];
	load_text(&l, "{\"ip4\":\"172.31.0.100\",\"mode\":\"social\",\"xmpp_username\":\"a@b\","
		      "\"xmpp_password\":\"p\",\"xmpp_host\":\"b\",\"state_dir\":\"/s\","
		      "\"social_map\":{\"bob@x.org\":\"172.31.0.120\"},"
		      "\"auto_accept\":[\"*@x.org\",\"carol@y.org\",\"*\"]}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.mode, NODE_MODE_SOCIAL);
	assert_string_equal(l.c.social_map_file, "/s/ipop0.social");
	assert_null(l.c.social_pin_file);
	assert_int_equal(l.c.n_pins, 1);
	assert_string_equal(l.c.pins[0].jid, "bob@x.org");
	assert_string_equal(ip4_str(l.c.pins[0].ip4, b), "172.31.0.120");
	assert_int_equal(l.c.n_auto_accept, 3);
	assert_string_equal(l.c.auto_accept[0], "*@x.org");
	unload(&l);
	/* pins outside the subnet, on our own address, twice; bad patterns */
	load_text(&l, "{\"ip4\":\"172.31.0.100\",\"mode\":\"social\",\"xmpp_username\":\"a@b\","
		      "\"xmpp_password\":\"p\",\"xmpp_host\":\"b\",\"social_map_file\":\"/m\","
		      "\"social_map\":{\"bob@x.org\":\"172.31.1.1\",\"c@x.org\":\"172.31.0.100\","
		      "\"d@x.org\":\"172.31.0.5\",\"e@x.org\":\"172.31.0.5\",\"nojid\":\"172.31.0.6\"},"
		      "\"auto_accept\":[\"a@*\", 5]}");
	assert_string_equal(l.c.social_map_file, "/m");
	/* nojid, a@*, 5 are found first; the subnet checks need a clean file */
	assert_int_equal(l.errors, 3);
	unload(&l);
	load_text(&l, "{\"ip4\":\"172.31.0.100\",\"mode\":\"social\",\"xmpp_username\":\"a@b\","
		      "\"xmpp_password\":\"p\",\"xmpp_host\":\"b\","
		      "\"social_map\":{\"bob@x.org\":\"172.31.1.1\",\"c@x.org\":\"172.31.0.100\","
		      "\"d@x.org\":\"172.31.0.5\",\"e@x.org\":\"172.31.0.5\"}}");
	assert_int_equal(l.errors, 3);
	assert_non_null(strstr(l.diag, "key \"social_map.e@x.org\": 172.31.0.5 is pinned twice"));
	assert_non_null(strstr(l.diag, "172.31.1.1 is not a free host address"));
	unload(&l);
}

static void test_missing_file_and_not_object(void **state)
{
	(void)state;
	struct loaded l;
	load_fixture(&l, "no-such-file.json");
	assert_int_equal(l.errors, 1);
	assert_line(&l, " cannot open: No such file or directory");
	unload(&l);
	load_text(&l, "[1, 2]");
	assert_int_equal(l.errors, 1);
	assert_line(&l, " expected a JSON object { ... } at the top level, got an array");
	unload(&l);
	load_text(&l, "{}");
	assert_int_equal(l.errors, 3); /* the three required keys (xmpp_host is optional: SRV) */
	unload(&l);
}

static void test_jid_and_host_forms(void **state)
{
	(void)state;
	static const struct {
		const char *user, *host;
		int errors;
	} cases[] = {
		{ "a@b", "b", 0 },
		{ "a@b.example", "192.0.2.1", 0 },
		{ "a@b", "2001:db8::1", 0 },
		{ "ab", "b", 1 },            /* no '@' */
		{ "@b", "b", 1 },            /* no user */
		{ "a@b@c", "b", 1 },         /* two '@' */
		{ "a b@c", "b", 1 },         /* space */
		{ "a@b..c", "b", 1 },        /* empty label */
		{ "a@b", "[2001:db8::1]", 0 },
		{ "a@b", "[2001:db8::1]:5223", 0 },
		{ "a@b", "b:5223", 0 },
		{ "a@b", "b:0", 1 },
		{ "a@b", "b:65536", 1 },
		{ "a@b", "[2001:db8::1", 1 },
		{ "a@b", "b:5222:1", 1 },     /* neither host:port nor IPv6 */
		{ "a@b", "b c", 1 },
		{ "a@b", "", 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		struct loaded l;
		snprintf(text, sizeof(text),
			 "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"%s\",\"xmpp_password\":\"p\","
			 "\"xmpp_host\":\"%s\"}", cases[i].user, cases[i].host);
		load_text(&l, text);
		if (l.errors != cases[i].errors)
			print_error("case %zu (%s, %s): %s", i, cases[i].user, cases[i].host, l.diag);
		assert_int_equal(l.errors, cases[i].errors);
		unload(&l);
	}
}

/* "xmpp_host": one server, a list (a cluster), or absent (SRV records). */
static void test_xmpp_host_list(void **state)
{
	(void)state;
	struct loaded l;
	load_text(&l, "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@example.test\",\"xmpp_password\":\"p\"}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_xmpp_hosts, 0);
	assert_int_equal(l.diag_len, 0);
	unload(&l);
	load_text(&l, "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@example.test\",\"xmpp_password\":\"p\",\n"
		      "\"xmpp_host\": [\"m1.example.test\", \"198.51.100.3:5223\", \"[2001:db8::2]:5222\", \"2001:db8::3\"]}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_xmpp_hosts, 4);
	assert_string_equal(l.c.xmpp_hosts[0].host, "m1.example.test");
	assert_int_equal(l.c.xmpp_hosts[0].port, 0);
	assert_string_equal(l.c.xmpp_hosts[1].host, "198.51.100.3");
	assert_int_equal(l.c.xmpp_hosts[1].port, 5223);
	assert_string_equal(l.c.xmpp_hosts[2].host, "2001:db8::2");
	assert_int_equal(l.c.xmpp_hosts[2].port, 5222);
	assert_string_equal(l.c.xmpp_hosts[3].host, "2001:db8::3");
	assert_int_equal(l.c.xmpp_hosts[3].port, 0);
	unload(&l);
	load_fixture(&l, "cluster.json");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_xmpp_hosts, 3);
	assert_string_equal(l.c.xmpp_hosts[2].host, "xmpp3.example.test");
	assert_int_equal(l.c.xmpp_hosts[2].port, 5223);
	unload(&l);
	load_fixture(&l, "srv.json");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_xmpp_hosts, 0);
	assert_string_equal(l.c.xmpp_domain, "example.test");
	unload(&l);
	/* every bad member, each at its own position */
	load_text(&l, "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\",\n"
		      "\"xmpp_host\": [\"m1\", 5, \"M1\", \"m2:0\", \"\", \"m3:5222\", \"m3:5222\"]}");
	assert_int_equal(l.errors, 5);
	assert_line(&l, "2:21: key \"xmpp_host[1]\": expected a \"host\" or \"host:port\" string, got 5");
	assert_line(&l, "2:24: key \"xmpp_host[2]\": \"M1\" is listed twice");
	assert_line(&l, "2:30: key \"xmpp_host[3]\": expected a \"host\" or \"host:port\" string, got \"m2:0\": "
			"the port must be a number from 1 to 65535");
	assert_line(&l, "2:38: key \"xmpp_host[4]\": expected a \"host\" or \"host:port\" string, got \"\"");
	assert_line(&l, "2:53: key \"xmpp_host[6]\": \"m3:5222\" is listed twice");
	assert_int_equal(count_lines(&l), 5);
	unload(&l);
	static const char *const bad[] = { "[]", "{}", "7", "null", "\"a\\u0000b\"",
		"[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\",\"xmpp_host\":%s}", bad[i]);
		load_text(&l, text);
		if (l.errors != 1)
			print_error("case %s: %s", bad[i], l.diag);
		assert_int_equal(l.errors, 1);
		assert_int_equal(l.c.n_xmpp_hosts, 0);
		unload(&l);
	}
	/* the error text says how to get SRV records */
	load_text(&l, "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\",\"xmpp_host\":[]}");
	assert_line(&l, "1:73: key \"xmpp_host\": expected a \"host\" or \"host:port\" string, or a list of 1 to 16 "
			"of them (leave the key out to use the domain's DNS SRV records), got []");
	unload(&l);
}

static void test_password_never_echoed(void **state)
{
	(void)state;
	struct loaded l;
	load_text(&l, "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":[\"hunter2\"],"
		      "\"xmpp_host\":\"b\"}");
	assert_int_equal(l.errors, 1);
	assert_null(strstr(l.diag, "hunter2"));
	assert_line(&l, "1:57: key \"xmpp_password\": expected a non-empty string, got an array");
	unload(&l);
}

static void test_limits(void **state)
{
	(void)state;
	struct loaded l;
	/* nine STUN servers: one too many */
	load_text(&l, "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\","
		      "\"xmpp_host\":\"b\",\"stun\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}");
	assert_int_equal(l.errors, 1);
	unload(&l);
	/* a control socket path longer than sun_path */
	char text[512], longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\","
		 "\"xmpp_host\":\"b\",\"control_socket\":\"%s\"}", longp);
	load_text(&l, text);
	assert_int_equal(l.errors, 1);
	assert_non_null(strstr(l.diag, "at most 107 bytes"));
	unload(&l);
	load_text(&l, "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\","
		      "\"xmpp_host\":\"b\",\"ip4_mask\":31,\"mtu\":1280.0,"
		      "\"network_ignore_list\":[\"ok0\",\"bad/name\"]}");
	assert_int_equal(l.errors, 3);
	assert_int_equal(l.c.n_ignore, 1);
	unload(&l);
}

static void test_turn_server_specs(void **state)
{
	(void)state;
	const unsigned U = 1u << NODE_TURN_UDP, T = 1u << NODE_TURN_TCP, S = 1u << NODE_TURN_TLS;
	static const struct {
		const char *spec, *host;
		unsigned port, allowed;
	} ok[] = {
		{ "198.51.100.1", "198.51.100.1", 0, 0 },
		{ "relay.example:3480", "relay.example", 3480, 0 },
		{ "[2001:db8::2]:3481", "2001:db8::2", 3481, 0 },
		{ "2001:db8::2", "2001:db8::2", 0, 0 },
		{ "turn:relay.example", "relay.example", 0, 0x3 },
		{ "TURN:relay.example:1?transport=udp", "relay.example", 1, 0x1 },
		{ "turn:[2001:db8::3]?transport=tcp", "2001:db8::3", 0, 0x2 },
		{ "turns:relay.example:5350", "relay.example", 5350, 0x4 },
		{ "turns:relay.example?transport=tcp", "relay.example", 0, 0x4 },
	};
	assert_int_equal(U | T, 0x3);
	assert_int_equal(S, 0x4);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *host = NULL;
		uint16_t port = 99;
		unsigned allowed = 99;
		const char *why = node_conf_parse_turn_server(ok[i].spec, &host, &port, &allowed);
		if (why)
			print_error("%s: %s\n", ok[i].spec, why);
		assert_null(why);
		assert_string_equal(host, ok[i].host);
		assert_int_equal(port, ok[i].port);
		assert_int_equal(allowed, ok[i].allowed);
		free(host);
	}
	static const char *const bad[] = {
		"turn://relay.example", "turn:relay.example?foo=bar", "turn:relay.example?transport=sctp",
		"turns:relay.example?transport=udp", "[2001:db8::1", "[2001:db8::1]x", "[relay]:5",
		"relay.example:99999", "relay.example:", "relay example", "turn:", "",
		"relay.example:0", "relay.example:03478",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *host = NULL;
		uint16_t port;
		unsigned allowed;
		if (!node_conf_parse_turn_server(bad[i], &host, &port, &allowed))
			print_error("accepted %s\n", bad[i]);
		assert_non_null(node_conf_parse_turn_server(bad[i], &host, &port, &allowed));
		assert_null(host);
	}
}

/* The examples shipped in deploy/ load cleanly. */
static void test_deploy_examples(void **state)
{
	(void)state;
	static const char *const names[] = { "config-group.json", "config-social.json" };
	for (size_t i = 0; i < 2; i++) {
		char p[512];
		struct loaded l;
		fixture_path("", p, sizeof(p));
		snprintf(p + strlen(p), sizeof(p) - strlen(p), "../../../deploy/%s", names[i]);
		load_copy(&l, p);
		if (l.errors || l.diag_len)
			print_error("%s", l.diag);
		assert_int_equal(l.errors, 0);
		assert_int_equal(l.diag_len, 0);
		assert_int_equal(l.c.mode, i ? NODE_MODE_SOCIAL : NODE_MODE_GROUP);
		assert_true(l.c.n_turn >= 1);
		unload(&l);
	}
}

/* The position scan: escapes, multibyte characters, nesting, depth cut. */
static void test_json_pos(void **state)
{
	(void)state;
	static const char text[] = "{\n"
				   "  \"a\\\"b\": \"x\\\\\\\"y\", \"\xc3\xa9t\xc3\xa9\": 1,\n"
				   "\t\"k\\u0065y\": [ {\"s\": \"[{,:}]\"}, [1, {\"deep\": 2}] ],\n"
				   "  \"last\" :\n    true }";
	struct json_pos *t = calloc(1, sizeof(*t));
	int line, col;
	assert_non_null(t);
	json_pos_scan(t, text, strlen(text));
	assert_true(json_pos_find(t, "a\"b", true, &line, &col));
	assert_int_equal(line, 2);
	assert_int_equal(col, 3);
	assert_true(json_pos_find(t, "a\"b", false, &line, &col));
	assert_int_equal(col, 11);
	assert_true(json_pos_find(t, "\xc3\xa9t\xc3\xa9", true, &line, &col));
	assert_int_equal(col, 21); /* multibyte characters count once */
	assert_true(json_pos_find(t, "key", false, &line, &col));
	assert_int_equal(line, 3);
	assert_int_equal(col, 14);
	assert_true(json_pos_find(t, "key[0].s", false, &line, &col));
	assert_int_equal(col, 22);
	assert_true(json_pos_find(t, "key[1]", false, &line, &col));
	assert_int_equal(col, 33);
	assert_false(json_pos_find(t, "key[1][1].deep", false, &line, &col)); /* too deep */
	assert_true(json_pos_find(t, "last", false, &line, &col));
	assert_int_equal(line, 5);
	assert_int_equal(col, 5);
	/* truncated input must not read past the end */
	json_pos_scan(t, text, 20);
	assert_true(t->n <= JSON_POS_MAX);
	/* junk, including NUL bytes inside a container, must not stall it
	 * (found by fuzzing: the scan used to spin on "\0") */
	static const char junk[] = "{\"a\":[[[1,\0]]],\"b\":2}";
	json_pos_scan(t, junk, sizeof(junk) - 1);
	assert_true(json_pos_find(t, "a", false, &line, &col));
	assert_int_equal(col, 6);
	assert_true(json_pos_find(t, "b", false, &line, &col));
	assert_int_equal(col, 20);
	free(t);
}


/* ---- IPv6 and routes (docs/ipv6.md) ---- */

#define BASE "{\"ip4\":\"172.31.0.100\",\"xmpp_username\":\"a@example.org\",\"xmpp_password\":\"p\",\"xmpp_host\":\"x\""

static const char *ip6_str(const struct in6_addr *a, char b[INET6_ADDRSTRLEN])
{
	return inet_ntop(AF_INET6, a, b, INET6_ADDRSTRLEN);
}

static void test_ip6(void **state)
{
	(void)state;
	struct loaded l;
	char b[INET6_ADDRSTRLEN];
	load_text(&l, BASE ",\"ip6\":\"fd00::100\"}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_warnings, 0);
	assert_true(l.c.has_ip6);
	assert_false(l.c.ip6_derived);
	assert_string_equal(ip6_str(&l.c.ip6, b), "fd00::100");
	assert_int_equal(l.c.ip6_mask, NODE_CONF_DEFAULT_IP6_MASK);
	struct ip_prefix nets[2];
	char p[IP_PREFIX_STRLEN];
	assert_int_equal(node_conf_overlay_subnets(&l.c, nets), 2);
	assert_string_equal(ip_prefix_format(&nets[0], p), "172.31.0.0/24");
	assert_string_equal(ip_prefix_format(&nets[1], p), "fd00::/64");
	unload(&l);

	load_text(&l, BASE ",\"ip6\":\"fd00:1:2::100\",\"ip6_mask\":48}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.ip6_mask, 48);
	unload(&l);

	/* no ip6: v4 only, as before */
	load_fixture(&l, "minimal.json");
	assert_false(l.c.has_ip6);
	assert_int_equal(node_conf_overlay_subnets(&l.c, nets), 1);
	unload(&l);

	static const struct {
		const char *json, *line;
	} bad[] = {
		{ BASE ",\n\"ip6\":\"fe80::1\"}", "2:7: key \"ip6\": expected a unicast IPv6 address (fd00::/8 suits an overlay), "
						 "got \"fe80::1\": it is in fe80::/10 (link-local)" },
		{ BASE ",\n\"ip6\":\"ff02::1\"}", "2:7: key \"ip6\": expected a unicast IPv6 address (fd00::/8 suits an overlay), "
						 "got \"ff02::1\": it is in ff00::/8 (multicast)" },
		{ BASE ",\n\"ip6\":\"::\"}", "2:7: key \"ip6\": expected a unicast IPv6 address (fd00::/8 suits an overlay), got "
					    "\"::\": it is in ::/128 (unspecified)" },
		{ BASE ",\n\"ip6\":\"::1\"}", "2:7: key \"ip6\": expected a unicast IPv6 address (fd00::/8 suits an overlay), got "
					     "\"::1\": it is in ::1/128 (loopback)" },
		{ BASE ",\n\"ip6\":\"::ffff:172.31.0.1\"}", "2:7: key \"ip6\": expected a unicast IPv6 address (fd00::/8 suits an "
							   "overlay), got \"::ffff:172.31.0.1\": it is in ::ffff:0:0/96 (IPv4-mapped)" },
		{ BASE ",\n\"ip6\":\"172.31.0.1\"}", "2:7: key \"ip6\": expected an IPv6 address string like \"fd00::100\", got "
						    "\"172.31.0.1\"" },
		{ BASE ",\n\"ip6\":\"fd00::1\",\"ip6_mask\":127}", "2:28: key \"ip6_mask\": expected an integer from 16 to 126 "
								  "(prefix length), got 127" },
		{ BASE ",\n\"ip6\":\"fd00::\"}", "2:7: key \"ip6\": fd00:: is the Subnet-Router anycast address of its /64 (host "
						"bits all zero)" },
		{ BASE ",\n\"ip6\":\"fd00::1\",\"mtu\":1200}", "2:23: key \"mtu\": at least 1280 with IPv6 on the overlay (RFC 8200; "
							      "Linux turns IPv6 off on a smaller link), got 1200" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_text(&l, bad[i].json);
		assert_int_equal(l.errors, 1);
		assert_line(&l, bad[i].line);
		unload(&l);
	}
	/* ip6_mask alone does nothing, and says so */
	load_text(&l, BASE ",\n\"ip6_mask\":64}");
	assert_int_equal(l.errors, 0);
	assert_false(l.c.has_ip6);
	assert_line(&l, "2:1: warning: key \"ip6_mask\": ignored without \"ip6\" or \"ip6_prefix\"");
	unload(&l);
}

/* The original's ip6_prefix: the node's address is the prefix and the first
 * 64 bits of SHA-1 over ip4's text, as gen_ip6(gen_uid(ip4)) made it
 * (expected values computed with Python's hashlib). */
static void test_ip6_prefix(void **state)
{
	(void)state;
	struct loaded l;
	char b[INET6_ADDRSTRLEN];
	static const char *const forms[] = { "fd50:0dbc:41f2:4a3c", "fd50:dbc:41f2:4a3c::", "fd50:dbc:41f2:4a3c::/64" };
	for (int i = 0; i < 3; i++) {
		char text[512];
		snprintf(text, sizeof(text), BASE ",\"ip6_prefix\":\"%s\"}", forms[i]);
		load_text(&l, text);
		assert_int_equal(l.errors, 0);
		assert_int_equal(l.c.n_warnings, 0);
		assert_true(l.c.has_ip6);
		assert_true(l.c.ip6_derived);
		assert_string_equal(ip6_str(&l.c.ip6, b), "fd50:dbc:41f2:4a3c:437e:4c04:7586:6c60");
		assert_int_equal(l.c.ip6_mask, 64);
		unload(&l);
	}
	load_text(&l, "{\"ip4\":\"172.31.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\",\"xmpp_host\":\"x\","
		      "\"ip6_prefix\":\"fd50:0dbc:41f2:4a3c\",\"ip6_mask\":48}");
	assert_int_equal(l.errors, 0);
	assert_string_equal(ip6_str(&l.c.ip6, b), "fd50:dbc:41f2:4a3c:72d2:a0db:8ae9:db7d");
	assert_int_equal(l.c.ip6_mask, 48);
	unload(&l);
	/* ip6 wins */
	load_text(&l, BASE ",\n\"ip6\":\"fd00::5\",\"ip6_prefix\":\"fd50:0dbc:41f2:4a3c\"}");
	assert_int_equal(l.errors, 0);
	assert_string_equal(ip6_str(&l.c.ip6, b), "fd00::5");
	assert_false(l.c.ip6_derived);
	assert_line(&l, "2:17: warning: key \"ip6_prefix\": ignored because \"ip6\" is set");
	unload(&l);

	static const struct {
		const char *json, *line;
	} bad[] = {
		{ BASE ",\n\"ip6_prefix\":\"fd50::/48\"}", "2:14: key \"ip6_prefix\": expected the first 64 bits of an IPv6 "
							 "address, like \"fd50:0dbc:41f2:4a3c\", got \"fd50::/48\": the prefix is 64 bits "
							 "(the node's address is these 64 bits and 64 of its own)" },
		{ BASE ",\n\"ip6_prefix\":\"fd50:dbc:41f2:4a3c::1\"}", "2:14: key \"ip6_prefix\": expected the first 64 bits of "
								     "an IPv6 address, like \"fd50:0dbc:41f2:4a3c\", got "
								     "\"fd50:dbc:41f2:4a3c::1\": only the first 64 bits may be set" },
		{ BASE ",\n\"ip6_prefix\":\"fe80:0:0:0\"}", "2:14: key \"ip6_prefix\": expected the first 64 bits of an IPv6 "
							  "address, like \"fd50:0dbc:41f2:4a3c\", got \"fe80:0:0:0\": overlaps "
							  "fe80::/10 (link-local)" },
		{ BASE ",\n\"ip6_prefix\":\"fd50:0dbc:41f2:4a3c\",\"ip6_mask\":96}", "2:47: key \"ip6_mask\": at most 64 with "
										   "\"ip6_prefix\" (the address is made of the prefix and "
										   "64 bits of the node's own)" },
		{ BASE ",\n\"ip6_prefix\":64}", "2:14: key \"ip6_prefix\": expected the first 64 bits of an IPv6 address, like "
					       "\"fd50:0dbc:41f2:4a3c\", got 64" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_text(&l, bad[i].json);
		assert_int_equal(l.errors, 1);
		assert_line(&l, bad[i].line);
		unload(&l);
	}
}

static void test_routes(void **state)
{
	(void)state;
	struct loaded l;
	char p[IP_PREFIX_STRLEN];
	load_text(&l, BASE ",\"ip6\":\"fd00::100\",\"routes\":[\"10.77.0.0/24\",\"fd00:77::/64\",\"192.168.1.0/24\"]}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_warnings, 0);
	assert_int_equal(l.c.n_routes, 3);
	assert_string_equal(ip_prefix_format(&l.c.routes[0], p), "10.77.0.0/24");
	assert_string_equal(ip_prefix_format(&l.c.routes[1], p), "fd00:77::/64");
	unload(&l);

	static const struct {
		const char *json, *line;
	} bad[] = {
		{ BASE ",\n\"routes\":[\"10.77.0.1/24\"]}", "2:11: key \"routes[0]\": expected a prefix string like "
							  "\"10.77.0.0/24\" or \"fd00:77::/64\", got \"10.77.0.1/24\": host bits "
							  "are set (did you mean \"10.77.0.0/24\"?)" },
		{ BASE ",\n\"routes\":[\"10.77.0.0/24\",\"10.0.0.0/8\"]}", "2:26: key \"routes[1]\": 10.0.0.0/8 overlaps "
									 "10.77.0.0/24, listed before" },
		{ BASE ",\n\"routes\":[\"172.31.0.128/25\"]}", "2:11: key \"routes[0]\": 172.31.0.128/25 overlaps the overlay's "
							     "own subnet 172.31.0.0/24" },
		{ BASE ",\n\"routes\":[\"fd00:77::/64\"]}", "2:11: key \"routes[0]\": fd00:77::/64 is IPv6 but this node has no "
							  "\"ip6\"" },
		{ BASE ",\n\"routes\":[\"0.0.0.0/0\"]}", "2:11: key \"routes[0]\": expected a prefix string like "
						       "\"10.77.0.0/24\" or \"fd00:77::/64\", got \"0.0.0.0/0\": a default route "
						       "(an exit node) is not supported" },
		{ BASE ",\n\"routes\":[\"169.254.0.0/16\"]}", "2:11: key \"routes[0]\": expected a prefix string like "
							    "\"10.77.0.0/24\" or \"fd00:77::/64\", got \"169.254.0.0/16\": overlaps "
							    "169.254.0.0/16 (link-local)" },
		{ BASE ",\n\"routes\":[\"10.77.0.0\"]}", "2:11: key \"routes[0]\": expected a prefix string like "
						       "\"10.77.0.0/24\" or \"fd00:77::/64\", got \"10.77.0.0\": expected "
						       "ADDRESS/LENGTH (the length is required)" },
		{ BASE ",\n\"routes\":\"10.77.0.0/24\"}", "2:10: key \"routes\": expected an array of at most 16 prefix "
							"strings like \"10.77.0.0/24\", got \"10.77.0.0/24\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_text(&l, bad[i].json);
		assert_int_equal(l.errors, 1);
		assert_line(&l, bad[i].line);
		unload(&l);
	}
	/* at most 16 */
	char text[2048];
	int n = snprintf(text, sizeof(text), BASE ",\"routes\":[");
	for (int i = 0; i < 17; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%s\"10.%d.0.0/16\"", i ? "," : "", 100 + i);
	snprintf(text + n, sizeof(text) - (size_t)n, "]}");
	load_text(&l, text);
	assert_int_equal(l.errors, 1);
	assert_int_equal(l.c.n_routes, 0);
	unload(&l);
}

static void test_accept_routes(void **state)
{
	(void)state;
	struct loaded l;
	char why[160];
	load_text(&l, BASE ",\"ip6\":\"fd00::100\",\"routes\":[\"10.99.0.0/24\"],\n"
		      "\"accept_routes\":{\"bob@example.org\":[\"10.77.0.0/16\",\"fd00:77::/48\"],\"carol@example.org\":[]}}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_warnings, 0);
	assert_int_equal(l.c.n_accept, 2);
	const struct node_accept *a = node_conf_accept_for(&l.c, "Bob@Example.ORG");
	assert_non_null(a);
	assert_int_equal(a->n, 2);
	assert_null(node_conf_accept_for(&l.c, "dave@example.org"));

	static const struct {
		const char *jid, *prefix, *why;
	} cases[] = {
		{ "bob@example.org", "10.77.0.0/24", NULL },
		{ "BOB@example.org", "10.77.0.0/16", NULL },
		{ "bob@example.org", "fd00:77:0:1::/64", NULL },
		{ "bob@example.org", "10.76.0.0/14", "10.76.0.0/14 is not authorised for bob@example.org (\"accept_routes\")" },
		{ "bob@example.org", "10.78.0.0/24", "10.78.0.0/24 is not authorised for bob@example.org (\"accept_routes\")" },
		{ "carol@example.org", "10.77.0.0/24", "10.77.0.0/24 is not authorised for carol@example.org (\"accept_routes\")" },
		{ "dave@example.org", "10.77.0.0/24", "10.77.0.0/24 is not authorised for dave@example.org (\"accept_routes\")" },
		{ "bob@example.org", "172.31.0.0/16", "172.31.0.0/16 overlaps the overlay's subnet 172.31.0.0/24" },
		{ "bob@example.org", "fd00::/16", "fd00::/16 overlaps the overlay's subnet fd00::/64" },
		{ "bob@example.org", "10.99.0.128/25", "10.99.0.128/25 overlaps 10.99.0.0/24, which this node routes" },
		{ "bob@example.org", "127.0.0.0/8", "127.0.0.0/8: overlaps 127.0.0.0/8 (loopback)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_prefix p;
		assert_null(ip_prefix_parse(cases[i].prefix, &p, NULL));
		const char *r = node_conf_route_refusal(&l.c, cases[i].jid, &p, why, sizeof(why));
		if (!cases[i].why)
			assert_null(r);
		else
			assert_string_equal(r, cases[i].why);
	}
	unload(&l);

	/* a v4-only node refuses IPv6 routes */
	load_text(&l, BASE ",\"accept_routes\":{\"bob@example.org\":[\"10.77.0.0/16\"]}}");
	struct ip_prefix p6;
	assert_null(ip_prefix_parse("fd00:77::/64", &p6, NULL));
	assert_string_equal(node_conf_route_refusal(&l.c, "bob@example.org", &p6, why, sizeof(why)),
			    "fd00:77::/64 is IPv6 and this node has no \"ip6\"");
	unload(&l);

	static const struct {
		const char *json, *line;
	} bad[] = {
		{ BASE ",\n\"accept_routes\":{\"*@example.org\":[\"10.77.0.0/16\"]}}",
		  "2:34: key \"accept_routes.*@example.org\": the member name must be a bare JID: a pattern "
		  "would let any matching account claim the prefixes" },
		{ BASE ",\n\"accept_routes\":{\"bob@example.org\":[\"10.77.0.0/16\"],\"Bob@example.org\":[]}}",
		  "2:71: key \"accept_routes.Bob@example.org\": Bob@example.org is listed twice (JIDs compare without case)" },
		{ BASE ",\n\"accept_routes\":{\"bob@example.org\":[\"10.77.0.9/16\"]}}",
		  "2:37: key \"accept_routes.bob@example.org[0]\": expected a prefix string like \"10.77.0.0/24\" or "
		  "\"fd00:77::/64\", got \"10.77.0.9/16\": host bits are set (did you mean \"10.77.0.0/16\"?)" },
		{ BASE ",\n\"accept_routes\":{\"bob@example.org\":[\"172.31.0.0/16\"]}}",
		  "2:37: key \"accept_routes.bob@example.org[0]\": 172.31.0.0/16 overlaps the overlay's own subnet 172.31.0.0/24" },
		{ BASE ",\"routes\":[\"10.77.0.0/24\"],\n\"accept_routes\":{\"bob@example.org\":[\"10.77.0.0/16\"]}}",
		  "2:37: key \"accept_routes.bob@example.org[0]\": 10.77.0.0/16 overlaps 10.77.0.0/24, which this node "
		  "routes itself" },
		{ BASE ",\n\"accept_routes\":[\"bob@example.org\"]}",
		  "2:17: key \"accept_routes\": expected an object of at most 64 \"user@domain\": [\"prefix\", ...] members, "
		  "got [\"bob@example.org\"]" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_text(&l, bad[i].json);
		assert_int_equal(l.errors, 1);
		assert_line(&l, bad[i].line);
		unload(&l);
	}
}

static void test_router_mode(void **state)
{
	(void)state;
	struct loaded l;
	load_text(&l, BASE ",\n\"router_mode\":false,\"router_ip\":\"192.168.0.0\"}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_warnings, 1);
	assert_line(&l, "2:21: warning: key \"router_ip\": ignored (an original IPOP setting ipopd does not implement)");
	unload(&l);
	load_text(&l, BASE ",\n\"router_mode\":true}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_routes, 0);
	assert_line(&l, "2:1: warning: key \"router_mode\": not honoured: the original's router mode gave every node "
			"the same \"router_ip\" and put its LAN's network in \"ip4\"; ipopd needs an overlay address per "
			"node in \"ip4\" and the LAN in \"routes\" (e.g. \"routes\": [\"192.168.1.0/24\"]), authorised on "
			"the other nodes with \"accept_routes\" (docs/ipv6.md)");
	unload(&l);
	load_text(&l, BASE ",\n\"router_mode\":\"yes\"}");
	assert_int_equal(l.errors, 1);
	assert_line(&l, "2:15: key \"router_mode\": expected true or false, got \"yes\"");
	unload(&l);
}

/* Social mode is IPv4-only and routes nothing: the keys are dropped with
 * a warning each, never half-used. */
static void test_social_is_ipv4_only(void **state)
{
	(void)state;
	struct loaded l;
	load_text(&l, BASE ",\"mode\":\"social\",\n\"ip6\":\"fd00::100\",\"routes\":[\"10.77.0.0/24\"],"
		      "\"accept_routes\":{\"bob@example.org\":[\"10.78.0.0/24\"]}}");
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_warnings, 3);
	assert_line(&l, "2:1: warning: key \"ip6\": ignored: social mode is IPv4-only and routes no subnets "
			"(docs/ipv6.md)");
	assert_line(&l, "2:19: warning: key \"routes\": ignored: social mode is IPv4-only and routes no subnets "
			"(docs/ipv6.md)");
	assert_false(l.c.has_ip6);
	assert_int_equal(l.c.n_routes, 0);
	assert_int_equal(l.c.n_accept, 0);
	struct ip_prefix p;
	char why[160];
	assert_null(ip_prefix_parse("10.78.0.0/24", &p, NULL));
	assert_non_null(node_conf_route_refusal(&l.c, "bob@example.org", &p, why, sizeof(why)));
	unload(&l);
}

/* ip4 is a unicast address: loopback, multicast, 0.0.0.0/8 and the
 * limited broadcast are refused with file:line:column and the reason. */
static void test_ip4_unusable(void **state)
{
	(void)state;
	static const struct {
		const char *ip, *why;
	} bad[] = {
		{ "127.0.0.1", "127.0.0.0/8 (loopback)" },
		{ "224.0.0.1", "224.0.0.0/4 (multicast)" },
		{ "0.0.0.1", "0.0.0.0/8 (this network)" },
		{ "255.255.255.255", "255.255.255.255/32 (broadcast)" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct loaded l;
		char text[256], line[256];
		snprintf(text, sizeof(text),
			 "{\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\",\"xmpp_host\":\"b\",\n\"ip4\":\"%s\"}",
			 bad[i].ip);
		load_text(&l, text);
		assert_int_equal(l.errors, 1);
		snprintf(line, sizeof(line),
			 "2:7: key \"ip4\": expected a unicast IPv4 address (172.16.0.0/12 suits an overlay), got "
			 "\"%s\": it is in %s",
			 bad[i].ip, bad[i].why);
		assert_line(&l, line);
		unload(&l);
	}
	struct loaded l; /* the benign case next to them */
	load_text(&l, "{\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\",\"xmpp_host\":\"b\",\"ip4\":\"10.0.0.1\"}");
	assert_int_equal(l.errors, 0);
	unload(&l);
}

/* The file holds passwords: a warning when others may read it, none at
 * 0600; a FIFO is refused at once instead of hanging the loader. */
static void test_file_mode_and_kind(void **state)
{
	(void)state;
	struct loaded l;
	char p[] = "/tmp/test_node_conf_XXXXXX.json", line[512];
	const char *text = "{\"ip4\":\"10.1.0.1\",\"xmpp_username\":\"a@b\",\"xmpp_password\":\"p\",\"xmpp_host\":\"b\"}";
	int fd = mkstemps(p, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	load_path(&l, p);
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_warnings, 0);
	assert_int_equal(l.diag_len, 0);
	unload(&l);
	assert_int_equal(chmod(p, 0644), 0);
	load_path(&l, p);
	assert_int_equal(l.errors, 0);
	assert_int_equal(l.c.n_warnings, 1);
	snprintf(line, sizeof(line),
		 " warning: mode 0644 lets others read the passwords in it (xmpp_password, TURN pass); "
		 "run: chmod o-rw %s", p);
	assert_line(&l, line);
	unload(&l);
	assert_int_equal(chmod(p, 0640), 0); /* root:ipop 640, as docs/deploy.md installs it */
	load_path(&l, p);
	assert_int_equal(l.c.n_warnings, 0);
	unload(&l);
	unlink(p);

	char fifo[] = "/tmp/test_node_conf_fifoXXXXXX";
	assert_non_null(mkdtemp(fifo));
	char fp[64];
	snprintf(fp, sizeof(fp), "%s/config.json", fifo);
	assert_int_equal(mkfifo(fp, 0600), 0);
	load_path(&l, fp); /* returns: nobody writes to the FIFO */
	assert_int_equal(l.errors, 1);
	assert_line(&l, " not a regular file (a FIFO)");
	unload(&l);
	load_path(&l, fifo);
	assert_int_equal(l.errors, 1);
	assert_line(&l, " not a regular file (a directory)");
	unload(&l);
	unlink(fp);
	rmdir(fifo);
}

/* trust_file sits next to the key file; the map and the per-member cap. */
static void test_trust_keys(void **state)
{
	(void)state;
	struct loaded l;
	load_text(&l, BASE ",\"state_dir\":\"/s\"}");
	assert_int_equal(l.errors, 0);
	assert_string_equal(l.c.key_file, "/s/ipop0.key");
	assert_string_equal(l.c.trust_file, "/s/ipop0.trust");
	assert_null(l.c.address_map_file);
	assert_int_equal(l.c.max_links_per_member, 4);
	unload(&l);
	load_text(&l, BASE ",\"key_file\":\"/k/node.key\",\"address_map_file\":\"/etc/ipop/map\","
		      "\"max_links_per_member\":8}");
	assert_int_equal(l.errors, 0);
	assert_string_equal(l.c.trust_file, "/k/node.trust");
	assert_string_equal(l.c.address_map_file, "/etc/ipop/map");
	assert_int_equal(l.c.max_links_per_member, 8);
	unload(&l);
	load_text(&l, BASE ",\"key_file\":\"/k/secret\",\"trust_file\":\"/t\"}");
	assert_string_equal(l.c.trust_file, "/t");
	unload(&l);
	load_text(&l, BASE ",\"key_file\":\"/k/secret\"}");
	assert_string_equal(l.c.trust_file, "/k/secret.trust");
	unload(&l);
	load_text(&l, BASE ",\n\"max_links_per_member\":0,\"address_map_file\":\"\"}");
	assert_int_equal(l.errors, 2);
	assert_line(&l, "2:24: key \"max_links_per_member\": expected an integer from 1 to 64, got 0");
	unload(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_original_verbatim),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_derived_paths),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_bad_ip4_position),
		cmocka_unit_test(test_many_errors_one_run),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_legacy_and_unknown_keys),
		cmocka_unit_test(test_new_keys_win_over_legacy),
		cmocka_unit_test(test_tls_off_warns),
		cmocka_unit_test(test_broadcast_address),
		cmocka_unit_test(test_social_keys),
		cmocka_unit_test(test_crypto_threads),
		cmocka_unit_test(test_overlay_keys),
		cmocka_unit_test(test_metrics_address),
		cmocka_unit_test(test_missing_file_and_not_object),
		cmocka_unit_test(test_jid_and_host_forms),
		cmocka_unit_test(test_xmpp_host_list),
		cmocka_unit_test(test_password_never_echoed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_turn_server_specs),
		cmocka_unit_test(test_deploy_examples),
		cmocka_unit_test(test_json_pos),
		cmocka_unit_test(test_ip6),
		cmocka_unit_test(test_ip6_prefix),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_accept_routes),
		cmocka_unit_test(test_router_mode),
		cmocka_unit_test(test_social_is_ipv4_only),
		cmocka_unit_test(test_ip4_unusable),
		cmocka_unit_test(test_file_mode_and_kind),
		cmocka_unit_test(test_trust_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
