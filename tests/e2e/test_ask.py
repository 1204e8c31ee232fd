"""`prism ask` end to end: index → pack → a loopback provider → streamed answer, checked citations, cost, budgets."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism.config import Settings
from prism.engine import Prism
from prism.serve.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fakes"))
from llm_server import FakeProviders, fake_providers

from json_shapes import check, documented

runner = CliRunner()
SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "repos" / "shop"
QUESTION = "How is the cart total computed with a discount code?"


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with fake_providers() as server:
        yield server


@pytest.fixture
def shop(tmp_path: Path, fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root)
    assert runner.invoke(app, ["index", "--project", str(root), "--json"]).exit_code == 0
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "CLOUDFLARE_API_TOKEN", "DEFAULT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    with Prism(root, settings=Settings()) as prism:
        chunk = next(c for c in prism.context(QUESTION, line_numbers=True, record_usage=False).chunks
                     if c.level == "full")
    fake.answer = (f"The total sums the line items ({chunk.path}:{chunk.start_line}-{chunk.end_line}) "
                   "and applies the coupon in shop/nowhere.py:90-99.")
    return root


def ask_json(root: Path, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["ask", QUESTION, "--project", str(root), "--json", *args])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_ask_sends_the_pack_and_checks_the_citations(shop: Path, fake: FakeProviders) -> None:
    data = ask_json(shop, "--model", "openai:local-coder")
    check(data, documented()["ask"])  # the shape docs/cli.md gives
    assert data["answer"] == fake.answer and data["model"] == "openai:local-coder"
    citations = data["citations"]
    assert isinstance(citations, list) and [c["in_pack"] for c in citations] == [True, False]
    assert data["unsupported_citations"] == ["shop/nowhere.py:90-99"]
    sent = fake.requests[-1]["body"]["messages"]
    assert sent[0]["role"] == "system" and "path:start-end" in sent[0]["content"]
    assert QUESTION in sent[1]["content"] and "shop/cart.py" in sent[1]["content"]
    usage = data["usage"]
    assert isinstance(usage, dict) and usage["estimated"] is False
    assert usage["completion_tokens"] == len(fake.answer.split(" "))
    assert data["cost_usd"] == 0.0  # a self-hosted OpenAI-compatible server is free
    # a tiny repository: the pack (headers, line numbers) outweighs its whole files, so nothing is saved
    assert data["tokens_saved"] == max(data["whole_files_tokens"] - data["pack_tokens"], 0)  # type: ignore[operator]


def test_ask_streams_to_stdout_and_flags_on_stderr(shop: Path, fake: FakeProviders) -> None:
    result = runner.invoke(app, ["ask", QUESTION, "--project", str(shop), "--model", "anthropic:claude-haiku-4-5",
                                 "--explain"])
    assert result.exit_code == 0, result.output
    assert result.stdout == fake.answer + "\n"
    assert "Not in the pack: shop/nowhere.py:90-99" in result.stderr
    assert "anthropic:claude-haiku-4-5 was named" in result.stderr and "1/2 citations in the pack" in result.stderr
    assert fake.requests[-1]["path"] == "/v1/messages"


def test_cost_comes_from_the_price_table_and_budgets_refuse(shop: Path, fake: FakeProviders,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    data = ask_json(shop, "--model", "anthropic:claude-haiku-4-5")
    usage = data["usage"]
    assert isinstance(usage, dict)
    expected = (usage["prompt_tokens"] * 1.0 + usage["completion_tokens"] * 5.0) / 1e6
    assert data["cost_usd"] == pytest.approx(expected)
    used = usage["prompt_tokens"] + usage["completion_tokens"]
    monkeypatch.setenv("PRISM_LLM_BUDGETS", json.dumps({"anthropic": {"tokens": used + 100}}))
    result = runner.invoke(app, ["ask", QUESTION, "--project", str(shop), "--model", "anthropic:claude-haiku-4-5",
                                 "--json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "budget_exhausted" and "daily token budget spent" in error["message"]
    assert len(fake.requests) == 1  # refused before calling the provider


def test_auto_prefers_the_free_local_model_and_falls_back_when_spent(shop: Path, fake: FakeProviders,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_MODEL", "auto")
    monkeypatch.setenv("PRISM_ROUTER_MODELS", "anthropic:claude-haiku-4-5,openai:local-coder")
    monkeypatch.setenv("PRISM_PRICES_FILE", str(shop / "prices.json"))
    (shop / "prices.json").write_text(json.dumps({"openai:local-coder": {
        "input_usd_per_mtok": 0, "output_usd_per_mtok": 0, "context_tokens": 32000, "tier": 2, "local": True}}))
    first = ask_json(shop)
    assert first["model"] == "openai:local-coder" and first["routing"]["named"] is False  # type: ignore[index]
    monkeypatch.setenv("PRISM_LLM_BUDGETS", json.dumps({"openai": {"tokens": 10}}))
    data = ask_json(shop)
    assert data["model"] == "anthropic:claude-haiku-4-5"
    routing = data["routing"]
    assert isinstance(routing, dict) and any("openai:local-coder: refused" in r for r in routing["reasons"])


def test_a_provider_error_is_a_clear_exit_1(shop: Path, fake: FakeProviders) -> None:
    result = runner.invoke(app, ["ask", QUESTION, "--project", str(shop), "--model", "ollama:missing"],
                           env={"OLLAMA_HOST": fake.url})
    assert result.exit_code == 1
    assert "no model 'missing'" in result.stderr and "ollama pull" in result.stderr
