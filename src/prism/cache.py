"""Caching finished results and query embeddings: the Cache Protocol, its in-process LRU and its Redis store.

A value lives under a *namespace* (one project's index, or one embedding model) and a text key;
`invalidate(namespace)` makes everything set there before unreachable at once (a version counter
per namespace, bumped, so nothing is scanned). The engine keys results by the index generation
inside a namespace of the project and its index's identity (`result_namespace`), so a re-index,
or a rebuilt index whose generations start again, never serves an old result; the TTL bounds
what neither can see (edits on disk not yet indexed).

`MemoryCache` keeps the objects themselves (a hit is the very object that was set) in one LRU
per process. `RedisCache` (`PRISM_REDIS_URL`) is shared by every replica: bytes are stored as
they are, other values pickled, and every value carries an HMAC under the server secret, so a
value that this server did not write is never unpickled. A Redis that fails (down, timeout) is
logged once per outage and skipped for `retry_after_s` (a local LRU stands in meanwhile): the
cache never fails a request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal, Protocol

from prism.errors import ConfigError
from prism.redis_client import connect_redis

log = logging.getLogger("prism.cache")

CacheBackend = Literal["memory", "redis"]
EMBEDDING_TTL_S = 86_400.0  # a text's vector under one model never changes: kept a day
MEMORY_ENTRIES = 1024  # results and query vectors of every project a process serves
INDEX_ID_META = "index_id"  # a store's identity, written by its first index: a rebuilt index has another


class Cache(Protocol):
    """Values under (namespace, key) for at most `ttl_s` seconds; a miss is None, never an error."""

    def get(self, namespace: str, key: str) -> object | None:
        """The value set under `key` in `namespace` since its last invalidation, unless expired."""
        ...

    def set(self, namespace: str, key: str, value: object, ttl_s: float) -> None:
        """Keep `value` (bytes, or any picklable value) for `ttl_s` seconds; ≤ 0 keeps nothing."""
        ...

    def invalidate(self, namespace: str) -> None:
        """Forget every value set in `namespace` so far, for every process sharing this cache."""
        ...


def request_key(*request: object) -> str:
    """A short, stable key for a request: the digest of its repr (frozen records, tuples, text).

    The same in every process (reprs of strings, numbers and dataclasses do not depend on hash
    seeds), and the query text does not appear in the cache's keys.
    """
    return hashlib.blake2b(repr(request).encode(), digest_size=16).hexdigest()


def result_namespace(project: str, index_id: str) -> str:
    """The namespace of one project's results: its name and its index's identity."""
    return f"results:{project}:{index_id}"


def embedding_namespace(model_id: str) -> str:
    return f"embeddings:{model_id}"


class MemoryCache:
    """A thread-safe LRU of at most `entries` values, in this process only."""

    def __init__(self, entries: int = MEMORY_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self.entries = entries
        self._clock = clock
        self._items: OrderedDict[tuple[str, int, str], tuple[float, object]] = OrderedDict()
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str, key: str) -> object | None:
        with self._lock:
            slot = (namespace, self._versions.get(namespace, 0), key)
            found = self._items.get(slot)
            if found is None:
                return None
            if self._clock() >= found[0]:
                del self._items[slot]
                return None
            self._items.move_to_end(slot)
            return found[1]

    def set(self, namespace: str, key: str, value: object, ttl_s: float) -> None:
        if self.entries <= 0 or ttl_s <= 0:
            return
        with self._lock:
            slot = (namespace, self._versions.get(namespace, 0), key)
            self._items[slot] = (self._clock() + ttl_s, value)
            self._items.move_to_end(slot)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def invalidate(self, namespace: str) -> None:
        with self._lock:  # old entries become unreachable and leave LRU-first
            self._versions[namespace] = self._versions.get(namespace, 0) + 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# KEYS[1]: the namespace's version counter. The entry's key is built from it, so a hit and the
# version it belongs to are read in one atomic step (one round trip). Entry and counter share the
# hash tag `{namespace}`, so in a Redis Cluster they live in one slot.
_REDIS_GET = """
local version = redis.call('GET', KEYS[1]) or '0'
return redis.call('GET', ARGV[1] .. version .. ':' .. ARGV[2])
"""
_REDIS_SET = """
local version = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', ARGV[1] .. version .. ':' .. ARGV[2], ARGV[3], 'PX', ARGV[4])
return 1
"""
_TAG = hashlib.sha256().digest_size
_RAW, _PICKLED = b"b", b"p"


class RedisCache:
    """Values in Redis, shared by every replica that uses the same server and secret.

    An entry is a string `prism:cache:{namespace}:<version>:<key>` with its TTL (SET PX), so Redis
    holds only what was used lately; an invalidation INCRs `prism:cache:{namespace}:v`, after
    which every replica's next read builds the new key. `secret` keys the HMAC each value carries
    (the server derives it from PRISM_API_SECRET, the same on every replica): a value that fails
    it is a miss, and is never unpickled.
    """

    def __init__(self, url: str, secret: bytes, *, prefix: str = "prism:cache:", timeout_s: float = 0.5,
                 retry_after_s: float = 30.0, fallback_entries: int = MEMORY_ENTRIES) -> None:
        if not secret:
            raise ConfigError("The Redis cache needs a secret to sign its values.", hint="Set PRISM_API_SECRET.")
        self._client, self._errors = connect_redis(url, timeout_s=timeout_s)
        self._get = self._client.register_script(_REDIS_GET)
        self._set = self._client.register_script(_REDIS_SET)
        self._secret = secret
        self._prefix = prefix
        self._retry_after_s = retry_after_s
        self._local = MemoryCache(fallback_entries)  # stands in while Redis is out
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _names(self, namespace: str) -> tuple[str, str]:
        """(the version counter's key, the prefix of the namespace's entries)."""
        tag = namespace.replace("{", "(").replace("}", ")")
        return f"{self._prefix}{{{tag}}}:v", f"{self._prefix}{{{tag}}}:"

    def _available(self) -> bool:
        with self._lock:
            return time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            if self._down_until == 0.0:
                log.warning("cache at PRISM_REDIS_URL failed (%s): caching in this process for %.0f s",
                            type(exc).__name__, self._retry_after_s)
            self._down_until = time.monotonic() + self._retry_after_s

    def _succeeded(self) -> None:
        with self._lock:
            if self._down_until != 0.0:
                log.info("cache at PRISM_REDIS_URL works again: cached values are shared")
                self._down_until = 0.0

    def get(self, namespace: str, key: str) -> object | None:
        if not self._available():
            return self._local.get(namespace, key)
        version, entries = self._names(namespace)
        try:
            stored = self._get(keys=[version], args=[entries, key])
        except self._errors as exc:
            self._failed(exc)
            return self._local.get(namespace, key)
        self._succeeded()
        return None if stored is None else self._decode(bytes(stored))

    def set(self, namespace: str, key: str, value: object, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        if not self._available():
            self._local.set(namespace, key, value, ttl_s)
            return
        version, entries = self._names(namespace)
        try:
            self._set(keys=[version], args=[entries, key, self._encode(value), max(1, int(ttl_s * 1000))])
        except self._errors as exc:
            self._failed(exc)
            self._local.set(namespace, key, value, ttl_s)
            return
        self._succeeded()

    def invalidate(self, namespace: str) -> None:
        self._local.invalidate(namespace)
        try:
            self._client.incr(self._names(namespace)[0])
        except self._errors as exc:
            self._failed(exc)  # the other replicas see it when their TTLs run out

    def _encode(self, value: object) -> bytes:
        if isinstance(value, bytes):
            body = _RAW + value
        else:
            body = _PICKLED + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        return hmac.new(self._secret, body, hashlib.sha256).digest() + body

    def _decode(self, stored: bytes) -> object | None:
        tag, body = stored[:_TAG], stored[_TAG:]
        if not body or not hmac.compare_digest(tag, hmac.new(self._secret, body, hashlib.sha256).digest()):
            log.warning("cache: a value in Redis is not signed with this server's secret: ignored")
            return None
        if body[:1] == _RAW:
            return body[1:]
        try:
            value: object = pickle.loads(body[1:])  # signed by a replica of this server: its own data
        except Exception:  # a replica of another version wrote a class this one cannot rebuild
            return None
        return value

    def close(self) -> None:
        self._client.close()


def cache_secret(root_secret: str) -> bytes:
    """The key that signs cached values, derived from the server's root secret (PRISM_API_SECRET)."""
    return hmac.new(root_secret.encode(), b"prism-cache-v1", hashlib.sha256).digest()


def make_cache(backend: CacheBackend, redis_url: str | None = None, secret: bytes = b"") -> Cache:
    """The cache for a resolved backend name; redis needs the URL and the signing secret."""
    if backend == "redis":
        if not redis_url:
            raise ConfigError("PRISM_CACHE_BACKEND=redis needs PRISM_REDIS_URL.",
                              hint="Set PRISM_REDIS_URL=redis://host:6379/0.", value="PRISM_CACHE_BACKEND")
        return RedisCache(redis_url, secret)
    return MemoryCache()
