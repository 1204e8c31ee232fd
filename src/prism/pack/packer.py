"""The pack stage in order: intent → candidates (hits, tests, closure) → select and degrade → assemble."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from prism.errors import InputError
from prism.ingest.paths import in_scope
from prism.models import Hit
from prism.pack.assemble import Frame
from prism.pack.closure import Graph, expand
from prism.pack.intent import INTENTS, Intent, detect_intent, profile_for
from prism.pack.records import FORMATS, Format, Pack, PackedChunk, Savings
from prism.pack.select import Candidate, is_test_path, pack_candidates, rank_value
from prism.pack.tokens import Tokenizer

MAX_BUDGET = 2_000_000


def resolve_intent(query: str, intent: str | None) -> Intent:
    """The intent asked for (validated), or the one detected from the query."""
    if intent is None or intent == "auto":
        return detect_intent(query)
    for known in INTENTS:
        if known == intent:
            return known
    raise InputError(f"Unknown intent {intent!r}.",
                     hint=f"Use one of: auto, {', '.join(INTENTS)}.", value=intent)


def check_request(budget_tokens: int, fmt: str) -> Format:
    if not 0 < budget_tokens <= MAX_BUDGET:
        raise InputError(f"The budget must be between 1 and {MAX_BUDGET:,} tokens, not {budget_tokens}.",
                         hint="Pass e.g. --budget 8000.", value=budget_tokens)
    for known in FORMATS:
        if known == fmt:
            return known
    raise InputError(f"Unknown output format {fmt!r}.", hint="Use markdown, xml or json.", value=fmt)


def candidates_for(hits: Sequence[Hit], intent: Intent, graph: Graph | None,
                   with_closure: bool, scope: str = "all") -> list[Candidate]:
    """Ranked hits as valued candidates, plus tests (test intent) and graph neighbours (--expand),
    the neighbours kept to `scope` as search kept the hits."""
    profile = profile_for(intent)
    out: list[Candidate] = []
    for rank, hit in enumerate(hits):
        value = rank_value(rank, profile)
        if is_test_path(hit.chunk.chunk.path):
            value *= profile.test_weight
        out.append(Candidate(hit.chunk, value, hit.score, "hit"))
    out.sort(key=lambda c: -c.value)
    neighbours: list[Candidate] = []
    if graph is not None and intent == "test":
        neighbours += expand(out, graph, profile, tests_only=True)
    if graph is not None and with_closure:
        neighbours += expand(out + neighbours, graph, profile)
    return out + [c for c in neighbours if in_scope(c.chunk.chunk.path, c.chunk.chunk.kind, scope)]


def build_pack(query: str, hits: Sequence[Hit], *, budget_tokens: int, tokenizer: Tokenizer,
               fmt: str = "markdown", intent: str | None = None, with_closure: bool = False,
               graph: Graph | None = None, line_numbers: bool = False, scope: str = "all",
               savings_for: Callable[[Sequence[PackedChunk]], Savings | None] | None = None) -> Pack:
    """Pack ranked hits into at most budget_tokens tokens of rendered output."""
    started = time.perf_counter()
    chosen_format = check_request(budget_tokens, fmt)
    chosen_intent = resolve_intent(query, intent)
    candidates = candidates_for(hits, chosen_intent, graph, with_closure, scope)
    frame = Frame(budget=budget_tokens, tokenizer=tokenizer.name, intent=chosen_intent,
                  fmt=chosen_format, line_numbers=line_numbers)
    packed = pack_candidates(candidates, budget_tokens, tokenizer, frame, profile_for(chosen_intent),
                             savings_for)
    return Pack(query=query, budget=budget_tokens, tokens=packed.tokens, tokenizer=tokenizer.name,
                intent=chosen_intent, format=chosen_format, text=packed.text, chunks=packed.chunks,
                omitted=packed.omitted, omitted_total=packed.omitted_total, savings=packed.savings,
                seconds=time.perf_counter() - started)
