"""The `prism serve`, `prism keys …`, `prism audit` and `prism usage` commands (typer), kept light to import.

Keys are written straight into the server database, so a revoke or rotate is seen by a
running server on its next request. The plaintext key is printed once and never stored. The
local operator holds every right; each change is written to the audit log as `cli:<user>`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from prism.config import Settings
from prism.errors import InputError
from prism.serve.output import emit_json, err, out, reporting

if TYPE_CHECKING:  # the server's modules (settings, database, keys, crypto) load only when a command runs
    from prism.serve.http.audit import Actor, AuditLog
    from prism.serve.http.keys import ApiKey, KeyStore

MAX_EXPIRES_DAYS = 3650  # as the API's KeyCreate.expires_days

keys_app = typer.Typer(name="keys", help="Manage the team server's API keys.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")]
ExpiresOpt = Annotated[float | None, typer.Option(
    "--expires-days", help=f"Expire after this many days (more than 0, at most {MAX_EXPIRES_DAYS}).")]


@dataclass
class _Server:
    """What the commands open: the server's key store, audit log and settings."""

    keys: KeyStore
    audit: AuditLog
    jwt_max_ttl_s: int
    jwt_leeway_s: int


def _server() -> _Server:
    """The key store the server uses: same database, same secret (API_SECRET or the dev secret)."""
    from prism.serve.http.audit import AuditLog
    from prism.serve.http.keys import KeyStore
    from prism.serve.http.server_store import open_server_store
    from prism.serve.http.settings import load_server_settings, validate_for_start
    from prism.serve.secrets import SecretBox, load_or_create_dev_secret

    server = load_server_settings()
    validate_for_start(server)
    settings = Settings()
    folder = settings.home / "server"
    root = server.api_secret.get_secret_value() if server.api_secret else load_or_create_dev_secret(folder)
    db = open_server_store(folder, settings.database_url.get_secret_value() if settings.database_url else None)
    return _Server(KeyStore(db, SecretBox(root)), AuditLog(db), server.jwt_max_ttl_s, server.jwt_leeway_s)


def cli_actor() -> Actor:
    """`cli:<user>`, the audit principal of these commands (the audit module loads on first use)."""
    from prism.serve.http.audit import cli_actor as actor

    return actor()


def _expiry(days: float | None) -> float | None:
    """Days from now → a time; 0, negative or absurd values are refused (0 never meant 'never')."""
    if days is None:
        return None
    if not 0 < days <= MAX_EXPIRES_DAYS:
        raise InputError(f"--expires-days must be more than 0 and at most {MAX_EXPIRES_DAYS}.",
                         hint="Leave it out for a key that never expires.", value=days)
    return time.time() + days * 86400


def _show(key: ApiKey) -> str:
    from prism.serve.http.scopes import sorted_actions

    expires = time.strftime("%Y-%m-%d", time.gmtime(key.expires_at)) if key.expires_at else "never"
    state = "revoked" if key.revoked_at else "active"
    return (f"{key.key_id}  {key.name}  role={key.role}  actions={','.join(sorted_actions(key.actions))}  "
            f"projects={','.join(key.projects)}  expires={expires}  {state}")


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key.")],
    role: Annotated[str | None, typer.Option("--role", help="reader, writer or admin (default reader).")] = None,
    actions: Annotated[list[str] | None, typer.Option(
        "--actions", help="Exact actions instead of a role, comma-separated or repeated "
                          "(e.g. search,context).")] = None,
    project: Annotated[list[str] | None, typer.Option(
        "--project", help="Allowed project (repeatable; default all).")] = None,
    expires_days: ExpiresOpt = None,
    description: Annotated[str, typer.Option("--description", help="What the key is for.")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Create a key; its secret is printed once, on stdout."""
    from prism.serve.http.scopes import parse_actions
    from prism.serve.http.settings import ROLES

    with reporting(json_out):
        if role is not None and actions:
            raise InputError("Give --role or --actions, not both.", hint="A role is a preset of actions.")
        if role is not None and role not in ROLES:
            raise InputError(f"Unknown role {role!r}.", hint=f"Use one of {', '.join(ROLES)}.", value=role)
        wanted = parse_actions(actions) if actions else None
        server = _server()
        key, secret = server.keys.create(name, role or "reader", tuple(project or ("*",)), _expiry(expires_days),
                                         actions=wanted, description=description)
        server.audit.record(cli_actor(), "key.create", key.key_id, key.audit_details())
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
        keys = _server().keys.all(include_revoked=all_keys)
        if json_out:
            emit_json({"keys": [k.to_dict() for k in keys]})
            return
        if not keys:
            err.print("No keys yet. Create one with `prism keys create --name NAME --role admin`.")
        for key in keys:
            sys.stdout.write(_show(key) + "\n")


@keys_app.command("edit")
def edit(
    key_id: Annotated[str, typer.Argument(help="The key id (the 12 hex chars after `prism_`).")],
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    description: Annotated[str | None, typer.Option("--description", help="A new description.")] = None,
    expires_days: ExpiresOpt = None,
    no_expiry: Annotated[bool, typer.Option("--no-expiry", help="Make the key never expire.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Change a key's name, description or expiry; its secret (and rights) stay."""
    with reporting(json_out):
        if no_expiry and expires_days is not None:
            raise InputError("Give --expires-days or --no-expiry, not both.", hint="See `prism keys edit --help`.")
        if name is None and description is None and expires_days is None and not no_expiry:
            raise InputError("Nothing to change.", hint="Pass --name, --description, --expires-days or --no-expiry.")
        server = _server()
        set_expiry = no_expiry or expires_days is not None
        key = server.keys.edit(key_id, name=name, description=description, expires_at=_expiry(expires_days),
                               set_expiry=set_expiry)
        changed = [flag for flag, given in (("name", name is not None), ("description", description is not None),
                                            ("expires_days", set_expiry)) if given]
        server.audit.record(cli_actor(), "key.edit", key_id, {"changed": changed, "expires_at": key.expires_at})
        if json_out:
            emit_json({"key": key.to_dict()})
        else:
            err.print(f"Edited {_show(key)}.", highlight=False)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id (the 12 hex chars after `prism_`).")],
           json_out: JsonOpt = False) -> None:
    """Revoke a key; a running server refuses it on the next request."""
    with reporting(json_out):
        server = _server()
        key = server.keys.revoke(key_id)
        server.audit.record(cli_actor(), "key.revoke", key_id)
        if json_out:
            emit_json({"key": key.to_dict()})
        else:
            err.print(f"Revoked {_show(key)}.", highlight=False)


@keys_app.command("rotate")
def rotate(key_id: Annotated[str, typer.Argument(help="The key id to replace.")], json_out: JsonOpt = False) -> None:
    """Issue a new secret for a key (same name, rights, projects); the old one stops working at once."""
    with reporting(json_out):
        server = _server()
        key, secret = server.keys.rotate(key_id)
        server.audit.record(cli_actor(), "key.rotate", key_id, {"replaced_by": key.key_id})
        if json_out:
            emit_json({"key": key.to_dict(), "api_key": secret, "replaces": key_id})
            return
        err.print(f"Rotated {key_id} → {_show(key)}. Store the new key now.", highlight=False)
        sys.stdout.write(secret + "\n")


@keys_app.command("revoke-token")
def revoke_token(jti: Annotated[str, typer.Argument(help="The `jti` claim of the JWT to refuse.")],
                 json_out: JsonOpt = False) -> None:
    """Refuse every JWT carrying this `jti`; kept until every such token has expired."""
    with reporting(json_out):
        if not 0 < len(jti) <= 200:
            raise InputError("A jti is 1–200 characters.", hint="Copy the token's `jti` claim.", value=jti[:50])
        server = _server()
        forget_after = time.time() + server.jwt_max_ttl_s + server.jwt_leeway_s
        server.keys.revoke_token(jti, forget_after)
        server.audit.record(cli_actor(), "token.revoke", jti)
        if json_out:
            emit_json({"jti": jti, "forget_after": forget_after})
        else:
            err.print(f"Revoked JWT id {jti}: refused from the next request.", highlight=False)


def audit(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Most events to print.")] = 100,
    before: Annotated[int | None, typer.Option("--before", min=1, help="Only events before this id.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Print the team server's audit log (key and project changes), newest first."""
    with reporting(json_out):
        events = _server().audit.read(limit, before)
        if json_out:
            emit_json({"events": events})
            return
        if not events:
            err.print("The audit log is empty.")
        for event in events:
            where = f"  from {event['address']}" if event["address"] else ""
            request = f"  request {event['request_id']}" if event["request_id"] else ""
            sys.stdout.write(f"{event['id']}  {event['time']}  {event['principal']}  {event['event']}  "
                             f"{event['target']}{where}{request}\n")


BAR_WIDTH = 30


def _bar(used: int, limit: int, target: int | None, alert: int) -> str:
    """A rich-markup bar: filled to `used`, green below the target, yellow below the alert, red past it;
    `┊` marks the target and `!` the alert threshold."""
    filled = min(BAR_WIDTH, round(BAR_WIDTH * used / limit))
    colour = "red" if used >= alert else "yellow" if target is not None and used >= target else "green"
    empty = [" "] * (BAR_WIDTH - filled)
    for mark, at in (("┊", target), ("!", alert)):
        position = None if at is None else min(BAR_WIDTH - 1, BAR_WIDTH * at // limit) - filled
        if position is not None and position >= 0:
            empty[position] = f"[dim]{mark}[/]"
    return f"[{colour}]{'█' * filled}[/]" + "".join(empty)


def usage(
    days: Annotated[int, typer.Option("--days", min=1, max=400, help="UTC days of totals to show.")] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Today's use of each daily quota (with bars: target ┊, alert !) and the meter's totals per day."""
    from rich.table import Table

    from prism.ops.meter import open_meter, totals, utc_day
    from prism.ops.quotas import QuotaBook, parse_quotas
    from prism.serve.http.settings import load_server_settings

    with reporting(json_out):
        server = load_server_settings()
        redis_url = server.redis_url.get_secret_value() if server.redis_url else None
        meter = open_meter(Settings().home, redis_url)
        try:
            quotas = QuotaBook(parse_quotas(server.quotas), meter).table()
            since = utc_day(time.time() - (days - 1) * 86400)
            by_day = totals(meter.rows(since), ("day",))
            per_day = {day: dict(sorted(counts.items())) for (day,), counts in sorted(by_day.items())}
        finally:
            meter.close()
        if json_out:
            emit_json({"day": utc_day(), "quotas": quotas, "days": per_day})
            return
        table = Table(title=f"Quotas, {utc_day()} (UTC)" if quotas else "No quotas set (PRISM_QUOTAS): unlimited")
        for column in ("resource", "per", "subject", "used", "limit", "target", "alert", ""):
            table.add_column(column, justify="right" if column in ("used", "limit", "target", "alert") else "left")
        for row in quotas:
            used, limit, alert = (int(str(row[k])) for k in ("used", "limit", "alert"))
            target = None if row["target"] is None else int(str(row["target"]))
            table.add_row(str(row["resource"]), str(row["per"]), str(row["subject"]), f"{used:,}", f"{limit:,}",
                          "-" if target is None else f"{target:,}", f"{alert:,}",
                          _bar(used, limit, target, alert) + f" {row['percent']}%")
        out.print(table)
        daily = Table(title=f"Metered, last {days} day(s)")
        metrics = ("requests", "searches", "context_packs", "tokens_served", "tokens_saved", "cache_hits",
                   "cache_misses", "embeddings", "errors")
        daily.add_column("day")
        for metric in metrics:
            daily.add_column(metric.replace("_", " "), justify="right")
        for day, counts in per_day.items():
            daily.add_row(day, *(f"{counts.get(m, 0):,}" for m in metrics))
        out.print(daily)


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
