"""The MCP server: PRISM's tools for Claude Code and other MCP clients, over stdio or HTTP.

Set-and-forget: on start the server opens the index of the project it runs in (or the
roots the client names, or `--project`; see `mcp_workspace` for what each session is
served), builds or refreshes it in a background thread (`prism.service.background`), watches
the files, and answers from whatever is ready, saying so in the result. Every response is
bounded by the call's `max_tokens`, counted with the project's tokenizer and capped at
HARD_CAP_TOKENS. Tools are thin: each calls the `Prism` facade and renders its answer as
compact Markdown.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations
from pydantic import Field

from prism.engine import Prism
from prism.errors import PrismError
from prism.models import Hit, SearchFilters
from prism.pack.tokens import Tokenizer, get_tokenizer, truncate_to_tokens
from prism.retrieve.fusion import merge_across
from prism.serve.mcp_render import (
    render_context,
    render_hits,
    render_read,
    render_status,
    render_symbol,
)
from prism.serve.mcp_workspace import Project, View, Workspace

log = logging.getLogger("prism.serve.mcp")

# Claude Code shows a tool result of at most 25,000 tokens (MAX_MCP_OUTPUT_TOKENS, its own
# count) and saves one over about 50,000 characters to a file instead of showing it. Its count
# is Claude's tokenizer, which runs up to ~15 % above cl100k on code ("claude" in pack/tokens.py):
# 20,000 of ours stays under 25,000 of its; and dense code passes 50,000 characters well before
# 20,000 tokens, so characters are capped too (with room for the client's own framing).
CLAUDE_CODE_MAX_TOKENS = 25_000
CLAUDE_CODE_MAX_CHARS = 50_000
HARD_CAP_TOKENS = 20_000
MAX_RESULT_CHARS = 45_000
MIN_TOKENS = 64
DEFAULT_TOKENS: dict[str, int] = {
    "search_code": 2_000, "get_context": 8_000, "read_code": 4_000, "find_symbol": 2_000,
    "index_status": 800, "reindex": 800, "repo_map": 2_000,
}
READY_WAIT_S = 3.0  # how long a first call on a new index waits for its first batch of files
REINDEX_WAIT_S = 60.0

INSTRUCTIONS = (
    "PRISM indexes this repository and returns the code a task needs within a token budget. "
    "Start with get_context for a task or question; use search_code to locate code, "
    "find_symbol for a definition and its callers, read_code to open a handle or "
    "path:start-end. Results flagged stale changed on disk after indexing."
)


# -- budgets ---------------------------------------------------------------------------------


def clamp_tokens(tool: str, max_tokens: int | None) -> int:
    """The tool's default when unset; never below MIN_TOKENS nor above HARD_CAP_TOKENS."""
    value = DEFAULT_TOKENS[tool] if max_tokens is None else max_tokens
    return max(MIN_TOKENS, min(HARD_CAP_TOKENS, value))


def bound(tokenizer: Tokenizer, text: str, max_tokens: int) -> str:
    """`text` itself when it fits max_tokens and MAX_RESULT_CHARS, else its longest prefix that
    fits both, with a note saying so."""
    if len(text) > MAX_RESULT_CHARS:
        note = f"\n… [cut to {MAX_RESULT_CHARS:,} characters, what Claude Code shows inline; narrow the request]"
        cut = text[: MAX_RESULT_CHARS - len(note)]
        text = (cut.rsplit("\n", 1)[0] if "\n" in cut else cut) + note
    if tokenizer.count(text) <= max_tokens:
        return text
    note = f"\n… [cut to max_tokens={max_tokens}; narrow the request or raise max_tokens]"
    room = max(0, max_tokens - tokenizer.count(note))
    cut = truncate_to_tokens(tokenizer, text, room)
    out = cut + note
    while tokenizer.count(out) > max_tokens and cut:  # joins can merge tokens; shave until it fits
        cut = truncate_to_tokens(tokenizer, cut, max(0, tokenizer.count(cut) - 8))
        out = cut + note
    return out if tokenizer.count(out) <= max_tokens else truncate_to_tokens(tokenizer, out, max_tokens)


def within_chars(render: Callable[[int], str], tokens: int) -> str:
    """render(tokens), or, when that passes MAX_RESULT_CHARS (dense code), render of a budget
    scaled down to fit: a smaller whole answer rather than one cut at the end."""
    text = render(tokens)
    for _ in range(3):
        if len(text) <= MAX_RESULT_CHARS or tokens <= MIN_TOKENS:
            break
        tokens = max(MIN_TOKENS, int(tokens * MAX_RESULT_CHARS / len(text) * 0.95))
        text = render(tokens)
    return text


# -- the tools -------------------------------------------------------------------------------

MaxTokens = Annotated[int, Field(ge=MIN_TOKENS,
                                 description=f"Response budget in tokens (capped at {HARD_CAP_TOKENS}).")]
ReposArg = Annotated[list[str] | None, Field(description="Only these open repositories (labels); default all")]
ScopeArg = Annotated[Literal["all", "code", "tests", "docs"],
                     Field(description="code leaves out tests, docs and changelogs")]


class PrismTools:
    """The tool bodies: argument checks, one engine call per project, rendering, budget."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.tokenizer = get_tokenizer(workspace.settings.tokenizer)

    # each public async method is one MCP tool; DESCRIPTIONS holds what the client reads

    async def search_code(
        self,
        query: Annotated[str, Field(min_length=1, description="Words, identifiers, or an error message.")],
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        path: Annotated[str | None, Field(description="Path prefix or glob, e.g. src/api/ or **/*.ts")] = None,
        language: Annotated[str | None, Field(description="e.g. python, typescript")] = None,
        scope: ScopeArg = "all",
        repos: ReposArg = None,
        max_tokens: MaxTokens = 2_000,
        ctx: Context[Any, Any] | None = None,
    ) -> str:
        view = await self.ws.view_for(ctx)
        budget = clamp_tokens("search_code", max_tokens)
        filters = SearchFilters(languages=(language,) if language else (), path=path, scope=scope)
        return await self._run(functools.partial(self._search, view, query, limit, filters, budget, repos))

    def _search(self, view: View, query: str, limit: int, filters: SearchFilters, budget: int,
                repos: Sequence[str] | None = None) -> str:
        projects = self._ready_projects(view, repos)
        per_project: list[Sequence[Hit]] = []
        notes = []
        for project in projects:
            with project.lock:
                response = project.reader.search(query, limit=limit, filters=filters)
            per_project.append(response.hits)
            notes += [project.state(), *response.warnings]
        merged = merge_across(per_project)[:limit]  # scores comparable across repositories
        rows = [(view.display_path(projects[i], h.chunk.chunk.path), h, h.stale) for i, h in merged]
        text = render_hits(query, rows, _notes(notes), self.tokenizer, budget)
        return bound(self.tokenizer, text, budget)

    async def get_context(
        self,
        task: Annotated[str, Field(min_length=1, description="The task, question, bug report or stack trace.")],
        intent: Annotated[
            Literal["bugfix", "feature", "explain", "refactor", "test", "search", "general"] | None,
            Field(description="Default: detected from the task."),
        ] = None,
        scope: ScopeArg = "all",
        repos: ReposArg = None,
        max_tokens: MaxTokens = 8_000,
        ctx: Context[Any, Any] | None = None,
    ) -> str:
        view = await self.ws.view_for(ctx)
        budget = clamp_tokens("get_context", max_tokens)
        filters = SearchFilters(scope=scope) if scope != "all" else None
        return await self._run(functools.partial(self._context, view, task, intent, budget, filters, repos))

    def _context(self, view: View, task: str, intent: str | None, budget: int,
                 filters: SearchFilters | None = None, repos: Sequence[str] | None = None) -> str:
        projects = self._ready_projects(view, repos)
        notes = _notes([p.state() for p in projects])
        header = f"> {notes}\n\n" if notes else ""
        share = (budget - self.tokenizer.count(header) - 8 * len(projects)) // len(projects)

        def packed(tokens: int) -> str:
            parts = []
            for project in projects:
                with project.lock:
                    pack = project.reader.context(task, budget_tokens=max(tokens, MIN_TOKENS),
                                                  fmt="markdown", intent=intent, filters=filters)
                    stale = _stale_paths(project.reader, [c.path for c in pack.chunks])
                title = f"# {view.label(project)}\n\n" if len(projects) > 1 else ""
                parts.append(title + render_context(pack, stale))
            return header + "\n\n".join(parts)

        return bound(self.tokenizer, within_chars(packed, share), budget)

    async def read_code(
        self,
        target: Annotated[str, Field(min_length=1, description="Handle, path:start-end, path or symbol.")],
        max_tokens: MaxTokens = 4_000,
        ctx: Context[Any, Any] | None = None,
    ) -> str:
        view = await self.ws.view_for(ctx)
        budget = clamp_tokens("read_code", max_tokens)
        return await self._run(functools.partial(self._read, view, target, budget))

    def _read(self, view: View, target: str, budget: int) -> str:
        project, inner = view.project_for(target)
        with project.lock:
            shown = project.reader.show(inner)
            stale = _stale_paths(project.reader, [item.path for item in shown])
        prefix = view.display_path(project, "")
        text = render_read(shown, prefix, project.state(), self.tokenizer, budget, stale)
        return bound(self.tokenizer, text, budget)

    async def find_symbol(
        self,
        name: Annotated[str, Field(min_length=1, description="Function, class or method name; Class.method works.")],
        references: Annotated[bool, Field(description="Also list callers, importers.")] = True,
        max_tokens: MaxTokens = 2_000,
        ctx: Context[Any, Any] | None = None,
    ) -> str:
        view = await self.ws.view_for(ctx)
        budget = clamp_tokens("find_symbol", max_tokens)
        return await self._run(functools.partial(self._symbol, view, name, references, budget))

    def _symbol(self, view: View, name: str, references: bool, budget: int) -> str:
        found = []
        projects = self._ready_projects(view)
        for project in projects:
            with project.lock:
                found.append((project, project.reader.find_symbol(name, references=references)))
        rows = [(view.display_path(p, ""), result) for p, result in found]
        text = render_symbol(name, rows, _notes([p.state() for p in projects]), self.tokenizer, budget)
        return bound(self.tokenizer, text, budget)

    async def repo_map(
        self,
        query: Annotated[str | None, Field(description="Rank higher what this task finds")] = None,
        path: Annotated[str | None, Field(description="Rank higher this folder or file")] = None,
        max_tokens: MaxTokens = 2_000,
        ctx: Context[Any, Any] | None = None,
    ) -> str:
        view = await self.ws.view_for(ctx)
        budget = clamp_tokens("repo_map", max_tokens)
        return await self._run(functools.partial(self._map, view, query, path, budget))

    def _map(self, view: View, query: str | None, path: str | None, budget: int) -> str:
        projects = self._ready_projects(view)
        notes = _notes([p.state() for p in projects])
        header = f"> {notes}\n\n" if notes else ""
        share = (budget - self.tokenizer.count(header) - 8 * len(projects)) // len(projects)
        owner, inner = view.project_for(path) if path else (None, "")

        def mapped(tokens: int) -> str:
            parts = []
            for project in projects:
                focus = inner if project is owner else None
                with project.lock:
                    found = project.reader.map(budget_tokens=max(tokens, MIN_TOKENS), query=query,
                                               paths=(focus,) if focus else (), tokenizer=self.tokenizer.name)
                title = f"# {view.label(project)}\n\n" if len(projects) > 1 else ""
                parts.append(title + found.text)
            return header + "\n\n".join(parts)

        return bound(self.tokenizer, within_chars(mapped, share), budget)

    async def index_status(self, max_tokens: MaxTokens = 800,
                           ctx: Context[Any, Any] | None = None) -> str:
        view = await self.ws.view_for(ctx)
        budget = clamp_tokens("index_status", max_tokens)
        return await self._run(functools.partial(self._status, view, budget))

    def _status(self, view: View, budget: int) -> str:
        rows = []
        for project in view.projects:
            with project.lock:
                data: dict[str, object] = (project.reader.status() if project.reader.is_indexed
                                           else {"project": str(project.reader.root), "files": 0})
            data["background"] = project.worker.progress.to_dict() if project.worker else None
            rows.append(data)
        return bound(self.tokenizer, render_status(rows), budget)

    async def reindex(
        self,
        full: Annotated[bool, Field(description="Re-read every file instead of changed ones.")] = False,
        max_tokens: MaxTokens = 800,
        ctx: Context[Any, Any] | None = None,
    ) -> str:
        view = await self.ws.view_for(ctx)
        budget = clamp_tokens("reindex", max_tokens)
        return await self._run(functools.partial(self._reindex, view, full, budget))

    def _reindex(self, view: View, full: bool, budget: int) -> str:
        lines = []
        for project in view.projects:
            if project.worker is None or full:
                with project.lock:
                    report = project.reader.index(force=full, embed=False)
                lines.append(f"- {view.label(project)}: {report.files_indexed} files updated, "
                             f"{report.files_deleted} deleted in {report.seconds:.2f}s")
                if project.worker is not None:
                    project.worker.request_sync()  # vectors for the new chunks
                continue
            seen = project.worker.request_sync()
            done = project.worker.wait_synced_past(seen, REINDEX_WAIT_S)
            progress = project.worker.progress
            lines.append(f"- {view.label(project)}: " + (
                f"synced; {progress.files_indexed} files updated" if done
                else f"still syncing ({progress.phase} {progress.done}/{progress.total})"))
        return bound(self.tokenizer, "Reindex\n" + "\n".join(lines), budget)

    # -- plumbing --------------------------------------------------------------------------

    async def _run(self, call: Callable[[], str]) -> str:
        """Run an engine call on a worker thread; PrismErrors become tool errors with their hint."""
        try:
            return await anyio.to_thread.run_sync(call)
        except PrismError as exc:
            raise ToolError(str(exc)) from exc

    def _ready_projects(self, view: View, repos: Sequence[str] | None = None) -> list[Project]:
        """Projects with an index to read (those named in `repos`, when given), after giving a
        fresh one a moment to commit its first batch."""
        projects = view.projects
        if repos:
            unknown = [r for r in repos if r not in view.labels.values()]
            if unknown:
                raise ToolError(f"No open repository is called {unknown[0]!r}; "
                                f"open ones: {', '.join(view.labels.values())}.")
            projects = [p for p in projects if view.label(p) in repos]
        for project in projects:
            if project.worker is not None and not project.waited:
                project.waited = True  # only the first call on a never-synced index waits
                if not project.indexed_before:
                    project.worker.wait_searchable(READY_WAIT_S)
        ready = [p for p in projects if p.reader.is_indexed]
        if not ready:
            building = ", ".join(f"{p.reader.root} ({p.state() or 'not indexed'})" for p in projects)
            raise ToolError(f"PRISM is still building the index of {building}. "
                            "Call again in a few seconds, or see index_status.")
        return ready


def _stale_paths(reader: Prism, paths: Sequence[str]) -> set[str]:
    """The files among `paths` that changed on disk since they were indexed."""
    return {path for path in dict.fromkeys(paths) if reader.is_stale(path)}


def _notes(notes: Sequence[str]) -> str:
    return " ".join(dict.fromkeys(n for n in notes if n))


# -- the server ------------------------------------------------------------------------------

TOOL_NAMES = ("search_code", "get_context", "read_code", "find_symbol", "repo_map", "index_status", "reindex")
DESCRIPTIONS: dict[str, str] = {
    "search_code": (
        "Hybrid code search (lexical + semantic + exact symbol/path). Returns ranked chunks: "
        "path:start-end handle, kind, symbol, score, a STALE flag when the file changed since "
        "indexing, and a short preview. Use it to locate code; read_code opens a handle."
    ),
    "get_context": (
        "Best first call for a task, question, bug report or stack trace: the most relevant code "
        "of the repository packed into max_tokens, lower-value chunks degraded to skeletons or "
        "signatures rather than dropped, with handles for what was left out."
    ),
    "read_code": (
        "Original source with line numbers, by handle, path:start-end, file path or symbol "
        "name, cut at a line boundary to fit max_tokens."
    ),
    "find_symbol": (
        "Where a function, class or method is defined (signature, docstring) and, from the "
        "code graph, which code calls or imports it."
    ),
    "repo_map": (
        "Map of the repository: its file tree with each file's top classes and functions "
        "(signature, line), ranked by how much other code uses them; fits max_tokens."
    ),
    "index_status": (
        "Index health per project: background phase and progress, files, chunks, tokens, "
        "pending vectors, files changed on disk, embedding model."
    ),
    "reindex": (
        "Sync the index with the files on disk now and wait until changed files are searchable. "
        "Rarely needed: files are watched and re-indexed automatically."
    ),
}

_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _strip_titles(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's auto-generated 'title' keys: they restate the names and cost tokens."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _strip_titles(prop) for name, prop in value.items()}
        elif isinstance(value, dict):
            out[key] = _strip_titles(value)
        elif isinstance(value, list):
            out[key] = [_strip_titles(v) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def build_server(workspace: Workspace) -> MCPServer[Any]:
    """An MCPServer with PRISM's six tools and two prompts (context, ask), bound to `workspace`."""
    tools = PrismTools(workspace)
    registered = []
    for name in TOOL_NAMES:
        fn = getattr(tools, name)
        annotations = (ToolAnnotations(read_only_hint=False, idempotent_hint=True, open_world_hint=False)
                       if name == "reindex" else _READ_ONLY)
        tool = Tool.from_function(fn, name=name, description=DESCRIPTIONS[name], annotations=annotations,
                                  structured_output=False)
        tool.parameters = _strip_titles(tool.parameters)
        registered.append(tool)
    server: MCPServer[Any] = MCPServer("prism", instructions=INSTRUCTIONS, tools=registered,
                                       version=_version(), log_level="WARNING")

    @server.prompt(name="context", description="Frame a coding task with the code PRISM selects for it.")
    async def context_prompt(task: str) -> list[UserMessage]:
        packed = await tools.get_context(task)
        return [UserMessage(f"{task}\n\nRelevant code from the repository (selected by PRISM):\n\n{packed}")]

    @server.prompt(name="ask", description="Answer a question about the code from PRISM's packed context, "
                                           "citing path:start-end; your own model answers.")
    async def ask_prompt(question: str) -> list[UserMessage]:
        from prism.llm.ask import SYSTEM_PROMPT  # the instructions `prism ask` gives its model

        packed = await tools.get_context(question)
        return [UserMessage(f"{SYSTEM_PROMPT}\n\n{packed}\n\n# Question\n\n{question}")]

    return server


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("prism-context")
    except Exception:
        return "0"


def tool_definitions_tokens(server: MCPServer[Any], tokenizer: Tokenizer) -> int:
    """Tokens the tool list costs a client: the JSON of every tool definition, counted."""
    tools = anyio.run(server.list_tools)
    payload = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]
    return tokenizer.count(json.dumps(payload, separators=(",", ":")))


def configure_logging(level: str = "WARNING") -> None:
    """Logs go to stderr (stdout carries only protocol messages)."""
    logging.basicConfig(level=os.environ.get("PRISM_LOG_LEVEL", level).upper(),
                        format="prism-mcp %(levelname)s %(name)s: %(message)s", force=True)


# -- transports ------------------------------------------------------------------------------

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve_stdio(workspace: Workspace) -> None:
    """Speak MCP on stdin/stdout until the client closes them (the SDK keeps stray output off stdout)."""
    server = build_server(workspace)
    try:
        server.run("stdio")
    finally:
        workspace.close()


RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"


class BearerAuth:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`.

    The scheme is matched in any case (RFC 9110 §11.1) and the token in constant time. A 401
    names the RFC 9728 resource metadata, served here without a token and listing no
    authorization server, so that clients such as MCP Inspector report a bad token instead of
    starting an OAuth flow the server does not offer.
    """

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        import hmac

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        base = f"{scope.get('scheme', 'http')}://{headers.get(b'host', b'localhost').decode('latin-1')}"
        if scope["path"].startswith(RESOURCE_METADATA_PATH):  # also the path-suffixed form, …/mcp
            metadata = {"resource": f"{base}/mcp", "bearer_methods_supported": ["header"],
                        "resource_name": "PRISM MCP server"}
            await _send_json(send, 200, json.dumps(metadata).encode(), [])
            return
        scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token):
            await self.app(scope, receive, send)
            return
        challenge = f'Bearer resource_metadata="{base}{RESOURCE_METADATA_PATH}"'
        if given:
            challenge += ', error="invalid_token"'
        body = (b'{"error":{"code":"unauthorized","message":"Missing or wrong bearer token.",'
                b'"details":{"hint":"Send Authorization: Bearer <token> (prism mcp --token)."}}}')
        await _send_json(send, 401, body, [(b"www-authenticate", challenge.encode())])


async def _send_json(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": body})


def http_app(workspace: Workspace, *, host: str, token: str | None) -> Any:
    """The streamable-HTTP ASGI app at /mcp, behind BearerAuth when a token is set."""
    from mcp.server.transport_security import TransportSecuritySettings

    server = build_server(workspace)
    security = None if host in LOOPBACK_HOSTS else TransportSecuritySettings(
        enable_dns_rebinding_protection=False)  # a remote bind is protected by the token instead
    app = server.streamable_http_app(host=host, transport_security=security)
    return BearerAuth(app, token) if token else app


def require_token(host: str, token: str | None) -> str | None:
    """The token to enforce: the given one; for a non-loopback bind without one, a fresh random one."""
    if token or host in LOOPBACK_HOSTS:
        return token or None
    import secrets

    return secrets.token_urlsafe(24)


def serve_http(workspace: Workspace, *, host: str, port: int, token: str | None) -> None:
    import uvicorn

    app = http_app(workspace, host=host, token=token)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on")
    finally:
        workspace.close()
