#!/usr/bin/env bash
# Documentation coverage (no namespaces needed): every key that ipopd's
# config.json parser and ipop-turnserver's turn.conf parser know appears,
# in backquotes, in docs/config.md (config.json and turn.conf tables), and
# in bold in the matching man page, ipop-config.json(5) or turn.conf(5).
# A key added to a parser without documentation fails here.
set -u
source "$(dirname "$0")/lib.sh"
lib_init docs
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NODE_C=$ROOT/src/conf/node_conf.c
TURN_C=$ROOT/src/turnserver/turn_conf.c
[ -f "$NODE_C" ] && [ -f "$TURN_C" ] || fail "parsers not found"

# Keys from the parsers' own tables.
node_keys=$(sed -n '/^static const struct key_def keys\[\]/,/^};/p' "$NODE_C" | grep -o '{ "[a-z0-9_-]*"' | tr -d '{" ')
ignored=$(sed -n '/^static const char \*const ignored_keys\[\]/,/^};/p' "$NODE_C" | grep -o '"[a-z0-9_-]*"' | tr -d '"')
turn_keys=$(sed -n '/^static cfg_opt_t conf_opts\[\]/,/^};/p' "$TURN_C" | grep -o 'CFG_[A-Z_]*("[a-z0-9_]*"' | sed 's/.*("//; s/"$//')
[ "$(wc -w <<<"$node_keys")" -ge 20 ] || fail "could not read ipopd's key table (got: $node_keys)"
[ "$(wc -w <<<"$ignored")" -ge 20 ] || fail "could not read ipopd's ignored keys"
[ "$(wc -w <<<"$turn_keys")" -ge 30 ] || fail "could not read turn.conf's option table"

missing=()
doc_has() { grep -qF -- "\`$2" "$1" || grep -qF -- "\"$2\"" "$1"; }
# man: the key on a macro line (.B, .BR, .TP ...), hyphens written "\-".
man_has() { grep '^\.' "$1" | grep -qF -- "${2//-/\\-}"; }
for k in $node_keys $ignored; do
	doc_has "$ROOT/docs/config.md" "$k" || missing+=("docs/config.md: config.json key $k")
	man_has "$ROOT/man/ipop-config.json.5" "$k" || missing+=("man/ipop-config.json.5: $k")
done
for k in $turn_keys; do
	case $k in address | mask | port) continue ;; esac # members of the *_address sections
	doc_has "$ROOT/docs/config.md" "$k" || doc_has "$ROOT/docs/config.md" "${k%_*}_*" ||
		missing+=("docs/config.md: turn.conf key $k")
	doc_has "$ROOT/docs/turn-conf.md" "$k" || missing+=("docs/turn-conf.md: $k")
	man_has "$ROOT/man/turn.conf.5" "$k" || missing+=("man/turn.conf.5: $k")
done
if [ ${#missing[@]} -gt 0 ]; then
	printf '  %s\n' "${missing[@]}"
	fail "${#missing[@]} key(s) undocumented"
fi
pass "$(wc -w <<<"$node_keys $ignored") config.json keys and $(wc -w <<<"$turn_keys") turn.conf keys are in docs/config.md and the man pages"
