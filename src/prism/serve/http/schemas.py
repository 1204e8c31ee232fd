"""Request and response models of the HTTP API, with their documented limits (pydantic, edge only).

Limits: query ≤ 2,000 characters; result limit 1–100; budget 64–200,000 tokens; files per
index request ≤ PRISM_MAX_FILES_PER_REQUEST (1,000); bytes per file ≤ PRISM_MAX_UPLOAD_FILE_BYTES
(1 MiB, over → that file fails alone); bytes per request ≤ PRISM_MAX_REQUEST_BYTES (16 MiB,
over → 413 before parsing). Language names and glob filters are checked here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from prism.ingest.languages import LANGUAGES
from prism.llm.providers import PROVIDERS
from prism.models import CHUNK_KINDS, ChunkKind
from prism.serve.http.projects import Phase
from prism.serve.http.scopes import Action
from prism.serve.http.settings import Role

MAX_QUERY_CHARS = 2000
MAX_GLOB_CHARS = 256
MAX_FILES = 100_000  # schema ceiling; the configured limit is checked by the route
_GLOB_CHARS = r"[A-Za-z0-9_./*?\[\]{}!,+@=~ -]"
_GLOB_RE = re.compile(f"{_GLOB_CHARS}+")
# The same rule for clients and fuzzers: relative (no leading '/'), no '..' segment, those characters.
GLOB_PATTERN = rf"^(?!/)(?!(.*/)?\.\.(/|$)){_GLOB_CHARS}+$"
MIN_EXPIRES_DAYS = 1 / 1440  # one minute: a shorter expiry would already be past when it is stored

ProjectName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
                                   description="Lowercase letters, digits, '-' and '_' (1–63).")]


class Strict(BaseModel):
    """A request body: unknown fields are refused and JSON types are not coerced (`0` is not `false`,
    `"5"` is not `5`), so the server accepts exactly what the published schema allows."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _whole_number(value: object) -> object:
    """JSON Schema's `integer` includes `65.0`; strict pydantic would refuse it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WHOLE = BeforeValidator(_whole_number)  # after the Field: constraints before it stay `minimum`/`maximum`


# -- errors --------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, object] = Field(default_factory=dict)
    request_id: str | None = None


class ErrorResponse(BaseModel):
    """The one shape of every failure."""

    error: ErrorBody


# -- health --------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Ready(BaseModel):
    ready: bool
    checks: dict[str, str]


# -- projects ------------------------------------------------------------------------------


class ProjectCreate(Strict):
    name: ProjectName
    path: Annotated[str | None, Field(min_length=1, max_length=4096, pattern=r"^/[^\x00]*$", description=(
        "Absolute server-side folder to index; only under PRISM_ALLOWED_ROOTS. Omit to upload files."))] = None


class Project(BaseModel):
    name: str
    kind: Literal["upload", "path"]
    created_at: float
    indexed: bool = Field(description="An index request ran to its end (searches answer).")
    state: Phase = Field(description=(
        "The last index request: `new` (none yet), `uploading`, `indexing`, `ready`, `failed`, or "
        "`upload_interrupted` / `indexing_interrupted` (the server stopped during it; an interrupted "
        "indexing is finished at the next start, an interrupted upload must be sent again)."))


class ProjectList(BaseModel):
    projects: list[Project]


class Deleted(BaseModel):
    deleted: str


# -- index ---------------------------------------------------------------------------------


class UploadFile(Strict):
    path: Annotated[str, Field(min_length=1, max_length=1024, description="Relative '/'-path.")]
    content: Annotated[str, Field(description="UTF-8 text; larger than the file limit → that file fails.")]


class IndexRequest(Strict):
    files: Annotated[list[UploadFile], Field(max_length=MAX_FILES)] = Field(default_factory=list)
    delete: Annotated[list[Annotated[str, Field(min_length=1, max_length=1024)]],
                      Field(max_length=MAX_FILES)] = Field(default_factory=list)
    force: bool = False
    embed: bool | None = Field(None, description="Compute vectors (default: the server setting).")


class FileResult(BaseModel):
    path: str
    status: Literal["written", "unchanged", "deleted", "failed"]
    reason: str = ""


class IndexResponse(BaseModel):
    project: str
    files: list[FileResult]
    failed: int
    report: dict[str, object]


# -- search --------------------------------------------------------------------------------


Scope = Annotated[Literal["all", "code", "tests", "docs"], Field(
    description="Only chunks in code, tests or docs (prose, changelogs, translations); all by default.")]


class Filters(Strict):
    languages: Annotated[list[str], Field(max_length=32, json_schema_extra={
        "items": {"type": "string", "enum": sorted(LANGUAGES)}})] = Field(default_factory=list)
    path: Annotated[str | None, Field(min_length=1, max_length=MAX_GLOB_CHARS,
                                      json_schema_extra={"pattern": GLOB_PATTERN},
                                      description="Path prefix or glob, e.g. src/**/*.py.")] = None
    kinds: Annotated[list[ChunkKind], Field(max_length=len(CHUNK_KINDS))] = Field(default_factory=list)
    since: Annotated[float | None, Field(ge=0, le=1e11)] = None
    min_score: Annotated[float | None, Field(ge=0, le=1e6)] = None
    scope: Scope = "all"

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in LANGUAGES]
        if unknown:
            raise ValueError(f"unknown language(s) {unknown[:5]}; known: {', '.join(sorted(LANGUAGES))}")
        return value

    @field_validator("path")
    @classmethod
    def _safe_glob(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _GLOB_RE.fullmatch(value) or ".." in value.split("/") or value.startswith("/"):
            raise ValueError("a relative path prefix or glob of letters, digits, / . _ - * ? [ ] { } ,")
        return value


Query = Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S")]


class SearchRequest(Strict):
    query: Query
    limit: Annotated[int, Field(ge=1, le=100), WHOLE] = 10
    files: bool = Field(False, description="One result per file instead of per chunk.")
    filters: Filters = Field(default_factory=Filters)
    explain: bool = False


class SearchHit(BaseModel):
    path: str
    start_line: int
    end_line: int
    symbol: str
    kind: str
    language: str
    score: float
    stale: bool
    snippet: str
    explain: dict[str, float] | None = None


class SearchResponse(BaseModel):
    query: str
    level: Literal["chunk", "file"]
    results: list[SearchHit]
    warnings: list[str] = Field(default_factory=list)


# -- context -------------------------------------------------------------------------------


class ContextRequest(Strict):
    query: Query
    budget_tokens: Annotated[int, Field(ge=64, le=200_000), WHOLE] = 8000
    format: Literal["markdown", "xml", "json"] = "markdown"
    expand: bool = Field(False, description="Also pull in what the chosen code calls or imports.")
    intent: Literal["auto", "bugfix", "feature", "explain", "refactor", "test", "search"] = "auto"
    scope: Scope = "all"


class PackedChunk(BaseModel):
    path: str
    start_line: int
    end_line: int
    symbol: str
    level: str
    tokens: int
    handle: str
    content: str


class OmittedChunk(BaseModel):
    path: str
    start_line: int
    end_line: int
    symbol: str
    handle: str
    tokens: int


class ContextResponse(BaseModel):
    query: str
    budget: int
    tokens: int
    tokenizer: str
    intent: str
    format: str
    text: str
    chunks: list[PackedChunk]
    omitted: list[OmittedChunk]
    omitted_total: int


# A caller's unknown provider is a 422, not the server's configuration error
MODEL_PATTERN = rf"^(auto|({'|'.join((*PROVIDERS, 'cloudflare'))}):\S.*)$"


class AskRequest(Strict):
    question: Query
    budget_tokens: Annotated[int, Field(ge=64, le=200_000), WHOLE] = 8000
    model: Annotated[str | None, Field(max_length=200, pattern=MODEL_PATTERN,
                                       description="provider:model or auto (default: DEFAULT_MODEL).")] = None
    intent: Literal["auto", "bugfix", "feature", "explain", "refactor", "test", "search"] = "auto"


class AskUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    estimated: bool


class AskCitation(BaseModel):
    path: str
    start_line: int
    end_line: int
    in_pack: bool


class AskRouting(BaseModel):
    named: bool
    tier_needed: int
    need_tokens: int
    fallback: bool
    reasons: list[str]


class AskResponse(BaseModel):
    """The same fields as `prism ask --json`."""

    question: str
    model: str
    answer: str
    intent: str
    usage: AskUsage
    cost_usd: float | None
    pack_tokens: int
    whole_files_tokens: int
    tokens_saved: int
    citations: list[AskCitation]
    unsupported_citations: list[str]
    routing: AskRouting


class CodePiece(BaseModel):
    path: str
    start_line: int
    end_line: int
    symbol: str
    handle: str  # "" for a line range
    content: str


class CodeResponse(BaseModel):
    """What `ref` names: one piece for a handle or range, one per definition for a symbol."""

    project: str
    ref: str
    pieces: list[CodePiece]


# -- stats, usage, keys --------------------------------------------------------------------


class Stats(BaseModel):
    project: str
    stats: dict[str, object]


class UsageRow(BaseModel):
    principal: str
    day: str
    project: str = Field(description="The project the requests named, or `-`.")
    route: str
    requests: int
    work: dict[str, int] = Field(default_factory=dict,
                                 description="Other metered work: searches, tokens_served, cache_hits, …")


class QuotaRow(BaseModel):
    resource: str
    per: str
    subject: str = Field(description="The key (`key:<id>`), the project, or `*` for the whole server.")
    day: str
    used: int
    limit: int
    target: int | None
    alert: int
    percent: float


class QuotaResponse(BaseModel):
    day: str
    quotas: list[QuotaRow]


class UsageResponse(BaseModel):
    usage: list[UsageRow]


ExpiresDays = Annotated[float, Field(ge=MIN_EXPIRES_DAYS, le=3650,
                                      description="Days from now until the key expires (at least one minute).")]


class KeyCreate(Strict):
    # The schema says what the route enforces: `role` and `actions` are never given together.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"not": {"required": ["role", "actions"]}})

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]
    description: Annotated[str, Field(max_length=500)] = ""
    role: Annotated[Role | None, Field(description="A preset of actions (default reader); "
                                                   "give `role` or `actions`, not both.")] = None
    actions: Annotated[list[Action] | None, Field(min_length=1, max_length=20)] = None
    projects: Annotated[list[Annotated[str, Field(pattern=r"^(\*|[a-z0-9][a-z0-9_-]{0,62})$")]],
                        Field(min_length=1, max_length=1000)] = Field(default_factory=lambda: ["*"])
    expires_days: ExpiresDays | None = None


class KeyEdit(Strict):
    """Fields to change; a field left out stays. `expires_days: null` makes the key never expire."""

    name: Annotated[str | None, Field(min_length=1, max_length=100, pattern=r"\S")] = None
    description: Annotated[str | None, Field(max_length=500)] = None
    expires_days: ExpiresDays | None = None


class KeyInfo(BaseModel):
    key_id: str
    name: str
    description: str
    role: Role
    actions: list[str]
    projects: list[str]
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked_at: float | None


class KeyCreated(BaseModel):
    key: KeyInfo
    api_key: str = Field(description="The secret, shown once: store it now.")


class KeyList(BaseModel):
    keys: list[KeyInfo]


class TokenRevoke(Strict):
    jti: Annotated[str, Field(min_length=1, max_length=200, description="The `jti` claim of the JWT.")]


class TokenRevoked(BaseModel):
    jti: str
    forget_after: float = Field(description="When the entry is dropped: every such token has expired by then.")


# -- audit ---------------------------------------------------------------------------------


class AuditEvent(BaseModel):
    id: int
    at: float
    time: str = Field(description="UTC, ISO 8601.")
    principal: str
    event: str
    target: str
    request_id: str | None
    address: str | None
    details: dict[str, object]


class AuditList(BaseModel):
    events: list[AuditEvent]
