"""Intent detection from the query text."""

from __future__ import annotations

import pytest

from prism.errors import InputError
from prism.pack.intent import detect_intent
from prism.pack.packer import resolve_intent


@pytest.mark.parametrize(("query", "intent"), [
    ("fix the login bug: users get logged out", "bugfix"),
    ("Traceback (most recent call last):\n  File 'a.py'\nKeyError: 'x'", "bugfix"),
    ("L031 incorrectly triggers when no join present", "bugfix"),
    ("add support for OAuth refresh tokens", "feature"),
    ("how does the indexer decide what to re-read?", "explain"),
    ("refactor the store to split reads from writes", "refactor"),
    ("write unit tests for the rate limiter", "test"),
    ("where is the session token refreshed", "search"),
    ("session tokens", "general"),
])
def test_detect_intent(query: str, intent: str) -> None:
    assert detect_intent(query) == intent


def test_explicit_intent_wins_and_unknown_is_refused() -> None:
    assert resolve_intent("fix the bug", "explain") == "explain"
    assert resolve_intent("fix the bug", "auto") == "bugfix"
    with pytest.raises(InputError) as info:
        resolve_intent("x", "debugging")
    assert "bugfix" in info.value.hint
