"""Learned fusion: the packaged model loads, and its scores are probabilities that rise with the
evidence it was fitted to value."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from prism.models import Chunk, ChunkHead, StoredChunk
from prism.retrieve import learned
from prism.retrieve.learned import QueryShape, chunk_features, default_model, rank_learned

# Signals search.py hands to learned fusion; each feature below derives from one of them.
SIGNAL_OF = {"lexical": "lexical", "lexical_score": "lexical_score", "symbol": "symbol",
             "path": "path", "frame": "frame", "raises": "raises", "graph": "graph"}


def _chunk(cid: int, path: str, name: str, kind: str = "function") -> ChunkHead:
    chunk = Chunk(path=path, language="python", kind=kind, name=name, qualified_name=name,  # type: ignore[arg-type]
                  signature=f"def {name}():", docstring="", start_line=10 * cid + 1,
                  end_line=10 * cid + 8, content="", content_hash=str(cid), tokens=20)
    return StoredChunk(cid, chunk, "sha", 0.0).head


def _candidates() -> tuple[dict[int, ChunkHead], dict[int, dict[str, float]]]:
    chunks = {1: _chunk(1, "pkg/a.py", "alpha"), 2: _chunk(2, "pkg/b.py", "beta"),
              3: _chunk(3, "pkg/c.py", "gamma")}
    signals = {1: {"lexical": 1.0, "lexical_rank": 1.0, "lexical_score": 1.0},
               2: {"lexical": 0.9, "lexical_rank": 8.0, "lexical_score": 0.5},
               3: {"lexical": 0.8, "lexical_rank": 15.0, "lexical_score": 0.2}}
    return chunks, signals


def test_the_packaged_model_loads_with_a_weight_for_every_feature() -> None:
    model = default_model()
    assert set(model.chunk.weights) == set(learned.CHUNK_FEATURES)
    assert set(model.file.weights) == set(learned.FILE_FEATURES)
    assert all(math.isfinite(v) for v in [*model.chunk.weights.values(), *model.file.weights.values()])
    assert model.meta.get("fitted")
    assert learned.LearnedModel.from_dict(model.to_dict()) == model


@pytest.mark.parametrize("files", [False, True])
def test_scores_are_probabilities(files: bool) -> None:
    chunks, signals = _candidates()
    ranked = rank_learned(default_model(), chunks, signals, QueryShape(long=True), files=files)
    assert ranked and all(0.0 <= score <= 1.0 for _, score, _ in ranked)
    assert [s for _, s, _ in ranked] == sorted((s for _, s, _ in ranked), reverse=True)


def test_the_score_rises_with_a_feature_of_positive_weight() -> None:
    model = default_model()
    feature = max(SIGNAL_OF, key=lambda f: model.chunk.weights[f])
    assert model.chunk.weights[feature] > 0
    chunks, signals = _candidates()
    before = dict(rank_learned(model, chunks, signals, QueryShape())[i][:2] for i in range(3))
    signals[3] = {**signals[3], SIGNAL_OF[feature]: signals[3].get(SIGNAL_OF[feature], 0.0) + 0.5}
    after = dict(rank_learned(model, chunks, signals, QueryShape())[i][:2] for i in range(3))
    assert after[3] > before[3]


def test_no_lexical_match_and_a_weak_cosine_does_not_score_one() -> None:
    """The quokka miss: with hand-set fusion the only result scored 1.00 (normalised by the best)."""
    chunks = {7: _chunk(7, "pkg/transport.py", "BaseTransport.__enter__", "method")}
    signals = {7: {"dense": 0.5, "cosine": 0.3}}
    for shape in (QueryShape(natural_language=True), QueryShape()):
        [(cid, score, parts)] = rank_learned(default_model(), chunks, signals, shape)
        assert cid == 7 and score < 0.5
        assert "lexical" not in parts


def test_features_stay_in_the_unit_interval() -> None:
    chunks, signals = _candidates()
    signals[1].update(path=1.3, frame=2.0, graph=1.0, secondary=1.0, dense=1.0, cosine=0.9)
    for x in chunk_features(chunks, signals, QueryShape(natural_language=True)).values():
        assert all(0.0 <= v <= 1.0 for v in x.values())


LIMITS = '''def check_limit(value):
    """Raise when value is over the limit."""
    if value > 10:
        raise ValueError("value over the limit")
'''


def test_auto_fusion_is_learned_for_issue_texts_and_hand_set_for_questions(tmp_path: Path) -> None:
    from prism.config import Settings
    from prism.engine import Prism
    from prism.retrieve.search import SearchConfig

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "limits.py").write_text(LIMITS)
    (repo / "other.py").write_text("def unrelated():\n    return 'limit'\n")
    engine = Prism(repo, settings=Settings(home=tmp_path / "home", embedder="hashing", threads=1))
    engine.index(embed=False)
    auto = SearchConfig(fusion="auto", dense=False)
    issue = "check_limit fails for large values. " + "The limit check raises where it should not. " * 12
    long_hits = engine.search(issue, config=auto).hits
    learned_hits = engine.search(issue, config=SearchConfig(fusion="learned", dense=False)).hits
    assert [h.score for h in long_hits] == [h.score for h in learned_hits]
    assert 0.0 < long_hits[0].score < 1.0  # a probability, not "the best of this query"
    short = engine.search("check_limit", config=auto).hits
    assert short[0].score == 1.0 and short[0].chunk.chunk.name == "check_limit"  # hand-set: normalised
    engine.close()


def test_per_query_features_mark_the_surest_frame_path_and_file() -> None:
    """frame_top / path_top: the chunk with the query's surest frame, the file the query names
    most surely; file_rank: the file's place by its best lexical hit (issue texts only)."""
    chunks, signals = _candidates()
    signals[1].update(frame=0.4, path=0.15)
    signals[2].update(frame=1.0, path=0.5)
    long = chunk_features(chunks, signals, QueryShape(long=True))
    assert [long[c]["frame_top"] for c in (1, 2, 3)] == [0.0, 1.0, 0.0]
    assert long[2]["path_top"] == 1.0 and long[1]["path_top"] == pytest.approx(0.3)
    assert long[1]["file_rank"] == 1.0 > long[2]["file_rank"] > long[3]["file_rank"] > 0.0
    short = chunk_features(chunks, signals, QueryShape())
    assert all(x["file_rank"] == 0.0 for x in short.values())
    bare = chunk_features(chunks, {c: {"lexical": 1.0, "lexical_rank": 1.0} for c in chunks}, QueryShape())
    assert all(x["frame_top"] == 0.0 and x["path_top"] == 0.0 for x in bare.values())
