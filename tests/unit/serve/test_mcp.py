"""Unit tests for prism.serve.mcp: tool surface cost, budgets, roots, multi-root routing (in-memory client)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import ListRootsResult, Root

from prism.config import Settings
from prism.engine import Prism
from prism.pack.tokens import get_tokenizer
from prism.serve.mcp import (
    DEFAULT_TOKENS,
    HARD_CAP_TOKENS,
    MIN_TOKENS,
    TOOL_NAMES,
    BearerAuth,
    bound,
    build_server,
    clamp_tokens,
    require_token,
    tool_definitions_tokens,
)
from prism.serve.mcp_workspace import Project, Workspace

TOK = get_tokenizer("cl100k_base")


def make_repo(root: Path, name: str, func: str) -> Path:
    repo = root / name
    (repo / "pkg").mkdir(parents=True)
    (repo / ".git").mkdir()
    (repo / "pkg" / "core.py").write_text(
        f'def {func}(x):\n    """Compute the {func.replace("_", " ")} of x."""\n    return x * 2\n\n\n'
        f"def caller():\n    return {func}(3)\n")
    return repo


@pytest.fixture()
def prism_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", embedder="hashing", threads=1)


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if getattr(b, "type", "") == "text")


def test_tool_definitions_cost_under_1500_tokens(tmp_path: Path, prism_settings: Settings) -> None:
    ws = Workspace(prism_settings, [make_repo(tmp_path, "a", "alpha")], background=False)
    try:
        server = build_server(ws)
        cost = tool_definitions_tokens(server, TOK)
        tools = anyio.run(server.list_tools)
    finally:
        ws.close()
    assert {t.name for t in tools} == set(TOOL_NAMES)
    assert 300 < cost < 1500, cost
    for tool in tools:
        schema = json.dumps(tool.input_schema)
        assert '"title"' not in schema  # stripped: names already say it
        assert tool.description and len(tool.description) < 400
        assert tool.input_schema["properties"]["max_tokens"]["default"] == DEFAULT_TOKENS[tool.name]


@settings(max_examples=40, deadline=None)
@given(text=st.text(min_size=0, max_size=3000), budget=st.integers(MIN_TOKENS, 800))
def test_bound_never_exceeds_budget(text: str, budget: int) -> None:
    out = bound(TOK, text, budget)
    assert TOK.count(out) <= budget
    if TOK.count(text) <= budget:
        assert out == text
    else:
        assert "max_tokens" in out


def test_clamp_tokens() -> None:
    assert clamp_tokens("search_code", None) == DEFAULT_TOKENS["search_code"]
    assert clamp_tokens("search_code", 10**9) == HARD_CAP_TOKENS
    assert clamp_tokens("search_code", 1) == MIN_TOKENS


def test_token_required_off_loopback() -> None:
    assert require_token("127.0.0.1", None) is None
    assert require_token("127.0.0.1", "t") == "t"
    generated = require_token("0.0.0.0", None)
    assert generated and len(generated) >= 24
    assert require_token("0.0.0.0", "given") == "given"


def test_client_roots_are_served_each_with_its_own_index(tmp_path: Path, prism_settings: Settings) -> None:
    first = make_repo(tmp_path / "x", "app", "alpha_value")
    second = make_repo(tmp_path / "y", "app", "beta_value")
    cwd = make_repo(tmp_path, "cwd", "gamma_value")

    async def roots(_ctx: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=first.as_uri()), Root(uri=second.as_uri())])

    ws = Workspace(prism_settings, background=True, watch=False, cwd=cwd)

    async def main() -> None:
        async with Client(build_server(ws), mode="legacy", list_roots_callback=roots) as client:
            await client.call_tool("index_status", {})  # the first call adopts the client's roots
            assert ws.roots() == [first.resolve(), second.resolve()]
            labels = list(ws.view().labels.values())
            assert len(set(labels)) == 2  # same folder name, told apart by parent
            for project in ws.projects:
                assert project.worker is not None
                assert project.worker.wait_ready(20)
            found = text_of(await client.call_tool("search_code", {"query": "beta value"}))
            assert f"{labels[1]}/pkg/core.py:1-3" in found
            assert "gamma" not in found
            read = await client.call_tool("read_code", {"target": f"{labels[0]}/pkg/core.py:1-3"})
            assert "def alpha_value" in text_of(read)
            bad = await client.call_tool("read_code", {"target": "pkg/core.py:1-3"})
            assert bad.is_error and labels[0] in text_of(bad)
            symbol = text_of(await client.call_tool("find_symbol", {"name": "alpha_value"}))
            assert f"{labels[0]}/pkg/core.py:1-3" in symbol and "caller" in symbol
            status = json.loads(text_of(await client.call_tool("index_status", {})))
            assert [p["project"] for p in status["projects"]] == [str(first.resolve()), str(second.resolve())]

    try:
        anyio.run(main)
    finally:
        ws.close()
    indexes = sorted(p.name for p in (prism_settings.home / "projects").iterdir())
    assert len(indexes) >= 2  # one index per root


def test_cwd_is_served_when_the_client_has_no_roots(tmp_path: Path, prism_settings: Settings) -> None:
    cwd = make_repo(tmp_path, "cwd", "gamma_value")
    ws = Workspace(prism_settings, background=True, watch=False, cwd=cwd / "pkg")

    async def main() -> None:
        async with Client(build_server(ws), mode="legacy") as client:
            found = await client.call_tool("search_code", {"query": "gamma_value", "max_tokens": 200})
            assert "pkg/core.py:1-3" in text_of(found)
            assert TOK.count(text_of(found)) <= 200
            prompt = await client.get_prompt("context", {"task": "what does gamma_value compute?"})
            assert "gamma_value" in str(prompt.messages[0].content)
            asked = await client.get_prompt("ask", {"question": "what does gamma_value compute?"})
            text = str(getattr(asked.messages[0].content, "text", ""))
            assert asked.messages[0].role == "user" and "cite the code" in text.lower()
            assert "path:start-end" in text and "L1-3" in text and "def gamma_value" in text
            assert text.rstrip().endswith("what does gamma_value compute?")
            assert {p.name for p in (await client.list_prompts()).prompts} == {"context", "ask"}

    try:
        anyio.run(main)
    finally:
        ws.close()
    assert ws.projects == []
    assert cwd.resolve() in [Path(json.loads(p.joinpath("project.json").read_text())["root"])
                             for p in (prism_settings.home / "projects").iterdir()]


def test_context_and_read_flag_files_edited_since_indexing(tmp_path: Path, prism_settings: Settings) -> None:
    repo = make_repo(tmp_path, "repo", "delta_value")
    ws = Workspace(prism_settings, background=True, watch=False, cwd=repo)

    async def main() -> None:
        async with Client(build_server(ws), mode="legacy") as client:
            worker = ws.projects[0].worker
            assert worker is not None and worker.wait_ready(20)
            fresh = text_of(await client.call_tool("get_context", {"task": "delta_value"}))
            assert "delta_value" in fresh and "STALE" not in fresh
            assert "STALE" not in text_of(await client.call_tool("read_code", {"target": "pkg/core.py:1-3"}))
            core = repo / "pkg" / "core.py"  # edited, not re-indexed (no watcher)
            core.write_text(core.read_text() + "\n\ndef added():\n    return 0\n")
            context = text_of(await client.call_tool("get_context", {"task": "delta_value"}))
            assert "STALE (changed on disk since indexed): pkg/core.py" in context
            read = text_of(await client.call_tool("read_code", {"target": "pkg/core.py:1-3"}))
            assert "pkg/core.py:1-3 `delta_value` STALE" in read

    try:
        anyio.run(main)
    finally:
        ws.close()


def indexed_workspace(settings: Settings, root: Path) -> Workspace:
    """A workspace over `root`, indexed first, with no background thread (answers are settled)."""
    with Prism(root, settings=settings) as prism:
        prism.index(embed=False)
    return Workspace(settings, [root], background=False)


def test_read_code_cuts_a_long_piece_at_a_line_and_names_the_rest(tmp_path: Path,
                                                                  prism_settings: Settings) -> None:
    repo = make_repo(tmp_path, "repo", "long_value")
    body = "\n".join(f"    total = total + {i}  # step {i} of the long function" for i in range(200))
    (repo / "pkg" / "long.py").write_text(f"def long_function(total):\n{body}\n    return total\n")
    ws = indexed_workspace(prism_settings, repo)

    async def main() -> None:
        async with Client(build_server(ws), mode="legacy") as client:
            for target in ("pkg/long.py:1-202", "long_function"):
                result = await client.call_tool("read_code", {"target": target, "max_tokens": 300})
                text = text_of(result)
                assert not result.is_error and TOK.count(text) <= 300, text
                code = [line for line in text.splitlines() if re.match(r"\s*\d+ ", line)]
                assert code and code[0].split()[:3] == ["1", "def", "long_function(total):"]
                kept = int(code[-1].split()[0])
                assert code[-1].endswith(f"step {kept - 2} of the long function")  # whole lines only
                cut = re.search(r"lines (\d+)-(\d+) not shown \(read_code pkg/long.py:(\d+)-(\d+)\)", text)
                assert cut and int(cut[1]) == int(cut[3]) == kept + 1 and cut[2] == cut[4]

    try:
        anyio.run(main)
    finally:
        ws.close()


@pytest.mark.timeout(60)  # the FIFO hung the old server forever
def test_read_code_serves_only_what_the_index_admits(
        prism_settings: Settings, hostile_repo: tuple[Path, tuple[str, ...], tuple[str, ...]]) -> None:
    root, refused, secrets = hostile_repo
    ws = indexed_workspace(prism_settings, root)

    async def main() -> None:
        async with Client(build_server(ws), mode="legacy") as client:
            for target in refused:
                result = await client.call_tool("read_code", {"target": target})
                assert result.is_error, (target, text_of(result))
                assert not any(secret in text_of(result) for secret in secrets), (target, text_of(result))
            fine = await client.call_tool("read_code", {"target": "src/app.py:1-2"})
            assert "def served" in text_of(fine)

    try:
        anyio.run(main)
    finally:
        ws.close()


def roots_of(*paths: Path) -> Any:
    async def roots(_ctx: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=p.as_uri()) for p in paths])
    return roots


def test_http_sessions_cannot_widen_what_the_server_reads(tmp_path: Path, prism_settings: Settings,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    served = make_repo(tmp_path, "served", "served_value")
    inner = make_repo(served, "inner", "inner_value")
    elsewhere = make_repo(tmp_path / "other", "elsewhere", "elsewhere_value")
    for root in (served, inner, elsewhere):
        with Prism(root, settings=prism_settings) as prism:
            prism.index(embed=False)
    ws = Workspace(prism_settings, background=False, cwd=served, sessions=True)

    async def status(client: Client) -> list[str]:
        answer = json.loads(text_of(await client.call_tool("index_status", {})))
        return [p["project"] for p in answer["projects"]]

    async def main() -> None:
        server = build_server(ws)
        async with Client(server, mode="legacy", list_roots_callback=roots_of(elsewhere)) as hostile:
            assert await status(hostile) == [str(served.resolve())]  # ignored, not adopted
            found = text_of(await hostile.call_tool("search_code", {"query": "elsewhere_value"}))
            assert "def elsewhere_value" not in found and "def served_value" in found
            assert (await hostile.call_tool("read_code", {"target": "pkg/core.py:1-3"})).is_error is False
            async with Client(server, mode="legacy", list_roots_callback=roots_of(inner)) as scoped, \
                    Client(server, mode="legacy") as plain:
                assert await status(scoped) == [str(inner.resolve())]  # inside the served folder: its own view
                assert await status(plain) == [str(served.resolve())]  # the other session changed nothing
                assert await status(hostile) == [str(served.resolve())]

    try:
        with caplog.at_level("WARNING", logger="prism.serve.mcp"):
            anyio.run(main)
    finally:
        ws.close()
    notices = [r for r in caplog.records if "ignoring client root" in r.message]
    assert len(notices) == 1 and str(elsewhere.resolve()) in notices[0].message  # once per session

    widened = Workspace(prism_settings, background=False, cwd=served, sessions=True, allow=[tmp_path / "other"])

    async def allowed() -> None:
        async with Client(build_server(widened), mode="legacy", list_roots_callback=roots_of(elsewhere)) as client:
            assert await status(client) == [str(elsewhere.resolve())]

    try:
        anyio.run(allowed)
    finally:
        widened.close()


def test_bearer_auth_scheme_in_any_case_and_rfc9728_metadata_on_401() -> None:
    from starlette.testclient import TestClient

    async def ok(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    client = TestClient(BearerAuth(ok, "s3cret"))
    for header in ("Bearer s3cret", "bearer s3cret", "BEARER  s3cret"):
        assert client.post("/mcp", headers={"Authorization": header}).status_code == 200, header
    metadata_url = "http://testserver/.well-known/oauth-protected-resource"
    wrong = client.post("/mcp", headers={"Authorization": "bearer s3cre"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    assert wrong.headers["www-authenticate"] == f'Bearer resource_metadata="{metadata_url}", error="invalid_token"'
    missing = client.post("/mcp")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == f'Bearer resource_metadata="{metadata_url}"'
    assert client.post("/mcp", headers={"Authorization": "Basic czNjcmV0"}).status_code == 401
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        document = client.get(path)  # public: a client reads it to learn that no OAuth is offered
        assert document.status_code == 200
        assert document.json() == {"resource": "http://testserver/mcp", "bearer_methods_supported": ["header"],
                                   "resource_name": "PRISM MCP server"}


def many_files_repo(root: Path, files: int) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / ".git").mkdir()
    for i in range(files):
        (root / "pkg" / f"m{i}.py").write_text(f"def func_{i}(x):\n    '''Compute thing {i}.'''\n    return x + {i}\n")
    return root


def test_first_answers_on_a_complete_index_say_nothing_false(tmp_path: Path, prism_settings: Settings) -> None:
    repo = many_files_repo(tmp_path / "repo", 400)
    with Prism(repo, settings=prism_settings) as prism:
        assert prism.index(embed=True).pending_embeddings == 0
    ws = Workspace(prism_settings, background=True, watch=False, cwd=repo)

    async def main() -> None:
        async with Client(build_server(ws), mode="legacy") as client:
            first = text_of(await client.call_tool("get_context", {"task": "compute thing 7", "max_tokens": 400}))
            second = text_of(await client.call_tool("search_code", {"query": "compute thing 7"}))
            for answer in (first, second):  # the index was complete: nothing is building or missing
                assert "still building" not in answer and "still being computed" not in answer, answer
                assert "def func_" in answer

    try:
        anyio.run(main)
    finally:
        ws.close()


def test_state_names_only_what_is_missing(tmp_path: Path, prism_settings: Settings) -> None:
    from prism.service.background import BackgroundIndexer

    repo = many_files_repo(tmp_path / "repo", 3)
    with Prism(repo, settings=prism_settings) as reader:
        reader.index(embed=False)
        worker = BackgroundIndexer(reader)  # never started: its progress is set by hand
        fresh, resumed = Project(reader, worker), Project(reader, worker, indexed_before=True)
        worker._set(phase="indexing", done=1, total=3)
        assert fresh.state() == "Index still building (1/3 files); results may be incomplete."
        assert resumed.state() == ""  # a complete index being re-checked answers for the whole tree
        worker._set(phase="embedding", done=0, total=0, syncs=1)
        assert fresh.state().startswith("Semantic vectors still being computed")  # none embedded yet
        reader.embed()
        assert fresh.state() == "" and resumed.state() == ""  # all vectors exist (the model is loading)
        worker._set(phase="error", error="disk full")
        assert resumed.state() == "Background indexing failed: disk full"



def test_http_session_roots_are_capped(tmp_path: Path, prism_settings: Settings,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from prism.serve import mcp_workspace as mcp_module

    served = make_repo(tmp_path, "served", "served_value")
    inner = [make_repo(served, f"inner{i}", "inner_value") for i in range(3)]
    monkeypatch.setattr(mcp_module, "MAX_SESSION_ROOTS", 2)
    ws = Workspace(prism_settings, background=False, cwd=served, sessions=True)

    async def main() -> None:
        async with Client(build_server(ws), mode="legacy", list_roots_callback=roots_of(*inner)) as client:
            answer = json.loads(text_of(await client.call_tool("index_status", {})))
            assert [p["project"] for p in answer["projects"]] == [str(r.resolve()) for r in inner[:2]]

    try:
        anyio.run(main)
    finally:
        ws.close()


def test_search_code_and_get_context_take_a_scope(tmp_path: Path, prism_settings: Settings) -> None:
    repo = make_repo(tmp_path, "scoped", "omega_value")
    (repo / "CHANGELOG.md").write_text("# Changelog\n\n## 2.0\n\n- omega_value now doubles omega_value.\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_core.py").write_text("def test_omega_value():\n    assert omega_value(1) == 2\n")
    ws = Workspace(prism_settings, [repo], background=False)
    ws.projects[0].reader.index()

    async def main() -> None:
        async with Client(build_server(ws), mode="legacy") as client:
            every = text_of(await client.call_tool("search_code", {"query": "omega_value"}))
            assert "CHANGELOG.md" in every and "tests/test_core.py" in every
            code = text_of(await client.call_tool("search_code", {"query": "omega_value", "scope": "code"}))
            assert "pkg/core.py" in code and "CHANGELOG.md" not in code and "test_core" not in code
            pack = text_of(await client.call_tool("get_context", {"task": "omega_value", "scope": "code"}))
            assert "omega_value" in pack and "CHANGELOG" not in pack and "test_omega_value" not in pack
            bad = await client.call_tool("search_code", {"query": "omega_value", "scope": "source"})
            assert bad.is_error

    try:
        anyio.run(main)
    finally:
        ws.close()


def dense_repo(root: Path) -> Path:
    """Over 20,000 tokens of code at ~4-5 characters a token: the character cap binds first."""
    repo = root / "dense"
    (repo / "pkg").mkdir(parents=True)
    (repo / ".git").mkdir()
    for f in range(24):
        body = "".join(
            f"def transform_customer_record_{f}_{n}(customer_record, normalisation_settings):\n"
            f'    """Normalise the customer record {n} of batch {f} with the settings given."""\n'
            + "".join(f"        customer_record = normalise_customer_field(customer_record, "
                      f"normalisation_settings, field_number_{k})\n" for k in range(8))
            + "    return customer_record\n\n\n" for n in range(12))
        (repo / "pkg" / f"records_{f}.py").write_text(body + "def normalise_customer_field(r, s, k):\n    return r\n")
    return repo


def test_every_tool_at_its_maximum_stays_under_claude_codes_limits(tmp_path: Path,
                                                                   prism_settings: Settings) -> None:
    """Claude Code shows at most 25,000 tokens and ~50,000 characters of one tool result."""
    from prism.serve.mcp import CLAUDE_CODE_MAX_CHARS, CLAUDE_CODE_MAX_TOKENS

    repo = dense_repo(tmp_path)
    ws = Workspace(prism_settings, [repo], background=False)
    reader = ws.projects[0].reader
    reader.index(embed=False)
    assert reader.status()["tokens"] > 2 * HARD_CAP_TOKENS
    claude = get_tokenizer("claude")
    biggest = 10**9
    calls: dict[str, dict[str, Any]] = {
        "search_code": {"query": "normalise customer record field settings", "limit": 100},
        "get_context": {"task": "how are customer records normalised? transform_customer_record"},
        "read_code": {"target": "pkg/records_0.py"},
        "find_symbol": {"name": "normalise_customer_field"},
        "repo_map": {},
        "index_status": {},
        "reindex": {},
    }
    assert set(calls) == set(TOOL_NAMES)  # a new tool must be added here

    async def main() -> None:
        async with Client(build_server(ws), mode="legacy") as client:
            for name, args in calls.items():
                result = await client.call_tool(name, {**args, "max_tokens": biggest})
                text = text_of(result)
                assert not result.is_error, (name, text[:300])
                assert TOK.count(text) <= HARD_CAP_TOKENS, (name, TOK.count(text))
                assert claude.count(text) <= CLAUDE_CODE_MAX_TOKENS, (name, claude.count(text))
                assert len(text) <= CLAUDE_CODE_MAX_CHARS, (name, len(text))
                if name == "get_context":  # re-packed smaller, not cut at the end
                    assert len(text) > 20_000 and "cut to" not in text

    try:
        anyio.run(main)
    finally:
        ws.close()


def test_search_over_several_repositories_ranks_them_on_one_scale(tmp_path: Path,
                                                                  prism_settings: Settings) -> None:
    weak = make_repo(tmp_path, "weak", "alpha_value")
    (weak / "pkg" / "notes.py").write_text("def gamma_like():\n    # a value, like gamma\n    return 0\n")
    strong = make_repo(tmp_path, "strong", "gamma_value")
    ws = Workspace(prism_settings, [weak, strong], background=False)  # the weak one is listed first
    for project in ws.projects:
        project.reader.index()

    def scores(text: str) -> list[tuple[str, float]]:
        return [(m.group(1), float(m.group(2))) for m in re.finditer(r"^\d+\. (\S+?)/\S+ .*score=([\d.]+)", text, re.M)]

    async def main() -> None:
        async with Client(build_server(ws), mode="legacy") as client:
            both = scores(text_of(await client.call_tool("search_code", {"query": "gamma_value"})))
            # Each project's own best scores 1; merged, the exact symbol's repository leads and
            # the other's best match scores below it.
            assert both[0] == ("strong", 1.0)
            assert {label for label, _ in both} == {"weak", "strong"}
            assert all(score < 1.0 for label, score in both if label == "weak")
            only = scores(text_of(await client.call_tool("search_code", {"query": "gamma_value",
                                                                         "repos": ["weak"]})))
            assert only and {label for label, _ in only} == {"weak"}
            pack = text_of(await client.call_tool("get_context", {"task": "gamma_value", "repos": ["strong"]}))
            assert "gamma_value" in pack and "alpha_value" not in pack
            bad = await client.call_tool("search_code", {"query": "x", "repos": ["nope"]})
            assert bad.is_error and "strong" in text_of(bad)

    try:
        anyio.run(main)
    finally:
        ws.close()
