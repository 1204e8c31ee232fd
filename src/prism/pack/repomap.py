"""A map of the repository: the file tree with each file's top symbols, within an exact budget.

Symbols are ranked by PageRank over the code graph the index holds: a chunk that calls or
imports a name points at the chunks defining it, so what much of the code uses ranks high
(aider's repo map does the same over its own tags). A focus (search hits, paths) personalises
the walk. Over the budget the map degrades in order: fewer symbols (the lowest-ranked go
first), then fewer files (the lowest-ranked fold into "… N more files" under their folder),
then a cut — it never exceeds the budget.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from prism.models import StoredChunk
from prism.pack.tokens import Tokenizer, truncate_to_tokens

SYMBOL_KINDS = frozenset({"class", "function", "method"})
DAMPING = 0.85
MAX_DEFINITIONS = 10  # a name defined in more places says little about which one is used
MAX_SYMBOLS_PER_FILE = 12
FOCUS_WEIGHT = 50.0  # a focus chunk's share of the restart vector, against 1 for every other
SIGNATURE_CHARS = 110


@dataclass(frozen=True)
class MapSymbol:
    name: str
    kind: str
    line: int
    signature: str
    rank: float

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "line": self.line, "signature": self.signature,
                "rank": round(self.rank, 6)}


@dataclass(frozen=True)
class MapFile:
    path: str
    rank: float
    symbols: tuple[MapSymbol, ...]  # those shown, in line order

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "rank": round(self.rank, 6), "symbols": [s.to_dict() for s in self.symbols]}


@dataclass(frozen=True)
class RepoMap:
    text: str
    tokens: int  # of `text`, with the tokenizer named (≤ budget)
    budget: int
    tokenizer: str
    files: tuple[MapFile, ...]  # the files shown, in tree order
    total_files: int
    total_symbols: int

    def to_dict(self) -> dict[str, object]:
        return {"budget": self.budget, "tokens": self.tokens, "tokenizer": self.tokenizer,
                "total_files": self.total_files, "total_symbols": self.total_symbols,
                "files": [f.to_dict() for f in self.files], "text": self.text}


def pagerank(n: int, edges: dict[tuple[int, int], float], restart: np.ndarray,
             iterations: int = 100, tol: float = 1e-10) -> np.ndarray:
    """Personalised PageRank by power iteration; nodes without out-edges restart."""
    rank = restart.copy()
    if not edges:
        return rank
    pairs = np.array(list(edges), dtype=np.int64)
    src, dst = pairs[:, 0], pairs[:, 1]
    weight = np.fromiter(edges.values(), dtype=np.float64, count=len(edges))
    out = np.bincount(src, weights=weight, minlength=n)
    share = weight / out[src]
    dangling = out == 0
    for _ in range(iterations):
        flowed = np.bincount(dst, weights=share * rank[src], minlength=n)
        new: np.ndarray = DAMPING * (flowed + rank[dangling].sum() * restart) + (1 - DAMPING) * restart
        if float(np.abs(new - rank).sum()) < tol:
            return new
        rank = new
    return rank


def name_weight(name: str, definitions: int) -> float:
    weight = 0.1 if definitions > 2 else 1.0
    short = name.rsplit(".", 1)[-1]
    if short.startswith("_"):
        weight *= 0.1
    elif len(short) >= 8 and ("_" in short or short != short.lower()):
        weight *= 3.0  # a long compound name is specific: it names one thing
    return weight


def rank_chunks(chunks: Sequence[StoredChunk], focus: Iterable[int] = ()) -> np.ndarray:
    """Each chunk's PageRank over calls/imports → definitions (sums to 1)."""
    n = len(chunks)
    defined: dict[str, list[int]] = {}
    for i, sc in enumerate(chunks):
        c = sc.chunk
        for name in {c.qualified_name, c.name, *c.defines} - {""}:
            defined.setdefault(name, []).append(i)
    edges: dict[tuple[int, int], float] = {}
    for i, sc in enumerate(chunks):
        uses = Counter((*sc.chunk.calls, *sc.chunk.imports))
        for name, times in uses.items():
            targets = [t for t in defined.get(name, ()) if t != i]
            if not 0 < len(targets) <= MAX_DEFINITIONS:
                continue
            # aider's weights: a name defined in many places (get, run) or private says less;
            # repeated use counts sub-linearly.
            weight = math.sqrt(times) / len(targets) * name_weight(name, len(targets))
            for t in targets:
                edges[(i, t)] = edges.get((i, t), 0.0) + weight
    restart = np.ones(n, dtype=np.float64)
    wanted = set(focus)
    for i, sc in enumerate(chunks):
        if sc.id in wanted:
            restart[i] = FOCUS_WEIGHT
    return pagerank(n, edges, restart / restart.sum()) if n else restart


def _signature(sc: StoredChunk) -> str:
    c = sc.chunk
    line = next((ln.strip() for ln in c.signature.splitlines() if ln.strip()), "")
    line = line.rstrip("{:").rstrip() or f"{c.kind} {c.qualified_name}"
    return line if len(line) <= SIGNATURE_CHARS else line[: SIGNATURE_CHARS - 1] + "…"


def _render(shown: dict[str, list[MapSymbol]], all_paths: Sequence[str], header: str) -> str:
    """The tree of the shown files; every other file counts in its nearest shown folder."""
    folders = {"/".join(p.split("/")[:k]) for p in shown for k in range(1, p.count("/") + 1)}
    more: dict[str, int] = {}
    for path in all_paths:
        if path in shown:
            continue
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        while parent and parent not in folders:
            parent = parent.rsplit("/", 1)[0] if "/" in parent else ""
        more[parent] = more.get(parent, 0) + 1
    sub_folders: dict[str, list[str]] = {}
    for folder in sorted(folders):
        sub_folders.setdefault(folder.rsplit("/", 1)[0] if "/" in folder else "", []).append(folder)
    files_in: dict[str, list[str]] = {}
    for path in sorted(shown):
        files_in.setdefault(path.rsplit("/", 1)[0] if "/" in path else "", []).append(path)
    lines = [header]

    def walk(folder: str, depth: int) -> None:
        pad = "  " * depth
        cut = len(folder) + 1 if folder else 0
        for sub in sub_folders.get(folder, ()):
            lines.append(f"{pad}{sub[cut:]}/")
            walk(sub, depth + 1)
        for path in files_in.get(folder, ()):
            lines.append(f"{pad}{path[cut:]}")
            lines.extend(f"{pad}  L{s.line} {s.signature}" for s in shown[path])
        if more.get(folder):
            count = more[folder]
            lines.append(f"{pad}… {count} more file{'s' if count != 1 else ''}")

    walk("", 0)
    return "\n".join(lines) + "\n"


def _largest_fitting(count: int, fits: Callable[[int], bool]) -> int:
    """The largest k in 0..count with fits(k), assuming fits is monotone (k=0 is the fallback)."""
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def build_map(chunks: Sequence[StoredChunk], tokenizer: Tokenizer, budget: int,
              focus: Iterable[int] = ()) -> RepoMap:
    """The map of these chunks' files in at most `budget` tokens of text."""
    ranks = rank_chunks(chunks, focus)
    file_rank: dict[str, float] = {}
    symbols: list[tuple[str, MapSymbol]] = []
    for sc, rank in zip(chunks, ranks.tolist(), strict=True):
        c = sc.chunk
        file_rank[c.path] = file_rank.get(c.path, 0.0) + rank
        if c.kind in SYMBOL_KINDS and c.qualified_name:
            symbols.append((c.path, MapSymbol(c.qualified_name, c.kind, c.start_line, _signature(sc), rank)))
    per_file: dict[str, int] = {}
    ranked_symbols = []  # best first, at most MAX_SYMBOLS_PER_FILE per file
    for path, sym in sorted(symbols, key=lambda ps: (-ps[1].rank, ps[0], ps[1].line)):
        if per_file.get(path, 0) < MAX_SYMBOLS_PER_FILE:
            per_file[path] = per_file.get(path, 0) + 1
            ranked_symbols.append((path, sym))
    ranked_files = sorted(file_rank, key=lambda p: (-file_rank[p], p))
    all_paths = sorted(file_rank)
    header = f"Repository map: {len(all_paths)} files; top symbols by code-graph rank (L = line)"

    def layout(n_files: int, n_symbols: int) -> dict[str, list[MapSymbol]]:
        shown: dict[str, list[MapSymbol]] = {p: [] for p in ranked_files[:n_files]}
        for path, sym in ranked_symbols[:n_symbols]:
            if path in shown:
                shown[path].append(sym)
        for syms in shown.values():
            syms.sort(key=lambda s: s.line)
        return shown

    def fits(n_files: int, n_symbols: int) -> bool:
        return tokenizer.count(_render(layout(n_files, n_symbols), all_paths, header)) <= budget

    n_files = len(ranked_files)
    n_symbols = _largest_fitting(len(ranked_symbols), lambda k: fits(n_files, k))
    if n_symbols == 0 and not fits(n_files, 0):
        if not fits(0, 0):
            header = ""  # a tiny budget: the summary line is worth more than the title
        n_files = _largest_fitting(len(ranked_files), lambda k: fits(k, 0))
    shown = layout(n_files, n_symbols)
    text = _render(shown, all_paths, header).lstrip("\n")
    if tokenizer.count(text) > budget:  # not even the one summary line fits
        text = truncate_to_tokens(tokenizer, text, budget)
    files = tuple(MapFile(p, file_rank[p], tuple(shown[p])) for p in sorted(shown))
    return RepoMap(text=text, tokens=tokenizer.count(text), budget=budget, tokenizer=tokenizer.name,
                   files=files, total_files=len(all_paths), total_symbols=len(symbols))
