"""One way to open a Redis client from PRISM_REDIS_URL: a missing client or a malformed URL is a ConfigError."""

from __future__ import annotations

from typing import Any

from prism.errors import ConfigError


def connect_redis(url: str, *, timeout_s: float, connect_timeout_s: float | None = None,
                  decode_responses: bool = False) -> tuple[Any, tuple[type[Exception], ...]]:
    """(a client for `url`, the exceptions its calls raise when Redis fails); connects on first use."""
    try:
        import redis
    except ImportError as exc:
        raise ConfigError("PRISM_REDIS_URL is set but the redis client is not installed.",
                          hint="pip install 'prism-context[scale]'", value="redis") from exc
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout_s, decode_responses=decode_responses,
                                      socket_connect_timeout=timeout_s if connect_timeout_s is None
                                      else connect_timeout_s)
    except ValueError as exc:
        raise ConfigError(f"PRISM_REDIS_URL is not a Redis URL: {exc}.",
                          hint="Write e.g. redis://host:6379/0 (or rediss:// for TLS).") from exc
    return client, (redis.RedisError,)
