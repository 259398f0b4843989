#include "ctl_cli.h"

#include <errno.h>

#include "ctl_client.h"

int ctl_cli_call(struct ctl_cli *c, const char *req, json_t **result)
{
	char err[CTL_CALL_ERRLEN];
	int trunc = 0;
	int rc = ctl_client_call(c->socket, req, result, &trunc, err, sizeof(err));
	if (rc < 0) {
		fprintf(c->err, "ipopctl: %s\n", err);
		return rc == -EREMOTEIO || rc == -EBADMSG || rc == -EPROTO ? CTL_EXIT_FAIL
									   : CTL_EXIT_UNREACHABLE;
	}
	if (trunc)
		fprintf(c->err, "ipopctl: warning: the daemon's list was truncated\n");
	return CTL_EXIT_OK;
}

int ctl_cli_print_json(struct ctl_cli *c, const json_t *v)
{
	if (json_dumpf(v, c->out, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) < 0 ||
	    fputc('\n', c->out) == EOF) {
		fprintf(c->err, "ipopctl: cannot write the output\n");
		return CTL_EXIT_FAIL;
	}
	return CTL_EXIT_OK;
}

int ctl_cli_no_args(struct ctl_cli *c, int argc, char **argv)
{
	if (argc <= 1)
		return 0;
	fprintf(c->err, "ipopctl %s: unexpected argument '%s' (see ipopctl help)\n", argv[0], argv[1]);
	return CTL_EXIT_USAGE;
}
