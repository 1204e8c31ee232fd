"""The PrismError tree: every error a user can hit, with what failed, the offending value and the next step.

PrismError
├── ConfigError          bad setting or environment value          exit 1, HTTP 500→ refused at start
├── ProjectError         no such project / not indexed              exit 1, HTTP 404
├── IndexLockedError     another process is indexing this project   exit 1, HTTP 409
├── IndexCorruptError    the index file cannot be read              exit 1, HTTP 503
├── NotWritableError     PRISM_HOME (or the index folder) read-only  exit 1, HTTP 503
├── ModelError           bundled model missing or corrupt           exit 1, HTTP 503
├── InputError           a value the user passed is invalid         exit 2, HTTP 400/422
│   └── PathError        a path outside the project, absolute, NUL  exit 2, HTTP 400
├── NotFoundError        handle/symbol/path/job not found           exit 1, HTTP 404
├── BackendUnavailableError  a configured server (PostgreSQL, Redis) is unreachable  exit 1, HTTP 503
└── BackupError          a backup is missing, corrupt, or would overwrite data  exit 1
"""

from __future__ import annotations


class PrismError(Exception):
    """Base class: message says what failed, hint says what to do next."""

    exit_code: int = 1
    http_status: int = 500
    code: str = "prism_error"

    def __init__(self, message: str, *, hint: str = "", value: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.value = value

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()

    def to_dict(self) -> dict[str, object]:
        details: dict[str, object] = {}
        if self.hint:
            details["hint"] = self.hint
        if self.value is not None:
            details["value"] = str(self.value)
        return {"code": self.code, "message": self.message, "details": details}


class ConfigError(PrismError):
    code = "config_error"


class ProjectError(PrismError):
    http_status = 404
    code = "project_not_found"


class IndexLockedError(PrismError):
    http_status = 409
    code = "index_locked"


class IndexCorruptError(PrismError):
    http_status = 503
    code = "index_corrupt"


class NotWritableError(PrismError):
    http_status = 503
    code = "not_writable"


class ModelError(PrismError):
    http_status = 503
    code = "model_unavailable"


class InputError(PrismError):
    exit_code = 2
    http_status = 422
    code = "invalid_input"


class PathError(InputError):
    http_status = 400
    code = "invalid_path"


class NotFoundError(PrismError):
    http_status = 404
    code = "not_found"


class BackendUnavailableError(PrismError):
    http_status = 503
    code = "backend_unavailable"


class BackupError(PrismError):
    code = "backup_error"
