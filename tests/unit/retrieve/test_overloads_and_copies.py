"""Two general rules of file ranking outside Python: an overloaded method (Java's thirty
`JSON.parseObject`) is one place, not thirty, so naming it still counts; and an amalgamated or
vendored copy of the sources (single_include/json.hpp) keeps less than a test file keeps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from prism.engine import Prism
from prism.models import Chunk, ChunkHead, StoredChunk
from prism.retrieve.exact import MAX_DEFINITIONS, _places, match_symbols
from prism.retrieve.place import place_share
from prism.retrieve.query import parse_query
from repos import lexical_prism


def _head(cid: int, path: str, qualified: str = "m") -> ChunkHead:
    chunk = Chunk(path=path, language="java", kind="method", name="m", qualified_name=qualified, signature="",
                  docstring="", start_line=1, end_line=1, content="m\n", content_hash="h", tokens=1)
    return StoredChunk(cid, chunk, "h", 0.0).head


class _Defs:
    """A symbol table: name → (chunk id, path) of its definitions (each chunk's qualified name
    is the name, less the owner for `Mode{i}.default`)."""

    def __init__(self, defs: dict[str, list[tuple[int, str]]]) -> None:
        self.defs = defs
        self.heads = {cid: _head(cid, path, f"T{cid}.{name}" if name == "default" else name)
                      for name, rows in defs.items() for cid, path in rows}

    def find_refs(self, names: Iterable[str], kind: str = "defines") -> list[tuple[int, str]]:
        return [(cid, n) for n in names for cid, _ in self.defs.get(n, [])]

    def heads_in_file(self, path: str) -> list[ChunkHead]:
        return [h for h in self.heads.values() if h.path == path]

    def get_heads(self, ids: Sequence[int]) -> list[ChunkHead]:
        return [self.heads[i] for i in ids if i in self.heads]


def test_overloads_of_one_method_count_as_one_place() -> None:
    overloads = [(i, "src/main/java/a/JSON.java") for i in range(MAX_DEFINITIONS + 10)]
    spread = [(100 + i, f"src/main/java/a/T{i}.java") for i in range(MAX_DEFINITIONS + 1)]
    store = _Defs({"JSON.parseObject": overloads, "toString": spread,
                   "field.key": [(200, "include/field.h"), (201, "include/field-inl.h")],
                   "default": [(300 + i, "src/modes.rs") for i in range(10)]})
    assert _places(store, {n: [c for c, _ in rows] for n, rows in store.defs.items()}) == {
        "JSON.parseObject": 1, "field.key": 2, "default": 10}  # a name every class defines: none
    scores = match_symbols(parse_query("add `JSON.parseObject(String, Type, Context)` and `toString()`"), store)
    assert set(scores) == {cid for cid, _ in overloads}
    assert min(scores.values()) == pytest.approx(1.5)  # as strong as a name defined once


def test_a_generated_or_vendored_copy_keeps_less_than_a_test() -> None:
    issue = parse_query("Keys lose their order\n\n" + "Iterating an object gives its keys sorted. " * 20)
    assert place_share(_head(1, "include/nlohmann/json.hpp"), issue, 0.5) == 1.0
    assert place_share(_head(1, "tests/src/unit-items.cpp"), issue, 0.5) == 0.5
    assert place_share(_head(1, "single_include/nlohmann/json.hpp"), issue, 0.5) == 0.25
    assert place_share(_head(1, "third_party/fmt/format.h"), parse_query("where is format"), 0.5) == 0.25


JSON_JAVA = "package a;\n\npublic interface JSON {\n" + "".join(
    f"    static Object parseObject(String text, int flags{i}) {{\n        return text.length() + flags{i};\n    }}\n\n"
    for i in range(MAX_DEFINITIONS + 5)) + "}\n"
READER_JAVA = ("package a;\n\npublic class JSONReader {\n    public static class Context {\n"
               + "".join(f"        int option{i};\n" for i in range(5))
               + "    }\n\n    Object read(String text) {\n        return text;\n    }\n}\n")


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Prism:
    files = {"core/src/main/java/a/JSON.java": JSON_JAVA, "core/src/main/java/a/JSONReader.java": READER_JAVA,
             "single_include/a/JSON.java": JSON_JAVA}
    return lexical_prism(tmp_path_factory.mktemp("overloads"), tmp_path_factory.mktemp("home"), files)


def test_naming_an_overloaded_method_counts_in_full(prism: Prism) -> None:
    hits = prism.search("We have `JSON.parseObject(String, Type)`; "
                        "add `JSON.parseObject(String, Type, JSONReader.Context)`", limit=5, files=True)
    paths = [h.chunk.chunk.path for h in hits]
    assert paths[:2] == ["core/src/main/java/a/JSONReader.java", "core/src/main/java/a/JSON.java"]
    assert hits[1].explain["symbol"] > 0.9 * 1.5 / 61  # the first place's full share
    assert paths[2] == "single_include/a/JSON.java"  # the copy: below both originals
