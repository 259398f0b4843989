/* turn_load: a TURN relay load generator built on turn_client.
 *
 * 1. Opens N UDP allocations (long-term credentials), each from its own
 *    socket, at most -a of them in flight, optionally spread over -B source
 *    addresses (servers rate-limit 401 answers per source IP).
 * 2. With the server's PID (-P) it reads VmRSS before and after: RSS per
 *    allocation.
 * 3. Unless --hold, the first -c allocations bind a channel to one of -k peer
 *    sockets it owns (bound on -p IP) and blast ChannelData for -t seconds,
 *    as fast as possible or at -r packets/s in total, with sendmmsg; the
 *    peer sockets count what the relay delivers with recvmmsg. With -P it
 *    reads the server's utime+stime around the blast: relayed packets per
 *    CPU-second.
 * Results are printed as "key=value" lines for scripts. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "turn_client.h"
#include "bench_clock.h"

enum { DIR_FWD = 1, DIR_REV = 2 };
enum { BATCH = 32, MAX_PEER_SOCKS = 64, RX_BATCH = 64, PKT_MAX = 1500 };

struct load_client {
	struct turn_client c;
	int fd;
	bool started, done, chan_ok;
	uint8_t pkt[PKT_MAX]; /* the prebuilt ChannelData */
	int pkt_len;
};

struct opts {
	struct sockaddr_storage server, peer_ip, src_first;
	const char *user, *pass;
	int n, clients, seconds, payload, peers, inflight, nsrc;
	int nrates;
	long rates[8];
	int pid;
	int dir;        /* DIR_FWD | DIR_REV */
	int cpu;        /* the server's CPU for busy %, -1 = not reported */
	int spread;     /* -R: at most this many packets per client per turn (0 = a whole batch) */
	bool hold, have_peer, have_src;
};

static struct load_client *cl;
static int epfd;

static long proc_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* utime + stime of every thread of the process, in seconds. */
static double proc_cpu_s(int pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces: fields count from the last ')' */
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy and total jiffies of one CPU from /proc/stat; softirq work done on
 * the server's behalf (veth delivery) shows here, not in its utime/stime. */
static int cpu_jiffies(int cpu, unsigned long long *busy, unsigned long long *total)
{
	char want[16], line[512];
	int r = -1;
	snprintf(want, sizeof(want), "cpu%d ", cpu);
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[8] = { 0 };
		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		if (sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
			*total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
			*busy = *total - v[3] - v[4]; /* minus idle and iowait */
			r = 0;
		}
		break;
	}
	fclose(f);
	return r;
}

static void flush_client(struct load_client *lc)
{
	uint8_t buf[TURN_CLIENT_TX_BUF];
	int n;
	while ((n = turn_client_poll_transmit(&lc->c, buf, sizeof(buf))) > 0)
		(void)send(lc->fd, buf, (size_t)n, MSG_DONTWAIT);
}

static void client_events(struct load_client *lc, int *n_ok, int *n_fail, int *n_chan)
{
	struct turn_client_event ev;
	while (turn_client_poll_event(&lc->c, &ev)) {
		switch (ev.type) {
		case TURN_EV_ALLOCATED:
			lc->done = true;
			(*n_ok)++;
			break;
		case TURN_EV_FAILED:
		case TURN_EV_REDIRECT:
			if (!lc->done)
				(*n_fail)++;
			lc->done = true;
			fprintf(stderr, "allocation %ld: %s (code %d)\n", (long)(lc - cl),
				turn_client_event_name(ev.type), ev.code);
			break;
		case TURN_EV_CHANNEL:
			if (ev.code == 0) {
				lc->chan_ok = true;
				(*n_chan)++;
			} else {
				fprintf(stderr, "channel bind failed: %d\n", ev.code);
				(*n_fail)++;
			}
			break;
		default:
			break;
		}
	}
}

static int open_client_socket(const struct opts *o, int i)
{
	int fd = socket(o->server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (o->have_src) {
		struct sockaddr_in src = *(const struct sockaddr_in *)&o->src_first;
		src.sin_addr.s_addr = htonl(ntohl(src.sin_addr.s_addr) + (uint32_t)(i % o->nsrc));
		src.sin_port = 0;
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
	}
	if (connect(fd, (const struct sockaddr *)&o->server,
		    addr_len((const struct sockaddr *)&o->server)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Feeds whatever arrived on the ready sockets, then runs due timers on the
 * clients in [0, upto). */
static void pump(int upto, int wait_ms, int *n_ok, int *n_fail, int *n_chan)
{
	struct epoll_event evs[256];
	uint8_t buf[4096];
	int k = epoll_wait(epfd, evs, 256, wait_ms);
	uint64_t now = bench_mono_ms();
	for (int e = 0; e < k; e++) {
		struct load_client *lc = &cl[evs[e].data.u32];
		for (int r = 0; r < 16; r++) {
			ssize_t n = recv(lc->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n <= 0)
				break;
			turn_client_input(&lc->c, buf, (size_t)n, now);
			client_events(lc, n_ok, n_fail, n_chan);
		}
		flush_client(lc);
	}
	static uint64_t last_scan;
	if (now - last_scan < 20)
		return;
	last_scan = now;
	for (int i = 0; i < upto; i++) {
		struct load_client *lc = &cl[i];
		if (!lc->started || turn_client_timeout(&lc->c) > now)
			continue;
		turn_client_handle_timeout(&lc->c, now);
		client_events(lc, n_ok, n_fail, n_chan);
		flush_client(lc);
	}
}

static int allocate_all(const struct opts *o, int *n_ok)
{
	struct turn_client_config cfg = { 0 };
	int n_fail = 0, started = 0;
	cfg.server = o->server;
	cfg.username = o->user;
	cfg.password = o->pass;
	cfg.transport = TURN_CLIENT_UDP;
	cfg.family = o->peer_ip.ss_family ? o->peer_ip.ss_family : AF_INET;
	*n_ok = 0;
	uint64_t deadline = bench_mono_ms() + 120000;
	while (*n_ok + n_fail < o->n && bench_mono_ms() < deadline) {
		while (started < o->n && started - *n_ok - n_fail < o->inflight) {
			struct load_client *lc = &cl[started];
			int fd = open_client_socket(o, started);
			if (fd < 0) {
				fprintf(stderr, "socket %d: %s\n", started, strerror(-fd));
				return -1;
			}
			lc->fd = fd;
			if (turn_client_init(&lc->c, &cfg) < 0)
				return -1;
			struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)started };
			epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
			turn_client_start(&lc->c, bench_mono_ms());
			lc->started = true;
			flush_client(lc);
			started++;
		}
		pump(started, 10, n_ok, &n_fail, NULL);
	}
	return n_fail;
}

static int open_peer_socket(const struct opts *o, struct sockaddr_storage *bound)
{
	int fd = socket(o->peer_ip.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int big = 32 << 20;
	socklen_t sl = sizeof(*bound);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	*bound = o->peer_ip;
	addr_set_port((struct sockaddr *)bound, 0);
	if (bind(fd, (struct sockaddr *)bound, addr_len((struct sockaddr *)bound)) < 0 ||
	    getsockname(fd, (struct sockaddr *)bound, &sl) < 0) {
		perror("peer bind");
		close(fd);
		return -1;
	}
	return fd;
}

/* One-way latency client -> relay -> peer, forward direction only: the
 * client stamps its send time (CLOCK_MONOTONIC ns) into the first 8
 * payload bytes; the peer socket reads it back. It includes the
 * generator's own polling delay (it checks its sockets between send rounds
 * and short sleeps), the same for every server. 10 us buckets up to 100 ms. */
enum { LAT_BUCKET_US = 10, LAT_BUCKETS = 10000 };
static uint64_t lat_hist[LAT_BUCKETS + 1];
static uint64_t lat_n;

static void lat_record(const uint8_t *payload, size_t len)
{
	uint64_t t;
	if (len < sizeof(t))
		return;
	memcpy(&t, payload, sizeof(t));
	uint64_t now = bench_mono_ns();
	if (t == 0 || t > now)
		return;
	uint64_t b = (now - t) / 1000u / LAT_BUCKET_US;
	lat_hist[b < LAT_BUCKETS ? b : LAT_BUCKETS]++;
	lat_n++;
}

static double lat_pct_us(double p)
{
	uint64_t want = (uint64_t)((double)lat_n * p / 100.0), acc = 0;
	for (int b = 0; b <= LAT_BUCKETS; b++) {
		acc += lat_hist[b];
		if (acc > want)
			return (b + 0.5) * LAT_BUCKET_US;
	}
	return -1;
}

static uint64_t drain_fd(int fd, bool lat)
{
	static uint8_t bufs[RX_BATCH][2048];
	static struct mmsghdr msgs[RX_BATCH];
	static struct iovec iov[RX_BATCH];
	uint64_t got = 0;
	for (int i = 0; i < RX_BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (int round = 0; round < 64; round++) {
		int r = recvmmsg(fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			break;
		got += (uint64_t)r;
		if (lat)
			for (int i = 0; i < r; i++)
				lat_record(bufs[i], msgs[i].msg_len);
		if (r < RX_BATCH)
			break;
	}
	return got;
}

/* Peer sockets get the forward direction, client sockets the reverse. */
static uint64_t drain_all(const struct opts *o, const int *pfd, int np, int nc)
{
	uint64_t got = 0;
	if (o->dir & DIR_FWD)
		for (int p = 0; p < np; p++)
			got += drain_fd(pfd[p], true);
	if (o->dir & DIR_REV)
		for (int i = 0; i < nc; i++)
			if (cl[i].chan_ok)
				got += drain_fd(cl[i].fd, false);
	return got;
}

/* client -> server: the prebuilt ChannelData, b times */
static int send_fwd(struct load_client *lc, struct mmsghdr *msgs, struct iovec *iov, unsigned b)
{
	uint64_t t = bench_mono_ns();
	if (lc->pkt_len >= STUN_CHANNEL_HEADER_LEN + (int)sizeof(t) && (lc->pkt[0] & 0xC0) == 0x40)
		memcpy(lc->pkt + STUN_CHANNEL_HEADER_LEN, &t, sizeof(t));
	for (unsigned m = 0; m < b; m++) {
		iov[m].iov_base = lc->pkt;
		iov[m].iov_len = (size_t)lc->pkt_len;
		memset(&msgs[m].msg_hdr, 0, sizeof(msgs[m].msg_hdr));
		msgs[m].msg_hdr.msg_iov = &iov[m];
		msgs[m].msg_hdr.msg_iovlen = 1;
	}
	return sendmmsg(lc->fd, msgs, b, MSG_DONTWAIT);
}

/* peer -> relayed address: plain UDP the server turns into ChannelData */
static int send_rev(struct load_client *lc, int pfd, struct mmsghdr *msgs, struct iovec *iov,
		    unsigned b, int payload)
{
	static uint8_t raw[PKT_MAX];
	for (unsigned m = 0; m < b; m++) {
		iov[m].iov_base = raw;
		iov[m].iov_len = (size_t)payload;
		memset(&msgs[m].msg_hdr, 0, sizeof(msgs[m].msg_hdr));
		msgs[m].msg_hdr.msg_name = &lc->c.relayed;
		msgs[m].msg_hdr.msg_namelen = addr_len((struct sockaddr *)&lc->c.relayed);
		msgs[m].msg_hdr.msg_iov = &iov[m];
		msgs[m].msg_hdr.msg_iovlen = 1;
	}
	return sendmmsg(pfd, msgs, b, MSG_DONTWAIT);
}

static void blast(const struct opts *o, int phase, long rate, int nc, const int *pfd, int np)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t sent = 0, recvd = 0, send_err = 0;
	double cpu0 = o->pid ? proc_cpu_s(o->pid) : -1;
	unsigned long long b0 = 0, j0 = 0, b1 = 0, j1 = 0;
	bool have_busy = o->cpu >= 0 && cpu_jiffies(o->cpu, &b0, &j0) == 0;
	uint64_t t0 = bench_mono_ns(), dur = (uint64_t)o->seconds * 1000000000ull;
	uint64_t t_end = t0 + dur;

	memset(msgs, 0, sizeof(msgs));
	memset(lat_hist, 0, sizeof(lat_hist));
	lat_n = 0;
	for (;;) {
		uint64_t now = bench_mono_ns();
		if (now >= t_end)
			break;
		uint64_t budget = UINT64_MAX;
		if (rate > 0) {
			uint64_t allowed = (uint64_t)((double)(now - t0) * (double)rate / 1e9);
			budget = allowed > sent ? allowed - sent : 0;
			if (budget == 0) {
				struct timespec ts = { 0, 50000 };
				nanosleep(&ts, NULL);
				recvd += drain_all(o, pfd, np, nc);
				continue;
			}
		}
		/* Without -R a paced blast spends each small budget on the first
		 * clients: one flow carries the load. With -R every client in
		 * turn sends at most o->spread, and the next round goes on from
		 * where this one stopped: the load is spread over all flows. */
		static int next;
		for (int k = 0; k < nc && budget > 0; k++) {
			int i = o->spread ? (next + k) % nc : k;
			struct load_client *lc = &cl[i];
			if (o->spread)
				next = (i + 1) % nc;
			if (!lc->chan_ok)
				continue;
			for (int d = DIR_FWD; d <= DIR_REV && budget > 0; d <<= 1) {
				if (!(o->dir & d))
					continue;
				unsigned b = budget < BATCH ? (unsigned)budget : BATCH;
				if (o->spread && b > (unsigned)o->spread)
					b = (unsigned)o->spread;
				int r = d == DIR_FWD ? send_fwd(lc, msgs, iov, b)
						     : send_rev(lc, pfd[i % np], msgs, iov, b, o->payload);
				if (r > 0) {
					sent += (uint64_t)r;
					if (budget != UINT64_MAX)
						budget -= (uint64_t)r;
				} else {
					send_err++;
				}
			}
		}
		recvd += drain_all(o, pfd, np, nc);
	}
	double elapsed = (double)(bench_mono_ns() - t0) / 1e9;
	have_busy = have_busy && cpu_jiffies(o->cpu, &b1, &j1) == 0 && j1 > j0;
	/* what is still in flight arrives within a few hundred ms */
	uint64_t settle = bench_mono_ns() + 300000000ull;
	while (bench_mono_ns() < settle)
		recvd += drain_all(o, pfd, np, nc);
	double cpu1 = o->pid ? proc_cpu_s(o->pid) : -1;
	double cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;

	/* one line per phase, so scripts can pick a phase with grep */
	printf("phase=%d dir=%s target_pps=%ld clients=%d payload=%d seconds=%.2f sent=%llu received=%llu "
	       "send_errors=%llu offered_pps=%.0f relayed_pps=%.0f loss_pct=%.2f",
	       phase, o->dir == DIR_FWD ? "fwd" : o->dir == DIR_REV ? "rev" : "both", rate, nc, o->payload, elapsed, (unsigned long long)sent,
	       (unsigned long long)recvd, (unsigned long long)send_err, (double)sent / elapsed,
	       (double)recvd / elapsed, sent ? 100.0 * (1.0 - (double)recvd / (double)sent) : 0.0);
	if (cpu >= 0)
		printf(" server_cpu_s=%.2f pkts_per_cpu_s=%.0f", cpu, cpu > 0 ? (double)recvd / cpu : 0.0);
	if (have_busy)
		printf(" server_cpu_busy_pct=%.1f", 100.0 * (double)(b1 - b0) / (double)(j1 - j0));
	if (lat_n)
		printf(" lat_p50_us=%.0f lat_p99_us=%.0f", lat_pct_us(50), lat_pct_us(99));
	printf("\n");
}

/* "50000,0": one blast per rate, 0 meaning as fast as possible. */
static int parse_rates(const char *s, struct opts *o)
{
	char *end;
	o->nrates = 0;
	for (;;) {
		long v = strtol(s, &end, 10);
		if (end == s || v < 0 || o->nrates == 8)
			return -1;
		o->rates[o->nrates++] = v;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

static int bind_channels(const struct opts *o, int nc, const struct sockaddr_storage *peer, int np)
{
	int n_chan = 0, n_fail = 0, dummy = 0, asked = 0;
	uint8_t payload[PKT_MAX];
	memset(payload, 0xab, sizeof(payload));
	for (int i = 0; i < nc; i++) {
		struct load_client *lc = &cl[i];
		if (turn_client_state(&lc->c) != TURN_CLIENT_ALLOCATED)
			continue;
		int big = 4 << 20;
		if (setsockopt(lc->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
			setsockopt(lc->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		if (turn_client_bind_channel(&lc->c, (const struct sockaddr *)&peer[i % np], bench_mono_ms()) == 0) {
			flush_client(lc);
			asked++;
		}
	}
	uint64_t deadline = bench_mono_ms() + 45000;
	while (n_chan + n_fail < asked && bench_mono_ms() < deadline)
		pump(nc, 10, &dummy, &n_fail, &n_chan);
	for (int i = 0; i < nc; i++) {
		struct load_client *lc = &cl[i];
		if (!lc->chan_ok)
			continue;
		lc->pkt_len = turn_client_send(&lc->c, (const struct sockaddr *)&peer[i % np], payload,
					       (size_t)o->payload, lc->pkt, sizeof(lc->pkt));
		if (lc->pkt_len < 0)
			lc->chan_ok = false;
	}
	(void)o;
	return n_chan;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: turn_load -s SERVER:PORT -u USER -w PASS [-n ALLOCS] [-a INFLIGHT]\n"
		"       [-b FIRST_SRC_IP -B NSRC] [-p PEER_IP] [-k PEER_SOCKETS] [-c TRAFFIC_CLIENTS]\n"
		"       [-t SECONDS] [-r PPS[,PPS...]] [-S PAYLOAD] [-P SERVER_PID] [-C SERVER_CPU] [--hold]\n"
		"       [-d fwd|rev|both] [-R N]\n"
		"  -r: one blast of -t seconds per rate (packets/s in total, 0 = max)\n"
		"  -d: fwd = client -> relay -> peer (default), rev = peer -> relay -> client\n"
		"  -R: clients take turns, at most N packets each (default: a paced blast's\n"
		"      small budget goes to the first clients, i.e. mostly one flow)\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = { { "hold", no_argument, NULL, 'H' }, { 0, 0, 0, 0 } };
	int opt;
	memset(o, 0, sizeof(*o));
	o->n = 100, o->clients = 32, o->seconds = 5, o->payload = 100, o->peers = 4;
	o->inflight = 256, o->nsrc = 1, o->nrates = 1, o->cpu = -1, o->dir = DIR_FWD;
	while ((opt = getopt_long(argc, argv, "s:u:w:n:c:t:r:P:S:p:k:a:b:B:C:d:R:", lo, NULL)) != -1) {
		switch (opt) {
		case 's': if (addr_parse(optarg, 3478, &o->server)) usage(); break;
		case 'u': o->user = optarg; break;
		case 'w': o->pass = optarg; break;
		case 'n': o->n = atoi(optarg); break;
		case 'c': o->clients = atoi(optarg); break;
		case 't': o->seconds = atoi(optarg); break;
		case 'r': if (parse_rates(optarg, o)) usage(); break;
		case 'P': o->pid = atoi(optarg); break;
		case 'S': o->payload = atoi(optarg); break;
		case 'p': if (addr_parse(optarg, 0, &o->peer_ip)) usage(); o->have_peer = true; break;
		case 'k': o->peers = atoi(optarg); break;
		case 'a': o->inflight = atoi(optarg); break;
		case 'b': if (addr_parse(optarg, 0, &o->src_first)) usage(); o->have_src = true; break;
		case 'B': o->nsrc = atoi(optarg); break;
		case 'C': o->cpu = atoi(optarg); break;
		case 'R': o->spread = atoi(optarg); if (o->spread < 1) usage(); break;
		case 'd':
			o->dir = !strcmp(optarg, "fwd") ? DIR_FWD : !strcmp(optarg, "rev") ? DIR_REV
				: !strcmp(optarg, "both") ? DIR_FWD | DIR_REV : 0;
			if (!o->dir)
				usage();
			break;
		case 'H': o->hold = true; break;
		default: usage();
		}
	}
	if (!o->server.ss_family || !o->user || !o->pass || o->n < 1 || o->inflight < 1 ||
	    o->nsrc < 1 || o->peers < 1 || o->peers > MAX_PEER_SOCKS || o->payload < 1 ||
	    o->payload > PKT_MAX - 64 || o->seconds < 1)
		usage();
	if (o->have_src && o->src_first.ss_family != AF_INET)
		usage(); /* source ranges are IPv4 only */
	if (!o->hold && !o->have_peer)
		usage();
	if (o->clients > o->n)
		o->clients = o->n;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	int n_ok = 0;
	parse(argc, argv, &o);
	raise_nofile();
	setvbuf(stdout, NULL, _IOLBF, 0);
	cl = calloc((size_t)o.n, sizeof(*cl));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!cl || epfd < 0) {
		perror("setup");
		return 1;
	}

	long rss0 = o.pid ? proc_rss_kb(o.pid) : -1;
	uint64_t t0 = bench_mono_ms();
	int n_fail = allocate_all(&o, &n_ok);
	double t_alloc = (double)(bench_mono_ms() - t0) / 1000.0;
	uint64_t rtx = 0;
	for (int i = 0; i < o.n; i++)
		rtx += cl[i].c.stats.retransmits;
	/* retransmissions show answers the server dropped or rate-limited */
	printf("allocations=%d ok=%d failed=%d alloc_seconds=%.2f alloc_per_s=%.0f alloc_retransmits=%llu\n",
	       o.n, n_ok, n_fail < 0 ? 0 : n_fail, t_alloc, t_alloc > 0 ? n_ok / t_alloc : 0.0,
	       (unsigned long long)rtx);
	if (n_fail < 0 || n_ok == 0)
		return 1;
	if (o.pid) {
		struct timespec ts = { 0, 500000000 };
		nanosleep(&ts, NULL); /* let the server finish any deferred work */
		long rss1 = proc_rss_kb(o.pid);
		printf("rss_before_kb=%ld rss_after_kb=%ld\n", rss0, rss1);
		if (rss0 > 0 && rss1 > 0)
			printf("rss_per_alloc_bytes=%.0f\n", (double)(rss1 - rss0) * 1024.0 / n_ok);
	}
	if (o.hold)
		return n_ok == o.n ? 0 : 1;

	int pfd[MAX_PEER_SOCKS];
	struct sockaddr_storage paddr[MAX_PEER_SOCKS];
	for (int p = 0; p < o.peers; p++)
		if ((pfd[p] = open_peer_socket(&o, &paddr[p])) < 0)
			return 1;
	int nch = bind_channels(&o, o.clients, paddr, o.peers);
	printf("channels=%d\n", nch);
	if (nch == 0)
		return 1;
	for (int i = 0; i < o.nrates; i++) {
		blast(&o, i + 1, o.rates[i], o.clients, pfd, o.peers);
		drain_all(&o, pfd, o.peers, o.clients);
	}
	return n_ok == o.n ? 0 : 1;
}
