"""Within-file evidence: which chunk of a likely file raises the error message the query quotes.

An issue that pastes `RuntimeError: Dropped elements in sequence matching! 'x' != ';'` names
the function that must change more surely than its words do: the one whose source holds that
message. Messages are matched on their fixed words (quoted values, numbers and punctuation
split them into fragments), against the text of the lexical candidates in the few files ranked
best, so reading text stays bounded by those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from prism.models import StoredChunk
from prism.retrieve.query import ParsedQuery

MIN_FRAGMENT_WORDS = 3  # "is not supported" and longer: shorter pieces occur everywhere
MIN_FRAGMENT_LETTERS = 12
_QUOTED_VALUE = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`")
_BREAK = re.compile(r"[0-9!?:;(){}\[\]<>=|,]+")
_LETTERS = re.compile(r"[a-z]+")
_CONTRACTION_TAILS = frozenset({"s", "t", "m", "d", "ve", "re", "ll"})


def _words(text: str) -> str:
    return " ".join(_LETTERS.findall(text.lower()))


def message_fragments(query: ParsedQuery) -> tuple[str, ...]:
    """The fixed parts of the query's error messages (and quoted sentences), as lower-case words."""
    pieces: list[str] = []
    for message in query.messages:
        pieces += _BREAK.split(_QUOTED_VALUE.sub("|", message))
    # Quoted sentences too, but not the values a message quotes, nor the prose between two
    # apostrophes ("I've … isn't").
    pieces += [q for q in query.quoted if len(q.split()) >= MIN_FRAGMENT_WORDS
               and q.split()[0].lower() not in _CONTRACTION_TAILS
               and not any(q in message for message in query.messages)]
    out = []
    for piece in pieces:
        words = _words(piece)
        if (len(words.split()) >= MIN_FRAGMENT_WORDS
                and len(words) - words.count(" ") >= MIN_FRAGMENT_LETTERS):
            out.append(words)
    return tuple(dict.fromkeys(out))


def raising_chunks(fragments: Iterable[str], chunks: Iterable[StoredChunk]) -> dict[int, float]:
    """Chunk id → 1/√(chunks holding it) for the best fragment its text holds (0 if none)."""
    # Normalise only the texts that hold every fragment's longest word (most hold none).
    keys = [max(fragment.split(), key=len) for fragment in fragments]
    lowered = {sc.id: sc.chunk.content.lower() for sc in chunks}
    texts = {cid: f" {_words(text)} " for cid, text in lowered.items() if any(k in text for k in keys)}
    out: dict[int, float] = {}
    for fragment in fragments:
        holders = [cid for cid, text in texts.items() if f" {fragment} " in text]
        for cid in holders:
            out[cid] = max(out.get(cid, 0.0), 1.0 / len(holders) ** 0.5)
    return out
