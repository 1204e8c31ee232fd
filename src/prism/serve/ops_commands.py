"""The `prism backup`, `prism restore`, `prism maintain` and `prism doctor` commands (typer) over prism.ops.

Thin: each opens what it needs (the settings, the server database by its class), calls one
function of `prism.ops` and prints its result. Every command takes --json; a failed check or
a damaged backup exits 1 after printing what was found.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from prism.config import Settings
from prism.errors import InputError
from prism.serve.output import emit_json, err, reporting

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")]
STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skipped": "dim"}


class _BackupGroup(TyperGroup):
    """`prism backup DEST …` runs `backup create`; `prism backup verify SRC` checks a backup."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: typer's vendored click Context
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["create", *args]
        return super().parse_args(ctx, args)


backup_app = typer.Typer(
    name="backup", cls=_BackupGroup, no_args_is_help=True,
    help="Back up PRISM_HOME (`prism backup DEST`, i.e. `backup create`) or check a backup (`backup verify SRC`).")


def _server_db() -> Any:
    from prism.serve.http.db import ServerDB

    return ServerDB


def _version() -> str:
    from prism import __version__

    return __version__


def _print_checks(checks: list[Any]) -> None:
    for check in checks:
        style = STATUS_STYLE[check.status]
        err.print(f"[{style}]{check.status:>7}[/]  {check.name}: {check.detail}", highlight=False)
        if check.fix and check.status in ("warn", "fail"):
            err.print(f"         [dim]fix: {check.fix}[/]", highlight=False)


@backup_app.command("create")
def backup_create(
    dest: Annotated[Path, typer.Argument(help="Folder that holds the backups; a new prism-backup-<UTC time> "
                                              "folder is written inside it.")],
    keep_daily: Annotated[int | None, typer.Option("--keep-daily", min=0, help="Afterwards keep the newest "
                                                    "backup of each of the last N days that have one.")] = None,
    keep_weekly: Annotated[int | None, typer.Option("--keep-weekly", min=0, help="… and of each of the last "
                                                     "M ISO weeks; other backups in DEST are deleted.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Snapshot everything under PRISM_HOME (indexes, server database, embedding cache, uploads), online.

    With PRISM_DATABASE_URL, PRISM's PostgreSQL tables too (pg_dump, one snapshot). Secrets are
    never copied: keep API_SECRET (or server/dev-secret) apart from the backups.
    """
    from prism.ops.backup import create_backup
    from prism.ops.retention import prune

    with reporting(json_out):
        settings = Settings()
        home = settings.home
        if not home.is_dir():
            raise InputError(f"PRISM_HOME {home} does not exist: nothing to back up.",
                             hint="Set PRISM_HOME to the home to back up.", value=home)
        url = settings.database_url.get_secret_value() if settings.database_url else None
        backup = create_backup(home, dest, open_server=_server_db(), prism_version=_version(), database_url=url)
        deleted: list[Path] = []
        if keep_daily is not None or keep_weekly is not None:
            _, deleted = prune(dest, keep_daily or 0, keep_weekly or 0)
        files: list[dict[str, Any]] = backup.manifest["files"]  # type: ignore[assignment]
        result = {"backup": str(backup.path), "created": backup.manifest["created"], "files": len(files),
                  "bytes": sum(int(f["bytes"]) for f in files), "projects": backup.manifest["projects"],
                  "server": backup.manifest["server"], "skipped": backup.manifest["skipped"],
                  "postgres": backup.manifest["postgres"],
                  "pruned": [str(p) for p in deleted]}
        if json_out:
            emit_json(result)
            return
        err.print(f"Backed up {len(files)} files ({result['bytes']:,} bytes, {len(backup.manifest['projects'])} "  # type: ignore[arg-type]
                  f"projects); secrets left out.", highlight=False)
        for path in deleted:
            err.print(f"Pruned {path}", highlight=False)
        sys.stdout.write(f"{backup.path}\n")


@backup_app.command("verify")
def backup_verify(
    src: Annotated[Path, typer.Argument(help="A prism-backup-* folder, or a backups folder (its newest backup).")],
    json_out: JsonOpt = False,
) -> None:
    """Check a backup: every file's size and SHA-256, integrity_check, counts, and a test search per project."""
    from prism.ops.restore import verify_backup

    with reporting(json_out):
        result = verify_backup(src, Settings(), _server_db())
        if json_out:
            emit_json(result.to_dict())
        elif result.ok:
            err.print(f"Backup {result.path} is sound: {result.checked.get('files')} files, "
                      f"{len(result.checked.get('projects', []))} projects searched.", highlight=False)  # type: ignore[arg-type]
        else:
            err.print(f"[bold red]Backup {result.path} is damaged:[/]", highlight=False)
            for problem in result.problems:
                err.print(f"  {problem}", highlight=False)
            err.print("[dim]Do not restore it; take a new backup or use an older one.[/]")
        if not result.ok:
            raise typer.Exit(1)


def restore(
    src: Annotated[Path, typer.Argument(help="A prism-backup-* folder, or a backups folder (its newest backup).")],
    force: Annotated[bool, typer.Option("--force", help="Replace the data already in PRISM_HOME.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Verify a backup, then restore it into PRISM_HOME (refused when the home holds data, unless --force)."""
    from prism.ops.restore import restore_backup
    from prism.serve.home import tighten

    with reporting(json_out):
        settings = Settings()
        result = restore_backup(src, settings.home, settings, force=force, open_server=_server_db())
        tighten(settings.home / "server")  # the server's part of the home stays private (serve/home.py)
        if json_out:
            emit_json(result)
            return
        err.print(f"Restored {result['backup']} ({result['projects']} projects) into {result['home']}. "
                  f"Secrets are {result['secrets']}.", highlight=False)


def maintain(
    daily: Annotated[bool, typer.Option("--daily", help="Disk space and each index's freshness.")] = False,
    weekly: Annotated[bool, typer.Option(
        "--weekly", help="Refresh changed files, optimize every index (FTS merge, ANALYZE, VACUUM), "
                         "expire caches, drop orphaned vectors.")] = False,
    monthly: Annotated[bool, typer.Option("--monthly", help="Verify the latest backup, list keys expired or "
                                          "unused for 30 days, check dependency versions.")] = False,
    backups: Annotated[Path | None, typer.Option("--backups", help="The folder `prism backup` writes into "
                                                 "(for --monthly).")] = None,
    no_refresh: Annotated[bool, typer.Option("--no-refresh", help="Weekly: do not re-index changed files.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run the maintenance schedule (daily: disk, index freshness, today's use of each quota)."""
    from prism.ops import maintain as ops

    with reporting(json_out):
        if not (daily or weekly or monthly):
            raise InputError("Say which schedule to run.", hint="Pass --daily, --weekly or --monthly.")
        settings = Settings()
        results: dict[str, list[Any]] = {}
        if daily:
            results["daily"] = ops.daily(settings, quotas=_quota_table(settings))
        if weekly:
            results["weekly"] = ops.weekly(settings, refresh=not no_refresh)
        if monthly:
            results["monthly"] = ops.monthly(settings, backups, _server_db())
        failed = any(c.status == "fail" for checks in results.values() for c in checks)
        if json_out:
            emit_json({"ok": not failed, **{k: [c.to_dict() for c in v] for k, v in results.items()}})
        else:
            for name, checks in results.items():
                err.print(f"[bold]{name}[/]")
                _print_checks(checks)
        if failed:
            raise typer.Exit(1)


def doctor(
    no_model: Annotated[bool, typer.Option("--no-model", help="Skip loading the embedding model.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Check settings, secrets, databases, model, disk and versions; each problem comes with its fix."""
    from prism.ops.doctor import run_doctor, worst

    with reporting(json_out):
        checks = run_doctor(Settings(), model=not no_model)
        status = worst(checks)
        if json_out:
            emit_json({"status": status, "checks": [c.to_dict() for c in checks]})
        else:
            _print_checks(checks)
            err.print(f"[bold]{status}[/]")
        if status == "fail":
            raise typer.Exit(1)


def _quota_table(settings: Settings) -> list[dict[str, object]]:
    """Today's use of each configured quota, read from the meter (as `prism usage` does)."""
    from prism.ops.meter import open_meter
    from prism.ops.quotas import QuotaBook, parse_quotas
    from prism.serve.http.settings import load_server_settings

    server = load_server_settings()
    quotas = parse_quotas(server.quotas)
    if not quotas:
        return []
    meter = open_meter(settings.home, server.redis_url.get_secret_value() if server.redis_url else None)
    try:
        return QuotaBook(quotas, meter).table()
    finally:
        meter.close()
