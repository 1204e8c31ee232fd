"""One error envelope for every failure: `{"error": {"code", "message", "details"}}`, with request id.

Handlers cover PrismError (its http_status and code), FastAPI validation errors (422 naming
each field) and Starlette HTTP errors (unknown route 404, wrong method 405). Anything
unexpected is answered by EdgeMiddleware (500 with the request id only: the traceback goes to
the log, never the client).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from prism.errors import PrismError

if TYPE_CHECKING:  # FastAPI loads only with the server: the CLI imports the error classes too
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

log = logging.getLogger("prism.http")


class AuthenticationError(PrismError):
    http_status = 401
    code = "unauthenticated"


class KeyRevokedError(AuthenticationError):
    code = "key_revoked"


class CredentialsExpiredError(AuthenticationError):
    code = "credentials_expired"


class PermissionDeniedError(PrismError):
    http_status = 403
    code = "forbidden"


class ConflictError(PrismError):
    http_status = 409
    code = "conflict"


class PayloadTooLargeError(PrismError):
    http_status = 413
    code = "payload_too_large"


class QuotaExceededError(PayloadTooLargeError):
    code = "quota_exceeded"


class RateLimitedError(PrismError):
    http_status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, headers: dict[str, str], hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.headers = headers


class NotReadyError(PrismError):
    http_status = 503
    code = "not_ready"


class FeatureUnavailableError(PrismError):
    http_status = 503
    code = "unavailable"


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
HTTP_CODES: dict[int, str] = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "invalid_input", 429: "rate_limited",
    500: "internal_error", 503: "unavailable",
}


def envelope(code: str, message: str, details: dict[str, Any] | None = None,
             request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "details": details or {}}
    if request_id:
        body["request_id"] = request_id
    return {"error": body}


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   request_id: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    from fastapi.responses import JSONResponse

    return JSONResponse(envelope(code, message, details, request_id), status_code=status, headers=headers)


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


async def _prism_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PrismError)
    status = exc.http_status if 400 <= exc.http_status < 600 else 500
    data = exc.to_dict()
    details = data["details"] if isinstance(data["details"], dict) else {}
    headers = getattr(exc, "headers", None)
    if status >= 500:
        log.warning("request failed: %s %s", exc.code, exc.message)
    return error_response(status, exc.code, exc.message, details, _request_id(request), headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    from fastapi.exceptions import RequestValidationError

    assert isinstance(exc, RequestValidationError)
    fields = []
    for item in exc.errors():
        fields.append({"field": _field_name(item.get("loc", ())), "message": str(item.get("msg", "")),
                       "type": str(item.get("type", ""))})
    names = ", ".join(sorted({f["field"] for f in fields})) or "request"
    return error_response(422, "invalid_input", f"Invalid value for {names}.", {"fields": fields[:50]},
                          _request_id(request))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    from starlette.exceptions import HTTPException as StarletteHTTPException

    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        message = f"No route {request.url.path}."
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    headers = dict(exc.headers) if exc.headers else None
    if status == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return error_response(status, HTTP_CODES.get(status, "http_error"), message, {}, _request_id(request),
                          headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path (Starlette names only the first route's)."""
    from starlette.routing import Match

    routes = request.app.router.routes
    return [method for method in HTTP_METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)]


def install_error_handlers(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app.add_exception_handler(PrismError, _prism_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
