"""Intent detection: what kind of task a query describes, and how that shapes the pack.

Detection is a transparent keyword score (no model): each intent has cue words and
patterns; the highest score wins and ties or no cue give "general". A stack trace or
"error"/"fails" reads as a bug fix, "how does"/"explain" as explain, and so on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Intent = Literal["bugfix", "feature", "explain", "refactor", "test", "search", "general"]
INTENTS: tuple[Intent, ...] = ("bugfix", "feature", "explain", "refactor", "test", "search", "general")


@dataclass(frozen=True)
class IntentProfile:
    """How an intent changes selection.

    full_utility .. reference_utility: the share of a chunk's value each level keeps; a
    lower skeleton utility pushes the budget into depth (few chunks in full), a higher one
    into breadth (many skeletons). rank_exponent: value falls as (1 + rank) ** -exponent.
    callers/callees: weight of graph neighbours pulled in by --expand (share of the
    chunk's value). test_weight: multiplier for chunks in test files.
    """

    name: Intent
    light_utility: float = 0.95
    skeleton_utility: float = 0.35
    signature_utility: float = 0.12
    reference_utility: float = 0.03
    rank_exponent: float = 0.8
    callers: float = 0.3
    callees: float = 0.4
    test_weight: float = 0.5
    candidates: int = 60


PROFILES: dict[Intent, IntentProfile] = {
    # The failing path in full, its callers close behind; tests are secondary.
    "bugfix": IntentProfile("bugfix", skeleton_utility=0.3, callers=0.5, callees=0.35),
    # Where new code goes and the APIs it will call.
    "feature": IntentProfile("feature", callers=0.25, callees=0.5),
    # Breadth over depth: many units as skeletons.
    "explain": IntentProfile("explain", skeleton_utility=0.55, signature_utility=0.25,
                             rank_exponent=0.5, candidates=100),
    # Every use site matters: callers weigh as much as the code itself.
    "refactor": IntentProfile("refactor", callers=0.6, callees=0.3, skeleton_utility=0.45),
    # The tests beside the code.
    "test": IntentProfile("test", test_weight=1.6, callers=0.5),
    # Where something is: many signatures and references, little full code.
    "search": IntentProfile("search", skeleton_utility=0.5, signature_utility=0.4,
                            reference_utility=0.15, rank_exponent=0.45, candidates=120),
    "general": IntentProfile("general"),
}

_CUES: dict[Intent, tuple[str, ...]] = {
    "bugfix": (
        r"\bbugs?\b", r"\bfix(es|ed|ing)?\b", r"\berrors?\b", r"\bexceptions?\b", r"\bcrash\w*",
        r"\bfail(s|ed|ing|ure)?\b", r"\bbroken\b", r"\bwrong\b", r"\bincorrect(ly)?\b",
        r"\btraceback\b", r"\bregression\b", r"\bunexpected(ly)?\b", r"\bdoes ?n[o']t work",
        r"\bshould\b.*\bbut\b", r"\bexpected\b", r"\braises?\b", r"\bissue\b",
    ),
    "feature": (
        r"\badd(s|ing)?\b", r"\bimplement\w*", r"\bsupport(s|ing)?\b", r"\bnew\b",
        r"\bfeature\b", r"\ballow(s|ing)?\b", r"\benable\b", r"\bintroduce\b", r"\bcreate\b",
    ),
    "explain": (
        r"\bhow (does|do|is|are)\b", r"\bexplain\w*", r"\bwhy (does|do|is)\b", r"\bwhat (is|are|does)\b",
        r"\bunderstand\w*", r"\boverview\b", r"\barchitecture\b", r"\bwalk me through\b", r"\bdescribe\b",
    ),
    "refactor": (
        r"\brefactor\w*", r"\brename\w*", r"\bclean ?up\b", r"\bextract\b", r"\bsimplif\w+",
        r"\bdeduplicate\b", r"\brestructure\b", r"\bmove\b.*\bto\b", r"\bsplit\b", r"\bdeprecat\w+",
    ),
    "test": (
        r"\btests?\b", r"\bunit ?tests?\b", r"\bcoverage\b", r"\bpytest\b", r"\bfixtures?\b",
        r"\bmock\w*", r"\bassert\w*", r"\bspec\b",
    ),
    "search": (
        r"\bwhere (is|are|do|does)\b", r"\bfind\b", r"\blocate\b", r"\bwhich (file|function|class)",
        r"\blist (all|every)\b", r"\busages? of\b", r"\bdefined\b",
    ),
}
_COMPILED = {intent: [re.compile(p, re.IGNORECASE) for p in pats] for intent, pats in _CUES.items()}
# A stack trace is the strongest bug-fix signal there is.
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+at [\w.$]+\(|Error:|Exception:", re.M)
# Imperative openings decide ties: "add ...", "write tests ...", "rename ...".
_LEADS: dict[str, Intent] = {
    "fix": "bugfix", "debug": "bugfix", "add": "feature", "implement": "feature",
    "explain": "explain", "how": "explain", "why": "explain", "refactor": "refactor",
    "rename": "refactor", "test": "test", "write": "test", "where": "search", "find": "search",
}


def intent_scores(query: str) -> dict[Intent, float]:
    """The cue score of every intent for a query (0 when none of its cues appear)."""
    scores: dict[Intent, float] = {intent: 0.0 for intent in INTENTS}
    for intent, patterns in _COMPILED.items():
        scores[intent] = float(sum(1 for p in patterns if p.search(query)))
    if _TRACEBACK.search(query):
        scores["bugfix"] += 3.0
    words = query.strip().split(maxsplit=1)
    lead = words[0].lower().strip(".,:;!?") if words else ""
    if lead in _LEADS:
        scores[_LEADS[lead]] += 1.5
    if lead == "write" and scores["test"] == 0.0:
        scores["test"] -= 1.5
    return scores


def detect_intent(query: str) -> Intent:
    """The intent a query most likely has; "general" when no cue stands out."""
    scores = intent_scores(query)
    best = max(INTENTS, key=lambda i: (scores[i], -INTENTS.index(i)))
    return best if scores[best] > 0 else "general"


def profile_for(intent: Intent) -> IntentProfile:
    return PROFILES[intent]
