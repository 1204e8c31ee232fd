"""Citations in an answer are found in every common spelling and checked against what the pack showed."""

from __future__ import annotations

from prism.llm.citations import check_citations
from prism.pack.records import PackedChunk


def chunk(path: str, start: int, end: int, level: str = "full") -> PackedChunk:
    return PackedChunk(path=path, start_line=start, end_line=end, symbol="f", kind="function", language="python",
                       level=level, tokens=10, handle="abc", content="x", score=1.0)  # type: ignore[arg-type]


PACK = [chunk("src/a.py", 10, 20), chunk("src/a.py", 21, 30, "skeleton"), chunk("src/b.py", 1, 5, "reference")]


def test_finds_and_checks_each_spelling() -> None:
    answer = ("See `src/a.py:10-20`, (src/a.py:12–18), ./src/a.py:15, src/a.py:15-28 across two chunks, "
              "src/a.py:5-12 starts before it, src/b.py:1-5 was only named, src/c.py:1-2 was never there, "
              "and src/a.py:10-20 again; not a URL http://host.com:8080/x nor a version v1.2:3.")
    found = {str(c): c.in_pack for c in check_citations(answer, PACK)}
    assert found == {"src/a.py:10-20": True, "src/a.py:12-18": True, "src/a.py:15-15": True,
                     "src/a.py:15-28": True, "src/a.py:5-12": False, "src/b.py:1-5": False, "src/c.py:1-2": False}


def test_a_reversed_range_is_read_in_order() -> None:
    [citation] = check_citations("src/a.py:20-10", PACK)
    assert (citation.start_line, citation.end_line, citation.in_pack) == (10, 20, True)


def test_no_citations() -> None:
    assert check_citations("I cannot tell from the context.", PACK) == []
