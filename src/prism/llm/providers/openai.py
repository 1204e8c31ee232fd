"""OpenAI-compatible chat completions and embeddings (OpenAI, vLLM, llama.cpp server, LM Studio, TEI).

Chat streams as server-sent events: `data: {choices: [{delta: {content}}]}` … `data: [DONE]`;
usage comes in a last chunk when `stream_options.include_usage` is honoured.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from prism.llm.errors import ProviderError
from prism.llm.providers.base import ChatStream, Message, Usage, classify, error_text, truncated, vectors_from
from prism.llm.transport import Transport, iter_sse


class OpenAIProvider:
    name = "openai"

    def __init__(self, base_url: str, api_key: str | None, transport: Transport) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.transport = transport

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    def _errors(self, model: str) -> Any:
        return lambda status, body: classify(self.name, status, body, model=model,
                                             key_setting="OPENAI_API_KEY", secrets=[self._key or ""])

    def chat(self, model: str, messages: Sequence[Message], *, max_tokens: int) -> ChatStream:
        body = {"model": model, "messages": [{"role": m.role, "content": m.content} for m in messages],
                "max_tokens": max_tokens, "stream": True, "stream_options": {"include_usage": True}}
        response = self.transport.send("POST", f"{self.base_url}/chat/completions", headers=self._headers(),
                                       json_body=body, stream=True, on_error=self._errors(model))
        usage = Usage()

        def chunks() -> Iterator[str]:
            for event, data in iter_sse(response, self.name):
                if event == "done":
                    return
                if isinstance(data, dict) and "error" in data:
                    raise ProviderError(f"{self.name} failed mid-answer: {error_text(json.dumps(data))}",
                                        value=model)
                if isinstance(data, dict) and isinstance(data.get("usage"), dict):
                    usage.prompt_tokens = data["usage"].get("prompt_tokens")
                    usage.completion_tokens = data["usage"].get("completion_tokens")
                for choice in (data.get("choices") or []) if isinstance(data, dict) else []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield str(text)
            raise truncated(self.name)

        return ChatStream(chunks(), usage)

    def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        data = self.transport.post_json(f"{self.base_url}/embeddings", {"model": model, "input": list(texts)},
                                        headers=self._headers(), on_error=self._errors(model))
        rows = data.get("data") if isinstance(data, dict) else None
        if isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
            rows = [r.get("embedding") for r in sorted(rows, key=lambda r: int(r.get("index", 0)))]
        return vectors_from(rows, len(texts), self.name)
