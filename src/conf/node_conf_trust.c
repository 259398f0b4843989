/* The keys of trust inside the group (docs/security.md): where pins and
 * address owners are kept, the operator's address map, and how many links
 * one member may hold. */
#include "node_conf_int.h"

#include <stdlib.h>
#include <string.h>

enum { TRUST_PATH_MAX = 4096 };

static void path_key(struct ctx *x, const char *k, const json_t *v, char **dst)
{
	const char *what = "a file path string of at most 4096 bytes";
	if (!json_is_string(v) || !json_string_value(v)[0] || strlen(json_string_value(v)) > TRUST_PATH_MAX) {
		node_conf_expected(x, k, what, v);
		return;
	}
	free(*dst);
	*dst = strdup(json_string_value(v));
	if (!*dst)
		node_conf_error(x, NULL, "out of memory");
}

void node_conf_trust_file(struct ctx *x, const char *k, const json_t *v)
{
	path_key(x, k, v, &x->c->trust_file);
}

void node_conf_address_map_file(struct ctx *x, const char *k, const json_t *v)
{
	path_key(x, k, v, &x->c->address_map_file);
}

void node_conf_max_links_per_member(struct ctx *x, const char *k, const json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > NODE_CONF_MAX_LINKS_PER_MEMBER) {
		node_conf_expected(x, k, "an integer from 1 to 64", v);
		return;
	}
	x->c->max_links_per_member = (unsigned)json_integer_value(v);
}

/* "<key_file without .key>.trust": next to the key it belongs with. */
int node_conf_trust_defaults(struct node_conf *c)
{
	if (c->trust_file || !c->key_file)
		return 0;
	size_t n = strlen(c->key_file);
	if (n > 4 && strcmp(c->key_file + n - 4, ".key") == 0)
		n -= 4;
	c->trust_file = malloc(n + sizeof(".trust"));
	if (!c->trust_file)
		return -1;
	memcpy(c->trust_file, c->key_file, n);
	memcpy(c->trust_file + n, ".trust", sizeof(".trust"));
	return 0;
}

void node_conf_trust_free(struct node_conf *c)
{
	free(c->trust_file);
	free(c->address_map_file);
	c->trust_file = c->address_map_file = NULL;
}
