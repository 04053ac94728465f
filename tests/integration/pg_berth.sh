#!/bin/sh
# berth on the test session's PostgreSQL (tests/integration/pgserver.py): the data directory
# of the command (--data DIR, BERTH_DATA, or ./data) names its database, created on first use;
# the keys every server of that database shares live beside the directory (DIR.key).
data="${BERTH_DATA:-./data}"
prev=""
for a in "$@"; do
    [ "$prev" = "--data" ] && data="$a"
    case "$a" in --data=*) data="${a#--data=}" ;; esac
    prev="$a"
done
abs=$(realpath -m -- "$data")
db="b_$(printf '%s' "$abs" | md5sum | cut -c1-24)"
psql -h 127.0.0.1 -p "$BERTH_TEST_PG_PORT" -U berth -d postgres -qAtc "CREATE DATABASE \"$db\"" >/dev/null 2>&1 || true
export BERTH_DATABASE="${BERTH_DATABASE:-$BERTH_TEST_PG_URL/$db}"
export BERTH_KEY_FILE="${BERTH_KEY_FILE:-$abs.key}"
exec "$BERTH_TEST_REAL_BIN" "$@"
