"""Tests for prism.retrieve.fusion: weighted reciprocal rank fusion."""

from __future__ import annotations

import pytest

from prism.retrieve.fusion import fuse_reciprocal_rank


def test_items_in_several_rankings_win() -> None:
    fused, parts = fuse_reciprocal_rank({"a": [1, 2, 3], "b": [3, 4]}, {"a": 1.0, "b": 1.0}, k=60)
    assert max(fused, key=lambda i: fused[i]) == 3
    assert parts[3] == {"a": pytest.approx(1 / 63), "b": pytest.approx(1 / 61)}
    assert fused[1] == pytest.approx(1 / 61)


def test_weights_scale_and_zero_weight_ignores_a_ranking() -> None:
    fused, _ = fuse_reciprocal_rank({"a": [1], "b": [2]}, {"a": 1.0, "b": 2.0}, k=0)
    assert fused == {1: 1.0, 2: 2.0}
    fused, _ = fuse_reciprocal_rank({"a": [1], "b": [2]}, {"a": 1.0, "b": 0.0})
    assert set(fused) == {1}


def test_merge_across_keeps_one_lists_scores_and_compares_totals() -> None:
    from prism.models import Chunk, Hit, StoredChunk
    from prism.retrieve.fusion import merge_across

    def hit(cid: int, total: float, best: float) -> Hit:
        chunk = Chunk("a.py", "python", "function", "f", "f", "", "", 1, 1, "x", "h", 1)
        return Hit(StoredChunk(cid, chunk, "s", 0.0), total / best, explain={"lexical": total})

    alone = [hit(1, 0.04, 0.04), hit(2, 0.02, 0.04)]
    assert [h.score for _, h in merge_across([alone])] == [1.0, 0.5]
    weak = [hit(3, 0.01, 0.01)]  # its own best: score 1, but a small total
    merged = merge_across([weak, alone])
    assert [(i, h.chunk.id) for i, h in merged] == [(1, 1), (1, 2), (0, 3)]
    assert [h.score for _, h in merged] == [1.0, 0.5, 0.25]
    assert merge_across([[], []]) == []
