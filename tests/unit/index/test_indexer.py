"""The incremental indexer: unchanged files cost nothing, changes and deletions leave nothing stale,
a killed process leaves a consistent index, and concurrent writers are refused."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from prism.config import Settings
from prism.engine import Prism
from prism.errors import IndexCorruptError, IndexLockedError
from prism.index.indexer import index_lock
from prism.index.sqlite import SqliteStore


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write(root, "app/auth.py", '''
        """Authentication helpers."""
        import hashlib


        class TokenStore:
            """Keeps refresh tokens."""

            def refresh_token(self, user_id: int) -> str:
                return hashlib.sha256(str(user_id).encode()).hexdigest()


        def login(user: str, password: str) -> bool:
            return check_password(user, password)
        ''')
    write(root, "app/db.py", '''
        def check_password(user, password):
            """Compare a password with the stored hash."""
            return password == "secret"
        ''')
    write(root, "README.md", "# Demo\n\nA demo project.\n\n## Usage\n\nRun it.\n")
    return root


def snapshot(prism: Prism) -> tuple[dict[str, str], list[tuple[str, str, int, int, str]]]:
    """Everything observable about an index: file hashes and chunk identities, in a stable order."""
    store = prism.store
    files = {path: state.sha256 for path, state in store.file_states().items()}
    chunks = sorted((sc.chunk.path, sc.chunk.qualified_name, sc.chunk.start_line, sc.chunk.end_line,
                     sc.chunk.content_hash) for sc in store.iter_chunks())
    return files, chunks


def run_together(script: str, path: Path, processes: int) -> None:
    """Start `processes` Pythons running `script` on `path` at once; each must succeed."""
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)], stderr=subprocess.PIPE)
             for _ in range(processes)]
    for proc in procs:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr.decode()


def fts_paths(prism: Prism, term: str) -> set[str]:
    ids = [cid for cid, _ in prism.store.search_fts(f'"{term}"', 50)]
    return {sc.chunk.path for sc in prism.store.get_chunks(ids)}


def test_first_index_is_searchable_and_embedded(repo: Path) -> None:
    with Prism(repo) as prism:
        report = prism.index()
        assert report.files_indexed == 3
        assert report.chunks_written >= 5
        assert report.pending_embeddings == 0
        assert fts_paths(prism, "refresh") == {"app/auth.py"}
        names = {sc.chunk.qualified_name for sc in prism.store.iter_chunks()}
        assert {"TokenStore.refresh_token", "login", "check_password"} <= names
        ids, matrix = prism.store.vector_matrix(prism.embedder.model_id, prism.embedder.dim)
        assert len(ids) == report.chunks_written and matrix.shape[1] == prism.embedder.dim


def test_a_lexical_index_leaves_embedding_texts_unhashed_until_vectors_are_wanted(repo: Path) -> None:
    from prism.index.embed import document_text
    from prism.index.indexer import Indexer, text_hash
    from prism.index.store import UNHASHED

    with Prism(repo) as prism:
        report = prism.index(embed=False)
        rows = prism.store._conn.execute("SELECT DISTINCT text_hash FROM chunks").fetchall()  # type: ignore[attr-defined]
        assert {r[0] for r in rows} == {UNHASHED}
        assert report.pending_embeddings == report.chunks_written
        assert Indexer(repo, prism.store, prism.settings).hash_texts() == report.chunks_written
        stored = dict(prism.store._conn.execute("SELECT id, text_hash FROM chunks").fetchall())  # type: ignore[attr-defined]
        for sc in prism.store.iter_chunks():  # what the parse used to hash, from the stored chunk
            assert stored[sc.id] == text_hash(document_text(sc.chunk))
        assert prism.store.unhashed_chunks(10) == []
        assert prism.index().pending_embeddings == 0  # the embedding pass fills every vector


def test_unchanged_files_cost_nothing_even_when_mtimes_move(repo: Path) -> None:
    with Prism(repo) as prism:
        prism.index()
        before = snapshot(prism)
        assert prism.index().files_indexed == 0
        for path in repo.rglob("*"):
            if path.is_file():
                os.utime(path, (time.time() + 100, time.time() + 100))  # what `git checkout` does
        report = prism.index()
        assert report.files_indexed == 0 and report.embedded == 0
        assert snapshot(prism) == before
        assert prism.status()["stale_files"] == 0


def test_changed_file_is_rechunked_and_only_its_new_chunks_embedded(repo: Path) -> None:
    with Prism(repo) as prism:
        prism.index()
        write(repo, "app/db.py", '''
            def check_password(user, password):
                """Compare a password with the stored hash."""
                return password == "secret"


            def rotate_keys():
                return []
            ''')
        assert prism.status()["changed_on_disk"] == {"added": 0, "modified": 1, "deleted": 0}
        report = prism.index()
        assert report.files_indexed == 1
        assert report.embedded == 1  # check_password's text is cached; only rotate_keys is new
        assert fts_paths(prism, "rotate") == {"app/db.py"}


def test_reindex_that_needs_no_new_vector_never_loads_the_model(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_EMBEDDER", "minilm")
    with Prism(repo) as prism:
        assert prism.index().embedded > 0
    # Same bytes with a new mtime, and a whitespace edit whose chunk embeds to the same text.
    auth = repo / "app/auth.py"
    auth.write_bytes(auth.read_bytes())
    write(repo, "app/db.py", '''
        def check_password(user, password):
            """Compare a password with the stored hash."""
            return password  ==  "secret"
        ''')
    for embed in (True, False):
        with Prism(repo) as fresh:
            report = fresh.index(embed=embed)
            assert report.embedded == 0 and report.pending_embeddings == 0
            assert fresh._embedder is None  # the model was never loaded in this engine
    write(repo, "app/new.py", "def rotate_keys():\n    return []\n")
    with Prism(repo) as fresh:
        assert fresh.index().embedded == 1
        assert fresh._embedder is not None and fresh._embedder.model_id == "minilm-l6-v2-int8@1"


def test_deleted_and_renamed_files_leave_nothing_stale(repo: Path) -> None:
    with Prism(repo) as prism:
        prism.index()
        (repo / "app/db.py").unlink()
        (repo / "app/auth.py").rename(repo / "app/login.py")
        report = prism.index()
        assert report.files_deleted == 2
        paths = {sc.chunk.path for sc in prism.store.iter_chunks()}
        assert paths == {"app/login.py", "README.md"}
        assert fts_paths(prism, "check") == {"app/login.py"}  # login() calls check_password
        assert prism.store.find_refs(["check_password"], "defines") == []
        assert prism.store.file_state("app/db.py") is None


def test_force_reindex_gives_the_same_index(repo: Path) -> None:
    with Prism(repo) as prism:
        prism.index()
        before = snapshot(prism)
        assert prism.index(force=True).files_indexed == 3
        assert snapshot(prism) == before


def test_a_second_writer_is_refused_with_a_clear_message(repo: Path) -> None:
    with Prism(repo) as prism, index_lock(prism.index_dir):
        with pytest.raises(IndexLockedError) as info:
            prism.index()
        assert "Another PRISM process is updating the index" in info.value.message
        assert "Wait for it to finish" in info.value.hint


def test_switching_embedding_model_never_mixes_vectors(repo: Path) -> None:
    with Prism(repo) as prism:
        prism.index()
        model = prism.embedder.model_id
        store = prism.store
        store.set_meta({"embed_model": "some-other-model@1"})
        prism.index()
        # The index was rebuilt for the current model; no vector of another model remains.
        rows = store._conn.execute("SELECT DISTINCT model FROM embeddings").fetchall()
        assert rows == [(model,)]
        assert store.count_pending_embeddings(model) == 0


def test_corrupt_index_file_gives_an_actionable_error(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexCorruptError) as info:
        SqliteStore(path)
    assert "prism forget" in info.value.hint


def test_bad_files_do_not_stop_indexing(repo: Path) -> None:
    (repo / "blob.bin").write_bytes(bytes(range(256)) * 10)
    (repo / "latin1.py").write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    (repo / "empty.py").write_text("")
    (repo / "huge.txt").write_text("x" * (2 * 1024 * 1024))
    with Prism(repo) as prism:
        report = prism.index()
        paths = {sc.chunk.path for sc in prism.store.iter_chunks()}
        assert "latin1.py" in paths
        assert "blob.bin" not in paths and "huge.txt" not in paths
        reasons = {s.path: s.reason for s in report.skipped}
        assert reasons.get("blob.bin") == "binary" and reasons.get("huge.txt") == "too_large"


def count_files_readonly(path: Path) -> int:
    """Files in an index, read without taking any write lock (the indexer is running)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


CRASH_SCRIPT = """
import sys
from prism.engine import Prism
Prism(sys.argv[1]).index(embed=False)
"""


def test_killed_mid_index_leaves_a_consistent_index_that_resumes(tmp_path: Path, prism_home: Path) -> None:
    root = tmp_path / "big"
    for i in range(1500):
        body = f"def function_{i}(x):\n    return x + {i}\n\n\nclass K{i}:\n    def m(self):\n        return {i}\n"
        write(root, f"pkg/mod_{i:04d}.py", body)
    env = {**os.environ, "PRISM_HOME": str(prism_home), "PRISM_EMBEDDER": "hashing"}
    settings = Settings(home=prism_home)
    index_db = Prism(root, settings=settings).index_dir / "index.db"
    killed_midway = False
    for _attempt in range(3):
        proc = subprocess.Popen([sys.executable, "-c", CRASH_SCRIPT, str(root)], env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if index_db.exists():
                files = count_files_readonly(index_db)
                if files > 0:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    killed_midway = files < 1500
                    break
            time.sleep(0.01)
        proc.wait()
        if killed_midway:
            break
    assert killed_midway, "could not interrupt the indexer before it finished"

    # Every file the killed run wrote is whole: its chunk count matches a clean chunking.
    with Prism(root, settings=settings) as resumed:
        partial = resumed.store.stats()
        assert 0 < int(partial["files"]) < 1500  # type: ignore[call-overload]
        per_file: dict[str, int] = {}
        for sc in resumed.store.iter_chunks():
            per_file[sc.chunk.path] = per_file.get(sc.chunk.path, 0) + 1
        assert set(per_file.values()) == {per_file[next(iter(per_file))]}
        report = resumed.index(embed=False)
        assert report.files_unchanged == int(partial["files"])  # type: ignore[call-overload]
        resumed_snapshot = snapshot(resumed)

    clean_home = tmp_path / "clean-home"
    with Prism(root, settings=Settings(home=clean_home)) as clean:
        clean.index(embed=False)
        assert snapshot(clean) == resumed_snapshot


def test_processes_opening_a_new_index_together_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    script = ("import sys; from pathlib import Path; from prism.index.sqlite import SqliteStore; "
              "SqliteStore(Path(sys.argv[1]))")
    run_together(script, path, 4)
    store = SqliteStore(path)
    assert store.stats()["files"] == 0
    store.close()


def test_vector_snapshot_is_reused_by_a_new_process_and_never_stale(repo: Path) -> None:
    with Prism(repo) as prism:
        prism.index()
        model, dim = prism.embedder.model_id, prism.embedder.dim
        ids, matrix = prism.store.vector_matrix(model, dim)
    with Prism(repo) as fresh:  # a new store: no in-process cache, the snapshot is mapped
        again_ids, again = fresh.store.vector_matrix(model, dim)
        assert isinstance(again, np.memmap)
        assert again_ids.tolist() == ids.tolist() and np.array_equal(np.asarray(again), matrix)
        write(repo, "app/extra.py", "def brand_new_function():\n    return 42\n")
        fresh.index()
        newest_ids, newest = fresh.store.vector_matrix(model, dim)
        assert len(newest_ids) == len(ids) + 1 and newest.shape == (len(ids) + 1, dim)


def test_an_index_built_by_another_chunker_is_rechunked(repo: Path) -> None:
    with Prism(repo) as prism:
        prism.index()
        assert prism.index().files_indexed == 0
        prism.store.set_meta({"chunker_version": "0"})
        report = prism.index()
        assert report.files_indexed == 3 and report.embedded == 0  # vectors reused by text hash
        assert prism.index().files_indexed == 0


def test_many_threads_searching_a_fresh_project_at_once_all_succeed(repo: Path) -> None:
    import concurrent.futures

    with Prism(repo) as prism:
        prism.index()
    engine = Prism(repo)  # new engine: searcher, feedback store and caches not yet built
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: engine.search(f"refresh token {i}"), range(32)))
    assert all(r.hits for r in results)
    engine.close()


def test_processes_opening_one_new_wal_database_together_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "feedback.db"
    script = ("import sys; from pathlib import Path; from prism.index.feedback import FeedbackStore; "
              "FeedbackStore(Path(sys.argv[1])).close()")
    run_together(script, path, 8)


def test_term_counts_are_remembered_only_within_one_index_generation(repo: Path, tmp_path: Path) -> None:
    prism = Prism(repo, settings=Settings(home=tmp_path / "home", embedder="hashing"))
    prism.index(embed=False)
    before = prism.store.document_frequencies(["password", "nowhere", "password"])
    assert before["password"] >= 2 and "nowhere" not in before
    write(repo, "app/more.py", "def nowhere(password):\n    return password\n")
    prism.index(embed=False)
    after = prism.store.document_frequencies(["password", "nowhere"])
    assert after["password"] == before["password"] + 1 and after["nowhere"] == 1
    prism.close()


def test_parallel_parse_writes_the_same_index_as_serial(repo: Path, tmp_path: Path) -> None:
    from prism.index.indexer import Indexer

    for i in range(20):
        write(repo, f"pkg/mod_{i:02d}.py", f"def function_{i}(x):\n    return x + {i}\n\n\nclass K{i}:\n    pass\n")
    (repo / "pkg/bad.py").write_bytes(b"def broken(:\n  \x00\x00\n")  # skipped: the workers report it too
    settings = Settings(home=tmp_path / "home")
    snapshots = []
    for workers in (1, 3):
        store = SqliteStore(tmp_path / f"index-{workers}.db")
        try:
            report = Indexer(repo, store, settings).sync(workers=workers)
            assert report.files_indexed >= 21
            files = {path: state.sha256 for path, state in store.file_states().items()}
            chunks = [(sc.chunk.path, sc.chunk.qualified_name, sc.chunk.start_line, sc.chunk.end_line,
                       sc.chunk.content_hash, sc.chunk.tokens) for sc in store.iter_chunks()]
            snapshots.append((files, chunks, report.files_indexed, report.chunks_written,
                              sorted(report.warnings), [(s.path, s.reason) for s in report.skipped]))
        finally:
            store.close()
    assert snapshots[0] == snapshots[1]


def test_files_no_search_wants_as_vectors_are_searchable_but_never_embedded(repo: Path) -> None:
    write(repo, "CHANGELOG.md", "# Changelog\n\n## 1.0\n\nFixed the refresh of tokens.\n")
    write(repo, "locale/fr/messages.po", 'msgid "refreshlib"\nmsgstr "rafraichir"\n')
    with Prism(repo) as prism:
        report = prism.index()
        assert report.pending_embeddings == 0 and prism.index().embedded == 0
        assert fts_paths(prism, "refreshlib") == {"locale/fr/messages.po"}  # lexical search still finds them
        assert "CHANGELOG.md" in fts_paths(prism, "changelog")
        ids, _ = prism.store.vector_matrix(prism.embedder.model_id, prism.embedder.dim)
        paths = {sc.chunk.path for sc in prism.store.get_chunks([int(i) for i in ids])}
        assert paths == {"app/auth.py", "app/db.py", "README.md"}
        assert report.embedded == len(ids)


def test_an_index_of_another_document_view_is_rehashed_and_only_changed_texts_embedded(repo: Path) -> None:
    with Prism(repo) as prism:
        prism.index()
        store = prism.store
        model = store.get_meta("embed_model") or ""
        with store._transaction() as conn:  # as an older view left it: other text hashes for app/db.py
            conn.execute("UPDATE chunks SET text_hash = 'old-' || text_hash WHERE file_id IN"
                         " (SELECT id FROM files WHERE path = 'app/db.py')")
        store.set_meta({"embed_view": "1"})
        report = prism.index()
        assert report.files_indexed == 3  # re-chunked: every text hash is of today's view again
        db_chunks = [sc for sc in store.iter_chunks() if sc.chunk.path == "app/db.py"]
        assert report.embedded == 0 and store.count_pending_embeddings(model) == 0  # texts unchanged: vectors kept
        assert not any(h.startswith("old-") for h, _ in store.pending_embeddings(model, 100))
        assert db_chunks and prism.index().files_indexed == 0


def test_the_shared_cache_holds_only_vectors_of_the_text_its_key_names(repo: Path, tmp_path: Path) -> None:
    from prism.index.embed_cache import EmbeddingCache
    from prism.index.indexer import Indexer

    shared = EmbeddingCache(tmp_path / "shared.db")
    with Prism(repo) as prism:
        prism.index(embed=False)
        store = prism.store
        with store._transaction() as conn:  # a hash left by another document view, not yet embedded
            conn.execute("UPDATE chunks SET text_hash = 'stale' WHERE id = (SELECT MIN(id) FROM chunks)")
        embedder = prism.embedder
        added = Indexer(repo, store, prism.settings).embed_pending(embedder, shared=shared)
        assert added == len({h for h, _ in store.pending_embeddings("none", 1000)})
        assert shared.get(embedder.model_id, ["stale"]) == {}
        others = [h for h, _ in store.pending_embeddings("none", 1000) if h != "stale"]
        assert len(shared.get(embedder.model_id, others)) == len(others)
    shared.close()
