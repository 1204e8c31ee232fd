"""Server logging: one JSON line per record, with the request id, and secrets redacted before output.

The server never formats a secret into a message, and the redaction filter is the second
line: any configured secret value, API key (`prism_…`), bearer token or JWT-shaped string is
replaced by `[redacted]` in the message before any handler (including pytest's) sees it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("prism_request_id", default="-")

_PATTERNS = (
    re.compile(r"prism_[0-9a-f]{12}_[A-Za-z0-9_-]+"),
    re.compile(r"(?i)(bearer\s+)[^\s\"']+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
)
REDACTED = "[redacted]"


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets removed; never drops a record."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self._secrets = [s for s in (secrets or []) if len(s) >= 8]

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.msg, record.args = self.redact(message), None
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
            "msg": record.getMessage(), "request_id": getattr(record, "request_id", request_id_var.get()),
            "pid": record.process,  # which worker, under `prism serve --workers N`
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            data.update(extra)
        if record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(level: str, secrets: list[str]) -> RedactingFilter:
    """Route the prism and uvicorn loggers through one redacting JSON handler."""
    redactor = RedactingFilter(secrets)
    handler = logging.StreamHandler()
    handler.addFilter(redactor)
    handler.setFormatter(JsonFormatter())
    for name in ("prism", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            if getattr(old, "_prism", False):
                logger.removeHandler(old)
        handler._prism = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")
        logger.propagate = name == "prism"
    logging.getLogger("uvicorn.access").disabled = True  # the edge middleware logs each request
    return redactor


def now_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
