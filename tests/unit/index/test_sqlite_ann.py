"""The embedded store's approximate vector index: agrees with exact search, sees every write at
once through its delta, survives reopening, and never trusts a file that does not match."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from prism.index.ann import AnnConfig, info_path, read_info
from prism.index.sqlite import SqliteStore
from prism.index.sqlite_vectors import best_similarities
from prism.index.store import FileRecord, IndexedFile
from prism.models import Chunk, SearchFilters

MODEL = "ann-model"
DIM = 32
PER_FILE = 50


def chunk(path: str, i: int, salt: str = "") -> Chunk:
    content = f"def f_{i}():\n    return {i!r}{salt}\n"
    return Chunk(path=path, language="python" if path.endswith(".py") else "javascript", kind="function",
                 name=f"f_{i}", qualified_name=f"f_{i}", signature=f"def f_{i}():", docstring="",
                 start_line=1 + 3 * i, end_line=2 + 3 * i, content=content,
                 content_hash=hashlib.sha256(f"{path}:{content}".encode()).hexdigest(), tokens=4)


def indexed(path: str, count: int, salt: str = "") -> IndexedFile:
    chunks = tuple(chunk(path, i, salt) for i in range(count))
    text = "".join(c.content for c in chunks)
    record = FileRecord(path, hashlib.sha256(text.encode()).hexdigest(), len(text), 1_000.0, "python")
    return IndexedFile(record, chunks, tuple(f"text-{c.content_hash}" for c in chunks))


def clustered(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit vectors around a few dozen centres, like embeddings of code (not uniform noise)."""
    centres = rng.normal(size=(24, DIM))
    vectors = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def embed_pending(store: SqliteStore, rng: np.random.Generator) -> None:
    pending = store.pending_embeddings(MODEL, 1_000_000)
    vectors = clustered(rng, len(pending))
    store.put_embeddings(MODEL, [(h, vectors[i]) for i, (h, _) in enumerate(pending)])


def near_data(store: SqliteStore, rng: np.random.Generator, n: int) -> np.ndarray:
    """Queries like real ones: near some stored vectors, not at them."""
    _, matrix = store.vector_matrix(MODEL, DIM)
    picked = matrix[rng.integers(0, len(matrix), n)] + 0.15 * rng.normal(size=(n, DIM))
    return (picked / np.linalg.norm(picked, axis=1, keepdims=True)).astype(np.float32)


def exact(store: SqliteStore, queries: np.ndarray, limit: int, allowed: set[int] | None = None) -> list[int]:
    ids, matrix = store.vector_matrix(MODEL, DIM)
    return [cid for cid, _ in best_similarities(ids, matrix, queries, limit, allowed)]


def make_store(path: Path, files: int, rng: np.random.Generator, **config: object) -> SqliteStore:
    store = SqliteStore(path, AnnConfig(**{"threshold": 500, **config}))  # type: ignore[arg-type]
    store.write_files([indexed(f"src/m{i}.py", PER_FILE) for i in range(files)])
    embed_pending(store, rng)
    store.maintain_vectors(MODEL, wait=True)
    return store


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def store(tmp_path: Path, rng: np.random.Generator) -> Iterator[SqliteStore]:
    made = make_store(tmp_path / "index.db", 40, rng)  # 2,000 vectors, above the lowered threshold
    yield made
    made.close()


def recall(found: list[int], truth: list[int]) -> float:
    return len(set(found) & set(truth)) / len(truth)


def test_agrees_with_exact_search(store: SqliteStore, rng: np.random.Generator) -> None:
    assert store.ann.main(MODEL, DIM) is not None  # the approximate path is the one under test
    queries = near_data(store, rng, 30)
    recalls = []
    for q in queries:
        found = store.nearest(MODEL, q[None, :], 10)
        truth = exact(store, q[None, :], 10)
        recalls.append(recall([cid for cid, _ in found], truth))
    assert np.mean(recalls) >= 0.95
    windows = queries[:3]  # a long query: best over its windows
    found = store.nearest(MODEL, windows, 10)
    assert recall([cid for cid, _ in found], exact(store, windows, 10)) >= 0.9
    ids, matrix = store.vector_matrix(MODEL, DIM)
    by_id = dict(zip(ids.tolist(), matrix, strict=True))
    for cid, score in found:  # cosines from the main's f16 copies: within 1e-3 of the float32 ones
        assert score == pytest.approx(float((windows @ by_id[cid]).max()), abs=1e-3)


@pytest.mark.parametrize("dtype", ["f16", "i8"])
def test_scoring_from_the_main_keeps_the_order_of_exact_scoring(tmp_path: Path, rng: np.random.Generator,
                                                                 dtype: str) -> None:
    """The same candidates scored from the main's copies (f16) or from SQLite's float32 vectors
    (i8 always, or when told): the same hits in the same order, but where two scores are within 1e-3."""
    fast = make_store(tmp_path / "index.db", 40, rng, dtype=dtype)
    slow = SqliteStore(tmp_path / "index.db", AnnConfig(threshold=500, score_from_main=False))
    for q in near_data(fast, rng, 20):
        got, want = fast.nearest(MODEL, q[None, :], 20), slow.nearest(MODEL, q[None, :], 20)
        exact_score = dict(want)
        assert len(got) == len(want)
        for (cid, score), (want_cid, want_score) in zip(got, want, strict=True):
            assert score == pytest.approx(want_score, abs=1e-3 if dtype == "f16" else 1e-9)
            assert cid == want_cid or abs(exact_score.get(cid, -1.0) - want_score) <= 1e-3
    fast.close()
    slow.close()


def test_writes_are_visible_at_once(store: SqliteStore, rng: np.random.Generator) -> None:
    build = store.get_meta("ann_build")
    store.write_files([indexed("src/new.py", 3)])
    added = {sc.chunk.name: sc.id for sc in store.chunks_in_file("src/new.py")}
    target = clustered(rng, 1)[0]
    pending = store.pending_embeddings(MODEL, 10)
    store.put_embeddings(MODEL, [(h, target if cid == added["f_1"] else clustered(rng, 1)[0])
                                 for h, cid in pending])
    assert store.nearest(MODEL, target[None, :], 1)[0][0] == added["f_1"]
    assert store.get_meta("ann_build") == build  # found through the delta, not a rebuild

    gone_ids = {sc.id for sc in store.chunks_in_file("src/m3.py")}
    ids, matrix = store.vector_matrix(MODEL, DIM)
    gone_vector = matrix[np.searchsorted(ids, min(gone_ids))]
    store.delete_files(["src/m3.py"])
    found = store.nearest(MODEL, gone_vector[None, :], 50)
    assert not gone_ids & {cid for cid, _ in found}
    assert len(found) == 50

    # A changed file: the last chunks' ids come back for other text with other vectors.
    last = store.chunks_in_file("src/new.py")
    store.write_files([indexed("src/new.py", 3, salt="# changed")])
    pending = store.pending_embeddings(MODEL, 10)
    fresh = dict(zip([cid for _, cid in pending], clustered(rng, len(pending)), strict=True))
    store.put_embeddings(MODEL, [(h, fresh[cid]) for h, cid in pending])
    assert len(fresh) == 3
    for cid, vector in fresh.items():
        hit, score = store.nearest(MODEL, vector[None, :], 1)[0]
        assert hit == cid and score == pytest.approx(1.0, abs=1e-5)  # the delta is scored exactly
    old = store.nearest(MODEL, target[None, :], 5)
    assert all(score < 0.999 for _, score in old)  # the old vector of f_1 is gone with its text
    assert {sc.id for sc in last} & {sc.id for sc in store.chunks_in_file("src/new.py")}  # ids were reused


def test_rebuilds_when_the_delta_outgrows_the_main(store: SqliteStore, rng: np.random.Generator) -> None:
    build = store.get_meta("ann_build")
    store.write_files([indexed(f"src/more{i}.py", PER_FILE) for i in range(3)])  # 150 new: 7.5 %
    embed_pending(store, rng)
    store.maintain_vectors(MODEL, wait=True)
    assert store.get_meta("ann_build") != build
    info = read_info(store.path, MODEL)
    assert info is not None and info.count == 2_150
    files = sorted(p.name for p in store.path.parent.glob("ann-*.usearch"))
    assert files == [info.file]  # the old main's file is gone
    for path in (store.path.with_name(info.file), info_path(store.path, MODEL)):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0  # private, like the index
    # 30 queries, as above: usearch's threaded build is not deterministic, so few queries make a noisy figure.
    queries = near_data(store, rng, 30)
    recalls = [recall([cid for cid, _ in store.nearest(MODEL, q[None, :], 10)], exact(store, q[None, :], 10))
               for q in queries]
    assert np.mean(recalls) >= 0.95


def test_a_small_delta_does_not_rebuild(store: SqliteStore, rng: np.random.Generator) -> None:
    build = store.get_meta("ann_build")
    store.write_files([indexed("src/one.py", 20)])
    embed_pending(store, rng)
    store.maintain_vectors(MODEL, wait=True)
    assert store.get_meta("ann_build") == build


def test_reopened_store_uses_the_saved_main(store: SqliteStore, rng: np.random.Generator) -> None:
    query = clustered(rng, 1)
    before = store.nearest(MODEL, query, 10)
    store.close()
    again = SqliteStore(store.path, AnnConfig(threshold=500))
    try:
        assert again.ann.main(MODEL, DIM) is not None
        assert again.nearest(MODEL, query, 10) == before
    finally:
        again.close()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other_build", "other_model"])
def test_a_damaged_or_stale_main_is_rebuilt_not_trusted(store: SqliteStore, rng: np.random.Generator,
                                                        damage: str) -> None:
    info = read_info(store.path, MODEL)
    assert info is not None
    main_file = store.path.with_name(info.file)
    meta = info_path(store.path, MODEL)
    if damage == "truncate":
        with main_file.open("r+b") as handle:
            handle.truncate(info.size // 2)
    elif damage == "garbage":
        main_file.write_bytes(b"\0" * info.size)
    elif damage == "other_build":  # e.g. the description of a main built for another copy of the index
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "build": "0" * 16}))
    else:
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "model": "other"}))
    query = clustered(rng, 1)
    reopened = SqliteStore(store.path, AnnConfig(threshold=500))
    try:
        assert reopened.ann.main(MODEL, DIM) is None
        assert [cid for cid, _ in reopened.nearest(MODEL, query, 10)] == exact(reopened, query, 10)
        reopened.maintain_vectors(MODEL, wait=True)
        rebuilt = read_info(store.path, MODEL)
        assert rebuilt is not None and rebuilt.build != info.build and rebuilt.count == info.count
        fresh = SqliteStore(store.path, AnnConfig(threshold=500))
        try:
            assert fresh.ann.main(MODEL, DIM) is not None
        finally:
            fresh.close()
    finally:
        reopened.close()


@pytest.mark.parametrize("exact_filtered", [0, 20_000])  # through the main / exact over the filtered ids
def test_filters_are_honoured(tmp_path: Path, rng: np.random.Generator, exact_filtered: int) -> None:
    store = make_store(tmp_path / "index.db", 40, rng, exact_filtered=exact_filtered)
    try:
        store.write_files([indexed("web/app.js", 30)])
        embed_pending(store, rng)
        store.maintain_vectors(MODEL, wait=True)
        assert store.ann.main(MODEL, DIM) is not None
        allowed = {sc.id for sc in store.chunks_in_file("web/app.js")}
        query = clustered(rng, 1)
        found = store.nearest(MODEL, query, 20, SearchFilters(path="web"))
        assert {cid for cid, _ in found} <= allowed and len(found) == 20
        assert [cid for cid, _ in found] == exact(store, query, 20, allowed)
        some = store.nearest(MODEL, query, 20, SearchFilters(path="src/m1.py"))
        assert len(some) == 20 and {sc.id for sc in store.chunks_in_file("src/m1.py")} >= {c for c, _ in some}
    finally:
        store.close()


def test_below_the_threshold_search_stays_exact(tmp_path: Path, rng: np.random.Generator) -> None:
    store = make_store(tmp_path / "index.db", 8, rng)  # 400 vectors: under the threshold of 500
    try:
        assert store.get_meta("ann_build") is None and not list(tmp_path.glob("ann-*"))
        queries = clustered(rng, 3)
        ids, matrix = store.vector_matrix(MODEL, DIM)
        assert store.nearest(MODEL, queries, 25) == best_similarities(ids, matrix, queries, 25)
    finally:
        store.close()


def test_shrinking_below_the_threshold_retires_the_main(store: SqliteStore) -> None:
    store.delete_files([f"src/m{i}.py" for i in range(35)])  # 250 vectors left
    store.maintain_vectors(MODEL, wait=True)
    assert store.get_meta("ann_build") is None and store.get_meta("ann_log") is None
    assert not [p for p in store.path.parent.glob("ann-*") if p.suffix in (".usearch", ".json")]
    assert store.ann.main(MODEL, DIM) is None


def test_forget_deletes_the_main(store: SqliteStore) -> None:
    folder = store.path.parent
    assert list(folder.glob("ann-*.usearch"))
    store.forget()
    assert not list(folder.glob("ann-*"))


def test_an_index_run_builds_the_main_after_it_returns(tmp_path: Path) -> None:
    from prism.config import Settings
    from prism.engine import Prism

    repo = tmp_path / "repo"
    repo.mkdir()
    for i in range(12):
        (repo / f"m{i}.py").write_text(f"def handler_{i}(request):\n    return request.body + {i}\n")
    settings = Settings(home=tmp_path / "home", embedder="hashing", ann_threshold=10)
    with Prism(repo, settings=settings) as prism:
        prism.index()  # returns with the build still running, or done: searches work either way
        assert prism.search("handler request body", limit=3)
        index, model = prism.index_dir / "index.db", prism.store.get_meta("embed_model")
    assert model is not None
    info = read_info(index, model)  # closing waited for the build
    assert info is not None and info.count >= 12
    (repo / "m0.py").write_text("def renamed(request):\n    return 0\n")
    with Prism(repo, settings=settings) as prism:
        prism.index()  # one changed file: found through the delta
        found = prism.search("renamed", limit=3)
        assert found and "m0.py" in {hit.chunk.chunk.path for hit in found}
