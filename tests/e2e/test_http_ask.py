"""POST /api/v1/projects/{p}/ask end to end: a server-path project → the pack → a loopback provider → JSON.

The answer has the fields of `prism ask --json`; the route needs the `ask` action; provider failures
are clear envelopes (a provider's long Retry-After is passed on); tokens are metered.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from prism.config import Settings
from prism.ops.meter import totals, utc_day
from prism.serve.http.app import create_app
from prism.serve.http.scopes import ROLE_ACTIONS
from prism.serve.http.settings import ServerSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fakes"))
from llm_server import FakeProviders, fake_providers

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "repos" / "shop"
QUESTION = "How is the cart total computed with a discount code?"
URL = "/api/v1/projects/shop/ask"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProviders]:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "CLOUDFLARE_API_TOKEN", "DEFAULT_MODEL",
                 "PRISM_LLM_BUDGETS", "PRISM_ROUTER_MODELS"):
        monkeypatch.delenv(name, raising=False)
    with fake_providers() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        monkeypatch.setenv("DEFAULT_MODEL", "openai:local-coder")
        yield server


class Server:
    def __init__(self, home: Path, tmp: Path) -> None:
        root = tmp / "repos" / "shop"
        shutil.copytree(SHOP, root)
        settings = ServerSettings(api_secret="api-secret-" + "a" * 40, allowed_roots=[tmp / "repos"],
                                  rate_reader="100000/1", rate_writer="100000/1", rate_admin="100000/1")
        self.app = create_app(settings, Settings(home=home, embedder="hashing"), load_model=False)
        self.state = self.app.state.prism
        self.client = TestClient(self.app)
        _, self.admin = self.state.keys.create("admin", "admin")
        assert self.call(self.admin, "POST", "/api/v1/projects", {"name": "shop", "path": str(root)}).status_code == 201
        assert self.call(self.admin, "POST", "/api/v1/projects/shop/index", {}).status_code == 200

    def call(self, token: str, method: str, url: str, body: Any = None) -> Any:
        return self.client.request(method, url, headers={"Authorization": f"Bearer {token}"}, json=body)


@pytest.fixture
def server(prism_home: Path, tmp_path: Path, fake: FakeProviders) -> Server:
    return Server(prism_home, tmp_path)


def test_ask_answers_with_checked_citations_and_meters_tokens(server: Server, fake: FakeProviders) -> None:
    packed = server.call(server.admin, "POST", "/api/v1/projects/shop/context", {"query": QUESTION}).json()
    chunk = next(c for c in packed["chunks"] if c["level"] == "full")
    fake.answer = (f"The total sums the line items ({chunk['path']}:{chunk['start_line']}-{chunk['end_line']}) "
                   "and applies the coupon in shop/nowhere.py:90-99.")
    response = server.call(server.admin, "POST", URL, {"question": QUESTION, "budget_tokens": 4000})
    assert response.status_code == 200, response.text
    data = response.json()
    assert set(data) >= {"answer", "model", "usage", "cost_usd", "citations", "unsupported_citations",
                         "tokens_saved", "routing"}
    assert data["answer"] == fake.answer and data["model"] == "openai:local-coder"
    assert [c["in_pack"] for c in data["citations"]] == [True, False]
    assert data["unsupported_citations"] == ["shop/nowhere.py:90-99"]
    assert data["routing"]["named"] is True and data["cost_usd"] == 0.0
    sent = fake.requests[-1]["body"]["messages"]
    assert "path:start-end" in sent[0]["content"] and QUESTION in sent[1]["content"]
    server.state.meter.flush()
    used = totals(server.state.meter.rows(utc_day()), ("day",))[(utc_day(),)]
    assert used["asks"] == 1 and used["llm_prompt_tokens"] == data["usage"]["prompt_tokens"]
    assert used["llm_completion_tokens"] == data["usage"]["completion_tokens"] > 0


def test_ask_needs_the_ask_action_which_old_presets_lack(server: Server, fake: FakeProviders) -> None:
    _, writer = server.state.keys.create("writer", "writer")
    _, asker = server.state.keys.create("asker", None, actions=ROLE_ACTIONS["reader"] | {"ask"})
    body = {"question": QUESTION}
    refused = server.call(writer, "POST", URL, body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "ask" in refused.json()["error"]["message"]
    assert server.call(asker, "POST", URL, body).status_code == 200
    assert len(fake.requests) == 1  # the refused call never reached the provider


def test_provider_errors_are_clear_envelopes(server: Server, fake: FakeProviders,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"question": QUESTION}
    fake.fail(429, retry_after="120")  # longer than the client waits: passed on to the caller
    busy = server.call(server.admin, "POST", URL, body)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "120"
    error = busy.json()["error"]
    assert error["code"] == "provider_unavailable" and "retry in 120 s" in error["message"]
    bad = server.call(server.admin, "POST", URL, {**body, "model": "nosuch:model"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["fields"][0]["field"] == "model"
    unknown = server.call(server.admin, "POST", URL, {**body, "model": "openai:missing"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_model"
    monkeypatch.setenv("PRISM_LLM_BUDGETS", '{"openai": {"tokens": 1}}')
    spent = server.call(server.admin, "POST", URL, body)
    assert spent.status_code == 429 and spent.json()["error"]["code"] == "budget_exhausted"
    monkeypatch.setenv("DEFAULT_MODEL", "auto")  # no provider key and no PRISM_ROUTER_MODELS: nothing to route to
    unconfigured = server.call(server.admin, "POST", URL, body)
    assert unconfigured.status_code == 503, unconfigured.text  # the server's settings, not a 500
    error = unconfigured.json()["error"]
    assert error["code"] == "unavailable" and "no models to choose from" in error["message"]
    assert len(fake.requests) == 2  # the 429 and the unknown model; the refusals never called out
