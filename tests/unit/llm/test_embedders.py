"""Remote embedders: batched, bounded concurrency, normalised, one model per index, chosen by EMBEDDING_MODEL."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from llm_server import FakeProviders, settings_for

from prism.config import Settings
from prism.engine import Prism
from prism.errors import ConfigError
from prism.index.embed import HashingEmbedder, load_embedder
from prism.llm.embedders import RemoteEmbedder, load_remote_embedder
from prism.llm.errors import ProviderResponseError
from prism.llm.providers import make_provider
from prism.llm.settings import LLMSettings

SHOP = Path(__file__).resolve().parents[2] / "fixtures" / "repos" / "shop"


def test_batches_and_bounded_concurrency(fake: FakeProviders) -> None:
    fake.embed_delay_s = 0.2
    embedder = load_remote_embedder("openai:fake", settings_for(fake, embed_request_batch=3, embed_concurrency=2))
    texts = [f"text number {i}" for i in range(12)]
    vectors = embedder.embed_documents(texts)
    sizes = sorted(len(r["body"]["input"]) for r in fake.requests)
    assert sizes == [3, 3, 3, 3]
    assert fake.max_in_flight == 2  # concurrent, and never more than asked
    np.testing.assert_allclose(vectors, HashingEmbedder().embed_documents(texts), atol=1e-6)


def test_vectors_are_normalised_and_in_order(fake: FakeProviders, llm_settings: LLMSettings) -> None:
    embedder = load_remote_embedder("ollama:nomic-embed-text", llm_settings)
    vectors = embedder.embed_documents(["b", "a", "c"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(vectors, HashingEmbedder().embed_documents(["b", "a", "c"]), atol=1e-6)
    assert embedder.model_id == "ollama:nomic-embed-text@1" and embedder.dim == 256


def test_a_change_of_dimension_is_an_error(fake: FakeProviders, llm_settings: LLMSettings) -> None:
    provider = make_provider("openai", llm_settings)
    embedder = RemoteEmbedder(provider, "fake", dim=384)  # type: ignore[arg-type]
    with pytest.raises(ProviderResponseError, match="256-dimensional vectors, not 384"):
        embedder.embed_documents(["x"])


def test_anthropic_has_no_embeddings(llm_settings: LLMSettings) -> None:
    with pytest.raises(ConfigError, match="no embeddings"):
        load_remote_embedder("anthropic:claude-haiku-4-5", llm_settings)


def test_embedding_model_setting_picks_the_embedder(fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRISM_EMBEDDER")
    monkeypatch.setenv("EMBEDDING_MODEL", "openai:text-embedding-3-small")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
    assert Settings().embedder == "openai:text-embedding-3-small"
    load_embedder.cache_clear()
    try:
        embedder = load_embedder(Settings().embedder)
        assert embedder.model_id == "openai:text-embedding-3-small@1"
        assert embedder.embed_query("sort a list").shape == (256,)
    finally:
        load_embedder.cache_clear()
    monkeypatch.setenv("PRISM_EMBEDDER", "hashing")  # PRISM_EMBEDDER wins over EMBEDDING_MODEL
    assert Settings().embedder == "hashing"
    monkeypatch.setenv("PRISM_EMBEDDER", "auto")
    assert load_embedder("auto").model_id.startswith("minilm")


def _vector_models(prism: Prism) -> set[str]:
    with sqlite3.connect(prism.index_dir / "index.db") as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT model FROM embeddings")}


def _chunks(prism: Prism) -> list[tuple[str, int, int]]:
    with sqlite3.connect(prism.index_dir / "index.db") as conn:
        return sorted(conn.execute("SELECT f.path, c.start_line, c.end_line FROM chunks c "
                                   "JOIN files f ON f.id = c.file_id"))


def test_remote_index_equals_the_bundled_one_and_never_mixes_models(
        fake: FakeProviders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root)
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    load_embedder.cache_clear()
    try:
        with Prism(root, settings=Settings(embedder="hashing"), index_dir=tmp_path / "local") as local:
            local.index()
            local_chunks = _chunks(local)
        with Prism(root, settings=Settings(embedder="ollama:fake-embed"), index_dir=tmp_path / "remote") as remote:
            remote.index()
            assert _chunks(remote) == local_chunks  # same chunks, only the vectors' source differs
            assert remote.store.get_meta("embed_model") == "ollama:fake-embed@1"
            assert remote.store.get_meta("embed_dim") == "256"
            assert _vector_models(remote) == {"ollama:fake-embed@1"}
            hits = remote.search("apply a discount code to the cart", limit=3).hits
            assert hits and not remote.search("cart total", limit=1).warnings
        with Prism(root, settings=Settings(embedder="hashing"), index_dir=tmp_path / "remote") as switched:
            switched.index()
            assert _vector_models(switched) == {"hashing-256@1"}  # the other model's vectors are gone
            assert switched.store.get_meta("embed_model") == "hashing-256@1"
    finally:
        load_embedder.cache_clear()


def test_embedding_is_thread_safe(fake: FakeProviders, llm_settings: LLMSettings) -> None:
    embedder = load_remote_embedder("workers-ai:@cf/baai/bge-base-en-v1.5", llm_settings)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            embedder.embed_documents([f"t {i}" for i in range(40)])
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
