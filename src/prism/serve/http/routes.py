"""The /api/v1 routes: thin adapters from validated requests to the engine, each with its permission.

`endpoint()` is the only way routes are declared here: it attaches the permission dependency,
records the permission in the OpenAPI document (`x-permission`) and documents the error
envelope for every failure status, so the published schema matches what the server sends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import Field

from prism.engine import Prism
from prism.errors import NotFoundError, PathError
from prism.models import SearchFilters
from prism.serve.http import schemas as s
from prism.serve.http.auth import PERMISSION_KEY, Permission, Principal, permission, server_state
from prism.serve.http.errors import (
    ConflictError,
    FeatureUnavailableError,
    NotReadyError,
    PayloadTooLargeError,
)
from prism.serve.http.projects import ProjectRecord, normalise_upload_path
from prism.serve.http.state import ServerState

F = TypeVar("F", bound=Callable[..., Any])
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 422, 429, 503)
_LINES_RE = re.compile(r"^(?P<path>.+?):(?P<start>\d{1,9})(?:-(?P<end>\d{1,9}))?$")
MAX_READ_LINES = 5000

try:
    PRISM_VERSION = version("prism-context")
except PackageNotFoundError:  # running from a source tree that was never installed
    PRISM_VERSION = "0.0.0"

router = APIRouter()
api = APIRouter(prefix="/api/v1")


def endpoint(target: APIRouter, method: str, path: str, perm: Permission, *, status_code: int = 200,
             errors: tuple[int, ...] = ERROR_STATUSES, summary: str | None = None,
             text: bool = False) -> Callable[[F], F]:
    """Declare a route with its permission, enforced and published."""
    responses: dict[int | str, dict[str, Any]] = {code: {"model": s.ErrorResponse} for code in errors}
    extra: dict[str, Any] = {}
    if text:  # the answer is text, its errors are still the JSON envelope (FastAPI would call them text)
        responses = {code: {"description": "Error", "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/ErrorResponse"}}}} for code in errors}
        responses[status_code] = {"content": {"text/plain": {"schema": {"type": "string"}}}}
        extra["response_class"] = PlainTextResponse
    return target.api_route(
        path, methods=[method], status_code=status_code, summary=summary, **extra,
        dependencies=[Depends(permission(perm))], openapi_extra={PERMISSION_KEY: perm},
        responses=responses,
    )


class NotIndexedError(ConflictError):
    code = "not_indexed"


class _Packer(Protocol):
    def context(self, query: str, *, budget_tokens: int, fmt: str, expand: bool, intent: str) -> Any: ...
    def show(self, handle: str) -> Any: ...


def _principal(request: Request) -> Principal:
    value: Principal = request.state.principal
    return value


def _project_out(state: ServerState, record: ProjectRecord) -> s.Project:
    status = state.projects.status(record.name)
    return s.Project(name=record.name, kind=record.kind, created_at=record.created_at,
                     indexed=status.indexed, state=status.phase)


def _indexed_engine(state: ServerState, project: str) -> Prism:
    engine = state.projects.engine(project)
    if not engine.is_indexed or not state.projects.status(project).indexed:
        raise NotIndexedError(f"Project {project!r} has no complete index yet.",
                              hint=f"POST /api/v1/projects/{project}/index first (again, if one was "
                                   "interrupted).", value=project)
    return engine


# -- liveness and readiness ----------------------------------------------------------------


@endpoint(router, "GET", "/health", "public", errors=(), summary="Liveness: the process answers.")
def health() -> s.Health:
    return s.Health(status="ok", version=PRISM_VERSION)


@endpoint(router, "GET", "/ready", "public", errors=(503,), summary="Readiness: database, migrations, model.")
def ready(request: Request) -> s.Ready:
    state = server_state(request)
    checks = dict(state.readiness.checks)
    if not state.db.ping() or not state.db.is_current:
        checks["database"] = "unavailable"
    result = s.Ready(ready=all(v == "ok" for v in checks.values()), checks=checks)
    if not result.ready:
        raise NotReadyError("The server is not ready yet.", hint="Retry shortly; see details.checks.",
                            value=", ".join(f"{k}={v}" for k, v in checks.items()))
    return result


# -- projects ------------------------------------------------------------------------------


@endpoint(api, "GET", "/projects", "read", summary="List the projects this credential can see.")
def list_projects(request: Request) -> s.ProjectList:
    state, principal = server_state(request), _principal(request)
    records = [r for r in state.projects.all() if principal.allows_project(r.name)]
    return s.ProjectList(projects=[_project_out(state, r) for r in records])


@endpoint(api, "POST", "/projects", "admin", status_code=201, summary="Create a project.")
def create_project(request: Request, body: s.ProjectCreate) -> s.Project:
    state = server_state(request)
    return _project_out(state, state.projects.create(body.name, body.path))


@endpoint(api, "GET", "/projects/{project}", "read", summary="One project.")
def get_project(request: Request, project: s.ProjectName) -> s.Project:
    state = server_state(request)
    return _project_out(state, state.projects.get(project))


@endpoint(api, "DELETE", "/projects/{project}", "admin", summary="Delete a project and its index.")
def delete_project(request: Request, project: s.ProjectName) -> s.Deleted:
    server_state(request).projects.delete(project)
    return s.Deleted(deleted=project)


@endpoint(api, "POST", "/projects/{project}/index", "write",
          summary="Upload files (path + content) and/or re-index; per-file failures are reported.")
def index_project(request: Request, project: s.ProjectName, body: s.IndexRequest) -> s.IndexResponse:
    state = server_state(request)
    limit = state.settings.max_files_per_request
    if len(body.files) + len(body.delete) > limit:
        raise too_many_files(limit)
    outcomes, report = state.projects.index_request(project, [(f.path, f.content) for f in body.files],
                                                    body.delete, force=body.force, embed=body.embed)
    files = [s.FileResult(path=o.path, status=o.status, reason=o.reason) for o in outcomes]
    return s.IndexResponse(project=project, files=files, failed=sum(o.status == "failed" for o in outcomes),
                           report=report.to_dict())


def too_many_files(limit: int) -> Exception:
    return PayloadTooLargeError(f"More than {limit} files in one request.",
                                hint="Split the upload into batches.", value=limit)


@endpoint(api, "GET", "/projects/{project}/stats", "read", summary="What the index holds.")
def project_stats(request: Request, project: s.ProjectName) -> s.Stats:
    engine = _indexed_engine(server_state(request), project)
    stats = engine.store.stats()
    return s.Stats(project=project, stats=dict(stats))


# -- search, context, code -----------------------------------------------------------------


@endpoint(api, "POST", "/projects/{project}/search", "read", summary="Hybrid search over a project.")
def search(request: Request, project: s.ProjectName, body: s.SearchRequest) -> s.SearchResponse:
    engine = _indexed_engine(server_state(request), project)
    f = body.filters
    filters = SearchFilters(languages=tuple(f.languages), path=f.path, kinds=tuple(f.kinds),
                            since=f.since, min_score=f.min_score)
    result = engine.search(body.query, limit=body.limit, files=body.files, filters=filters)
    data = result.to_dict(explain=body.explain)
    return s.SearchResponse.model_validate(data)


@endpoint(api, "POST", "/projects/{project}/context", "read",
          summary="Pack the code a task needs into an exact token budget.")
def context(request: Request, project: s.ProjectName, body: s.ContextRequest) -> s.ContextResponse:
    engine = _indexed_engine(server_state(request), project)
    if not hasattr(engine, "context"):
        raise FeatureUnavailableError("Context packing is not available in this build.",
                                      hint="Use /search until the token optimizer ships.")
    pack = cast(_Packer, engine).context(body.query, budget_tokens=body.budget_tokens, fmt=body.format,
                                         expand=body.expand, intent=body.intent)
    return _pack_out(pack)


def _pack_out(pack: Any) -> s.ContextResponse:
    return s.ContextResponse(
        query=pack.query, budget=pack.budget, tokens=pack.tokens, tokenizer=pack.tokenizer,
        intent=pack.intent, format=pack.format, text=pack.text,
        chunks=[s.PackedChunk.model_validate(c.to_dict()) for c in pack.chunks],
        omitted=[s.OmittedChunk.model_validate(o.to_dict()) for o in pack.omitted],
        omitted_total=pack.omitted_total)


@endpoint(api, "GET", "/projects/{project}/code", "read",
          summary="Read code by handle (from a context response) or by `path:start-end`.")
def read_code(request: Request, project: s.ProjectName,
              ref: str = Query(min_length=1, max_length=1100, description="A handle or `path:10-20`.")
              ) -> s.CodeResponse:
    engine = _indexed_engine(server_state(request), project)
    match = _LINES_RE.match(ref)
    if match is None:
        return _by_handle(engine, project, ref)
    rel = normalise_upload_path(match.group("path"))
    start = int(match.group("start"))
    end = int(match.group("end") or start)
    if start < 1 or end < start or end - start >= MAX_READ_LINES:
        raise PathError(f"Line range {start}-{end} is not valid.",
                        hint=f"Use 1-based start ≤ end, at most {MAX_READ_LINES} lines.", value=ref)
    full = (engine.root / rel)
    if not _inside(engine.root, full) or not full.is_file():
        raise NotFoundError(f"No file {rel!r} in project {project!r}.", hint="Check the path.", value=rel)
    lines = full.read_text(encoding="utf-8", errors="replace").splitlines()
    end = min(end, len(lines))
    return s.CodeResponse(project=project, ref=ref, path=rel, start_line=start, end_line=end,
                          content="\n".join(lines[start - 1:end]))


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _by_handle(engine: Prism, project: str, handle: str) -> s.CodeResponse:
    if not hasattr(engine, "show"):
        raise FeatureUnavailableError("Reading by handle is not available in this build.",
                                      hint="Read by `path:start-end` instead.")
    pack = cast(_Packer, engine).show(handle)
    chunks = list(pack.chunks)
    if not chunks:
        raise NotFoundError(f"No code for handle {handle!r}.", hint="Use a handle from a context response.",
                            value=handle)
    first = chunks[0]
    return s.CodeResponse(project=project, ref=handle, path=first.path, start_line=first.start_line,
                          end_line=first.end_line, content=pack.text)


# -- usage and keys ------------------------------------------------------------------------


@endpoint(api, "GET", "/usage", "read", summary="Requests per credential, day and route (admins: all).")
def usage(request: Request) -> s.UsageResponse:
    state, principal = server_state(request), _principal(request)
    rows = state.usage.report(None if principal.role == "admin" else principal.usage_id)
    return s.UsageResponse(usage=[s.UsageRow.model_validate(r) for r in rows])


@endpoint(api, "GET", "/keys", "admin", summary="List API keys (never their secrets).")
def list_keys(request: Request, include_revoked: bool = False) -> s.KeyList:
    keys = server_state(request).keys.all(include_revoked=include_revoked)
    return s.KeyList(keys=[s.KeyInfo.model_validate(k.to_dict()) for k in keys])


@endpoint(api, "POST", "/keys", "admin", status_code=201, summary="Create an API key (shown once).")
def create_key(request: Request, body: s.KeyCreate) -> s.KeyCreated:
    expires = time.time() + body.expires_days * 86400 if body.expires_days else None
    key, secret = server_state(request).keys.create(body.name, body.role, tuple(body.projects), expires)
    return s.KeyCreated(key=s.KeyInfo.model_validate(key.to_dict()), api_key=secret)


KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]


@endpoint(api, "DELETE", "/keys/{key_id}", "admin", summary="Revoke a key; effective at once.")
def revoke_key(request: Request, key_id: KeyId) -> s.KeyInfo:
    return s.KeyInfo.model_validate(server_state(request).keys.revoke(key_id).to_dict())


@endpoint(api, "POST", "/keys/{key_id}/rotate", "admin",
          summary="Replace a key with a new secret; the old one stops working at once.")
def rotate_key(request: Request, key_id: KeyId) -> s.KeyCreated:
    key, secret = server_state(request).keys.rotate(key_id)
    return s.KeyCreated(key=s.KeyInfo.model_validate(key.to_dict()), api_key=secret)


def metrics_route(render: Callable[[], bytes]) -> APIRouter:
    """GET /metrics (admin): Prometheus text for this process."""
    metrics = APIRouter()

    @endpoint(metrics, "GET", "/metrics", "admin", errors=(401, 403, 429),
              summary="Prometheus metrics (admin).", text=True)
    def get_metrics() -> PlainTextResponse:
        return PlainTextResponse(render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return metrics
