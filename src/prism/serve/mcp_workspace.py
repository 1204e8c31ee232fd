"""The projects an MCP server serves, and which of them each client session sees.

Over stdio (one client, who started the server) the client's roots replace the served set.
Over HTTP (any client that can reach the port) each session gets its own `View`, and a
client's roots are served only inside the folders the server was started for (or
`--allow-root` ones): no client can widen what the server reads. Each `Project` pairs a reader
with a background writer and says, in one sentence, what its answers may be missing.
"""

from __future__ import annotations

import logging
import threading
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPDeprecationWarning

from prism.config import Settings
from prism.engine import Prism, find_project_root
from prism.service.background import BackgroundIndexer, background_settings

log = logging.getLogger("prism.serve.mcp.workspace")

MAX_SESSION_ROOTS = 16  # HTTP: folders opened for client sessions, beyond the served ones


@dataclass
class Project:
    """One root: a reader Prism for the tools and a background writer keeping it fresh."""

    reader: Prism
    worker: BackgroundIndexer | None
    indexed_before: bool = False  # a full sync finished before this server started
    lock: threading.Lock = field(default_factory=threading.Lock)
    waited: bool = False

    def state(self) -> str:
        """'' when answers come from the whole index, else one sentence saying what is missing.

        An index a previous run completed answers for the whole tree while the first sync only
        checks it (edited files are flagged STALE); "vectors still being computed" is said only
        while some chunk has none.
        """
        if self.worker is None:
            return ""
        progress = self.worker.progress
        if progress.phase == "error":
            return f"Background indexing failed: {progress.error}"
        if not progress.ready and not self.indexed_before:
            if progress.phase == "waiting":
                return "Another PRISM process is indexing this project; results may be incomplete."
            done = f" ({progress.done:,}/{progress.total:,} files)" if progress.total else ""
            return f"Index still building{done}; results may be incomplete."
        if progress.phase == "embedding" and self._vectors_missing():
            done = f" ({progress.done:,}/{progress.total:,})" if progress.total else ""
            return f"Semantic vectors still being computed{done}; ranking is lexical-first for now."
        return ""

    def _vectors_missing(self) -> bool:
        progress = self.worker.progress if self.worker is not None else None
        if progress is not None and progress.total > progress.done:
            return True
        if not self.reader.is_indexed:
            return True
        store = self.reader.store  # before the first batch: ask the index itself
        model = store.get_meta("embed_model")
        return model is None or bool(store.pending_embeddings(model, 1))


class View:
    """The projects one client session is served, each with a label unique among them."""

    def __init__(self, projects: Sequence[Project]) -> None:
        self.projects = list(projects)
        self.labels = _labels([p.reader.root for p in self.projects])

    def label(self, project: Project) -> str:
        return self.labels[project.reader.root]

    def project_for(self, path: str) -> tuple[Project, str]:
        """The project a result path belongs to, and the path inside it ("label/…" with several roots)."""
        if len(self.projects) == 1:
            return self.projects[0], path
        head, _, rest = path.partition("/")
        for project in self.projects:
            if self.label(project) == head and rest:
                return project, rest
        raise ToolError(f"Path {path!r} names no served root; prefix it with one of: "
                        f"{', '.join(self.labels.values())}.")

    def display_path(self, project: Project, path: str) -> str:
        return path if len(self.projects) == 1 else f"{self.label(project)}/{path}"


class Workspace:
    """The projects one server serves: `--project` roots, else the client's roots, else the cwd.

    Over stdio (one client, who started the server) the client's roots replace the served
    set. With `sessions` (HTTP: any client that can reach the port) each session gets its own
    view, and a client's roots are served only when they lie inside a folder the server was
    started for or one of `allow`; others are ignored with a logged notice, so that no client
    can widen what the server reads.
    """

    def __init__(self, settings: Settings, roots: Sequence[Path] = (), *, background: bool = True,
                 watch: bool = True, cwd: Path | None = None, sessions: bool = False,
                 allow: Sequence[Path] = ()) -> None:
        self.settings = settings
        self.background = background
        self.watch = watch
        self.pinned = bool(roots)  # roots given on the command line win over the client's
        self._roots_checked = self.pinned
        self._lock = threading.Lock()
        self.projects: list[Project] = []
        self._opened: dict[Path, Project] = {}  # sessions: opened for some session's roots
        self._views: weakref.WeakKeyDictionary[Any, View] = weakref.WeakKeyDictionary()
        start = list(roots) or [find_project_root(cwd or Path.cwd(), settings)]
        self.set_roots(start)
        self.allowed = ([*self.roots(), *(Path(a).resolve() for a in allow)] if sessions else None)

    def set_roots(self, roots: Sequence[Path]) -> None:
        """Serve exactly these roots: open new ones, stop the ones no longer named."""
        wanted = list(dict.fromkeys(Path(r).resolve() for r in roots))
        with self._lock:
            keep = [p for p in self.projects if p.reader.root in wanted]
            for project in self.projects:
                if project not in keep:
                    self._close(project)
            have = {p.reader.root for p in keep}
            for root in wanted:
                if root not in have:
                    keep.append(self._open(root))
            keep.sort(key=lambda p: wanted.index(p.reader.root))
            self.projects = keep

    def _open(self, root: Path) -> Project:
        reader = Prism(root, settings=self.settings, load_model_in_background=True)
        indexed_before = reader.is_indexed and reader.store.get_meta("last_sync") is not None
        if self.settings.embed:  # load the query model now, not at the first query
            threading.Thread(target=_preload_model, args=(reader,), name="prism-model", daemon=True).start()
        worker = None
        if self.background:
            writer = Prism(root, settings=background_settings(self.settings))
            worker = BackgroundIndexer(writer, watch=self.watch)
            worker.start()
        log.info("serving %s (index %s)", root, reader.index_dir)
        return Project(reader, worker, indexed_before)

    def _close(self, project: Project) -> None:
        if project.worker is not None:
            project.worker.stop()
        project.reader.close()

    def close(self) -> None:
        with self._lock:
            for project in [*self.projects, *self._opened.values()]:
                self._close(project)
            self.projects = []
            self._opened = {}

    def view(self) -> View:
        """What a client without roots of its own (or any stdio client) is served."""
        return View(self.projects)

    async def view_for(self, ctx: Context[Any, Any] | None) -> View:
        """The projects this call's session is served (its client's roots are asked for once)."""
        if self.allowed is None:
            await self.adopt_client_roots(ctx)
            return self.view()
        if self.pinned or ctx is None:
            return self.view()
        # The SDK builds a ServerSession per request; the client connection it wraps (no public
        # accessor yet) is what lives as long as the client's session.
        session = getattr(ctx.session, "_connection", ctx.session)
        view = self._views.get(session)
        if view is None:
            paths = await _client_roots(ctx) or []
            allowed = self.allowed
            accepted = [p for p in paths if any(p == a or a in p.parents for a in allowed)]
            for path in paths:
                if path not in accepted:
                    log.warning("ignoring client root %s: outside what this server serves (%s); "
                                "restart it with --allow-root to serve it", path, ", ".join(map(str, allowed)))
            projects = await anyio.to_thread.run_sync(self._session_projects, accepted) if accepted else []
            view = View(projects) if projects else self.view()
            self._views[session] = view
        return view

    def _session_projects(self, roots: Sequence[Path]) -> list[Project]:
        """Projects for a session's roots, shared with every other session naming the same root."""
        with self._lock:
            served = {p.reader.root: p for p in self.projects} | self._opened
            for root in dict.fromkeys(roots):
                if root in served:
                    continue
                if len(self._opened) >= MAX_SESSION_ROOTS:  # each one indexes in the background
                    log.warning("ignoring client root %s: %d session roots are served already",
                                root, MAX_SESSION_ROOTS)
                    continue
                served[root] = self._opened[root] = self._open(root)
            return [served[root] for root in dict.fromkeys(roots) if root in served]

    async def adopt_client_roots(self, ctx: Context[Any, Any] | None) -> None:
        """Once per server: serve the client's roots when it has any and none were pinned."""
        if self._roots_checked or ctx is None:
            return
        self._roots_checked = True
        paths = await _client_roots(ctx)
        if paths is None:
            log.info("client roots unavailable; serving %s", self.roots())
        elif paths:
            await anyio.to_thread.run_sync(self.set_roots, paths)

    def roots(self) -> list[Path]:
        return [p.reader.root for p in self.projects]


async def _client_roots(ctx: Context[Any, Any]) -> list[Path] | None:
    """The client's roots that are existing folders (resolved); None when it cannot list roots."""
    try:
        caps = ctx.client_capabilities
        if caps is None or caps.roots is None:
            return None
        # Roots are deprecated as of protocol 2026-07-28 (SEP-2577) but are still what clients
        # send. The SDK's other path (a `ListRoots` resolver) runs per tool call and fails the
        # call when the client lacks the capability, so the server asks once, here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            result = await ctx.session.list_roots()
    except Exception as exc:  # a client that cannot list roots keeps the default
        log.info("client roots unavailable (%s)", exc)
        return None
    return [p.resolve() for p in (_uri_path(str(r.uri)) for r in result.roots) if p is not None]


def _preload_model(reader: Prism) -> None:
    """Load the reader's embedding model; a search meanwhile waits for it, so that the first
    answers on a complete index rank as the CLI's do rather than lexically."""
    try:
        _ = reader.embedder
    except Exception as exc:  # searches report it themselves (and answer lexically)
        log.warning("embedding model not loaded: %s", exc)


def _labels(roots: Sequence[Path]) -> dict[Path, str]:
    """Short unique names for roots: the folder name, with parents added where names clash."""
    labels = {root: root.name or "root" for root in roots}
    for root in roots:
        if sum(1 for v in labels.values() if v == labels[root]) > 1:
            labels[root] = "-".join(root.parts[-2:])
    return labels


def _uri_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = Path(unquote(parsed.path))
    return path if path.is_dir() else None
