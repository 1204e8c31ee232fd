"""ServerSettings: the team server's configuration, from PRISM_* or the original's names, or a secrets file.

Secrets (`API_SECRET`, `JWT_SECRET`) are `SecretStr`: they print as `**********` and are only
unwrapped where they are used. `validate_for_start` is the gate `prism serve` passes before it
binds a port: in production it refuses to start without API_SECRET, JWT_SECRET and
CORS_ORIGINS, with a weak or shared secret, or with anonymous access on. A setting given under
both of its names (`PRISM_ENVIRONMENT` and `ENVIRONMENT`) with different values is refused
rather than resolved silently.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from prism.cache import CacheBackend
from prism.config import split_commas
from prism.errors import ConfigError

Role = Literal["reader", "writer", "admin"]
ROLES: tuple[Role, ...] = ("reader", "writer", "admin")
LimiterBackend = Literal["memory", "sqlite", "redis"]
RateBackend = Literal["auto", LimiterBackend]
CacheChoice = Literal["auto", "memory", "redis"]
MIN_SECRET_CHARS = 32
MIN_SECRET_DISTINCT = 8  # "changeme" repeated has 7; random hex of 32 characters has ~14
MAX_SECRET_CHAR_SHARE = 1 / 3  # no one character may make up more than a third of a secret
SECRET_HINT = "Generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`."


def _env(name: str) -> AliasChoices:
    """Accept PRISM_<NAME> and the original PRISM's bare <NAME>."""
    return AliasChoices(f"PRISM_{name}", name)


class ServerSettings(BaseSettings):
    """Everything `prism serve` reads; the field descriptions are the settings reference."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    environment: Literal["development", "production"] = Field(
        "development", validation_alias=_env("ENVIRONMENT"),
        description="production refuses to start without API_SECRET, JWT_SECRET and CORS_ORIGINS, with a "
                    "weak secret or the same value for both, and never allows anonymous access.",
    )
    api_secret: SecretStr | None = Field(
        None, validation_alias=_env("API_SECRET"),
        description="Server secret: keys the API-key hashes and at-rest encryption. At least 32 characters, "
                    "8 different ones, none over a third of it (shorter is refused; weaker only in production).",
    )
    jwt_secret: SecretStr | None = Field(
        None, validation_alias=_env("JWT_SECRET"),
        description="HS256 secret for JWT bearer tokens (same rule as API_SECRET, and a different value); "
                    "unset disables JWT auth (required in production).",
    )
    jwt_audience: str = Field("prism", validation_alias=_env("JWT_AUDIENCE"),
                              description="Audience (`aud`) a JWT must carry.")
    jwt_issuer: str | None = Field(None, validation_alias=_env("JWT_ISSUER"),
                                   description="Issuer (`iss`) a JWT must carry, if set.")
    jwt_leeway_s: int = Field(10, ge=0, le=300, validation_alias=_env("JWT_LEEWAY_S"),
                              description="Clock skew allowed on exp/nbf/iat, in seconds.")
    jwt_max_ttl_s: int = Field(86400, ge=60, le=366 * 86400, validation_alias=_env("JWT_MAX_TTL_S"),
                               description="Longest a JWT may still live: a token whose `exp` is further "
                                           "away is refused (and a revoked `jti` is kept this long).")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("CORS_ORIGINS"),
        description="Origins allowed by CORS (comma-separated); empty allows none. Required in production, "
                    "and never `*` there.",
    )
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"),
                           description="Log level: DEBUG, INFO, WARNING, ERROR.")
    default_model: str | None = Field(None, validation_alias=_env("DEFAULT_MODEL"),
                                      description="Default LLM model (accepted for compatibility).")
    embedding_model: str | None = Field(
        None, validation_alias=_env("EMBEDDING_MODEL"),
        description="Embedding model for server projects (default: PRISM_EMBEDDER).",
    )
    allow_anonymous: bool = Field(
        False, validation_alias=_env("ALLOW_ANONYMOUS"),
        description="Development only: requests without credentials act as `anonymous_role`.",
    )
    anonymous_role: Role = Field("reader", validation_alias=_env("ANONYMOUS_ROLE"),
                                 description="Role of anonymous requests when allowed.")
    allowed_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, validation_alias=_env("ALLOWED_ROOTS"),
        description="Server-side folders that projects may index by path (comma-separated); "
                    "empty: uploads only.",
    )
    max_request_bytes: int = Field(16 * 1024 * 1024, ge=1024, validation_alias=_env("MAX_REQUEST_BYTES"),
                                   description="Largest request body; larger → 413 before parsing.")
    max_upload_file_bytes: int = Field(1024 * 1024, ge=1, validation_alias=_env("MAX_UPLOAD_FILE_BYTES"),
                                       description="Largest uploaded file; larger files fail alone.")
    max_project_bytes: int = Field(1024 * 1024 * 1024, ge=1, validation_alias=_env("MAX_PROJECT_BYTES"),
                                   description="Quota: most bytes of uploaded files one project may hold; an "
                                               "upload past it is refused whole (413 quota_exceeded).")
    max_project_files: int = Field(50_000, ge=1, validation_alias=_env("MAX_PROJECT_FILES"),
                                   description="Quota: most uploaded files one project may hold (413 "
                                               "quota_exceeded past it).")
    max_files_per_request: int = Field(1000, ge=1, le=100_000, validation_alias=_env("MAX_FILES_PER_REQUEST"),
                                       description="Most files in one index request.")
    rate_reader: str = Field("600/60", validation_alias=_env("RATE_READER"),
                             description="Token bucket for reader keys: `burst/seconds` refill.")
    rate_writer: str = Field("1200/60", validation_alias=_env("RATE_WRITER"),
                             description="Token bucket for writer keys: `burst/seconds`.")
    rate_admin: str = Field("3000/60", validation_alias=_env("RATE_ADMIN"),
                            description="Token bucket for admin keys: `burst/seconds`.")
    rate_address: str = Field("6000/60", validation_alias=_env("RATE_ADDRESS"),
                              description="Token bucket per client address, before authentication.")
    rate_backend: RateBackend = Field(
        "auto", validation_alias=AliasChoices("PRISM_RATE_BACKEND"),
        description="Where rate buckets live: `memory` (this process), `sqlite` (PRISM_HOME/server/"
                    "ratelimit.db, shared by every worker on the host), `redis` (PRISM_REDIS_URL, shared "
                    "by every replica) or `auto` (redis when PRISM_REDIS_URL is set, else sqlite when "
                    "workers > 1, else memory).",
    )
    redis_url: SecretStr | None = Field(
        None, validation_alias=AliasChoices("PRISM_REDIS_URL"),
        description="Redis for scale-out (`redis://[:password@]host:6379/0`, `rediss://` for TLS): "
                    "rate limits, the result and query-embedding cache shared by every replica, and the "
                    "indexing job queue `prism worker` serves. Unset: everything stays in this host's PRISM_HOME.",
    )
    cache_backend: CacheChoice = Field(
        "auto", validation_alias=AliasChoices("PRISM_CACHE_BACKEND"),
        description="Where finished results and query vectors are cached: `memory` (this process), `redis` "
                    "(PRISM_REDIS_URL, shared by every replica; values signed with API_SECRET) or `auto` "
                    "(redis when PRISM_REDIS_URL is set, else memory).",
    )
    workers: int = Field(
        1, ge=1, le=64, validation_alias=AliasChoices("PRISM_WORKERS"),
        description="Worker processes serving this PRISM_HOME; `prism serve --workers` sets it. Set it "
                    "(or PRISM_RATE_BACKEND=sqlite) when another process manager runs several workers.",
    )
    request_threads: int = Field(
        8, ge=1, le=256, validation_alias=AliasChoices("PRISM_REQUEST_THREADS"),
        description="Requests a worker runs at once; more wait their turn. Search and packing hold "
                    "Python's GIL, so a few threads per worker answer a queue sooner than dozens "
                    "taking turns; the searches running at once share one model call and one pass "
                    "over the vectors (8 threads: 26 % less CPU per request than 4).",
    )
    quotas: str | None = Field(
        None, validation_alias=AliasChoices("PRISM_QUOTAS"),
        description="Daily quotas, a JSON list of `{\"resource\", \"per\", \"limit\", \"target\", \"alert\"}`: "
                    "resource is requests, searches, context_packs, embeddings, tokens_served or index_writes; "
                    "per is key, project or server; alert is a count or `\"80%\"` of the limit (the default). "
                    "Past the limit → 429 quota_exceeded until 00:00 UTC. Unset: unlimited.",
    )
    alert_webhook: SecretStr | None = Field(
        None, validation_alias=AliasChoices("PRISM_ALERT_WEBHOOK"),
        description="URL that gets a JSON POST when a quota crosses its alert threshold or limit "
                    "(once per quota, subject and day; retried with backoff, never blocking a request).",
    )
    secrets_file: Path | None = Field(
        None, validation_alias=_env("SECRETS_FILE"),
        description="A file of NAME=value lines (e.g. a mounted secret); fills unset secrets.",
    )

    @field_validator("cors_origins", "allowed_roots", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("rate_backend", "cache_backend", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("redis_url", "alert_webhook", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def cache(self) -> CacheBackend:
        """`cache_backend` with `auto` resolved: replicas share Redis when there is one."""
        if self.cache_backend == "auto":
            return "redis" if self.redis_url is not None else "memory"
        return self.cache_backend

    def rate_for(self, role: Role) -> str:
        return {"reader": self.rate_reader, "writer": self.rate_writer, "admin": self.rate_admin}[role]

    @property
    def limiter_backend(self) -> LimiterBackend:
        """`rate_backend` with `auto` resolved: replicas share Redis, workers SQLite, one process keeps memory."""
        if self.rate_backend == "auto":
            if self.redis_url is not None:
                return "redis"
            return "sqlite" if self.workers > 1 else "memory"
        return self.rate_backend


def read_secrets_file(path: Path) -> dict[str, str]:
    """NAME=value lines (comments and blanks ignored); values are never echoed in errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the secrets file {path}.",
                          hint="Check PRISM_SECRETS_FILE and the file's permissions.", value=path) from exc
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"Line {number} of the secrets file {path} is not NAME=value.",
                              hint="Write one NAME=value per line.", value=path)
        found[name.strip()] = value.strip().strip('"').strip("'")
    return found


def load_server_settings(**overrides: object) -> ServerSettings:
    """Settings from the environment, with unset values filled from the secrets file if any.

    An invalid value is a ConfigError naming the setting (never echoing the value: it may be a secret),
    and so is a setting given under both its names with different values (`PRISM_ENVIRONMENT=development`
    must not quietly override `ENVIRONMENT=production`).
    """
    conflicts = conflicting_names()
    if conflicts:
        raise ConfigError(f"Conflicting settings: {'; '.join(conflicts)} are both set, to different values.",
                          hint="Set each setting under one name only (unset the other), so that it is clear "
                               "which value the server uses.")
    try:
        settings = ServerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        raise ConfigError(f"Invalid server setting: {problems}.",
                          hint="Fix that environment variable; docs/settings.md lists each setting's values.") from exc
    if settings.secrets_file is None:
        return settings
    values = read_secrets_file(settings.secrets_file)
    merged: dict[str, object] = {}
    for field_name in ("api_secret", "jwt_secret"):
        if getattr(settings, field_name) is not None:
            continue
        upper = field_name.upper()
        for key in (f"PRISM_{upper}", upper):
            if key in values:
                merged[field_name] = values[key]
                break
    return settings.model_copy(update={k: SecretStr(str(v)) for k, v in merged.items()}) if merged else settings


def secret_weakness(value: str) -> str | None:
    """Why a secret is too weak, or None. The rule: at least MIN_SECRET_CHARS (32) characters, at
    least MIN_SECRET_DISTINCT (8) different ones, and no character over a third of it."""
    if len(value) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    counts = Counter(value)
    if len(counts) < MIN_SECRET_DISTINCT:
        return f"has fewer than {MIN_SECRET_DISTINCT} different characters"
    if max(counts.values()) > MAX_SECRET_CHAR_SHARE * len(value):
        return f"repeats one character in more than {MAX_SECRET_CHAR_SHARE:.0%} of its length"
    return None


def conflicting_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Settings given under both names (PRISM_X and X) with different values; never the values."""
    environ = os.environ if environ is None else environ
    found = []
    for field in ServerSettings.model_fields.values():
        alias = field.validation_alias
        names = [n for n in alias.choices if isinstance(n, str)] if isinstance(alias, AliasChoices) else []
        values = {environ[n].strip() for n in names if n in environ}
        if len(names) == 2 and all(n in environ for n in names) and len(values) > 1:
            found.append(" and ".join(names))
    return found


def validate_for_start(settings: ServerSettings) -> list[str]:
    """Refuse unsafe configurations (raises ConfigError); returns warnings for development."""
    warnings: list[str] = []
    production = settings.environment == "production"
    secrets = {name: value.get_secret_value() for name in ("api_secret", "jwt_secret")
               if (value := getattr(settings, name)) is not None}
    for name, value in secrets.items():
        weakness = secret_weakness(value)
        if weakness is not None and (production or len(value) < MIN_SECRET_CHARS):
            raise ConfigError(f"{name.upper()} {weakness}.", hint=SECRET_HINT)
        if weakness is not None:
            warnings.append(f"{name.upper()} {weakness}; production refuses it.")
    if production:
        if settings.allow_anonymous:
            raise ConfigError("Anonymous access cannot be enabled in production.",
                              hint="Unset PRISM_ALLOW_ANONYMOUS and give each client an API key.")
        for name in ("api_secret", "jwt_secret"):
            if name not in secrets:
                raise ConfigError(f"ENVIRONMENT=production but {name.upper()} is not set.",
                                  hint=f"Set {name.upper()} (or PRISM_{name.upper()}, or put it in "
                                       f"PRISM_SECRETS_FILE). {SECRET_HINT}")
        if secrets["api_secret"] == secrets["jwt_secret"]:
            raise ConfigError("API_SECRET and JWT_SECRET are the same value.",
                              hint="Use two independent secrets: whoever issues JWTs must not be able to "
                                   "forge API-key hashes or decrypt stored secrets.")
        if not settings.cors_origins:
            raise ConfigError("ENVIRONMENT=production but CORS_ORIGINS is not set.",
                              hint="List the exact origins that may call the API from a browser, comma-separated "
                                   "(e.g. https://prism.example.com).")
        if "*" in settings.cors_origins:
            raise ConfigError("CORS_ORIGINS='*' is refused in production.",
                              hint="List the exact origins that may call the API.")
    else:
        if settings.api_secret is None:
            warnings.append("API_SECRET is not set: using a generated development secret under PRISM_HOME.")
        if settings.allow_anonymous:
            warnings.append(f"Anonymous access is on (role {settings.anonymous_role}); development only.")
    if settings.workers > 1 and settings.limiter_backend == "memory":
        warnings.append(f"PRISM_RATE_BACKEND=memory with {settings.workers} workers: each worker has its own "
                        "buckets, so a key may get that many times its rate (use sqlite or auto).")
    return warnings
