"""`prism stats` counts tokens saved for every output format, not only JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism.serve.cli import app

runner = CliRunner()


@pytest.mark.parametrize("fmt", ["markdown", "xml", "json"])
def test_context_in_any_format_records_tokens_saved(tmp_path: Path, fmt: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    body = "".join(f"def helper_{i}(value):\n    return value * {i} + {i}\n\n\n" for i in range(60))
    (root / "big.py").write_text("def refresh_token(session):\n    return session.token\n\n\n" + body)
    assert runner.invoke(app, ["index", "--project", str(root), "--json"]).exit_code == 0
    result = runner.invoke(app, ["context", "refresh token", "--project", str(root), "--budget", "300",
                                 "--format", fmt])
    assert result.exit_code == 0, result.output
    stats = json.loads(runner.invoke(app, ["stats", "--project", str(root), "--json"]).stdout)
    assert stats["queries"] == 1
    assert stats["tokens_served"] <= 300
    assert stats["tokens_saved"] > 0  # big.py is far larger than the 300-token pack
