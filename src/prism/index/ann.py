"""The approximate vector index of a large embedded store: one HNSW file (usearch), memory-mapped.

The file holds the vectors of the chunks that existed when it was built ("the main"); what
changed since is the store's exact delta (`sqlite_ann.py`). A build writes a fresh file under
a new name and then its description (`ann-<model>.json`) in one rename, so a reader sees the
old main or the new one, never half of a file; a description that does not match its file
(size, count, model, dimension, build id) is never trusted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from prism.private_files import FILE_MODE

if TYPE_CHECKING:
    import numpy as np
    from usearch.index import Index

log = logging.getLogger("prism.index")

AnnDtype = Literal["f16", "i8"]
CONNECTIVITY = 16  # HNSW "M": links per node
EXPANSION_ADD = 128  # efConstruction: a better graph for a slower build
# ef, growing with the index: MiniLM vectors of sqlfluff (plus perturbed copies) and CoSQA /
# SWE-bench queries, many far from every chunk. recall@10 at 200 k: 0.96 with ef 512, 0.995 with
# 2048 (3 ms a query vector); at 500 k: 0.953 with 2048, 0.983 with 4096 (9 ms; exact: 60 ms).
# See benchmarks/results/ann_search.md.
EXPANSION_SEARCH = 2048
VECTORS_PER_EF = 120  # past 245 k vectors, ef grows by one per this many


@dataclass(frozen=True)
class AnnConfig:
    """When the embedded store builds and uses an approximate index, and how."""

    threshold: int = 200_000  # vectors from which the main is built; 0: never built nor used
    dtype: AnnDtype = "f16"
    rebuild_fraction: float = 0.05  # rebuild when the delta passes this share of the main
    oversample: float = 1.5  # candidates per query: this many times the limit (at least 64)
    exact_filtered: int = 20_000  # filters that leave at most this many chunks are searched exactly
    score_from_main: bool = True  # score f16 candidates with the main's copies, not SQLite's float32


@dataclass(frozen=True)
class MainInfo:
    """The description of a built main, stored beside it as JSON."""

    build: str  # random id, also recorded in the SQLite meta table: a leftover file never matches
    model: str
    dim: int
    dtype: str
    count: int
    max_chunk_id: int  # chunks above this id are newer than the main
    log_seq: int  # the store's change log up to here is in the main
    file: str
    size: int


def info_path(index: Path, model: str) -> Path:
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)
    return index.with_name(f"ann-{tag}.json")


def read_info(index: Path, model: str) -> MainInfo | None:
    try:
        data = json.loads(info_path(index, model).read_text(encoding="utf-8"))
        return MainInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


class MainIndex:
    """A built main, opened as a read-only view of its file: processes share its pages."""

    def __init__(self, info: MainInfo, index: Index) -> None:
        self.info = info
        self._index = index

    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Ids of about the k nearest vectors to each query row, all rows together (unsorted)."""
        import numpy as np

        k = min(k, self.info.count)
        if k <= 0:
            return np.empty(0, dtype=np.int64)
        from usearch.index import BatchMatches

        ef = max(2 * k, EXPANSION_SEARCH, min(self.info.count // VECTORS_PER_EF, 4 * EXPANSION_SEARCH))
        self._index.expansion_search = ef  # type: ignore[misc]  # (usearch's setter is untyped)
        found = self._index.search(queries, k, threads=1)
        if not isinstance(found, BatchMatches):  # a single query row
            return np.unique(np.asarray(found.keys, dtype=np.int64))
        rows = [np.asarray(found.keys[i][: int(n)], dtype=np.int64) for i, n in enumerate(found.counts)]
        return np.unique(np.concatenate(rows))

    def stored(self, ids: np.ndarray) -> np.ndarray | None:
        """The main's own copies of these vectors (ids it holds), as unit float32 rows; None for i8,
        whose copies are too coarse to score with (cosines off by up to 0.02 on MiniLM vectors,
        f16: 6e-5; benchmarks/results/ann_search.md)."""
        import numpy as np

        if self.info.dtype != "f16":
            return None
        if len(ids) == 0:
            return np.empty((0, self.info.dim), dtype=np.float32)
        rows = np.asarray(self._index.get(ids.astype(np.uint64), dtype="f32"), dtype=np.float32)
        unit: np.ndarray = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        return unit


def open_main(index: Path, model: str, dim: int, build: str | None) -> MainIndex | None:
    """The main built for this model and build id, memory-mapped; None when there is none or it
    does not match its description (a crash, a copy from elsewhere, a file cut short)."""
    info = read_info(index, model)
    if info is None or build is None or info.build != build or info.model != model or info.dim != dim:
        return None
    path = index.with_name(info.file)
    try:
        if path.stat().st_size != info.size:
            raise ValueError(f"size {path.stat().st_size}, expected {info.size}")
        from usearch.index import Index

        header = Index.metadata(path)
        if header is None or int(header["count_present"]) != info.count or int(header["dimensions"]) != dim:
            raise ValueError(f"header {header} does not match")
        view = Index.restore(path, view=True)
        if view is None or len(view) != info.count:
            raise ValueError("the view does not hold the described vectors")
    except (OSError, ValueError, RuntimeError) as exc:
        log.warning("ignoring the approximate vector index %s: %s", path, exc)
        return None
    return MainIndex(info, view)


def build_main(index: Path, model: str, ids: np.ndarray, matrix: np.ndarray, *, dtype: AnnDtype,
               max_chunk_id: int, log_seq: int, keep_going: Callable[[], bool] = lambda: True) -> MainInfo | None:
    """Build and save a main for these vectors; its description replaces the last one.

    Returns None when `keep_going` said stop (the store is closing) before the file was done.
    """
    from usearch.index import Index

    built = Index(ndim=int(matrix.shape[1]), metric="cos", dtype=dtype, connectivity=CONNECTIVITY,
                  expansion_add=EXPANSION_ADD)
    step = 16_384
    for start in range(0, len(ids), step):
        if not keep_going():
            return None
        built.add(ids[start:start + step].astype("uint64"), matrix[start:start + step], threads=0)
    build = secrets.token_hex(8)
    tag = info_path(index, model).stem
    path = index.with_name(f"{tag}-{build}.usearch")
    tmp = path.with_suffix(".tmp")
    built.save(tmp)
    _seal(tmp)
    os.replace(tmp, path)
    info = MainInfo(build=build, model=model, dim=int(matrix.shape[1]), dtype=dtype, count=len(ids),
                    max_chunk_id=max_chunk_id, log_seq=log_seq, file=path.name, size=path.stat().st_size)
    meta_tmp = info_path(index, model).with_suffix(".tmp")
    meta_tmp.write_text(json.dumps(asdict(info)), encoding="utf-8")
    _seal(meta_tmp)
    os.replace(meta_tmp, info_path(index, model))
    return info


def remove_stale(index: Path, keep: str | None) -> None:
    """Delete main files other than `keep` (and temporaries a killed build left); a process that
    still maps an old one keeps reading it until it moves on."""
    for path in index.parent.glob("ann-*"):
        if path.name != keep and path.suffix in (".usearch", ".tmp"):
            path.unlink(missing_ok=True)


def _seal(path: Path) -> None:
    """Owner-only (the vectors say what the code is), and on disk before the rename that publishes it."""
    os.chmod(path, FILE_MODE)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
