"""PostgresStore's HNSW parameters: the plan by estimated selectivity, and the rebuild of an index
built with other graph parameters (on a real PostgreSQL + pgvector)."""

from __future__ import annotations

import hashlib
import uuid

import numpy as np
import pytest

from prism.errors import ConfigError
from prism.index.pg_hnsw import EF_SEARCH_MAX, HnswConfig, choose
from prism.index.store import FileRecord, IndexedFile
from prism.models import Chunk, SearchFilters


def test_few_passing_rows_are_searched_exactly() -> None:
    config = HnswConfig(exact_rows=20_000)
    assert choose(5_000, 500_000, 10, config) == ("exact", 0)
    assert choose(100_000, 0, 10, config) == ("exact", 0)  # no index rows counted yet


def test_candidates_grow_as_the_filter_narrows() -> None:
    config = HnswConfig(exact_rows=0, overfetch=2.0)
    assert choose(500_000, 500_000, 10, config) == ("index", 20)
    assert choose(100_000, 500_000, 10, config) == ("index", 100)  # 20 %: 2 × 10 / 0.2
    assert choose(25_000, 500_000, 10, config) == ("index", 400)  # 5 %


def test_a_filter_narrower_than_the_index_can_serve_is_exact() -> None:
    config = HnswConfig(exact_rows=0, overfetch=2.0)
    plan, candidates = choose(5_000, 1_000_000, 10, config)  # 0.5 %: 4,000 candidates > pgvector's most
    assert EF_SEARCH_MAX < 2.0 * 10 / 0.005
    assert (plan, candidates) == ("exact", 0)


def test_ef_construction_below_twice_m_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        HnswConfig(m=32, ef_construction=48)


def files(n: int) -> list[IndexedFile]:
    out = []
    for i in range(n):
        path = f"{'web' if i % 4 == 0 else 'src'}/m{i}.py"
        c = Chunk(path=path, language="python", kind="function", name=f"f{i}", qualified_name=f"f{i}",
                  signature="", docstring="", start_line=1, end_line=2, content=f"def f{i}(): pass\n",
                  content_hash=hashlib.sha256(path.encode()).hexdigest(), tokens=4)
        out.append(IndexedFile(FileRecord(path, c.content_hash, 10, 1.0, "python"), (c,), (f"t{i}",)))
    return out


def test_an_index_built_with_other_parameters_is_rebuilt(postgres_url: str) -> None:
    from prism.index.pg_hnsw import built_options, rebuild_stale
    from prism.index.postgres import PostgresStore

    dim = 24  # a dimension of its own: no other test's index is rebuilt
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((200, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    project = f"hnsw-{uuid.uuid4().hex}"
    old = PostgresStore.connect(postgres_url, project, max_size=2, hnsw=HnswConfig(m=8, ef_construction=32))
    old.write_files(files(200))
    old.put_embeddings("m", [(f"t{i}", v) for i, v in enumerate(vectors)])
    before = old.nearest("m", vectors[:1], 5)
    old.close()
    new = PostgresStore.connect(postgres_url, project, max_size=2, hnsw=HnswConfig(m=12, ef_construction=40))
    try:
        with new.pool.connection() as conn:
            assert built_options(conn)[dim] == {"m": 8, "ef_construction": 32}
        new.maintain_vectors("m", wait=True)
        with new.pool.connection() as conn:
            assert built_options(conn)[dim] == {"m": 12, "ef_construction": 40}
            assert rebuild_stale(conn, new.hnsw, {dim}) == []  # up to date: nothing to do
        after = new.nearest("m", vectors[:1], 5)
        assert [c for c, _ in after] == [c for c, _ in before]
        assert [s for _, s in after] == pytest.approx([s for _, s in before], abs=1e-5)
        web = new.nearest("m", vectors[:1], 10, SearchFilters(path="web"))
        assert len(web) == 10  # a quarter of the rows pass: `limit` of them, whichever plan ran
    finally:
        new.forget()
