"""Failure messages as JVM, Rust and C++ programs print them become the query's messages, so
the chunk holding one ranks up (retrieve/within.py) wherever its file ranks among the best ten."""

from __future__ import annotations

from pathlib import Path

from prism.retrieve.query import parse_query
from prism.retrieve.within import message_fragments
from repos import lexical_prism

JVM = """Mocking an enum with deep stubs fails

```
Underlying exception : org.mockito.exceptions.base.MockitoException: Unsupported settings with this type 'x.PieceType'
Caused by: java.lang.IllegalStateException: stubbing was never finished here
\tat org.x.Y.run(Y.java:3)
org.mockito.exceptions.base.MockitoException:
Mockito cannot mock this class: class x.PieceType
Caused by: java.lang.NullPointerException
\tat org.x.Z.run(Z.java:9)
```
"""


def test_jvm_exceptions_after_other_words_give_their_messages() -> None:
    assert set(parse_query(JVM).messages) == {
        "Unsupported settings with this type 'x.PieceType'", "stubbing was never finished here",
        "Mockito cannot mock this class: class x.PieceType"}
    assert "unsupported settings with this type" in message_fragments(parse_query(JVM))


def test_rust_panics_and_cpp_what_give_their_messages() -> None:
    old = "thread 'main' panicked at 'called `Option::unwrap()` on a `None` value', src/lib.rs:4:5"
    new = "thread 'main' panicked at src/lib.rs:4:5:\nindex out of bounds: the len is 3\nnote: run with"
    cpp = ("terminate called after throwing an instance of 'json::type_error'\n"
           "  what():  type must be string, but is null")
    assert parse_query(old).messages == ("called `Option::unwrap()` on a `None` value",)
    assert parse_query(new).messages == ("index out of bounds: the len is 3",)
    assert parse_query(cpp).messages == ("type must be string, but is null",)


FILLER = "".join(f"    void step{i}() {{ check(settings, type, mock, class{i}); }}\n" for i in range(12))


def test_the_method_holding_a_jvm_message_ranks_up(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    files = {
        "src/main/java/org/x/MockMaker.java": "package org.x;\n\nclass MockMaker {\n"
        "    RuntimeException prettify(Class<?> type) {\n"
        "        return new MockitoException(\"Unsupported settings with this type '\" + type + \"'\");\n"
        "    }\n}\n",
        "src/main/java/org/x/Settings.java": "package org.x;\n\nclass Settings {\n" + FILLER + "}\n",
    }
    engine = lexical_prism(repo, tmp_path / "home", files)
    hits = engine.search(JVM + "\nThe settings of the mock and the type of the class look right. " * 8, limit=3)
    assert hits[0].chunk.chunk.qualified_name == "MockMaker.prettify"
    assert hits[0].explain["raises"] > 0
    engine.close()
