"""prism.pack.repomap: PageRank over the code graph, and a map that fits its budget exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from prism.config import Settings
from prism.engine import Prism
from prism.errors import InputError
from prism.pack.repomap import pagerank
from prism.pack.tokens import get_tokenizer
from prism.serve.cli import app

TOK = get_tokenizer("cl100k_base")


def test_pagerank_ranks_what_everything_points_at_and_sums_to_one() -> None:
    # 1, 2 and 3 point at 0; 0 points at 1.
    edges = {(1, 0): 1.0, (2, 0): 1.0, (3, 0): 1.0, (0, 1): 1.0}
    rank = pagerank(4, edges, np.full(4, 0.25))
    assert rank.argmax() == 0 and rank[1] > rank[2] == pytest.approx(rank[3])
    assert rank.sum() == pytest.approx(1.0)
    focused = pagerank(4, edges, np.array([0.01, 0.01, 0.97, 0.01]))
    assert focused[2] > rank[2]  # the restart vector personalises the walk


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Prism:
    root = tmp_path_factory.mktemp("maprepo")
    (root / "core").mkdir()
    (root / "core" / "db.py").write_text(
        "def open_connection(url):\n    return url\n\n\n"
        "def rarely_used_helper():\n    return 1\n")
    for i in range(30):  # thirty modules use open_connection; nobody calls the helper
        sub = root / "features" / f"area{i % 6}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"feature_{i}.py").write_text(
            "from core.db import open_connection\n\n\n"
            f"def feature_{i}_handler(request):\n    return open_connection(request.url_{i})\n")
    (root / "README.md").write_text("# Demo\n\nA demo.\n")
    prism = Prism(root, settings=Settings(home=tmp_path_factory.mktemp("home"), embedder="hashing"))
    prism.index(embed=False)
    return prism


def test_the_most_used_function_ranks_first(project: Prism) -> None:
    result = project.map(budget_tokens=100_000)
    ranked = sorted((s for f in result.files for s in f.symbols), key=lambda s: -s.rank)
    assert ranked[0].name == "open_connection"
    db = next(f for f in result.files if f.path == "core/db.py")
    assert [s.name for s in db.symbols] == ["open_connection", "rarely_used_helper"]  # line order
    assert "L1 def open_connection(url)" in result.text and result.total_files == 32


@pytest.mark.parametrize("budget", [1, 10, 40, 80, 150, 300, 600, 1200, 5000])
def test_the_map_never_exceeds_its_budget_and_degrades_in_order(project: Prism, budget: int) -> None:
    result = project.map(budget_tokens=budget)
    assert result.tokens == TOK.count(result.text) <= budget
    symbols = [s for f in result.files for s in f.symbols]
    if symbols:  # symbols are dropped lowest rank first: the best one is the last to go
        assert "open_connection" in {s.name for s in symbols}
    if len(result.files) < result.total_files:  # files fold only after every symbol is gone
        assert not symbols and ("more file" in result.text or budget < 10)


def test_bigger_budgets_show_more(project: Prism) -> None:
    small, large = project.map(budget_tokens=150), project.map(budget_tokens=1200)
    assert small.tokens < large.tokens
    assert (len(small.files), sum(len(f.symbols) for f in small.files)) < (
        len(large.files), sum(len(f.symbols) for f in large.files))


def test_a_focus_path_or_query_lifts_its_files(project: Prism) -> None:
    def handler_ranks(result: object) -> dict[str, float]:
        return {s.name: s.rank for f in result.files for s in f.symbols}  # type: ignore[attr-defined]

    plain = handler_ranks(project.map(budget_tokens=100_000))
    by_path = handler_ranks(project.map(budget_tokens=100_000, paths=["features/area3/"]))
    assert by_path["feature_3_handler"] > plain["feature_3_handler"]
    assert by_path["feature_4_handler"] < plain["feature_4_handler"]
    by_query = handler_ranks(project.map(budget_tokens=100_000, query="feature_7_handler"))
    assert by_query["feature_7_handler"] > plain["feature_7_handler"]


def test_a_bad_budget_is_an_input_error(project: Prism) -> None:
    with pytest.raises(InputError, match="budget"):
        project.map(budget_tokens=0)


def test_cli_map_text_and_json(project: Prism, prism_home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["map", "--project", str(project.root), "--index-dir", str(project.index_dir),
                                 "--budget", "300", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tokens"] <= 300 and data["tokens"] == TOK.count(data["text"])
    text = runner.invoke(app, ["map", "core", "--project", str(project.root), "--index-dir",
                               str(project.index_dir), "--budget", "120"])
    assert text.exit_code == 0 and TOK.count(text.stdout) <= 120 and "db.py" in text.stdout
