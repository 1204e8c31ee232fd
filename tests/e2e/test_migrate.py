"""`prism migrate`: an embedded index copied to PostgreSQL and back, vectors included, answers the
same searches (feedback marks, which rank, go too, with the usage log); nothing is re-embedded,
and the errors say what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from json_shapes import check, documented
from prism.config import Settings
from prism.engine import Prism
from prism.serve.cli import app

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "repos" / "shop"
QUERIES = ("apply a discount to the cart total", "charge the card", "send the receipt email")
runner = CliRunner()


def cli(*args: str, code: int = 0) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == code, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def snapshot(root: Path) -> dict[str, object]:
    """What must survive the trip: counts, rankings, and every vector bit for bit."""
    with Prism(root, settings=Settings()) as prism:
        store = prism.store
        model = store.get_meta("embed_model")
        assert model is not None and store.count_pending_embeddings(model) == 0
        vectors = {h: v.tobytes() for batch in store.export_embeddings(model) for h, v in batch}
        stats = {k: store.stats()[k] for k in ("files", "chunks", "tokens", "languages")}
        hits = {q: [(h.chunk.chunk.path, h.chunk.chunk.start_line, round(h.score, 9)) for h in prism.search(q).hits]
                for q in QUERIES}
        symbol = [(sc.chunk.path, sc.chunk.name) for sc in prism.find_symbol("Cart").definitions]
        return {"stats": stats, "hits": hits, "vectors": vectors, "model": model, "symbol": symbol,
                "history": store.export_history(), "summary": store.usage_summary(),
                "meta": {k: store.get_meta(k) for k in ("chunker_version", "embed_dim", "root")}}


def assert_same(after: dict[str, object], before: dict[str, object]) -> None:
    """Equal snapshots, scores to 1e-6: pgvector and numpy sum float32 cosines in different orders
    (about 1e-7 apart), and questions fuse by cosine score, not only by rank."""
    hits_after, hits_before = after.pop("hits"), before["hits"]
    assert after == {k: v for k, v in before.items() if k != "hits"}
    assert isinstance(hits_after, dict) and isinstance(hits_before, dict)
    assert hits_after.keys() == hits_before.keys()
    for query, got in hits_after.items():
        want = hits_before[query]
        assert [hit[:2] for hit in got] == [hit[:2] for hit in want], query
        assert [hit[2] for hit in got] == pytest.approx([hit[2] for hit in want], abs=1e-6), query


def test_an_index_goes_to_postgresql_and_back(tmp_path: Path, postgres_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root)
    cli("index", "--project", str(root))
    with Prism(root, settings=Settings()) as prism:
        unmarked = [(h.chunk.chunk.path, h.chunk.chunk.start_line, round(h.score, 9))
                    for h in prism.search(QUERIES[1]).hits]
        prism.mark_helpful(unmarked[-1][0], helpful=True, query=QUERIES[1])
        prism.mark_helpful(unmarked[0][0], helpful=False, query=QUERIES[1])
        prism.context(QUERIES[0], budget_tokens=2000)  # one row of the usage log
    before = snapshot(root)
    assert before["stats"]["chunks"] > 10 and before["vectors"]  # type: ignore[index]
    assert before["hits"][QUERIES[1]] != unmarked  # type: ignore[index]  # the marks move scores
    assert len(before["history"].feedback) == 2  # type: ignore[attr-defined]
    assert len(before["history"].usage) == 1  # type: ignore[attr-defined]

    moved = cli("migrate", "--to", postgres_url, "--project", str(root))
    check(moved, documented()["migrate"])  # the shape docs/cli.md gives
    assert (moved["files"], moved["chunks"], moved["vectors"], moved["usage_events"], moved["feedback_marks"]) == (
        before["stats"]["files"], before["stats"]["chunks"], len(before["vectors"]), 1, 2)  # type: ignore[index, arg-type]
    assert "@" not in str(moved["to"])  # no credentials in the output

    monkeypatch.setenv("PRISM_DATABASE_URL", postgres_url)
    assert_same(snapshot(root), before)
    again = cli("migrate", "--to", postgres_url, "--project", str(root), code=2)
    assert "already holds an index" in str(again["error"])

    monkeypatch.delenv("PRISM_DATABASE_URL")
    cli("forget", "--project", str(root))  # the embedded copy is gone; only PostgreSQL holds it
    assert cli("migrate", "--to", "sqlite", "--from", postgres_url, "--project", str(root))["chunks"] == moved["chunks"]
    assert_same(snapshot(root), before)


def test_bad_destinations_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root)
    missing = cli("migrate", "--to", "postgresql://prism@127.0.0.1:1/prism", "--project", str(root), code=1)
    assert "No embedded index" in str(missing["error"])
    cli("index", "--project", str(root))
    wrong = cli("migrate", "--to", "mysql://prism:s3cret@db/prism", "--project", str(root), code=1)
    assert "postgresql://" in str(wrong["error"]) and "s3cret" not in str(wrong)
    no_source = cli("migrate", "--to", "sqlite", "--project", str(root), code=1)
    assert "PRISM_DATABASE_URL" in str(no_source["error"])
