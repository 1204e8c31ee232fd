"""Prism is built from parts: an injected store, cache and embedding cache are used as given."""

from __future__ import annotations

from pathlib import Path

from prism.cache import INDEX_ID_META, MemoryCache, request_key, result_namespace
from prism.config import Settings
from prism.engine import Prism
from prism.index.embed_cache import EmbeddingCache
from prism.index.sqlite import SqliteStore


def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tokens.py").write_text("def refresh_token(session):\n    return session.token\n")
    (root / "billing.py").write_text("def charge(amount):\n    return amount\n")
    return root


def test_an_injected_store_holds_the_index_and_outlives_the_engine(tmp_path: Path) -> None:
    root = project(tmp_path)
    store = SqliteStore(tmp_path / "elsewhere" / "index.db")
    results = MemoryCache()
    shared = EmbeddingCache(tmp_path / "vectors.db")
    settings = Settings(home=tmp_path / "home", embedder="hashing")
    prism = Prism(root, settings=settings, store=store, cache=results, embedding_cache=shared)
    assert not prism.is_indexed
    prism.index()
    assert prism.is_indexed and not (prism.index_dir / "index.db").exists()
    hits = prism.search("refresh token").hits
    namespace = result_namespace(prism.project_id, str(store.get_meta(INDEX_ID_META)))
    assert hits[0].chunk.chunk.name == "refresh_token" and results.get(
        namespace, request_key("search", store.generation(), "refresh token", 10, False, None, None)) is not None
    assert shared.get(prism.embedder.model_id, [h for h, _ in store.pending_embeddings("x", 10)])
    prism.mark_helpful("tokens.py", "refresh_token")
    assert store.feedback_marks(["tokens.py"]) == {("tokens.py", "refresh_token"): 1}
    prism.close()
    assert store.count_chunks() == 2  # the owner closes what it injected
    assert prism.forget()
    assert not (tmp_path / "elsewhere" / "index.db").exists()
    shared.close()


def test_forget_then_reindex_never_serves_the_old_index_results(tmp_path: Path) -> None:
    """The result cache is keyed by the index generation, which a rebuilt index starts again."""
    root = project(tmp_path)
    for i in range(8):
        (root / f"other{i}.py").write_text(f"def other_{i}(value):\n    return value + {i}\n")
    settings = Settings(home=tmp_path / "home", embedder="hashing", shared_embedding_cache=False)
    with Prism(root, settings=settings) as prism:  # both builds write the same batches: same generation
        prism.index()
        first = prism.search("charge")
        assert not first.warnings and first.hits[0].chunk.chunk.name == "charge"
        assert prism.forget()
        (root / "billing.py").write_text("def charge_card(amount):\n    return amount\n")
        prism.index()
        assert prism.search("charge").hits[0].chunk.chunk.name == "charge_card"
