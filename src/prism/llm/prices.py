"""The price table: what a model costs per million tokens, how much it reads, and how capable it is.

`tier` is a coarse capability rank the router matches against a task's need: 1 small (lookups,
short explanations), 2 medium (most bug fixes and features), 3 large (wide refactors, long
packs). Prices are list prices in USD at the time of writing; override or extend them with
PRISM_PRICES_FILE. Local servers (Ollama, and OpenAI-compatible servers off api.openai.com)
cost nothing. Workers AI bills "neurons"; its entries are the equivalent USD per token.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from prism.errors import ConfigError
from prism.llm.settings import LLMSettings, split_model


@dataclass(frozen=True)
class Price:
    input_usd_per_mtok: float | None  # None: unknown (cost reported as unknown)
    output_usd_per_mtok: float | None
    context_tokens: int = 0  # 0: unknown
    tier: int = 1
    local: bool = False

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.input_usd_per_mtok is None or self.output_usd_per_mtok is None:
            return None
        return (prompt_tokens * self.input_usd_per_mtok + completion_tokens * self.output_usd_per_mtok) / 1e6


BUILTIN: dict[str, Price] = {
    "anthropic:claude-opus-4-1": Price(15.0, 75.0, 200_000, 3),
    "anthropic:claude-sonnet-4-5": Price(3.0, 15.0, 200_000, 3),
    "anthropic:claude-haiku-4-5": Price(1.0, 5.0, 200_000, 2),
    "openai:gpt-4.1": Price(2.0, 8.0, 1_000_000, 3),
    "openai:gpt-4.1-mini": Price(0.4, 1.6, 1_000_000, 2),
    "openai:gpt-4o-mini": Price(0.15, 0.6, 128_000, 2),
    "workers-ai:@cf/meta/llama-3.1-8b-instruct": Price(0.282, 0.827, 7_968, 1),
    "workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast": Price(0.293, 2.253, 24_000, 2),
    "ollama:*": Price(0.0, 0.0, 8_192, 1, local=True),
}


def _entry(spec: str, raw: object) -> Price:
    if not isinstance(raw, dict):
        raise ConfigError(f"The price of {spec} in PRISM_PRICES_FILE is not an object.", value=spec)
    try:
        return Price(
            input_usd_per_mtok=None if raw.get("input_usd_per_mtok") is None else float(raw["input_usd_per_mtok"]),
            output_usd_per_mtok=None if raw.get("output_usd_per_mtok") is None else float(raw["output_usd_per_mtok"]),
            context_tokens=int(raw.get("context_tokens", 0)), tier=int(raw.get("tier", 1)),
            local=bool(raw.get("local", False)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"The price of {spec} in PRISM_PRICES_FILE has a value that is not a number.",
                          hint="Write numbers for input_usd_per_mtok, output_usd_per_mtok, context_tokens, tier.",
                          value=spec) from exc


def load_prices(path: Path | None) -> dict[str, Price]:
    """The built-in table with PRISM_PRICES_FILE's entries over it."""
    table = dict(BUILTIN)
    if path is None:
        return table
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read the price table {path}: {exc}.",
                          hint="PRISM_PRICES_FILE must name a JSON object of `provider:model` entries.",
                          value=path) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"The price table {path} is not a JSON object.", value=path)
    table.update({str(spec): _entry(str(spec), raw) for spec, raw in data.items()})
    return table


def price_for(spec: str, table: dict[str, Price], settings: LLMSettings) -> Price:
    """The entry for `provider:model`, else `provider:*`, else free for a self-hosted server, else unknown."""
    provider, _ = split_model(spec)
    if spec in table:
        return table[spec]
    if f"{provider}:*" in table:
        return table[f"{provider}:*"]
    host = urllib.parse.urlsplit(settings.openai_base_url).hostname or ""
    if provider == "openai" and not host.endswith("openai.com"):
        return Price(0.0, 0.0, 0, 1, local=True)
    return Price(None, None)
