#!/usr/bin/env python3
"""Converts store files from the SQLite C API to the driver layer of
src/store/internal.h (rules listed in internal.h's head comment).

    python3 scripts/store_db_convert.py src/store/audit.c src/store/events.c

Rewrites the files in place and prints every sqlite3_/SQLITE_ name it could
not convert with its line: those need a hand (usually sqlite3_exec, a
last_insert_rowid that becomes RETURNING, or a PRAGMA). Idempotent."""
import re
import sys

RULES = [
    (r'#include <sqlite3\.h>\n', ''),
    (r'\bsqlite3_stmt\b', 'struct db_statement'),
    (r'\bsqlite3_int64\b', 'int64_t'),
    (r'\bsqlite3_bind_int(64)?\(', 'db_bind_int64('),
    (r'\bsqlite3_bind_null\(', 'db_bind_null('),
    (r'\bsqlite3_bind_double\(', 'db_bind_double('),
    (r'\bsqlite3_bind_text\(([^;]*?),\s*-1,\s*SQLITE_(STATIC|TRANSIENT)\)', r'db_bind_text(\1)'),
    (r'\bsqlite3_bind_blob\(([^;]*?),\s*SQLITE_(STATIC|TRANSIENT)\)', r'db_bind_blob(\1)'),
    (r'\bsqlite3_column_int64\(', 'db_col_int64('),
    (r'\bsqlite3_column_int\(', 'db_col_int('),
    (r'\bsqlite3_column_double\(', 'db_col_double('),
    (r'\bsqlite3_column_blob\(', 'db_col_blob('),
    (r'\bsqlite3_column_bytes\(', 'db_col_bytes('),
    (r'\(const char \*\)\s*sqlite3_column_text\(', 'db_col_ztext('),
    (r'\bsqlite3_column_text\(', 'db_col_ztext('),
    (r'\bsqlite3_column_type\(([^()]*)\)\s*==\s*SQLITE_NULL', r'db_col_is_null(\1)'),
    (r'\bsqlite3_column_type\(([^()]*)\)\s*!=\s*SQLITE_NULL', r'!db_col_is_null(\1)'),
    (r'\bsqlite3_reset\(', 'db_reset('),
    (r'\bsqlite3_changes\(db_conn\(\)\)', 'db_changes()'),
    (r'\bSQLITE_ROW\b', 'DB_ROW'),
    (r'\bSQLITE_DONE\b', 'DB_DONE'),
]

left = 0
for path in sys.argv[1:]:
    with open(path) as f:
        text = f.read()
    for pat, rep in RULES:
        text = re.sub(pat, rep, text)
    with open(path, 'w') as f:
        f.write(text)
    for n, line in enumerate(text.split('\n'), 1):
        for m in re.finditer(r'\b(sqlite3_\w+|SQLITE_\w+)', line):
            print(f'{path}:{n}: not converted: {m.group(1)}')
            left += 1
sys.exit(1 if left else 0)
