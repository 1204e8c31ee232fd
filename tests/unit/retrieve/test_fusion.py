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
