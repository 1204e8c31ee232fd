"""Ollama's native API: /api/chat streams one JSON object per line; /api/embed takes a batch."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

from prism.llm.errors import ProviderError
from prism.llm.providers.base import ChatStream, Message, Usage, classify, truncated, vectors_from
from prism.llm.transport import Transport, iter_ndjson


def ollama_url(host: str) -> str:
    """OLLAMA_HOST as Ollama reads it: `host[:port]` (port 11434) or a URL (port 80/443 unless given)."""
    host = host.strip().rstrip("/")
    scheme, sep, _ = host.partition("://")
    default_port = {"http": 80, "https": 443}.get(scheme, 11434) if sep else 11434
    parts = urllib.parse.urlsplit(host if sep else f"http://{host}")
    hostname = parts.hostname or "127.0.0.1"
    if hostname == "0.0.0.0":  # a bind address: the server listens on every interface, loopback included
        hostname = "127.0.0.1"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    return f"{parts.scheme}://{hostname}:{parts.port or default_port}{parts.path}"


def context_window(messages: Sequence[Message], max_tokens: int) -> int:
    """num_ctx for a request: Ollama silently drops the start of a prompt longer than its window
    (default 2,048–4,096 tokens), which would cut the packed context; code runs ~3.5–4 characters
    per token, so a third of the characters is a safe upper bound. Rounded up to 1,024."""
    need = sum(len(m.content) for m in messages) // 3 + max_tokens
    return max(4096, -(-need // 1024) * 1024)


class OllamaProvider:
    name = "ollama"

    def __init__(self, host: str, transport: Transport) -> None:
        self.base_url = ollama_url(host)
        self.transport = transport

    def _errors(self, model: str) -> Any:
        return lambda status, body: classify(self.name, status, body, model=model, key_setting="OLLAMA_HOST")

    def chat(self, model: str, messages: Sequence[Message], *, max_tokens: int) -> ChatStream:
        body = {"model": model, "messages": [{"role": m.role, "content": m.content} for m in messages],
                "stream": True, "options": {"num_predict": max_tokens, "num_ctx": context_window(messages, max_tokens)}}
        response = self.transport.send("POST", f"{self.base_url}/api/chat", json_body=body, stream=True,
                                       on_error=self._errors(model))
        usage = Usage()

        def chunks() -> Iterator[str]:
            for data in iter_ndjson(response, self.name):
                if not isinstance(data, dict):
                    continue
                if data.get("error"):
                    raise ProviderError(f"ollama failed mid-answer: {data['error']}", value=model)
                text = (data.get("message") or {}).get("content")
                if text:
                    yield str(text)
                if data.get("done"):
                    usage.prompt_tokens = data.get("prompt_eval_count")
                    usage.completion_tokens = data.get("eval_count")
                    return
            raise truncated(self.name)

        return ChatStream(chunks(), usage)

    def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        data = self.transport.post_json(f"{self.base_url}/api/embed", {"model": model, "input": list(texts)},
                                        on_error=self._errors(model))
        return vectors_from(data.get("embeddings") if isinstance(data, dict) else None, len(texts), self.name)
