"""Parse a search query (three words or a whole bug report) into the signals retrieval uses.

Signals: lexical terms, code-like identifiers and qualified names (`Foo.bar`, `foo_bar()`),
file paths and dotted module names, stack-trace frames and `path:line` mentions (frames.py), error
lines (`ValueError: …`) and quoted strings. Nothing here touches the index: the parsed query is
matched against the symbol table and file list later, so parsing can afford to over-collect.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from prism.index.terms import lexical_terms
from prism.retrieve.frames import Frame, parse_frames

LONG_QUERY_CHARS = 400  # above this a query is treated as an issue text, not a question

_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:py|pyi|js|jsx|ts|tsx|go|rs|java|c|h|cc|"
                   r"cpp|hpp|cs|rb|php|kt|swift|scala|sh|lua|md|rst|toml|yaml|yml|json|cfg|ini))\b")
_DOTTED = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?![\w])")
_WORD = re.compile(r"(?<![\w])([A-Za-z_]\w*)(\s*\()?")
_BACKTICK = re.compile(r"`([^`\n]{1,200})`")
_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.S)
_QUOTED = re.compile(r"\"([^\"\n]{3,120})\"|'([^'\n]{3,120})'")
_ERROR = re.compile(r"^\s*((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Warning|Exit|Interrupt))"
                    r"(?::\s*(.*))?$", re.M)
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2,}[a-z]")

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
    qualified: tuple[str, ...]  # dotted names: "Foo.bar", "pkg.mod.func"
    paths: tuple[str, ...]  # file paths as written ("pvlib/iam.py", "/site-packages/x/y.py")
    frames: tuple[Frame, ...]
    errors: tuple[str, ...]  # exception class names raised in the text
    quoted: tuple[str, ...]  # quoted strings (messages, option values)
    code_words: tuple[str, ...]  # every word inside code spans/blocks (may be plain words)
    messages: tuple[str, ...] = ()  # what error lines say after the class ("x must be positive")

    @property
    def is_long(self) -> bool:
        return len(self.text) > LONG_QUERY_CHARS

    @property
    def is_natural_language(self) -> bool:
        """A short question in words (no code-like name, dotted name, path or stack frame)."""
        return not self.is_long and not (
            self.qualified or self.paths or self.frames
            or any(looks_like_code(name) for name in self.identifiers))

    @property
    def term_counts(self) -> Counter[str]:
        return Counter(self.terms)


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


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
    words = (m.group(1) for m in _WORD.finditer(query.text))
    return list(dict.fromkeys(w for w in words if len(w) >= 3 and w not in _NOISE_NAMES
                              and w not in code and not looks_like_code(w)))


def _code_spans(text: str) -> list[str]:
    spans = [m.group(1) for m in _FENCE.finditer(text)]
    spans += [m.group(1) for m in _BACKTICK.finditer(_FENCE.sub(" ", text))]
    # Indented blocks (4 spaces / tab) and traceback lines are code too.
    spans += [line for line in text.splitlines() if line.startswith(("    ", "\t", ">>> "))]
    return spans


def clean_query(text: str) -> str:
    """The query as valid text: lone surrogates (undecodable bytes) become U+FFFD, NULs go.

    Tokenizers and SQLite reject both; a pasted log with a stray byte must still search.
    """
    return text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", " ")


def parse_query(text: str) -> ParsedQuery:
    """Extract every signal from a query; never fails, whatever the text."""
    frames = parse_frames(text)
    paths = [m.group(1) for m in _PATH.finditer(text.replace("\\", "/"))]
    paths += [f.path for f in frames]

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
    for match in _DOTTED.finditer(text):
        name = match.group(1)
        parts = name.split(".")
        if parts[-1] in _MODULE_SUFFIXES or name in _NOISE_NAMES or any(len(p) == 0 for p in parts):
            continue
        if all(p.isdigit() for p in parts):
            continue
        qualified.append(name)
        identifiers.extend(p for p in parts if looks_like_code(p) or name in "".join(spans))

    error_lines = list(_ERROR.finditer(text))
    errors = [m.group(1).split(".")[-1] for m in error_lines]
    errors += re.findall(r"\b([A-Z]\w*(?:Error|Exception|Warning))\b", text)
    quoted = [a or b for a, b in _QUOTED.findall(text)]
    return ParsedQuery(
        text=text,
        terms=tuple(lexical_terms(text)),
        identifiers=_unique(identifiers),
        qualified=_unique(qualified),
        paths=_unique(paths),
        frames=frames,
        errors=_unique(errors),
        quoted=_unique(quoted),
        code_words=_unique([w for w in code_words if w not in _NOISE_NAMES and len(w) > 2]),
        messages=_unique([(m.group(2) or "").strip() for m in error_lines]),
    )
