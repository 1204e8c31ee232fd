"""Errors from model providers and the router, each with what failed and what to do next.

PrismError
└── ProviderError              a provider call failed                    exit 1, HTTP 502
    ├── ProviderAuthError      the key is missing, wrong or not allowed  exit 1, HTTP 502
    ├── UnknownModelError      the provider has no such model            exit 1, HTTP 404
    ├── ContextTooLongError    the prompt exceeds the model's window     exit 1, HTTP 413
    ├── ProviderUnavailableError  unreachable, timed out, or still 429/5xx after the retries  HTTP 503
    ├── ProviderResponseError  a malformed or truncated answer           exit 1, HTTP 502
    └── BudgetExhaustedError   every candidate model's daily budget is spent  HTTP 429

Messages never contain a key: providers get keys through headers, and errors are built from
the status and the provider's own error text only.
"""

from __future__ import annotations

from prism.errors import PrismError


class ProviderError(PrismError):
    http_status = 502
    code = "provider_error"


class ProviderAuthError(ProviderError):
    code = "provider_auth"


class UnknownModelError(ProviderError):
    http_status = 404
    code = "unknown_model"


class ContextTooLongError(ProviderError):
    http_status = 413
    code = "context_too_long"


class ProviderUnavailableError(ProviderError):
    http_status = 503
    code = "provider_unavailable"
    headers: dict[str, str] | None = None  # Retry-After, passed on over HTTP when the provider asked for one


class ProviderResponseError(ProviderError):
    code = "provider_bad_response"


class BudgetExhaustedError(ProviderError):
    http_status = 429
    code = "budget_exhausted"
