"""Before an upgrade migrates anything: find the databases whose schema is older than this PRISM's and back them up.

`prism serve` calls `backup_before_upgrade` once at start, before any worker opens a database
(opening one migrates it). When the server database, an index or PRISM's PostgreSQL tables are
at an older schema, the whole home (and the PostgreSQL tables) is backed up as it is, at the old
schemas, into PRISM_HOME/upgrade-backups/ (`prism restore` takes it back, to roll back with the
old PRISM); the newest `KEEP` such backups are kept. A schema newer than this PRISM's is left to
the open, which refuses it with its own message.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from prism.ops.backup import Backup, create_backup
from prism.ops.home import INDEX_FILE, SERVER_DB, UPGRADE_BACKUPS, ServerOpener, index_folders

log = logging.getLogger("prism.ops")

KEEP = 3


def pending_upgrades(home: Path, database_url: str | None = None) -> list[str]:
    """One line per database this PRISM would migrate when it opens it: `what: schema old → new`."""
    from prism.index.sqlite import SCHEMA_VERSION
    from prism.index.sqlite_db import schema_version
    from prism.serve.http.db import MIGRATIONS

    found = []
    if (home / SERVER_DB).is_file() and 0 < (version := schema_version(home / SERVER_DB)) < len(MIGRATIONS):
        found.append(f"{SERVER_DB}: schema {version} → {len(MIGRATIONS)}")
    for rel in index_folders(home):
        version = schema_version(home / rel / INDEX_FILE)
        if 0 < version < SCHEMA_VERSION:
            found.append(f"{rel}/{INDEX_FILE}: schema {version} → {SCHEMA_VERSION}")
    if database_url is not None:
        found += _postgres_pending(database_url)
    return found


def _postgres_pending(url: str) -> list[str]:
    """The index tables' and the server store's schemas, each against this PRISM's migrations."""
    import psycopg

    from prism.index.postgres import MIGRATIONS, prism_errors, redacted, schema_version
    from prism.ops.pg_backup import prism_tables
    from prism.serve.http.server_postgres import MIGRATIONS as SERVER_MIGRATIONS

    found = []
    with prism_errors(redacted(url)), psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        tables = prism_tables(conn)
        if tables is None:
            return []
        for table, migrations in (("prism_schema", MIGRATIONS), ("prism_server_schema", SERVER_MIGRATIONS)):
            version, latest = schema_version(conn, table, tables[0]), max(v for v, _ in migrations)
            if 0 < version < latest:
                found.append(f"PostgreSQL {redacted(url)} ({table}): schema {version} → {latest}")
    return found


def backup_before_upgrade(home: Path, *, database_url: str | None = None, open_server: ServerOpener | None = None,
                          prism_version: str = "") -> Backup | None:
    """Back up the home as it is when an open would migrate something; None when nothing would change."""
    from prism.ops.retention import list_backups

    pending = pending_upgrades(home, database_url) if home.is_dir() else []
    if not pending:
        return None
    folder = home / UPGRADE_BACKUPS
    backup = create_backup(home, folder, open_server=open_server, prism_version=prism_version,
                           database_url=database_url, as_is=True)
    for old in list_backups(folder)[KEEP:]:
        shutil.rmtree(old.path, ignore_errors=True)
    log.warning("PRISM %s upgrades %s; the data as it was is backed up in %s (`prism restore` it, with the "
                "previous PRISM, to roll back)", prism_version or "", "; ".join(pending), backup.path)
    _upgrade_all(home, database_url)
    return backup


def _upgrade_all(home: Path, database_url: str | None) -> None:
    """Open (and so migrate) every index now, so the next start finds nothing pending; the server
    database is opened by the caller."""
    from prism.index.sqlite import SqliteStore

    for rel in index_folders(home):
        SqliteStore(home / rel / INDEX_FILE).close()
    if database_url is not None:
        from prism.index.postgres import PostgresStore

        PostgresStore.connect(database_url, "", max_size=1).close()
