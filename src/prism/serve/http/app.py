"""create_app: build the PRISM team server (FastAPI) from settings; `run` serves it with uvicorn.

Layers, outermost first: EdgeMiddleware (request id, size limit, security headers, access
log, metrics) → CORS → FastAPI routes, each guarded by its declared permission.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from prism.cache import RedisCache, cache_secret, make_cache
from prism.config import Settings
from prism.errors import PrismError
from prism.ops.alerts import AlertSender
from prism.ops.meter import RequestRecord, open_meter
from prism.ops.metrics import IndexInfo, ServerMetrics, StateCollector, prepare_multiprocess_dir
from prism.ops.quotas import QuotaBook, parse_quotas
from prism.serve.home import PRIVATE_UMASK, tighten
from prism.serve.http.auth import PERMISSION_KEY, check_route_table
from prism.serve.http.dashboard import dashboard_routes
from prism.serve.http.db import ServerDB
from prism.serve.http.errors import install_error_handlers
from prism.serve.http.job_routes import close_jobs, job_backlog, jobs_api
from prism.serve.http.keys import KeyStore
from prism.serve.http.limits import RateLimiter, RedisRateLimiter, SqliteRateLimiter, make_limiter
from prism.serve.http.logs import configure_logging
from prism.serve.http.middleware import EdgeMiddleware
from prism.serve.http.projects import ProjectRegistry
from prism.serve.http.routes import PRISM_VERSION, api, metrics_route, router
from prism.serve.http.server_store import open_server_store
from prism.serve.http.settings import ServerSettings, load_server_settings, validate_for_start
from prism.serve.http.state import ServerState
from prism.serve.http.workers import APP as WORKER_APP
from prism.serve.http.workers import balanced_sockets_supported, serve_workers
from prism.serve.secrets import SecretBox, load_or_create_dev_secret

log = logging.getLogger("prism.http")
OPENAPI_URL = "/api/v1/openapi.json"
WORKER_HEALTHCHECK_S = 60
# Idle connections stay open longer than clients keep them (httpx and most pools: 5 s), so a
# client never sends a request on a connection the server is closing at that moment.
KEEP_ALIVE_S = 30
RECOVERY_JOIN_S = 30  # at shutdown, wait this long for a recovery in progress before closing its engines
RATE_HEADERS = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy",
                "Retry-After", "X-Request-ID"]


def build_state(server: ServerSettings, engine: Settings, limiter: RateLimiter | None = None) -> ServerState:
    """Open the server store (SQLite, or PostgreSQL with PRISM_DATABASE_URL) and everything that hangs off it."""
    if server.embedding_model:
        engine = engine.model_copy(update={"embedder": server.embedding_model})
    folder = engine.home / "server"
    db = open_server_store(folder, database_url(engine))
    root = server.api_secret.get_secret_value() if server.api_secret else load_or_create_dev_secret(folder)
    box = SecretBox(root)
    redis_url = server.redis_url.get_secret_value() if server.redis_url else None
    meter = open_meter(engine.home, redis_url)
    webhook = server.alert_webhook.get_secret_value() if server.alert_webhook else None
    quotas = QuotaBook(parse_quotas(server.quotas), meter, AlertSender(webhook) if webhook else None)
    state = ServerState(
        settings=server, engine_settings=engine, db=db, box=box, keys=KeyStore(db, box),
        projects=ProjectRegistry(db, engine, server.allowed_roots, server.max_upload_file_bytes,
                                 max_project_bytes=server.max_project_bytes,
                                 max_project_files=server.max_project_files,
                                 cache=make_cache(server.cache, redis_url, cache_secret(root))),
        limiter=limiter or make_limiter(server.limiter_backend, folder, redis_url), meter=meter, quotas=quotas,
    )
    state.readiness.checks["database"] = "ok" if db.is_current else "migrations pending"
    tighten(folder)  # what an older version (or another umask) left readable by others
    return state


def database_url(engine: Settings) -> str | None:
    """PRISM_DATABASE_URL, where the server store lives when it is set."""
    return engine.database_url.get_secret_value() if engine.database_url else None


def _index_infos(state: ServerState) -> list[IndexInfo]:
    """Size and freshness of each indexed project, for the scrape-time gauges."""
    infos = []
    for record in state.projects.all():
        try:
            if not state.projects.status(record.name).indexed:
                continue
            stats = state.projects.engine(record.name, files=False).store.stats()
        except (PrismError, OSError):  # a project being deleted or rebuilt: left out of this scrape
            continue
        last = stats.get("last_indexed")
        infos.append(IndexInfo(record.name, int(str(stats.get("chunks", 0))), int(str(stats.get("files", 0))),
                               float(str(last)) if last else None))
    return infos


def _load_model(state: ServerState) -> None:
    try:
        state.projects.embedder()
    except Exception as exc:  # readiness reports it; the server keeps answering /health
        state.readiness.checks["model"] = f"error: {type(exc).__name__}"
        log.error("embedding model failed to load: %s", type(exc).__name__)
    else:
        state.readiness.checks["model"] = "ok"


def _recover(state: ServerState) -> None:
    """Finish the indexing a killed server left half done (see ProjectRegistry.recover)."""
    try:
        state.projects.recover()
    except Exception:  # the projects report their state; the server keeps serving
        log.exception("recovering interrupted index requests failed")


def _secret_values(server: ServerSettings) -> list[str]:
    """The configured secrets, for the log filter that redacts them (a Redis URL may hold a password)."""
    return [s.get_secret_value() for s in (server.api_secret, server.jwt_secret, server.redis_url,
                                           server.alert_webhook) if s is not None]


def _secured_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document with bearer/API-key security declared on every non-public operation."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API key or an HS256 JWT."},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get(PERMISSION_KEY) not in (None, "public"):
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
    app.openapi_schema = schema
    return schema


def create_app(server: ServerSettings | None = None, engine: Settings | None = None, *,
               limiter: RateLimiter | None = None, load_model: bool = True) -> FastAPI:
    """The ASGI app. Raises ConfigError for an unsafe configuration (e.g. production without secrets)."""
    server = server or load_server_settings()
    engine = engine or Settings()
    for warning in validate_for_start(server):
        log.warning(warning)
    configure_logging(server.log_level, _secret_values(server))
    state = build_state(server, engine, limiter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # FastAPI runs each (sync) endpoint on anyio's thread pool: bound it to the configured
        # request threads (anyio's default is 40, which only interleaves CPU-bound requests).
        anyio.to_thread.current_default_thread_limiter().total_tokens = server.request_threads
        if load_model:
            threading.Thread(target=_load_model, args=(state,), name="prism-model", daemon=True).start()
        else:
            state.readiness.checks["model"] = "ok"
        recovery = threading.Thread(target=_recover, args=(state,), name="prism-recover", daemon=True)
        recovery.start()
        state.meter.start()
        log.info("PRISM server ready to accept requests (environment=%s, anonymous=%s, jwt=%s, "
                 "rate limits=%s, cache=%s)", server.environment, server.allow_anonymous,
                 server.jwt_secret is not None, type(state.limiter).__name__, type(state.projects.cache).__name__)
        yield
        close_jobs(app)  # first: a running in-process job gets a moment to finish
        recovery.join(RECOVERY_JOIN_S)
        state.meter.close()
        if state.quotas.alerts is not None:
            state.quotas.alerts.close()
        state.projects.close()
        if isinstance(state.projects.cache, RedisCache):
            state.projects.cache.close()
        state.db.close()
        if isinstance(state.limiter, SqliteRateLimiter | RedisRateLimiter):
            state.limiter.close()

    app = FastAPI(title="PRISM", version=PRISM_VERSION, openapi_url=OPENAPI_URL, docs_url=None,
                  redoc_url=None, lifespan=lifespan,
                  description="PRISM team server: index codebases, search them, and pack context "
                              "into exact token budgets. Every error is `{\"error\": {code, message, details}}`.")
    app.state.prism = state
    install_error_handlers(app)

    metrics = ServerMetrics(StateCollector(lambda: _index_infos(state), state.quotas.table,
                                           lambda: job_backlog(app, server)))

    def observe(record: RequestRecord) -> None:
        metrics.observe(record)
        state.meter.record(record.key, record.project, record.route, record.tally)
        state.quotas.observe(record.key, record.project, record.tally)

    app.include_router(router)
    app.include_router(api)
    app.include_router(jobs_api)
    app.include_router(metrics_route(metrics.render))
    app.include_router(dashboard_routes(metrics.render, lambda: _index_infos(state)))
    check_route_table(app)
    app.openapi = lambda: _secured_openapi(app)  # type: ignore[method-assign]

    app.add_middleware(CORSMiddleware, allow_origins=server.cors_origins, allow_credentials=False,
                       allow_methods=["GET", "POST", "PATCH", "DELETE"],
                       allow_headers=["authorization", "content-type", "x-api-key", "x-request-id"],
                       expose_headers=RATE_HEADERS, max_age=600)
    app.add_middleware(EdgeMiddleware, max_body_bytes=server.max_request_bytes,
                       hsts=server.environment == "production", observe=observe)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory prism.serve.http.app:app_from_env` (used by --workers).

    Each worker process calls it; PRISM_WORKERS (set by `run`) makes `auto` pick the shared limiter.
    """
    os.umask(PRIVATE_UMASK)
    return create_app()


def prepare_home(server: ServerSettings, engine: Settings) -> None:
    """Create what every worker opens (dev secret, migrated database) once, before workers start;
    a backup first when that start upgrades a schema (prism.ops.upgrade)."""
    from prism.ops.upgrade import backup_before_upgrade

    folder = engine.home / "server"
    # Before anything opens (and so migrates) a database: the data as it is, to roll back to.
    backup_before_upgrade(engine.home, database_url=engine.database_url.get_secret_value()
                          if engine.database_url else None, open_server=ServerDB, prism_version=PRISM_VERSION)
    if server.api_secret is None:
        load_or_create_dev_secret(folder)
    open_server_store(folder, database_url(engine)).close()
    parse_quotas(server.quotas)  # a malformed PRISM_QUOTAS stops the start here, before workers


def run(host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    """Serve with uvicorn; the configuration is checked before a port is bound.

    The worker count goes to the workers through PRISM_WORKERS (they inherit the environment),
    so with PRISM_RATE_BACKEND=auto they share one SQLite rate limiter. On Linux each worker
    listens on its own SO_REUSEPORT socket (see `workers`).
    """
    import uvicorn

    os.environ["PRISM_WORKERS"] = str(workers)
    os.umask(PRIVATE_UMASK)  # everything the server writes under PRISM_HOME is private to its user
    server = load_server_settings()
    validate_for_start(server)  # raises for unsafe settings; each app logs the warnings itself
    prepare_home(server, Settings())
    options: dict[str, Any] = {"log_level": log_level, "access_log": False, "log_config": None,
                               "server_header": False, "proxy_headers": False, "timeout_keep_alive": KEEP_ALIVE_S}
    if workers > 1:  # every worker writes its metrics here; a scrape of any worker sums them all
        prepare_multiprocess_dir(Settings().home)
    if workers > 1 and balanced_sockets_supported():
        configure_logging(server.log_level, _secret_values(server))  # the supervisor's own lines
        status = serve_workers(host, port, workers, options)
        if status:
            raise SystemExit(status)
    elif workers > 1:
        # uvicorn's supervisor kills a worker that misses a 5 s health check; a worker indexing a
        # large upload can hold the GIL that long, so allow more before a restart.
        uvicorn.run(WORKER_APP, factory=True, host=host, port=port, workers=workers,
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK_S, **options)
    else:
        uvicorn.run(create_app(server), host=host, port=port, **options)
