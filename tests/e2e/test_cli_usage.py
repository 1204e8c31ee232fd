"""`prism usage`: today's quota table with bars, and the meter's daily totals, from PRISM_HOME."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from json_shapes import check, documented
from prism.ops.meter import open_meter, utc_day
from prism.serve.cli import app

QUOTAS = '[{"resource": "searches", "per": "key", "limit": 10, "target": 5, "alert": "80%"}]'


def test_usage_prints_the_quota_table_and_daily_totals(prism_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_QUOTAS", QUOTAS)
    meter = open_meter(prism_home)  # what a server (any worker) records
    meter.record("key:abc", "demo", "/api/v1/projects/{project}/search", {"requests": 9, "searches": 9,
                                                                         "tokens_served": 1234})
    meter.close()
    runner = CliRunner()
    result = runner.invoke(app, ["usage", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    check(data, documented()["usage"])
    [row] = data["quotas"]
    assert (row["subject"], row["used"], row["limit"], row["target"], row["alert"]) == ("key:abc", 9, 10, 5, 8)
    assert data["days"][utc_day()] == {"requests": 9, "searches": 9, "tokens_served": 1234}
    text = runner.invoke(app, ["usage"], env={"COLUMNS": "160"})
    assert text.exit_code == 0 and "key:abc" in text.stdout and "█" in text.stdout and "1,234" in text.stdout
