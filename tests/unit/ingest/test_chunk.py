"""Tests for prism.ingest.chunk: units per language, sections, windows, splitting, fallbacks."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from prism.ingest.chunk import chunk_file
from prism.ingest.languages import LANGUAGES, detect_language
from prism.ingest.walk import read_source, walk
from prism.models import Chunk, ParsedFile

FIXTURES = Path(__file__).parents[2] / "fixtures" / "languages"
SRC = Path(__file__).parents[3] / "src"


def words(text: str) -> int:
    return len(text.split())


def chunk(path: str, text: str, language: str | None = None, **kwargs: int) -> ParsedFile:
    lang = language if language is not None else detect_language(path)
    return chunk_file(path, text, lang, count_tokens=words, **kwargs)


def fixture(rel: str) -> ParsedFile:
    return chunk(rel, (FIXTURES / rel).read_text())


def by_name(parsed: ParsedFile, qualified_name: str) -> Chunk:
    return next(c for c in parsed.chunks if c.qualified_name == qualified_name)


def assert_covers_every_line(parsed: ParsedFile, text: str) -> None:
    lines = text.split("\n")
    covered: set[int] = set()
    for c in parsed.chunks:
        whole = "\n".join(lines[c.start_line - 1 : c.end_line])
        if c.start_line == c.end_line and c.content != whole:  # a slice of a line over the limit
            assert c.content and c.content in whole
        else:
            assert c.content == whole
        assert c.content_hash == hashlib.sha256(c.content.encode()).hexdigest()
        assert c.tokens == words(c.content)
        covered.update(range(c.start_line, c.end_line + 1))
    missing = [n for n, line in enumerate(lines, 1) if line.strip() and n not in covered]
    assert missing == [], f"{parsed.path}: lines {missing[:10]} are in no chunk"


# (kind, qualified_name, start_line, end_line) of every chunk, in order.
EXPECTED: dict[str, list[tuple[str, str, int, int]]] = {
    "bash/sample.sh": [
        ("module", "bash/sample.sh", 1, 5),
        ("function", "log", 7, 10),
        ("function", "cleanup", 12, 15),
        ("module", "bash/sample.sh", 17, 18),
    ],
    "c/sample.c": [
        ("module", "c/sample.c", 1, 4),
        ("class", "point", 6, 10),
        ("class", "size_t2", 12, 14),
        ("function", "add", 16, 19),
        ("function", "main", 21, 25),
    ],
    "cpp/sample.cpp": [
        ("module", "cpp/sample.cpp", 1, 4),
        ("class", "Vec", 6, 8),
        ("method", "Vec.Vec", 9, 9),
        ("method", "Vec.length", 11, 14),
        ("class", "Vec", 16, 20),
        ("method", "Vec.dot", 22, 24),
        ("function", "twice", 26, 29),
        ("module", "cpp/sample.cpp", 31, 31),
        ("function", "main", 33, 37),
    ],
    "csharp/Sample.cs": [
        ("module", "csharp/Sample.cs", 1, 5),
        ("class", "Cart", 6, 11),
        ("method", "Cart.Add", 13, 19),
        ("method", "Cart.Total", 21, 25),
        ("class", "IPayment", 27, 30),
        ("class", "Money", 32, 35),
        ("class", "Status", 37, 38),
    ],
    "go/sample.go": [
        ("module", "go/sample.go", 1, 7),
        ("class", "Shape", 9, 12),
        ("class", "Circle", 14, 17),
        ("method", "Circle.Area", 19, 22),
        ("method", "Circle.String", 24, 26),
        ("function", "Describe", 28, 31),
    ],
    "java/Account.java": [
        ("module", "java/Account.java", 1, 4),
        ("class", "Account", 6, 11),
        ("method", "Account.deposit", 13, 18),
        ("method", "Account.getBalance", 20, 22),
        ("class", "Account.Audit", 24, 24),
        ("method", "Account.Audit.check", 25, 29),
        ("class", "Ledger", 31, 31),
        ("method", "Ledger.record", 32, 33),
        ("class", "Currency", 35, 35),
    ],
    "javascript/sample.js": [
        ("module", "javascript/sample.js", 1, 3),
        ("class", "Stack", 5, 8),
        ("method", "Stack.constructor", 9, 11),
        ("method", "Stack.push", 13, 18),
        ("function", "readText", 20, 23),
        ("function", "double", 25, 25),
        ("module", "javascript/sample.js", 27, 27),
    ],
    "kotlin/sample.kt": [
        ("module", "kotlin/sample.kt", 1, 4),
        ("class", "Point", 6, 7),
        ("method", "Point.norm", 8, 12),
        ("class", "Shape", 14, 16),
        ("class", "Registry", 18, 19),
        ("method", "Registry.register", 21, 24),
        ("function", "readLines", 26, 28),
    ],
    "markdown/README.md": [
        ("section", "markdown/README.md", 1, 1),
        ("section", "Project", 3, 5),
        ("section", "Project > Install", 7, 12),
        ("section", "Project > Usage", 14, 16),
        ("section", "Project > Usage > Advanced", 18, 20),
        ("section", "Setext Title", 22, 25),
    ],
    "php/sample.php": [
        ("module", "php/sample.php", 1, 6),
        ("class", "User", 8, 13),
        ("method", "User.displayName", 15, 19),
        ("method", "User.findByEmail", 21, 25),
        ("class", "HasName", 27, 30),
        ("function", "helper", 32, 35),
    ],
    "python/sample.py": [
        ("module", "python/sample.py", 1, 6),
        ("function", "registered", 9, 13),
        ("class", "Shape", 16, 20),
        ("method", "Shape.__init__", 22, 24),
        ("method", "Shape.area", 26, 29),
        ("class", "Shape.Meta", 31, 32),
        ("method", "Shape.Meta.describe", 34, 35),
        ("function", "compute_area", 38, 42),
        ("module", "python/sample.py", 45, 48),
    ],
    "rst/guide.rst": [
        ("section", "Guide", 1, 5),
        ("section", "Guide > Install", 7, 10),
        ("section", "Guide > Install > Details", 12, 15),
        ("section", "Guide > Usage", 17, 20),
    ],
    "ruby/sample.rb": [
        ("module", "ruby/sample.rb", 1, 2),
        ("class", "Greeting", 4, 6),
        ("class", "Greeting.Greeter", 7, 8),
        ("method", "Greeting.Greeter.initialize", 10, 12),
        ("method", "Greeting.Greeter.greet", 14, 17),
        ("method", "Greeting.Greeter.create", 19, 23),
        ("function", "format_greeting", 25, 27),
    ],
    "rust/sample.rs": [
        ("module", "rust/sample.rs", 1, 2),
        ("class", "Counter", 4, 8),
        ("class", "Counter", 10, 10),
        ("method", "Counter.new", 11, 14),
        ("method", "Counter.add", 16, 19),
        ("class", "Counter", 21, 21),
        ("method", "Counter.fmt", 22, 25),
        ("class", "Named", 27, 29),
        ("class", "Kind", 31, 34),
        ("function", "count", 36, 43),
    ],
    "scala/sample.scala": [
        ("module", "scala/sample.scala", 1, 4),
        ("class", "Stack", 6, 8),
        ("method", "Stack.push", 10, 13),
        ("method", "Stack.size", 15, 16),
        ("class", "Shape", 18, 20),
        ("class", "Main", 22, 22),
        ("method", "Main.main", 23, 26),
        ("class", "Point", 28, 28),
    ],
    "swift/sample.swift": [
        ("module", "swift/sample.swift", 1, 2),
        ("class", "Counter", 4, 6),
        ("method", "Counter.increment", 8, 13),
        ("class", "Point", 15, 17),
        ("method", "Point.length", 19, 22),
        ("class", "Shape", 24, 26),
        ("class", "Direction", 28, 30),
        ("function", "log", 32, 34),
    ],
    "text/notes.txt": [
        ("window", "text/notes.txt#L1", 1, 2),
    ],
    "tsx/sample.tsx": [
        ("module", "tsx/sample.tsx", 1, 1),
        ("class", "Props", 3, 5),
        ("function", "Counter", 7, 11),
        ("class", "Panel", 13, 13),
        ("method", "Panel.render", 14, 17),
    ],
    "typescript/sample.ts": [
        ("module", "typescript/sample.ts", 1, 2),
        ("class", "Greeter", 4, 7),
        ("module", "typescript/sample.ts", 9, 9),
        ("class", "Color", 11, 14),
        ("class", "Polite", 16, 20),
        ("method", "Polite.greet", 22, 26),
        ("function", "format", 28, 30),
        ("function", "loadConfig", 32, 32),
    ],
}


def test_every_grammar_has_a_fixture() -> None:
    covered = {detect_language(rel) for rel in EXPECTED}
    assert set(LANGUAGES) <= covered


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_fixture_units(rel: str) -> None:
    parsed = fixture(rel)
    assert parsed.warnings == ()
    got = [(c.kind, c.qualified_name, c.start_line, c.end_line) for c in parsed.chunks]
    assert got == EXPECTED[rel]
    assert_covers_every_line(parsed, (FIXTURES / rel).read_text())


def test_python_details() -> None:
    parsed = fixture("python/sample.py")
    header = parsed.chunks[0]
    assert header.kind == "module" and header.name == ""
    assert header.docstring == "Sample module: shapes and a helper."
    assert header.imports == (
        "os.path",
        "collections",
        "collections.OrderedDict",
        "collections.defaultdict",
    )
    assert header.defines == ("DEFAULT_SIDES",)
    shape = by_name(parsed, "Shape")
    assert shape.signature == "class Shape:"
    assert shape.docstring == "A polygon."
    assert shape.content.startswith("@registered\nclass Shape:")
    assert "sides: int = DEFAULT_SIDES" in shape.content
    assert "def __init__" not in shape.content  # methods are their own chunks
    area = by_name(parsed, "Shape.area")
    assert (area.kind, area.name, area.parent) == ("method", "area", "Shape")
    assert area.content.lstrip().startswith("@property")
    assert area.docstring == "Area of the shape."
    assert area.calls == ("compute_area",)
    assert by_name(parsed, "Shape.Meta.describe").calls == ("join",)
    assert by_name(parsed, "Shape.Meta.describe").parent == "Shape.Meta"
    registered = by_name(parsed, "registered")
    assert registered.content.startswith("# A comment about the decorator.")
    assert registered.calls == ("append",)
    tail = parsed.chunks[-1]
    assert tail.kind == "module" and tail.defines == ("REGISTRY",)
    assert tail.calls == ("defaultdict", "compute_area", "print")


def test_doc_comments_and_signatures_other_languages() -> None:
    go = fixture("go/sample.go")
    area = by_name(go, "Circle.Area")
    assert (area.kind, area.parent, area.docstring) == ("method", "Circle", "Area returns the area.")
    assert area.signature == "func (c *Circle) Area() float64"
    assert area.content.startswith("// Area returns the area.")
    assert by_name(go, "go/sample.go").imports == ("fmt", "math")

    rust = fixture("rust/sample.rs")
    counter = rust.chunks[1]
    assert counter.signature == "pub struct Counter"
    assert counter.docstring == "A counter of words."
    assert counter.content.startswith("/// A counter of words.\n#[derive(Debug, Default)]")
    assert by_name(rust, "Counter.new").docstring == "Create an empty counter."
    assert by_name(rust, "count").calls == ("new", "split_whitespace", "add")

    js = fixture("javascript/sample.js")
    assert by_name(js, "Stack").docstring == "A stack of items."
    assert by_name(js, "Stack.push").docstring == "Push an item."
    read_text = by_name(js, "readText")
    assert read_text.docstring == "Read a file as text."
    assert read_text.content.startswith("/** Read a file as text. */\nexport function")
    assert read_text.calls == ("join", "readFileSync")
    assert js.chunks[0].imports == ("fs", "join", "path", "resolve", "util")

    java = fixture("java/Account.java")
    deposit = by_name(java, "Account.deposit")
    assert deposit.docstring == "Deposit money."
    assert deposit.signature == "@Override public void deposit(long amount)"
    assert java.chunks[0].imports == ("java.util.List", "java.util.ArrayList")

    cpp = fixture("cpp/sample.cpp")
    dot = by_name(cpp, "Vec.dot")
    assert (dot.kind, dot.name, dot.parent) == ("method", "dot", "Vec")

    csharp = fixture("csharp/Sample.cs")
    assert by_name(csharp, "Cart.Add").docstring == "Add an item."
    assert by_name(csharp, "Cart.Add").calls == ("Add", "WriteLine")

    ruby = fixture("ruby/sample.rb")
    assert ruby.chunks[0].imports == ("json", "helpers")
    assert by_name(ruby, "Greeting.Greeter.greet").docstring == "Greet someone."


def test_markdown_sections_ignore_headings_in_code() -> None:
    parsed = fixture("markdown/README.md")
    install = by_name(parsed, "Project > Install")
    assert install.kind == "section" and install.name == "Install"
    assert "# not a heading" in install.content
    assert parsed.chunks[0].name == "" and parsed.chunks[0].content == "Intro text before any heading."


def test_rst_sections() -> None:
    parsed = fixture("rst/guide.rst")
    guide = parsed.chunks[0]
    assert guide.content.startswith("=====\nGuide\n=====")
    assert by_name(parsed, "Guide > Install > Details").content == "Details\n~~~~~~~\n\nDeep details."


def test_window_fallback_never_splits_lines() -> None:
    text = "\n".join(f"line {n} " + "x" * (n % 7) for n in range(1, 131)) + "\n"
    parsed = chunk("data/notes.txt", text, window_lines=60, window_overlap=10)
    spans = [(c.kind, c.start_line, c.end_line) for c in parsed.chunks]
    assert spans == [("window", 1, 60), ("window", 51, 110), ("window", 101, 130)]
    assert parsed.chunks[1].qualified_name == "data/notes.txt#L51"
    assert parsed.language == "text"
    assert_covers_every_line(parsed, text)


def test_unknown_language_is_windowed() -> None:
    parsed = chunk("Makefile", "all:\n\techo hi\n", None)
    assert [(c.kind, c.start_line, c.end_line) for c in parsed.chunks] == [("window", 1, 2)]


def test_oversize_function_is_split_at_statements() -> None:
    body = "".join(f"    value_{n} = compute(a, b, c, d, e, f, g)\n" for n in range(60))
    text = f"def big(a):\n    '''Doc.'''\n{body}    return value_0\n"
    parsed = chunk("big.py", text, max_chunk_tokens=100)
    parts = [c for c in parsed.chunks if c.qualified_name == "big"]
    assert len(parts) > 1
    assert all(c.kind == "function" and c.name == "big" for c in parts)
    assert all(c.tokens <= 100 for c in parts)
    assert parts[0].docstring == "Doc." and parts[1].docstring == ""
    for before, after in itertools.pairwise(parts):
        assert after.start_line == before.end_line + 1
    assert parts[0].start_line == 1 and parts[-1].end_line == text.count("\n")
    assert_covers_every_line(parsed, text)


def test_oversize_class_header_and_method_split() -> None:
    fields = "".join(f"    field_{n}: int = {n}  # a b c d e f\n" for n in range(40))
    method = "".join(f"        self.x{n} = y\n" for n in range(40))
    text = f"class Big:\n{fields}\n    def run(self, y):\n{method}"
    parsed = chunk("big.py", text, max_chunk_tokens=60)
    kinds = {(c.kind, c.qualified_name) for c in parsed.chunks}
    assert kinds == {("class", "Big"), ("method", "Big.run")}
    assert len(parsed.chunks) > 4
    assert all(c.tokens <= 60 for c in parsed.chunks)
    assert_covers_every_line(parsed, text)


def test_a_line_over_the_limit_is_cut_into_slices_that_fit() -> None:
    text = "import os\nx = [" + ", ".join(str(n) for n in range(500)) + "]\ny = 1\n"
    parsed = chunk("data.py", text, max_chunk_tokens=50)
    slices = [c for c in parsed.chunks if c.start_line == c.end_line == 2]
    assert len(slices) >= 10 and all(c.tokens <= 50 for c in parsed.chunks)
    assert "".join(c.content for c in slices) == text.split("\n")[1]  # in order, nothing lost
    assert_covers_every_line(parsed, text)


@pytest.mark.parametrize(("size", "limit"), [(900_000, 1500), (5_000_000, 1500)])
def test_one_line_files_respect_the_chunk_limit_with_the_real_tokenizer(size: int, limit: int) -> None:
    from prism.pack.tokens import get_tokenizer

    count = get_tokenizer().count
    line = ("var a" + "b" * 5 + "=function(c){return c+1};") * (size // 31 + 1)
    text = line[:size] + "\n"
    parsed = chunk_file("bundle.js", text, "javascript", count_tokens=count, max_chunk_tokens=limit)
    assert parsed.chunks and max(c.tokens for c in parsed.chunks) <= limit
    assert all(c.tokens == count(c.content) for c in parsed.chunks[:20])
    assert sum(len(c.content) for c in parsed.chunks) == size


def test_overlapping_windows_cut_a_long_line_once() -> None:
    text = "\n".join(["short"] * 5 + ["w " * 400] + ["short"] * 5) + "\n"
    parsed = chunk("notes.txt", text, max_chunk_tokens=100, window_lines=8, window_overlap=4)
    slices = [c for c in parsed.chunks if c.start_line == c.end_line == 6]
    assert "".join(c.content for c in slices) == "w " * 400  # each part once, in order
    assert all(c.tokens <= 100 for c in parsed.chunks)
    assert slices[1].qualified_name.startswith("notes.txt#L6:")
    assert_covers_every_line(parsed, text)


def test_parse_failure_falls_back_to_windows_with_warning() -> None:
    text = "".join(f"}} ) ] this is {{ not python at all (( {n}\n" for n in range(30))
    parsed = chunk("broken.py", text)
    assert parsed.chunks and all(c.kind == "window" for c in parsed.chunks)
    assert len(parsed.warnings) == 1 and "broken.py" in parsed.warnings[0]
    assert_covers_every_line(parsed, text)


def test_grammar_exception_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from prism.ingest import chunk as chunk_module

    def boom(name: str) -> object:
        raise RuntimeError("no grammar")

    monkeypatch.setattr(chunk_module, "get_parser", boom)
    parsed = chunk("a.py", "def f():\n    pass\n")
    assert [c.kind for c in parsed.chunks] == ["window"]
    assert "RuntimeError: no grammar" in parsed.warnings[0]


def test_small_syntax_errors_still_yield_units() -> None:
    text = "def ok():\n    return 1\n\n\ndef broken(:\n    pass\n\n\ndef fine():\n    return 2\n"
    parsed = chunk("partial.py", text)
    assert parsed.warnings == ()
    assert {"ok", "fine"} <= {c.qualified_name for c in parsed.chunks}
    assert_covers_every_line(parsed, text)


def test_invalid_utf8_and_bom(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_bytes(b"\xef\xbb\xbfdef f():\n    return '\xff\xfe'\n")
    _, text = read_source(tmp_path, "bad.py")
    parsed = chunk("bad.py", text)
    assert [(c.kind, c.qualified_name) for c in parsed.chunks] == [("function", "f")]
    assert "\ufffd" in parsed.chunks[0].content


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(text: str) -> None:
    parsed = chunk("empty.py", text)
    assert parsed.chunks == () and parsed.warnings == ()


def test_crlf_and_no_trailing_newline() -> None:
    text = "import os\r\n\r\ndef f():\r\n    return os.sep"
    parsed = chunk("crlf.py", text)
    assert [(c.kind, c.start_line, c.end_line) for c in parsed.chunks] == [
        ("module", 1, 1),
        ("function", 3, 4),
    ]
    assert parsed.chunks[1].content == "def f():\r\n    return os.sep"


def test_nested_functions_stay_inside_their_parent() -> None:
    text = "def outer():\n    def inner():\n        return 1\n    class Local:\n        pass\n    return inner\n"
    parsed = chunk("n.py", text)
    assert [(c.kind, c.qualified_name) for c in parsed.chunks] == [("function", "outer")]


def test_calls_are_capped_and_deduplicated() -> None:
    calls = "".join(f"    f{n}()\n    f{n}()\n" for n in range(300))
    parsed = chunk("c.py", f"def g():\n{calls}", max_chunk_tokens=100_000)
    assert len(parsed.chunks[0].calls) == 200
    assert parsed.chunks[0].calls[:2] == ("f0", "f1")


def test_prism_source_is_fully_covered() -> None:
    count = 0
    for source in walk(SRC):
        _, text = read_source(SRC, source.path)
        parsed = chunk_file(source.path, text, source.language, count_tokens=words)
        assert parsed.warnings == ()
        assert_covers_every_line(parsed, text)
        count += 1
    assert count > 10


def test_a_comment_banner_between_methods_joins_the_next_method() -> None:
    text = (
        "class Store:\n"
        "    def open(self):\n"
        "        return 1\n"
        "\n"
        "    # -- lifecycle -------------------------------------------------\n"
        "\n"
        "    def close(self):\n"
        "        return 2\n"
    )
    parsed = chunk_file("store.py", text, "python", count_tokens=words)
    units = [(c.kind, c.qualified_name, c.start_line, c.end_line) for c in parsed.chunks]
    assert ("method", "Store.close", 5, 8) in units
    assert not any(c.content.strip().startswith("# --") for c in parsed.chunks if c.kind == "class")


def test_a_header_written_in_cpp_is_cpp_and_a_c_header_stays_c() -> None:
    assert detect_language("include/lib/field.h", b"#pragma once\nnamespace lib {\nclass field {\n") == "cpp"
    assert detect_language("include/v.h", b"#include <vector>\n") == "cpp"
    assert detect_language("include/x.h", b"#include <stdio.h>\nstruct point { int x; };\n") == "c"
    assert detect_language("include/x.h") == "c"  # no bytes read: the extension decides


CPP_DECLARATORS = """\
simdjson_inline simdjson_result<double> document::get_double() noexcept { return 1.0; }
SIMDJSON_API std::string Foo::bar(int x) { return ""; }
MY_EXPORT const std::vector<int>& Foo::baz() const { return v; }
template<typename T> simdjson_inline simdjson_result<T> value::get() noexcept { return T(); }
template<> simdjson_inline simdjson_result<bool> value::get<bool>() noexcept { return true; }
simdjson_inline std::unique_ptr<Foo> ns::Foo::make(int a) { return nullptr; }
simdjson_inline simdjson_result<std::string_view> Foo::operator[](int i) & noexcept { return x; }
MACRO inline Foo::operator bool() const { return true; }
bool document::operator==(const document &o) const { return true; }
document::~document() { }
static constexpr int g(int y) { return y; }
template<typename T> inline T ns::f(int x) { return x; }
SIMDJSON_DLLIMPORTEXPORT const implementation *builtin_implementation() { return nullptr; }
template<typename J> JSON_HEDLEY_NON_NULL(2) void from_json(const J& j, int& v) { }
class foo {
 public:
  simdjson_inline int bar() noexcept { return 1; }
  virtual ~foo() {}
};
"""


def test_cpp_names_are_the_declarator_never_the_return_type_or_macros() -> None:
    parsed = chunk("src/document.cpp", CPP_DECLARATORS)
    got = [(c.name, c.qualified_name) for c in parsed.chunks if c.kind != "class"]
    assert got == [
        ("get_double", "document.get_double"),
        ("bar", "Foo.bar"),
        ("baz", "Foo.baz"),
        ("get", "value.get"),
        ("get", "value.get"),
        ("make", "ns.Foo.make"),
        ("operator[]", "Foo.operator[]"),
        ("operator bool", "Foo.operator bool"),
        ("operator==", "document.operator=="),
        ("~document", "document.~document"),
        ("g", "g"),
        ("f", "ns.f"),
        ("builtin_implementation", "builtin_implementation"),
        ("from_json", "from_json"),
        ("bar", "foo.bar"),
        ("~foo", "foo.~foo"),
    ]
    assert all(c.defines == (c.name,) for c in parsed.chunks)


def test_c_names_ignore_macros_and_specifiers() -> None:
    text = (
        "static inline MACRO int f(void) { return 0; }\n"
        "EXPORT struct foo *make_foo(int n) { return 0; }\n"
        "static const char **g(void) { return 0; }\n"
        "API_NONNULL(2) void h(int *p) { }\n"
    )
    parsed = chunk("lib.c", text)
    assert [(c.name, c.qualified_name) for c in parsed.chunks] == [
        ("f", "f"), ("make_foo", "make_foo"), ("g", "g"), ("h", "h")]


def test_java_interface_and_abstract_methods_are_definitions() -> None:
    text = (
        "public interface MockitoFramework {\n"
        "    /** Clears inline mocks. */\n"
        "    void clearInlineMocks();\n"
        "\n"
        "    <T> T mock(Class<T> type);\n"
        "}\n"
        "\n"
        "abstract class Base {\n"
        "    abstract int size();\n"
        "}\n"
    )
    parsed = chunk("src/MockitoFramework.java", text)
    units = [(c.kind, c.qualified_name, c.start_line, c.end_line) for c in parsed.chunks]
    assert units == [
        ("class", "MockitoFramework", 1, 1),
        ("method", "MockitoFramework.clearInlineMocks", 2, 3),
        ("method", "MockitoFramework.mock", 5, 6),
        ("class", "Base", 8, 8),
        ("method", "Base.size", 9, 10),
    ]
    clear = by_name(parsed, "MockitoFramework.clearInlineMocks")
    assert clear.defines == ("clearInlineMocks",)
    assert clear.docstring == "Clears inline mocks."
    assert_covers_every_line(parsed, text)

