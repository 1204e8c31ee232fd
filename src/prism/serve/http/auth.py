"""Authentication and authorisation: API keys or JWTs → a Principal, checked against each route's need.

Every route declares what it needs with `permission()`: `public`, `authenticated` (any valid
credential; the route shows only the caller's own data) or one action (see scopes). The
dependency authenticates, checks the action, checks the reach — a `{project}` in the path must be
in the principal's projects, and a route acting on the whole server (keys, audit, metrics,
creating projects) needs a credential for every project — and spends a token from the
principal's rate bucket. `check_route_table` refuses to build an app with a route that
declares nothing. `require_covers` is the rule for routes that make or change credentials.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts

from prism.ops.meter import NONE, count
from prism.serve.http.audit import Actor
from prism.serve.http.errors import (
    AuthenticationError,
    CredentialsExpiredError,
    KeyRevokedError,
    PermissionDeniedError,
    RateLimitedError,
)
from prism.serve.http.keys import ALL_PROJECTS, looks_like_api_key
from prism.serve.http.scopes import ACTIONS, ROLE_ACTIONS, Action, Scope, role_for
from prism.serve.http.settings import ROLES, Role
from prism.serve.http.state import ServerState

Need = Literal["public", "authenticated"] | Action
NEEDS: tuple[str, ...] = ("public", "authenticated", *ACTIONS)
Reach = Literal["project", "own", "server"]
PERMISSION_KEY = "x-permission"
REACH_KEY = "x-reach"
MAX_JTI_CHARS = 200


class TokenRevokedError(KeyRevokedError):
    code = "token_revoked"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key, a JWT subject or anonymous, with its actions, projects and expiry."""

    kind: Literal["key", "jwt", "anonymous"]
    subject: str  # key id, JWT `sub`, or "anonymous"
    role: Role  # the smallest preset holding `actions`; picks the rate bucket
    projects: tuple[str, ...]
    actions: frozenset[str] = frozenset()
    expires_at: float | None = None

    @property
    def scope(self) -> Scope:
        return Scope(self.actions, self.projects, self.expires_at)

    def allows_project(self, project: str) -> bool:
        return self.scope.allows_project(project)

    @property
    def usage_id(self) -> str:
        return f"{self.kind}:{self.subject}"


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.prism
    return state


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("The Authorization header must be `Bearer <token>`.",
                                      hint="Send an API key or a JWT as a bearer token.")
        return token.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key else None


def _from_jwt(state: ServerState, token: str) -> Principal:
    settings = state.settings
    secret = settings.jwt_secret
    if secret is None:
        raise AuthenticationError("JWT bearer tokens are not enabled on this server.",
                                  hint="Use an API key, or ask the operator to set JWT_SECRET.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret.get_secret_value(), algorithms=["HS256"],
            audience=settings.jwt_audience, issuer=settings.jwt_issuer, leeway=settings.jwt_leeway_s,
            options={"require": ["exp", "sub", "aud"], "verify_iat": False})  # iat: checked below
    except jwt.ExpiredSignatureError as exc:
        raise CredentialsExpiredError("The JWT has expired.",
                                      hint="Get a fresh token from your identity provider.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise AuthenticationError("The JWT is not valid yet (nbf).",
                                  hint="Check the clocks of the issuer and server.") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"The JWT was rejected: {exc}.",
                                  hint="Check its signature, audience and claims.") from exc
    now = time.time()
    _check_lifetime(claims, now, settings.jwt_leeway_s, settings.jwt_max_ttl_s)
    jti = claims.get("jti")
    if jti is not None:
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
            raise AuthenticationError(f"The JWT `jti` claim must be a string of 1–{MAX_JTI_CHARS} characters.",
                                      hint="Fix the token's claims.")
        if state.keys.token_revoked(jti):
            raise TokenRevokedError("This JWT has been revoked.", hint="Get a fresh token from your identity "
                                    "provider.")
    actions = _jwt_actions(claims)
    projects = claims.get("projects", [])
    if projects == ALL_PROJECTS:
        projects = [ALL_PROJECTS]
    if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
        raise AuthenticationError("The JWT `projects` claim must be a list of names or \"*\".",
                                  hint="Fix the token's claims.")
    return Principal("jwt", str(claims["sub"])[:200], role_for(actions), tuple(projects), actions,
                     float(claims["exp"]))


def _check_lifetime(claims: dict[str, Any], now: float, leeway_s: int, max_ttl_s: int) -> None:
    """A token issued in the future, or one that lives longer than the server allows, is refused."""
    iat = claims.get("iat")
    if iat is not None:
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise AuthenticationError("The JWT `iat` claim must be a number.", hint="Fix the token's claims.")
        if iat > now + leeway_s:
            raise AuthenticationError("The JWT was issued in the future (iat).",
                                      hint="Check the clocks of the issuer and server.")
    if float(claims["exp"]) > now + max_ttl_s + leeway_s:
        raise AuthenticationError(
            f"The JWT expires too far in the future: this server accepts tokens that live at most "
            f"{max_ttl_s} s.", hint="Issue shorter-lived tokens, or raise PRISM_JWT_MAX_TTL_S.")


def _jwt_actions(claims: dict[str, Any]) -> frozenset[str]:
    """The token's rights: its `actions` claim, else its `role` claim's preset."""
    actions = claims.get("actions")
    if actions is not None:
        if (not isinstance(actions, list) or not actions
                or not all(isinstance(a, str) and a in ACTIONS for a in actions)):
            raise AuthenticationError("The JWT `actions` claim must be a non-empty list of actions.",
                                      hint=f"Use {', '.join(ACTIONS)}.")
        return frozenset(actions)
    role = claims.get("role")
    if role not in ROLES:
        raise AuthenticationError("The JWT has no valid `role` claim.", hint=f"Use one of {', '.join(ROLES)}.")
    return ROLE_ACTIONS[role]


def authenticate(state: ServerState, request: Request) -> Principal:
    token = _bearer(request)
    if token is None:
        if state.settings.allow_anonymous and state.settings.environment != "production":
            role = state.settings.anonymous_role
            return Principal("anonymous", "anonymous", role, (ALL_PROJECTS,), ROLE_ACTIONS[role])
        raise AuthenticationError("This endpoint needs credentials.",
                                  hint="Send `Authorization: Bearer <API key or JWT>`.")
    if looks_like_api_key(token):
        key = state.keys.verify(token)
        return Principal("key", key.key_id, key.role, key.projects, key.actions, key.expires_at)
    return _from_jwt(state, token)


def _spend(state: ServerState, request: Request, bucket: str, which: Literal["address", "key"],
           role: Role | None = None) -> None:
    rate = state.address_rate if role is None else state.role_rates[role]
    decision = state.limiter.hit(bucket, rate)
    if which == "key" or not decision.allowed:
        request.state.ratelimit = decision.headers(rate)
    if not decision.allowed:
        count("rate_limited")
        raise RateLimitedError(f"Too many requests for this {which}.",
                               headers=decision.headers(rate),
                               hint=f"Retry after {decision.headers(rate)['Retry-After']} s.")


def permission(need: Need, reach: Reach = "project") -> Any:
    """The dependency a route declares; it records `need` and `reach` for the route-table check.

    `reach`: `project` checks the path's `{project}`; `server` needs a credential for every
    project; `own` lets any scope through (the route filters what it shows).
    """

    def check(request: Request) -> Principal | None:
        state = server_state(request)
        if need == "public":
            return None
        client = request.client.host if request.client else "unknown"
        _spend(state, request, f"addr:{client}", "address")
        principal = authenticate(state, request)
        request.state.principal = principal  # the edge meters and logs the request under it, refused or not
        if need != "authenticated" and need not in principal.actions:
            raise PermissionDeniedError(f"This credential lacks the `{need}` action.",
                                        hint=f"Use a key whose actions include {need}.", value=need)
        project = request.path_params.get("project")
        if reach == "project" and isinstance(project, str) and not principal.allows_project(project):
            raise PermissionDeniedError(f"This credential has no access to project {project!r}.",
                                        hint="Use a key scoped to this project.", value=project)
        if reach == "server" and not principal.scope.unscoped:
            raise PermissionDeniedError("This route acts on the whole server; a credential limited to "
                                        "some projects cannot use it.",
                                        hint="Use a key made for every project (projects: *).",
                                        value=",".join(principal.projects))
        _spend(state, request, f"{principal.kind}:{principal.subject}", "key", principal.role)
        state.quotas.check(principal.usage_id, project if isinstance(project, str) else NONE, need)
        return principal

    check.permission = need  # type: ignore[attr-defined]
    check.reach = reach  # type: ignore[attr-defined]
    return check


def require_covers(principal: Principal, target: Scope, doing: str, what: str = "that key") -> None:
    """Refuse to make or change a credential with a right the caller does not hold (403)."""
    shortfall = principal.scope.shortfall(target)
    if shortfall is not None:
        raise PermissionDeniedError(f"This credential cannot {doing} {what}: {shortfall}.",
                                    hint="A credential can only manage keys within its own actions, "
                                         "projects and expiry.")


def actor(request: Request) -> Actor:
    """The audit log's view of this request: principal, request id and client address."""
    principal: Principal = request.state.principal
    return Actor(principal.usage_id, getattr(request.state, "request_id", None),
                 request.client.host if request.client else None)


def route_permission(route: APIRoute) -> str | None:
    """The need a route declared, or None when it declared none (a bug the check catches)."""
    extra = route.openapi_extra or {}
    declared = extra.get(PERMISSION_KEY)
    enforced = [getattr(dep.call, "permission", None) for dep in route.dependant.dependencies]
    if declared in NEEDS and declared in enforced:
        return declared  # type: ignore[no-any-return]
    return None


def route_reach(route: APIRoute) -> str | None:
    """The reach a route's permission enforces (`project`, `own` or `server`)."""
    for dep in route.dependant.dependencies:
        if getattr(dep.call, "permission", None) is not None:
            return getattr(dep.call, "reach", None)
    return None


def api_routes(app: FastAPI) -> Iterator[tuple[str, frozenset[str], APIRoute]]:
    """Every API route as served (prefix applied), including those of included routers."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            yield context.path or route.path, frozenset(context.methods or route.methods or ()), route


def other_routes(app: FastAPI) -> list[str]:
    """Paths of non-API routes (e.g. the OpenAPI document), which carry no permission."""
    return [context.path or "" for context in iter_route_contexts(app.routes)
            if not isinstance(context.original_route, APIRoute)]


def check_route_table(app: FastAPI) -> None:
    """Refuse to start when a route has no declared-and-enforced need, or skips its project check."""
    missing = [f"{sorted(methods)} {path}" for path, methods, route in api_routes(app)
               if route_permission(route) is None]
    if missing:
        raise RuntimeError(f"Routes without a permission: {', '.join(missing)}")
    unchecked = [f"{sorted(methods)} {path}" for path, methods, route in api_routes(app)
                 if "{project}" in path and route_permission(route) != "public" and route_reach(route) != "project"]
    if unchecked:
        raise RuntimeError(f"Routes with a {{project}} that do not check it: {', '.join(unchecked)}")
