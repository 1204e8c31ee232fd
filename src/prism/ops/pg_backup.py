"""PostgreSQL's part of a backup: PRISM's tables dumped by `pg_dump` (custom format), restored by `pg_restore`.

With PRISM_DATABASE_URL set, project indexes live in PostgreSQL (`prism_*` tables in one schema,
see index/postgres.py), not under PRISM_HOME. `dump` takes them in one consistent snapshot: it
opens a REPEATABLE READ transaction, exports its snapshot, counts every table's rows in it and
runs `pg_dump --snapshot` on that same snapshot, so the counts in the manifest are exactly the
dump's, whatever the server writes meanwhile. Only PRISM's tables are dumped (`prism_*`: the
indexes' and, when the server keeps its keys and projects in PostgreSQL, its own; their sequences,
indexes and constraints with them), never the rest of a shared database; the `vector`
extension is created before a restore. The password goes to the tools in PGPASSWORD, never on
their command line (where `ps` shows it) nor in the manifest.

The tools are PostgreSQL's own: those the `pgserver` wheel ships when it is installed (the
test extra; its version matches the tests' server), else `pg_dump`/`pg_restore` on PATH, which
must not be older than the server.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from prism.errors import BackupError, ConfigError

DUMP_FILE = "postgres.dump"
TABLE_PREFIX = "prism_"
VERSION_TABLES = ("prism_schema", "prism_server_schema")  # the indexes' (index/postgres.py) and the server's
EXTENSIONS = ("vector",)
TOOL_TIMEOUT_S = 3600.0
_COPY = re.compile(r'^COPY (?:"?[^".]+"?\.)?"?([^" (]+)"? \(.*\) FROM stdin;$')


class PgToolError(BackupError):
    """pg_dump or pg_restore is missing or failed."""


def pg_tool(name: str) -> str:
    """The path of PostgreSQL's `name` tool: pgserver's copy, else PATH's; PgToolError if neither exists."""
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "pginstall" / "bin" / name
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    found = shutil.which(name)
    if found:
        return found
    raise PgToolError(f"{name} is needed to back up or restore PRISM's PostgreSQL data, and was not found.",
                      hint="Install PostgreSQL's client tools, as new as the server (e.g. `apt install "
                           "postgresql-client-16`), or `pip install pgserver`, which ships them.", value=name)


def _connection(url: str) -> tuple[str, dict[str, str]]:
    """The conninfo without its password, and the environment that carries the password."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    parts = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    env = {**os.environ}
    password = parts.pop("password", "")
    if password:
        env["PGPASSWORD"] = password
    return make_conninfo(**parts), env


def _run(tool: str, args: list[str], url: str | None = None, **options: Any) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool; PgToolError with its own message when it fails."""
    env = {**os.environ}
    command = [pg_tool(tool), *args]
    if url is not None:
        conninfo, env = _connection(url)
        command.append(f"--dbname={conninfo}")
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                              check=False, **options)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PgToolError(f"{tool} could not run: {exc}.", hint="Check the PostgreSQL client tools.",
                          value=tool) from exc
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise PgToolError(f"{tool} failed: {reason[-1] if reason else f'exit status {done.returncode}'}",
                          hint="A 'server version mismatch' needs client tools as new as the server.",
                          value=tool)
    return done


def prism_tables(conn: Any) -> tuple[str, list[str]] | None:
    """The schema holding PRISM's tables (where a version table, `prism_schema` for the indexes or
    `prism_server_schema` for the server's own, is) and their names; None without PRISM data."""
    row = conn.execute("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE c.relname = ANY(%s) AND c.relkind = 'r' AND pg_table_is_visible(c.oid) "
                       "ORDER BY c.relname LIMIT 1", (list(VERSION_TABLES),)).fetchone()
    if row is None:
        return None
    schema = str(row[0])
    names = conn.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                         "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname LIKE 'prism\\_%%' "
                         "ORDER BY c.relname", (schema,)).fetchall()
    return schema, [str(r[0]) for r in names]


def table_counts(conn: Any, schema: str, tables: list[str]) -> dict[str, int]:
    from psycopg import sql

    return {table: int(conn.execute(sql.SQL("SELECT COUNT(*) FROM {}.{}").format(
        sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]) for table in tables}


def dump(url: str, target: Path) -> dict[str, object] | None:
    """Dump PRISM's tables into `target` in one snapshot; what the manifest records, or None when the
    database holds no PRISM data."""
    import psycopg

    from prism.index.postgres import prism_errors, redacted, schema_version

    where = redacted(url)
    # autocommit, so that this BEGIN is the transaction's own (psycopg's implicit one would be READ COMMITTED)
    with prism_errors(where), psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        found = prism_tables(conn)
        if found is None:
            conn.execute("ROLLBACK")
            return None
        schema, tables = found
        snapshot = str(conn.execute("SELECT pg_export_snapshot()").fetchone()[0])  # type: ignore[index]
        counts = table_counts(conn, schema, tables)  # in the exported snapshot: the dump's own rows
        version = schema_version(conn, "prism_schema", schema)
        server = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        args = ["--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}", f"--file={target}"]
        args += [f'--table="{schema}"."{table}"' for table in tables]
        _run("pg_dump", args, url)
        conn.execute("COMMIT")  # the snapshot is held until pg_dump has read everything
    os.chmod(target, 0o600)
    return {"file": DUMP_FILE, "database": where, "schema": schema, "schema_version": version,
            "tables": counts, "server_version": server, "extensions": list(EXTENSIONS)}


def dump_counts(path: Path) -> dict[str, int]:
    """Rows per table in a dump, read back by pg_restore (its table of contents, then its data)."""
    _run("pg_restore", ["--list", str(path)])
    script = _run("pg_restore", ["--data-only", "--file=-", str(path)]).stdout
    counts: dict[str, int] = {}
    table: str | None = None
    for line in script.splitlines():
        if table is None:
            match = _COPY.match(line)
            if match:
                table = match.group(1)
                counts[table] = 0
        elif line == "\\.":
            table = None
        else:
            counts[table] += 1
    return counts


def has_rows(url: str) -> bool:
    """True when the database holds PRISM rows beyond its schema version (a restore would replace them)."""
    import psycopg

    from prism.index.postgres import prism_errors, redacted

    with prism_errors(redacted(url)), psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        found = prism_tables(conn)
        if found is None:
            return False
        schema, tables = found
        return any(n for table, n in table_counts(conn, schema, tables).items() if table not in VERSION_TABLES)


def restore(url: str, path: Path, recorded: dict[str, object]) -> dict[str, int]:
    """Replace PRISM's tables in the database with the dump's (one transaction); the counts after."""
    import psycopg
    from psycopg import sql

    from prism.index.postgres import prism_errors, redacted

    schema = str(recorded.get("schema") or "public")
    with prism_errors(redacted(url)), psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        for extension in recorded.get("extensions") or EXTENSIONS:  # type: ignore[attr-defined]
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(str(extension))))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    _run("pg_restore", ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                        "--exit-on-error", str(path)], url)
    with prism_errors(redacted(url)), psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        tables = list(recorded.get("tables") or {})  # type: ignore[call-overload]
        return table_counts(conn, schema, tables)


def check_url_for_restore(url: str | None, recorded: dict[str, object]) -> str:
    if url is None:
        raise ConfigError(f"This backup holds PRISM's PostgreSQL tables (from {recorded.get('database')}), "
                          "and PRISM_DATABASE_URL is not set.",
                          hint="Set PRISM_DATABASE_URL to the database to restore them into.")
    return url
