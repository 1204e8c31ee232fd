"""Place priors: tests, docs, changelogs, translations, generated and vendored files rank below
code for a code task, unless the query asks for them ("the tests for redirects", "changelog")."""

from __future__ import annotations

import re
from functools import lru_cache

from prism.ingest.paths import (
    PATHS_REMEMBERED,
    in_secondary_place,
    is_code,
    is_generated_or_vendored,
    place_of,
)
from prism.models import ChunkHead
from prism.retrieve.query import ParsedQuery, without_code

# Words that ask for a secondary place by name; an issue text mentions tests in passing, so
# long queries never lift the prior (see `place_share`).
_ASKS: dict[str, re.Pattern[str]] = {
    "tests": re.compile(r"\b(?:tests?|testing|unit ?tests?|pytest|fixtures?|specs?|test_\w+)\b", re.I),
    "docs": re.compile(r"\b(?:docs?|documentation|documented|readme|changelog|changes|release notes?"
                       r"|history|news|guides?|tutorials?|translations?|locales?|manual)\b", re.I),
}


def is_secondary(head: ChunkHead) -> bool:
    """Tests, fixtures, examples, docs, data, generated and vendored code: rarely where a
    reported bug gets fixed."""
    return not is_code(head.language) or in_secondary_place(head.path)


def asked_places(text: str) -> frozenset[str]:
    """The secondary places a query names in words ("tests", "docs"); `doc.is<T>()` or
    `test_parse` inside a code span names code, not a place."""
    words = without_code(text)
    return frozenset(place for place, pattern in _ASKS.items() if pattern.search(words))


def place_share(head: ChunkHead, query: ParsedQuery, share: float,
                asked: frozenset[str] | None = None) -> float:
    """The share of its score a chunk keeps for where it lives: 1 for code, `share` for a
    secondary file the query does not ask for, `share`² for a generated or vendored copy.

    A copy (nlohmann's single_include/json.hpp, a vendored library, a dist/ bundle) holds the
    text of many source files at once, so it matches nearly every query about them and at half
    its score still outranks most originals; a fix never goes into it.

    An issue text (long query) demotes every secondary file, data included. A short question
    demotes tests, docs (prose, changelogs, translations), examples, generated and vendored
    code, but not configuration (a YAML file can be the answer to "where is the port set").
    """
    wanted = asked_places(query.text) if asked is None else asked
    return place_kept(head.path, head.kind, head.language, query.is_long, wanted, share)


@lru_cache(maxsize=PATHS_REMEMBERED)
def place_kept(path: str, kind: str, language: str | None, long_query: bool, asked: frozenset[str],
               share: float) -> float:
    """`place_share` from what it reads of a head and a query: a pure function, remembered
    because the same places come back search after search."""
    copy = share * share if is_generated_or_vendored(path) else share
    if long_query:
        return copy if not is_code(language) or in_secondary_place(path) else 1.0
    place = place_of(path, kind)
    if place == "code" and not in_secondary_place(path):
        return 1.0
    return 1.0 if place in asked else copy
