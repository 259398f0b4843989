/* Receive moderation's decision, see turn_moderation.h. */
#include "turn_moderation.h"

bool turn_mod_dense(uint64_t dgrams, uint64_t waited_us, uint64_t period_us, unsigned mod_us)
{
	if (!mod_us || dgrams < TURN_MOD_MIN_DGRAMS || waited_us >= TURN_MOD_DENSE_US)
		return false;
	if (period_us == 0)
		return true;
	/* dgrams / period_us * mod_us >= TURN_MOD_GATHER, without division */
	return dgrams * mod_us >= (uint64_t)TURN_MOD_GATHER * period_us;
}
