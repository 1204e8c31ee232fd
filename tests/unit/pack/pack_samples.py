"""Hand-built chunks and hits for the pack tests (no index needed); imported by name, see conftest.py."""

from __future__ import annotations

import hashlib

from prism.models import Chunk, ChunkKind, Hit, StoredChunk

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
