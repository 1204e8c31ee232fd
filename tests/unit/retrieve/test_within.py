"""Tests for prism.retrieve.within: the chunk that raises the error message an issue quotes."""

from __future__ import annotations

from pathlib import Path

from prism.config import Settings
from prism.engine import Prism
from prism.retrieve.query import parse_query
from prism.retrieve.within import message_fragments

ISSUE = """Linting a file with a doubled semicolon fails

I ran the linter on a small script and every time it stops with this error message, which
makes the whole run fail. The same script with a single semicolon works as expected, so the
parser seems to drop the second one somewhere while it matches the sequence of statements.

RuntimeError: Dropped elements in sequence matching! 'select id from tbl;;' != ';'
"""

HELPERS = '''"""Parser helpers."""


def check_still_complete(segments, matched, unmatched):
    """Check that the segments in are the same as the segments out."""
    initial = "".join(s.raw for s in segments)
    current = "".join(s.raw for s in matched + unmatched)
    if initial != current:
        raise RuntimeError(
            "Dropped elements in sequence matching! {!r} != {!r}".format(initial, current)
        )
    return True


def trim_sequence(segments, matched):
    """Drop the matched sequence elements from the segments of a statement."""
    return [s for s in segments if s not in matched]


def count_sequence_elements(segments):
    """How many elements a matched sequence of segments holds."""
    return len(segments)
'''


def test_fragments_keep_the_fixed_words_of_a_message() -> None:
    assert message_fragments(parse_query(ISSUE)) == ("dropped elements in sequence matching",)
    # Apostrophes in prose are no quoted message; two-word pieces are too common to count.
    assert message_fragments(parse_query("I've tried it but it isn't clear.\nValueError: bad x 3")) == ()


def test_the_function_raising_the_quoted_message_ranks_first(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "helpers.py").write_text(HELPERS)
    engine = Prism(repo, settings=Settings(home=tmp_path / "home", embedder="hashing", threads=1))
    engine.index(embed=False)
    hits = engine.search(ISSUE, limit=3)
    assert hits[0].chunk.chunk.qualified_name == "check_still_complete"
    assert hits[0].explain["raises"] > 0
    engine.close()
