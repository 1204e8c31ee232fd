"""Build (or reuse) a ≥ 100k-chunk benchmark index from the SWE-bench dev mirrors, for latency benchmarks.

Use from another benchmark:

    from bigindex import build_big_index, fill_benchmark_vectors
    big = build_big_index()              # lexical index, reused when already built
    fill_benchmark_vectors(big)          # optional: vectors for every chunk (see its docstring)
    prism = big.open()                   # a Prism on the index

The corpus is a folder of exported git trees side by side (default
~/.cache/prism-bench/monorepo/<name>/): first the HEAD tree of each of the five SWE-bench dev
mirrors in /work/.mirror, then, while the lexical index holds fewer than `target_chunks`
chunks, older tagged releases of the same repositories (<name>@<tag>/). Old releases are
real code that differs from HEAD in places — like the worktrees and branches a real user
indexes — so the index is large and realistic rather than one tree copied N times.
Blobs a partial mirror lacks are skipped. The PRISM home defaults to
~/.cache/prism-bench/home, so nothing touches the user's own ~/.prism.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prism.config import Settings
from prism.engine import Prism
from prism.index.embed_cache import EmbeddingCache

MIRRORS = Path("/work/.mirror")
REPOS = ("sqlfluff+sqlfluff", "pvlib+pvlib-python", "pylint-dev+astroid", "pydicom+pydicom",
         "marshmallow-code+marshmallow")
CACHE = Path.home() / ".cache" / "prism-bench"
MINILM_ID = "minilm-l6-v2-int8@1"
MINILM_DIM = 384
MAX_BLOB_BYTES = 1024 * 1024


@dataclass(frozen=True)
class BigIndex:
    """Where a benchmark index lives and what it holds."""

    root: Path  # the corpus folder (the project root)
    home: Path  # PRISM_HOME used for it
    chunks: int
    trees: tuple[str, ...]  # exported trees, e.g. ("sqlfluff", "pvlib-python@v0.9.0")

    def settings(self, **overrides: object) -> Settings:
        return Settings(home=self.home, **overrides)  # type: ignore[arg-type]

    def open(self, **overrides: object) -> Prism:
        return Prism(self.root, settings=self.settings(**overrides))


def _git(mirror: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(mirror), *args], check=True, capture_output=True,
                          text=True).stdout


def export_tree(mirror: Path, rev: str, dest: Path) -> int:
    """Write the files of `rev` under dest (missing or > 1 MiB blobs skipped); returns files written."""
    listing = _git(mirror, "ls-tree", "-r", "-l", "-z", rev)
    wanted: list[tuple[str, str]] = []
    for entry in listing.split("\0"):
        if not entry:
            continue
        meta, path = entry.split("\t", 1)
        mode, kind, sha, size = meta.split()
        if kind == "blob" and mode != "120000" and size.isdigit() and int(size) <= MAX_BLOB_BYTES:
            wanted.append((sha, path))
    proc = subprocess.Popen(["git", "-C", str(mirror), "cat-file", "--batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    written = 0
    for sha, path in wanted:
        proc.stdin.write(f"{sha}\n".encode())
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":  # "<sha> missing" in a partial clone
            continue
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written += 1
    proc.stdin.close()
    proc.wait()
    return written


def _release_tags(mirror: Path) -> list[str]:
    """Release tags, newest first (vX.Y.Z or X.Y.Z, no pre-releases)."""
    tags = _git(mirror, "tag", "--sort=-creatordate").split()
    return [t for t in tags if t.lstrip("v").replace(".", "").isdigit() and t.count(".") >= 1]


def _trees_plan() -> list[tuple[str, str, str]]:
    """(mirror, rev, folder name) in the order they are added: all HEADs, then releases round-robin."""
    plan = [(m, "HEAD", m.split("+", 1)[1]) for m in REPOS]
    releases = {m: _release_tags(MIRRORS / m / "repo")[1::3] for m in REPOS}  # every third, spread out
    for depth in range(max((len(v) for v in releases.values()), default=0)):
        for m in REPOS:
            if depth < len(releases[m]):
                tag = releases[m][depth]
                plan.append((m, tag, f"{m.split('+', 1)[1]}@{tag}"))
    return plan


def build_big_index(target_chunks: int = 100_000, *, corpus: Path | None = None,
                    home: Path | None = None, log: bool = True) -> BigIndex:
    """A lexical (--no-embed) index of ≥ target_chunks chunks; reused when one is already there.

    Exports trees into `corpus` (default ~/.cache/prism-bench/monorepo) one at a time and
    re-indexes incrementally until the index holds target_chunks chunks. Takes ~10–20 min
    the first time on 2 cores; later calls only check the count.
    """
    corpus = corpus or CACHE / "monorepo"
    home = home or CACHE / "home"
    corpus.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home, embed=False)
    prism = Prism(corpus, settings=settings)
    try:
        chunks = prism.store.count_chunks() if prism.is_indexed else 0
        for mirror, rev, name in _trees_plan():
            if chunks >= target_chunks:
                break
            dest = corpus / name
            if not dest.exists():
                partial = corpus.parent / f".partial-{name}"  # outside the corpus until complete
                if partial.exists():
                    shutil.rmtree(partial)
                files = export_tree(MIRRORS / mirror / "repo", rev, partial)
                partial.rename(dest)
                if log:
                    print(f"exported {name}: {files} files", file=sys.stderr, flush=True)
            elif prism.is_indexed:
                continue
            report = prism.index(embed=False)
            chunks = prism.store.count_chunks()
            if log:
                print(f"indexed {name}: {chunks:,} chunks ({report})"[:200], file=sys.stderr, flush=True)
        trees = tuple(sorted(p.name for p in corpus.iterdir() if p.is_dir()))
        return BigIndex(corpus, home, chunks, trees)
    finally:
        prism.close()


def fill_benchmark_vectors(big: BigIndex, *, seed: int = 0, index_dir: Path | None = None) -> tuple[int, int]:
    """BENCHMARK ONLY: give every chunk a vector under the MiniLM model id, without running MiniLM.

    Real MiniLM vectors are taken from the shared cache (PRISM_HOME/embeddings.db of the
    benchmark home and of ~/.prism) where it has them; every other chunk gets a deterministic
    random unit 384-d float32 vector (seeded by its text hash). Brute-force dense search costs
    the same whatever the values, so latency is representative; ranking quality is NOT (never
    use such an index for quality numbers). Returns (real vectors, random vectors).
    `index_dir` fills a copy of the index instead (e.g. one a benchmark server will serve).

    This writes into the shared benchmark index: while the vectors are there, every other
    benchmark on it searches densely (and loads MiniLM). Call `drop_benchmark_vectors` when
    done, and do not run it beside another benchmark that expects a lexical index.
    """
    prism = Prism(big.root, settings=big.settings(embed=False), index_dir=index_dir) if index_dir else \
        big.open(embed=False)
    store = prism.store
    try:
        caches = [EmbeddingCache(h / "embeddings.db") for h in {big.home, Path.home() / ".prism"}
                  if (h / "embeddings.db").exists()]
        real = fake = 0
        while True:
            pending = store.pending_embeddings(MINILM_ID, 5000)
            if not pending:
                break
            hashes = [h for h, _ in pending]
            known: dict[str, np.ndarray] = {}
            for cache in caches:
                known.update(cache.get(MINILM_ID, [h for h in hashes if h not in known]))
            items: list[tuple[str, np.ndarray]] = []
            for text_hash in hashes:
                vector = known.get(text_hash)
                if vector is not None and vector.shape == (MINILM_DIM,):
                    real += 1
                else:
                    digest = hashlib.sha256(f"{seed}:{text_hash}".encode()).digest()
                    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
                    vector = rng.standard_normal(MINILM_DIM).astype(np.float32)
                    vector /= np.linalg.norm(vector)
                    fake += 1
                items.append((text_hash, vector))
            store.put_embeddings(MINILM_ID, items)
        store.set_meta({"embed_model": MINILM_ID, "embed_dim": str(MINILM_DIM)})
        for cache in caches:
            cache.close()
        return real, fake
    finally:
        prism.close()


def drop_benchmark_vectors(big: BigIndex) -> None:
    """Remove every vector again (back to a lexical-only index)."""
    prism = big.open(embed=False)
    try:
        prism.store.drop_embeddings(keep_model=None)  # also bumps the generation
        with prism.store._conn:  # no Store method removes meta keys; benchmark-only direct SQL
            prism.store._conn.execute("DELETE FROM meta WHERE key IN ('embed_model', 'embed_dim')")
    finally:
        prism.close()


if __name__ == "__main__":
    os.nice(0)
    built = build_big_index(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    print(f"{built.chunks:,} chunks in {built.root} (home {built.home}); trees: {', '.join(built.trees)}")
