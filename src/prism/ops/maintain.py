"""`prism maintain --daily|--weekly|--monthly`: the production schedule, as far as PRISM has it.

daily: health and resources (disk, each index's freshness and pending vectors). weekly:
refresh changed files of local projects, optimize every index (FTS merge, ANALYZE, VACUUM,
stale vector snapshots expired) and drop vectors no chunk uses. monthly: verify the latest
backup, list keys expired or unused for 30 days, check dependency versions. The daily
quota check reads today's use of each configured quota (PRISM_QUOTAS) from the meter.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from prism.config import Settings
from prism.errors import PrismError
from prism.ops.doctor import Check, check_disk, check_versions
from prism.ops.home import INDEX_FILE, SERVER_DB, ServerOpener, index_folders

Schedule = Literal["daily", "weekly", "monthly"]
STALE_INDEX_S = 7 * 86400  # an index not written for a week is worth a look
UNUSED_KEY_S = 30 * 86400


def _project_root(folder: Path) -> Path | None:
    import json

    try:
        root = Path(json.loads((folder / "project.json").read_text(encoding="utf-8"))["root"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return root if root.is_dir() else None


def _freshness(home: Path, rel: str, now: float) -> Check:
    from prism.index.sqlite import SqliteStore

    store = SqliteStore(home / rel / INDEX_FILE)
    try:
        stats = store.stats()
        model = store.get_meta("embed_model")
        pending = store.count_pending_embeddings(model) if model else 0
    finally:
        store.close()
    last = stats["last_indexed"]
    age_days = (now - float(last)) / 86400 if isinstance(last, float) else None
    detail = (f"{stats['files']} files, {stats['chunks']} chunks, last indexed "
              f"{'never' if age_days is None else f'{age_days:.1f} days ago'}, {pending} vectors pending")
    if age_days is None or age_days * 86400 > STALE_INDEX_S:
        return Check(f"index {rel}", "warn", detail, "Re-index it (`prism index`), or run `prism maintain --weekly`.")
    if pending:
        return Check(f"index {rel}", "warn", detail, "Run `prism index` to compute the missing vectors.")
    return Check(f"index {rel}", "ok", detail)


def check_quotas(rows: list[dict[str, object]]) -> Check:
    """Today's use of every quota (rows of `QuotaBook.table()`): a limit reached fails, an alert
    threshold crossed warns."""
    if not rows:
        return Check("quotas", "ok", "no quotas configured (PRISM_QUOTAS): nothing to check against")

    def line(row: dict[str, object]) -> str:
        return f"{row['resource']} for {row['per']} {row['subject']}: {row['used']:,} of {row['limit']:,}"

    over = [row for row in rows if int(str(row["used"])) >= int(str(row["limit"]))]
    alerting = [row for row in rows if row not in over and row.get("alert") is not None
                and int(str(row["used"])) >= int(str(row["alert"]))]
    if over:
        return Check("quotas", "fail", "; ".join(map(line, over)),
                     "Raise the limit in PRISM_QUOTAS, or wait for the next UTC day (`prism usage` shows the table).")
    if alerting:
        return Check("quotas", "warn", "; ".join(map(line, alerting)),
                     "Past the alert threshold: raise the limit before it is reached (`prism usage`).")
    return Check("quotas", "ok", f"{len(rows)} quota rows below their alert thresholds")


def daily(settings: Settings, now: float | None = None,
          quotas: list[dict[str, object]] | None = None) -> list[Check]:
    now = time.time() if now is None else now
    home = settings.home
    return [check_disk(home), *(_freshness(home, rel, now) for rel in index_folders(home)),
            check_quotas(quotas or [])]


def _refresh(settings: Settings, folder: Path, rel: str) -> Check | None:
    """Re-index the files that changed on disk, for a local project whose folder still exists."""
    from prism.engine import Prism

    root = _project_root(folder)
    if root is None or not rel.startswith("projects/"):
        return None  # server projects are refreshed through the server's API
    try:
        with Prism(root, settings=settings, index_dir=folder) as engine:
            report = engine.index()
    except PrismError as exc:
        return Check(f"refresh {rel}", "fail", exc.message, exc.hint)
    return Check(f"refresh {rel}", "ok", f"{report.files_indexed} files re-indexed, "
                                         f"{report.files_deleted} deleted, {report.files_unchanged} unchanged")


def weekly(settings: Settings, *, refresh: bool = True) -> list[Check]:
    from prism.index.sqlite import SqliteStore

    home = settings.home
    found: list[Check] = []
    for rel in index_folders(home):
        folder = home / rel
        if refresh and (check := _refresh(settings, folder, rel)) is not None:
            found.append(check)
        store = SqliteStore(folder / INDEX_FILE)
        try:
            model = store.get_meta("embed_model")
            orphans = store.prune_embeddings(model) if model else 0
            done = store.optimize()
        except PrismError as exc:
            found.append(Check(f"optimize {rel}", "fail", exc.message, exc.hint))
            continue
        finally:
            store.close()
        found.append(Check(f"optimize {rel}", "ok",
                           f"{done['bytes_before']} → {done['bytes_after']} bytes, {orphans} orphaned vectors "
                           f"dropped, {done['snapshots_expired']} stale vector snapshots expired"))
    if not found:
        found.append(Check("indexes", "skipped", f"no index under {home}"))
    return found


def _key_review(home: Path, open_server: ServerOpener | None, now: float) -> list[Check]:
    if open_server is None or not (home / SERVER_DB).is_file():
        return [Check("keys", "skipped", "no server database")]
    db = open_server(home / SERVER_DB)
    try:
        keys = db.active_keys()
    finally:
        db.close()
    found = []
    for key in keys:
        expires, used, created = key["expires_at"], key["last_used_at"], key["created_at"]
        seen = float(used if used is not None else created)  # type: ignore[arg-type]
        if expires is not None and float(expires) <= now:  # type: ignore[arg-type]
            found.append(Check(f"key {key['key_id']}", "warn", f"{key['name']}: expired",
                               f"prism keys revoke {key['key_id']}"))
        elif now - seen > UNUSED_KEY_S:
            found.append(Check(f"key {key['key_id']}", "warn",
                               f"{key['name']}: unused for {int((now - seen) / 86400)} days",
                               f"prism keys revoke {key['key_id']} (if nobody needs it)"))
    return found or [Check("keys", "ok", f"{len(keys)} active keys, none expired or unused for 30 days")]


def monthly(settings: Settings, backups: Path | None, open_server: ServerOpener | None = None,
            now: float | None = None) -> list[Check]:
    from prism.ops.restore import verify_backup

    now = time.time() if now is None else now
    found: list[Check] = []
    if backups is None:
        found.append(Check("backup", "skipped", "no backups folder given",
                           "Pass --backups DIR (the folder `prism backup` writes into)."))
    else:
        try:
            result = verify_backup(backups, settings, open_server)
        except PrismError as exc:
            found.append(Check("backup", "fail", exc.message, exc.hint))
        else:
            age = (now - float(str(result.manifest.get("created_at", 0)))) / 86400
            if result.ok:
                found.append(Check("backup", "ok" if age <= 31 else "warn",
                                   f"{result.path.name} verified ({age:.0f} days old)",
                                   "" if age <= 31 else "Take backups more often (`prism backup DIR`)."))
            else:
                found.append(Check("backup", "fail", f"{result.path.name}: {result.problems[0]}",
                                   "Take a new backup now and find what damaged this one."))
    return [*found, *_key_review(settings.home, open_server, now), *check_versions()]
