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


def indexed_as_lines(lines: list[str], above: list[str]) -> list[level_texts.Item]:
    """`_as_lines` by an index of every line of `above` alone (before the look-ahead)."""
    from bisect import bisect_left

    where: dict[str, list[int]] = {}
    for k, line in enumerate(above):
        where.setdefault(line, []).append(k)
    items: list[level_texts.Item] = []
    start = 0
    for line in lines:
        found = where.get(line)
        k = found[bisect_left(found, start)] if found and found[-1] >= start else -1
        if k < 0:
            items.append(line)
            continue
        start = k + 1
        last = items[-1] if items else None
        if isinstance(last, int) and last == k - 1:
            items[-1] = [last, k]
        elif isinstance(last, list) and last[1] == k - 1:
            last[1] = k
        else:
            items.append(k)
    return items


long_lines = st.lists(st.sampled_from(["", "x = 1", "    # note", "    return x", "def f():", "    ...", "}"]),
                      max_size=40)


@given(long_lines, long_lines)
def test_the_look_ahead_stores_what_the_index_of_every_line_stores(lines: list[str], above: list[str]) -> None:
    assert level_texts._as_lines(lines, above) == indexed_as_lines(lines, above)
    kept = [line for i, line in enumerate(above) if i % 3]  # a level of kept lines, far apart
    assert level_texts._as_lines(kept, above) == indexed_as_lines(kept, above)


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
