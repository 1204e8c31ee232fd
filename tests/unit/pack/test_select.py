"""Selection under the budget: the exact-count property, degradation order, de-duplication."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pack_samples import make_chunk, make_hits, priced

from prism.errors import InputError
from prism.models import Hit, StoredChunk
from prism.pack import degrade, select
from prism.pack.assemble import Frame, chunk_block
from prism.pack.packer import build_pack
from prism.pack.records import FORMATS, Pack, PackedChunk
from prism.pack.tokens import Tokenizer, get_tokenizer

QUERIES = st.sampled_from(["fix the crash in load", "how does storage work", "add a cache",
                           "write tests for func_3", "where is func_9 defined", "rename Store", "x"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES, budget=st.integers(min_value=100, max_value=50_000),
       count=st.integers(min_value=0, max_value=60), seed=st.integers(min_value=0, max_value=50),
       fmt=st.sampled_from(["markdown", "xml", "json"]),
       tokenizer_name=st.sampled_from(["cl100k_base", "o200k_base", "claude"]),
       line_numbers=st.booleans())
def test_output_never_exceeds_budget(query: str, budget: int, count: int, seed: int, fmt: str,
                                     tokenizer_name: str, line_numbers: bool) -> None:
    tokenizer = get_tokenizer(tokenizer_name)
    pack = build_pack(query, make_hits(count, seed=seed), budget_tokens=budget, tokenizer=tokenizer,
                      fmt=fmt, line_numbers=line_numbers)
    true_count = tokenizer.count(pack.text)
    assert true_count <= budget
    assert pack.tokens == true_count
    if fmt == "json":
        doc = json.loads(pack.text)
        assert doc["budget"] == budget and doc["tokens"] >= true_count - 2
        assert set(doc) >= {"budget", "tokens", "tokenizer", "intent", "chunks", "omitted", "savings"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES, budget=st.integers(min_value=100, max_value=20_000),
       count=st.integers(min_value=1, max_value=60), seed=st.integers(min_value=0, max_value=50),
       fmt=st.sampled_from(["markdown", "xml"]),
       tokenizer_name=st.sampled_from(["cl100k_base", "o200k_base", "claude"]),
       line_numbers=st.booleans(), error=st.integers(min_value=-6, max_value=3) | st.just(0))
def test_stored_prices_never_let_the_output_exceed_the_budget(query: str, budget: int, count: int, seed: int,
                                                              fmt: str, tokenizer_name: str, line_numbers: bool,
                                                              error: int) -> None:
    """Levels priced at index time are trusted by the greedy, and may be off (the separators between
    blocks, a wrong count): the pack is still counted exactly and kept within the budget. A chosen
    block's tokens come from its stored count (only its ends counted): exact when the store is
    right, off by no more than the store is when it is not."""
    tokenizer = get_tokenizer(tokenizer_name)
    hits = priced(make_hits(count, seed=seed), tokenizer, error=error)
    pack = build_pack(query, hits, budget_tokens=budget, tokenizer=tokenizer, fmt=fmt, line_numbers=line_numbers)
    assert pack.tokens == tokenizer.count(pack.text) <= budget
    frame = Frame(budget, tokenizer.name, pack.intent, pack.format, line_numbers)
    assert all(abs(c.tokens - tokenizer.count(chunk_block(c, frame)) - 1) <= abs(error) for c in pack.chunks)


@pytest.mark.parametrize("budget", [400, 1500, 3000, 8000, 20_000])
@pytest.mark.parametrize("seed", [3, 5])
def test_packs_priced_at_index_time_are_the_packs_of_exact_counts(budget: int, seed: int, tokenizer: Tokenizer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored prices make the greedy see (nearly) every option's exact cost, as counting all of them
    does; lazy pricing on the fly sees estimates for the options it did not pick, and may differ.
    XML is left out: a CDATA section priced for a level whose code no longer needs it runs ~4 high."""
    hits = make_hits(50, seed=seed)
    stored = build_pack("fix the crash in load", priced(hits, tokenizer), budget_tokens=budget, tokenizer=tokenizer)
    monkeypatch.setattr(select, "MAX_PRICING_ROUNDS", 0)  # count every option exactly (the eager greedy)
    exact = build_pack("fix the crash in load", hits, budget_tokens=budget, tokenizer=tokenizer)
    assert stored.text == exact.text


def test_prices_by_another_tokenizer_are_not_used(tokenizer: Tokenizer) -> None:
    hits = make_hits(30)
    wrong = priced(hits, get_tokenizer("o200k_base"), error=-50)  # far too low, and not this tokenizer's
    assert build_pack("q", wrong, budget_tokens=2000, tokenizer=tokenizer).text == \
        build_pack("q", hits, budget_tokens=2000, tokenizer=tokenizer).text


def test_top_hit_stays_full_and_tail_degrades(tokenizer: Tokenizer) -> None:
    pack = build_pack("fix the crash", make_hits(40), budget_tokens=3000, tokenizer=tokenizer)
    by_symbol = {c.symbol: c.level for c in pack.chunks}
    assert by_symbol["func_0"] == "full"
    assert {"skeleton", "signature", "reference"} & set(by_symbol.values())
    assert pack.omitted_total + len(pack.chunks) == 40


def test_more_budget_never_loses_the_top_hits(tokenizer: Tokenizer) -> None:
    hits = make_hits(30)
    small = build_pack("q", hits, budget_tokens=1500, tokenizer=tokenizer, intent="general")
    large = build_pack("q", hits, budget_tokens=6000, tokenizer=tokenizer, intent="general")
    assert len(large.chunks) >= len(small.chunks)
    full_small = {c.symbol for c in small.chunks if c.level == "full"}
    full_large = {c.symbol for c in large.chunks if c.level == "full"}
    assert full_small <= full_large


def test_chunks_of_a_file_are_together_in_line_order(tokenizer: Tokenizer) -> None:
    pack = build_pack("q", make_hits(20, files=3), budget_tokens=20_000, tokenizer=tokenizer)
    paths = [c.path for c in pack.chunks]
    assert len(paths) == 20
    for path in set(paths):
        first, last = paths.index(path), len(paths) - 1 - paths[::-1].index(path)
        assert set(paths[first:last + 1]) == {path}
        lines = [c.start_line for c in pack.chunks if c.path == path]
        assert lines == sorted(lines)
    assert pack.text.count("## pkg/m0.py") == 1


def test_nested_chunk_inside_a_full_container_is_dropped(tokenizer: Tokenizer) -> None:
    outer = make_chunk("class A:\n    def m(self):\n        return 1\n\n    def n(self):\n        return 2",
                       kind="class", name="A", start=10)
    inner = make_chunk("    def m(self):\n        return 1", kind="method", name="A.m", start=11)
    hits = [Hit(StoredChunk(1, inner, "s", 0.0), 1.0), Hit(StoredChunk(2, outer, "s", 0.0), 0.9)]
    pack = build_pack("q", hits, budget_tokens=4000, tokenizer=tokenizer)
    assert [c.symbol for c in pack.chunks] == ["A"]
    assert pack.omitted_total == 0


def test_overlapping_windows_are_trimmed(tokenizer: Tokenizer) -> None:
    text = "\n".join(f"line {n}" for n in range(1, 61))
    first = make_chunk(text, kind="window", language="text", path="notes.txt", start=1)
    second_text = "\n".join(f"line {n}" for n in range(51, 111))
    second = make_chunk(second_text, kind="window", language="text", path="notes.txt", start=51)
    hits = [Hit(StoredChunk(1, first, "s", 0.0), 1.0), Hit(StoredChunk(2, second, "s", 0.0), 0.5)]
    pack = build_pack("q", hits, budget_tokens=8000, tokenizer=tokenizer)
    spans = sorted((c.start_line, c.end_line) for c in pack.chunks)
    assert spans == [(1, 60), (61, 110)]
    assert pack.text.count("line 55\n") == 1


def test_duplicate_hits_count_once(tokenizer: Tokenizer) -> None:
    hits = make_hits(3)
    pack = build_pack("q", [*hits, replace(hits[0], score=0.1)], budget_tokens=8000, tokenizer=tokenizer)
    assert len(pack.chunks) == 3


def test_tiny_and_invalid_budgets(tokenizer: Tokenizer) -> None:
    with pytest.raises(InputError):
        build_pack("q", make_hits(3), budget_tokens=5, tokenizer=tokenizer)
    with pytest.raises(InputError):
        build_pack("q", make_hits(3), budget_tokens=0, tokenizer=tokenizer)
    with pytest.raises(InputError) as info:
        build_pack("q", make_hits(3), budget_tokens=100, tokenizer=tokenizer, fmt="yaml")
    assert "markdown" in info.value.hint
    pack = build_pack("q", make_hits(3), budget_tokens=20, tokenizer=tokenizer)
    assert tokenizer.count(pack.text) <= 20


def test_omitted_manifest_lists_handles(tokenizer: Tokenizer) -> None:
    pack = build_pack("q", make_hits(80), budget_tokens=2500, tokenizer=tokenizer, intent="bugfix")
    assert pack.omitted_total > 0 and pack.omitted
    assert all(o.handle in pack.text for o in pack.omitted)
    assert "prism show HANDLE" in pack.text


def test_packs_do_not_depend_on_the_render_and_shape_memos(tokenizer: Tokenizer) -> None:
    hits = make_hits(40, seed=5)
    cases = [(fmt, line_numbers, budget) for fmt in FORMATS for line_numbers in (False, True)
             for budget in (1500, 3000)]

    def pack(fmt: str, line_numbers: bool, budget: int) -> Pack:
        # Block counts do steer pricing outside JSON (a block counted before is priced
        # exactly), so every pack starts from the same (no) counts.
        select._COUNTED.clear()
        pack = build_pack("fix the crash in load", hits, budget_tokens=budget, tokenizer=tokenizer, fmt=fmt,
                          line_numbers=line_numbers)
        return replace(pack, seconds=0.0)

    cold = {}
    for case in cases:
        degrade._RENDERS.clear()
        select._SHAPES.clear()
        cold[case] = pack(*case)
    for case in cases:  # now with the rendered levels and shapes of every case memoised
        assert pack(*case) == cold[case]


def test_block_text_ignores_score_and_reason() -> None:
    """The shapes memo keys a block by its chunk and frame only; this is what makes that right."""
    block = PackedChunk(path="a.py", start_line=3, end_line=5, symbol="f", kind="function", language="python",
                        level="full", tokens=0, handle="0123456789ab", content="def f():\n    return 1",
                        score=0.5, reason="hit")
    for fmt in FORMATS:
        for line_numbers in (False, True):
            frame = Frame(budget=100, tokenizer="cl100k_base", intent="general", fmt=fmt, line_numbers=line_numbers)
            assert chunk_block(replace(block, score=9.0, reason="caller"), frame) == chunk_block(block, frame)
