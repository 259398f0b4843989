/* sig_forge: what a member who attacks the group would send, for the
 * namespace lab (tests/net/node_trust.sh); the lab sends it with
 * xmpp_probe from a resource of the attacker's account.
 *   sig_forge keygen                    -> "PUB_B64 NODE_ID"  (a fresh key)
 *   sig_forge hello FROM_ID TO_ID KEY_B64 IP4
 *                                       -> a hello's body: from node id
 *                                          FROM_ID to TO_ID, announcing
 *                                          KEY_B64 and IP4 (nothing checks
 *                                          that they belong together) */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "noise.h"
#include "signal_msg.h"

static int hex_id(const char *s, uint8_t id[SIGNAL_ID_LEN])
{
	size_t got;
	return strlen(s) == 2 * SIGNAL_ID_LEN &&
			       sodium_hex2bin(id, SIGNAL_ID_LEN, s, strlen(s), NULL, &got, NULL) == 0 && got == SIGNAL_ID_LEN
		       ? 0
		       : -1;
}

static int keygen(void)
{
	struct noise_keypair kp;
	uint8_t id[SIGNAL_ID_LEN];
	char b64[64], hex[2 * SIGNAL_ID_LEN + 1];

	if (noise_keypair_generate(&kp) != 0)
		return 1;
	crypto_generichash(id, sizeof(id), kp.pub, sizeof(kp.pub), NULL, 0);
	sodium_bin2base64(b64, sizeof(b64), kp.pub, sizeof(kp.pub), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
	printf("%s %s\n", b64, hex);
	return 0;
}

static int hello(char **argv)
{
	struct signal_msg m;
	char body[SIGNAL_MSG_MAX + 1];
	size_t got;

	memset(&m, 0, sizeof(m));
	m.kind = SIGNAL_HELLO;
	m.has_to = m.has_key = m.has_ip4 = true;
	if (hex_id(argv[2], m.from) || hex_id(argv[3], m.to) ||
	    sodium_base642bin(m.key, sizeof(m.key), argv[4], strlen(argv[4]), NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != sizeof(m.key) || inet_pton(AF_INET, argv[5], &m.ip4) != 1) {
		fprintf(stderr, "sig_forge: bad argument\n");
		return 2;
	}
	int n = signal_msg_encode(&m, body, sizeof(body));
	if (n < 0)
		return 1;
	printf("%.*s\n", n, body);
	return 0;
}

int main(int argc, char **argv)
{
	if (noise_init() != 0)
		return 1;
	if (argc == 2 && strcmp(argv[1], "keygen") == 0)
		return keygen();
	if (argc == 6 && strcmp(argv[1], "hello") == 0)
		return hello(argv);
	fprintf(stderr, "usage: sig_forge keygen | sig_forge hello FROM_ID TO_ID KEY_B64 IP4\n");
	return 2;
}
