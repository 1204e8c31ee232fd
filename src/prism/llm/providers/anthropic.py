"""The Anthropic Messages API: /v1/messages streamed as named server-sent events.

message_start carries the input tokens, content_block_delta the text, message_delta the
output tokens, message_stop the end; an `error` event (e.g. overloaded_error) can arrive
mid-stream. Anthropic has no embeddings endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from prism.llm.errors import ProviderUnavailableError
from prism.llm.providers.base import ChatStream, Message, Usage, classify, truncated
from prism.llm.transport import Transport, iter_sse

API_VERSION = "2023-06-01"


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, base_url: str, api_key: str | None, transport: Transport) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.transport = transport

    def _errors(self, model: str) -> Any:
        return lambda status, body: classify(self.name, status, body, model=model,
                                             key_setting="ANTHROPIC_API_KEY", secrets=[self._key or ""])

    def chat(self, model: str, messages: Sequence[Message], *, max_tokens: int) -> ChatStream:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, Any] = {
            "model": model, "max_tokens": max_tokens, "stream": True,
            "messages": [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]}
        if system:
            body["system"] = system
        headers = {"x-api-key": self._key or "", "anthropic-version": API_VERSION}
        response = self.transport.send("POST", f"{self.base_url}/v1/messages", headers=headers, json_body=body,
                                       stream=True, on_error=self._errors(model))
        usage = Usage()

        def chunks() -> Iterator[str]:
            for event, data in iter_sse(response, self.name):
                if not isinstance(data, dict):
                    continue
                kind = data.get("type", event)
                if kind == "message_start":
                    usage.prompt_tokens = ((data.get("message") or {}).get("usage") or {}).get("input_tokens")
                elif kind == "content_block_delta":
                    text = (data.get("delta") or {}).get("text")
                    if text:
                        yield str(text)
                elif kind == "message_delta":
                    usage.completion_tokens = (data.get("usage") or {}).get("output_tokens")
                elif kind == "message_stop":
                    return
                elif kind == "error":
                    error = data.get("error") or {}
                    raise ProviderUnavailableError(
                        f"anthropic failed mid-answer ({error.get('type', 'error')}): {error.get('message', '')}",
                        hint="Retry in a moment.", value=model)
            raise truncated(self.name)

        return ChatStream(chunks(), usage)
