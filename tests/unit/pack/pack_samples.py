"""Hand-built chunks and hits for the pack tests (no index needed); imported by name, see conftest.py."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from prism.models import PRICED_LEVELS, Chunk, ChunkKind, Hit, LevelTokens, StoredChunk
from prism.pack.degrade import render
from prism.pack.tokens import Tokenizer

PY_SOURCE = '''import os

# a module comment
def load(path):
    """Read a file.

    More words.
    """
    # strip it
    text = open(path).read()  # trailing comment
    if not text:
        raise ValueError("empty")
    return text.strip()


class Store:
    """Keeps things."""

    limit = 10

    def put(self, key, value):
        """Put a value."""
        self.items[key] = value
        return True
'''


def make_chunk(content: str, *, path: str = "pkg/mod.py", start: int = 1, language: str = "python",
               kind: ChunkKind = "function", name: str = "f", signature: str = "") -> Chunk:
    return Chunk(path=path, language=language, kind=kind, name=name, qualified_name=name,
                 signature=signature, docstring="", start_line=start,
                 end_line=start + content.count("\n"), content=content,
                 content_hash=hashlib.sha256(f"{path}{start}{content}".encode()).hexdigest(),
                 tokens=len(content) // 4)


def make_hits(count: int, *, lines: int = 12, files: int = 4, seed: int = 0) -> list[Hit]:
    hits: list[Hit] = []
    for i in range(count):
        body = "\n".join(f"    value_{seed}_{i}_{n} = compute(value_{n}, '{'x' * (n % 7)}')  # note {n}"
                         for n in range(lines + (i * 7 + seed) % 20))
        content = f"def func_{i}(a, b):\n    \"\"\"Doc {i}.\"\"\"\n{body}\n    return a"
        chunk = make_chunk(content, path=f"pkg/m{i % files}.py", start=1 + 100 * (i // files),
                           name=f"func_{i}", signature="def func_{i}(a, b):")
        hits.append(Hit(StoredChunk(i + 1, chunk, "sha", 0.0), 1.0 / (1 + i)))
    return hits


def priced(hits: list[Hit], tokenizer: Tokenizer, *, error: int = 0) -> list[Hit]:
    """The hits with their levels priced as the indexer prices them, each count off by `error`
    (an index written by a buggy or older PRISM: the budget must hold whatever it says)."""
    out: list[Hit] = []
    for hit in hits:
        chunk = hit.chunk.chunk
        counts = tuple(max(0, tokenizer.count(render(chunk, level)) + error) for level in PRICED_LEVELS)
        chunk = replace(chunk, level_tokens=LevelTokens(tokenizer.name, counts))
        out.append(replace(hit, chunk=replace(hit.chunk, chunk=chunk)))
    return out
