"""copy_server between two embedded homes: everything arrives, a failed copy leaves the destination as it
was (an index already there untouched), a running writer stops it, and the JWT deny list drops expired entries.
(The PostgreSQL round trip through the CLI is tests/e2e/test_migrate_server.py.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prism.errors import IndexLockedError, InputError
from prism.index.sqlite import SqliteStore
from prism.serve.http import server_transfer
from prism.serve.http.audit import Actor, AuditLog
from prism.serve.http.keys import KeyStore
from prism.serve.http.server_transfer import Side, copy_server, embedded_side
from prism.serve.http.uploads import FileOutcome
from prism.serve.secrets import SecretBox

BOX = SecretBox("transfer-secret-" + "t" * 30)
ACTOR = Actor("cli:test", None, "local")


def source_server(folder: Path) -> tuple[Side, str]:
    side = embedded_side(folder, create=True)
    keys = KeyStore(side.store, BOX)
    _, secret = keys.create("ci", "reader", ("up",))
    AuditLog(side.store).record(ACTOR, "key.create", "ci")
    now = time.time()
    side.store.revoke_token("live", now, now + 3600)
    side.store.revoke_token("expired", now - 7200, now - 1)  # still a row: only the next revoke prunes it
    side.store.add_project(("up", "upload", str(folder / "files" / "up"), str(folder / "indexes" / "up"), now))
    side.store.add_project(("path", "path", str(folder.parent), str(folder / "indexes" / "path"), now))
    side.store.set_index_state("up", (2, 2, "ready"))
    assert {o.status for o in side.files.apply("up", [("src/a.py", b"x = 1\n"), ("b.md", b"# b\n")], [])} == {"written"}
    index = side.index("path")
    assert index is not None
    index.set_meta({"root": str(folder.parent), "chunker_version": "4"})
    index.close()
    side.close()
    return embedded_side(folder, create=False), secret  # as `prism migrate` opens a source


def test_everything_arrives_and_the_source_is_unchanged(tmp_path: Path) -> None:
    source, secret = source_server(tmp_path / "a" / "server")
    dest = embedded_side(tmp_path / "b" / "server", create=True)
    moved = copy_server(source, dest, ACTOR)
    assert [(p.name, p.uploaded_files, p.indexed) for p in moved.projects] == [("path", 0, True), ("up", 2, False)]
    assert (moved.keys, moved.revoked_tokens, moved.audit_events) == (1, 1, 1)
    assert KeyStore(dest.store, BOX).verify(secret).projects == ("up",)
    assert dest.store.token_revoked("live") and not dest.store.token_revoked("expired")
    assert dest.store.index_state("up") == (2, 2, "ready") and dest.store.index_state("path") is None
    assert dest.files.sizes("up") == {"src/a.py": 6, "b.md": 4}
    assert [row[3] for row in dest.store.audit(10)] == ["server.migrate", "key.create"]
    copied = SqliteStore(tmp_path / "b" / "server" / "indexes" / "path" / "index.db")
    assert copied.get_meta("chunker_version") == "4"
    copied.close()
    assert source.store.counts() == {"keys": 1, "projects": 2, "audit_events": 1, "stored_secrets": 0}
    with pytest.raises(InputError, match="already holds"):
        copy_server(source, dest, ACTOR)  # a second run into the same destination is refused
    for side in (source, dest):
        side.close()


def test_uploaded_files_go_in_batches_and_only_plain_files_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, _ = source_server(tmp_path / "a" / "server")
    root = tmp_path / "a" / "server" / "files" / "up"
    (tmp_path / "outside.txt").write_text("not the project's")
    (root / "link.py").symlink_to(tmp_path / "outside.txt")  # no upload makes a link: it is not carried
    stored: list[int] = []
    dest = embedded_side(tmp_path / "b" / "server", create=True)
    apply = dest.files.apply

    def counting(project: str, writes: list[tuple[str, bytes]], deletes: list[str]) -> list[FileOutcome]:
        stored.append(len(writes))
        return apply(project, writes, deletes)

    monkeypatch.setattr(dest.files, "apply", counting)
    monkeypatch.setattr(server_transfer, "UPLOAD_BATCH_BYTES", 1)  # one file a batch
    moved = copy_server(source, dest, ACTOR)
    assert stored == [1, 1] and [p.uploaded_files for p in moved.projects if p.name == "up"] == [2]
    assert sorted(dest.files.sizes("up")) == ["b.md", "src/a.py"]
    for side in (source, dest):
        side.close()


def test_a_failed_copy_leaves_the_destination_as_it_was(tmp_path: Path) -> None:
    source, _ = source_server(tmp_path / "a" / "server")
    dest = embedded_side(tmp_path / "b" / "server", create=True)
    there = dest.index("path")  # the destination holds an index of that name already (not the server's)
    assert there is not None
    there.set_meta({"chunker_version": "4", "root": "/elsewhere"})
    there.close()
    with pytest.raises(InputError, match="already holds an index"):
        copy_server(source, dest, ACTOR)
    assert dest.store.projects() == [] and dest.store.keys(include_revoked=True) == []
    assert dest.store.audit(10) == [] and dest.files.sizes("up") == {}
    kept = SqliteStore(tmp_path / "b" / "server" / "indexes" / "path" / "index.db")
    assert kept.get_meta("root") == "/elsewhere"  # what was there before is left alone
    kept.close()
    for side in (source, dest):
        side.close()


def test_a_project_being_written_stops_the_move(tmp_path: Path) -> None:
    source, _ = source_server(tmp_path / "a" / "server")
    dest = embedded_side(tmp_path / "b" / "server", create=True)
    with source.store.project_lock("up", 0.0) as held:  # as a running server's index request holds it
        assert held
        with pytest.raises(IndexLockedError, match="Stop every"):
            copy_server(source, dest, ACTOR)
    assert dest.store.projects() == [] and not (tmp_path / "b" / "server" / "indexes" / "path" / "index.db").exists()
    for side in (source, dest):
        side.close()
