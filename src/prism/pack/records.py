"""The records the pack stage returns: Pack, its packed and omitted chunks, and its savings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prism.models import Level

Format = Literal["markdown", "xml", "json"]
FORMATS: tuple[Format, ...] = ("markdown", "xml", "json")


@dataclass(frozen=True)
class PackedChunk:
    """One chunk as it appears in a pack, at the level the budget allowed."""

    path: str
    start_line: int
    end_line: int
    symbol: str
    kind: str
    language: str
    level: Level
    tokens: int  # tokens of this chunk's block in the output (headers of the block included)
    handle: str
    content: str  # the code at `level` ("" for reference)
    score: float
    reason: str = "hit"  # hit | callee | caller | import | test

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "start_line": self.start_line, "end_line": self.end_line,
                "symbol": self.symbol, "level": self.level, "tokens": self.tokens,
                "handle": self.handle, "content": self.content}


@dataclass(frozen=True)
class OmittedChunk:
    """A candidate that did not fit even as a reference: where it is and how to fetch it."""

    path: str
    start_line: int
    end_line: int
    symbol: str
    handle: str
    tokens: int  # its full size

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "start_line": self.start_line, "end_line": self.end_line,
                "symbol": self.symbol, "handle": self.handle, "tokens": self.tokens}


@dataclass(frozen=True)
class Savings:
    """What the pack saved against two baselines, in tokens of the same tokenizer.

    whole_files: the whole files the packed chunks come from (sum of their indexed chunks).
    bm25_files: the files a whole-file lexical packer sends for the same budget (files
    ranked by their best lexical chunk score, greedily filled), and how many of the pack's
    full/light chunks those files would have contained. That baseline costs a second
    full-text query, so only JSON output (which states it) runs it; otherwise it is None.
    """

    whole_files_tokens: int
    whole_files_count: int
    bm25_tokens: int | None = None
    bm25_files: int | None = None
    bm25_chunks_covered: int | None = None
    chunks_full: int = 0

    def to_dict(self, used: int) -> dict[str, object]:
        ratio = round(used / self.whole_files_tokens, 3) if self.whole_files_tokens else None
        out: dict[str, object] = {
            "whole_files": {"files": self.whole_files_count, "tokens": self.whole_files_tokens,
                            "saved": self.whole_files_tokens - used, "ratio": ratio}}
        if self.bm25_tokens is not None:
            out["bm25_files"] = {"files": self.bm25_files, "tokens": self.bm25_tokens,
                                 "saved": self.bm25_tokens - used,
                                 "full_chunks_covered": self.bm25_chunks_covered,
                                 "full_chunks": self.chunks_full}
        return out


@dataclass(frozen=True)
class Pack:
    """A packed context: the rendered text (≤ budget tokens) and what went into it."""

    query: str
    budget: int
    tokens: int  # true token count of `text`
    tokenizer: str
    intent: str
    format: Format
    text: str
    chunks: tuple[PackedChunk, ...]
    omitted: tuple[OmittedChunk, ...]  # the manifest entries that fit in the output
    omitted_total: int  # every candidate left out, listed or not
    savings: Savings | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """The stable JSON shape (without the rendered text)."""
        return {
            "budget": self.budget, "tokens": self.tokens, "tokenizer": self.tokenizer,
            "intent": self.intent, "format": self.format,
            "chunks": [c.to_dict() for c in self.chunks],
            "omitted": [o.to_dict() for o in self.omitted], "omitted_total": self.omitted_total,
            "savings": self.savings.to_dict(self.tokens) if self.savings else {},
        }
