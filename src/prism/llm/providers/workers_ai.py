"""Cloudflare Workers AI's REST API: POST accounts/<id>/ai/run/<model>.

Text models stream server-sent events `data: {"response": "…"}` … `data: [DONE]`; embedding
models take {"text": [...]} and answer {"result": {"shape": [n, d], "data": [[...]]}}.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from prism.errors import ConfigError
from prism.llm.errors import ProviderError
from prism.llm.providers.base import ChatStream, Message, Usage, classify, error_text, truncated, vectors_from
from prism.llm.transport import Transport, iter_sse


class WorkersAIProvider:
    name = "workers-ai"

    def __init__(self, base_url: str, account_id: str | None, api_token: str | None, transport: Transport) -> None:
        if not account_id:
            raise ConfigError("Workers AI needs a Cloudflare account id.",
                              hint="Set CLOUDFLARE_ACCOUNT_ID (or PRISM_CLOUDFLARE_ACCOUNT_ID).")
        self.base_url = f"{base_url.rstrip('/')}/accounts/{account_id}/ai/run"
        self._token = api_token
        self.transport = transport

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _errors(self, model: str) -> Any:
        return lambda status, body: classify(self.name, status, body, model=model,
                                             key_setting="CLOUDFLARE_API_TOKEN", secrets=[self._token or ""])

    def chat(self, model: str, messages: Sequence[Message], *, max_tokens: int) -> ChatStream:
        body = {"messages": [{"role": m.role, "content": m.content} for m in messages],
                "max_tokens": max_tokens, "stream": True}
        response = self.transport.send("POST", f"{self.base_url}/{model}", headers=self._headers(), json_body=body,
                                       stream=True, on_error=self._errors(model))
        usage = Usage()

        def chunks() -> Iterator[str]:
            for event, data in iter_sse(response, self.name):
                if event == "done":
                    return
                if not isinstance(data, dict):
                    continue
                if data.get("errors"):
                    raise ProviderError(f"workers-ai failed mid-answer: {error_text(json.dumps(data))}",
                                        value=model)
                if isinstance(data.get("usage"), dict):
                    usage.prompt_tokens = data["usage"].get("prompt_tokens")
                    usage.completion_tokens = data["usage"].get("completion_tokens")
                text = data.get("response")
                if text:
                    yield str(text)
            raise truncated(self.name)

        return ChatStream(chunks(), usage)

    def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        data = self.transport.post_json(f"{self.base_url}/{model}", {"text": list(texts)}, headers=self._headers(),
                                        on_error=self._errors(model))
        result = data.get("result") if isinstance(data, dict) else None
        return vectors_from(result.get("data") if isinstance(result, dict) else None, len(texts), self.name)
