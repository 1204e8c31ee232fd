"""Every provider client against a loopback server speaking its wire format: streams, retries, errors."""

from __future__ import annotations

import time

import pytest
from llm_server import ANSWER, KEY, FakeProviders, settings_for

from prism.llm.errors import (
    ContextTooLongError,
    ProviderAuthError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailableError,
    UnknownModelError,
)
from prism.llm.providers import PROVIDERS, Message, make_provider
from prism.llm.settings import LLMSettings

QUESTION = [Message("system", "Answer briefly."), Message("user", "How does the packer work?")]
MODEL = "some-model"


def chat(settings: LLMSettings, provider: str, model: str = MODEL) -> tuple[list[str], object]:
    stream = make_provider(provider, settings).chat(model, QUESTION, max_tokens=64)
    return list(stream), stream.usage


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streams_the_answer_in_pieces_with_usage(provider: str, fake: FakeProviders,
                                                 llm_settings: LLMSettings) -> None:
    pieces, usage = chat(llm_settings, provider)
    assert len(pieces) > 5 and "".join(pieces) == ANSWER
    assert usage.completion_tokens == len(ANSWER.split(" "))  # type: ignore[attr-defined]
    assert usage.prompt_tokens and usage.prompt_tokens > 0  # type: ignore[attr-defined]


def test_each_provider_gets_its_own_request_shape(fake: FakeProviders, llm_settings: LLMSettings) -> None:
    for provider in PROVIDERS:
        chat(llm_settings, provider)
    by_path = {r["path"]: r for r in fake.requests}
    assert by_path["/v1/chat/completions"]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert by_path["/v1/chat/completions"]["body"]["stream"] is True
    anthropic = by_path["/v1/messages"]
    assert anthropic["headers"]["x-api-key"] == KEY and anthropic["headers"]["anthropic-version"]
    assert anthropic["body"]["system"] == "Answer briefly."
    assert [m["role"] for m in anthropic["body"]["messages"]] == ["user"]
    assert by_path["/api/chat"]["body"]["options"]["num_predict"] == 64
    assert by_path["/api/chat"]["body"]["options"]["num_ctx"] == 4096  # never below Ollama's larger default
    assert f"/client/v4/accounts/acct/ai/run/{MODEL}" in by_path


def test_ollama_window_covers_a_long_prompt(fake: FakeProviders, llm_settings: LLMSettings) -> None:
    prompt = [Message("user", "x" * 60_000)]  # a packed context of ~15-20 k tokens
    list(make_provider("ollama", llm_settings).chat(MODEL, prompt, max_tokens=1024))
    assert fake.requests[-1]["body"]["options"]["num_ctx"] == 21504  # 20,000 + 1,024, rounded up to 1,024


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_waits_for_retry_after_then_succeeds(provider: str, fake: FakeProviders,
                                                 llm_settings: LLMSettings) -> None:
    fake.fail(429, retry_after="1")
    started = time.monotonic()
    pieces, _ = chat(llm_settings, provider)
    assert time.monotonic() - started >= 1.0
    assert "".join(pieces) == ANSWER and len(fake.requests) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_5xx_then_success(provider: str, fake: FakeProviders, llm_settings: LLMSettings) -> None:
    fake.fail(503, times=2)
    pieces, _ = chat(llm_settings, provider)
    assert "".join(pieces) == ANSWER and len(fake.requests) == 3


def test_5xx_past_the_retries_is_unavailable(fake: FakeProviders) -> None:
    fake.fail(500, times=10)
    with pytest.raises(ProviderUnavailableError, match="HTTP 500"):
        chat(settings_for(fake, llm_retries=2), "openai")
    assert len(fake.requests) == 3


def test_a_retry_after_past_the_limit_fails_at_once(fake: FakeProviders) -> None:
    fake.fail(429, retry_after="3600", times=5)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError, match="3600"):
        chat(settings_for(fake, llm_max_retry_wait_s=5.0), "anthropic")
    assert time.monotonic() - started < 2 and len(fake.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", ["truncate", "malformed"])
def test_broken_streams_are_errors_not_short_answers(provider: str, fault: str, fake: FakeProviders,
                                                     llm_settings: LLMSettings) -> None:
    fake.stream_fault = fault
    with pytest.raises(ProviderResponseError, match="ended before" if fault == "truncate" else "malformed"):
        chat(llm_settings, provider)
    assert len(fake.requests) == 1  # never silently restarted once the answer began


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_error_event_mid_stream_is_raised(provider: str, fake: FakeProviders, llm_settings: LLMSettings) -> None:
    fake.stream_fault = "midstream-error"
    with pytest.raises(ProviderError, match="mid-answer"):
        chat(llm_settings, provider)


@pytest.mark.parametrize("provider", ["anthropic", "openai", "workers-ai"])
def test_bad_key_names_the_setting_and_never_the_key(provider: str, fake: FakeProviders,
                                                     llm_settings: LLMSettings) -> None:
    fake.api_key = "the-right-key"
    with pytest.raises(ProviderAuthError) as caught:
        chat(llm_settings, provider)
    setting = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "workers-ai": "CLOUDFLARE_API_TOKEN"}
    assert setting[provider] in caught.value.hint
    assert KEY not in str(caught.value) and KEY not in repr(caught.value.to_dict())
    assert len(fake.requests) == 1  # a 401 is not retried


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_model(provider: str, fake: FakeProviders, llm_settings: LLMSettings) -> None:
    with pytest.raises(UnknownModelError, match="missing"):
        chat(llm_settings, provider, model="missing")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_context_too_long(provider: str, fake: FakeProviders, llm_settings: LLMSettings) -> None:
    fake.max_prompt_chars = 10
    with pytest.raises(ContextTooLongError) as caught:
        chat(llm_settings, provider)
    assert "--budget" in caught.value.hint


def test_nothing_listening_is_unavailable_after_the_retries(fake: FakeProviders) -> None:
    fake.stop()
    settings = settings_for(fake, llm_retries=1, ollama_host=fake.url)
    with pytest.raises(ProviderUnavailableError, match="cannot connect") as caught:
        chat(settings, "ollama")
    assert "2 attempts" in str(caught.value)


@pytest.mark.parametrize("provider", ["ollama", "openai", "workers-ai"])
def test_embeddings_come_back_in_order(provider: str, fake: FakeProviders, llm_settings: LLMSettings) -> None:
    texts = ["alpha beta", "gamma", "delta epsilon zeta"]
    vectors = make_provider(provider, llm_settings).embed("embedder", texts)  # type: ignore[union-attr]
    assert vectors == fake.vectors(texts)
