"""Contract suite for the Cache Protocol: the in-process LRU and Redis keep, expire and invalidate alike."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from prism.cache import Cache, MemoryCache, RedisCache, cache_secret, make_cache
from prism.errors import ConfigError
from prism.models import SearchFilters
from services import free_port

SECRET = cache_secret("a server secret that every replica shares, 48 chars")


def redis_cache(url: str, prefix: str, secret: bytes = SECRET) -> RedisCache:
    return RedisCache(url, secret, prefix=prefix)


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    if request.param == "memory":
        yield MemoryCache()
        return
    made = redis_cache(request.getfixturevalue("redis_url"), f"test:{uuid.uuid4().hex}:")  # a test's own keys
    yield made
    made.close()


def test_a_value_comes_back_as_it_was_set(cache: Cache) -> None:
    assert cache.get("ns", "missing") is None
    filters = SearchFilters(languages=("python",), path="src/", min_score=0.25)
    cache.set("ns", "bytes", b"\x00\x01raw", 60)
    cache.set("ns", "typed", (filters, "text", 3), 60)
    assert cache.get("ns", "bytes") == b"\x00\x01raw"
    assert cache.get("ns", "typed") == (filters, "text", 3)
    cache.set("ns", "bytes", b"again", 60)  # a second set replaces the first
    assert cache.get("ns", "bytes") == b"again"


def test_namespaces_keep_equal_keys_apart(cache: Cache) -> None:
    cache.set("results:a:1", "k", b"a", 60)
    cache.set("results:b:1", "k", b"b", 60)
    assert (cache.get("results:a:1", "k"), cache.get("results:b:1", "k")) == (b"a", b"b")


def test_a_value_expires_after_its_ttl_and_ttl_zero_keeps_nothing(cache: Cache) -> None:
    cache.set("ns", "short", b"v", 0.05)
    cache.set("ns", "long", b"v", 60)
    cache.set("ns", "none", b"v", 0)
    assert cache.get("ns", "none") is None
    time.sleep(0.2)
    assert cache.get("ns", "short") is None and cache.get("ns", "long") == b"v"


def test_invalidate_forgets_one_namespace_only(cache: Cache) -> None:
    cache.set("results:p:1", "k", b"old", 60)
    cache.set("results:q:1", "k", b"other", 60)
    cache.invalidate("results:p:1")
    assert cache.get("results:p:1", "k") is None and cache.get("results:q:1", "k") == b"other"
    cache.set("results:p:1", "k", b"new", 60)  # the namespace works on after it
    assert cache.get("results:p:1", "k") == b"new"
    cache.invalidate("results:never-used")  # nothing to forget is no error


def test_memory_keeps_the_object_itself_and_evicts_least_recently_used() -> None:
    cache = MemoryCache(entries=2)
    value = [1, 2]
    cache.set("ns", "a", value, 60)
    cache.set("ns", "b", b"2", 60)
    assert cache.get("ns", "a") is value  # a hit is the very object: results are frozen records
    cache.set("ns", "c", b"3", 60)  # evicts b, the least recently used
    assert cache.get("ns", "b") is None and cache.get("ns", "a") is value and cache.get("ns", "c") == b"3"
    assert MemoryCache(entries=0).get("ns", "a") is None


def test_two_redis_caches_share_values_and_invalidations(redis_url: str) -> None:
    """Two replicas on one Redis: what one sets the other reads; what one invalidates is gone for both."""
    prefix = f"test:{uuid.uuid4().hex}:"
    first, second = redis_cache(redis_url, prefix), redis_cache(redis_url, prefix)
    first.set("results:p:1", "k", (SearchFilters(scope="code"), 7), 60)
    assert second.get("results:p:1", "k") == (SearchFilters(scope="code"), 7)
    second.invalidate("results:p:1")
    assert first.get("results:p:1", "k") is None
    first.close()
    second.close()


def test_a_value_not_signed_with_this_servers_secret_is_a_miss(redis_url: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Another secret (or anyone else writing to Redis): the value is never unpickled."""
    prefix = f"test:{uuid.uuid4().hex}:"
    ours, theirs = redis_cache(redis_url, prefix), redis_cache(redis_url, prefix, cache_secret("another secret"))
    theirs.set("ns", "k", {"would": "unpickle"}, 60)
    with caplog.at_level(logging.WARNING, logger="prism.cache"):
        assert ours.get("ns", "k") is None
    assert "not signed" in caplog.text
    ours.close()
    theirs.close()


def test_redis_down_is_a_miss_logged_once_never_an_error(caplog: pytest.LogCaptureFixture) -> None:
    """A closed port: every call answers at once, one warning, and a local LRU stands in."""
    cache = redis_cache(f"redis://127.0.0.1:{free_port()}/0", "prism:cache:")
    with caplog.at_level(logging.WARNING, logger="prism.cache"):
        assert cache.get("ns", "k") is None
        cache.set("ns", "k", b"v", 60)
        cache.invalidate("other")
        assert cache.get("ns", "k") == b"v"  # from the stand-in, while Redis stays out
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "PRISM_REDIS_URL failed (ConnectionError)" in caplog.records[0].message
    cache.close()


def test_make_cache_refuses_redis_without_a_url_or_a_secret(redis_url: str) -> None:
    assert isinstance(make_cache("memory"), MemoryCache)
    with pytest.raises(ConfigError, match="needs PRISM_REDIS_URL"):
        make_cache("redis")
    with pytest.raises(ConfigError, match="secret"):
        make_cache("redis", redis_url, b"")
    with pytest.raises(ConfigError, match="not a Redis URL"):
        make_cache("redis", "http://example.com", SECRET)


def test_request_keys_are_the_same_in_every_process() -> None:
    """Replicas must build the same key for the same request, whatever their hash seeds."""
    code = ("from prism.cache import request_key; from prism.models import SearchFilters; "
            "print(request_key('search', 3, 'refresh token', 10, SearchFilters(languages=('go', 'python'))))")
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip() for seed in ("1", "2")}
    assert len(keys) == 1 and len(keys.pop()) == 32
