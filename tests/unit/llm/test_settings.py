"""Provider settings: the ecosystems' names and PRISM_ names, keys never printed, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prism.errors import ConfigError
from prism.llm.prices import load_prices, price_for
from prism.llm.providers.ollama import ollama_url
from prism.llm.settings import load_llm_settings, split_model
from prism.llm.transport import retry_after_s


def test_bare_and_prism_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-bare")
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11500")
    monkeypatch.setenv("PRISM_DEFAULT_MODEL", "anthropic:claude-haiku-4-5")
    monkeypatch.setenv("DEFAULT_MODEL", "openai:gpt-4o-mini")
    monkeypatch.setenv("PRISM_LLM_BUDGETS", '{"anthropic": {"tokens": 1000, "usd": 0.5}}')
    monkeypatch.setenv("PRISM_ROUTER_MODELS", "ollama:qwen2.5:7b, anthropic:claude-haiku-4-5")
    settings = load_llm_settings()
    assert settings.openai_api_key is not None and settings.openai_api_key.get_secret_value() == "sk-bare"
    assert settings.default_model == "anthropic:claude-haiku-4-5"  # PRISM_ wins
    assert settings.ollama_host == "gpu-box:11500"
    assert settings.llm_budgets["anthropic"].usd == 0.5
    assert settings.router_models == ["ollama:qwen2.5:7b", "anthropic:claude-haiku-4-5"]
    monkeypatch.setenv("PRISM_OPENAI_API_KEY", "sk-prism")
    assert load_llm_settings().openai_api_key.get_secret_value() == "sk-prism"  # type: ignore[union-attr]
    assert "sk-prism" not in repr(load_llm_settings()) and "sk-prism" not in str(load_llm_settings())


def test_an_invalid_value_is_a_config_error_without_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_LLM_BUDGETS", '{"anthropic": {"tokens": -5}}')
    with pytest.raises(ConfigError, match=r"PRISM_LLM_BUDGETS\.anthropic\.tokens") as caught:
        load_llm_settings()
    assert "-5" not in str(caught.value)


def test_split_model() -> None:
    assert split_model("ollama:qwen2.5-coder:7b") == ("ollama", "qwen2.5-coder:7b")
    assert split_model("Workers-AI:@cf/meta/llama-3.1-8b-instruct") == ("workers-ai", "@cf/meta/llama-3.1-8b-instruct")
    with pytest.raises(ConfigError, match="provider:model"):
        split_model("gpt-4o")


@pytest.mark.parametrize(("host", "url"), [
    ("localhost", "http://localhost:11434"), ("0.0.0.0", "http://127.0.0.1:11434"),
    ("10.0.0.5:8080", "http://10.0.0.5:8080"), ("http://box", "http://box:80"),
    ("https://ollama.example.com/", "https://ollama.example.com:443"), ("[::1]:11434", "http://[::1]:11434"),
])
def test_ollama_host_is_read_as_ollama_reads_it(host: str, url: str) -> None:
    assert ollama_url(host) == url


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_s("3") == 3.0 and retry_after_s("0.5") == 0.5
    assert retry_after_s("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == pytest.approx(10.0)
    assert retry_after_s("soon") is None and retry_after_s(None) is None


def test_price_table_file_and_lookups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"openai:gpt-4o-mini": {"input_usd_per_mtok": 0.2, "output_usd_per_mtok": 0.8,
                                                       "context_tokens": 128000, "tier": 2}}))
    table = load_prices(path)
    settings = load_llm_settings()
    assert price_for("openai:gpt-4o-mini", table, settings).input_usd_per_mtok == 0.2
    assert price_for("ollama:anything", table, settings).local
    assert price_for("openai:unknown", table, settings).cost_usd(10, 10) is None  # api.openai.com: unknown
    local = load_llm_settings(openai_base_url="http://127.0.0.1:8000/v1")
    assert price_for("openai:unknown", table, local).cost_usd(10, 10) == 0.0  # self-hosted: free
    path.write_text('{"openai:x": {"input_usd_per_mtok": "cheap"}}')
    with pytest.raises(ConfigError, match="not a number"):
        load_prices(path)
    path.write_text("[")
    with pytest.raises(ConfigError, match="Cannot read the price table"):
        load_prices(path)
