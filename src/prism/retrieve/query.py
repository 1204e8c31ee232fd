"""Parse a search query (three words or a whole bug report) into the signals retrieval uses.

Signals: lexical terms, code-like identifiers and qualified names (`Foo.bar`, `foo_bar()`),
file paths and dotted module names, stack-trace frames and `path:line` mentions (trace.py), error
lines (`ValueError: …`) and quoted strings. Nothing here touches the index: the parsed query is
matched against the symbol table and file list later, so parsing can afford to over-collect.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from prism.index.terms import lexical_terms
from prism.retrieve.trace import CODE_EXTENSIONS, Frame, find_frames, linked_paths

LONG_QUERY_CHARS = 400  # above this a query is treated as an issue text, not a question

_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:"
                   + "|".join(sorted((*CODE_EXTENSIONS, "md", "rst", "toml", "yaml", "yml", "json", "cfg", "ini"),
                                     key=len, reverse=True)) + r"))\b")
# Scoped names of Rust and C++ (`tokio::io::Interest`, `field::key`) and Java/Kotlin doc
# references (`RegistryAuthenticator#fromAuthenticationMethod`): read as dotted names.
_SCOPED = re.compile(r"(?<![\w:])((?:[A-Za-z_]\w*::)+[A-Za-z_~]\w*)")
# JavaScript/TypeScript module specifiers with a folder (`from 'lodash/fp/get'`,
# `require("./utils/date")`): module paths, read as dotted names like a Python import.
_IMPORT_SPEC = re.compile(r"""(?:\bfrom|\brequire\(|\bimport\(?)\s*['"]((?:\.{1,2}/)*@?[\w.-]+(?:/[\w.-]+)+)['"]""")
_MEMBER = re.compile(r"(?<![\w#/])((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)#(?!L\d)([A-Za-z_]\w*)")
_DOTTED = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?![\w])")
_WORD = re.compile(r"(?<![\w])([A-Za-z_]\w*)(\s*\()?")
_BACKTICK = re.compile(r"`([^`\n]{1,200})`")
_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.S)
_QUOTED = re.compile(r"\"([^\"\n]{3,120})\"|'([^'\n]{3,120})'")
_ERROR = re.compile(r"^\s*((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Warning|Exit|Interrupt))"
                    r"(?::\s*(.*))?$", re.M)
# An exception written with its package after other words (`Caused by: java.io.IOException: x`,
# `Underlying exception : org.x.MockitoException: …`), and what other runtimes print for a failure:
# Rust's `panicked at 'msg'` (or, since 1.73, the message on the line after the location) and
# C++'s `what():  msg`.
_QUALIFIED_ERROR = re.compile(r"(?<![\w.])((?:[a-z_]\w*\.)+[A-Z]\w*(?:Error|Exception|Failure))[ \t]*:[ \t]*([^\n]*)")
_RUNTIME_MESSAGE = re.compile(r"panicked at '([^'\n]+)'|panicked at [^\s']+:\d+:\d+:\n([^\n]+)"
                              r"|\bwhat\(\):[ \t]+([^\n]+)")
_FRAME_LINE = re.compile(r"^\s*(?:at\s|\.\.\.|Caused by|\d+:\s)")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2,}[a-z]")
# Chinese, Japanese and Korean script. Python's \w matches it, so "JSONType注解指定" would read as
# one word; in an issue written in these scripts the Latin words are the code's names.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef"
_SCRIPT_EDGE = re.compile(rf"(?<=[{_CJK}])(?=[A-Za-z0-9_])|(?<=[A-Za-z0-9_])(?=[{_CJK}])")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
CJK_TEXT_CHARS = 5  # this many CJK characters make a text one written in CJK script
# Pasted screenshots and attachments (`![image](https://user-images.githubusercontent.com/…png)`):
# their URLs' words ("image", "user", "png") match fixtures and models, never the bug.
_ATTACHMENT = re.compile(r"!\[[^\]\n]*\]\([^)\s]*\)|<img\b[^>]*>|https?://(?:private-)?user-images\."
                         r"githubusercontent\.com/\S*|https?://github\.com/(?:user-attachments|[\w.-]+/[\w.-]+/assets)/\S*")

# Words that look like identifiers in prose but carry no code signal.
_NOISE_NAMES = frozenset({
    "self", "cls", "None", "True", "False", "print", "import", "from", "return", "def", "class",
    "http", "https", "www", "github", "com", "org", "html", "the", "and", "for", "not", "with",
    "pip", "python", "Python", "python3", "conda", "np", "pd", "os", "sys", "np.array",
    "e.g", "i.e", "etc",
})
_MODULE_SUFFIXES = frozenset({"py", "com", "org", "io", "html", "txt", "md", "rst"})


@dataclass(frozen=True)
class ParsedQuery:
    """Everything retrieval extracts from a query; tuples keep first-seen order, no repeats."""

    text: str
    terms: tuple[str, ...]  # lexical terms with repeats (term frequency matters for long queries)
    identifiers: tuple[str, ...]  # code-like words: snake_case, camelCase, called(), in code spans
    qualified: tuple[str, ...]  # dotted names: "Foo.bar", "pkg.mod.func" (`a::b`, `A#b` as "a.b", "A.b")
    paths: tuple[str, ...]  # file paths as written ("pvlib/iam.py", "/site-packages/x/y.py")
    frames: tuple[Frame, ...]
    errors: tuple[str, ...]  # exception class names raised in the text
    quoted: tuple[str, ...]  # quoted strings (messages, option values)
    code_words: tuple[str, ...]  # every word inside code spans/blocks (may be plain words)
    scoped: tuple[str, ...] = ()  # the qualified names written `a::b` or `A#b`: every owner is a type or module
    messages: tuple[str, ...] = ()  # what error lines say after the class ("x must be positive")

    @property
    def is_long(self) -> bool:
        return len(self.text) > LONG_QUERY_CHARS

    @property
    def is_natural_language(self) -> bool:
        """A short question in words (no code-like name, dotted name, path or stack frame)."""
        return not self.is_long and not self.has_code_evidence

    @property
    def term_counts(self) -> Counter[str]:
        return Counter(self.terms)

    @property
    def has_code_evidence(self) -> bool:
        """Names the code as code does: a stack frame, a path, a dotted name or a code-like identifier."""
        return bool(self.frames or self.paths or self.qualified
                    or any(looks_like_code(name) for name in self.identifiers))


def dense_helps(query: ParsedQuery) -> bool:
    """Whether the dense stage is needed for this query (the routing rule, `SearchConfig.route_dense`).

    Short queries, questions in words above all, need it: on CoSQA's web questions dense alone
    ranks far above lexical (MRR 51.9 vs 32.5). An issue text that names the code (frames,
    paths, dotted names, identifiers: every SWE-bench Lite dev row) can be found by lexical and
    the exact signals alone, and its windows cost most of its search time; a long text in words
    only keeps dense: nothing else can read it. Measured (benchmarks/results/query_routing.md):
    skipping saves ~0.1 s per issue text but costs SWE dev file Acc@1/3/5 4.5 points each,
    so routing is off by default.
    """
    return not query.is_long or not query.has_code_evidence


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def split_scripts(text: str) -> str:
    """The text with a space wherever CJK script meets a Latin letter or digit."""
    return _SCRIPT_EDGE.sub(" ", text) if _CJK_CHAR.search(text) else text


def written_in_cjk(text: str) -> bool:
    """True for a text written (at least in part) in Chinese, Japanese or Korean script."""
    return len(_CJK_CHAR.findall(text, 0, 4000)) >= CJK_TEXT_CHARS


def without_attachments(text: str) -> str:
    """The text without pasted images and attachment links."""
    return _ATTACHMENT.sub(" ", text)


def looks_like_code(word: str) -> bool:
    """True for identifiers unlikely to be prose: snake_case, camelCase, L031, __init__."""
    if word in _NOISE_NAMES or len(word) < 3:
        return False
    core = word.strip("_")
    if "_" in core or word.startswith("__"):
        return True
    if _CAMEL.search(word):
        return True
    return any(c.isdigit() for c in word) and any(c.isalpha() for c in word) and word[0].isupper()


def prose_words(query: ParsedQuery) -> list[str]:
    """The query's words that are not already code-like names, stop-like noise or too short."""
    code = {w for w in query.identifiers if looks_like_code(w)}
    words = (m.group(1) for m in _WORD.finditer(split_scripts(query.text)))
    return list(dict.fromkeys(w for w in words if len(w) >= 3 and w not in _NOISE_NAMES
                              and w not in code and not looks_like_code(w)))


def _code_spans(text: str) -> list[str]:
    spans = [m.group(1) for m in _FENCE.finditer(text)]
    spans += [m.group(1) for m in _BACKTICK.finditer(_FENCE.sub(" ", text))]
    # Indented blocks (4 spaces / tab) and traceback lines are code too.
    spans += [line for line in text.splitlines() if line.startswith(("    ", "\t", ">>> "))]
    return spans


def without_code(text: str) -> str:
    """The text with its code blocks and `code spans` blanked: what the writer says in words."""
    return _BACKTICK.sub(" ", _FENCE.sub(" ", text))


def clean_query(text: str) -> str:
    """The query as valid text: lone surrogates (undecodable bytes) become U+FFFD, NULs go.

    Tokenizers and SQLite reject both; a pasted log with a stray byte must still search.
    """
    return text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", " ")


def _other_messages(text: str) -> list[str]:
    """Failure messages not at the start of a line: a qualified exception's (its next line when
    the exception ends its own, as JVM exceptions with a long message print), a Rust panic's and
    a C++ `what()`."""
    out: list[str] = []
    for m in _QUALIFIED_ERROR.finditer(text):
        message = m.group(2).strip()
        if not message:
            following = text[m.end():].lstrip("\n").split("\n", 1)[0]
            message = "" if _FRAME_LINE.match(following) else following.strip()
        out.append(message)
    out += [next(g for g in m.groups() if g).strip() for m in _RUNTIME_MESSAGE.finditer(text)]
    return out


def parse_query(text: str) -> ParsedQuery:
    """Extract every signal from a query; never fails, whatever the text."""
    original = text
    text = split_scripts(text)
    frames = find_frames(text)
    paths = [m.group(1) for m in _PATH.finditer(text.replace("\\", "/"))]
    paths += linked_paths(text) + [f.path for f in frames]

    spans = _code_spans(text)
    code_words = [w for span in spans for w, _ in _WORD.findall(span)]
    code_word_set = set(code_words)

    identifiers: list[str] = []
    for match in _WORD.finditer(text):
        word, called = match.group(1), match.group(2)
        if word in _NOISE_NAMES or len(word) < 2:
            continue
        if looks_like_code(word) or (called and len(word) > 2) or (
                word in code_word_set and len(word) > 2):
            identifiers.append(word)
    identifiers += [f.function for f in frames if f.function and not f.function.startswith("<")]

    qualified: list[str] = []
    scoped: list[str] = []
    code_text = "".join(spans)
    dotted = [(m.group(1), m.group(1)) for m in _DOTTED.finditer(text)]
    dotted += [(m.group(1).replace("::", ".").replace("~", ""), m.group(1)) for m in _SCOPED.finditer(text)]
    dotted += [(f"{m.group(1)}.{m.group(2)}", m.group(0)) for m in _MEMBER.finditer(text)]
    dotted += [(".".join(p.lstrip("@") for p in m.group(1).split("/") if p not in (".", "..")), m.group(1))
               for m in _IMPORT_SPEC.finditer(text)]
    for name, written in dotted:
        parts = name.split(".")
        if (parts[-1] in _MODULE_SUFFIXES or parts[-1] in CODE_EXTENSIONS or name in _NOISE_NAMES
                or any(len(p) == 0 for p in parts)):
            continue
        if all(p.isdigit() for p in parts):
            continue
        qualified.append(name)
        if written != name:
            scoped.append(name)
        identifiers.extend(p for p in parts if looks_like_code(p) or written in code_text)

    error_lines = list(_ERROR.finditer(text))
    errors = [m.group(1).split(".")[-1] for m in error_lines]
    errors += re.findall(r"\b([A-Z]\w*(?:Error|Exception|Warning))\b", text)
    messages = [(m.group(2) or "").strip() for m in error_lines] + _other_messages(text)
    quoted = [a or b for a, b in _QUOTED.findall(text)]
    return ParsedQuery(
        text=original,
        terms=tuple(lexical_terms(without_attachments(text))),
        identifiers=_unique(identifiers),
        qualified=_unique(qualified),
        paths=_unique(paths),
        frames=frames,
        errors=_unique(errors),
        quoted=_unique(quoted),
        code_words=_unique([w for w in code_words if w not in _NOISE_NAMES and len(w) > 2]),
        scoped=_unique(scoped),
        messages=_unique(messages),
    )
