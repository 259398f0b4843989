/* DF datagrams from the node's UDP socket (udp.c): ICE checks and consent
 * checks leave with DF (IP_PMTUDISC_PROBE for that send). Outside a batch
 * the socket's own mode comes back after each one; within one
 * (bases_tx_begin .. bases_tx_end, a round of the links' transmits)
 * consecutive DF datagrams share one switch, a datagram without DF or a
 * send of the datapath's (bases_tx_plain) gets the socket's mode back
 * first, and the batch's end restores it. A loopback socket, datagrams to
 * itself. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "bases.h"
#include "link_base.h"

static struct bases b;
static struct sockaddr_in self;
static const uint8_t dgram[64];

static int setup(void **state)
{
	(void)state;
	memset(&b, 0, sizeof(b));
	b.udp_fd = -1;
	if (udp_open(&b, 0) < 0)
		return -1;
	memset(&self, 0, sizeof(self));
	self.sin_family = AF_INET;
	self.sin_port = htons(b.udp_port);
	self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	udp_close(&b);
	return 0;
}

/* The socket's IP_MTU_DISCOVER mode now. */
static int mode(void)
{
	int v = -1;
	socklen_t sl = sizeof(v);
	assert_int_equal(getsockopt(b.udp_fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, &sl), 0);
	return v;
}

static void send_df(bool df)
{
	assert_int_equal(udp_send_opt(&b, LINK_BASE_ANY, &self, dgram, sizeof(dgram), 0, df), 0);
}

static void test_outside_a_batch_each_df_send_restores(void **state)
{
	(void)state;
	int own = mode();
	assert_int_not_equal(own, IP_PMTUDISC_PROBE);
	for (int i = 0; i < 3; i++) {
		send_df(true);
		assert_int_equal(mode(), own);
	}
	assert_int_equal(b.cnt.udp_df_switches, 6); /* on and off around each */
	assert_int_equal(b.cnt.udp_tx, 3);
}

static void test_a_batch_shares_one_switch(void **state)
{
	(void)state;
	int own = mode();
	bases_tx_begin(&b);
	for (int i = 0; i < 5; i++) {
		send_df(true);
		assert_int_equal(mode(), IP_PMTUDISC_PROBE);
	}
	assert_int_equal(b.cnt.udp_df_switches, 1);
	bases_tx_end(&b);
	assert_int_equal(mode(), own);
	assert_int_equal(b.cnt.udp_df_switches, 2);
	assert_int_equal(b.cnt.udp_tx, 5);
}

static void test_a_plain_send_in_a_batch_gets_the_sockets_mode(void **state)
{
	(void)state;
	int own = mode();
	bases_tx_begin(&b);
	send_df(true);
	send_df(false); /* a tunnel packet between two checks */
	assert_int_equal(mode(), own);
	send_df(true);
	assert_int_equal(mode(), IP_PMTUDISC_PROBE);
	bases_tx_plain(&b); /* the datapath's sendmmsg follows */
	assert_int_equal(mode(), own);
	bases_tx_plain(&b);
	bases_tx_end(&b);
	assert_int_equal(mode(), own);
	assert_int_equal(b.cnt.udp_df_switches, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outside_a_batch_each_df_send_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_batch_shares_one_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_plain_send_in_a_batch_gets_the_sockets_mode, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
