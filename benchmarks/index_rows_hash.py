"""A digest of every row of every table of a PRISM index, to show two indexes are byte-identical.

    PRISM_HOME=/tmp/a PYTHONPATH=/work/main/src python -m prism index TREE --no-embed
    PRISM_HOME=/tmp/b PYTHONPATH=src python -m prism index TREE --no-embed
    diff <(python benchmarks/index_rows_hash.py /tmp/a) <(python benchmarks/index_rows_hash.py /tmp/b)

Rows in id order (chunks: every column, level_tokens and level_texts included), or ordered by
all their columns in tables without an id (FTS5's shadow tables); `files.indexed_at` and the
meta, usage and ann_log tables (clocks) are left out.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from pathlib import Path

SKIPPED = frozenset({"meta", "usage", "ann_log", "chunks_fts"})  # chunks_fts: a view over its shadow tables


def main() -> None:
    conn = sqlite3.connect(next(Path(sys.argv[1]).rglob("index.db")))
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        if table in SKIPPED or not columns:
            continue
        order = "id" if "id" in columns else ",".join(str(i + 1) for i in range(len(columns)))
        digest = hashlib.sha256()
        rows = 0
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):  # names from the schema
            values = tuple(v for c, v in zip(columns, row, strict=True) if not (table == "files" and c == "indexed_at"))
            digest.update(repr(values).encode())
            rows += 1
        print(table, rows, digest.hexdigest()[:16])


if __name__ == "__main__":
    main()
