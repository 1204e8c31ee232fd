"""The router behind DEFAULT_MODEL=auto: the cheapest model that suits the task and is within budget.

1. Need: a capability tier from the intent (a lookup or an explanation needs less than a
   refactor), one tier more for a long pack, and a context window of prompt + answer tokens.
2. Each candidate is checked against that window and its provider's daily budget (tokens and
   USD, spent so far today + this call's estimate).
3. Of the candidates that fit, suit the tier and are within budget, the cheapest wins; a local
   or free model costs nothing, so it wins whenever it suffices. If none suits the tier, the
   most capable affordable one is taken and the decision says it is a fallback. If nothing is
   affordable, BudgetExhaustedError lists why each candidate was refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from prism.llm.errors import BudgetExhaustedError
from prism.llm.ledger import Spent
from prism.llm.prices import Price
from prism.llm.settings import DailyBudget, split_model

INTENT_TIER: dict[str, int] = {"search": 1, "explain": 1, "general": 1, "test": 2, "bugfix": 2, "feature": 2,
                               "refactor": 3}
LONG_PACK_TOKENS = 24_000  # above this the model must reason over a lot of code: one tier more


@dataclass(frozen=True)
class Decision:
    model: str
    tier_needed: int
    need_tokens: int
    estimated_usd: float | None
    fallback: bool
    reasons: tuple[str, ...]  # one line per candidate, in the order considered
    named: bool = False  # the user named the model: only its window and budget were checked

    def explain(self) -> str:
        if self.named:
            head = f"{self.model} was named (--model or DEFAULT_MODEL); {self.need_tokens:,} tokens of context."
        else:
            head = (f"Task needs tier {self.tier_needed} and {self.need_tokens:,} tokens of context; chose "
                    f"{self.model}{' (fallback)' if self.fallback else ''}.")
        return "\n".join([head, *(f"  {line}" for line in self.reasons)])


def tier_needed(intent: str, pack_tokens: int) -> int:
    tier = INTENT_TIER.get(intent, 2)
    if pack_tokens > LONG_PACK_TOKENS:
        tier += 1
    return min(tier, 3)


def _refusal(spec: str, price: Price, need: int, estimate: float | None, spent: Spent,
             budget: DailyBudget | None) -> str | None:
    """Why `spec` cannot take this call, or None when it can."""
    if price.context_tokens and price.context_tokens < need:  # 0: unknown, the provider will say
        return f"context window {price.context_tokens:,} < {need:,} tokens"
    if budget is not None and budget.tokens is not None and spent.tokens + need > budget.tokens:
        return f"daily token budget spent ({spent.tokens:,} of {budget.tokens:,}; this call needs up to {need:,})"
    if budget is not None and budget.usd is not None:
        if estimate is None:
            return "no price known, so its USD budget cannot be checked (add it to PRISM_PRICES_FILE)"
        if spent.usd + estimate > budget.usd:
            return f"daily USD budget spent (${spent.usd:.4f} of ${budget.usd:.2f}; this call ≈ ${estimate:.4f})"
    return None


def choose_model(intent: str, prompt_tokens: int, answer_tokens: int, candidates: Sequence[tuple[str, Price]],
                 spent: Mapping[str, Spent], budgets: Mapping[str, DailyBudget], *,
                 allow_fallback: bool = True, required_tier: int | None = None) -> Decision:
    """Pick one of `candidates` (`provider:model`, price) for a call of prompt + answer tokens.

    required_tier overrides the tier the intent and size call for (1 for a model the user named).
    """
    need = prompt_tokens + answer_tokens
    tier = tier_needed(intent, prompt_tokens) if required_tier is None else required_tier
    fits: list[tuple[str, Price, float | None]] = []
    reasons: list[str] = []
    for spec, price in candidates:
        provider, _ = split_model(spec)
        estimate = price.cost_usd(prompt_tokens, answer_tokens)
        refusal = _refusal(spec, price, need, estimate, spent.get(provider, Spent()), budgets.get(provider))
        cost = "unknown cost" if estimate is None else ("free" if estimate == 0 else f"≈ ${estimate:.4f}")
        if refusal:
            reasons.append(f"{spec}: refused, {refusal}")
        else:
            fits.append((spec, price, estimate))
            reasons.append(f"{spec}: tier {price.tier}{', local' if price.local else ''}, {cost}"
                           f"{'' if price.tier >= tier else ' (below the tier needed)'}")
    if not fits:
        raise BudgetExhaustedError(
            "No model can take this question: " + "; ".join(reasons) + ".",
            hint="Raise PRISM_LLM_BUDGETS, ask with a smaller --budget, or wait for the UTC day to turn.")

    def cheapest(item: tuple[str, Price, float | None]) -> tuple[float, bool, int]:
        return (float("inf") if item[2] is None else item[2], not item[1].local, item[1].tier)

    suited = [item for item in fits if item[1].tier >= tier]
    if suited:
        spec, _, estimate = min(suited, key=cheapest)
        return Decision(spec, tier, need, estimate, False, tuple(reasons))
    if not allow_fallback:
        raise BudgetExhaustedError(f"No model of tier {tier} is within budget: " + "; ".join(reasons) + ".",
                                   hint="Raise PRISM_LLM_BUDGETS or add a model to PRISM_ROUTER_MODELS.")
    spec, _, estimate = min(fits, key=lambda item: (-item[1].tier, *cheapest(item)))
    return Decision(spec, tier, need, estimate, True,
                    (*reasons, f"no model of tier {tier} is within budget: falling back to {spec}"))
