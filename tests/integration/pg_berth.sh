#!/bin/sh
# berth on the test session's PostgreSQL (tests/integration/pgserver.py): the data directory
# of the command (--data DIR, BERTH_DATA, or ./data) names its database, created on first use;
# the key file is where berth keeps its own on SQLite (DIR/keys/master.key), for the tests that
# read it.
data="${BERTH_DATA:-./data}"
prev=""
for a in "$@"; do
    [ "$prev" = "--data" ] && data="$a"
    case "$a" in --data=*) data="${a#--data=}" ;; esac
    prev="$a"
done
abs=$(realpath -m -- "$data")
db="b_$(printf '%s' "$abs" | md5sum | cut -c1-24)"
psql -h 127.0.0.1 -p "$TESTPG_PORT" -U berth -d postgres -qAtc "CREATE DATABASE \"$db\"" >/dev/null 2>&1 || true
export BERTH_DATABASE="${BERTH_DATABASE:-$TESTPG_URL/$db}"
if [ -z "${BERTH_KEY_FILE:-}" ]; then
    # fsck reads no keys, and must not make the data directory it is asked to check
    [ "${1:-}" = fsck ] || (umask 077 && mkdir -p "$abs/keys")
    export BERTH_KEY_FILE="$abs/keys/master.key"
fi
exec "$TESTPG_BERTH_BIN" "$@"
