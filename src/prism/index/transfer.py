"""Copy one project's index from one store to another (`prism migrate`): files, chunks, refs,
terms and vectors as they are, through the Store Protocol — nothing is re-read or re-embedded —
and its history: the usage log behind `prism stats` and the feedback marks that search ranks by.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from prism.errors import InputError, PrismError
from prism.index.store import IndexedFile, Store

# What the indexer records besides the chunks; chunker_version goes last: a store holding it
# counts as indexed, so an interrupted copy never looks finished.
META_KEYS = ("root", "last_sync", "embed_model", "embed_dim", "levels_tokenizer", "chunker_version")
BATCH_FILES = 200


@dataclass(frozen=True)
class Transfer:
    files: int
    chunks: int
    vectors: int
    usage_events: int = 0
    feedback_marks: int = 0


def copy_index(source: Store, dest: Store) -> Transfer:
    """Copy the index in `source` into `dest`, which must hold none yet."""
    if dest.count_chunks() or dest.get_meta("chunker_version") is not None:
        raise InputError("The destination already holds an index for this project.",
                         hint="Run `prism forget` against it first (or migrate another project).")
    try:
        return _copy(source, dest)
    except BaseException:
        with suppress(PrismError):  # leave the destination empty, as it was, so a rerun can start over
            dest.forget()
        raise


def _copy(source: Store, dest: Store) -> Transfer:
    files = chunks = vectors = 0
    batch: list[IndexedFile] = []
    for item in source.export_files():
        batch.append(item)
        files += 1
        chunks += len(item.chunks)
        if len(batch) >= BATCH_FILES:
            dest.write_files(batch)
            batch = []
    if batch:
        dest.write_files(batch)
    model = source.get_meta("embed_model")
    if model is not None:
        for vectors_batch in source.export_embeddings(model):
            dest.put_embeddings(model, vectors_batch)
            vectors += len(vectors_batch)
    history = source.export_history()
    dest.import_history(history)
    for key in META_KEYS:
        value = source.get_meta(key)
        if value is not None:
            dest.set_meta({key: value})
    return Transfer(files, chunks, vectors, len(history.usage), len(history.feedback))
