"""Model providers over HTTP (httpx, no vendor SDK): `make_provider` builds one from the settings."""

from __future__ import annotations

from prism.errors import ConfigError
from prism.llm.providers.anthropic import AnthropicProvider
from prism.llm.providers.base import ChatProvider, ChatStream, EmbeddingProvider, Message, Usage
from prism.llm.providers.ollama import OllamaProvider
from prism.llm.providers.openai import OpenAIProvider
from prism.llm.providers.workers_ai import WorkersAIProvider
from prism.llm.settings import LLMSettings
from prism.llm.transport import Transport

PROVIDERS = ("ollama", "anthropic", "openai", "workers-ai")

__all__ = ["PROVIDERS", "AnthropicProvider", "ChatProvider", "ChatStream", "EmbeddingProvider", "Message",
           "OllamaProvider", "OpenAIProvider", "Usage", "WorkersAIProvider", "make_provider"]

Provider = OllamaProvider | AnthropicProvider | OpenAIProvider | WorkersAIProvider


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter is not None else None


def make_provider(name: str, settings: LLMSettings) -> Provider:
    """The provider called `name`, configured from `settings` (ConfigError for an unknown name)."""
    transport = Transport(name, timeout_s=settings.llm_timeout_s, connect_timeout_s=settings.llm_connect_timeout_s,
                          retries=settings.llm_retries, max_retry_wait_s=settings.llm_max_retry_wait_s)
    if name == "ollama":
        return OllamaProvider(settings.ollama_host, transport)
    if name == "anthropic":
        return AnthropicProvider(settings.anthropic_base_url, _secret(settings.anthropic_api_key), transport)
    if name == "openai":
        return OpenAIProvider(settings.openai_base_url, _secret(settings.openai_api_key), transport)
    if name in ("workers-ai", "cloudflare"):
        return WorkersAIProvider(settings.cloudflare_base_url, settings.cloudflare_account_id,
                                 _secret(settings.cloudflare_api_token), transport)
    transport.close()
    raise ConfigError(f"Unknown model provider {name!r}.", hint=f"Use one of: {', '.join(PROVIDERS)}.", value=name)
