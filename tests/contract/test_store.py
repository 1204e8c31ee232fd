"""Contract suite for the Store Protocol: every backend (today the embedded SQLite store) passes it.

Each test runs through the `backend` fixture, parametrised over the implementations; a backend
is a way to open a store on one project's data, again and again (to see what survives a
close, a forget or a restore). Scores are compared between calls on one backend, never to
fixed numbers: BM25 and vector search differ in their units from engine to engine.
A new backend is one more entry in BACKENDS: a function from a scratch folder and the test's
request to a Backend. The PostgreSQL backend gives each test a project of its own in the shared
session server (`postgres_url`), so tests never see each other's rows.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from prism.index.ann import AnnConfig
from prism.index.sqlite import SqliteStore
from prism.index.store import UNHASHED, FileRecord, History, IndexedFile, Store
from prism.index.terms import lexical_terms
from prism.index.usage import UsageEvent
from prism.models import Chunk, ChunkKind, LevelTokens, SearchFilters

MODEL = "contract-model"
DIM = 8


@dataclass
class Backend:
    """Opens stores on one project's data; closes whatever it opened."""

    name: str
    opener: Callable[[], Store]
    opened: list[Store]

    def open(self) -> Store:
        store = self.opener()
        self.opened.append(store)
        return store


def sqlite_backend(folder: Path, request: pytest.FixtureRequest) -> Backend:
    return Backend("sqlite", lambda: SqliteStore(folder / "index" / "index.db"), [])


class EagerAnnStore(SqliteStore):
    """The embedded store with its approximate vector index from the first vector on (every
    search through the HNSW main and its delta), brought up to date after each batch of vectors."""

    def put_embeddings(self, model: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        super().put_embeddings(model, items)
        self.maintain_vectors(model, wait=True)


# The approximate backend scores what its main holds with the main's f16 copies, what changed
# since exactly: one vector's score moves by up to this much when it moves between the two.
ANN_SCORE_TOLERANCE = 1e-3


def score_tolerance(backend: Backend, exact: float) -> float:
    return ANN_SCORE_TOLERANCE if backend.name == "sqlite-ann" else exact


def sqlite_ann_backend(folder: Path, request: pytest.FixtureRequest) -> Backend:
    config = AnnConfig(threshold=1, rebuild_fraction=0.5, exact_filtered=0)
    return Backend("sqlite-ann", lambda: EagerAnnStore(folder / "index" / "index.db", config), [])


def postgres_backend(folder: Path, request: pytest.FixtureRequest) -> Backend:
    from prism.index.postgres import PostgresStore

    url = str(request.getfixturevalue("postgres_url"))  # asked only here: SQLite runs need no server
    project = f"contract-{uuid.uuid4().hex}"
    return Backend("postgres", lambda: PostgresStore.connect(url, project, max_size=2), [])


def postgres_index_backend(folder: Path, request: pytest.FixtureRequest) -> Backend:
    """PostgreSQL with every vector query through the HNSW index (small stores are otherwise searched
    exactly): post-filtering and the exact re-run when too few candidates pass."""
    from prism.index.pg_hnsw import HnswConfig
    from prism.index.postgres import PostgresStore

    url = str(request.getfixturevalue("postgres_url"))
    project = f"contract-{uuid.uuid4().hex}"
    config = HnswConfig(exact_rows=0)
    return Backend("postgres-index", lambda: PostgresStore.connect(url, project, max_size=2, hnsw=config), [])


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], Backend]] = {
    "sqlite": sqlite_backend, "sqlite-ann": sqlite_ann_backend, "postgres": postgres_backend,
    "postgres-index": postgres_index_backend}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made = BACKENDS[request.param](tmp_path, request)
    yield made
    for store in made.opened:
        store.close()  # closing twice (after forget) is allowed


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


# -- building records --------------------------------------------------------------------

def chunk(path: str, name: str, body: str, *, kind: ChunkKind = "function", language: str = "python",
          start: int = 1, calls: tuple[str, ...] = (), imports: tuple[str, ...] = (),
          doc: str = "", levels: LevelTokens | None = None) -> Chunk:
    content = f"def {name}():\n{body}\n"
    return Chunk(path=path, language=language, kind=kind, name=name, qualified_name=name,
                 signature=f"def {name}():", docstring=doc, start_line=start,
                 end_line=start + content.count("\n") - 1, content=content,
                 content_hash=hashlib.sha256(f"{path}:{content}".encode()).hexdigest(),
                 tokens=len(content.split()), calls=calls, imports=imports, level_tokens=levels)


def indexed(path: str, *chunks: Chunk, language: str | None = "python", mtime: float = 1_000.0) -> IndexedFile:
    text = "".join(c.content for c in chunks)
    record = FileRecord(path, hashlib.sha256(text.encode()).hexdigest(), len(text), mtime, language)
    return IndexedFile(record, tuple(chunks), tuple(f"text-{c.content_hash}" for c in chunks))


def sample() -> list[IndexedFile]:
    return [
        indexed("src/auth/tokens.py",
                chunk("src/auth/tokens.py", "refresh_token", "    session.renew(expiry)", calls=("renew",),
                      imports=("auth.session",), doc="Refresh an expired access token."),
                chunk("src/auth/tokens.py", "revoke_token", "    session.drop(token)", start=5, calls=("drop",))),
        indexed("src/auth/session.py",
                chunk("src/auth/session.py", "renew", "    self.expiry = now() + ttl", kind="method",
                      levels=LevelTokens("cl100k_base", (12, 11, 7, 4), '[null,[0],null]')),  # priced
                chunk("src/auth/session.py", "drop", "    del self.tokens[token]", start=7, kind="method")),
        indexed("web/app.js", chunk("web/app.js", "render_page", "    refresh(view)", language="javascript"),
                language="javascript"),
        indexed("docs/guide.md", chunk("docs/guide.md", "tokens", "How tokens are refreshed and revoked.",
                                       kind="section", language="markdown"), language="markdown"),
    ]


def ids_by_name(store: Store) -> dict[str, int]:
    return {sc.chunk.name: sc.id for sc in store.iter_chunks()}


def unit(values: list[float]) -> np.ndarray:
    vector = np.asarray(values + [0.0] * (DIM - len(values)), dtype=np.float32)
    return vector / np.linalg.norm(vector)


# -- writes and reads -----------------------------------------------------------------------

def test_written_files_read_back_in_order(store: Store) -> None:
    gen = store.generation()
    store.write_files(sample())
    assert store.generation() > gen
    assert sorted(store.file_states()) == ["docs/guide.md", "src/auth/session.py", "src/auth/tokens.py", "web/app.js"]
    state = store.file_state("src/auth/tokens.py")
    assert state is not None and state.mtime == 1_000.0 and state.size > 0
    assert store.file_state("nowhere.py") is None
    in_file = store.chunks_in_file("src/auth/session.py")
    assert [sc.chunk.name for sc in in_file] == ["renew", "drop"]
    assert in_file[0].chunk == sample()[1].chunks[0]  # every field survives the round trip
    assert in_file[0].chunk.level_tokens is not None and in_file[1].chunk.level_tokens is None  # unpriced
    assert in_file[0].chunk.level_tokens.texts == '[null,[0],null]'  # the texts priced, as stored
    names = ids_by_name(store)
    asked = [names["drop"], 999_999, names["refresh_token"]]
    assert [sc.chunk.name for sc in store.get_chunks(asked)] == ["drop", "refresh_token"]
    assert [sc.id for sc in store.iter_chunks(batch=2)] == sorted(names.values())
    stats = store.stats()
    assert stats["files"] == 4 and stats["chunks"] == 6 and store.count_chunks() == 6
    assert stats["languages"] == {"python": 2, "javascript": 1, "markdown": 1}


def test_heads_are_the_chunks_ranking_columns(store: Store) -> None:
    store.write_files(sample())
    names = ids_by_name(store)
    asked = [names["tokens"], 999_999, names["renew"], names["render_page"], names["refresh_token"]]
    heads = store.get_heads(asked)
    assert heads == [sc.head for sc in store.get_chunks(asked)]  # same values, same order
    assert [h.name for h in heads] == ["tokens", "renew", "render_page", "refresh_token"]
    renew = heads[1]
    assert (renew.path, renew.language, renew.kind, renew.qualified_name) == (
        "src/auth/session.py", "python", "method", "renew")
    assert (renew.start_line, renew.end_line, renew.tokens) == (1, 2, sample()[1].chunks[0].tokens)
    assert renew.indexed_at == store.file_states()["src/auth/session.py"].indexed_at
    assert store.get_heads([]) == [] and store.get_heads([999_999]) == []
    in_file = store.heads_in_file("src/auth/tokens.py")
    assert in_file == [sc.head for sc in store.chunks_in_file("src/auth/tokens.py")]
    assert [h.name for h in in_file] == ["refresh_token", "revoke_token"] and store.heads_in_file("no.py") == []


def test_handles_tokens_and_meta(store: Store) -> None:
    store.write_files(sample())
    target = store.chunks_in_file("web/app.js")[0]
    assert store.chunk_ids_by_hash_prefix(target.chunk.content_hash[:8]) == [target.id]
    assert store.chunk_ids_by_hash_prefix("abc") == []  # too short to mean one chunk
    tokens = store.file_tokens(["src/auth/tokens.py", "nowhere.py"])
    assert tokens == {"src/auth/tokens.py": sum(c.tokens for c in sample()[0].chunks)}
    store.set_meta({"embed_model": MODEL, "root": "/repo"})
    assert store.get_meta("embed_model") == MODEL and store.get_meta("missing") is None


def test_rewrite_touch_and_delete(store: Store) -> None:
    store.write_files(sample())
    store.write_files([indexed("src/auth/tokens.py", chunk("src/auth/tokens.py", "rotate_token", "    pass"))])
    assert [sc.chunk.name for sc in store.chunks_in_file("src/auth/tokens.py")] == ["rotate_token"]
    assert store.find_refs(["refresh_token"]) == []
    store.touch_files([("web/app.js", 77, 2_000.0)])
    state = store.file_state("web/app.js")
    assert state is not None and (state.size, state.mtime) == (77, 2_000.0)
    store.delete_files(["web/app.js"])
    assert store.file_state("web/app.js") is None and store.chunks_in_file("web/app.js") == []
    assert store.lexical([("render", 1)], 10) == []
    assert store.document_frequencies(["render"]) == {}


def test_a_failed_batch_leaves_nothing(store: Store) -> None:
    store.write_files(sample()[:1])
    gen = store.generation()
    good = sample()[1]
    broken = IndexedFile(sample()[2].record, sample()[2].chunks, ())  # a hash short: fails mid-batch
    replaced = indexed("src/auth/tokens.py", chunk("src/auth/tokens.py", "rotate_token", "    pass"))
    with pytest.raises(ValueError):
        store.write_files([replaced, good, broken])
    assert store.generation() == gen
    assert sorted(store.file_states()) == ["src/auth/tokens.py"]
    assert [sc.chunk.name for sc in store.chunks_in_file("src/auth/tokens.py")] == ["refresh_token", "revoke_token"]
    assert store.find_refs(["rotate_token", "renew"]) == [] and store.count_chunks() == 2


# -- code graph ----------------------------------------------------------------------------

def test_refs_by_name_and_by_chunk(store: Store) -> None:
    store.write_files(sample())
    names = ids_by_name(store)
    assert sorted(store.find_refs(["renew", "drop"], "defines")) == sorted(
        [(names["renew"], "renew"), (names["drop"], "drop")])
    assert store.find_refs(["renew"], "calls") == [(names["refresh_token"], "renew")]
    assert store.find_refs(["auth.session"], "imports") == [(names["refresh_token"], "auth.session")]
    calls = store.refs_of([names["refresh_token"], names["revoke_token"]], "calls")
    assert sorted(calls) == sorted([(names["refresh_token"], "renew"), (names["revoke_token"], "drop")])
    assert store.refs_of([], "calls") == [] and store.find_refs([], "defines") == []


def test_refs_bounded_by_how_many_chunks_hold_a_name(store: Store) -> None:
    # `log` is called by three chunks, `flush` by one, `close` by none.
    store.write_files([indexed("a.py", chunk("a.py", "one", "    log()", calls=("log", "flush")),
                               chunk("a.py", "two", "    log()", start=5, calls=("log",))),
                       indexed("b.py", chunk("b.py", "three", "    log()", calls=("log",)))])
    names = ids_by_name(store)
    everything = sorted(store.find_refs(["log", "flush", "close"], "calls"))
    assert everything == sorted([(names["one"], "log"), (names["two"], "log"), (names["three"], "log"),
                                 (names["one"], "flush")])
    assert sorted(store.find_refs(["log", "flush", "close"], "calls", most=3)) == everything
    assert store.find_refs(["log", "flush", "close"], "calls", most=2) == [(names["one"], "flush")]
    assert store.find_refs(["log"], "calls", most=0) == []


# -- lexical -------------------------------------------------------------------------------

def test_document_frequencies(store: Store) -> None:
    store.write_files(sample())
    assert store.document_frequencies(["token", "renew", "nowhere", "token"]) == {"token": 3, "renew": 2}
    store.delete_files(["src/auth/session.py"])  # the counts follow every write
    assert store.document_frequencies(["renew"]) == {"renew": 1}


def test_lexical_ranks_weights_and_requires(store: Store) -> None:
    store.write_files(sample())
    names = ids_by_name(store)
    ranked = store.lexical([("refresh", 1), ("token", 1)], 10)
    ids = [cid for cid, _ in ranked]
    assert ids[0] == names["refresh_token"]  # the only chunk holding both, in its name
    assert set(ids) == {names[n] for n in ("refresh_token", "revoke_token", "render_page", "drop")}
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert len(store.lexical([("refresh", 1), ("token", 1)], 2)) == 2
    assert store.lexical([("revoke", 3), ("refresh", 1)], 10)[0][0] == names["revoke_token"]
    assert store.lexical([("revoke", 1), ("refresh", 3)], 10)[0][0] == names["refresh_token"]
    gated = store.lexical([("refresh", 1), ("token", 1)], 10, require=["refresh"])
    assert {cid for cid, _ in gated} == {names[n] for n in ("refresh_token", "render_page")}
    plain = dict(ranked)
    for cid, score in gated:  # requiring a term prunes rows, never changes their scores
        assert score == pytest.approx(plain[cid], rel=1e-9)
    assert store.lexical([("nowhere", 1)], 10) == [] and store.lexical([], 10) == []


@pytest.mark.parametrize(("filters", "matched", "passing"), [
    (SearchFilters(languages=("javascript",)), {"render_page"}, {"render_page"}),
    (SearchFilters(kinds=("method",)), {"drop"}, {"renew", "drop"}),
    (SearchFilters(path="src/auth"), {"refresh_token", "revoke_token", "drop"},
     {"refresh_token", "revoke_token", "renew", "drop"}),
    (SearchFilters(path="src/auth/"), {"refresh_token", "revoke_token", "drop"},
     {"refresh_token", "revoke_token", "renew", "drop"}),
    (SearchFilters(path="src/au"), set(), set()),  # a prefix is a folder, not any start of a path
    (SearchFilters(path="**/*.js"), {"render_page"}, {"render_page"}),
    (SearchFilters(languages=("python", "markdown"), kinds=("function",)),
     {"refresh_token", "revoke_token"}, {"refresh_token", "revoke_token"}),
])
def test_lexical_and_filter_ids_apply_the_filters(store: Store, filters: SearchFilters, matched: set[str],
                                                  passing: set[str]) -> None:
    store.write_files(sample())
    names = ids_by_name(store)
    found = {cid for cid, _ in store.lexical([("refresh", 1), ("token", 1)], 10, filters)}
    assert found == {names[n] for n in matched}
    assert store.filter_ids(names.values(), filters) == {names[n] for n in passing}
    assert store.filter_ids([], filters) == set()


def test_filters_by_time(store: Store) -> None:
    store.write_files(sample()[:1])
    later = time.time() + 3_600
    names = ids_by_name(store)
    assert store.filter_ids(names.values(), SearchFilters(since=later)) == set()
    assert store.filter_ids(names.values(), SearchFilters(since=0.0)) == set(names.values())
    assert store.lexical([("token", 1)], 10, SearchFilters(since=later)) == []


def test_rank_files(store: Store) -> None:
    store.write_files(sample())
    ranked = store.rank_files(["refresh", "token"], 10)
    assert next(iter(ranked)) == "src/auth/tokens.py"
    assert set(ranked) == {"src/auth/tokens.py", "web/app.js", "src/auth/session.py"}
    assert ranked["src/auth/tokens.py"] == store.file_tokens(["src/auth/tokens.py"])["src/auth/tokens.py"]
    assert store.rank_files([], 10) == {}


def test_the_terms_are_prisms_own(store: Store) -> None:
    """camelCase and snake_case identifiers are found by their words, as lexical_terms splits them."""
    store.write_files([indexed("src/a.py", chunk("src/a.py", "parseHTTPRequest", "    return read_body_bytes(x)"))])
    for word in {*lexical_terms("parseHTTPRequest"), *lexical_terms("read_body_bytes")}:
        assert store.lexical([(word, 1)], 5), word


# -- vectors -------------------------------------------------------------------------------

def embed_all(store: Store, vectors: dict[str, np.ndarray]) -> None:
    pending = store.pending_embeddings(MODEL, 100)
    assert len(pending) == store.count_chunks()
    store.put_embeddings(MODEL, [(h, vectors[by_name_of(store, cid)]) for h, cid in pending])
    assert store.count_pending_embeddings(MODEL) == 0


def by_name_of(store: Store, cid: int) -> str:
    return store.get_chunks([cid])[0].chunk.name


def test_export_gives_back_what_was_written(store: Store) -> None:
    files = sample()
    warned = IndexedFile(FileRecord("bad.py", "0" * 64, 3, 5.5, "python", ("parse error at 1", "line 2")),
                         (chunk("bad.py", "oops", "    pass"),), ("text-oops",))
    store.write_files([*files, warned])
    assert list(store.export_files()) == [*files, warned]  # the same records, chunks and order
    vectors = [(f"text-{i}", unit([1.0, 1 / 3, float(i), 1e-7])) for i in range(5)]
    store.put_embeddings(MODEL, vectors)
    batches = list(store.export_embeddings(MODEL, batch=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    exported = {h: v for batch in batches for h, v in batch}
    assert exported.keys() == dict(vectors).keys()
    for text_hash, vector in vectors:  # bit for bit: a migration must not move any vector
        assert exported[text_hash].dtype == np.float32 and exported[text_hash].tobytes() == vector.tobytes()
    assert list(store.export_embeddings("another-model")) == []


def test_pending_put_drop_prune(store: Store) -> None:
    store.write_files(sample())
    assert store.count_pending_embeddings(MODEL) == 6
    first = store.pending_embeddings(MODEL, 2)
    assert len(first) == 2
    store.put_embeddings(MODEL, [(h, unit([1.0])) for h, _ in first])
    assert store.count_pending_embeddings(MODEL) == 4
    assert {h for h, _ in store.pending_embeddings(MODEL, 100)}.isdisjoint({h for h, _ in first})
    store.delete_files(["src/auth/tokens.py", "src/auth/session.py", "web/app.js", "docs/guide.md"])
    assert store.prune_embeddings(MODEL) == 2
    store.write_files(sample())
    store.put_embeddings("other-model", [(h, unit([1.0])) for h, _ in store.pending_embeddings("other-model", 9)])
    store.drop_embeddings(keep_model=MODEL)
    assert store.count_pending_embeddings("other-model") == 6


def test_chunk_text_hashes_are_the_stored_ones_in_id_order(store: Store) -> None:
    lexical_only = chunk("tests/test_tokens.py", "test_refresh", "    assert refresh_token()")
    store.write_files([*sample(), IndexedFile(indexed("tests/test_tokens.py", lexical_only).record,
                                              (lexical_only,), ("",))])
    stored = {sc.id: sc.chunk for sc in store.iter_chunks()}
    want = [(cid, f"text-{c.content_hash}") for cid, c in sorted(stored.items()) if c.path != "tests/test_tokens.py"]
    assert len(want) == 6 and store.chunk_text_hashes() == want  # the lexical-only chunk's "" left out
    store.delete_files(["web/app.js"])
    assert store.chunk_text_hashes() == [(cid, h) for cid, h in want if stored[cid].path != "web/app.js"]


def test_unhashed_chunks_are_pending_until_their_hashes_are_set(store: Store) -> None:
    files = [IndexedFile(f.record, f.chunks, (UNHASHED,) * len(f.chunks)) for f in sample()]
    files[-1] = IndexedFile(files[-1].record, files[-1].chunks, ("",))  # no vector wanted: never pending
    store.write_files(files)
    unhashed = store.unhashed_chunks(100)
    assert len(unhashed) == 5 and unhashed == sorted(unhashed)
    assert store.count_pending_embeddings(MODEL) == 5  # one per chunk: their texts are not known yet
    assert store.pending_embeddings(MODEL, 1)  # something to embed
    assert store.unhashed_chunks(2) == unhashed[:2]
    store.put_embeddings(MODEL, [("same", unit([1.0])), ("gone", unit([0.5]))])
    assert store.prune_embeddings(MODEL) == 0  # "same" may be an unhashed chunk's text: nothing goes
    generation = store.generation()
    store.set_text_hashes([(cid, "same" if i < 2 else f"h{i}") for i, cid in enumerate(unhashed)])
    assert store.generation() > generation
    assert store.unhashed_chunks(100) == []
    assert store.count_pending_embeddings(MODEL) == 3  # two chunks share "same", which has its vector
    assert {h for h, _ in store.pending_embeddings(MODEL, 100)} == {"h2", "h3", "h4"}
    assert store.prune_embeddings(MODEL) == 1  # every chunk hashed: only "gone" is an orphan


def test_nearest_ranks_by_cosine(backend: Backend, store: Store) -> None:
    store.write_files(sample())
    vectors = {"refresh_token": unit([1, 0]), "revoke_token": unit([1, 1]), "renew": unit([0, 1]),
               "drop": unit([0, 0, 1]), "render_page": unit([1, 0.2]), "tokens": unit([-1, 0])}
    embed_all(store, vectors)
    names = ids_by_name(store)
    found = store.nearest(MODEL, unit([1, 0])[None, :], 3)
    assert [cid for cid, _ in found] == [names["refresh_token"], names["render_page"], names["revoke_token"]]
    tolerance = score_tolerance(backend, 1e-5)
    assert found[0][1] == pytest.approx(1.0, abs=tolerance)
    assert found[2][1] == pytest.approx(float(unit([1, 1]) @ unit([1, 0])), abs=tolerance)
    two = store.nearest(MODEL, np.stack([unit([1, 0]), unit([0, 0, 1])]), 2)  # best over both queries
    assert {cid for cid, _ in two} == {names["refresh_token"], names["drop"]}
    assert store.nearest("no-such-model", unit([1])[None, :], 3) == []


def test_nearest_with_filters_returns_enough_rows(store: Store) -> None:
    """The rows that pass a filter are found even when far more rows that fail it are nearer."""
    near = [chunk("src/near.py", f"near_{i}", f"    return {i}", start=1 + 3 * i) for i in range(40)]
    far = [chunk("web/far.js", f"far_{i}", f"    return {i}", start=1 + 3 * i, language="javascript")
           for i in range(5)]
    store.write_files([indexed("src/near.py", *near), indexed("web/far.js", *far, language="javascript")])
    vectors = {c.name: unit([1, 0.01 * i]) for i, c in enumerate(near)}
    vectors |= {c.name: unit([0.1 * (i + 1), 1]) for i, c in enumerate(far)}
    embed_all(store, vectors)
    found = store.nearest(MODEL, unit([1, 0])[None, :], 5, SearchFilters(languages=("javascript",)))
    assert [by_name_of(store, cid) for cid, _ in found] == ["far_4", "far_3", "far_2", "far_1", "far_0"]
    assert len(store.nearest(MODEL, unit([1, 0])[None, :], 10, SearchFilters(path="web"))) == 5
    assert store.nearest(MODEL, unit([1, 0])[None, :], 5, SearchFilters(path="nowhere")) == []


# -- usage and feedback --------------------------------------------------------------------

def test_usage_is_recorded_and_summed(store: Store) -> None:
    assert store.usage_summary()["queries"] == 0
    assert store.record_usage(UsageEvent("context", "bugfix", 8000, 1200, 5000, 7, 0.25))
    assert store.record_usage(UsageEvent("context", "explain", 2000, 800, 100, 3, 0.05))
    summary = store.usage_summary()
    assert summary["queries"] == 2 and summary["tokens_served"] == 2000 and summary["tokens_saved"] == 5100
    assert summary["mean_ms"] == 150.0 and summary["by_intent"] == {"bugfix": 1, "explain": 1}
    assert store.usage_summary(since=time.time() + 60)["queries"] == 0


def test_feedback_marks_net_per_symbol(store: Store) -> None:
    store.record_feedback("src/a.py", "f", True, "why")
    store.record_feedback("src/a.py", "f", True)
    store.record_feedback("src/a.py", "f", False)
    store.record_feedback("src/a.py", "", False)
    store.record_feedback("src/b.py", "g", True)
    assert store.feedback_marks(["src/a.py"]) == {("src/a.py", "f"): 1, ("src/a.py", ""): -1}
    assert store.feedback_marks([]) == {}


def test_history_exports_and_imports_with_its_times(backend: Backend, store: Store) -> None:
    """What `prism migrate` carries besides the index: the usage log and the feedback marks."""
    store.record_usage(UsageEvent("context", "bugfix", 8000, 1200, 5000, 7, 0.25), at=1000.5)
    store.record_usage(UsageEvent("show", "explain", 2000, 800, 100, 3, 0.05), at=2000.0)
    store.record_feedback("src/a.py", "f", True, "why")
    store.record_feedback("src/a.py", "f", False)
    history = store.export_history()
    assert [(at, e.kind, e.tokens_saved) for at, e in history.usage] == [(1000.5, "context", 5000),
                                                                        (2000.0, "show", 100)]
    assert [(m.path, m.symbol, m.helpful, m.query) for m in history.feedback] == [
        ("src/a.py", "f", 1, "why"), ("src/a.py", "f", -1, "")]
    store.forget()
    empty = backend.open()
    assert empty.export_history() == History([], [])
    empty.import_history(history)
    assert empty.export_history() == history
    assert empty.usage_summary()["queries"] == 2 and empty.feedback_marks(["src/a.py"]) == {("src/a.py", "f"): 0}


# -- lifecycle -----------------------------------------------------------------------------

def test_data_survives_reopening(backend: Backend, store: Store) -> None:
    store.write_files(sample())
    store.record_feedback("src/a.py", "f", True)
    store.close()
    again = backend.open()
    assert again.count_chunks() == 6 and again.feedback_marks(["src/a.py"]) == {("src/a.py", "f"): 1}


def test_forget_deletes_everything(backend: Backend, store: Store) -> None:
    store.write_files(sample())
    embed_all(store, {sc.chunk.name: unit([1]) for sc in store.iter_chunks()})
    store.record_feedback("src/a.py", "f", True)
    store.record_usage(UsageEvent("context", "bugfix", 8000, 1200, 5000, 7, 0.25))
    store.forget()
    fresh = backend.open()
    assert fresh.count_chunks() == 0 and fresh.file_states() == {} and fresh.lexical([("token", 1)], 5) == []
    assert fresh.nearest(MODEL, unit([1])[None, :], 5) == [] and fresh.feedback_marks(["src/a.py"]) == {}
    assert fresh.usage_summary()["queries"] == 0


def test_backup_and_restore_round_trip(backend: Backend, store: Store, tmp_path: Path) -> None:
    store.write_files(sample())
    embed_all(store, {sc.chunk.name: unit([1, i]) for i, sc in enumerate(store.iter_chunks())})
    store.record_feedback("src/a.py", "f", True)
    before = (store.file_states(), list(store.iter_chunks()), store.lexical([("token", 1)], 10),
              store.nearest(MODEL, unit([1])[None, :], 10))
    store.backup(tmp_path / "backup")
    store.delete_files(["src/auth/tokens.py"])
    store.record_feedback("src/a.py", "f", False)
    changed = store.generation()
    store.restore(tmp_path / "backup")
    assert store.generation() > changed  # caches keyed on the generation see the change
    after = (store.file_states(), list(store.iter_chunks()), store.lexical([("token", 1)], 10),
             store.nearest(MODEL, unit([1])[None, :], 10))
    assert after[:3] == before[:3] and store.feedback_marks(["src/a.py"]) == {("src/a.py", "f"): 1}
    tolerance = score_tolerance(backend, 0.0)
    assert [cid for cid, _ in after[3]] == [cid for cid, _ in before[3]]
    assert all(abs(a - b) <= tolerance for (_, a), (_, b) in zip(after[3], before[3], strict=True))
    store.forget()
    elsewhere = backend.open()
    elsewhere.restore(tmp_path / "backup")  # a backup restores into a new, empty store too
    assert list(elsewhere.iter_chunks()) == before[1]


def test_a_postgres_backup_from_before_a_new_column_restores(postgres_url: str, tmp_path: Path) -> None:
    """Migrations append columns: a backup taken before `level_tokens` existed holds two columns
    fewer per chunk row (it and `level_texts`), and restores with them at their defaults (the pack
    re-prices)."""
    from prism.index.postgres import PostgresStore

    store = PostgresStore.connect(postgres_url, f"contract-{uuid.uuid4().hex}", max_size=2)
    try:
        store.write_files([indexed("src/a.py", chunk("src/a.py", "f", "    return 1",
                                                     levels=LevelTokens("cl100k_base", (9, 6, 4, 2))))])
        store.backup(tmp_path / "backup")
        rows = (tmp_path / "backup" / "prism_chunks.copy").read_bytes().splitlines()
        assert rows and all(row.endswith(b"\tcl100k_base 9 6 4 2\t\\N") for row in rows)  # no texts given
        old = b"".join(row.rsplit(b"\t", 2)[0] + b"\n" for row in rows)  # as the older schema wrote it
        (tmp_path / "backup" / "prism_chunks.copy").write_bytes(old)
        store.restore(tmp_path / "backup")
        [restored] = store.iter_chunks()
        assert restored.chunk.name == "f" and restored.chunk.level_tokens is None
    finally:
        store.forget()
