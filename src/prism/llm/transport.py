"""HTTP for every provider: timeouts, retries with backoff and jitter, Retry-After, and stream framing.

A request is retried on 429, 5xx (and Anthropic's 529) and on connection errors or timeouts,
up to `retries` times, waiting `Retry-After` when the server sends it (seconds or an HTTP
date) and otherwise a full-jitter exponential backoff. A stream is retried only before its
first byte is read: once tokens reach the caller, a failure is an error, never a silent
restart. Other error statuses go to the provider's `on_error`, which turns the provider's
error body into a ProviderError subclass.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from prism.llm.errors import ProviderError, ProviderResponseError, ProviderUnavailableError

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
ErrorMapper = Callable[[int, str], ProviderError]


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


@dataclass
class Transport:
    """One httpx client (connection pool, thread-safe) with the retry policy around it."""

    provider: str
    timeout_s: float = 120.0
    connect_timeout_s: float = 10.0
    retries: int = 4
    backoff_s: float = 0.5
    max_retry_wait_s: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        timeout = httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s)
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        self.client.close()

    def _wait(self, attempt: int, response: httpx.Response | None) -> None:
        asked = retry_after_s(response.headers.get("retry-after")) if response is not None else None
        if asked is not None and asked > self.max_retry_wait_s:
            error = ProviderUnavailableError(
                f"{self.provider} asks to retry in {asked:.0f} s (HTTP {response.status_code if response else '?'}).",
                hint="Its rate limit or quota is spent for now: try later, or pick another model "
                     "(DEFAULT_MODEL, or auto).")
            error.headers = {"Retry-After": str(math.ceil(asked))}
            raise error
        cap = min(self.backoff_s * 2 ** attempt, self.max_retry_wait_s)
        self.sleep(asked if asked is not None else random.uniform(0, cap))

    def send(self, method: str, url: str, *, on_error: ErrorMapper, stream: bool = False,
             headers: dict[str, str] | None = None, json_body: Any = None) -> httpx.Response:
        """The response to a request (status < 400); with stream=True its body is not read yet."""
        request = self.client.build_request(method, url, headers=headers, json=json_body)
        last: str = ""
        for attempt in range(self.retries + 1):
            try:
                response = self.client.send(request, stream=stream)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout_s:g} s"
            except httpx.TransportError as exc:
                last = f"cannot connect ({type(exc).__name__})"
            else:
                if response.status_code < 400:
                    return response
                body = response.read().decode("utf-8", errors="replace")
                response.close()
                if response.status_code not in RETRY_STATUSES:
                    raise on_error(response.status_code, body)
                last = f"HTTP {response.status_code}"
                if attempt < self.retries:
                    self._wait(attempt, response)
                    continue
                raise on_error(response.status_code, body)
            if attempt < self.retries:
                self._wait(attempt, None)
        raise ProviderUnavailableError(
            f"{self.provider} at {request.url.scheme}://{request.url.netloc.decode()}: {last} "
            f"({self.retries + 1} attempts).",
            hint="Check that the server runs and the base URL / host setting points at it.",
            value=request.url.host)

    def post_json(self, url: str, body: Any, *, on_error: ErrorMapper,
                  headers: dict[str, str] | None = None) -> Any:
        response = self.send("POST", url, headers=headers, json_body=body, on_error=on_error)
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderResponseError(f"{self.provider} answered with something that is not JSON.",
                                        hint="Check that the base URL points at the API itself.") from exc


def _lines(response: httpx.Response, provider: str) -> Iterator[str]:
    try:
        yield from response.iter_lines()
    except httpx.TransportError as exc:  # the peer closed mid-body, or a read timed out
        raise ProviderResponseError(f"The stream from {provider} broke off ({type(exc).__name__}).",
                                    hint="Retry; if it keeps happening, check the server's logs.") from exc
    finally:
        response.close()


def _decode(data: str, provider: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ProviderResponseError(f"{provider} sent a malformed stream event: {data[:80]!r}.",
                                    hint="The server does not speak this provider's wire format; check "
                                         "the base URL.") from exc


def iter_sse(response: httpx.Response, provider: str) -> Iterator[tuple[str, Any]]:
    """(event name, decoded JSON data) per server-sent event; `[DONE]` yields ("done", None)."""
    event = ""
    data: list[str] = []
    for line in _lines(response, provider):
        if line.startswith(":"):
            continue
        if not line:
            if data:
                text = "\n".join(data)
                yield ("done", None) if text.strip() == "[DONE]" else (event or "message", _decode(text, provider))
            event, data = "", []
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:  # a last event without its blank line
        text = "\n".join(data)
        yield ("done", None) if text.strip() == "[DONE]" else (event or "message", _decode(text, provider))


def iter_ndjson(response: httpx.Response, provider: str) -> Iterator[Any]:
    """One decoded JSON object per non-empty line."""
    for line in _lines(response, provider):
        if line.strip():
            yield _decode(line, provider)
