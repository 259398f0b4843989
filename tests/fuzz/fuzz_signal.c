/* Signalling codec fuzzer: whatever decodes must encode, decode again to
 * an equal message, and re-encode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signal_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct signal_msg m, again;
	static char out[SIGNAL_MSG_MAX + 1], out2[SIGNAL_MSG_MAX + 1];

	if (signal_msg_decode(&m, (const char *)data, size) != 0) {
		if (m.error[0] == '\0')
			abort(); /* every refusal says why */
		return 0;
	}
	int n = signal_msg_encode(&m, out, sizeof(out));
	if (n < 0 || (size_t)n > SIGNAL_MSG_MAX)
		abort();
	if (signal_msg_decode(&again, out, (size_t)n) != 0 || !signal_msg_equal(&m, &again) ||
	    again.n_skipped != 0)
		abort();
	int n2 = signal_msg_encode(&again, out2, sizeof(out2));
	if (n2 != n || memcmp(out, out2, (size_t)n) != 0)
		abort();
	return 0;
}
