"""What every provider shares: the chat and embedding records, the Protocols, and error classification."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from prism.llm.errors import (
    ContextTooLongError,
    ProviderAuthError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailableError,
    UnknownModelError,
)

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass
class Usage:
    """Tokens the provider reports; None where it reported nothing (the caller may estimate)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ChatStream:
    """The answer's text as it arrives; `usage` is filled in by the time iteration ends."""

    def __init__(self, chunks: Iterator[str], usage: Usage) -> None:
        self._chunks = chunks
        self.usage = usage

    def __iter__(self) -> Iterator[str]:
        return self._chunks

    def text(self) -> str:
        return "".join(self)


class ChatProvider(Protocol):
    name: str

    def chat(self, model: str, messages: Sequence[Message], *, max_tokens: int) -> ChatStream:
        """Stream an answer; raises ProviderError subclasses (before or during the stream)."""
        ...


class EmbeddingProvider(Protocol):
    name: str

    def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


def error_text(body: str) -> str:
    """The provider's own error message from an error body (OpenAI, Anthropic, Ollama, Cloudflare shapes)."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body.strip()[:300]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))[:300]
        if data.get("message"):
            return str(data["message"])[:300]
    return body.strip()[:300]


_TOO_LONG = ("context length", "context_length", "context window", "too long", "maximum context",
             "too many tokens", "exceeds the", "input length")
_NO_MODEL = ("model_not_found", "not found", "does not exist", "no such model", "unknown model", "invalid model")


def classify(provider: str, status: int, body: str, *, model: str, key_setting: str,
             secrets: Sequence[str] = ()) -> ProviderError:
    """An error status and body → the ProviderError subclass a user can act on (keys redacted)."""
    text = error_text(body)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    lowered = text.lower()
    said = f": {text}" if text else ""
    if status in (401, 403):
        return ProviderAuthError(f"{provider} refused the credentials (HTTP {status}){said}.",
                                 hint=f"Check {key_setting} (or PRISM_{key_setting}).", value=provider)
    if status in (400, 413, 422) and any(cue in lowered for cue in _TOO_LONG):
        return ContextTooLongError(f"The prompt is too long for {provider}:{model}{said}.",
                                   hint="Ask with a smaller --budget, or pick a model with a larger context.",
                                   value=model)
    if status == 404 or (status in (400, 422) and any(cue in lowered for cue in _NO_MODEL)):
        return UnknownModelError(f"{provider} has no model {model!r} (HTTP {status}){said}.",
                                 hint="Check the model name (for Ollama: `ollama pull` it first).", value=model)
    if status == 429 or status >= 500:
        return ProviderUnavailableError(f"{provider} is busy or failing (HTTP {status}){said}.",
                                        hint="It kept failing after the retries: try later or another model.",
                                        value=provider)
    return ProviderError(f"{provider} refused the request (HTTP {status}){said}.",
                         hint="Check the model name and the provider settings (docs/settings.md).", value=provider)


def truncated(provider: str) -> ProviderResponseError:
    return ProviderResponseError(f"The stream from {provider} ended before the answer was complete.",
                                 hint="Retry; if it keeps happening, check the server's logs.", value=provider)


def vectors_from(data: Any, count: int, provider: str) -> list[list[float]]:
    """Check that an embedding answer holds `count` equal-length lists of numbers."""
    if not isinstance(data, list) or len(data) != count or not all(isinstance(v, list) and v for v in data):
        raise ProviderResponseError(f"{provider} returned {len(data) if isinstance(data, list) else 'no'} "
                                    f"vectors for {count} texts.",
                                    hint="Check that the model is an embedding model.", value=provider)
    if len({len(v) for v in data}) != 1:
        raise ProviderResponseError(f"{provider} returned vectors of different lengths.", value=provider)
    return data
