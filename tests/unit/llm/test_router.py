"""Router decisions on a table of cases: intent × pack size × budgets left."""

from __future__ import annotations

import pytest

from prism.llm.errors import BudgetExhaustedError
from prism.llm.ledger import Spent, UsageLedger, utc_day
from prism.llm.prices import Price
from prism.llm.router import choose_model, tier_needed
from prism.llm.settings import DailyBudget

LOCAL = ("ollama:qwen2.5-coder:7b", Price(0.0, 0.0, 8_192, 1, local=True))
WORKERS = ("workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast", Price(0.293, 2.253, 24_000, 2))
HAIKU = ("anthropic:claude-haiku-4-5", Price(1.0, 5.0, 200_000, 2))
SONNET = ("anthropic:claude-sonnet-4-5", Price(3.0, 15.0, 200_000, 3))
ALL = [SONNET, HAIKU, WORKERS, LOCAL]
ANSWER = 1024

CASES = [
    # intent, prompt tokens, spent today, budgets, expected model, fallback
    ("search", 2_000, {}, {}, LOCAL[0], False),  # a lookup: the free local model suffices
    ("explain", 5_000, {}, {}, LOCAL[0], False),
    ("explain", 9_000, {}, {}, WORKERS[0], False),  # too big for the local window: the cheapest that fits
    ("bugfix", 6_000, {}, {}, WORKERS[0], False),  # tier 2: the cheapest tier-2 model
    ("bugfix", 30_000, {}, {}, SONNET[0], False),  # a long pack: tier 3
    ("refactor", 4_000, {}, {}, SONNET[0], False),
    ("refactor", 4_000, {"anthropic": Spent(0, 4.99)}, {"anthropic": DailyBudget(usd=5.0)}, WORKERS[0], True),
    ("bugfix", 6_000, {"workers-ai": Spent(9_999_000, 0)}, {"workers-ai": DailyBudget(tokens=10_000_000)},
     HAIKU[0], False),  # workers-ai's tokens are spent: the next cheapest tier-2
    ("search", 2_000, {"ollama": Spent(100, 0)}, {"ollama": DailyBudget(tokens=100)}, WORKERS[0], False),
]


@pytest.mark.parametrize(("intent", "prompt", "spent", "budgets", "expected", "fallback"), CASES)
def test_decisions(intent: str, prompt: int, spent: dict[str, Spent], budgets: dict[str, DailyBudget],
                   expected: str, fallback: bool) -> None:
    decision = choose_model(intent, prompt, ANSWER, ALL, spent, budgets)
    assert decision.model == expected
    assert decision.fallback is fallback
    assert decision.need_tokens == prompt + ANSWER
    assert len(decision.reasons) == len(ALL) + fallback
    assert expected in decision.explain()


def test_every_budget_spent_refuses_with_each_reason() -> None:
    spent = {"anthropic": Spent(1_000, 10.0), "workers-ai": Spent(0, 1.0), "ollama": Spent(50_000, 0)}
    budgets = {"anthropic": DailyBudget(usd=10.0), "workers-ai": DailyBudget(usd=1.0),
               "ollama": DailyBudget(tokens=50_000)}
    with pytest.raises(BudgetExhaustedError) as caught:
        choose_model("bugfix", 4_000, ANSWER, ALL, spent, budgets)
    message = str(caught.value)
    assert "daily USD budget spent" in message and "daily token budget spent" in message
    assert "PRISM_LLM_BUDGETS" in caught.value.hint


def test_no_fallback_when_not_allowed() -> None:
    with pytest.raises(BudgetExhaustedError, match="tier 3"):
        choose_model("refactor", 4_000, ANSWER, [HAIKU, LOCAL], {}, {}, allow_fallback=False)


def test_an_unknown_price_cannot_pass_a_usd_budget() -> None:
    unknown = ("openai:mystery", Price(None, None))
    with pytest.raises(BudgetExhaustedError, match="no price known"):
        choose_model("search", 100, ANSWER, [unknown], {}, {"openai": DailyBudget(usd=1.0)})
    assert choose_model("search", 100, ANSWER, [unknown], {}, {}).estimated_usd is None


def test_tiers() -> None:
    assert [tier_needed(i, 1_000) for i in ("search", "bugfix", "refactor")] == [1, 2, 3]
    assert tier_needed("explain", 50_000) == 2 and tier_needed("refactor", 50_000) == 3


def test_ledger_counts_per_provider_per_utc_day(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    ledger = UsageLedger(tmp_path / "llm_usage.db")
    day = 1_767_225_600.0  # 2026-01-01 00:00 UTC
    ledger.record("anthropic", "claude-haiku-4-5", 1_000, 200, 0.002, at=day + 10)
    ledger.record("anthropic", "claude-haiku-4-5", 500, 100, 0.001, at=day + 20)
    ledger.record("ollama", "qwen", 9_000, 900, None, at=day + 30)
    ledger.record("anthropic", "claude-haiku-4-5", 7, 7, 7.0, at=day - 1)  # the day before
    assert ledger.spent_today("anthropic", at=day + 60) == Spent(1_800, pytest.approx(0.003))  # type: ignore[arg-type]
    assert ledger.spent_today("ollama", at=day + 60) == Spent(9_900, 0.0)
    assert ledger.spent_today("openai", at=day + 60) == Spent()
    assert utc_day(day) == "2026-01-01"
    ledger.close()
