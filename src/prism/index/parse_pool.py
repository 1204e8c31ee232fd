"""Read, hash and chunk files for the indexer, in worker processes when there are many.

Parsing (tree-sitter, token counting) is CPU-bound Python, so a big cold index runs it in a
process pool over all cores; the indexer stays the only writer and consumes the results in
file order, so the index (and its batches, progress and resumability after a kill) are the
same as a serial run's. Small jobs stay in-process: starting workers costs more than it saves.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import tree_sitter

from prism.errors import PrismError
from prism.index.embed import available_cores
from prism.index.store import UNHASHED, FileRecord, IndexedFile
from prism.index.terms import chunk_terms, terms_text
from prism.index.vector_scope import wants_vector
from prism.ingest.chunk import chunk_file_with_tree
from prism.ingest.walk import read_source
from prism.models import Chunk, SourceFile
from prism.pack.degrade import FileTree, price_levels
from prism.pack.line_tokens import LineCounter
from prism.pack.tokens import Tokenizer, get_tokenizer

PARALLEL_MIN_FILES = 64  # fewer files to parse than this: in-process
CHUNKSIZE = 8  # files per task sent to a worker: amortises pickling without starving cores


@dataclass(frozen=True)
class ParseOptions:
    """What chunking depends on; plain values, so that it pickles to the workers."""

    root: Path
    tokenizer: str
    max_chunk_tokens: int
    window_lines: int
    window_overlap: int


@dataclass(frozen=True)
class ParseJob:
    source: SourceFile
    force: bool
    old_sha: str | None


@dataclass(frozen=True)
class Parsed:
    """One job's outcome: the file's new state, or None when unchanged or unreadable."""

    item: IndexedFile | None
    warnings: tuple[str, ...] = ()
    unreadable: bool = False


def parse_file(options: ParseOptions, job: ParseJob) -> Parsed:
    """Read and chunk one file; item None when its content is unchanged (or it is unreadable)."""
    from prism.index.indexer import NO_VECTOR, sha256_hex  # indexer imports this module

    source = job.source
    try:
        raw, text = read_source(options.root, source.path)
    except (OSError, PrismError) as exc:
        return Parsed(None, (f"{source.path}: {exc}",), unreadable=True)
    digest = sha256_hex(raw)
    if not job.force and digest == job.old_sha:
        return Parsed(None)
    tokenizer = get_tokenizer(options.tokenizer)
    counter = LineCounter(tokenizer)  # the file's chunks, parts and levels share their lines
    parsed, tree = chunk_file_with_tree(
        source.path, text, source.language, count_tokens=counter.count,
        max_chunk_tokens=options.max_chunk_tokens,
        window_lines=options.window_lines, window_overlap=options.window_overlap,
    )
    record = FileRecord(source.path, digest, source.size, source.mtime, source.language,
                        parsed.warnings)
    chunks = priced(parsed.chunks, tokenizer, text, tree, count=counter.count)
    # Every chunk has the file's path: its vector scope and path terms are the file's. Its
    # embedding text is built and hashed only by the embedding pass (UNHASHED until then).
    hashes = (UNHASHED if wants_vector(source.path) else NO_VECTOR,) * len(chunks)
    path_terms = terms_text(source.path)
    return Parsed(IndexedFile(record, chunks, hashes, tuple(chunk_terms(c, path_terms) for c in chunks)),
                  tuple(f"{source.path}: {w}" for w in parsed.warnings))


def priced(chunks: Sequence[Chunk], tokenizer: Tokenizer, text: str | None = None,
           tree: tree_sitter.Tree | None = None, *,
           count: Callable[[str], int] | None = None) -> tuple[Chunk, ...]:
    """The chunks with their degradation levels priced (what `pack` selects by), counted by
    `tokenizer` (through `count`, its exact count memoised, when given), which also counted
    their `tokens`. Given the file's `text` and the `tree` it was chunked from, chunks of whole
    lines are analysed from that parse instead of their own."""
    if text is None or tree is None:
        return tuple(replace(c, level_tokens=price_levels(c, tokenizer, tokens_counted=True, count=count))
                     for c in chunks)
    lines = text.split("\n")
    file_tree = FileTree.of(tree, text)
    return tuple(replace(c, level_tokens=price_levels(
        c, tokenizer, tokens_counted=True, count=count,
        tree=file_tree if c.content == "\n".join(lines[c.start_line - 1:c.end_line]) else None)) for c in chunks)


def _parse_chunk(options: ParseOptions, jobs: Sequence[ParseJob]) -> list[Parsed]:
    return [parse_file(options, job) for job in jobs]


def default_workers() -> int:
    return available_cores()


def parse_all(options: ParseOptions, jobs: Sequence[ParseJob], *,
              workers: int | None = None) -> Iterator[Parsed]:
    """One Parsed per job, in job order. `workers` None: all cores once there are
    PARALLEL_MIN_FILES jobs; 1: in-process; n > 1: a pool of n whatever the count."""
    count = default_workers() if workers is None else workers
    if not jobs:
        return
    if count <= 1 or (workers is None and len(jobs) < PARALLEL_MIN_FILES):
        for job in jobs:
            yield parse_file(options, job)
        return
    # forkserver: workers fork from a clean server process (no parent threads or open
    # databases inherited), which imports the chunkers once for all of them.
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload([__name__])
    groups = [jobs[i:i + CHUNKSIZE] for i in range(0, len(jobs), CHUNKSIZE)]
    pool = ProcessPoolExecutor(max_workers=min(count, len(groups)), mp_context=context)
    try:
        for results in pool.map(_parse_chunk, [options] * len(groups), groups):
            yield from results
    finally:  # a writer that stops early (an error, a closed generator) drops the queued work
        pool.shutdown(wait=True, cancel_futures=True)
