"""Backup retention: keep the newest backup of each of the last N days and M ISO weeks.

Only finished PRISM backups (a `prism-backup-*` folder with a readable manifest) are ever
deleted; anything else in the folder is left alone.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from prism.ops.backup import FORMAT, MANIFEST, NAME_PREFIX


@dataclass(frozen=True)
class Stored:
    """A backup found in a backups folder, with the time its manifest says it was taken."""

    path: Path
    created_at: float


def list_backups(folder: Path) -> list[Stored]:
    """Finished backups in `folder`, newest first."""
    found: list[Stored] = []
    if not folder.is_dir():
        return found
    for entry in folder.iterdir():
        if not entry.name.startswith(NAME_PREFIX) or not entry.is_dir():
            continue
        try:
            manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
            if manifest.get("format") == FORMAT:
                found.append(Stored(entry, float(manifest["created_at"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda s: (s.created_at, s.path.name), reverse=True)


def to_keep(backups: list[Stored], keep_daily: int, keep_weekly: int) -> set[Path]:
    """The newest backup of each of the `keep_daily` latest UTC days that have one, and of each
    of the `keep_weekly` latest ISO weeks; the newest backup of all is always kept."""
    keep: set[Path] = {backups[0].path} if backups else set()
    days: dict[dt.date, Path] = {}
    weeks: dict[tuple[int, int], Path] = {}
    for stored in backups:  # newest first: the first seen of a day or week is its newest
        day = dt.datetime.fromtimestamp(stored.created_at, dt.UTC).date()
        days.setdefault(day, stored.path)
        week = day.isocalendar()
        weeks.setdefault((week.year, week.week), stored.path)
    keep.update(list(days.values())[:keep_daily])
    keep.update(list(weeks.values())[:keep_weekly])
    return keep


def prune(folder: Path, keep_daily: int, keep_weekly: int) -> tuple[list[Path], list[Path]]:
    """Delete the backups in `folder` that retention does not keep; returns (kept, deleted)."""
    backups = list_backups(folder)
    keep = to_keep(backups, keep_daily, keep_weekly)
    deleted = [s.path for s in backups if s.path not in keep]
    for path in deleted:
        shutil.rmtree(path)
    return [s.path for s in backups if s.path in keep], deleted
