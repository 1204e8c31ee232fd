"""LLMSettings: where the model providers are and how to reach them, under the names their ecosystems use.

Each setting is read from `PRISM_<NAME>` or the bare name the provider's own tools read
(`OPENAI_API_KEY`, `OLLAMA_HOST`, …), the same dual naming as the server's settings. Keys are
`SecretStr`: they print as `**********` and are unwrapped only into a request header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from prism.config import split_commas
from prism.errors import ConfigError


def _env(name: str, *, bare: bool = True) -> AliasChoices:
    """Accept PRISM_<NAME> and (for the ecosystems' own names) the bare <NAME>."""
    return AliasChoices(f"PRISM_{name}", name) if bare else AliasChoices(f"PRISM_{name}")


class DailyBudget(BaseModel):
    """What one provider may spend per UTC day; None is unlimited."""

    model_config = {"frozen": True, "extra": "forbid"}

    tokens: int | None = Field(None, ge=0)
    usd: float | None = Field(None, ge=0)


class LLMSettings(BaseSettings):
    """Everything `prism ask` and the remote embedders read; the descriptions are the reference."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    default_model: str = Field(
        "auto", validation_alias=_env("DEFAULT_MODEL"),
        description="Model that answers `prism ask`: `provider:model` (providers: ollama, anthropic, openai, "
                    "workers-ai) or `auto` (the router picks; see PRISM_ROUTER_MODELS).",
    )
    ollama_host: str = Field("http://localhost:11434", validation_alias=_env("OLLAMA_HOST"),
                             description="Ollama server (`host:port` or a URL).")
    openai_base_url: str = Field(
        "https://api.openai.com/v1", validation_alias=_env("OPENAI_BASE_URL"),
        description="OpenAI-compatible API root (OpenAI, vLLM, llama.cpp server, LM Studio, "
                    "text-embeddings-inference), ending in /v1.",
    )
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"),
                                             description="Bearer key for the OpenAI-compatible API (local servers "
                                                         "usually need none).")
    anthropic_base_url: str = Field("https://api.anthropic.com", validation_alias=_env("ANTHROPIC_BASE_URL"),
                                    description="Anthropic Messages API root.")
    anthropic_api_key: SecretStr | None = Field(None, validation_alias=_env("ANTHROPIC_API_KEY"),
                                                description="Anthropic API key (sent as x-api-key).")
    cloudflare_account_id: str | None = Field(None, validation_alias=_env("CLOUDFLARE_ACCOUNT_ID"),
                                              description="Cloudflare account that runs Workers AI.")
    cloudflare_api_token: SecretStr | None = Field(None, validation_alias=_env("CLOUDFLARE_API_TOKEN"),
                                                   description="Cloudflare API token with Workers AI access.")
    cloudflare_base_url: str = Field(
        "https://api.cloudflare.com/client/v4", validation_alias=_env("CLOUDFLARE_BASE_URL"),
        description="Cloudflare REST API root (Workers AI runs under accounts/<id>/ai/run/).",
    )
    llm_timeout_s: float = Field(120.0, gt=0, validation_alias=_env("LLM_TIMEOUT_S", bare=False),
                                 description="Longest wait for a provider's next byte, in seconds.")
    llm_connect_timeout_s: float = Field(10.0, gt=0, validation_alias=_env("LLM_CONNECT_TIMEOUT_S", bare=False),
                                         description="Longest wait to connect to a provider, in seconds.")
    llm_retries: int = Field(4, ge=0, le=10, validation_alias=_env("LLM_RETRIES", bare=False),
                             description="Retries on 429, 5xx and connection errors (exponential backoff with "
                                         "jitter; a Retry-After header is honoured).")
    llm_max_retry_wait_s: float = Field(60.0, ge=0, validation_alias=_env("LLM_MAX_RETRY_WAIT_S", bare=False),
                                        description="A Retry-After longer than this fails at once instead of waiting.")
    answer_tokens: int = Field(1024, ge=16, validation_alias=_env("ANSWER_TOKENS", bare=False),
                               description="Most tokens an answer from `prism ask` may use.")
    prices_file: Path | None = Field(
        None, validation_alias=_env("PRICES_FILE", bare=False),
        description="JSON price table merged over the built-in one: {\"provider:model\": {\"input_usd_per_mtok\": "
                    "…, \"output_usd_per_mtok\": …, \"context_tokens\": …, \"tier\": 1-3}}.",
    )
    llm_budgets: dict[str, DailyBudget] = Field(
        default_factory=dict, validation_alias=_env("LLM_BUDGETS", bare=False),
        description="Daily budget per provider (UTC day), JSON: {\"anthropic\": {\"tokens\": 500000, \"usd\": 2}}; "
                    "usage is counted in PRISM_HOME/llm_usage.db.",
    )
    router_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("ROUTER_MODELS", bare=False),
        description="Candidates for DEFAULT_MODEL=auto, comma-separated `provider:model` (default: the price "
                    "table's models of every provider that has a key). List Ollama models here to let the "
                    "router prefer them.",
    )
    embed_concurrency: int = Field(4, ge=1, le=64, validation_alias=_env("EMBED_CONCURRENCY", bare=False),
                                   description="Requests in flight at once to a remote embedder (each indexing "
                                               "batch of PRISM_EMBED_BATCH chunks is split into requests).")
    embed_request_batch: int = Field(8, ge=1, le=2048, validation_alias=_env("EMBED_REQUEST_BATCH", bare=False),
                                     description="Texts per request to a remote embedder; for a GPU server raise it "
                                                 "and PRISM_EMBED_BATCH together (e.g. 64 and 256).")

    @field_validator("router_models", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        return split_commas(value)


def load_llm_settings(**overrides: object) -> LLMSettings:
    """Settings from the environment; an invalid value is a ConfigError naming it (never echoing it)."""
    try:
        return LLMSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        raise ConfigError(f"Invalid model provider setting: {problems}.",
                          hint="Fix that environment variable; docs/settings.md lists each setting's values.") from exc


def split_model(spec: str) -> tuple[str, str]:
    """`provider:model` → (provider, model); the model may itself contain colons (`ollama:qwen2.5:7b`)."""
    provider, sep, model = spec.strip().partition(":")
    if not sep or not provider or not model:
        raise ConfigError(f"Model {spec!r} is not `provider:model`.",
                          hint="Write e.g. ollama:llama3.2, anthropic:claude-sonnet-4-5, openai:gpt-4o-mini, "
                               "workers-ai:@cf/meta/llama-3.1-8b-instruct (or auto).", value=spec)
    return provider.lower(), model
