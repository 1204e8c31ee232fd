"""--code-only / scope: tests, docs and changelogs left out of search and context, everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism.config import Settings
from prism.engine import Prism
from prism.ingest.paths import place_of
from prism.models import SearchFilters
from prism.serve.cli import app

runner = CliRunner()


@pytest.fixture
def crowded(tmp_path: Path) -> Path:
    """One redirect function, and many changelog sections and tests that talk about redirects."""
    root = tmp_path / "web"
    (root / "src").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "src" / "redirects.py").write_text(
        "def follow_redirect(response, max_hops=5):\n"
        '    """Follow an HTTP redirect: read the Location header of a 301/302 response."""\n'
        "    location = response.headers['Location']\n    return fetch(location, max_hops - 1)\n\n\n"
        "def fetch(url, hops):\n    return url\n")
    (root / "CHANGELOG.md").write_text("# Changelog\n\n" + "".join(
        f"## 1.{i}.0\n\n- Fixed follow_redirect: redirect loops, the Location header of a 30{i % 8} "
        f"redirect response and max_hops redirect counting ({i}).\n\n" for i in range(20)))
    (root / "tests" / "test_redirects.py").write_text("from src.redirects import follow_redirect\n\n\n" + "".join(
        f"def test_follow_redirect_{i}():\n    # redirect response Location header max_hops\n"
        f"    assert follow_redirect(make_redirect_response({i}), max_hops={i})\n\n\n" for i in range(12)))
    return root


def paths_of(hits: object) -> list[str]:
    return [h.chunk.chunk.path for h in hits]  # type: ignore[attr-defined]


def test_code_only_search_and_context_leave_out_changelog_and_tests(crowded: Path, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", embedder="hashing", threads=1)
    with Prism(crowded, settings=settings) as prism:
        prism.index()
        query = "follow redirect Location header of a redirect response"
        everything = paths_of(prism.search(query, limit=10).hits)
        # The crowding is real: most of the unfiltered top ten are changelog sections and tests.
        assert sum(place_of(p) != "code" for p in everything) >= 5, everything
        code = paths_of(prism.search(query, limit=10, filters=SearchFilters(scope="code")).hits)
        assert code and all(p == "src/redirects.py" for p in code), code
        assert all(place_of(p) == "tests" for p in paths_of(
            prism.search(query, limit=10, filters=SearchFilters(scope="tests")).hits))

        full = prism.context(query, budget_tokens=2000, expand=True)
        assert any(place_of(c.path) != "code" for c in full.chunks)
        pack = prism.context(query, budget_tokens=2000, expand=True, filters=SearchFilters(scope="code"))
        assert pack.tokens <= 2000 and pack.chunks
        assert {c.path for c in pack.chunks} == {"src/redirects.py"}
        assert "CHANGELOG" not in pack.text and "test_follow_redirect" not in pack.text


def test_cli_code_only_flag_and_scope_errors(crowded: Path, prism_home: Path) -> None:
    assert runner.invoke(app, ["index", "--project", str(crowded), "--json"]).exit_code == 0
    result = runner.invoke(app, ["search", "redirect Location header", "--project", str(crowded),
                                 "--code-only", "--json"])
    assert result.exit_code == 0, result.output
    assert {r["path"] for r in json.loads(result.stdout)["results"]} == {"src/redirects.py"}
    result = runner.invoke(app, ["context", "redirect Location header", "--project", str(crowded),
                                 "--scope", "docs", "--budget", "2000", "--json"])
    assert result.exit_code == 0, result.output
    assert {c["path"] for c in json.loads(result.stdout)["chunks"]} == {"CHANGELOG.md"}
    bad = runner.invoke(app, ["search", "redirect", "--project", str(crowded), "--scope", "source", "--json"])
    assert bad.exit_code != 0 and "all, code, tests, docs" in bad.stdout + bad.stderr
    clash = runner.invoke(app, ["search", "redirect", "--project", str(crowded), "--code-only",
                                "--scope", "tests", "--json"])
    assert clash.exit_code != 0
