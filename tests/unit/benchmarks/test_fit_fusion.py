"""The fusion fit ranks candidates over arrays; those ranks must be the ones learned.rank_learned gives."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from prism.models import Chunk, StoredChunk
from prism.retrieve import learned
from prism.retrieve.learned import QueryShape
from prism.retrieve.search import Candidates

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import fit_fusion


def _query(seed: int) -> fit_fusion.Query:
    rng = random.Random(seed)
    heads, signals = {}, {}
    for cid in range(1, 61):
        path = f"pkg/m{rng.randrange(12)}.py"
        name = f"f{cid}"
        chunk = Chunk(path=path, language="python", kind=rng.choice(["function", "method", "class", "module"]),
                      name=name, qualified_name=name, signature="", docstring="", start_line=cid,
                      end_line=cid + rng.randrange(1, 200), content="", content_hash=str(cid), tokens=20)
        heads[cid] = StoredChunk(cid, chunk, "sha", 0.0).head
        rank = float(rng.randrange(1, 200))
        signals[cid] = {"lexical": 61 / (60 + rank), "lexical_rank": rank, "lexical_score": rng.random(),
                        "secondary": float(rng.random() < 0.2)}
        if rng.random() < 0.2:
            signals[cid].update(symbol=rng.random(), symbol_strength=rng.random(), path=rng.random())
    gold = heads[7]
    found = Candidates(heads, {}, signals, QueryShape(long=True))
    return fit_fusion.Query("swe", "repo", f"row-{seed}", "Python", found, [gold.path],
                            [f"{gold.path}:{gold.qualified_name}"], {})


@pytest.mark.parametrize("seed", range(6))
def test_the_fit_ranks_as_rank_learned(seed: int) -> None:
    q = _query(seed)
    rng = random.Random(seed)
    packaged = learned.default_model()
    noisy = learned.LearnedModel(
        learned.Linear(rng.uniform(-3, 0), {f: rng.uniform(-4, 4) for f in learned.CHUNK_FEATURES}),
        learned.Linear(rng.uniform(-1, 1), {f: rng.uniform(-4, 10) for f in learned.FILE_FEATURES}))
    for model in (packaged, noisy):
        assert fit_fusion.learned_ranks(model, q) == fit_fusion.reference_ranks(model, q)
