"""How a backup treats each file under PRISM_HOME (prism.ops.home)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from prism.ops.backup import create_backup
from prism.ops.home import home_files


def test_other_databases_are_copied_online_and_metrics_samples_are_left_out(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "server" / "metrics").mkdir(parents=True)
    (home / "server" / "metrics" / "counter_123.db").write_bytes(b"mmap samples")
    meter = sqlite3.connect(home / "server" / "meter.db")
    meter.execute("PRAGMA journal_mode=WAL")
    meter.execute("CREATE TABLE counts (metric TEXT, value INTEGER)")
    meter.execute("INSERT INTO counts VALUES ('searches', 7)")
    meter.commit()  # still in the -wal file: a plain file copy would miss it
    kinds = {f.rel: f.kind for f in home_files(home)}
    assert kinds["server/meter.db"] == "database"
    assert kinds["server/metrics/counter_123.db"] == "skip"
    backup = create_backup(home, tmp_path / "backups").path
    copy = sqlite3.connect(backup / "server" / "meter.db")
    assert copy.execute("SELECT value FROM counts").fetchall() == [(7,)]
    assert not (backup / "server" / "metrics").exists()
    meter.close()
    copy.close()
