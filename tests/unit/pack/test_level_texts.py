"""Lower levels stored as lines of the level above decode to the same texts, and cost little."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pack_samples import PY_SOURCE, make_chunk

from prism.pack import level_texts
from prism.pack.degrade import _render_levels

lines = st.lists(st.sampled_from(["", "x = 1", "    # note", "    return x", "def f():", "    ...", "}"])
                 | st.text(max_size=12), max_size=12)


@given(lines, lines, lines, lines)
def test_any_texts_round_trip(full: list[str], light: list[str], skeleton: list[str], signature: list[str]) -> None:
    texts = ("\n".join(light), "\n".join(skeleton), "\n".join(signature))
    assert level_texts.decode("\n".join(full), level_texts.encode("\n".join(full), texts)) == texts


def test_a_level_of_kept_lines_is_stored_as_their_numbers() -> None:
    full = "def f():\n    # why\n    x = 1\n\n    return x"
    stored = level_texts.encode(full, ("def f():\n    x = 1\n    return x", "def f():\n    ...", "def f():"))
    assert stored == '[[0,2,4],[0,"    ..."],[0]]'
    assert level_texts.decode(full, stored) == ("def f():\n    x = 1\n    return x", "def f():\n    ...", "def f():")
    assert level_texts.encode(full, (full, full, full)) == "[null,null,null]"  # equal to the level above


def test_real_levels_round_trip_in_fewer_characters_than_their_text() -> None:
    chunk = make_chunk(PY_SOURCE)
    full = chunk.content.rstrip("\n")
    rendered = _render_levels(chunk)
    stored = level_texts.encode(full, rendered)
    assert level_texts.decode(full, stored) == rendered
    assert len(stored) < len(rendered[0]) // 2
