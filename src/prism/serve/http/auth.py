"""Authentication and authorisation: API keys or JWTs → a Principal, checked against each route's permission.

Every route declares one permission (`public`, `read`, `write`, `admin`) with `permission()`:
the dependency it returns authenticates, checks the role, checks the `{project}` in the path
against the principal's projects, and spends a token from the principal's rate bucket.
`check_route_table` refuses to build an app with a route that declares nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts

from prism.serve.http.errors import (
    AuthenticationError,
    CredentialsExpiredError,
    PermissionDeniedError,
    RateLimitedError,
)
from prism.serve.http.keys import ALL_PROJECTS, looks_like_api_key
from prism.serve.http.settings import ROLES, Role
from prism.serve.http.state import ServerState

Permission = Literal["public", "read", "write", "admin"]
PERMISSIONS: tuple[Permission, ...] = ("public", "read", "write", "admin")
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    "reader": frozenset({"public", "read"}),
    "writer": frozenset({"public", "read", "write"}),
    "admin": frozenset({"public", "read", "write", "admin"}),
}
PERMISSION_KEY = "x-permission"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key, a JWT subject or anonymous, with a role and project scope."""

    kind: Literal["key", "jwt", "anonymous"]
    subject: str  # key id, JWT `sub`, or "anonymous"
    role: Role
    projects: tuple[str, ...]

    def allows_project(self, project: str) -> bool:
        return ALL_PROJECTS in self.projects or project in self.projects

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
    secret = state.settings.jwt_secret
    if secret is None:
        raise AuthenticationError("JWT bearer tokens are not enabled on this server.",
                                  hint="Use an API key, or ask the operator to set JWT_SECRET.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret.get_secret_value(), algorithms=["HS256"],
            audience=state.settings.jwt_audience, issuer=state.settings.jwt_issuer,
            leeway=state.settings.jwt_leeway_s, options={"require": ["exp", "sub", "aud"]})
    except jwt.ExpiredSignatureError as exc:
        raise CredentialsExpiredError("The JWT has expired.",
                                      hint="Get a fresh token from your identity provider.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise AuthenticationError("The JWT is not valid yet (nbf).",
                                  hint="Check the clocks of the issuer and server.") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"The JWT was rejected: {exc}.",
                                  hint="Check its signature, audience and claims.") from exc
    role = claims.get("role")
    if role not in ROLES:
        raise AuthenticationError("The JWT has no valid `role` claim.", hint=f"Use one of {', '.join(ROLES)}.")
    projects = claims.get("projects", [])
    if projects == ALL_PROJECTS:
        projects = [ALL_PROJECTS]
    if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
        raise AuthenticationError("The JWT `projects` claim must be a list of names or \"*\".",
                                  hint="Fix the token's claims.")
    return Principal("jwt", str(claims["sub"])[:200], role, tuple(projects))


def authenticate(state: ServerState, request: Request) -> Principal:
    token = _bearer(request)
    if token is None:
        if state.settings.allow_anonymous and state.settings.environment != "production":
            return Principal("anonymous", "anonymous", state.settings.anonymous_role, (ALL_PROJECTS,))
        raise AuthenticationError("This endpoint needs credentials.",
                                  hint="Send `Authorization: Bearer <API key or JWT>`.")
    if looks_like_api_key(token):
        key = state.keys.verify(token)
        return Principal("key", key.key_id, key.role, key.projects)
    return _from_jwt(state, token)


def _spend(state: ServerState, request: Request, bucket: str, which: Literal["address", "key"],
           role: Role | None = None) -> None:
    rate = state.address_rate if role is None else state.role_rates[role]
    decision = state.limiter.hit(bucket, rate)
    if which == "key" or not decision.allowed:
        request.state.ratelimit = decision.headers(rate)
    if not decision.allowed:
        raise RateLimitedError(f"Too many requests for this {which}.",
                               headers=decision.headers(rate),
                               hint=f"Retry after {decision.headers(rate)['Retry-After']} s.")


def permission(level: Permission) -> Any:
    """The dependency a route declares; it records `level` for the route-table check."""

    def check(request: Request) -> Principal | None:
        state = server_state(request)
        if level == "public":
            return None
        client = request.client.host if request.client else "unknown"
        _spend(state, request, f"addr:{client}", "address")
        principal = authenticate(state, request)
        if level not in ROLE_PERMISSIONS[principal.role]:
            raise PermissionDeniedError(f"Role {principal.role} cannot {level} here.",
                                        hint=f"Use a key whose role allows {level}.", value=principal.role)
        project = request.path_params.get("project")
        if isinstance(project, str) and not principal.allows_project(project):
            raise PermissionDeniedError(f"This credential has no access to project {project!r}.",
                                        hint="Use a key scoped to this project.", value=project)
        _spend(state, request, f"{principal.kind}:{principal.subject}", "key", principal.role)
        route = request.scope.get("route")
        state.usage.record(principal.usage_id, getattr(route, "path", request.url.path))
        request.state.principal = principal
        return principal

    check.permission = level  # type: ignore[attr-defined]
    return check


def route_permission(route: APIRoute) -> Permission | None:
    """The permission a route declared, or None when it declared none (a bug the check catches)."""
    extra = route.openapi_extra or {}
    declared = extra.get(PERMISSION_KEY)
    enforced = [getattr(dep.call, "permission", None) for dep in route.dependant.dependencies]
    if declared in PERMISSIONS and declared in enforced:
        return declared  # type: ignore[no-any-return]
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
    """Refuse to start when a route has no declared-and-enforced permission."""
    missing = [f"{sorted(methods)} {path}" for path, methods, route in api_routes(app)
               if route_permission(route) is None]
    if missing:
        raise RuntimeError(f"Routes without a permission: {', '.join(missing)}")
