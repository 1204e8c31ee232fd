"""Search quality regression: hand-written queries over a small fixture repository must keep
finding the code they are about (guards ranking against breakage; not a benchmark).

Runs with the hashing embedder (no model), so it checks lexical + exact + feature ranking and
the fusion plumbing, in a second or two.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism.config import Settings
from prism.engine import Prism
from prism.models import SearchFilters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "repos" / "shop"

# (query, expected path, expected symbol or None, must be within top k)
CASES = [
    ("where are access tokens refreshed", "shop/auth.py", "Session.refresh_token", 3),
    ("how is the order total computed with tax and coupon", "shop/cart.py", "Cart.total", 3),
    ("validate credit card number checksum", "shop/payments/card.py", "luhn_valid", 3),
    ("apply_discount ignores lowercase coupons", "shop/pricing.py", "apply_discount", 1),
    ("password reset email body", "shop/emails.py", "render_password_reset", 3),
    ("hash_password", "shop/auth.py", "hash_password", 1),
    ("Cart.add_item", "shop/cart.py", "Cart.add_item", 1),
    (
        "Checkout crashes when the card is declined.\n\nTraceback (most recent call last):\n"
        '  File "app/main.py", line 12, in checkout\n'
        '  File "/venv/lib/python3.11/site-packages/shop/payments/card.py", line 33, in charge\n'
        "    raise PaymentDeclined(\"invalid card number\")\n"
        "shop.payments.card.PaymentDeclined: invalid card number\n"
        "I expected a clear message instead of a crash. " + "More details follow. " * 30,
        "shop/payments/card.py", "CardGateway.charge", 1,
    ),
]


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Prism:
    base = tmp_path_factory.mktemp("quality")
    root = base / "shop"
    shutil.copytree(FIXTURE, root)
    engine = Prism(root, settings=Settings(home=base / "home", embedder="hashing"))
    engine.index()
    return engine


@pytest.mark.parametrize(("query", "path", "symbol", "k"), CASES, ids=[c[0][:30] for c in CASES])
def test_query_finds_its_code(prism: Prism, query: str, path: str, symbol: str | None, k: int) -> None:
    chunks = prism.search(query, limit=10)
    found = [(h.chunk.chunk.path, h.chunk.chunk.qualified_name) for h in chunks.hits]
    assert (path, symbol) in found[:k], found
    files = prism.search(query, limit=5, files=True)
    paths = [h.chunk.chunk.path for h in files.hits]
    assert path in paths[:k], paths
    assert len(paths) == len(set(paths))


def test_scores_explain_and_filters(prism: Prism) -> None:
    response = prism.search("coupon discount", limit=5)
    hits = response.hits
    assert hits[0].score == pytest.approx(1.0)
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    assert "lexical" in hits[0].explain
    only_cart = prism.search("coupon discount", filters=SearchFilters(path="shop/cart.py"))
    assert {h.chunk.chunk.path for h in only_cart.hits} == {"shop/cart.py"}
    funcs = prism.search("coupon discount", filters=SearchFilters(kinds=("function",)))
    assert funcs.hits and all(h.chunk.chunk.kind == "function" for h in funcs.hits)
    globbed = prism.search("card", filters=SearchFilters(path="shop/payments/*.py"))
    assert globbed.hits and all(h.chunk.chunk.path.startswith("shop/payments/") for h in globbed.hits)
    high = prism.search("coupon discount", filters=SearchFilters(min_score=0.99))
    assert all(h.score >= 0.99 for h in high.hits)


def test_feedback_lifts_a_result(prism: Prism) -> None:
    before = prism.search("sales tax amount", limit=10)
    order = [(h.chunk.chunk.path, h.chunk.chunk.qualified_name) for h in before.hits]
    target = order[1]
    for _ in range(3):
        prism.mark_helpful(target[0], target[1], query="sales tax amount")
    after = prism.search("sales tax amount", limit=10)
    assert (after.hits[0].chunk.chunk.path, after.hits[0].chunk.chunk.qualified_name) == target
    assert "feedback" in after.hits[0].explain


def test_stale_flag_and_lexical_fallback_warning(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURE, root)
    engine = Prism(root, settings=Settings(home=tmp_path / "home", embedder="hashing"))
    engine.index(embed=False)
    response = engine.search("refresh token", limit=3)
    assert response.warnings and "lexical only" in response.warnings[0]
    assert not response.hits[0].stale
    (root / "shop" / "auth.py").write_text("# rewritten\n", encoding="utf-8")
    again = engine.search("refresh token", limit=3)
    assert again.hits[0].stale


def test_cli_search_json_contract(prism: Prism, monkeypatch: pytest.MonkeyPatch) -> None:
    from prism.serve.cli import app

    monkeypatch.setenv("PRISM_HOME", str(prism.settings.home))
    runner = CliRunner()
    result = runner.invoke(app, ["search", "-", "--json", "--explain", "--project", str(prism.root)],
                           input="where are access tokens refreshed")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["query"] == "where are access tokens refreshed"
    first = data["results"][0]
    assert set(first) >= {"path", "start_line", "end_line", "symbol", "kind", "score", "stale",
                          "snippet", "language", "explain"}
    files = runner.invoke(app, ["search", "card", "--files", "--json", "--project", str(prism.root)])
    paths = [r["path"] for r in json.loads(files.stdout)["results"]]
    assert len(paths) == len(set(paths))
    bad = runner.invoke(app, ["search", "x", "--limit", "0", "--project", str(prism.root)])
    assert bad.exit_code == 2
    bad_kind = runner.invoke(app, ["search", "x", "--kind", "lambda", "--project", str(prism.root)])
    assert bad_kind.exit_code == 2 and "Unknown --kind" in bad_kind.output
