"""Tests for prism.retrieve.trace (locations in the shapes people paste) and exact.frame_chunks."""

from __future__ import annotations

from prism.models import ChunkHead
from prism.retrieve.exact import frame_chunks
from prism.retrieve.trace import Frame, find_frames

IPYTHON_OLD = """\
TypeError                                 Traceback (most recent call last)
<ipython-input-13-f5424e3db16a> in <module>
----> 5 pv = pvlib.pvsystem.PVSystem(arrays=array)

~\\anaconda3\\lib\\site-packages\\pvlib\\pvsystem.py in __init__(self, arrays, surface_tilt)
    252             ),)
--> 253         elif len(arrays) == 0:
    254             raise ValueError("PVSystem must have at least one Array. "
"""


def test_old_ipython_frames_take_the_arrow_line() -> None:
    assert find_frames(IPYTHON_OLD) == (
        Frame("~/anaconda3/lib/site-packages/pvlib/pvsystem.py", 253, "__init__"),)


def test_new_ipython_frames_keep_the_method_name() -> None:
    text = "File ~/xarray/core/dataset.py:1234, in Dataset.to_dict(self, data)\n   1233 x = 1"
    assert find_frames(text) == (Frame("~/xarray/core/dataset.py", 1234, "to_dict"),)


def test_jvm_traces_are_turned_round_so_the_failing_frame_comes_last() -> None:
    text = ("Caused by: java.lang.NullPointerException\n"
            "\tat com.fasterxml.jackson.core.JsonFactory.createParser(JsonFactory.java:889)\n"
            "\tat com.google.jib.json.JsonTemplateMapper.readJson (JsonTemplateMapper.java:118)\n"
            "\tat com.google.jib.Caller.<init>(Caller.java:194)\n")
    assert find_frames(text) == (Frame("com/google/jib/Caller.java", 194, "Caller"),
                                 Frame("com/google/jib/json/JsonTemplateMapper.java", 118, "readJson"),
                                 Frame("com/fasterxml/jackson/core/JsonFactory.java", 889, "createParser"))


def test_path_line_mentions_in_prose_and_links() -> None:
    text = ("The problem is in `jsonrep.py` at line 227. It panics at src/vec.rs:120:9, see "
            "https://github.com/o/r/blob/main/pkg/io.py#L42 and line 7 of setup/config.py.")
    frames = find_frames(text)
    assert frames[:2] == (Frame("jsonrep.py", 227, ""), Frame("src/vec.rs", 120, ""))
    assert frames[2] == Frame("pkg/io.py", 42, "")
    assert frames[3:] == (Frame("setup/config.py", 7, ""),)


def test_a_cpython_frame_is_read_once() -> None:
    text = 'File "/site/pkg/core.py", line 3, in run\n    go()'
    assert find_frames(text) == (Frame("/site/pkg/core.py", 3, "run"),)


def test_versions_and_urls_are_not_locations() -> None:
    assert find_frames("pydicom 2.1.0 on python3.9, https://example.com:8080/x") == ()


def _head(cid: int, name: str, qualified: str, start: int, end: int) -> ChunkHead:
    return ChunkHead(id=cid, path="pkg/fields.py", language="python", kind="method", name=name,
                     qualified_name=qualified, start_line=start, end_line=end, tokens=10,
                     indexed_at=0.0)


HEADS = [_head(1, "bind", "Field.bind", 10, 20), _head(2, "bind", "List.bind", 30, 40),
         _head(3, "bind", "DateTime.bind", 50, 60), _head(4, "other", "DateTime.other", 61, 70)]


def test_the_frames_function_nearest_its_line_wins_over_namesakes() -> None:
    assert frame_chunks(Frame("fields.py", 52, "bind"), HEADS) == {1: 0.5, 2: 0.5, 3: 1.0}
    # Lines drift between versions: the namesake nearest the line is still the frame's function.
    assert frame_chunks(Frame("fields.py", 64, "bind"), HEADS)[3] == 1.0


def test_a_frame_without_a_function_names_the_chunk_holding_its_line() -> None:
    assert frame_chunks(Frame("fields.py", 35, ""), HEADS) == {2: 1.0}
    assert frame_chunks(Frame("fields.py", 35, "gone"), HEADS) == {2: 0.5}
