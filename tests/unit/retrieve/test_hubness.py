"""Hubness correction (retrieve/hubness.py): neighbourhood cosines and the discounted cosines."""

from __future__ import annotations

import numpy as np
import pytest

from prism.retrieve import hubness
from prism.retrieve.hubness import corrected, neighbourhood, unseen_share


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    normed: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return normed


@pytest.mark.parametrize("block", [3, 1024])  # rows split across blocks or all in one
def test_neighbourhood_is_the_mean_cosine_to_the_k_nearest_other_rows(
    monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(hubness, "BLOCK_ROWS", block)
    m = unit_rows(11, 8, seed=1)
    sims = m @ m.T
    np.fill_diagonal(sims, -np.inf)
    want = np.sort(sims, axis=1)[:, -4:].mean(axis=1)
    np.testing.assert_allclose(neighbourhood(m, k=4), want, rtol=1e-5)


def test_a_vector_near_every_other_has_the_largest_neighbourhood() -> None:
    m = unit_rows(20, 16, seed=2)
    hub = m.mean(axis=0)
    m = np.vstack([m, hub / np.linalg.norm(hub)]).astype(np.float32)
    scores = neighbourhood(m, k=5)
    assert int(np.argmax(scores)) == len(m) - 1


def test_fewer_rows_than_neighbours_asked() -> None:
    assert neighbourhood(unit_rows(1, 4, seed=3)).tolist() == [0.0]  # alone: no neighbourhood
    pair = unit_rows(2, 4, seed=3)
    cosine = float(pair[0] @ pair[1])
    np.testing.assert_allclose(neighbourhood(pair, k=10), [cosine, cosine], rtol=1e-5)


def test_corrected_discounts_hubs_and_clips_at_zero() -> None:
    cosines = {1: 0.60, 2: 0.55, 3: 0.10}
    hubs = {1: 0.50, 2: 0.20, 3: 0.90}
    fixed = corrected(cosines, hubs, share=0.5)
    assert fixed == pytest.approx({1: 0.35, 2: 0.45, 3: 0.0})
    assert max(fixed, key=fixed.__getitem__) == 2  # the hub lost first place
    assert corrected({4: 0.3}, {}) == {4: 0.3}  # a chunk without a neighbourhood keeps its cosine


def test_a_chunk_new_since_the_neighbourhoods_takes_the_given_default() -> None:
    assert corrected({4: 0.5}, {1: 0.9}, share=0.5, unseen=0.4) == pytest.approx({4: 0.3})
    assert unseen_share([1, 2, 3, 4], {1: 0.1, 2: 0.2, 3: 0.3}) == pytest.approx(0.25)
    assert unseen_share([], {}) == 0.0
