"""`prism doctor`: settings, secrets, databases, model, disk and versions, each with the fix to apply.

The checks are also the health part of `prism maintain` (daily: disk; monthly: versions).
The server's settings and database are read through `prism.serve.http` (the server database
has not moved below the adapters yet), imported only when a check needs them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from prism.config import Settings
from prism.errors import PrismError
from prism.ops.home import DEV_SECRET, EMBEDDINGS_DB, INDEX_FILE, SERVER_DB, index_folders

Status = Literal["ok", "warn", "fail", "skipped"]
DISTRIBUTION = "prism-context"
MIN_FREE_BYTES = 1 << 30  # below this (or 10 % of the disk) free space is a warning
MIN_FREE_FRACTION = 0.10
MIN_SQLITE = (3, 35, 0)


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, its status, what was seen, and the fix when not ok."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def worst(checks: list[Check]) -> Status:
    order: tuple[Status, ...] = ("fail", "warn", "ok", "skipped")
    return next((s for s in order if any(c.status == s for c in checks)), "ok")


def check_settings() -> list[Check]:
    """The engine's and the server's settings parse, and the server would start."""
    from prism.serve.http.settings import load_server_settings, validate_for_start

    try:
        settings = Settings()
    except ValueError as exc:
        return [Check("settings", "fail", f"invalid PRISM_* setting: {exc}".splitlines()[0],
                      "Fix the variable named above; docs/settings.md lists every setting.")]
    found = [Check("settings", "ok", f"PRISM_HOME={settings.home}, embedder={settings.embedder}")]
    try:
        warnings = validate_for_start(load_server_settings())
    except PrismError as exc:
        return [*found, Check("server settings", "fail", exc.message, exc.hint)]
    found += [Check("server settings", "warn", w, "Set it as docs/settings.md says before production use.")
              for w in warnings]
    if not warnings:
        found.append(Check("server settings", "ok", "`prism serve` would start"))
    return found


def check_secrets(home: Path) -> list[Check]:
    """API_SECRET or a private development secret; never a world-readable secret file."""
    from prism.serve.http.settings import load_server_settings

    try:
        server = load_server_settings()
    except PrismError as exc:
        return [Check("secrets", "fail", exc.message, exc.hint)]
    dev = home / DEV_SECRET
    found: list[Check] = []
    if server.api_secret is not None:
        found.append(Check("secrets", "ok", "API_SECRET is set"))
    elif server.environment == "production":
        found.append(Check("secrets", "fail", "ENVIRONMENT=production without API_SECRET",
                           "Set API_SECRET (≥32 characters) or PRISM_SECRETS_FILE."))
    else:
        found.append(Check("secrets", "warn", "API_SECRET is not set: the server uses a development secret file",
                           "Set API_SECRET before serving a team; keep it apart from backups."))
    if dev.is_file() and stat.S_IMODE(dev.stat().st_mode) & 0o077:
        found.append(Check("dev secret file", "fail", f"{dev} is readable by other users",
                           f"chmod 600 {dev}"))
    return found


def _database_check(name: str, path: Path, latest: int | None) -> Check:
    from prism.index.sqlite_db import integrity_problems, schema_version

    problems = integrity_problems(path)
    if problems:
        return Check(name, "fail", f"{path}: {problems[0]}",
                     "Restore it from a backup (`prism restore`), or for an index `prism forget` and re-index.")
    version = schema_version(path)
    if latest is not None and version > latest:
        return Check(name, "fail", f"{path} has schema {version}, newer than this PRISM ({latest})",
                     "Upgrade PRISM, or restore a backup taken with this version.")
    if latest is not None and version < latest:
        return Check(name, "warn", f"{path} has schema {version}; it is migrated to {latest} when opened",
                     "Take a backup (`prism backup DIR`) before the upgrade opens it.")
    return Check(name, "ok", f"{path}: integrity ok, schema {version}")


def check_databases(home: Path) -> list[Check]:
    """Every index, the server database and the embedding cache: integrity and schema version."""
    from prism.index.sqlite import SCHEMA_VERSION
    from prism.serve.http.db import MIGRATIONS

    found = [_database_check(f"index {rel}", home / rel / INDEX_FILE, SCHEMA_VERSION)
             for rel in index_folders(home)]
    if (home / SERVER_DB).is_file():
        found.append(_database_check("server database", home / SERVER_DB, len(MIGRATIONS)))
    if (home / EMBEDDINGS_DB).is_file():
        found.append(_database_check("embedding cache", home / EMBEDDINGS_DB, None))
    if not found:
        found.append(Check("databases", "skipped", f"no database under {home} yet"))
    return found


def check_model(settings: Settings) -> Check:
    """The configured embedder loads and embeds a line."""
    from prism.index.embed import load_embedder

    if not settings.embed:
        return Check("model", "skipped", "PRISM_EMBED=false: lexical-only indexes")
    try:
        embedder = load_embedder(settings.embedder, settings.threads)
        embedder.embed_query("def doctor(): pass")
    except PrismError as exc:
        return Check("model", "fail", exc.message, exc.hint)
    return Check("model", "ok", f"{embedder.model_id} loads")


def check_disk(home: Path) -> Check:
    """Free space on the disk that holds the home."""
    folder = home if home.exists() else next((p for p in home.parents if p.exists()), Path("/"))
    usage = shutil.disk_usage(folder)
    free_gib = usage.free / (1 << 30)
    detail = f"{free_gib:.1f} GiB free of {usage.total / (1 << 30):.1f} GiB at {folder}"
    if usage.free < MIN_FREE_BYTES or usage.free < usage.total * MIN_FREE_FRACTION:
        return Check("disk", "warn", detail, "Free disk space, or move PRISM_HOME to a larger disk.")
    return Check("disk", "ok", detail)


def check_versions() -> list[Check]:
    """Python, SQLite (with FTS5) and every installed dependency against PRISM's requirements."""
    found = [Check("python", "ok" if sys.version_info >= (3, 11) else "fail", sys.version.split()[0],
                   "" if sys.version_info >= (3, 11) else "Install Python 3.11 or later.")]
    sqlite_ok = sqlite3.sqlite_version_info >= MIN_SQLITE
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        fts5 = True
    except sqlite3.Error:
        fts5 = False
    found.append(Check("sqlite", "ok" if sqlite_ok and fts5 else "fail",
                       f"SQLite {sqlite3.sqlite_version}, FTS5 {'present' if fts5 else 'missing'}",
                       "" if sqlite_ok and fts5 else "Use a Python built with SQLite ≥ 3.35 and FTS5."))
    try:
        from packaging.requirements import Requirement
    except ImportError:
        return [*found, Check("dependencies", "skipped", "the `packaging` module is not installed")]
    try:
        wanted = metadata.requires(DISTRIBUTION) or []
        prism_version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return [*found, Check("dependencies", "skipped", f"{DISTRIBUTION} is not installed as a package")]
    wrong = []
    for line in wanted:
        requirement = Requirement(line)
        if requirement.marker is not None:  # extras (test, postgres…) and platform-only ones
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{requirement.name} missing")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            wrong.append(f"{requirement.name} {installed} (wants {requirement.specifier})")
    if wrong:
        found.append(Check("dependencies", "fail", "; ".join(wrong),
                           f"Reinstall: pip install --force-reinstall {DISTRIBUTION}=={prism_version}"))
    else:
        found.append(Check("dependencies", "ok", f"{DISTRIBUTION} {prism_version}: every dependency as required"))
    return found


def check_pg_tools(settings: Settings) -> list[Check]:
    """With PRISM_DATABASE_URL, `prism backup` needs pg_dump and pg_restore."""
    if settings.database_url is None:
        return []
    from prism.ops.pg_backup import PgToolError, pg_tool

    try:
        found = [pg_tool("pg_dump"), pg_tool("pg_restore")]
    except PgToolError as exc:
        return [Check("backup tools", "fail", exc.message, exc.hint)]
    return [Check("backup tools", "ok", f"{found[0]}, {found[1]}: PRISM's PostgreSQL tables can be backed up")]


def run_doctor(settings: Settings, *, model: bool = True) -> list[Check]:
    """Every check, in the order a person would fix them."""
    home = settings.home
    checks = [*check_settings(), *check_secrets(home), *check_databases(home), *check_pg_tools(settings)]
    if model:
        checks.append(check_model(settings))
    checks.append(check_disk(home))
    checks += check_versions()
    if not os.access(home if home.exists() else home.parent, os.W_OK):
        checks.append(Check("home", "fail", f"{home} is not writable", f"Fix the permissions of {home}."))
    return checks
