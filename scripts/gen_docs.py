"""Regenerate docs/cli.md and docs/settings.md from the code (tests/test_docs.py fails when they drift).

    .venv/bin/python scripts/gen_docs.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer.main
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from prism.config import Settings
from prism.llm.settings import LLMSettings
from prism.serve.cli import app
from prism.serve.http.settings import ServerSettings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _param_line(param: Any) -> str:
    if type(param).__name__.endswith("Argument"):
        return f"- `{str(param.name).upper()}` (argument): {param.help or ''}".rstrip()
    names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    default = ""
    if param.default not in (None, False, (), []) and not param.is_flag:
        default = f" (default: `{param.default}`)"
    return f"- {names}: {param.help or ''}{default}".rstrip()


def _command_md(name: str, command: Any, depth: int) -> list[str]:
    lines = [f"{'#' * depth} `{name}`", "", (command.help or "").strip(), ""]
    params = [p for p in command.params if p.name != "help"]
    lines += [_param_line(p) for p in params]
    lines.append("")
    if hasattr(command, "commands"):
        for sub_name, sub in sorted(command.commands.items()):
            lines += _command_md(f"{name} {sub_name}", sub, depth + 1)
    return lines


# The --json shape of each command: (field, type, meaning). "a[].b" is field b of each item of
# list a; "a.b" field b of object a; a type ending in "?" marks a field that may be absent.
# tests/e2e/test_json_shapes.py runs every command and compares its output with this table.
_KEY = [("key_id", "string", "the id (12 hex characters after `prism_`)"), ("name", "string", "who uses it"),
        ("description", "string", "what the key is for"),
        ("role", "string", "the smallest preset holding its actions: reader, writer or admin"),
        ("actions", "array", "the actions it may take"), ("projects", "array", "allowed projects (`*`: all)"),
        ("created_at", "number", "unix time"), ("expires_at", "number|null", "unix time, or null"),
        ("last_used_at", "number|null", "unix time, or null"), ("revoked_at", "number|null", "unix time, or null")]
_INDEX_REPORT = [
    ("files_seen", "int", "files the walk admitted"), ("files_indexed", "int", "files read and (re)chunked"),
    ("files_unchanged", "int", "files skipped because size/mtime or content hash matched"),
    ("files_deleted", "int", "files gone from disk, removed from the index"),
    ("chunks_written", "int", "chunks stored by this run"),
    ("tokens_written", "int", "tokens in the chunks stored by this run"),
    ("embedded", "int", "vectors computed or copied"),
    ("pending_embeddings", "int", "chunks left without a vector (with --no-embed)"),
    ("seconds", "number", "wall time of the run"),
    ("skipped", "object", "reason → number of files skipped for it"),
    ("skipped_files", "array", "the first 200 skipped files"),
    ("skipped_files[].path", "string", "relative path"),
    ("skipped_files[].reason", "string",
     "too_large, binary, data, secret, generated, unreadable, symlink_loop or outside_root"),
    ("skipped_files[].detail", "string", "what tripped the rule, e.g. `a NUL byte at offset 6`"),
    ("warnings", "array", "up to 50 messages (parse fallbacks, binary source files)"),
]
JSON_SHAPES: dict[str, list[tuple[str, str, str]]] = {
    "index": [("project", "string", "absolute project folder"), *_INDEX_REPORT,
              ("stats", "object",
               "the index after the run: files, chunks, tokens, languages, last_indexed, partial_files")],
    "status": [
        ("project", "string", "absolute project folder"), ("index_dir", "string", "where the index lives"),
        ("files", "int", "files in the index"), ("chunks", "int", "chunks in the index"),
        ("tokens", "int", "tokens in all chunks"),
        ("languages", "object", "language → files; files without one count as `other`; they add up to `files`"),
        ("other_extensions", "object", "extension → files, for the `other` files"),
        ("last_indexed", "number|null", "unix time of the last `prism index` run"),
        ("partial_files", "int", "files whose chunks were cut short"),
        ("embedding_model", "string|null", "the model of the vectors, null when none were computed"),
        ("embedding_dim", "int|null", "vector size"),
        ("pending_embeddings", "int", "chunks without a vector"),
        ("vectors", "string", "on, off (indexed with --no-embed) or not computed"),
        ("options", "object", "what `prism index` remembers"),
        ("options.include", "array", "--include globs"), ("options.exclude", "array", "--exclude globs"),
        ("options.embed", "bool|null", "--embed/--no-embed, null when never given"),
        ("skipped", "object", "reason → files skipped by the last run"),
        ("skipped_files", "array", "every file the last run skipped (up to 10,000), as in `prism index`"),
        ("changed_on_disk", "object", "added, modified, deleted: files changed since the last run"),
        ("stale_files", "int", "their sum"),
    ],
    "projects": [("projects", "array", "indexed projects"), ("projects[].root", "string", "project folder"),
                 ("projects[].index_dir", "string", "its index"), ("projects[].created_at", "number", "unix time")],
    "forget": [("project", "string", "project folder"), ("removed", "bool", "false when there was no index")],
    "watch": [(name, kind, meaning) for name, kind, meaning in _INDEX_REPORT if not name.startswith("skipped_files[]")],
    "search": [
        ("query", "string", "the query as searched"), ("level", "string", "chunk, or file with --files"),
        ("results", "array", "best first"), ("results[].path", "string", "relative path"),
        ("results[].start_line", "int", "first line (1-based)"), ("results[].end_line", "int", "last line"),
        ("results[].symbol", "string", "qualified name (`Class.method`), or the path for a module header"),
        ("results[].kind", "string", "function, method, class, module, section or window"),
        ("results[].score", "number", "0-1, the best result is 1"),
        ("results[].stale", "bool", "the file changed on disk since it was indexed"),
        ("results[].snippet", "string", "the first lines"), ("results[].language", "string", "language"),
        ("results[].explain", "object?", "with --explain: each feature's raw contribution to the score"),
        ("warnings", "array?", "present when results are degraded (e.g. lexical only)"),
    ],
    "context": [
        ("budget", "int", "--budget"), ("tokens", "int", "true token count of this document (≤ budget)"),
        ("tokenizer", "string", "what counted them"), ("intent", "string", "detected or given intent"),
        ("chunks", "array", "the packed code, grouped by file"), ("chunks[].path", "string", "relative path"),
        ("chunks[].start_line", "int", "first line"), ("chunks[].end_line", "int", "last line"),
        ("chunks[].symbol", "string", "qualified name"),
        ("chunks[].level", "string", "full, light, skeleton, signature or reference"),
        ("chunks[].tokens", "int", "tokens of its content"), ("chunks[].handle", "string", "for `prism show`"),
        ("chunks[].content", "string", "the code at that level"),
        ("omitted", "array", "candidates that did not fit, as many as fit the budget"),
        ("omitted[].path", "string", "relative path"), ("omitted[].start_line", "int", "first line"),
        ("omitted[].end_line", "int", "last line"), ("omitted[].symbol", "string", "qualified name"),
        ("omitted[].handle", "string", "for `prism show`"), ("omitted[].tokens", "int", "its size in full"),
        ("omitted_total", "int", "how many were left out in all"),
        ("savings", "object", "tokens saved against sending whole files (empty when it did not fit)"),
    ],
    "map": [("project", "string", "project folder"), ("budget", "int", "--budget"),
            ("tokens", "int", "tokens of `text` (≤ budget)"), ("tokenizer", "string", "what counted them"),
            ("total_files", "int", "files in the index"), ("total_symbols", "int", "classes, functions, methods"),
            ("files", "array", "the files shown, in tree order"), ("files[].path", "string", "relative path"),
            ("files[].rank", "number", "its chunks' PageRank summed"),
            ("files[].symbols", "array", "its top symbols shown, in line order (objects: name, kind, line, "
             "signature, rank)"),
            ("text", "string", "the map as `prism map` prints it")],
    "show": [("target", "string", "what was asked for"), ("results", "array", "the code it names"),
             ("results[].path", "string", "relative path"), ("results[].start_line", "int", "first line"),
             ("results[].end_line", "int", "last line"), ("results[].symbol", "string", "enclosing symbol"),
             ("results[].handle", "string", "chunk handle, empty for a line range"),
             ("results[].content", "string", "the original code")],
    "stats": [("project", "string", "project folder"), ("queries", "int", "context queries answered"),
              ("tokens_served", "int", "tokens of code sent"), ("tokens_saved", "int", "against whole files"),
              ("mean_ms", "number", "mean answer time"), ("last_at", "number|null", "unix time of the last query"),
              ("by_intent", "object", "intent → queries")],
    "mcp install": [("command", "string|null", "the `claude mcp add` line (null for --scope project)"),
                    ("mcp_json", "string|null", "the .mcp.json written, if any"),
                    ("entry", "object", "the server entry: type, command, args")],
    "keys create": [("key", "object", "the key's metadata"), *[(f"key.{n}", t, m) for n, t, m in _KEY],
                    ("api_key", "string", "the secret, shown this once")],
    "keys list": [("keys", "array", "every key"), *[(f"keys[].{n}", t, m) for n, t, m in _KEY]],
    "keys revoke": [("key", "object", "the revoked key"), *[(f"key.{n}", t, m) for n, t, m in _KEY]],
    "keys rotate": [("key", "object", "the key, same id"), *[(f"key.{n}", t, m) for n, t, m in _KEY],
                    ("api_key", "string", "the new secret"), ("replaces", "string", "the key id rotated")],
    "usage": [("day", "string", "today (UTC)"), ("quotas", "array", "each PRISM_QUOTAS quota, per subject"),
              ("quotas[].resource", "string", "requests, searches, context_packs, embeddings, tokens_served or "
               "index_writes"), ("quotas[].per", "string", "key, project or server"),
              ("quotas[].subject", "string", "`key:<id>`, the project, or `*`"), ("quotas[].day", "string", "today"),
              ("quotas[].used", "int", "today's use"), ("quotas[].limit", "int", "the daily limit"),
              ("quotas[].target", "int|null", "the planned daily use"),
              ("quotas[].alert", "int", "the alert threshold"), ("quotas[].percent", "number", "used / limit"),
              ("days", "object", "UTC day → metric → total (requests, searches, tokens_served, …)")],
    "keys edit": [("key", "object", "the key after the edit"), *[(f"key.{n}", t, m) for n, t, m in _KEY]],
    "keys revoke-token": [("jti", "string", "the token id now refused"),
                          ("forget_after", "number", "unix time after which every such token has expired")],
    "audit": [("events", "array", "audit events, newest first"), ("events[].id", "int", "event number"),
              ("events[].at", "number", "unix time"), ("events[].time", "string", "UTC time, ISO 8601"),
              ("events[].principal", "string", "who: key:<id>, jwt:<sub> or cli:<user>"),
              ("events[].event", "string", "e.g. key.create, key.revoke, token.revoke, project.create"),
              ("events[].target", "string", "the key id, token id or project acted on"),
              ("events[].request_id", "string|null", "the HTTP request id (null from the CLI)"),
              ("events[].address", "string", "client address, or `local` for the CLI"),
              ("events[].details", "object", "what changed")],
    "worker": [("worker", "string", "this worker's consumer name"),
               ("jobs", "array", "the jobs it finished (printed on exit)"),
               ("jobs[].id", "string?", "job id"), ("jobs[].kind", "string?", "job kind (index)"),
               ("jobs[].state", "string?", "done or failed"), ("jobs[].payload", "object?", "what the job was given"),
               ("jobs[].progress", "object?", "phase, done, total"), ("jobs[].attempts", "int?", "deliveries so far"),
               ("jobs[].error", "string|null?", "why it failed"), ("jobs[].result", "object|null?", "the index report"),
               ("jobs[].worker", "string|null?", "the worker that ran it"),
               ("jobs[].created_at", "number?", "unix time"), ("jobs[].started_at", "number|null?", "unix time"),
               ("jobs[].finished_at", "number|null?", "unix time")],
    "ask": [("question", "string", "the question asked"), ("model", "string", "provider:model that answered"),
            ("answer", "string", "the model's answer"), ("intent", "string", "the task's intent"),
            ("usage", "object", "prompt_tokens, completion_tokens, estimated (true when the provider gave none)"),
            ("cost_usd", "number|null", "from the price table (null when the model has no price)"),
            ("pack_tokens", "int", "tokens of the packed context sent"),
            ("whole_files_tokens", "int", "tokens of the whole files those chunks come from"),
            ("tokens_saved", "int", "whole files minus the pack"),
            ("citations", "array", "every path:start-end the answer cites"),
            ("citations[].path", "string", "cited file"), ("citations[].start_line", "int", "first line"),
            ("citations[].end_line", "int", "last line"), ("citations[].in_pack", "bool", "the range was in the pack"),
            ("unsupported_citations", "array", "cited ranges that were not in the pack"),
            ("routing", "object", "named, tier_needed, need_tokens, fallback, reasons: why this model")],
    "migrate": [("project", "string", "project folder"),
                ("from", "string", "the store copied from (an index folder, or the URL without password)"),
                ("to", "string", "the store copied to"), ("files", "int", "files copied"),
                ("chunks", "int", "chunks copied"), ("vectors", "int", "vectors copied (none re-embedded)"),
                ("usage_events", "int", "rows of the project's usage log (`prism stats`) copied"),
                ("feedback_marks", "int", "feedback marks copied (search ranks by them)")],
    "migrate --server": [
        ("from", "string", "the server copied from (its PRISM_HOME, or the URL without password)"),
        ("to", "string", "the server copied to"),
        ("projects", "array", "each server project copied, uploaded files, index generations and index with it"),
        ("projects[].name", "string", "its name"), ("projects[].kind", "string", "`upload` or `path`"),
        ("projects[].uploaded_files", "int", "uploaded files copied (0 for a path project)"),
        ("projects[].indexed", "bool", "the source held an index of it (a project never indexed has none)"),
        ("projects[].files", "int", "indexed files copied"),
        ("projects[].chunks", "int", "chunks copied"),
        ("projects[].vectors", "int", "vectors copied (none re-embedded)"),
        ("projects[].usage_events", "int", "rows of its usage log copied"),
        ("projects[].feedback_marks", "int", "its feedback marks copied"),
        ("keys", "int", "API keys copied with their hashes (revoked ones too): every key works as before"),
        ("revoked_tokens", "int", "JWT deny-list entries still in force"),
        ("audit_events", "int", "audit log rows copied (a `server.migrate` event follows them)"),
        ("usage_counts", "int", "usage meter cells copied to (or from) Redis; 0 without --redis / PRISM_REDIS_URL"),
        ("warnings", "array", "what to do before serving, e.g. the API secret the keys need")],
    "backup create": [
        ("backup", "string", "the new prism-backup-<UTC time> folder"), ("created", "string", "UTC time, ISO 8601"),
        ("files", "int", "files in the backup"), ("bytes", "int", "their size"),
        ("projects", "array", "each index copied"), ("projects[].path", "string", "its folder, relative to the home"),
        ("projects[].root", "string|null", "the project folder it indexes"),
        ("projects[].files", "int", "files in the copy"), ("projects[].chunks", "int", "chunks in the copy"),
        ("projects[].embedding_model", "string|null", "model of its vectors"),
        ("projects[].schema", "int", "its schema version"),
        ("server", "object|null", "the server database's counts, null without one"),
        *[(f"server.{n}", "int", m) for n, m in (("keys", "API keys"), ("projects", "server projects"),
                                                 ("audit_events", "audit log rows"),
                                                 ("stored_secrets", "encrypted stored secrets"))],
        ("skipped", "array", "files left out"), ("skipped[].path", "string", "relative to the home"),
        ("skipped[].reason", "string", "why (a secret, transient, rebuilt from the index)"),
        ("postgres", "object|null", "with PRISM_DATABASE_URL: PRISM's tables dumped by pg_dump, else null"),
        ("postgres.file", "string?", "the dump in the backup (custom format)"),
        ("postgres.database", "string?", "host:port/database, no password"),
        ("postgres.schema", "string?", "the schema holding PRISM's tables"),
        ("postgres.schema_version", "int?", "PRISM's PostgreSQL schema version"),
        ("postgres.tables", "object?", "table → rows, in the dump's own snapshot"),
        ("postgres.server_version", "string?", "PostgreSQL's version"),
        ("postgres.extensions", "array?", "extensions created before a restore"),
        ("pruned", "array", "backups deleted by --keep-daily/--keep-weekly"),
    ],
    "backup verify": [
        ("backup", "string", "the backup checked"), ("ok", "bool", "no problem found (else exit 1)"),
        ("problems", "array", "one sentence per problem, naming the file"),
        ("checked", "object", "what was checked"), ("checked.files", "int", "files hashed"),
        ("checked.projects", "array", "per index: path, files, chunks, test_query (query, hits)"),
        ("checked.server", "object?", "the server database's counts"),
        ("checked.embedding_cache", "bool?", "the embedding cache passed integrity_check"),
        ("checked.postgres", "object?", "the PostgreSQL dump's rows per table, as pg_restore reads them"),
        ("created", "string|null", "when the backup was taken"),
    ],
    "restore": [
        ("backup", "string", "the backup restored"), ("home", "string", "PRISM_HOME"),
        ("files", "int", "files written"), ("projects", "int", "indexes restored"),
        ("server_projects_moved", "int", "server projects pointed at this home (restored from another)"),
        ("created", "string|null", "when the backup was taken"),
        ("secrets", "string", "what to do about the secrets, which are not in a backup"),
        ("postgres", "object?", "PRISM's tables restored into PRISM_DATABASE_URL: table → rows"),
    ],
    "maintain": [
        ("ok", "bool", "no check failed (else exit 1)"),
        *[row for part in ("daily", "weekly", "monthly") for row in (
            (part, "array?", f"with --{part}: its checks"), (f"{part}[].name", "string", "what was checked"),
            (f"{part}[].status", "string", "ok, warn, fail or skipped"),
            (f"{part}[].detail", "string", "what was seen or done"),
            (f"{part}[].fix", "string", "what to do when not ok (empty otherwise)"))],
    ],
    "doctor": [
        ("status", "string", "the worst status: fail (exit 1), warn, ok"), ("checks", "array", "in fixing order"),
        ("checks[].name", "string", "settings, secrets, a database, model, disk, python, sqlite, dependencies…"),
        ("checks[].status", "string", "ok, warn, fail or skipped"),
        ("checks[].detail", "string", "what was seen"), ("checks[].fix", "string", "the fix to apply when not ok"),
    ],
    "error": [("error", "object", "any command, on an error (exit 1 or 2)"),
              ("error.code", "string", "stable error code"), ("error.message", "string", "what failed"),
              ("error.details", "object", "hint (the next step) and value (the offending input), when known")],
}


def json_reference() -> list[str]:
    lines = ["## JSON output", "",
             "With `--json` a command prints exactly one JSON object on stdout (`prism watch`: one per",
             "update); progress and messages go to stderr. Every object starts with `schema_version`",
             "(now 1): it is raised when a field changes meaning or goes away; new fields may appear",
             "without a raise. `a[].b` is field `b` of each item of list `a`; a `?` type may be absent.",
             "`tests/e2e/test_json_shapes.py` checks these tables against the real output.", ""]
    for name, fields in JSON_SHAPES.items():
        title = "Errors" if name == "error" else f"`prism {name} --json`"
        lines += [f"### {title}", "", "| field | type | meaning |", "|---|---|---|",
                  "| `schema_version` | int | 1 |"]
        lines += [f"| `{field}` | {kind.replace('|', ' or ')} | {meaning} |" for field, kind, meaning in fields]
        lines.append("")
    return lines


def cli_reference() -> str:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    lines = ["# CLI reference", "", "Generated by `scripts/gen_docs.py` from the commands' `--help`.", "",
             "Every command takes `--json`: exactly one JSON document on stdout (its fields are listed",
             "under [JSON output](#json-output)). Exit codes: 0 success, 1 an error you can fix (the",
             "message says how), 2 bad usage, 3 a bug. `prism --version` prints the version; `--debug`",
             "(before or after the command) prints the traceback of an internal error.", ""]
    for name, command in sorted(root.commands.items()):  # type: ignore[attr-defined]
        lines += _command_md(f"prism {name}", command, 2)
    lines += json_reference()
    return "\n".join(lines).rstrip() + "\n"


def settings_reference() -> str:
    lines = ["# Settings", "", "Generated by `scripts/gen_docs.py` from `prism.config.Settings`.",
             "Each setting is read from the environment variable shown.", "",
             "| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = "~/.prism" if name == "home" else field.default
        lines.append(f"| `PRISM_{name.upper()}` | `{default}` | {field.description or ''} |")
    lines += ["", "## Team server (`prism serve`)", "",
              "Generated from `prism.serve.http.settings.ServerSettings`. Where two names are shown, the",
              "second is the original PRISM's name and is read too.", "",
              "| variable | default | meaning |", "|---|---|---|"]
    lines += _aliased_rows(ServerSettings)
    lines += ["", "## Model providers (`prism ask`, remote embedders)", "",
              "Generated from `prism.llm.settings.LLMSettings`. Where two names are shown, the second is the",
              "name the provider's own tools read and is read too. Keys are never printed or logged.", "",
              "| variable | default | meaning |", "|---|---|---|"]
    lines += _aliased_rows(LLMSettings)
    return "\n".join(lines) + "\n"


def _aliased_rows(settings: type[BaseSettings]) -> list[str]:
    rows = []
    for field in settings.model_fields.values():
        alias = field.validation_alias
        names = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        default = field.get_default(call_default_factory=True, validated_data={})
        variables = ", ".join(f"`{n}`" for n in names)
        rows.append(f"| {variables} | `{default}` | {field.description or ''} |")
    return rows


def main() -> int:
    DOCS.mkdir(exist_ok=True)
    (DOCS / "cli.md").write_text(cli_reference(), encoding="utf-8")
    (DOCS / "settings.md").write_text(settings_reference(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
