"""Selection by value per token under a hard budget, degrading chunks instead of dropping them.

Each candidate has a value (from its rank, its intent weight and why it was pulled in) and a
cost at every level of the ladder (the exact tokens of its block in the chosen format). The
greedy walks the upper convex hull of each candidate's (cost, value) options, always taking
the step with the best value per token that still fits, the standard greedy for a
multiple-choice knapsack. A step that does not fit falls back to the best cheaper level
that does. Nested spans are de-duplicated (a chunk inside one shown in full or light is
dropped), overlapping windows are trimmed, and the result is rendered and counted with the
real tokenizer; if the exact count exceeds the budget the selection is redone with less room.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from prism.errors import InputError
from prism.ingest.paths import place_of
from prism.models import LEVELS, Chunk, Level, StoredChunk
from prism.pack.assemble import Frame, assemble, chunk_block, file_header, omitted_entry, ordered, render_text
from prism.pack.degrade import render
from prism.pack.intent import IntentProfile
from prism.pack.memo import Memo
from prism.pack.pieces import block_count
from prism.pack.prices import block_prices
from prism.pack.records import OmittedChunk, PackedChunk, Savings
from prism.pack.tokens import Tokenizer, truncate_to_tokens

MANIFEST_RESERVE_TOKENS = 200  # 5 % of the budget (more when tiny): a few `prism show` handles
MIN_BUDGET = 16
MAX_MANIFEST = 25
MAX_PRICING_ROUNDS = 6  # 4 left a fifth of JSON packs to the eager fallback (p95 243 → 122 ms)


@dataclass(frozen=True)
class Candidate:
    """A chunk that may go into the pack, with its value (1.0 for the best hit)."""

    chunk: StoredChunk
    value: float
    score: float = 0.0
    reason: str = "hit"


@dataclass(frozen=True)
class Packed:
    """The final, exactly counted output of `pack_candidates`."""

    text: str
    tokens: int
    chunks: tuple[PackedChunk, ...]
    omitted: tuple[OmittedChunk, ...]
    omitted_total: int
    savings_shown: bool
    savings: Savings | None = None


def handle_of(chunk: Chunk) -> str:
    """A short handle for `prism show`: the start of the chunk's content hash."""
    return chunk.content_hash[:12]


def symbol_of(chunk: Chunk) -> str:
    return chunk.qualified_name or chunk.name


def is_test_path(path: str) -> bool:
    return place_of(path) == "tests"


def rank_value(rank: int, profile: IntentProfile) -> float:
    """Value of the hit at 0-based `rank`: a power-law fall-off (the head matters most)."""
    return float((1.0 + rank) ** -profile.rank_exponent)


def merge_candidates(candidates: Sequence[Candidate]) -> list[Candidate]:
    """One candidate per chunk id (highest value wins), best first; overlapping windows trimmed."""
    best: dict[int, Candidate] = {}
    for cand in candidates:
        seen = best.get(cand.chunk.id)
        if seen is None or cand.value > seen.value:
            best[cand.chunk.id] = cand
    ordered = sorted(best.values(), key=lambda c: -c.value)
    spans: dict[str, list[tuple[int, int]]] = {}
    out: list[Candidate] = []
    for cand in ordered:
        chunk = cand.chunk.chunk
        if chunk.kind == "window":
            trimmed = _trim_window(chunk, spans.get(chunk.path, []))
            if trimmed is None:
                continue
            if trimmed is not chunk:
                cand = replace(cand, chunk=replace(cand.chunk, chunk=trimmed))
                chunk = trimmed
            spans.setdefault(chunk.path, []).append((chunk.start_line, chunk.end_line))
        out.append(cand)
    return out


def _trim_window(chunk: Chunk, taken: list[tuple[int, int]]) -> Chunk | None:
    start, end = chunk.start_line, chunk.end_line
    for a, b in taken:
        if a <= start and end <= b:
            return None
        if a <= start <= b:
            start = b + 1
        elif a <= end <= b:
            end = a - 1
    if (start, end) == (chunk.start_line, chunk.end_line):
        return chunk
    if start > end:
        return None
    lines = chunk.content.split("\n")
    content = "\n".join(lines[start - chunk.start_line:end - chunk.start_line + 1])
    return replace(chunk, start_line=start, end_line=end, content=content, level_tokens=None)  # priced no more


# Process-wide memos: the same chunks come back for many queries in a warm process (an HTTP
# server, an MCP session), and a block's text and count depend only on the chunk and the
# frame. Count keys hold a hash and the length, never the text: a rare hash collision can only
# mis-price a candidate, and the final output is always counted exactly.
_COUNTED: Memo[tuple[object, ...], int] = Memo(100_000)  # (tokenizer, hash and length of a block) → tokens


def _count_key(tokenizer: Tokenizer, hashed: int, length: int) -> tuple[object, ...]:
    return ("c", tokenizer.name, hashed, length)


def count_cached(tokenizer: Tokenizer, text: str) -> int:
    """`tokenizer.count(text)`, memoised by (tokenizer, text)."""
    key = _count_key(tokenizer, hash(text), len(text))
    found = _COUNTED.get(key)
    if found is not None:
        return found
    tokens = tokenizer.count(text)
    _COUNTED.put(key, tokens)
    return tokens


def count_block(tokenizer: Tokenizer, text: str) -> int:
    """`count_cached` of a Markdown or XML block, counted as the pack's count will look it up
    (pieces.py): a block new to the process is counted once, for its price and the pack's count."""
    key = _count_key(tokenizer, hash(text), len(text))
    found = _COUNTED.get(key)
    if found is None:
        found = block_count(tokenizer, text, lambda part: count_cached(tokenizer, part))
        _COUNTED.put(key, found)
    return found


_Shape = tuple[int, int, int]  # (characters of the rendered code, of the block, hash of the block)


SHAPES_LIMIT = 20_000  # entries, about 1 kB each (the chunk record and the shapes; its text is shared)
_SHAPES: Memo[tuple[Chunk, str, bool], tuple[_Shape, ...]] = Memo(SHAPES_LIMIT)  # (chunk, format, numbers)


def _draft(cand: Candidate, level: Level) -> PackedChunk:
    """The candidate's block at `level` before its cost is known (tokens 0)."""
    chunk = cand.chunk.chunk
    return PackedChunk(
        path=chunk.path, start_line=chunk.start_line, end_line=chunk.end_line,
        symbol=symbol_of(chunk), kind=chunk.kind, language=chunk.language, level=level,
        tokens=0, handle=handle_of(chunk), content=render(chunk, level),
        score=cand.score, reason=cand.reason)


def block_shapes(cand: Candidate, frame: Frame) -> tuple[_Shape, ...]:
    """The shape of the candidate's draft block at each level (in LEVELS order), memoised.

    A block's text depends only on the chunk, the level and the frame's format and line
    numbers (never on the candidate's score or reason), so the shapes are kept process-wide.
    """
    key = (cand.chunk.chunk, frame.fmt, frame.line_numbers)
    found = _SHAPES.get(key)
    if found is None:
        shapes: list[_Shape] = []
        for level in LEVELS:
            draft = _draft(cand, level)
            text = chunk_block(draft, frame)
            shapes.append((len(draft.content), len(text), hash(text)))
        found = tuple(shapes)
        _SHAPES.put(key, found)
    return found


class _Costs:
    """Exact block cost of each candidate at each level, or an estimate (computed lazily)."""

    def __init__(self, candidates: Sequence[Candidate], frame: Frame, tokenizer: Tokenizer,
                 profile: IntentProfile) -> None:
        self.candidates = candidates
        self.frame = frame
        self.tokenizer = tokenizer
        utility = {"full": 1.0, "light": profile.light_utility, "skeleton": profile.skeleton_utility,
                   "signature": profile.signature_utility, "reference": profile.reference_utility}
        self._utilities = [(level, utility[level]) for level in reversed(LEVELS)]  # cheapest first
        self.containers, self.nested = _spans_within(candidates)
        self._shapes: list[tuple[_Shape, ...] | None] = [None] * len(candidates)
        self._prices: dict[int, tuple[int, ...] | None] = {}
        self._exact: dict[tuple[int, Level], int] = {}
        self._blocks: dict[tuple[int, Level], PackedChunk] = {}
        self._headers: dict[str, int] = {}
        # Lazy pricing: a chunk whose levels were priced at index time costs its stored counts
        # plus its block's frame (prices.py), trusted as exact. Other options not yet counted
        # are estimated from the chunk's own token density (tokens stored at index time per
        # character), scaled by how the estimates of counted blocks compared; `select` counts
        # exactly whatever the greedy picks on such estimates.
        self.lazy = True
        self._estimates: dict[tuple[int, Level], float] = {}
        self._estimated_sum = 0.0
        self._exact_sum = 0

    def cost(self, index: int, level: Level) -> int:
        """The block's exact cost when known (or lazy pricing is off), else an estimate."""
        key = (index, level)
        exact = self._exact.get(key)
        if exact is not None:
            return exact
        if not self.lazy:
            return self.packed(index, level).tokens
        prices = self.prices(index)
        if prices is not None:  # priced at index time: arithmetic, no parse and no count
            return prices[LEVELS.index(level)]
        estimate = self._estimates.get(key)
        if estimate is None:
            shapes = self._shapes[index]
            if shapes is None:
                shapes = self._shapes[index] = block_shapes(self.candidates[index], self.frame)
            content, text, hashed = shapes[LEVELS.index(level)]
            if self.frame.fmt != "json":
                counted = _COUNTED.get(_count_key(self.tokenizer, hashed, text))
                if counted is not None:  # counted before: exact for free (as `packed` counts it)
                    self._exact[key] = counted + 1
                    return counted + 1
            chunk = self.candidates[index].chunk.chunk
            density = chunk.tokens / len(chunk.content) if chunk.tokens > 0 and chunk.content else 0.3
            estimate = content * density + (text - content) / 2.5 + 1
            self._estimates[key] = estimate
        scale = self._exact_sum / self._estimated_sum if self._estimated_sum else 1.0
        return max(1, math.ceil(estimate * scale))

    def prices(self, index: int) -> tuple[int, ...] | None:
        """The candidate's block prices from its stored level tokens (None: not priced so)."""
        if index not in self._prices:
            cand = self.candidates[index]
            self._prices[index] = block_prices(lambda: _draft(cand, "full"), cand.chunk.chunk, self.frame,
                                               self.tokenizer)
        return self._prices[index]

    def is_exact(self, index: int, level: Level) -> bool:
        """Counted, or priced from stored level tokens (a token or two high at most, so the greedy
        trusts it; the pack is counted exactly at the end). Numbered full code is only estimated."""
        if (index, level) in self._exact:
            return True
        return self.prices(index) is not None and not (level == "full" and self.frame.line_numbers)

    def count_exactly(self, pairs: Sequence[tuple[int, Level]]) -> None:
        """Count the given options exactly (and learn how far the estimates were off)."""
        for index, level in pairs:
            if (index, level) in self._exact:
                continue
            estimate = self._estimates.get((index, level))
            exact = self.packed(index, level).tokens
            if estimate is not None:
                self._estimated_sum += estimate
                self._exact_sum += exact

    def packed(self, index: int, level: Level) -> PackedChunk:
        key = (index, level)
        block = self._blocks.get(key)
        if block is None:
            draft = _draft(self.candidates[index], level)
            cost = self._exact.get(key)
            prices = self.prices(index)
            if cost is None and prices is not None and level == "reference":
                cost = prices[-1]  # a reference's price is its whole block counted
            if cost is None:
                text = chunk_block(draft, self.frame)
                if self.frame.fmt != "json":
                    cost = count_block(self.tokenizer, text) + 1
                else:
                    cost = count_cached(self.tokenizer, text) + 1
                    # The block states its own size in JSON: count once more with the number in place.
                    again = count_cached(self.tokenizer, chunk_block(replace(draft, tokens=cost), self.frame)) + 1
                    cost = max(cost, again)
                self._exact[key] = cost
            block = self._blocks[key] = replace(draft, tokens=cost)
        return block

    def header(self, path: str) -> int:
        if path not in self._headers:
            opening, closing = file_header(path, self.frame)
            cost = (count_cached(self.tokenizer, opening) + 1 if opening else 0)
            cost += count_cached(self.tokenizer, closing) + 1 if closing else 0
            self._headers[path] = cost
        return self._headers[path]

    def options(self, index: int) -> list[tuple[Level, int, float]]:
        """(level, cost, value) on the upper hull: cost and value both strictly rising."""
        value = self.candidates[index].value
        points: list[tuple[Level, int, float]] = []
        for level, utility in self._utilities:  # cheapest first
            cost = self.cost(index, level)
            gain = value * utility
            while points and points[-1][1] >= cost:
                if points[-1][2] <= gain:
                    points.pop()
                else:
                    break
            if points and (points[-1][1] >= cost or points[-1][2] >= gain):
                continue
            points.append((level, cost, gain))
        return points


def _greedy(costs: _Costs, room: int) -> list[tuple[int, Level]]:
    """Chosen (candidate index, level) pairs in the order they were decided, within `room`."""
    count = len(costs.candidates)
    options = [costs.options(i) for i in range(count)]
    paths = [cand.chunk.chunk.path for cand in costs.candidates]
    headers = [costs.header(path) for path in paths]
    state = [-1] * count  # index into options[i]; -1 not chosen; -2 covered by a container
    files: dict[str, int] = {}
    used = 0
    heap: list[tuple[float, int, int]] = []

    def step(i: int) -> tuple[float, int] | None:
        """(value per token, option) of the best next step up candidate i's hull."""
        opts, cur = options[i], state[i]
        if cur >= 0:
            _, base_cost, base_value = opts[cur]
            extra = 0
        else:
            base_cost, base_value = 0, 0.0
            extra = 0 if files.get(paths[i]) else headers[i]
        best: tuple[float, int] | None = None
        for j in range(cur + 1, len(opts)):
            _, cost, value = opts[j]
            eff = (value - base_value) / max(cost - base_cost + extra, 1)
            if best is None or eff > best[0]:
                best = (eff, j)
        return best

    def push(i: int) -> None:
        found = step(i)
        if found is not None:
            heapq.heappush(heap, (-found[0], i, found[1]))

    def container_of(i: int) -> bool:
        return any(state[k] >= 0 and options[k][state[k]][0] in ("full", "light") for k in costs.containers[i])

    for i in range(count):
        push(i)
    while heap:
        neg, i, j = heapq.heappop(heap)
        if state[i] == -2 or j <= state[i]:
            continue
        found = step(i)
        if found is None:
            continue
        if abs(found[0] + neg) > 1e-12 or found[1] != j:  # stale priority: re-queue
            heapq.heappush(heap, (-found[0], i, found[1]))
            continue
        if state[i] == -1 and container_of(i):
            state[i] = -2
            continue
        path = paths[i]
        cur = state[i]
        base = options[i][cur][1] if cur >= 0 else headers[i] * (0 if files.get(path) else -1)
        fits = [k for k in range(cur + 1, len(options[i]))
                if used + options[i][k][1] - base <= room]
        if not fits:
            continue
        target = j if j in fits else fits[-1]
        used += options[i][target][1] - base
        if cur < 0:
            files[path] = files.get(path, 0) + 1
        state[i] = target
        if options[i][target][0] in ("full", "light"):
            used -= _drop_nested(i, costs, options, state, files)
        if target == j:
            push(i)
    return [(i, options[i][s][0]) for i, s in enumerate(state) if s >= 0]


def _drop_nested(i: int, costs: _Costs, options: list[list[tuple[Level, int, float]]],
                 state: list[int], files: dict[str, int]) -> int:
    """Remove chosen chunks nested inside candidate i (now shown in full/light); returns tokens freed."""
    freed = 0
    for k in costs.nested[i]:
        s = state[k]
        if s >= 0:
            freed += options[k][s][1]
            state[k] = -2
            files[costs.candidates[k].chunk.chunk.path] -= 1
    return freed


def _spans_within(candidates: Sequence[Candidate]) -> tuple[list[list[int]], list[list[int]]]:
    """For each candidate, the others whose span (same file) holds its own, and those its span holds."""
    by_path: dict[str, list[int]] = {}
    for i, cand in enumerate(candidates):
        by_path.setdefault(cand.chunk.chunk.path, []).append(i)
    containers: list[list[int]] = [[] for _ in candidates]
    nested: list[list[int]] = [[] for _ in candidates]
    for group in by_path.values():
        for i in group:  # ascending, so every nested[k] is in index order
            inner = candidates[i].chunk.chunk
            for k in group:
                outer = candidates[k].chunk.chunk
                if k != i and outer.start_line <= inner.start_line and inner.end_line <= outer.end_line:
                    containers[i].append(k)
                    nested[k].append(i)
    return containers, nested


def _select(costs: _Costs, room: int) -> list[tuple[int, Level]]:
    """The greedy on estimated prices, repeated with the picked options counted exactly.

    Stops when every picked option has its exact cost (then the picks fit `room` exactly as
    before); after MAX_PRICING_ROUNDS it counts everything, the eager behaviour.
    """
    for _ in range(MAX_PRICING_ROUNDS):
        chosen = _greedy(costs, room)
        missing = [pick for pick in chosen if not costs.is_exact(*pick)]
        if not missing:
            return chosen
        costs.count_exactly(missing)
    costs.lazy = False
    return _greedy(costs, room)


def pack_candidates(candidates: Sequence[Candidate], budget_tokens: int, tokenizer: Tokenizer,
                    frame: Frame, profile: IntentProfile,
                    savings_for: Callable[[Sequence[PackedChunk]], Savings | None] | None = None) -> Packed:
    """Select, degrade, render and count: the output's true token count is ≤ budget_tokens."""
    if budget_tokens < MIN_BUDGET:
        raise InputError(f"A budget of {budget_tokens} tokens cannot hold any context.",
                         hint=f"Ask for at least {MIN_BUDGET} tokens (100 or more is useful).",
                         value=budget_tokens)
    merged = merge_candidates(candidates)
    costs = _Costs(merged, frame, tokenizer, profile)
    empty = render_text([], [], len(merged), frame, budget_tokens, {})
    frame_cost = tokenizer.count(empty) + 2
    if savings_for is not None and frame.fmt == "json":
        # Keep room for the savings block when the budget is not tiny (it is dropped otherwise).
        dummy = Savings(999_999, 99, 999_999, 99, 99, 99).to_dict(budget_tokens)
        extra = tokenizer.count(render_text([], [], len(merged), frame, budget_tokens, dummy)) + 2 - frame_cost
        if extra * 3 <= budget_tokens:
            frame_cost += extra
    room = budget_tokens - frame_cost - 2 - budget_tokens // 200
    if len(merged) > 1:  # keep room for a few handles in the omitted manifest (one at least)
        room -= min(MANIFEST_RESERVE_TOKENS, max(budget_tokens // 20, min(48, budget_tokens // 5)))
    savings: Savings | None = None
    seen_paths: frozenset[str] = frozenset()
    for _ in range(8):
        chosen = _select(costs, room) if room > 0 else []
        chunks = [costs.packed(i, level) for i, level in chosen]
        picked = {c for c, _ in chosen}
        left = [i for i in range(len(merged)) if i not in picked]
        omitted_all = [_omitted(merged[i]) for i in left]
        omitted_all = _not_covered(omitted_all, chunks)
        if savings_for is not None and (savings is None or _paths(chunks) != seen_paths):
            savings, seen_paths = savings_for(chunks), _paths(chunks)
        # The parts' counts summed: what the chunks' text costs, save tokens merging where parts meet.
        parts = frame_cost + sum(c.tokens for c in chunks) + sum(map(costs.header, _paths(chunks)))
        result = _fit_manifest(chunks, omitted_all, frame, tokenizer, savings, budget_tokens, parts)
        if result is not None:
            return result
        _, tokens = assemble(chunks, [], len(omitted_all), frame, tokenizer, None)
        room -= max(tokens - budget_tokens, 0) + 4 + room // 20
        if room <= 0 and not chunks:
            break
    return _minimal(frame, tokenizer, budget_tokens, len(merged))


def _paths(chunks: Sequence[PackedChunk]) -> frozenset[str]:
    return frozenset(c.path for c in chunks)


def _omitted(cand: Candidate) -> OmittedChunk:
    chunk = cand.chunk.chunk
    return OmittedChunk(path=chunk.path, start_line=chunk.start_line, end_line=chunk.end_line,
                        symbol=symbol_of(chunk), handle=handle_of(chunk), tokens=chunk.tokens)


def _not_covered(omitted: list[OmittedChunk], chunks: Sequence[PackedChunk]) -> list[OmittedChunk]:
    shown = [(c.path, c.start_line, c.end_line) for c in chunks if c.level in ("full", "light")]
    return [o for o in omitted
            if not any(p == o.path and a <= o.start_line and o.end_line <= b for p, a, b in shown)]


def _fit_manifest(chunks: list[PackedChunk], omitted: list[OmittedChunk], frame: Frame,
                  tokenizer: Tokenizer, savings: Savings | None, budget: int, parts: int) -> Packed | None:
    """Add as many manifest entries (and the savings, in JSON) as fit; None if the chunks alone do not.

    `parts`: the chunks' text counted by parts (frame, file headers, blocks). Outside JSON the
    manifest is sized by it and the whole counted once; only when that is over the budget is
    the text without the manifest counted first, to size the manifest exactly.
    """
    if frame.fmt != "json" and parts <= budget:
        listed, _ = _entries(omitted, frame, tokenizer, budget - parts)
        text, tokens = assemble(chunks, listed, len(omitted), frame, tokenizer, None)
        if tokens <= budget:  # savings are not rendered outside JSON: the text is the same
            return Packed(text=text, tokens=tokens, chunks=tuple(ordered(chunks)), omitted=tuple(listed),
                          omitted_total=len(omitted), savings_shown=savings is not None, savings=savings)
    text, tokens = assemble(chunks, [], len(omitted), frame, tokenizer, None,
                            guess=sum(c.tokens for c in chunks))
    if tokens > budget:
        return None
    shown_savings = False
    if savings is not None and frame.fmt != "json":
        shown_savings = True  # not rendered outside JSON: the text is the same
    elif savings is not None:
        with_savings, counted = assemble(chunks, [], len(omitted), frame, tokenizer, savings, guess=tokens)
        if counted <= budget:
            text, tokens, shown_savings = with_savings, counted, True
    listed, used = _entries(omitted, frame, tokenizer, budget - tokens)
    while listed:
        attempt, counted = assemble(chunks, listed, len(omitted), frame, tokenizer,
                                    savings if shown_savings else None, guess=tokens + used)
        if counted <= budget:
            text, tokens = attempt, counted
            break
        listed.pop()
    return Packed(text=text, tokens=tokens, chunks=tuple(ordered(chunks)), omitted=tuple(listed),
                  omitted_total=len(omitted), savings_shown=shown_savings, savings=savings)


def _entries(omitted: list[OmittedChunk], frame: Frame, tokenizer: Tokenizer,
             spare: int) -> tuple[list[OmittedChunk], int]:
    """The first manifest entries whose counts fit in `spare` tokens (MAX_MANIFEST at most), and
    their tokens."""
    listed: list[OmittedChunk] = []
    used = 0
    for item in omitted[:MAX_MANIFEST]:
        cost = count_cached(tokenizer, omitted_entry(item, frame)) + 2
        if used + cost > spare:
            break
        listed.append(item)
        used += cost
    return listed, used


def _minimal(frame: Frame, tokenizer: Tokenizer, budget: int, total: int) -> Packed:
    """The frame alone, cut to the budget where the format allows; JSON must fit whole."""
    text, tokens = assemble([], [], 0, frame, tokenizer, None)
    if tokens <= budget:
        return Packed(text, tokens, (), (), total, False)
    if frame.fmt == "json":
        raise InputError(f"A budget of {budget} tokens is too small for the JSON frame ({tokens} tokens).",
                         hint=f"Ask for at least {tokens} tokens, or use --format markdown.", value=budget)
    cut = truncate_to_tokens(tokenizer, text, budget)
    return Packed(cut, tokenizer.count(cut), (), (), total, False)
