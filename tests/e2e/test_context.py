"""`prism context`, `prism show` and `prism stats` through the CLI and the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism.engine import Prism
from prism.pack.tokens import get_tokenizer
from prism.serve.cli import app

runner = CliRunner()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "app" / "session.py").write_text(
        "import time\n\n\n"
        "def refresh_token(session):\n    \"\"\"Refresh the session token when it expires.\"\"\"\n"
        "    # the clock may be skewed\n    if session.expires_at < time.time():\n"
        "        session.token = issue_token(session.user)\n    return session.token\n\n\n"
        "def issue_token(user):\n    \"\"\"A new token for a user.\"\"\"\n    return f'tok-{user}'\n\n\n"
        "class Session:\n    \"\"\"A logged-in user.\"\"\"\n\n    def __init__(self, user):\n"
        "        self.user = user\n        self.token = issue_token(user)\n        self.expires_at = 0\n\n"
        "    def logout(self):\n        self.token = None\n")
    (root / "app" / "billing.py").write_text(
        "".join(f"def charge_{i}(amount):\n    \"\"\"Charge {i}.\"\"\"\n    total = amount * {i}\n"
                f"    return round(total, 2)\n\n\n" for i in range(40)))
    (root / "tests" / "test_session.py").write_text(
        "from app.session import refresh_token\n\n\ndef test_refresh_token():\n"
        "    assert refresh_token is not None\n")
    (root / "README.md").write_text("# App\n\nSessions and billing.\n")
    assert runner.invoke(app, ["index", "--project", str(root), "--no-embed", "-q"]).exit_code == 0
    return root


def test_context_json_shape_fits_budget_and_records_usage(repo: Path) -> None:
    result = runner.invoke(app, ["context", "fix the bug where refresh_token keeps an expired token",
                                 "--budget", "600", "--json", "--project", str(repo)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["budget"] == 600 and doc["intent"] == "bugfix"
    assert get_tokenizer("cl100k_base").count(result.stdout) <= 600
    for chunk in doc["chunks"]:
        assert set(chunk) == {"path", "start_line", "end_line", "symbol", "level", "tokens", "handle", "content"}
        assert chunk["level"] in ("full", "light", "skeleton", "signature", "reference")
    top = {c["symbol"]: c["level"] for c in doc["chunks"]}
    assert top.get("refresh_token") in ("full", "light")
    assert doc["savings"]["whole_files"]["tokens"] > 0
    stats = runner.invoke(app, ["stats", "--json", "--project", str(repo)])
    assert stats.exit_code == 0
    assert json.loads(stats.stdout)["queries"] == 1


@pytest.mark.parametrize("fmt", ["markdown", "xml"])
def test_context_formats_and_stdin(repo: Path, fmt: str) -> None:
    result = runner.invoke(app, ["context", "-", "--budget", "400", "--format", fmt, "--project", str(repo)],
                           input="how does charge_7 compute the total?")
    assert result.exit_code == 0, result.output
    assert get_tokenizer("cl100k_base").count(result.stdout) <= 400
    assert "app/billing.py" in result.stdout
    if fmt == "xml":
        assert result.stdout.startswith("<context") and result.stdout.rstrip().endswith("</context>")


def test_show_handle_range_and_symbol(repo: Path) -> None:
    with Prism(repo) as prism:
        pack = prism.context("refresh_token expired", budget_tokens=2000, fmt="json")
        chunk = next(c for c in pack.chunks if c.symbol == "refresh_token")
    shown = runner.invoke(app, ["show", chunk.handle, "--json", "--project", str(repo)])
    assert shown.exit_code == 0, shown.output
    item = json.loads(shown.stdout)["results"][0]
    assert item["symbol"] == "refresh_token" and "def refresh_token" in item["content"]
    ranged = runner.invoke(app, ["show", "app/session.py:4-5", "--project", str(repo)])
    assert ranged.exit_code == 0 and ranged.stdout.startswith("def refresh_token(session):")
    by_symbol = runner.invoke(app, ["show", "Session.logout", "--project", str(repo)])
    assert by_symbol.exit_code == 0 and "self.token = None" in by_symbol.stdout
    missing = runner.invoke(app, ["show", "no_such_thing", "--project", str(repo)])
    assert missing.exit_code == 1 and "Nothing in the index matches" in missing.stderr
    outside = runner.invoke(app, ["show", "../etc/passwd:1-2", "--project", str(repo)])
    assert outside.exit_code == 2


@pytest.mark.timeout(60)  # the FIFO hung the old `show` forever
def test_show_serves_only_what_the_index_admits(hostile_repo: tuple[Path, tuple[str, ...], tuple[str, ...]]
                                                ) -> None:
    root, refused, secrets = hostile_repo
    assert runner.invoke(app, ["index", "--project", str(root), "--no-embed"]).exit_code == 0
    for target in refused:
        shown = runner.invoke(app, ["show", target, "--project", str(root)])
        assert shown.exit_code == 2, (target, shown.output)
        assert "PRISM reads only the files it would index" in shown.stderr or "outside" in shown.stderr
        assert not any(secret in shown.output for secret in secrets), (target, shown.output)
    fine = runner.invoke(app, ["show", "src/app.py:1-2", "--project", str(root)])
    assert fine.exit_code == 0 and "def served" in fine.stdout


def test_expand_and_test_intent_pull_neighbours(repo: Path) -> None:
    with Prism(repo) as prism:
        plain = prism.context("refresh_token", budget_tokens=3000, intent="feature")
        expanded = prism.context("refresh_token", budget_tokens=3000, intent="feature", expand=True)
        tests = prism.context("write tests for refresh_token", budget_tokens=3000)
    assert "issue_token" in {c.symbol for c in expanded.chunks}
    assert len(expanded.chunks) >= len(plain.chunks)
    assert tests.intent == "test"
    assert any(c.path.startswith("tests/") for c in tests.chunks)


def test_bad_input_is_a_clear_error(repo: Path) -> None:
    empty = runner.invoke(app, ["context", "  ", "--project", str(repo)])
    assert empty.exit_code == 2 and "empty" in empty.stderr
    bad = runner.invoke(app, ["context", "x", "--format", "yaml", "--json", "--project", str(repo)])
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"]["code"] == "invalid_input"
    tiny = runner.invoke(app, ["context", "refresh", "--budget", "100", "--json", "--project", str(repo)])
    assert tiny.exit_code == 0 and get_tokenizer("cl100k_base").count(tiny.stdout) <= 100
