"""Frozen records passed between the pipeline stages (ingest → index → retrieve → pack)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ChunkKind = Literal[
    "function",  # a free function
    "method",  # a function inside a class/impl/struct body, qualified as Class.method
    "class",  # a class/struct/interface/trait/enum (or its header when split)
    "module",  # module header: imports and top-level statements
    "section",  # a Markdown/RST section under a heading
    "window",  # a line window for unsupported languages or unparsable files
]
CHUNK_KINDS: tuple[ChunkKind, ...] = ("function", "method", "class", "module", "section", "window")

Level = Literal["full", "light", "skeleton", "signature", "reference"]
LEVELS: tuple[Level, ...] = ("full", "light", "skeleton", "signature", "reference")
PRICED_LEVELS: tuple[Level, ...] = LEVELS[:-1]  # a reference shows no code: nothing to count


@dataclass(frozen=True)
class LevelTokens:
    """A chunk's code priced at index time: tokens of its text at each of PRICED_LEVELS.

    The counts are those of one tokenizer (`tokenizer`, its name); a pack counting with
    another one prices the chunk again from its text. `texts` holds the lower levels' texts
    that were counted (light, skeleton, signature), so that a pack shows what was priced
    without parsing the chunk again: as the index stores it (`level_texts`, pack/level_texts.py),
    decoded only for a chunk a pack shows; None
    where not stored (rows written before). It takes no part in comparisons: it follows from
    the chunk's content.
    """

    tokenizer: str
    counts: tuple[int, ...]  # in PRICED_LEVELS order
    texts: str | None = field(default=None, compare=False)

    def tokens(self, level: Level) -> int:
        """Tokens of the chunk's code at `level` (0 for a reference)."""
        return self.counts[PRICED_LEVELS.index(level)] if level != "reference" else 0


@dataclass(frozen=True)
class SourceFile:
    """A file found by the walker, before it is read."""

    path: str  # relative to the project root, '/'-separated
    size: int
    mtime: float
    language: str | None  # a key of prism.ingest.languages.LANGUAGES, or None (plain text)


@dataclass(frozen=True)
class Chunk:
    """A unit of code a person would name: function, method, class, module header, section."""

    path: str
    language: str
    kind: ChunkKind
    name: str  # short name ("method"); "" for module headers and windows
    qualified_name: str  # "Class.method"; for module headers the module path, for windows "path#Lstart"
    signature: str  # the declaration line(s) up to the body, "" if none
    docstring: str
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    content: str  # exact source text of lines start_line..end_line (a slice, for a line over the chunk limit)
    content_hash: str  # sha256 hex of content
    tokens: int  # token count of content (prism.pack.tokens default counter)
    defines: tuple[str, ...] = ()  # identifiers this chunk defines
    imports: tuple[str, ...] = ()  # modules/names it imports
    calls: tuple[str, ...] = ()  # identifiers it calls (unresolved names)
    parent: str = ""  # qualified name of the enclosing class, "" at top level
    level_tokens: LevelTokens | None = None  # priced at index time; None in older indexes


@dataclass(frozen=True)
class ParsedFile:
    """What the chunker produced for one file."""

    path: str
    language: str
    chunks: tuple[Chunk, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the index holds it: the record plus its id and file freshness data."""

    id: int
    chunk: Chunk
    file_sha256: str
    indexed_at: float

    @property
    def head(self) -> ChunkHead:
        """The chunk's ranking columns (what `Store.get_heads` reads)."""
        c = self.chunk
        return ChunkHead(self.id, c.path, c.language, c.kind, c.name, c.qualified_name,
                         c.start_line, c.end_line, c.tokens, self.indexed_at)


@dataclass(frozen=True)
class SearchFilters:
    languages: tuple[str, ...] = ()
    path: str | None = None  # a prefix ("src/app/") or a glob ("src/**/*.py")
    kinds: tuple[ChunkKind, ...] = ()
    since: float | None = None  # unix time: only files indexed/modified after it
    min_score: float | None = None
    # all | code | tests | docs (prism.ingest.paths.place_of). Search applies it to every
    # candidate; SqliteStore also applies it in its queries, so it does not thin the pools.
    scope: str = "all"


@dataclass(frozen=True)
class Hit:
    """One ranked search result."""

    chunk: StoredChunk
    score: float
    stale: bool = False
    explain: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChunkHead:
    """What ranking reads of a chunk — where it is and what it is, without its text or refs:
    search ranks a few hundred candidates on these and loads full chunks only for the hits."""

    id: int
    path: str
    language: str
    kind: ChunkKind
    name: str
    qualified_name: str
    start_line: int
    end_line: int
    tokens: int
    indexed_at: float  # of the chunk's file (recency)
