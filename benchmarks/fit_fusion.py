"""Fit learned fusion (retrieve/learned.py) on the dev data, with cross-validation by repository.

Rows: (query, candidate chunk, features, label) from SWE-bench Lite dev (22 rows, 5 Python
projects), Multi-SWE dev (Rust, Java, C++; 10 projects) and CoSQA dev (500 questions). The
candidates and their signals are exactly what `Searcher.candidates` gives search (issue rows:
lexical index, no vectors; CoSQA: vectors when its index has them). A chunk is positive when it
is (inside) a gold function; a file when it is a gold file (CoSQA: the answering function).

Two logistic models (numpy, L2, Newton steps; each query weighs the same, its positives and its
negatives half each): chunks over CHUNK_FEATURES, then files over FILE_FEATURES of their chunks'
logits. Cross-validation leaves one repository out (CoSQA: one of 5 query folds) and ranks the
held-out queries with the model fitted on the others; the printed numbers are those held-out
ranks beside the hand-set fusion and BM25 on the same rows. The final model (all rows) goes to
src/prism/retrieve/fusion_weights.json with the date, data and CV numbers.

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/fit_fusion.py \\
        --out benchmarks/results/fusion_cv.md --write-weights
    ... --reuse      # refit from the rows cached by the last run (no searching)
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import json
import pickle
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata
from context_recall import gold_function_in_full
from multiswe_eval import bm25_ranks, bm25_tool, gold_functions, round_robin, worst

from prism.models import ChunkHead
from prism.retrieve import learned
from prism.retrieve.search import Candidates, SearchConfig

FILE_KS = (1, 3, 5, 10)
FUNC_KS = (5, 10)
LIMIT = 100  # ranks beyond this count as misses, as in the other evals
COSQA_FOLDS = 5
PACK_BUDGET = 8000
L2 = 1.0
INNER_FOLDS = 3  # --l2-grid: folds of the training groups that choose L2 inside each CV split
CACHE = "fusion-rows-{}.pkl"  # per part: issues, cosqa
SETS = ("SWE-bench Lite dev (Python)", "Multi-SWE dev Rust", "Multi-SWE dev Java",
        "Multi-SWE dev C++", "Multi-SWE dev (all)", "CoSQA dev")


@dataclasses.dataclass
class Query:
    """One dev query: its candidates (contents dropped), gold, and the baselines' ranks."""

    dataset: str  # "swe", "multiswe", "cosqa"
    group: str  # CV group: the repository (CoSQA: a query fold)
    instance_id: str
    language: str
    candidates: Candidates
    gold_files: list[str]
    gold_funcs: list[str]
    baselines: dict[str, dict[str, int | None]]  # system → {"file": worst rank, "func": ...}
    root: str = ""


def slim(c: Candidates) -> Candidates:
    """Candidates without chunk text (the features do not read it): small enough to cache."""
    return Candidates(c.heads, {}, c.signals, c.shape)


def searcher_of(prism: Any) -> Any:
    prism.search("warm up", limit=1)  # builds the engine's searcher (with its embedder)
    return prism._searcher


def ranks_of(prism: Any, text: str, cfg: SearchConfig, gold_files: list[str],
             gold_funcs: list[str]) -> dict[str, int | None]:
    files = prism.search(text, limit=LIMIT, files=True, config=cfg)
    chunks = prism.search(text, limit=LIMIT, config=cfg)
    franks = evaldata.file_ranks([h.chunk.chunk.path for h in files.hits], gold_files)
    granks = evaldata.function_ranks(
        [(h.chunk.chunk.path, h.chunk.chunk.qualified_name) for h in chunks.hits], gold_funcs)
    return {"file": worst(franks, gold_files), "func": worst(granks, gold_funcs)}


def collect_issues(limit_rows: int | None) -> list[Query]:
    """SWE-bench and Multi-SWE dev queries, lexical indexes (cached under the eval cache)."""
    cfg = replace(SearchConfig(), dense=False, fusion="hand-set")
    bm = bm25_tool()
    swe = [(r, evaldata.SWE_JSONL, "swe") for r in evaldata.load_swebench()]
    multi = [(r, evaldata.MULTISWE_JSONL, "multiswe") for r in round_robin(evaldata.load_multiswe()[0])]
    jobs = swe + multi
    if limit_rows:
        jobs = swe[:limit_rows] + multi[:limit_rows]
    out = []
    for n, (row, jsonl, dataset) in enumerate(jobs):
        root = evaldata.checkout(row, jsonl)
        prism = evaldata.open_index(root, embed=False, progress=True)
        text = row["problem_statement"]
        gold_files = list(row["gold_files"])
        gold_funcs = list(row["gold_functions"]) if dataset == "swe" else gold_functions(prism, row)
        found = searcher_of(prism).candidates(text, config=cfg)
        franks, granks = bm25_ranks(bm, prism, root, text, gold_files, gold_funcs)
        baselines = {"hand-set": ranks_of(prism, text, cfg, gold_files, gold_funcs),
                     "BM25": {"file": worst(franks, gold_files), "func": worst(granks, gold_funcs)}}
        out.append(Query(dataset, row["repo"], row["instance_id"], row.get("language", "Python"),
                         slim(found), gold_files, gold_funcs, baselines, str(root)))
        prism.close()
        print(f"[{n + 1}/{len(jobs)}] {row['instance_id']} {len(found.heads)} candidates "
              f"hand-set {baselines['hand-set']}", file=sys.stderr, flush=True)
    return out


def collect_cosqa(limit_rows: int | None) -> list[Query]:
    """CoSQA dev questions over its corpus index, with vectors (computed once, cached)."""
    from cosqa_eval import materialise

    prism = evaldata.open_index(materialise(), embed=True, progress=True)  # with vectors, as cosqa_eval
    searcher = searcher_of(prism)
    cfg = SearchConfig(fusion="hand-set")
    _, queries = evaldata.load_cosqa()
    out = []
    for n, q in enumerate(queries[:limit_rows] if limit_rows else queries):
        gold = [f"corpus/{g}.py" for g in q["gold_ids"]]
        found = searcher.candidates(q["query"], config=cfg)
        hits = prism.search(q["query"], limit=LIMIT, files=True, config=cfg).hits
        franks = evaldata.file_ranks([h.chunk.chunk.path for h in hits], gold)
        best = min(franks.values(), default=None)
        out.append(Query("cosqa", f"cosqa-fold{n % COSQA_FOLDS}", str(q["qid"]), "Python", slim(found),
                         gold, [], {"hand-set": {"file": best, "func": None}}))
    prism.close()
    return out


# -- fitting ------------------------------------------------------------------------------------

_LIVE: dict[int, Query] = {}  # the queries the caches below hold, kept alive so no id is reused
_FEATURES: dict[int, dict[int, dict[str, float]]] = {}  # key(query) → its chunk features (fits reuse them)
_ROWS: dict[int, tuple[list[int], NDArray[np.float64], NDArray[np.float64]]] = {}
COSQA_WEIGHT = 1.0  # --cosqa-weight
# --issue-l2: the features only issue texts carry (learned.ISSUE_FEATURES) are shrunk by this
# share of L2: they are non-zero on a few dozen rows, where the other features are on all 583.
ISSUE_L2 = 1.0
DROPPED: set[str] = set()  # --drop: chunk features held at 0 (an ablation; their weights stay 0)


def key(q: Query) -> int:
    """The query's key in the caches of this run."""
    return id(_LIVE.setdefault(id(q), q))


def features_of(q: Query) -> dict[int, dict[str, float]]:
    """learned.chunk_features of the query's candidates, computed once per run."""
    if key(q) not in _FEATURES:
        c = q.candidates
        _FEATURES[key(q)] = learned.chunk_features(c.heads, c.signals, c.shape)
    return _FEATURES[key(q)]


def chunk_rows(q: Query) -> tuple[list[int], NDArray[np.float64], NDArray[np.float64]]:
    """(chunk ids, feature matrix, labels) of a query's candidates (computed once per run)."""
    if key(q) not in _ROWS:
        c = q.candidates
        feats = features_of(q)
        ids = sorted(feats)
        x = np.array([[0.0 if f in DROPPED else feats[i][f] for f in learned.CHUNK_FEATURES] for i in ids],
                     dtype=np.float64)
        y = np.array([float(_chunk_positive(q, c.heads[i])) for i in ids], dtype=np.float64)
        _ROWS[key(q)] = (ids, x.reshape(len(ids), len(learned.CHUNK_FEATURES)), y)
    return _ROWS[key(q)]


def _chunk_positive(q: Query, sc: ChunkHead) -> bool:
    if q.dataset == "cosqa":
        return sc.path in q.gold_files
    wanted = [g.split(":", 1)[1] for g in q.gold_funcs if g.split(":", 1)[0] == sc.path]
    return evaldata.fold_symbol(sc.qualified_name, wanted) is not None


@dataclasses.dataclass
class Table:
    """A query's candidates as arrays (in chunk_rows' order), for ranking them fast in the fit."""

    ids: NDArray[np.int64]
    file: NDArray[np.int64]  # the chunk's file, an index into paths
    paths: list[str]
    names: list[str]  # qualified names
    static: NDArray[np.float64]  # per chunk: its file features "path", "secondary", "hits"
    feedback: NDArray[np.float64]  # FEEDBACK_LOGIT × feedback (usage marks; none in the dev data)
    gold_file: NDArray[np.float64]  # per file index: 1 when a gold file


_TABLES: dict[int, Table] = {}


def table_of(q: Query) -> Table:
    if key(q) not in _TABLES:
        c = q.candidates
        feats = features_of(q)
        ids, _, _ = chunk_rows(q)
        paths = list(dict.fromkeys(c.heads[i].path for i in ids))
        code = {p: n for n, p in enumerate(paths)}
        _TABLES[key(q)] = Table(
            np.array(ids, dtype=np.int64), np.array([code[c.heads[i].path] for i in ids], dtype=np.int64),
            paths, [c.heads[i].qualified_name for i in ids],
            np.array([[feats[i]["path"], feats[i]["secondary"], feats[i]["file_hits"]] for i in ids],
                     dtype=np.float64).reshape(len(ids), 3),
            np.array([learned.FEEDBACK_LOGIT * c.signals.get(i, {}).get("feedback", 0.0) for i in ids]),
            np.array([float(p in q.gold_files) for p in paths]))
    return _TABLES[key(q)]


def chunk_logits(q: Query, model: learned.Linear) -> NDArray[np.float64]:
    """learned.rank_learned's chunk logits, as an array in chunk_rows' order."""
    _, x, _ = chunk_rows(q)
    coef = np.array([model.weights.get(f, 0.0) for f in learned.CHUNK_FEATURES])
    out: NDArray[np.float64] = model.bias + x @ coef + table_of(q).feedback
    return out


def file_table(q: Query, logits: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64],
                                                                NDArray[np.int64]]:
    """(FILE_FEATURES matrix, best chunk's position, file index) of each candidate file: what
    learned.file_features gives file by file (best chunk first, ties to the lower chunk id)."""
    t = table_of(q)
    order = np.lexsort((t.ids, -logits, t.file))
    files = t.file[order]
    starts = np.flatnonzero(np.r_[True, files[1:] != files[:-1]])
    group = np.cumsum(np.r_[True, files[1:] != files[:-1]]) - 1
    place = np.arange(len(order)) - starts[group]
    best = order[starts]
    nxt = np.zeros(len(starts))
    runner = (place >= 1) & (place <= 2)
    np.add.at(nxt, group[runner], 1.0 / (1.0 + np.exp(-np.clip(logits[order[runner]], -30, 30))))
    x = np.column_stack([logits[best] / 10.0, nxt, t.static[best]])
    return x.reshape(len(best), len(learned.FILE_FEATURES)), best, files[starts]


def file_rows(q: Query, model: learned.Linear) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, _, files = file_table(q, chunk_logits(q, model))
    return x, table_of(q).gold_file[files]


def query_weights(y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each query weighs 1: half on its positives, half on its negatives (none: no rows)."""
    pos = y.sum()
    if pos == 0 or pos == len(y):
        return np.zeros_like(y)
    weights: NDArray[np.float64] = np.where(y > 0, 0.5 / pos, 0.5 / (len(y) - pos))
    return weights


def fit_logistic(x: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64],
                 l2: float | NDArray[np.float64] = L2, steps: int = 50) -> tuple[float, NDArray[np.float64]]:
    """Weighted L2-regularised logistic regression by Newton's method: (bias, coefficients).
    `l2`: one penalty for every coefficient, or one per coefficient."""
    a = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(a.shape[1])
    reg = np.empty(a.shape[1])
    reg[1:] = l2
    reg[0] = 1e-6  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -30, 30)))
        grad = a.T @ (w * (p - y)) + reg * beta
        hess = (a * (w * p * (1 - p))[:, None]).T @ a + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(beta[0]), beta[1:]


def dataset_weight(queries: list[Query]) -> dict[str, float]:
    """CoSQA's 500 questions weigh COSQA_WEIGHT times as much in all as the issue queries together."""
    counts = collections.Counter(q.dataset == "cosqa" for q in queries)
    issues = counts[False] or 1
    return {"cosqa": COSQA_WEIGHT * issues / counts[True] if counts[True] else 1.0, "issue": 1.0}


def fit(queries: list[Query], l2: float = L2) -> learned.LearnedModel:
    weights = dataset_weight(queries)
    xs, ys, ws = [], [], []
    for q in queries:
        _, x, y = chunk_rows(q)
        xs.append(x)
        ys.append(y)
        ws.append(query_weights(y) * weights["cosqa" if q.dataset == "cosqa" else "issue"])
    penalty = np.array([l2 * ISSUE_L2 if f in learned.ISSUE_FEATURES else l2 for f in learned.CHUNK_FEATURES])
    bias, coef = fit_logistic(np.vstack(xs), np.concatenate(ys), np.concatenate(ws), penalty)
    chunk = learned.Linear(bias, dict(zip(learned.CHUNK_FEATURES, map(float, coef), strict=True)))
    xs, ys, ws = [], [], []
    for q in queries:
        x, y = file_rows(q, chunk)
        xs.append(x)
        ys.append(y)
        ws.append(query_weights(y) * weights["cosqa" if q.dataset == "cosqa" else "issue"])
    bias, coef = fit_logistic(np.vstack(xs), np.concatenate(ys), np.concatenate(ws), l2)
    file = learned.Linear(bias, dict(zip(learned.FILE_FEATURES, map(float, coef), strict=True)))
    return learned.LearnedModel(chunk, file)


def learned_ranks(model: learned.LearnedModel, q: Query) -> dict[str, int | None]:
    """Worst gold file / function rank (top LIMIT) when the model ranks the query's candidates
    (learned.rank_learned's order, computed over arrays: tests/benchmarks check they agree)."""
    t = table_of(q)
    logits = chunk_logits(q, model.chunk)
    x, best, files = file_table(q, logits)
    coef = np.array([model.file.weights.get(f, 0.0) for f in learned.FILE_FEATURES])
    z = model.file.bias + x @ coef
    top_files = files[np.lexsort((t.ids[best], -z))][:LIMIT]
    franks = evaldata.file_ranks([t.paths[f] for f in top_files], q.gold_files)
    if q.dataset == "cosqa":
        return {"file": min(franks.values(), default=None), "func": None}
    top = np.lexsort((t.ids, -logits))[:LIMIT]
    granks = evaldata.function_ranks([(t.paths[t.file[i]], t.names[i]) for i in top], q.gold_funcs)
    return {"file": worst(franks, q.gold_files), "func": worst(granks, q.gold_funcs)}


def reference_ranks(model: learned.LearnedModel, q: Query) -> dict[str, int | None]:
    """learned_ranks through learned.rank_learned itself (what search runs): the check of the arrays."""
    c = q.candidates
    feats = features_of(q)
    files = learned.rank_learned(model, c.heads, c.signals, c.shape, files=True, features=feats)[:LIMIT]
    chunks = learned.rank_learned(model, c.heads, c.signals, c.shape, features=feats)[:LIMIT]
    franks = evaldata.file_ranks([c.heads[cid].path for cid, _, _ in files], q.gold_files)
    if q.dataset == "cosqa":
        return {"file": min(franks.values(), default=None), "func": None}
    granks = evaldata.function_ranks(
        [(c.heads[cid].path, c.heads[cid].qualified_name) for cid, _, _ in chunks], q.gold_funcs)
    return {"file": worst(franks, q.gold_files), "func": worst(granks, q.gold_funcs)}


def cross_validate(queries: list[Query], l2: float = L2, grid: tuple[float, ...] = ()
                   ) -> tuple[dict[str, dict[str, int | None]], dict[str, learned.LearnedModel], dict[str, float]]:
    """Leave-one-group-out: each query ranked by the model fitted without its group (and the
    model of each group, and its L2: `l2`, or with a `grid` the one chosen by an inner CV on the
    other groups alone, so that the choice never sees the group it is scored on)."""
    out: dict[str, dict[str, int | None]] = {}
    models, chosen = {}, {}
    for group in sorted({q.group for q in queries}):
        train = [q for q in queries if q.group != group]
        chosen[group] = choose_l2(train, grid) if grid else l2
        model = models[group] = fit(train, chosen[group])
        for q in queries:
            if q.group == group:
                out[f"{q.dataset}:{q.instance_id}"] = learned_ranks(model, q)
        print(f"cv {group}: l2 {chosen[group]}", file=sys.stderr, flush=True)
    return out, models, chosen


def choose_l2(queries: list[Query], grid: tuple[float, ...]) -> float:
    """The L2 of `grid` whose model ranks best on INNER_FOLDS folds of `queries`' groups held out
    in turn (by inner_score; ties to the larger L2, the simpler model)."""
    groups = sorted({q.group for q in queries})
    folds = [set(groups[i::INNER_FOLDS]) for i in range(INNER_FOLDS)]
    scores = {}
    for l2 in grid:
        ranks: dict[str, dict[str, int | None]] = {}
        for fold in folds:
            model = fit([q for q in queries if q.group not in fold], l2)
            ranks.update({f"{q.dataset}:{q.instance_id}": learned_ranks(model, q)
                          for q in queries if q.group in fold})
        scores[l2] = inner_score(queries, ranks)
    return max(grid, key=lambda v: (round(scores[v], 9), v))


def inner_score(queries: list[Query], ranks: dict[str, dict[str, int | None]]) -> float:
    """Mean reciprocal rank of the gold file (and, where there are gold functions, of the last
    one, averaged with it) over issue rows, and of the answer over CoSQA questions; the two
    halves weigh as in the fit (1 : COSQA_WEIGHT)."""
    def rr(rank: int | None) -> float:
        return 1.0 / rank if rank else 0.0

    issue, cosqa = [], []
    for q in queries:
        r = ranks[f"{q.dataset}:{q.instance_id}"]
        if q.dataset == "cosqa":
            cosqa.append(rr(r["file"]))
        else:
            issue.append((rr(r["file"]) + rr(r["func"])) / 2 if q.gold_funcs else rr(r["file"]))
    halves = [(sum(v) / len(v), weight) for v, weight in ((issue, 1.0), (cosqa, COSQA_WEIGHT)) if v]
    return sum(m * w for m, w in halves) / (sum(w for _, w in halves) or 1.0)


def packs_at(queries: list[Query], models: dict[str, learned.LearnedModel], budget: int = PACK_BUDGET
             ) -> dict[str, dict[str, bool]]:
    """SWE-bench rows: is every gold function in full (or light) in the `budget` pack, with
    hand-set fusion and with the held-out learned model (lexical index for both)?"""
    out: dict[str, dict[str, bool]] = {}
    texts = {r["instance_id"]: r["problem_statement"] for r in evaldata.load_swebench()}
    for q in queries:
        if q.dataset != "swe" or not q.gold_funcs:
            continue
        hit = {}
        for name, cfg in (("hand-set", replace(SearchConfig(), dense=False, fusion="hand-set")),
                          ("learned (CV)", replace(SearchConfig(), dense=False, fusion="learned",
                                                   model=models[q.group]))):
            prism = evaldata.open_index(Path(q.root), embed=False)
            searcher_of(prism).config = cfg  # context() searches with the searcher's own config
            pack = prism.context(texts[q.instance_id], budget_tokens=budget, fmt="markdown", record_usage=False)
            chunks = [c.to_dict() for c in pack.chunks]
            hit[name] = all(gold_function_in_full(chunks, g) for g in q.gold_funcs)
            prism.close()
        hit["auto (CV)"] = hit["learned (CV)"] if q.candidates.shape.long else hit["hand-set"]
        out[q.instance_id] = hit
        print(f"pack {q.instance_id} {hit}", file=sys.stderr, flush=True)
    return out


# -- reporting ----------------------------------------------------------------------------------

def members(queries: list[Query], name: str) -> list[Query]:
    if name.startswith("SWE"):
        return [q for q in queries if q.dataset == "swe"]
    if name == "CoSQA dev":
        return [q for q in queries if q.dataset == "cosqa"]
    multi = [q for q in queries if q.dataset == "multiswe"]
    return multi if name.endswith("(all)") else [q for q in multi if name.endswith(" " + q.language)]


def metrics(ranks: list[dict[str, int | None]], has_funcs: list[bool], cosqa: bool) -> dict[str, float]:
    n = len(ranks) or 1
    if cosqa:
        files = [r["file"] for r in ranks]
        return {"MRR": round(sum(1 / f for f in files if f) / n, 4),
                **{f"R@{k}": round(100 * sum(bool(f and f <= k) for f in files) / n, 1) for k in (1, 5, 10)}}
    out = {f"file@{k}": round(100 * sum(bool(r["file"] and r["file"] <= k) for r in ranks) / n, 1)
           for k in FILE_KS}
    with_funcs = [r for r, h in zip(ranks, has_funcs, strict=True) if h]
    for k in FUNC_KS:
        hits = sum(bool(r["func"] and r["func"] <= k) for r in with_funcs)
        out[f"func@{k}"] = round(100 * hits / len(with_funcs), 1) if with_funcs else float("nan")
    return out


def summarise(queries: list[Query], cv: dict[str, dict[str, int | None]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in SETS:
        qs = members(queries, name)
        if not qs:
            continue
        cosqa = name == "CoSQA dev"
        has = [bool(q.gold_funcs) for q in qs]
        systems: dict[str, dict[str, float]] = {
            s: metrics([q.baselines[s] for q in qs], has, cosqa) for s in ("BM25", "hand-set")
            if s in qs[0].baselines}
        systems["learned (CV)"] = metrics([cv[f"{q.dataset}:{q.instance_id}"] for q in qs], has, cosqa)
        systems["auto (CV)"] = metrics([auto_ranks(q, cv) for q in qs], has, cosqa)
        out[name] = {"rows": len(qs), "rows_with_functions": sum(has), "systems": systems,
                     "long_queries": sum(q.candidates.shape.long for q in qs)}
    return out


def auto_ranks(q: Query, cv: dict[str, dict[str, int | None]]) -> dict[str, int | None]:
    """`fusion = "auto"`: the held-out learned ranks for a long query, hand-set's for a short one."""
    return cv[f"{q.dataset}:{q.instance_id}"] if q.candidates.shape.long else q.baselines["hand-set"]


def render(summary: dict[str, dict[str, Any]], queries: list[Query], cv: dict[str, dict[str, int | None]],
           model: learned.LearnedModel, meta: dict[str, str], packs: dict[str, dict[str, bool]]) -> str:
    cols = [f"file@{k}" for k in FILE_KS] + [f"func@{k}" for k in FUNC_KS]
    lines = [
        "# Learned fusion: leave-one-repository-out cross-validation",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['machine']}; load average at start {meta['load_start']}, at end {meta['load_end']}",
        f"- command: `{meta['command']}` ({meta['seconds']} s)",
        "- model: two logistic regressions (retrieve/learned.py): chunks over the search signals, "
        f"files over their chunks' logits; {meta['l2']}; every query weighs the same",
        "- CV: each issue row is ranked by a model fitted without its repository (SWE-bench 5 "
        "projects, Multi-SWE 10); each CoSQA question by one fitted without its fold (5 folds)",
        "- issue rows: lexical index (no vectors) for every system; CoSQA: "
        f"{meta['cosqa_vectors']}",
        f"- the fit ranks over arrays; learned.rank_learned (what search runs) gives the same gold ranks with "
        f"the final model on {meta['agree']} queries",
        "- BM25: the shared tool's scorer over the files and chunks PRISM indexed "
        "(multiswe_eval.bm25_ranks), per row",
        "- auto: `fusion = \"auto\"`, the learned (CV) ranks for long queries (issue texts) and "
        "hand-set's for short ones; long queries per set: "
        + ", ".join(f"{name} {s['long_queries']}/{s['rows']}" for name, s in summary.items()),
        "",
        "| set | system | rows (with functions) | " + " | ".join(f"Acc@{c.split('@')[1]} {c.split('@')[0]}"
                                                         for c in cols) + " |",
        "|---|---|---:|" + "---:|" * len(cols),
    ]
    for name, s in summary.items():
        if name == "CoSQA dev":
            continue
        for system, vals in s["systems"].items():
            lines.append(f"| {name} | {system} | {s['rows']} ({s['rows_with_functions']}) | "
                         + " | ".join(str(vals.get(c, "")) for c in cols) + " |")
    if "CoSQA dev" in summary:
        s = summary["CoSQA dev"]
        lines += ["", f"CoSQA dev ({s['rows']} questions):", "", "| system | MRR | R@1 | R@5 | R@10 |",
                  "|---|---:|---:|---:|---:|"]
        for system, vals in s["systems"].items():
            lines.append(f"| {system} | {vals['MRR']} | {vals['R@1']} | {vals['R@5']} | {vals['R@10']} |")
    if packs:
        lines += ["", f"SWE-bench Lite dev, gold function in full (or light) in the {PACK_BUDGET}-token pack "
                  f"({len(packs)} rows with gold functions; lexical index):", "",
                  "| system | rows | % |", "|---|---:|---:|"]
        for system in ("hand-set", "learned (CV)", "auto (CV)"):
            hits = sum(p.get(system, False) for p in packs.values())
            lines.append(f"| {system} | {hits} | {100 * hits / len(packs):.1f} |")
    lines += ["", "Weights of the model fitted on all rows (logit units; features in [0, 1]):", "",
              "| chunk feature | weight |", "|---|---:|", f"| (bias) | {model.chunk.bias:.3f} |"]
    lines += [f"| {k} | {v:.3f} |" for k, v in model.chunk.weights.items()]
    lines += ["", "| file feature | weight |", "|---|---:|", f"| (bias) | {model.file.bias:.3f} |"]
    lines += [f"| {k} | {v:.3f} |" for k, v in model.file.weights.items()]
    lines += ["", "Per issue row: rank of the last gold file / last gold function (– = not in the top 100).",
              "", "| row | language | BM25 | hand-set | learned (CV) |", "|---|---|---:|---:|---:|"]
    for q in queries:
        if q.dataset == "cosqa":
            continue
        cells = [q.baselines["BM25"], q.baselines["hand-set"], cv[f"{q.dataset}:{q.instance_id}"]]
        lines.append(f"| {q.instance_id} | {q.language} | "
                     + " | ".join(f"{c['file'] or '–'}/{c['func'] or '–'}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    global COSQA_WEIGHT, ISSUE_L2
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="write the markdown report here (and the JSON beside it)")
    ap.add_argument("--write-weights", action="store_true", help="write the final model into the package")
    ap.add_argument("--reuse", action="store_true", help="refit from the rows the last run cached")
    ap.add_argument("--parts", nargs="+", default=["issues", "cosqa"], choices=["issues", "cosqa"],
                    help="which rows to search for (the others are read from the cache when there)")
    ap.add_argument("--collect-only", action="store_true",
                    help="search and cache the --parts rows, then stop (run parts side by side, then --reuse)")
    ap.add_argument("--limit-rows", type=int, help="only this many rows per set (a quick check)")
    ap.add_argument("--tag", default="", help="keep the searched rows in caches of this name "
                                              "(an experiment beside the default cache)")
    ap.add_argument("--l2", type=float, default=L2)
    ap.add_argument("--l2-grid", type=float, nargs="+", default=[],
                    help="choose L2 from these by nested CV (inside each split; the final model's by "
                         "the same inner CV on all rows) instead of --l2")
    ap.add_argument("--cosqa-weight", type=float, default=COSQA_WEIGHT,
                    help="weight of all CoSQA questions together, the issue rows' being 1 (0: fit on issues alone)")
    ap.add_argument("--issue-l2", type=float, default=ISSUE_L2,
                    help="L2 of the issue-text-only features (learned.ISSUE_FEATURES), as a share of --l2")
    ap.add_argument("--drop", nargs="+", default=[], choices=learned.CHUNK_FEATURES,
                    help="fit without these chunk features (an ablation)")
    ap.add_argument("--packs", action="store_true",
                    help=f"also pack SWE-bench rows at {PACK_BUDGET} tokens with each fusion")
    a = ap.parse_args()
    DROPPED.update(a.drop)
    COSQA_WEIGHT = a.cosqa_weight
    ISSUE_L2 = a.issue_l2
    started = time.time()
    load_start = evaldata.load_average()
    queries: list[Query] = []
    for part, collect in (("issues", collect_issues), ("cosqa", collect_cosqa)):
        cache = evaldata.cache_dir() / CACHE.format(part + (f"-{a.tag}" if a.tag else ""))
        if part in a.parts and not a.reuse:
            rows = collect(a.limit_rows)
            cache.write_bytes(pickle.dumps(rows))
            queries += rows
        elif cache.is_file() and not a.collect_only:
            queries += pickle.loads(cache.read_bytes())
    if a.collect_only:
        return
    grid = tuple(a.l2_grid)
    cv, models, chosen = cross_validate(queries, a.l2, grid)
    final_l2 = choose_l2(queries, grid) if grid else a.l2
    packs = packs_at(queries, models) if a.packs else {}
    summary = summarise(queries, cv)
    model = fit(queries, final_l2)
    agree = sum(learned_ranks(model, q) == reference_ranks(model, q) for q in queries)
    cosqa_q = [q for q in queries if q.dataset == "cosqa"]
    vectors = any("cosine" in s for q in cosqa_q for s in q.candidates.signals.values())
    picks = collections.Counter(chosen.values())
    l2_text = (f"L2 chosen from {list(grid)} by a {INNER_FOLDS}-fold CV inside each split (chosen: "
               + ", ".join(f"{v} in {n} splits" for v, n in sorted(picks.items()))
               + f"; final model {final_l2})") if grid else f"L2 {a.l2}"
    l2_text += f" ({ISSUE_L2:g} × that for {', '.join(learned.ISSUE_FEATURES)})" if ISSUE_L2 != 1 else ""
    l2_text += (f"; CoSQA's questions together weigh {COSQA_WEIGHT:g} × the issue rows together"
                + (f"; features held at 0: {', '.join(sorted(DROPPED))}" if DROPPED else ""))
    meta = {"l2": l2_text, "date": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"), "machine": evaldata.machine(),
            "load_start": load_start, "load_end": evaldata.load_average(),
            "command": "PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/fit_fusion.py "
                       + " ".join(sys.argv[1:]),
            "seconds": f"{time.time() - started:.0f}",
            "agree": f"{agree}/{len(queries)}",
            "cosqa_vectors": ("hybrid candidates (lexical + bundled MiniLM vectors)" if vectors
                              else "lexical candidates (no vectors)") if cosqa_q else "not run"}
    table = render(summary, queries, cv, model, meta, packs)
    print(table)
    if a.out:
        a.out.write_text(table, encoding="utf-8")
        a.out.with_suffix(".json").write_text(json.dumps(
            {"meta": meta, "summary": summary, "model": model.to_dict(), "packs_8k": packs,
             "rows": [{"set": q.dataset, "instance_id": q.instance_id, "repo": q.group,
                       "language": q.language, "gold_files": q.gold_files, "gold_functions": q.gold_funcs,
                       "ranks": {**q.baselines, "learned (CV)": cv[f"{q.dataset}:{q.instance_id}"]}}
                      for q in queries]}, indent=1), encoding="utf-8")
    if a.write_weights:
        final = learned.LearnedModel(model.chunk, model.file, {
            "fitted": meta["date"], "command": meta["command"],
            "data": {"swe": sum(q.dataset == "swe" for q in queries),
                     "multiswe": sum(q.dataset == "multiswe" for q in queries), "cosqa": len(cosqa_q),
                     "issue_rows": "lexical index, no vectors", "cosqa_candidates": meta["cosqa_vectors"]},
            "cv": {name: s["systems"]["learned (CV)"] for name, s in summary.items()},
            "cv_auto": {name: s["systems"]["auto (CV)"] for name, s in summary.items()},
            "features": list(learned.CHUNK_FEATURES), "file_features": list(learned.FILE_FEATURES)})
        learned.WEIGHTS_FILE.write_text(json.dumps(final.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {learned.WEIGHTS_FILE}", file=sys.stderr)


if __name__ == "__main__":
    main()
