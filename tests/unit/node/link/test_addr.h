/* Addresses from text for the tests of node/link (cmocka asserts). */
#ifndef IPOP_TEST_ADDR_H
#define IPOP_TEST_ADDR_H

#include <arpa/inet.h>

#include "ip_prefix.h"

static inline struct in_addr ip(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* An address of either family. */
static inline struct ip_addr A(const char *s)
{
	struct ip_addr a;
	assert_true(ip_addr_parse(&a, s));
	return a;
}

#endif
