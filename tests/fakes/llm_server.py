"""A loopback server that speaks four providers' wire formats, for tests (nothing leaves the machine).

OpenAI-compatible (/v1/chat/completions, /v1/embeddings), Ollama (/api/chat, /api/embed),
Anthropic (/v1/messages) and Workers AI (/client/v4/accounts/<id>/ai/run/<model>) on one
real HTTP server in a thread. Embeddings are HashingEmbedder vectors scaled by 3 (so the
client must normalise them); answers stream word by word. Faults are queued per request:
`fail(status, retry_after=…)`, and `stream_fault` = "truncate" | "malformed" | "midstream-error".
The model "missing" is unknown; a prompt longer than `max_prompt_chars` is too long.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prism.index.embed import HashingEmbedder
from prism.llm.settings import LLMSettings

ANSWER = "The packer fits chunks to the budget (see src/pkg/core.py:1-4) and never src/pkg/nowhere.py:90-99."


class FakeProviders:
    def __init__(self) -> None:
        self.api_key: str | None = None  # when set, requests must carry it
        self.answer = ANSWER
        self.max_prompt_chars = 200_000
        self.faults: list[tuple[int, str | None]] = []
        self.stream_fault: str | None = None
        self.embed_delay_s = 0.0
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._hashing = HashingEmbedder()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fail(self, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        self.faults.extend([(status, retry_after)] * times)

    def start(self) -> FakeProviders:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def vectors(self, texts: list[str]) -> list[list[float]]:
        return (self._hashing.embed_documents(texts) * 3.0).tolist()  # type: ignore[no-any-return]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection closes (lets a test truncate)

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    fault = fake.faults.pop(0) if fake.faults else None
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    self._route(body, fault)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def _kind(self) -> str:
                if self.path.startswith("/api/"):
                    return "ollama"
                if self.path == "/v1/messages":
                    return "anthropic"
                if "/ai/run/" in self.path:
                    return "workers-ai"
                return "openai"

            def _error(self, kind: str, status: int, message: str, headers: dict[str, str] | None = None) -> None:
                if kind == "ollama":
                    body: Any = {"error": message}
                elif kind == "anthropic":
                    body = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
                elif kind == "workers-ai":
                    body = {"success": False, "errors": [{"code": 7000, "message": message}], "result": None}
                else:
                    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
                self._send(status, body, headers)

            def _authorised(self, kind: str) -> bool:
                if fake.api_key is None or kind == "ollama":
                    return True
                given = (self.headers.get("x-api-key") if kind == "anthropic"
                         else (self.headers.get("Authorization") or "").removeprefix("Bearer "))
                return given == fake.api_key

            def _route(self, body: dict[str, Any], fault: tuple[int, str | None] | None) -> None:
                kind = self._kind()
                if fault is not None:
                    status, retry_after = fault
                    self._error(kind, status, "slow down" if status == 429 else "upstream failure",
                                {"Retry-After": retry_after} if retry_after else None)
                    return
                if not self._authorised(kind):
                    given = self.headers.get("x-api-key") or self.headers.get("Authorization") or ""
                    self._error(kind, 401, f"Invalid API key: {given}")  # echoes it, as some providers do
                    return
                model = body.get("model") or self.path.rsplit("/ai/run/", 1)[-1]
                if model == "missing":
                    self._error(kind, 400 if kind == "workers-ai" else 404, f"model '{model}' not found")
                    return
                if "messages" in body:
                    prompt = sum(len(m["content"]) for m in body["messages"]) + len(body.get("system", ""))
                    if prompt > fake.max_prompt_chars:
                        message = ("prompt is too long: 250000 tokens > 200000 maximum" if kind == "anthropic"
                                   else "This model's maximum context length is 8192 tokens")
                        self._error(kind, 400, message)
                        return
                    self._chat(kind, prompt)
                    return
                texts = body.get("input") if kind != "workers-ai" else body.get("text")
                if fake.embed_delay_s:
                    time.sleep(fake.embed_delay_s)
                vectors = fake.vectors(list(texts))
                if kind == "ollama":
                    self._send(200, {"model": model, "embeddings": vectors})
                elif kind == "workers-ai":
                    self._send(200, {"success": True, "errors": [], "messages": [],
                                     "result": {"shape": [len(vectors), len(vectors[0])], "data": vectors}})
                else:  # answer out of order: the client must sort by index
                    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
                    self._send(200, {"object": "list", "data": data[::-1], "model": model,
                                     "usage": {"prompt_tokens": 1, "total_tokens": 1}})

            def _events(self, kind: str, prompt: int) -> Iterator[str]:
                words = [w + " " for w in fake.answer.split(" ")]
                words[-1] = words[-1].rstrip()
                prompt_tokens, completion_tokens = prompt // 4, len(words)
                if kind == "anthropic":
                    yield "event: message_start\ndata: " + json.dumps(
                        {"type": "message_start", "message": {"usage": {"input_tokens": prompt_tokens,
                                                                        "output_tokens": 1}}}) + "\n\n"
                    for word in words:
                        yield "event: content_block_delta\ndata: " + json.dumps(
                            {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": word}}) + "\n\n"
                    yield "event: message_delta\ndata: " + json.dumps(
                        {"type": "message_delta", "usage": {"output_tokens": completion_tokens}}) + "\n\n"
                    yield 'event: message_stop\ndata: {"type": "message_stop"}\n\n'
                elif kind == "ollama":
                    for word in words:
                        yield json.dumps({"message": {"role": "assistant", "content": word}, "done": False}) + "\n"
                    yield json.dumps({"message": {"role": "assistant", "content": ""}, "done": True,
                                      "prompt_eval_count": prompt_tokens, "eval_count": completion_tokens}) + "\n"
                elif kind == "workers-ai":
                    for word in words:
                        yield "data: " + json.dumps({"response": word}) + "\n\n"
                    yield "data: " + json.dumps({"response": "", "usage": {
                        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}) + "\n\n"
                    yield "data: [DONE]\n\n"
                else:
                    yield ": keep-alive comment\n\n"
                    for word in words:
                        yield "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": word}}]}) + "\n\n"
                    yield "data: " + json.dumps({"choices": [], "usage": {
                        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}) + "\n\n"
                    yield "data: [DONE]\n\n"

            def _chat(self, kind: str, prompt: int) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson" if kind == "ollama" else "text/event-stream")
                self.end_headers()
                events = list(self._events(kind, prompt))
                if fake.stream_fault == "truncate":
                    events = events[:3]
                elif fake.stream_fault == "malformed":
                    events.insert(2, "data: {not json\n\n" if kind != "ollama" else "{not json\n")
                elif fake.stream_fault == "midstream-error":
                    error = {"ollama": json.dumps({"error": "model runner crashed"}) + "\n",
                             "anthropic": 'event: error\ndata: {"type": "error", "error": {"type": '
                                          '"overloaded_error", "message": "Overloaded"}}\n\n',
                             "workers-ai": 'data: {"errors": [{"message": "worker crashed"}]}\n\n',
                             "openai": 'data: {"error": {"message": "worker crashed"}}\n\n'}[kind]
                    events = [*events[:2], error]
                for event in events:
                    self.wfile.write(event.encode())
                    self.wfile.flush()

        return Handler


@contextmanager
def fake_providers() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    try:
        yield fake
    finally:
        fake.stop()


KEY = "sk-test-0123456789abcdef"


def settings_for(fake: FakeProviders, **overrides: object) -> LLMSettings:
    """LLMSettings pointing every provider at `fake`, with KEY as every key."""
    values: dict[str, object] = {
        "ollama_host": fake.url, "openai_base_url": f"{fake.url}/v1", "openai_api_key": KEY,
        "anthropic_base_url": fake.url, "anthropic_api_key": KEY, "cloudflare_base_url": f"{fake.url}/client/v4",
        "cloudflare_account_id": "acct", "cloudflare_api_token": KEY, "llm_retries": 3, "llm_timeout_s": 10.0,
        "router_models": []}
    values.update(overrides)
    return LLMSettings(**values)  # type: ignore[arg-type]
