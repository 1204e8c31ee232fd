"""Retention keeps the newest backup of each of the last N days and M ISO weeks, and nothing else is deleted."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from prism.ops.backup import FORMAT, backup_name
from prism.ops.retention import list_backups, prune


def fake_backup(folder: Path, when: dt.datetime) -> Path:
    at = when.replace(tzinfo=dt.UTC).timestamp()
    path = folder / backup_name(at)
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"format": FORMAT, "version": 1, "created_at": at}))
    return path


def test_prune_keeps_daily_and_weekly_newest(tmp_path: Path) -> None:
    # Two backups a day for 20 days, ending Sunday 2026-11-29.
    start = dt.datetime(2026, 11, 10)
    made = [fake_backup(tmp_path, start + dt.timedelta(days=d, hours=h)) for d in range(20) for h in (1, 13)]
    stranger = tmp_path / "prism-backup-notes"  # no manifest: not ours to delete
    stranger.mkdir()
    partial = tmp_path / ".prism-backup-20261129T230000Z.partial"
    partial.mkdir()

    kept, deleted = prune(tmp_path, keep_daily=3, keep_weekly=2)

    names = sorted(p.name for p in kept)
    assert names == sorted([
        "prism-backup-20261127T130000Z", "prism-backup-20261128T130000Z",  # the last 3 days' newest…
        "prism-backup-20261129T130000Z",                                    # …also this ISO week's newest
        "prism-backup-20261122T130000Z",                                    # the previous week's newest (Sunday)
    ])
    assert len(deleted) == len(made) - 4
    assert all(not p.exists() for p in deleted) and all(p.exists() for p in kept)
    assert stranger.exists() and partial.exists()
    assert next(s.path.name for s in list_backups(tmp_path)) == "prism-backup-20261129T130000Z"


def test_the_newest_backup_is_always_kept(tmp_path: Path) -> None:
    newest = fake_backup(tmp_path, dt.datetime(2026, 11, 2))
    older = fake_backup(tmp_path, dt.datetime(2026, 11, 1))
    kept, deleted = prune(tmp_path, keep_daily=0, keep_weekly=0)
    assert kept == [newest] and deleted == [older]
