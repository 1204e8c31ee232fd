"""`prism maintain`: daily freshness, weekly optimize/orphans/snapshots/refresh, monthly backup and key review."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from prism.config import Settings
from prism.engine import Prism
from prism.index.sqlite import SqliteStore
from prism.serve.cli import app
from prism.serve.http.db import ServerDB
from prism.serve.http.keys import KeyStore
from prism.serve.secrets import SecretBox

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "repos" / "shop"


def indexed(tmp_path: Path) -> Prism:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURE, root)
    engine = Prism(root, settings=Settings())
    engine.index()
    return engine


def by_name(checks: list[dict[str, str]], prefix: str) -> dict[str, str]:
    return next(c for c in checks if c["name"].startswith(prefix))


def test_weekly_drops_orphans_expires_snapshots_and_refreshes(tmp_path: Path) -> None:
    engine = indexed(tmp_path)
    model = engine.store.get_meta("embed_model")
    assert model is not None
    dim = int(engine.store.get_meta("embed_dim") or 0)
    engine.store.put_embeddings(model, [("no-chunk-has-this-hash", np.ones(dim, dtype=np.float32))])
    (engine.index_dir / "vectors-old-model.json").write_text('{"generation": 1, "dim": 3}')
    (engine.index_dir / "vectors-old-model.npy").write_bytes(b"x")
    (engine.root / "shop" / "added.py").write_text("def added_by_maintain():\n    return 1\n")
    engine.close()

    answer = CliRunner().invoke(app, ["maintain", "--weekly", "--json"])
    assert answer.exit_code == 0, answer.stderr
    weekly = json.loads(answer.stdout)["weekly"]
    assert "1 files re-indexed" in by_name(weekly, "refresh")["detail"]
    optimize = by_name(weekly, "optimize")
    assert optimize["status"] == "ok"
    assert "1 orphaned vectors dropped" in optimize["detail"] and "1 stale vector snapshots" in optimize["detail"]
    assert not (engine.index_dir / "vectors-old-model.npy").exists()
    store = SqliteStore(engine.index_dir / "index.db")
    try:
        assert store.prune_embeddings(model) == 0
        assert store.find_refs(["added_by_maintain"])  # the refreshed file is searchable
    finally:
        store.close()


def test_daily_reports_freshness_and_quotas(tmp_path: Path) -> None:
    indexed(tmp_path).close()
    answer = CliRunner().invoke(app, ["maintain", "--daily", "--json"])
    assert answer.exit_code == 0, answer.stderr
    daily = json.loads(answer.stdout)["daily"]
    assert by_name(daily, "disk")["status"] in ("ok", "warn")
    assert by_name(daily, "index projects/")["status"] == "ok"
    assert by_name(daily, "quotas")["status"] == "ok"
    assert "no quotas configured" in by_name(daily, "quotas")["detail"]


def test_the_quota_check_fails_at_the_limit_and_warns_past_the_alert() -> None:
    from prism.ops.maintain import check_quotas

    row = {"resource": "searches", "per": "key", "subject": "k1", "limit": 100, "alert": 80, "target": 50}
    assert check_quotas([{**row, "used": 10}]).status == "ok"
    assert check_quotas([{**row, "used": 85}]).status == "warn"
    failed = check_quotas([{**row, "used": 85}, {**row, "subject": "k2", "used": 100}])
    assert failed.status == "fail" and "k2" in failed.detail and "k1" not in failed.detail


def test_monthly_verifies_the_latest_backup_and_lists_stale_keys(tmp_path: Path, prism_home: Path) -> None:
    indexed(tmp_path).close()
    db = ServerDB(prism_home / "server" / "server.db")
    keys = KeyStore(db, SecretBox("s" * 40))
    old, _ = keys.create("old-ci", "reader")
    fresh, _ = keys.create("fresh", "reader")
    gone, _ = keys.create("gone", "reader", expires_at=time.time() + 3600)
    db.execute("UPDATE api_keys SET created_at = ? WHERE key_id = ?", (time.time() - 40 * 86400, old.key_id))
    db.execute("UPDATE api_keys SET expires_at = ? WHERE key_id = ?", (time.time() - 60, gone.key_id))
    db.close()
    runner = CliRunner()
    skipped = json.loads(runner.invoke(app, ["maintain", "--monthly", "--json"]).stdout)["monthly"]
    assert by_name(skipped, "backup")["status"] == "skipped"

    assert runner.invoke(app, ["backup", str(tmp_path / "backups")]).exit_code == 0
    answer = runner.invoke(app, ["maintain", "--monthly", "--backups", str(tmp_path / "backups"), "--json"])
    assert answer.exit_code == 0, answer.stderr
    monthly = json.loads(answer.stdout)["monthly"]
    assert by_name(monthly, "backup")["status"] == "ok" and "verified" in by_name(monthly, "backup")["detail"]
    flagged = {c["name"]: c for c in monthly if c["name"].startswith("key ")}
    assert set(flagged) == {f"key {old.key_id}", f"key {gone.key_id}"}
    assert "unused for 40 days" in flagged[f"key {old.key_id}"]["detail"]
    assert "expired" in flagged[f"key {gone.key_id}"]["detail"]
    assert flagged[f"key {gone.key_id}"]["fix"] == f"prism keys revoke {gone.key_id}"
    assert fresh.key_id not in json.dumps(monthly)
    assert by_name(monthly, "dependencies")["status"] == "ok"


def test_maintain_needs_a_schedule() -> None:
    answer = CliRunner().invoke(app, ["maintain"])
    assert answer.exit_code == 2 and "--daily, --weekly or --monthly" in answer.stderr
