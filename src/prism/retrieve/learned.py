"""Learned fusion: a logistic model over the ranking signals, fitted on dev data by
benchmarks/fit_fusion.py and shipped as fusion_weights.json beside this module.

A chunk's score is the model's probability that it is the code the query needs, so scores
are comparable across queries: a chunk with no lexical match and a mediocre cosine scores
low whatever else the index holds. Files are scored by a second logistic model over their
chunks' scores. Scoring is arithmetic over a few dozen numbers per candidate.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prism.models import ChunkHead

WEIGHTS_FILE = Path(__file__).with_name("fusion_weights.json")
FEEDBACK_LOGIT = 1.0  # usage marks have no dev data to fit on: a fixed, modest push
HEAD_RANKS = 1000.0  # lexical_head is 1 at rank 1 and 0 at this rank
FILE_RANKS = 100.0  # file_rank is 1 for the file with the best lexical hit and 0 from this place on

# Chunk features, each in [0, 1] (search.py's signals, see `chunk_features`). Dense counts
# only for natural-language questions: the dev issue rows are fitted without vectors (and on
# SWE-bench dev vectors did not help issue texts), so no weight for them is measured.
CHUNK_FEATURES: tuple[str, ...] = (
    "lexical", "lexical_head", "lexical_score", "symbol", "symbol_strength", "path", "frame", "raises",
    "graph", "secondary", "definition", "class", "size", "file_lexical", "file_symbol",
    "file_hits", "nl_lexical", "nl_cosine", "path_top", "frame_top", "file_rank",
)
# Only issue texts (long queries, tracebacks, named paths) give these a value.
ISSUE_FEATURES: tuple[str, ...] = ("path_top", "frame_top", "file_rank")
# File features: its best chunk's logit (÷10), the probabilities of its next two chunks,
# and file-level signals.
FILE_FEATURES: tuple[str, ...] = ("best", "next", "path", "secondary", "hits")


@dataclass(frozen=True)
class QueryShape:
    """What the query is like, for the features that depend on it."""

    natural_language: bool = False  # a short question that names no definition
    long: bool = False  # an issue text, a traceback


@dataclass(frozen=True)
class Linear:
    """A logistic model: probability = sigmoid(bias + Σ weight × feature)."""

    bias: float
    weights: Mapping[str, float]

    def logit(self, features: Mapping[str, float]) -> float:
        return self.bias + sum(self.weights.get(k, 0.0) * v for k, v in features.items())

    def parts(self, features: Mapping[str, float]) -> dict[str, float]:
        """Each feature's share of the logit (what `--explain` shows), and the bias."""
        out = {k: self.weights.get(k, 0.0) * v for k, v in features.items() if v and self.weights.get(k)}
        out["bias"] = self.bias
        return out


@dataclass(frozen=True)
class LearnedModel:
    chunk: Linear
    file: Linear
    meta: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LearnedModel:
        def linear(part: object) -> Linear:
            assert isinstance(part, dict)
            return Linear(float(part["bias"]), {str(k): float(v) for k, v in part["weights"].items()})

        meta = {k: v for k, v in data.items() if k not in ("chunk", "file")}
        return cls(linear(data["chunk"]), linear(data["file"]), meta)

    def to_dict(self) -> dict[str, object]:
        return {**self.meta,
                "chunk": {"bias": self.chunk.bias, "weights": dict(self.chunk.weights)},
                "file": {"bias": self.file.bias, "weights": dict(self.file.weights)}}


def load_model(path: Path = WEIGHTS_FILE) -> LearnedModel:
    return LearnedModel.from_dict(json.loads(path.read_text(encoding="utf-8")))


@functools.cache
def default_model() -> LearnedModel:
    """The packaged model (read once per process)."""
    return load_model()


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def chunk_features(heads: Mapping[int, ChunkHead], signals: Mapping[int, Mapping[str, float]],
                   shape: QueryShape) -> dict[int, dict[str, float]]:
    """Every candidate's feature values (CHUNK_FEATURES), from search.py's raw signals."""
    per_file: dict[str, list[int]] = {}
    for cid, h in heads.items():
        per_file.setdefault(h.path, []).append(cid)
    head = {cid: _head(s.get("lexical_rank")) for cid, s in signals.items()}
    out: dict[int, dict[str, float]] = {}
    nl = float(shape.natural_language)
    long = float(shape.long)
    # Per-query standing (issue texts): the surest frame, the surest named path, the file's
    # place among the candidate files by its best lexical hit.
    best_frame = max((s.get("frame", 0.0) for s in signals.values()), default=0.0)
    best_path = min(1.0, max((s.get("path", 0.0) for s in signals.values()), default=0.0)) or 1.0
    file_best = {p: max(head.get(cid, 0.0) for cid in ids) for p, ids in per_file.items()}
    file_place = {p: n for n, p in enumerate(sorted(file_best, key=lambda p: (-file_best[p], p)), 1)}
    for path, ids in per_file.items():
        file_lexical = file_best[path]
        file_symbol = max(signals.get(cid, {}).get("symbol", 0.0) for cid in ids)
        hits = min(1.0, len(ids) / 10.0)
        for cid in ids:
            s = signals.get(cid, {})
            c = heads[cid]
            lines = max(1, c.end_line - c.start_line + 1)
            out[cid] = {
                "lexical": s.get("lexical", 0.0),
                "lexical_head": head.get(cid, 0.0),
                "lexical_score": s.get("lexical_score", 0.0),
                "symbol": s.get("symbol", 0.0),
                "symbol_strength": s.get("symbol_strength", 0.0),
                "path": min(1.0, s.get("path", 0.0)),
                "frame": min(1.0, s.get("frame", 0.0)),
                "raises": s.get("raises", 0.0),
                "graph": min(1.0, s.get("graph", 0.0)),
                "secondary": s.get("secondary", 0.0),
                "definition": float(c.kind in ("function", "method")),
                "class": float(c.kind == "class"),
                "size": min(1.0, math.log(lines) / math.log(1000.0)),
                "file_lexical": file_lexical,
                "file_symbol": file_symbol,
                "file_hits": hits,
                "nl_lexical": nl * head.get(cid, 0.0),
                "nl_cosine": nl * s.get("cosine", 0.0),
                "path_top": min(1.0, s.get("path", 0.0)) / best_path,
                "file_rank": long * max(0.0, 1.0 - math.log(file_place[path]) / math.log(FILE_RANKS)),
                "frame_top": float(best_frame > 0 and s.get("frame", 0.0) >= best_frame),
            }
    return out


def _head(rank: float | None) -> float:
    """1 for the first lexical hit, falling with log rank to 0 at HEAD_RANKS (0 if none)."""
    if rank is None:
        return 0.0
    return max(0.0, 1.0 - math.log(rank) / math.log(HEAD_RANKS))


def file_features(logits: Sequence[float], features: Mapping[str, float]) -> dict[str, float]:
    """A file's features from its chunks' logits (best first) and its best chunk's features."""
    return {
        "best": logits[0] / 10.0,
        "next": sum(sigmoid(z) for z in logits[1:3]),
        "path": features.get("path", 0.0),
        "secondary": features.get("secondary", 0.0),
        "hits": features.get("file_hits", 0.0),
    }


def rank_learned(model: LearnedModel, heads: Mapping[int, ChunkHead],
                 signals: Mapping[int, Mapping[str, float]], shape: QueryShape, *,
                 files: bool = False, features: Mapping[int, Mapping[str, float]] | None = None
                 ) -> list[tuple[int, float, dict[str, float]]]:
    """(chunk id, probability, logit parts) best first; with files, one per file (its best chunk).
    `features`: chunk_features of these candidates when the caller has them already."""
    if features is None:
        features = chunk_features(heads, signals, shape)
    logits: dict[int, float] = {}
    for cid, x in features.items():
        feedback = signals.get(cid, {}).get("feedback", 0.0)
        logits[cid] = model.chunk.logit(x) + FEEDBACK_LOGIT * feedback
    order = sorted(logits, key=lambda cid: (-logits[cid], cid))
    if not files:
        return [(cid, sigmoid(logits[cid]), _parts(model.chunk, features[cid], signals.get(cid, {})))
                for cid in order]
    per_file: dict[str, list[int]] = {}
    for cid in order:
        per_file.setdefault(heads[cid].path, []).append(cid)
    scored = []
    for ids in per_file.values():
        x = file_features([logits[c] for c in ids], features[ids[0]])
        scored.append((model.file.logit(x), ids[0], model.file.parts(x)))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [(cid, sigmoid(z), parts) for z, cid, parts in scored]


def _parts(model: Linear, x: Mapping[str, float], signals: Mapping[str, float]) -> dict[str, float]:
    parts = model.parts(x)
    if signals.get("feedback"):
        parts["feedback"] = FEEDBACK_LOGIT * signals["feedback"]
    return parts
