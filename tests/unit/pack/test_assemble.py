"""XML, Markdown and JSON assembly: code that looks like markup cannot break the output's structure."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from pack_samples import make_chunk

from prism.models import Hit, StoredChunk
from prism.pack.packer import build_pack
from prism.pack.tokens import Tokenizer

HOSTILE = [
    'def close():\n    return "</chunk></file></context>"\n',
    'def cdata():\n    s = "<![CDATA[ x ]]> y ]]>"\n    return s & 1 < 2\n',
    "def plain():\n    return 1 > 0\n",
]


def _hits() -> list[Hit]:
    return [Hit(StoredChunk(i + 1, make_chunk(text, path=f"pkg/m{i}.py", name=f"f{i}"), "sha", 0.0), 1.0 / (i + 1))
            for i, text in enumerate(HOSTILE)]


@pytest.mark.parametrize("line_numbers", [False, True])
def test_xml_output_parses_and_round_trips_markup_in_code(tokenizer: Tokenizer, line_numbers: bool) -> None:
    pack = build_pack("explain f0", _hits(), budget_tokens=4000, tokenizer=tokenizer, fmt="xml",
                      line_numbers=line_numbers)
    root = ET.fromstring(pack.text)  # raises if any chunk's code broke the structure
    assert root.tag == "context"
    chunks = [(f.attrib["path"], c) for f in root.iter("file") for c in f.iter("chunk")]
    assert len(chunks) == len(HOSTILE) == len(pack.chunks)
    by_path = {c.path: c for c in pack.chunks}
    for path, element in chunks:
        packed = by_path[path]
        assert packed.level == "full"
        text = (element.text or "").strip("\n")
        if line_numbers:
            text = "\n".join(line.split(" ", 1)[1] if " " in line else "" for line in text.split("\n"))
        assert text == packed.content
    assert tokenizer.count(pack.text) <= 4000


def test_xml_leaves_safe_code_unwrapped(tokenizer: Tokenizer) -> None:
    pack = build_pack("explain f2", _hits()[2:], budget_tokens=1000, tokenizer=tokenizer, fmt="xml")
    assert "CDATA" not in pack.text and "return 1 > 0" in pack.text


def test_markdown_fence_outgrows_backticks_in_code(tokenizer: Tokenizer) -> None:
    chunk = make_chunk('def doc():\n    return """```python\nx\n```"""\n', name="doc")
    pack = build_pack("explain doc", [Hit(StoredChunk(1, chunk, "sha", 0.0), 1.0)], budget_tokens=1000,
                      tokenizer=tokenizer)
    assert "````python" in pack.text


def test_json_content_round_trips(tokenizer: Tokenizer) -> None:
    pack = build_pack("explain f0", _hits(), budget_tokens=4000, tokenizer=tokenizer, fmt="json")
    doc = json.loads(pack.text)
    assert {c["content"] for c in doc["chunks"]} == {c.content for c in pack.chunks}
