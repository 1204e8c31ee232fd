"""The /api/v1 routes: thin adapters from validated requests to the engine, each with the action it needs.

`endpoint()` is the only way routes are declared here: it attaches the permission dependency,
records the need and reach in the OpenAPI document (`x-permission`, `x-reach`) and documents
the error envelope for every failure status, so the published schema matches what the server
sends. A route without `{project}` in its path acts on the whole server and needs a credential
for every project, unless it declares `own` (it shows only what the caller may see).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Protocol, TypeVar, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import Field

from prism.engine import Prism
from prism.errors import ConfigError, InputError, PathError
from prism.models import SearchFilters
from prism.ops.meter import KEEP_DAYS, count, totals, utc_day
from prism.serve.http import schemas as s
from prism.serve.http.auth import (
    PERMISSION_KEY,
    REACH_KEY,
    Need,
    Principal,
    Reach,
    actor,
    permission,
    require_covers,
    server_state,
)
from prism.serve.http.errors import (
    ConflictError,
    FeatureUnavailableError,
    NotReadyError,
    PayloadTooLargeError,
)
from prism.serve.http.keys import ApiKey
from prism.serve.http.projects import ProjectRecord, normalise_upload_path
from prism.serve.http.scopes import ADMINISTRATION, ROLE_ACTIONS, Scope
from prism.serve.http.state import ServerState

F = TypeVar("F", bound=Callable[..., Any])
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 422, 429, 503)
_LINES_RE = re.compile(r"^(?P<path>.+?):(?P<start>\d{1,9})(?:-(?P<end>\d{1,9}))?$")
MAX_READ_LINES = 5000
MAX_USAGE_ROWS = 1000

try:
    PRISM_VERSION = version("prism-context")
except PackageNotFoundError:  # running from a source tree that was never installed
    PRISM_VERSION = "0.0.0"

router = APIRouter()
api = APIRouter(prefix="/api/v1")


def endpoint(target: APIRouter, method: str, path: str, need: Need, *, status_code: int = 200,
             errors: tuple[int, ...] = ERROR_STATUSES, summary: str | None = None,
             text: bool = False, own: bool = False, hidden: bool = False) -> Callable[[F], F]:
    """Declare a route with its need, enforced and published; its reach follows from the path.

    `own`: a route without `{project}` that any credential may call because it filters its answer.
    `hidden`: left out of the OpenAPI document (a page or a file for browsers, not part of the API).
    """
    reach: Reach = "project" if "{project}" in path else "own" if own else "server"
    responses: dict[int | str, dict[str, Any]] = {code: {"model": s.ErrorResponse} for code in errors}
    extra: dict[str, Any] = {}
    if text:  # the answer is text, its errors are still the JSON envelope (FastAPI would call them text)
        responses = {code: {"description": "Error", "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/ErrorResponse"}}}} for code in errors}
        responses[status_code] = {"content": {"text/plain": {"schema": {"type": "string"}}}}
        extra["response_class"] = PlainTextResponse
    return target.api_route(
        path, methods=[method], status_code=status_code, summary=summary, include_in_schema=not hidden, **extra,
        dependencies=[Depends(permission(need, reach))], openapi_extra={PERMISSION_KEY: need, REACH_KEY: reach},
        responses=responses,
    )


class NotIndexedError(ConflictError):
    code = "not_indexed"


class _Packer(Protocol):
    def context(self, query: str, *, budget_tokens: int, fmt: str, expand: bool, intent: str,
                filters: SearchFilters | None = None) -> Any: ...


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


@endpoint(api, "GET", "/projects", "projects.read", own=True, summary="List the projects this credential can see.")
def list_projects(request: Request) -> s.ProjectList:
    state, principal = server_state(request), _principal(request)
    records = [r for r in state.projects.all() if principal.allows_project(r.name)]
    return s.ProjectList(projects=[_project_out(state, r) for r in records])


@endpoint(api, "POST", "/projects", "projects.manage", status_code=201, summary="Create a project.")
def create_project(request: Request, body: s.ProjectCreate) -> s.Project:
    state = server_state(request)
    record = state.projects.create(body.name, body.path)
    state.audit.record(actor(request), "project.create", record.name, {"kind": record.kind})
    return _project_out(state, record)


@endpoint(api, "GET", "/projects/{project}", "projects.read", summary="One project.")
def get_project(request: Request, project: s.ProjectName) -> s.Project:
    state = server_state(request)
    return _project_out(state, state.projects.get(project))


@endpoint(api, "DELETE", "/projects/{project}", "projects.manage", summary="Delete a project and its index.")
def delete_project(request: Request, project: s.ProjectName) -> s.Deleted:
    state = server_state(request)
    state.projects.delete(project)
    state.audit.record(actor(request), "project.delete", project)
    return s.Deleted(deleted=project)


@endpoint(api, "POST", "/projects/{project}/index", "index.write",
          summary="Upload files (path + content) and/or re-index; per-file failures are reported.")
def index_project(request: Request, project: s.ProjectName, body: s.IndexRequest) -> s.IndexResponse:
    state = server_state(request)
    limit = state.settings.max_files_per_request
    if len(body.files) + len(body.delete) > limit:
        raise too_many_files(limit)
    outcomes, report = state.projects.index_request(project, [(f.path, f.content) for f in body.files],
                                                    body.delete, force=body.force, embed=body.embed)
    files = [s.FileResult(path=o.path, status=o.status, reason=o.reason) for o in outcomes]
    count("embeddings", report.embedded)
    return s.IndexResponse(project=project, files=files, failed=sum(o.status == "failed" for o in outcomes),
                           report=report.to_dict())


def too_many_files(limit: int) -> Exception:
    return PayloadTooLargeError(f"More than {limit} files in one request.",
                                hint="Split the upload into batches.", value=limit)


@endpoint(api, "GET", "/projects/{project}/stats", "projects.read", summary="What the index holds.")
def project_stats(request: Request, project: s.ProjectName) -> s.Stats:
    engine = _indexed_engine(server_state(request), project)
    stats = engine.store.stats()
    return s.Stats(project=project, stats=dict(stats))


# -- search, context, code -----------------------------------------------------------------


@endpoint(api, "POST", "/projects/{project}/search", "search", summary="Hybrid search over a project.")
def search(request: Request, project: s.ProjectName, body: s.SearchRequest) -> s.SearchResponse:
    engine = _indexed_engine(server_state(request), project)
    f = body.filters
    filters = SearchFilters(languages=tuple(f.languages), path=f.path, kinds=tuple(f.kinds),
                            since=f.since, min_score=f.min_score, scope=f.scope)
    result = engine.search(body.query, limit=body.limit, files=body.files, filters=filters)
    data = result.to_dict(explain=body.explain)
    return s.SearchResponse.model_validate(data)


@endpoint(api, "POST", "/projects/{project}/context", "context",
          summary="Pack the code a task needs into an exact token budget.")
def context(request: Request, project: s.ProjectName, body: s.ContextRequest) -> s.ContextResponse:
    engine = _indexed_engine(server_state(request), project)
    if not hasattr(engine, "context"):
        raise FeatureUnavailableError("Context packing is not available in this build.",
                                      hint="Use /search until the token optimizer ships.")
    pack = cast(_Packer, engine).context(body.query, budget_tokens=body.budget_tokens, fmt=body.format,
                                         expand=body.expand, intent=body.intent,
                                         filters=SearchFilters(scope=body.scope) if body.scope != "all" else None)
    return _pack_out(pack)


def _pack_out(pack: Any) -> s.ContextResponse:
    return s.ContextResponse(
        query=pack.query, budget=pack.budget, tokens=pack.tokens, tokenizer=pack.tokenizer,
        intent=pack.intent, format=pack.format, text=pack.text,
        chunks=[s.PackedChunk.model_validate(c.to_dict()) for c in pack.chunks],
        omitted=[s.OmittedChunk.model_validate(o.to_dict()) for o in pack.omitted],
        omitted_total=pack.omitted_total)


@endpoint(api, "POST", "/projects/{project}/ask", "ask", errors=(*ERROR_STATUSES, 502),
          summary="Answer a question from the packed context with a model (not streamed); citations checked.")
def ask(request: Request, project: s.ProjectName, body: s.AskRequest) -> s.AskResponse:
    from prism.llm.ask import ask as ask_model
    from prism.llm.settings import load_llm_settings

    engine = _indexed_engine(server_state(request), project)
    try:
        settings = load_llm_settings()
        answer = ask_model(engine, body.question, settings=settings, budget_tokens=body.budget_tokens,
                           model=body.model, intent=body.intent)
    except ConfigError as exc:  # the server's model settings, not the caller's request: 503, not 500
        raise FeatureUnavailableError(exc.message, hint=exc.hint) from exc
    count("llm_prompt_tokens", answer.prompt_tokens)
    count("llm_completion_tokens", answer.completion_tokens)
    return s.AskResponse.model_validate(answer.to_dict())


@endpoint(api, "GET", "/projects/{project}/code", "code.read",
          summary="Read code by handle (from a context response), `path:start-end` or symbol name.")
def read_code(request: Request, project: s.ProjectName,
              ref: str = Query(min_length=1, max_length=1100,
                               description="A handle, `path:10-20` or a symbol name.")
              ) -> s.CodeResponse:
    engine = _indexed_engine(server_state(request), project)
    match = _LINES_RE.match(ref)
    if match is not None:
        normalise_upload_path(match.group("path"))  # the upload rules name a bad path precisely
        start, end = int(match.group("start")), int(match.group("end") or match.group("start"))
        if start < 1 or end < start or end - start >= MAX_READ_LINES:
            raise PathError(f"Line range {start}-{end} is not valid.",
                            hint=f"Use 1-based start ≤ end, at most {MAX_READ_LINES} lines.", value=ref)
    # One reader for every adapter: it serves only files the index would admit.
    pieces = [s.CodePiece.model_validate(shown.to_dict()) for shown in engine.show(ref)]
    return s.CodeResponse(project=project, ref=ref, pieces=pieces)


# -- usage, keys, tokens, audit -------------------------------------------------------------


@endpoint(api, "GET", "/usage", "authenticated", own=True,
          summary="Metered use per credential, day, project and route: the caller's own, or everyone's "
                  "with `usage.read` on every project.")
def usage(request: Request, days: int = Query(31, ge=1, le=KEEP_DAYS, description="How many UTC days back.")
          ) -> s.UsageResponse:
    state, principal = server_state(request), _principal(request)
    everyone = "usage.read" in principal.actions and principal.scope.unscoped
    since = utc_day(time.time() - (days - 1) * 86400)
    grouped = totals(state.meter.rows(since, None if everyone else principal.usage_id),
                     ("day", "key", "project", "route"))
    rows = [s.UsageRow(principal=key, day=day, project=project, route=route, requests=counts.pop("requests", 0),
                       work=dict(sorted(counts.items())))
            for (day, key, project, route), counts in grouped.items()]
    rows.sort(key=lambda r: (-int(r.day.replace("-", "")), r.principal, r.project, r.route))
    return s.UsageResponse(usage=rows[:MAX_USAGE_ROWS])


@endpoint(api, "GET", "/usage/quotas", "usage.read",
          summary="Today's use of every configured quota (resource, per, subject, limit, target, alert).")
def usage_quotas(request: Request) -> s.QuotaResponse:
    state = server_state(request)
    return s.QuotaResponse(day=utc_day(), quotas=[s.QuotaRow.model_validate(r) for r in state.quotas.table()])


def _key_out(key: ApiKey) -> s.KeyInfo:
    return s.KeyInfo.model_validate(key.to_dict())


def _days_from_now(days: float | None) -> float | None:
    return None if days is None else time.time() + days * 86400


@endpoint(api, "GET", "/keys", "keys.manage", summary="List API keys (never their secrets).")
def list_keys(request: Request, include_revoked: bool = False) -> s.KeyList:
    keys = server_state(request).keys.all(include_revoked=include_revoked)
    return s.KeyList(keys=[_key_out(k) for k in keys])


@endpoint(api, "POST", "/keys", "keys.manage", status_code=201,
          summary="Create an API key (shown once), within the caller's own actions, projects and expiry.")
def create_key(request: Request, body: s.KeyCreate) -> s.KeyCreated:
    if {"role", "actions"} <= body.model_fields_set:  # even as null: the schema forbids both
        raise InputError("Give a key a `role` or `actions`, not both.",
                         hint="A role is a preset of actions (README, \"As a team server\").")
    actions = frozenset(body.actions) if body.actions else ROLE_ACTIONS[body.role or "reader"]
    expires = _days_from_now(body.expires_days)
    require_covers(_principal(request), Scope(actions, tuple(body.projects), expires), "create")
    state = server_state(request)
    key, secret = state.keys.create(body.name, None, tuple(body.projects), expires, actions=actions,
                                    description=body.description)
    state.audit.record(actor(request), "key.create", key.key_id, key.audit_details())
    return s.KeyCreated(key=_key_out(key), api_key=secret)


KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]


def _managed_key(request: Request, key_id: str, doing: str) -> ApiKey:
    """The key, if the caller covers it (a lesser credential may not touch a greater one)."""
    key = server_state(request).keys.get(key_id)
    require_covers(_principal(request), key.scope, doing)
    return key


@endpoint(api, "PATCH", "/keys/{key_id}", "keys.manage",
          summary="Change a key's name, description or expiry; its secret stays.")
def edit_key(request: Request, key_id: KeyId, body: s.KeyEdit) -> s.KeyInfo:
    old = _managed_key(request, key_id, "edit")
    set_expiry = "expires_days" in body.model_fields_set
    expires = _days_from_now(body.expires_days) if set_expiry else old.expires_at
    require_covers(_principal(request), Scope(old.actions, old.projects, expires), "give that expiry to")
    state = server_state(request)
    key = state.keys.edit(key_id, name=body.name, description=body.description, expires_at=expires,
                          set_expiry=set_expiry)
    changed = sorted(body.model_fields_set)
    state.audit.record(actor(request), "key.edit", key_id, {"changed": changed, "expires_at": key.expires_at})
    return _key_out(key)


@endpoint(api, "DELETE", "/keys/{key_id}", "keys.manage", summary="Revoke a key; effective at once.")
def revoke_key(request: Request, key_id: KeyId) -> s.KeyInfo:
    _managed_key(request, key_id, "revoke")
    state = server_state(request)
    key = state.keys.revoke(key_id)
    state.audit.record(actor(request), "key.revoke", key_id)
    return _key_out(key)


@endpoint(api, "POST", "/keys/{key_id}/rotate", "keys.manage",
          summary="Replace a key with a new secret; the old one stops working at once.")
def rotate_key(request: Request, key_id: KeyId) -> s.KeyCreated:
    _managed_key(request, key_id, "rotate")
    state = server_state(request)
    key, secret = state.keys.rotate(key_id)
    state.audit.record(actor(request), "key.rotate", key_id, {"replaced_by": key.key_id})
    return s.KeyCreated(key=_key_out(key), api_key=secret)


@endpoint(api, "POST", "/tokens/revoke", "keys.manage",
          summary="Refuse every JWT with this `jti` from the next request (needs every administrative action).")
def revoke_token(request: Request, body: s.TokenRevoke) -> s.TokenRevoked:
    # A token's rights are not known from its id: only a full admin (every right on every project,
    # spending rights such as `ask` aside, as for the last-admin rule) may revoke one, or a lesser
    # credential could lock out a greater token. Its expiry does not matter.
    principal = _principal(request)
    require_covers(principal, Scope(ADMINISTRATION, ("*",), principal.expires_at), "revoke",
                   "a token (its rights are unknown)")
    state = server_state(request)
    forget_after = time.time() + state.settings.jwt_max_ttl_s + state.settings.jwt_leeway_s
    state.keys.revoke_token(body.jti, forget_after)
    state.audit.record(actor(request), "token.revoke", body.jti)
    return s.TokenRevoked(jti=body.jti, forget_after=forget_after)


@endpoint(api, "GET", "/audit", "audit.read", summary="The audit log, newest first.")
def audit(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
          before: Annotated[int | None, Query(ge=1, description="Page back: events before this id.")] = None
          ) -> s.AuditList:
    events = server_state(request).audit.read(limit, before)
    return s.AuditList(events=[s.AuditEvent.model_validate(e) for e in events])


def metrics_route(render: Callable[[], bytes]) -> APIRouter:
    """GET /metrics (`metrics.read`, every project): Prometheus text for this process."""
    metrics = APIRouter()

    @endpoint(metrics, "GET", "/metrics", "metrics.read", errors=(401, 403, 429),
              summary="Prometheus metrics (`metrics.read`).", text=True)
    def get_metrics() -> PlainTextResponse:
        return PlainTextResponse(render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return metrics
