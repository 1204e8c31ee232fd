"""End-to-end: `prism mcp` driven by the official MCP SDK client over stdio and streamable HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ListRootsResult, Root

from prism.pack.tokens import get_tokenizer

pytestmark = pytest.mark.slow

TOOLS = {"search_code", "get_context", "read_code", "find_symbol", "repo_map", "index_status", "reindex"}

AUTH = '''"""Authentication: sessions and their tokens."""

import time


class TokenStore:
    """Keeps issued access tokens in memory."""

    def __init__(self):
        self.tokens = {}

    def save(self, user, token):
        self.tokens[user] = token


def refresh_token(store, user):
    """Issue a fresh access token for user and remember it."""
    token = f"{user}-{time.time()}"
    store.save(user, token)
    return token
'''

API = '''"""HTTP handlers."""

from app.auth import TokenStore, refresh_token

STORE = TokenStore()


def login(user):
    """Log a user in and hand back a token."""
    return refresh_token(STORE, user)


def logout(user):
    STORE.tokens.pop(user, None)
'''

BIG = "\n\n".join(
    f'def helper_{i}(value):\n    """Helper number {i} for padding."""\n'
    + "\n".join(f"    value = value + {j}  # step {j} of helper {i}" for j in range(30))
    + "\n    return value"
    for i in range(60)
)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "auth.py").write_text(AUTH)
    (root / "app" / "api.py").write_text(API)
    (root / "app" / "big.py").write_text(BIG)
    (root / "README.md").write_text("# Demo\n\nA demo app with login and token refresh.\n")
    return root


def server_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PRISM_HOME": str(tmp_path / "home"), "PRISM_EMBEDDER": "hashing",
                "PRISM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    return env


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await anyio.sleep(0.2)
    return False


async def exercise(client: Client, repo: Path) -> None:
    """The session every transport must pass: list, call every tool, edit, budgets, bad input."""
    tok = get_tokenizer("cl100k_base")
    listed = await client.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    for tool in listed.tools:
        assert tool.description and tool.input_schema["type"] == "object"
        assert "max_tokens" in tool.input_schema["properties"]

    async def call(name: str, args: dict[str, Any]) -> str:
        result = await client.call_tool(name, args)
        assert not result.is_error, text_of(result)
        text = text_of(result)
        budget = args.get("max_tokens")
        if budget is not None:
            assert tok.count(text) <= budget, (name, tok.count(text), budget)
        return text

    async def ready() -> bool:
        answer = await call("search_code", {"query": "refresh token"})
        # Wait for the vectors too: "refreshed" only meets "refresh" through dense retrieval,
        # and on a loaded machine the background embedding can lag the lexical index.
        return "refresh_token" in answer and "still being computed" not in answer

    assert await wait_for(ready, timeout_s=60.0)

    found = await call("search_code", {"query": "refresh access token", "max_tokens": 300})
    assert "app/auth.py:" in found
    assert "STALE" not in found

    context = await call("get_context", {"task": "How are access tokens refreshed on login?",
                                         "max_tokens": 600})
    assert "refresh_token" in context

    read = await call("read_code", {"target": "app/auth.py:16-20", "max_tokens": 200})
    assert "def refresh_token" in read

    symbol = await call("find_symbol", {"name": "refresh_token", "max_tokens": 400})
    assert "app/auth.py" in symbol and "app/api.py" in symbol  # definition and its caller

    status = await call("index_status", {"max_tokens": 800})
    projects = json.loads(status)["projects"]
    assert projects[0]["files"] >= 4 and projects[0]["project"] == str(repo.resolve())

    await call("reindex", {"max_tokens": 200})

    mapped = await call("repo_map", {"max_tokens": 400, "path": "app"})
    assert "app/" in mapped and "refresh_token" in mapped

    # Budgets hold however small, on every tool.
    for name, args in [("search_code", {"query": "helper value step"}),
                       ("get_context", {"task": "explain the helpers"}),
                       ("read_code", {"target": "app/big.py"}),
                       ("find_symbol", {"name": "helper_3"}),
                       ("repo_map", {"query": "helpers"}),
                       ("index_status", {})]:
        for budget in (64, 150):
            await call(name, {**args, "max_tokens": budget})

    # An edit shows up in results without any call to reindex (the watcher picks it up).
    with open(repo / "app" / "auth.py", "a") as fh:
        fh.write('\n\ndef revoke_quantum_token(store, user):\n    """Revoke a quantum token."""\n'
                 "    store.tokens.pop(user, None)\n")

    async def edited() -> bool:
        return "revoke_quantum_token" in await call("search_code", {"query": "revoke quantum token"})

    assert await wait_for(edited)

    # Malformed arguments are tool errors, and the server keeps answering.
    for name, args in [("search_code", {}), ("search_code", {"query": 42}),
                       ("search_code", {"query": "x", "limit": "many"}),
                       ("get_context", {"task": ""}), ("read_code", {"target": "no/such/file.py:1-5"}),
                       ("read_code", {"target": "../../etc/passwd"}),
                       ("search_code", {"query": "x", "max_tokens": 5}), ("nope", {})]:
        result = await client.call_tool(name, args)
        assert result.is_error, (name, args, text_of(result))
        assert text_of(result)
    assert await ready()


def test_stdio_session(repo: Path, tmp_path: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "prism", "mcp"],
                                   cwd=str(repo), env=server_env(tmp_path))

    async def main() -> None:
        async with Client(params, mode="legacy") as client:
            await exercise(client, repo)

    anyio.run(main)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def http_server(repo: Path, tmp_path: Path, *extra: str) -> AsyncIterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "prism", "mcp", "--http", "--port", str(port), *extra],
                            cwd=repo, env=server_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert proc.poll() is None, proc.communicate()[1].decode()
                await anyio.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_http_session_with_token(repo: Path, tmp_path: Path) -> None:
    async def main() -> None:
        async with http_server(repo, tmp_path, "--token", "s3cret") as url:
            async with httpx2.AsyncClient() as anonymous:
                response = await anonymous.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
                assert response.status_code == 401
                assert response.json()["error"]["code"] == "unauthorized"
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer wrong"}) as wrong:
                response = await wrong.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
                assert response.status_code == 401
                # RFC 9728: the challenge names the metadata, which offers no OAuth to start
                challenge = response.headers["www-authenticate"]
                assert challenge.startswith('Bearer resource_metadata="http://127.0.0.1:')
                metadata = (await wrong.get(challenge.split('"')[1])).json()
                assert metadata["resource"] == url and "authorization_servers" not in metadata
            headers = {"Authorization": "bearer s3cret"}  # the scheme is case-insensitive
            async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
                    Client(streamable_http_client(url, http_client=http)) as client:
                await exercise(client, repo)

    anyio.run(main)


def test_http_client_roots_cannot_widen_what_the_server_reads(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.py").write_text("def elsewhere_secret():\n    return 'secret'\n")

    async def roots(_ctx: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=elsewhere.as_uri())])

    async def main() -> None:
        async with http_server(repo, tmp_path) as url, Client(url, list_roots_callback=roots) as client:
            status = json.loads(text_of(await client.call_tool("index_status", {})))
            assert [p["project"] for p in status["projects"]] == [str(repo.resolve())]
            found = text_of(await client.call_tool("search_code", {"query": "elsewhere_secret"}))
            assert "secret.py" not in found

    anyio.run(main)
    assert not any((tmp_path / "home" / "projects").glob("elsewhere-*"))  # never indexed


def test_first_answer_on_a_complete_index_ranks_with_vectors(repo: Path, tmp_path: Path) -> None:
    """A fresh server loads the model at start; the first search waits for it instead of
    answering lexically while it loads (it did, with a warning, for ~1 s after start)."""
    env = {**server_env(tmp_path), "PRISM_EMBEDDER": "minilm"}
    subprocess.run([sys.executable, "-m", "prism", "index"], cwd=repo, env=env, check=True, capture_output=True)
    params = StdioServerParameters(command=sys.executable, args=["-m", "prism", "mcp", "--no-watch"],
                                   cwd=str(repo), env=env)

    async def main() -> None:
        async with Client(params, mode="legacy") as client:
            first = text_of(await client.call_tool("search_code", {"query": "refresh access token"}))
            assert "lexical only" not in first and "still" not in first, first
            assert "app/auth.py:" in first

    anyio.run(main)


def test_http_loopback_without_token(repo: Path, tmp_path: Path) -> None:
    async def main() -> None:
        async with http_server(repo, tmp_path) as url, Client(url) as client:
            listed = await client.list_tools()
            assert {t.name for t in listed.tools} == TOOLS

    anyio.run(main)
