"""Per-project usage of `prism context`: queries, tokens served and tokens saved, for `prism stats`.

A store records these (`Store.record_usage`, `Store.usage_summary`); this is the record it takes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UsageEvent:
    kind: str  # context | show
    intent: str
    budget: int
    tokens_served: int
    tokens_saved: int
    chunks: int
    seconds: float
