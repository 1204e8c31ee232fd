"""Contract suite for the ServerStore: SQLite (server.db) and PostgreSQL give the same keys, projects and audit log.

Each test runs on both backends through `opener`, which opens another store on the same data
each time it is called: two stores stand for two replicas (processes, hosts) sharing one
database. The PostgreSQL backend gives each test a scratch database of its own on the session's
server (the server store is one per database, so a prefix cannot keep tests apart).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from prism.errors import BackendUnavailableError, ConfigError
from prism.serve.http.audit import Actor, AuditLog
from prism.serve.http.db import ServerDB
from prism.serve.http.errors import AuthenticationError, ConflictError, KeyRevokedError
from prism.serve.http.keys import KeyStore
from prism.serve.http.server_store import Row, ServerStore, open_server_store
from prism.serve.secrets import SecretBox
from services import scratch_database

Opener = Callable[[], ServerStore]
BOX = SecretBox("contract-secret-" + "c" * 30)


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    with ExitStack() as stack:
        url = None
        if request.param == "postgresql":  # asked only here: SQLite runs need no server
            url = stack.enter_context(scratch_database(str(request.getfixturevalue("postgres_url"))))

        def open_one() -> ServerStore:
            store = open_server_store(tmp_path / "server", url)
            stack.callback(store.close)  # closed before the scratch database is dropped
            return store

        yield open_one


@pytest.fixture
def store(opener: Opener) -> ServerStore:
    return opener()


def test_it_reports_its_backend_and_schema(store: ServerStore, request: pytest.FixtureRequest) -> None:
    assert store.backend == request.node.callspec.params["opener"]
    assert store.is_current and store.ping()
    assert store.counts() == {"keys": 0, "projects": 0, "audit_events": 0} | (
        {"stored_secrets": 0} if isinstance(store, ServerDB) else {})


def test_a_key_verifies_until_revoked_and_a_revoke_is_seen_at_once_by_another_store(opener: Opener) -> None:
    first, second = KeyStore(opener(), BOX), KeyStore(opener(), BOX)
    admin, _ = first.create("admin", "admin")
    reader, secret = first.create("ci", "reader", ("shop",), description="nightly")
    seen = second.verify(secret)  # made through one replica, accepted by the other
    assert (seen.key_id, seen.name, seen.role, seen.projects, seen.description) == (
        reader.key_id, "ci", "reader", ("shop",), "nightly")
    assert [k.key_id for k in second.all()] == [admin.key_id, reader.key_id]
    first.revoke(reader.key_id)
    with pytest.raises(KeyRevokedError):
        second.verify(secret)  # no cache on the other replica outlives the revoke
    assert [k.key_id for k in second.all()] == [admin.key_id]
    assert [k.key_id for k in second.all(include_revoked=True)] == [admin.key_id, reader.key_id]
    assert first.revoke(reader.key_id).revoked_at == second.get(reader.key_id).revoked_at  # idempotent


def test_unknown_and_wrong_keys_are_refused_alike(store: ServerStore) -> None:
    keys = KeyStore(store, BOX)
    _, secret = keys.create("ci", "reader")
    key_id = secret.split("_")[1]
    for wrong in (secret[:-4] + "abcd", f"prism_{'0' * 12}_{secret.split('_', 2)[2]}"):
        with pytest.raises(AuthenticationError, match="not valid"):
            keys.verify(wrong)
    assert store.key_with_hash("f" * 12)[1] is None
    assert store.key_with_hash(key_id)[1] is not None


def test_verifying_a_key_is_one_round_trip(store: ServerStore) -> None:
    """What every authenticated request costs: one statement (plus, once a minute, the last-use write)."""
    keys = KeyStore(store, BOX)
    _, secret = keys.create("ci", "reader")
    keys.verify(secret)  # the first use records last_used_at
    statements: list[str] = []
    runner = store._runner  # type: ignore[attr-defined]

    class Counting:
        def query(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
            statements.append(sql)
            return runner.query(sql, params)  # type: ignore[no-any-return]

        def execute(self, sql: str, params: tuple[object, ...] = ()) -> int:
            statements.append(sql)
            return runner.execute(sql, params)  # type: ignore[no-any-return]

    store._runner = Counting()  # type: ignore[attr-defined]
    for _ in range(3):
        keys.verify(secret)
    assert len(statements) == 3, statements


def test_rotate_and_edit(store: ServerStore) -> None:
    keys = KeyStore(store, BOX)
    keys.create("admin", "admin")
    old, old_secret = keys.create("bot", "writer", expires_at=time.time() + 3600)
    new, new_secret = keys.rotate(old.key_id)
    assert (new.name, new.actions, new.expires_at) == (old.name, old.actions, old.expires_at)
    with pytest.raises(KeyRevokedError):
        keys.verify(old_secret)
    assert keys.verify(new_secret).key_id == new.key_id
    with pytest.raises(KeyRevokedError):
        keys.rotate(old.key_id)
    lapsed, _ = keys.create("lapsed", "reader", expires_at=time.time() + 3600)
    store.update_key(lapsed.key_id, {"expires_at": time.time() - 1})
    with pytest.raises(ConflictError, match="expired"):  # not a 422 for a well-formed request
        keys.rotate(lapsed.key_id)
    edited = keys.edit(new.key_id, name="ci bot", description="builds", set_expiry=True)
    assert (edited.name, edited.description, edited.expires_at) == ("ci bot", "builds", None)
    assert keys.verify(new_secret).name == "ci bot"


def test_two_admins_revoking_each_other_at_once_on_two_stores_leave_one(opener: Opener) -> None:
    """The key transaction serialises key changes across stores: the last admin always survives."""
    first, second = KeyStore(opener(), BOX), KeyStore(opener(), BOX)
    survivor: str | None = None
    for _ in range(3):  # each round: exactly two active admins, each revoking the other
        a, _ = first.create("a", "admin")
        b, _ = first.create("b", "admin")
        if survivor is not None:
            first.revoke(survivor)
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def revoke(keys: KeyStore, key_id: str, barrier: threading.Barrier, outcomes: list[str]) -> None:
            barrier.wait()
            try:
                keys.revoke(key_id)
                outcomes.append("revoked")
            except ConflictError:
                outcomes.append("refused")

        threads = [threading.Thread(target=revoke, args=(keys, key.key_id, barrier, outcomes))
                   for keys, key in ((first, a), (second, b))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["refused", "revoked"]
        assert len(first.all()) == 1
        survivor = first.all()[0].key_id


def test_the_jwt_deny_list_keeps_the_latest_expiry_and_forgets_expired_entries(opener: Opener) -> None:
    first, second = KeyStore(opener(), BOX), KeyStore(opener(), BOX)
    now = time.time()
    first.revoke_token("jti-1", now + 60)
    first.revoke_token("jti-1", now + 30)  # idempotent; the later expiry stays
    assert second.token_revoked("jti-1") and not second.token_revoked("jti-2")
    store = opener()
    store.revoke_token("old", now - 100, now - 50)  # revoked long ago, every token with it expired
    store.revoke_token("jti-2", now, now + 10)  # each revoke drops expired entries
    assert not second.token_revoked("old") and second.token_revoked("jti-2")
    assert store.token_revoked("jti-1")


def test_every_key_and_deny_list_entry_exports_with_what_add_key_takes(opener: Opener) -> None:
    """What `prism migrate --server` reads: revoked and rotated keys too, with their hashes."""
    store = opener()
    keys = KeyStore(store, BOX)
    old, _ = keys.create("old", "reader")
    rotated, _ = keys.rotate(old.key_id)
    revoked, _ = keys.create("gone", "writer", ("shop",))
    keys.revoke(revoked.key_id)
    store.revoke_token("jti-9", 10.0, time.time() + 60)
    exported = {str(row["key_id"]): row for row in opener().export_keys()}
    assert set(exported) == {old.key_id, rotated.key_id, revoked.key_id}
    assert exported[old.key_id]["rotated_to"] == rotated.key_id and exported[revoked.key_id]["revoked_at"]
    assert all(len(str(row["key_hash"])) == 64 for row in exported.values())
    assert opener().revoked_tokens() == [("jti-9", 10.0, pytest.approx(time.time() + 60, abs=30))]


def test_projects_are_shared_and_a_name_is_taken_once(opener: Opener) -> None:
    first, second = opener(), opener()
    assert first.add_project(("shop", "path", "/srv/shop", "/home/i/shop", 1.5))
    assert not second.add_project(("shop", "upload", "/x", "/y", 2.0))  # taken, on any replica
    assert second.add_project(("api", "upload", "/srv/api", "/home/i/api", 2.5))
    assert second.project("shop") == ("shop", "path", "/srv/shop", "/home/i/shop", 1.5)
    assert [row[0] for row in first.projects()] == ["api", "shop"]
    second.delete_project("shop")
    assert first.project("shop") is None and [row[0] for row in first.projects()] == ["api"]


def test_index_generations_and_the_writer_lock_are_shared(opener: Opener) -> None:
    first, second = opener(), opener()
    assert first.add_project(("shop", "path", "/srv/shop", "/home/i/shop", 1.5))
    assert second.index_state("shop") is None  # none recorded yet
    first.set_index_state("shop", (0, 0, "new"))
    first.set_index_state("shop", (3, 2, "indexing"))
    assert second.index_state("shop") == (3, 2, "indexing")
    with first.project_lock("shop", 0.0) as held:
        assert held
        with second.project_lock("shop", 0.1) as other:
            assert not other  # one writer per project, across stores
        with second.project_lock("api", 0.0) as other:
            assert other  # another project's lock is free
    with second.project_lock("shop", 0.0) as held:
        assert held  # released at the end of the block
    second.delete_project("shop")
    assert first.index_state("shop") is None


def test_the_audit_log_reads_newest_first_pages_back_and_refuses_changes(opener: Opener) -> None:
    first, second = AuditLog(opener()), AuditLog(opener())
    for n in range(5):
        (first if n % 2 else second).record(Actor("key:abc", f"req-{n}", "10.0.0.1"), "key.create", f"k{n}",
                                            {"n": n})
    events = first.read(limit=3)
    assert [e["target"] for e in events] == ["k4", "k3", "k2"]
    assert events[0]["details"] == {"n": 4} and events[0]["request_id"] == "req-4"
    older = second.read(limit=10, before=int(str(events[-1]["id"])))
    assert [e["target"] for e in older] == ["k1", "k0"]
    store = opener()
    for statement in ("UPDATE {audit} SET principal = 'someone else'", "DELETE FROM {audit}"):
        with pytest.raises(Exception, match="append-only"):
            store._runner.execute(store._dialect.sql(statement))  # type: ignore[attr-defined]
    assert store.counts()["audit_events"] == 5


def test_active_keys_for_the_monthly_review(store: ServerStore) -> None:
    keys = KeyStore(store, BOX)
    kept, _ = keys.create("kept", "reader")
    gone, _ = keys.create("gone", "reader")
    keys.revoke(gone.key_id)
    assert [(k["key_id"], k["name"]) for k in store.active_keys()] == [(kept.key_id, "kept")]


# -- PostgreSQL only -----------------------------------------------------------------------------


def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    from prism.serve.http.server_postgres import MIGRATIONS, PostgresServerStore

    with scratch_database(postgres_url) as url:
        stores: list[PostgresServerStore] = []
        lock = threading.Lock()

        def start() -> None:
            store = PostgresServerStore.connect(url, max_size=1)
            with lock:
                stores.append(store)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert len(stores) == 4 and all(store.is_current for store in stores)
            assert stores[0]._runner.query("SELECT COUNT(*) FROM prism_server_schema") == [(len(MIGRATIONS),)]
        finally:
            for store in stores:
                store.close()


def test_a_bad_url_or_an_unreachable_server_is_a_prism_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="postgresql://"):
        open_server_store(tmp_path, "mysql://db/prism")
    with pytest.raises(BackendUnavailableError, match="cannot be reached"):
        open_server_store(tmp_path, f"postgresql://prism@/prism?host={tmp_path}&connect_timeout=1")
