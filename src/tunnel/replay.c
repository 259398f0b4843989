/* Replay window, see replay.h. */
#include "replay.h"

#include <string.h>

#define BLOCK_OF(c) ((c) >> 6)
#define BIT_OF(c) (UINT64_C(1) << ((c) & 63))

void replay_init(struct replay_window *w)
{
	memset(w, 0, sizeof(*w));
}

bool replay_check(const struct replay_window *w, uint64_t counter)
{
	if (counter >= REPLAY_COUNTER_LIMIT)
		return false;
	if (!w->any || counter > w->last)
		return true;
	if (w->last - counter >= REPLAY_WINDOW)
		return false;
	return !(w->blocks[BLOCK_OF(counter) % REPLAY_BLOCKS] & BIT_OF(counter));
}

/* Clears the blocks the window slides over when `counter` becomes the
 * highest; a jump of a whole ring or more clears everything. */
static void slide(struct replay_window *w, uint64_t counter)
{
	uint64_t from = BLOCK_OF(w->last), to = BLOCK_OF(counter);
	uint64_t steps = to - from;

	if (steps > REPLAY_BLOCKS)
		steps = REPLAY_BLOCKS;
	for (uint64_t i = 1; i <= steps; i++)
		w->blocks[(from + i) % REPLAY_BLOCKS] = 0;
}

bool replay_update(struct replay_window *w, uint64_t counter)
{
	if (!replay_check(w, counter))
		return false;
	if (!w->any) {
		memset(w->blocks, 0, sizeof(w->blocks));
		w->any = true;
		w->last = counter;
	} else if (counter > w->last) {
		slide(w, counter);
		w->last = counter;
	}
	w->blocks[BLOCK_OF(counter) % REPLAY_BLOCKS] |= BIT_OF(counter);
	return true;
}
