"""Ask: a question → the budgeted pack → a model (named, or routed) → a streamed answer, checked and costed.

The answer's citations are checked against the pack (`citations.py`); prompt and completion
tokens come from the provider (counted with the pack's tokenizer when it reports none), the
cost from the price table, and the call is added to the day's ledger that the router's
budgets read. "Tokens saved" is what sending the pack saved against sending the whole files
its chunks come from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prism.errors import ConfigError
from prism.llm.citations import Citation, check_citations
from prism.llm.ledger import LEDGER_FILE, UsageLedger
from prism.llm.prices import Price, load_prices, price_for
from prism.llm.providers import Message, make_provider
from prism.llm.router import Decision, choose_model
from prism.llm.settings import LLMSettings, split_model

if TYPE_CHECKING:
    from prism.engine import Prism

SYSTEM_PROMPT = (
    "You answer questions about a codebase from the context below, which shows the relevant code with "
    "each file's path and line ranges (L<start>-<end>). Cite the code each claim rests on as path:start-end "
    "(for example src/app/main.py:10-24), using only ranges shown in the context. If the context does not "
    "hold the answer, say so instead of guessing.")


@dataclass(frozen=True)
class Answer:
    question: str
    model: str
    text: str
    intent: str
    prompt_tokens: int
    completion_tokens: int
    usage_estimated: bool  # the provider reported no usage: counted with the pack's tokenizer
    cost_usd: float | None  # None: the model has no known price
    pack_tokens: int
    whole_files_tokens: int
    citations: tuple[Citation, ...]
    decision: Decision

    @property
    def tokens_saved(self) -> int:
        return max(self.whole_files_tokens - self.pack_tokens, 0)

    @property
    def unsupported(self) -> list[Citation]:
        return [c for c in self.citations if not c.in_pack]

    def to_dict(self) -> dict[str, object]:
        return {
            "question": self.question, "model": self.model, "answer": self.text, "intent": self.intent,
            "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                      "estimated": self.usage_estimated},
            "cost_usd": self.cost_usd, "pack_tokens": self.pack_tokens,
            "whole_files_tokens": self.whole_files_tokens, "tokens_saved": self.tokens_saved,
            "citations": [c.to_dict() for c in self.citations],
            "unsupported_citations": [str(c) for c in self.unsupported],
            "routing": {"named": self.decision.named, "tier_needed": self.decision.tier_needed,
                        "need_tokens": self.decision.need_tokens,
                        "fallback": self.decision.fallback, "reasons": list(self.decision.reasons)},
        }


def router_candidates(settings: LLMSettings, table: dict[str, Price]) -> list[tuple[str, Price]]:
    """PRISM_ROUTER_MODELS, else the price table's models of every provider that has credentials."""
    if settings.router_models:
        return [(spec, price_for(spec, table, settings)) for spec in settings.router_models]
    configured = {"anthropic": settings.anthropic_api_key is not None,
                  "openai": settings.openai_api_key is not None,
                  "workers-ai": settings.cloudflare_api_token is not None and bool(settings.cloudflare_account_id)}
    found = [(spec, price) for spec, price in table.items()
             if not spec.endswith(":*") and configured.get(split_model(spec)[0], False)]
    if not found:
        raise ConfigError("DEFAULT_MODEL=auto has no models to choose from.",
                          hint="Set PRISM_ROUTER_MODELS (e.g. ollama:qwen2.5-coder:7b,anthropic:claude-haiku-4-5), "
                               "or a provider key, or name one model in DEFAULT_MODEL.")
    return found


def choose(settings: LLMSettings, ledger: UsageLedger, intent: str, prompt_tokens: int,
           model: str | None = None) -> Decision:
    """The model for this call: the one named (budget-checked) or, for auto, the router's pick."""
    table = load_prices(settings.prices_file)
    spec = (model or settings.default_model).strip()
    candidates = router_candidates(settings, table) if spec == "auto" else [(spec, price_for(spec, table, settings))]
    spent = {provider: ledger.spent_today(provider) for provider in {split_model(s)[0] for s, _ in candidates}}
    if spec == "auto":
        return choose_model(intent, prompt_tokens, settings.answer_tokens, candidates, spent, settings.llm_budgets)
    decision = choose_model(intent, prompt_tokens, settings.answer_tokens, candidates, spent, settings.llm_budgets,
                            required_tier=1)
    return dataclasses.replace(decision, named=True)


def ask(prism: Prism, question: str, *, settings: LLMSettings, budget_tokens: int = 8000, model: str | None = None,
        intent: str | None = None, on_text: Callable[[str], None] | None = None,
        ledger_path: Path | None = None) -> Answer:
    """Answer `question` from `prism`'s packed context, streaming the text to `on_text` as it arrives."""
    pack = prism.context(question, budget_tokens=budget_tokens, fmt="markdown", intent=intent, line_numbers=True)
    messages = [Message("system", SYSTEM_PROMPT), Message("user", f"{pack.text}\n\n# Question\n\n{question}")]
    counter = prism.tokenizer
    prompt_estimate = sum(counter.count(m.content) for m in messages)
    ledger = UsageLedger(ledger_path or prism.settings.home / LEDGER_FILE)
    try:
        decision = choose(settings, ledger, pack.intent, prompt_estimate, model)
        provider_name, model_name = split_model(decision.model)
        provider = make_provider(provider_name, settings)
        try:
            stream = provider.chat(model_name, messages, max_tokens=settings.answer_tokens)
            parts: list[str] = []
            for text in stream:
                parts.append(text)
                if on_text is not None:
                    on_text(text)
        finally:
            provider.transport.close()
        answer = "".join(parts)
        estimated = stream.usage.prompt_tokens is None or stream.usage.completion_tokens is None
        prompt_tokens = stream.usage.prompt_tokens if stream.usage.prompt_tokens is not None else prompt_estimate
        completion_tokens = (stream.usage.completion_tokens if stream.usage.completion_tokens is not None
                             else counter.count(answer))
        price = price_for(decision.model, load_prices(settings.prices_file), settings)
        cost = price.cost_usd(prompt_tokens, completion_tokens)
        ledger.record(provider_name, model_name, prompt_tokens, completion_tokens, cost)
    finally:
        ledger.close()
    whole = pack.savings.whole_files_tokens if pack.savings is not None else pack.tokens
    return Answer(question=question, model=decision.model, text=answer, intent=pack.intent,
                  prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, usage_estimated=estimated,
                  cost_usd=cost, pack_tokens=pack.tokens, whole_files_tokens=whole,
                  citations=tuple(check_citations(answer, pack.chunks)), decision=decision)

