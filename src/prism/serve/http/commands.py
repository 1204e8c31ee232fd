"""The `prism serve` and `prism keys create|list|revoke|rotate` commands (typer), kept light to import.

Keys are written straight into the server database, so a revoke or rotate is seen by a
running server on its next request. The plaintext key is printed once and never stored.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from prism.config import Settings
from prism.errors import InputError
from prism.serve.http.db import ServerDB
from prism.serve.http.keys import ApiKey, KeyStore
from prism.serve.http.settings import ROLES, load_server_settings, validate_for_start
from prism.serve.output import emit_json, err, reporting
from prism.serve.secrets import SecretBox, load_or_create_dev_secret

keys_app = typer.Typer(name="keys", help="Manage the team server's API keys.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")]


def _store() -> KeyStore:
    """The key store the server uses: same database, same secret (API_SECRET or the dev secret)."""
    server = load_server_settings()
    validate_for_start(server)
    folder = Settings().home / "server"
    root = server.api_secret.get_secret_value() if server.api_secret else load_or_create_dev_secret(folder)
    return KeyStore(ServerDB(folder / "server.db"), SecretBox(root))


def _show(key: ApiKey) -> str:
    expires = time.strftime("%Y-%m-%d", time.gmtime(key.expires_at)) if key.expires_at else "never"
    state = "revoked" if key.revoked_at else "active"
    return (f"{key.key_id}  {key.name}  role={key.role}  projects={','.join(key.projects)}  "
            f"expires={expires}  {state}")


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key.")],
    role: Annotated[str, typer.Option("--role", help="reader, writer or admin.")] = "reader",
    project: Annotated[list[str] | None, typer.Option(
        "--project", help="Allowed project (repeatable; default all).")] = None,
    expires_days: Annotated[float | None, typer.Option("--expires-days", help="Expire after this many days.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a key; its secret is printed once, on stdout."""
    with reporting(json_out):
        if role not in ROLES:
            raise InputError(f"Unknown role {role!r}.", hint=f"Use one of {', '.join(ROLES)}.", value=role)
        expires = time.time() + expires_days * 86400 if expires_days else None
        key, secret = _store().create(name, role, tuple(project or ("*",)), expires)
        if json_out:
            emit_json({"key": key.to_dict(), "api_key": secret})
            return
        err.print(f"Created {_show(key)}. Store the key now: it is not shown again.", highlight=False)
        sys.stdout.write(secret + "\n")


@keys_app.command("list")
def list_keys(
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List keys (ids and metadata, never secrets)."""
    with reporting(json_out):
        keys = _store().all(include_revoked=all_keys)
        if json_out:
            emit_json({"keys": [k.to_dict() for k in keys]})
            return
        if not keys:
            err.print("No keys yet. Create one with `prism keys create --name NAME --role admin`.")
        for key in keys:
            sys.stdout.write(_show(key) + "\n")


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id (the 12 hex chars after `prism_`).")],
           json_out: JsonOpt = False) -> None:
    """Revoke a key; a running server refuses it on the next request."""
    with reporting(json_out):
        key = _store().revoke(key_id)
        if json_out:
            emit_json({"key": key.to_dict()})
        else:
            err.print(f"Revoked {_show(key)}.", highlight=False)


@keys_app.command("rotate")
def rotate(key_id: Annotated[str, typer.Argument(help="The key id to replace.")], json_out: JsonOpt = False) -> None:
    """Issue a new secret for a key (same name, role, projects); the old one stops working at once."""
    with reporting(json_out):
        key, secret = _store().rotate(key_id)
        if json_out:
            emit_json({"key": key.to_dict(), "api_key": secret, "replaces": key_id})
            return
        err.print(f"Rotated {key_id} → {_show(key)}. Store the new key now.", highlight=False)
        sys.stdout.write(secret + "\n")


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes; with more "
                                         "than one, rate limits are shared through PRISM_HOME/server/"
                                         "ratelimit.db (see PRISM_RATE_BACKEND).")] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the team HTTP API (uvicorn); refuses unsafe production settings before binding."""
    from prism.serve.http.app import run

    with reporting(False):
        run(host, port, workers=workers, log_level=log_level)
