"""Tests for prism.retrieve.rescore: proximity, recency and feedback features."""

from __future__ import annotations

import time

import pytest

from prism.models import Chunk, ChunkHead, StoredChunk
from prism.retrieve.rescore import feedback_value, path_proximity, recency


def _stored(indexed_at: float) -> ChunkHead:
    chunk = Chunk(path="a.py", language="python", kind="function", name="f", qualified_name="f",
                  signature="def f():", docstring="", start_line=1, end_line=2, content="def f():\n  pass",
                  content_hash="0", tokens=5)
    return StoredChunk(id=1, chunk=chunk, file_sha256="0", indexed_at=indexed_at).head


def test_named_file_beats_its_neighbours() -> None:
    named = {"pkg/sub/a.py": 1.0}
    assert path_proximity("pkg/sub/a.py", named) == 1.0
    assert path_proximity("pkg/sub/b.py", named) == pytest.approx(0.3)
    assert path_proximity("pkg/c.py", named) == pytest.approx(0.1)
    assert path_proximity("other/d.py", named) == 0.0
    assert path_proximity("pkg/sub/a.py", {}) == 0.0


def test_recency_halves_every_thirty_days() -> None:
    now = time.time()
    assert recency(_stored(now), now) == pytest.approx(1.0)
    assert recency(_stored(now - 30 * 86400), now) == pytest.approx(0.5)


def test_feedback_is_bounded_and_signed() -> None:
    assert feedback_value(0) == 0.0
    assert 0 < feedback_value(1) < feedback_value(10) < 1
    assert feedback_value(-3) < 0
