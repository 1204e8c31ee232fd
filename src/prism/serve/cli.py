"""The `prism` command line: a thin typer adapter over the Prism engine.

Every command takes --json (exactly one JSON document on stdout; human text, warnings and
progress go to stderr). Exit codes: 0 success, 1 an error the user can fix, 2 bad usage,
3 a bug (one line; --debug or PRISM_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import typer
import typer.main
from rich.table import Table
from typer.core import TyperGroup

from prism.serve.cli_search import SearchArgs, chosen_scope, open_project, read_stdin, run_search
from prism.serve.cli_search import explain_shares as explain_shares
from prism.serve.entry import main as main
from prism.serve.output import emit_json, err, out, reporting

if TYPE_CHECKING:  # the indexer (tree-sitter, the model) loads only for commands that index
    from typer._click import Command

    from prism.index.indexer import ProgressFn


class LazyCommands(MutableMapping[str, "Command"]):
    """A group's commands where some are only named: `load(name)` builds one when it is first
    looked up, so running `prism search` never imports the modules of `serve` or `backup`."""

    def __init__(self, eager: MutableMapping[str, Command], lazy: dict[str, str],
                 load: Callable[[str], Command]) -> None:
        self._built: dict[str, Command | None] = {}
        self._load = load

        def place(name: str, command: Command | None) -> None:  # a lazy name follows the name it names
            self._built[name] = command
            for later, after in lazy.items():
                if after == name:
                    place(later, None)

        for name, command in eager.items():
            place(name, command)
        self._built.update((later, None) for later in lazy if later not in self._built)

    def __getitem__(self, name: str) -> Command:
        command = self._built[name]
        if command is None:
            command = self._built[name] = self._load(name)
        return command

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built)

    def __len__(self) -> int:
        return len(self._built)


class LazyGroup(TyperGroup):
    """The root `prism` group: the commands in LAZY import their module only when run or listed."""

    # name: ("module:attribute" of the typer command function or sub-app, the name it is listed after)
    LAZY: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self.commands, {n: after for n, (_, after) in self.LAZY.items()},
                                     self.load)

    def load(self, name: str) -> Command:
        module, attribute = self.LAZY[name][0].split(":")
        target = getattr(importlib.import_module(module), attribute)
        # Register it on a scratch app exactly as `app.command(name)` / `app.add_typer` would.
        scratch = typer.Typer(rich_markup_mode=self.rich_markup_mode)
        if isinstance(target, typer.Typer):
            scratch.add_typer(target, name=name)
            return typer.main.get_group_from_info(
                scratch.registered_groups[0], pretty_exceptions_short=app.pretty_exceptions_short,
                suggest_commands=self.suggest_commands, rich_markup_mode=self.rich_markup_mode)
        scratch.command(name)(target)
        return typer.main.get_command_from_info(
            scratch.registered_commands[0], pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=self.rich_markup_mode)

    def list_commands(self, ctx: Any) -> list[str]:  # names only: listing need not build them
        return list(self.commands)


app = typer.Typer(
    name="prism",
    cls=LazyGroup,
    help="PRISM: index a codebase and give AI assistants the code a task needs, within an exact token budget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", "-p", help="Project folder (default: the project containing the current directory)."),
]
IndexDirOpt = Annotated[
    Path | None, typer.Option("--index-dir", help="Where the index lives (default: under PRISM_HOME).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summaries on stderr.")]


PROGRESS_LABELS = {"index": "Indexing files", "embed": "Embedding chunks", "scan": "Scanning"}
PROGRESS_LINE_INTERVAL_S = 5.0


ProgressMode = Literal["bar", "lines"] | None


def show_progress(json_out: bool, quiet: bool) -> ProgressMode:
    """"bar" on a terminal, "lines" elsewhere (CI, logs, MCP), None with --quiet."""
    if quiet:
        return None
    if err.is_terminal:
        return None if json_out else "bar"
    return "lines"


def progress_lines(write: Callable[[str], None], interval_s: float = PROGRESS_LINE_INTERVAL_S,
                   clock: Callable[[], float] = time.monotonic) -> ProgressFn:
    """Progress as plain lines: a phase's start, then every interval_s, and its end."""
    last: dict[str, float] = {}
    started: dict[str, float] = {}

    def update(phase: str, done: int, total: int) -> None:
        now = clock()
        first = phase not in started
        if first:
            started[phase] = now
        if first or done >= total or now - last[phase] >= interval_s:
            last[phase] = now
            elapsed = now - started[phase]
            rate = f", {done / elapsed:,.0f}/s" if elapsed > 0 else ""
            share = f" ({done / total:.0%})" if total else ""
            write(f"{PROGRESS_LABELS.get(phase, phase)}: {done:,}/{total:,}{share}, "
                  f"{elapsed:.0f}s{rate}")

    return update


@contextmanager
def progress_bar(mode: ProgressMode) -> Iterator[ProgressFn | None]:
    """A rich progress bar per phase (index, embed) on a terminal, plain lines every few
    seconds elsewhere, or nothing."""
    if mode is None:
        yield None
        return
    if mode == "lines":
        yield progress_lines(lambda line: print(line, file=sys.stderr, flush=True))
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    labels = PROGRESS_LABELS
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("[cyan]{task.fields[rate]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}
        started: dict[str, float] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(labels.get(phase, phase), total=total, rate="")
                started[phase] = time.perf_counter()
            elapsed = max(time.perf_counter() - started[phase], 1e-6)
            bar.update(tasks[phase], completed=done, total=total, rate=f"{done / elapsed:,.0f}/s")

        yield update


# -- commands ------------------------------------------------------------------------------


def print_version(value: bool) -> None:
    if value:
        from prism import __version__

        out.print(f"prism {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=print_version, is_eager=True, help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Print the traceback of an internal error (or set PRISM_DEBUG=1); works before or after the command.")] = False,
) -> None:
    """PRISM: index a codebase and give AI assistants the code a task needs, within an exact token budget."""
    # --debug is read by main() before typer runs; it is declared here so that --help shows it.


@app.command()
def index(
    path: Annotated[Path | None, typer.Argument(help="Project folder (default: current project).")] = None,
    project: ProjectOpt = None,
    index_dir: IndexDirOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Re-read and re-chunk every file.")] = False,
    embed: Annotated[bool | None, typer.Option("--embed/--no-embed", help="Compute dense vectors too (remembered; default: PRISM_EMBED).")] = None,
    include: Annotated[list[str] | None, typer.Option("--include", help="Only index files matching this glob (repeatable; remembered for later runs).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Skip files matching this glob (repeatable; remembered for later runs).")] = None,
    reset_filters: Annotated[bool, typer.Option("--reset-filters", help="Forget the remembered --include/--exclude globs: index the whole tree.")] = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Create or update the index of a project (incremental: unchanged files cost nothing)."""
    with reporting(json_out):
        prism = open_project(path or project, index_dir)
        globs = {"include": tuple(include) if include else None, "exclude": tuple(exclude) if exclude else None}
        if reset_filters:
            globs = {k: v or () for k, v in globs.items()}
        with progress_bar(show_progress(json_out, quiet)) as progress:
            report = prism.index(force=force, embed=embed, include=globs["include"], exclude=globs["exclude"],
                                 progress=progress, remember=True)
        data: dict[str, Any] = {"project": str(prism.root),
                                **report.to_dict(), "stats": prism.store.stats()}
        if json_out:
            emit_json(data)
        elif not quiet:
            stats = prism.store.stats()
            vectors = (f"{report.embedded} embedded" if prism.options().embed is not False
                       else "no vectors (--no-embed)")
            err.print(
                f"[green]Indexed[/] {prism.root}: {report.files_indexed} files updated, "
                f"{report.files_unchanged} unchanged, {report.files_deleted} deleted, "
                f"{report.chunks_written} chunks written, {vectors} "
                f"in {report.seconds:.1f}s (index: {stats['files']} files, {stats['chunks']} chunks, "
                f"{stats['tokens']:,} tokens).", highlight=False)
            counts = report.to_dict()["skipped"]
            if isinstance(counts, dict) and counts:
                listed = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                err.print(f"Skipped {len(report.skipped)} files ({listed}); `prism status --skipped` "
                          "lists them with reasons.", highlight=False)
            for warning in report.warnings[:5]:
                err.print(f"[yellow]warning:[/] {warning}", highlight=False)


def describe_vectors(data: dict[str, Any]) -> str:
    """The status line about dense vectors: what is true, and what to do if anything."""
    if data["vectors"] == "off":
        return "vectors not computed (--no-embed; `prism index --embed` computes them)"
    model = data["embedding_model"]
    if not model:
        return f"vectors not computed yet ({data['chunks']:,} chunks; `prism index` computes them)"
    pending = data["pending_embeddings"]
    left = f"{pending:,} chunks still without a vector" if pending else "every chunk embedded"
    return f"{model} ({data['embedding_dim']} dims; {left})"


@app.command()
def status(
    project: ProjectOpt = None,
    index_dir: IndexDirOpt = None,
    skipped: Annotated[bool, typer.Option("--skipped", help="List the files the last index skipped, with reasons.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show what the index holds and how many files changed on disk since it was built."""
    with reporting(json_out):
        prism = open_project(project, index_dir)
        data = prism.status()
        if json_out:
            emit_json(data)
            return
        if skipped:
            files = data["skipped_files"]
            assert isinstance(files, list)
            if not files:
                err.print("The last index skipped no files.")
            for item in files:
                out.print(f"{item['path']}  [yellow]{item['reason']}[/]  {item['detail']}", highlight=False)
            return
        table = Table(show_header=False, box=None)
        last = data.get("last_indexed")
        others = ", ".join(f"{k} {v}" for k, v in list(dict(data["other_extensions"]).items())[:5])  # type: ignore[call-overload]
        languages = ", ".join(f"{k} {v}" for k, v in dict(data["languages"]).items())  # type: ignore[call-overload]
        options = dict(data["options"])  # type: ignore[call-overload]
        globs = "; ".join(f"--{k} {' '.join(options[k])}" for k in ("include", "exclude") if options[k])
        counts = dict(data["skipped"])  # type: ignore[call-overload]
        rows = [
            ("project", data["project"]),
            ("files", f"{data['files']:,}"), ("chunks", f"{data['chunks']:,}"),
            ("tokens", f"{data['tokens']:,}"),
            ("languages", languages + (f" (other: {others})" if others else "")),
            ("vectors", describe_vectors(data)),
            ("filters", f"{globs} (`prism index --reset-filters` clears them)" if globs else "none: the whole tree"),
            ("skipped", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + " (--skipped lists them)"
             if counts else "none"),
            ("last indexed", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last)) if isinstance(last, float) else "never"),
            ("changed on disk", ", ".join(f"{k} {v}" for k, v in dict(data["changed_on_disk"]).items())),  # type: ignore[call-overload]
            ("index", data["index_dir"]),
        ]
        for key, value in rows:
            table.add_row(f"[bold]{key}[/]", str(value))
        out.print(table)


@app.command()
def projects(json_out: JsonOpt = False) -> None:
    """List every indexed project under PRISM_HOME."""
    from prism.config import Settings
    from prism.engine import list_projects

    with reporting(json_out):
        found = list_projects(Settings())
        if json_out:
            emit_json({"projects": [p.__dict__ for p in found]})
            return
        if not found:
            err.print("No indexed projects yet. Run `prism index` in a repository.")
        for info in found:
            out.print(f"{info.root}  [dim]{info.index_dir}[/]", highlight=False)


@app.command()
def forget(project: ProjectOpt = None, index_dir: IndexDirOpt = None, json_out: JsonOpt = False) -> None:
    """Delete a project's index (the project's files are not touched)."""
    with reporting(json_out):
        prism = open_project(project, index_dir)
        removed = prism.forget()
        if json_out:
            emit_json({"project": str(prism.root), "removed": removed})
        else:
            err.print(f"Removed the index of {prism.root}." if removed else f"{prism.root} had no index.")


@app.command()
def watch(
    project: ProjectOpt = None,
    index_dir: IndexDirOpt = None,
    debounce_ms: Annotated[int, typer.Option("--debounce-ms", help="Wait this long for a burst of saves to settle.")] = 200,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON line per update.")] = False,
) -> None:
    """Keep the index fresh while files change (Ctrl-C to stop)."""
    from prism.service.watch import watch_project

    with reporting(json_out):
        prism = open_project(project, index_dir)
        if not json_out:
            err.print(f"Watching {prism.root} (Ctrl-C to stop)…")
        for report in watch_project(prism, debounce_ms=debounce_ms):
            if json_out:
                emit_json(report.to_dict())
            elif report.files_indexed or report.files_deleted:
                err.print(f"updated {report.files_indexed} files, removed {report.files_deleted} "
                          f"in {report.seconds * 1000:.0f} ms", highlight=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for: a question, identifiers, or a whole issue text ('-' reads stdin).")],
    project: ProjectOpt = None,
    index_dir: IndexDirOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="How many results (1-100).")] = 10,
    files: Annotated[bool, typer.Option("--files", help="One result per file, best first.")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Show each ranking feature's share of the score, in percent (they add up to 100; --json gives the raw contributions).")] = False,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only this language (repeatable).")] = None,
    path: Annotated[str | None, typer.Option("--path", help="Only paths under this prefix or matching this glob.")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Only this chunk kind: function, method, class, module, section, window (repeatable).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only files changed since: 2024-05-01, 7d, 12h or a unix time.")] = None,
    min_score: Annotated[float | None, typer.Option("--min-score", min=0.0, max=1.0, help="Drop results scoring below this (0-1, best result = 1).")] = None,
    scope: Annotated[str, typer.Option("--scope", help="Only chunks in: code, tests, docs (prose, changelogs, translations) or all.")] = "all",
    code_only: Annotated[bool, typer.Option("--code-only", help="Same as --scope code: leave out tests, docs and changelogs.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Find the code a question or task needs (hybrid lexical + semantic + exact-symbol ranking)."""
    run_search(SearchArgs(query, project, index_dir, limit, files, explain, lang, path, kind, since, min_score,
                          scope, code_only, json_out))


# -- prism mcp -------------------------------------------------------------------------------

MCP_HTTP_PORT = 8766  # one more than `prism serve`'s 8765, so that both can run side by side
mcp_app = typer.Typer(help="Serve PRISM to Claude Code and other MCP clients.", no_args_is_help=False)
app.add_typer(mcp_app, name="mcp")


@mcp_app.callback(invoke_without_command=True)
def mcp(
    ctx: typer.Context,
    project: Annotated[list[Path] | None, typer.Option("--project", "-p", help="Serve this project (repeatable; default: the client's roots, else the current project).")] = None,
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio.")] = False,
    host: Annotated[str, typer.Option("--host", help="HTTP bind address; anything but loopback requires a bearer token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="HTTP port (`prism serve` defaults to 8765).")] = MCP_HTTP_PORT,
    token: Annotated[str | None, typer.Option("--token", envvar="PRISM_MCP_TOKEN", help="Bearer token HTTP clients must send (generated for a non-loopback --host).")] = None,
    watch: Annotated[bool, typer.Option("--watch/--no-watch", help="Re-index files as they change.")] = True,
    allow_root: Annotated[list[Path] | None, typer.Option("--allow-root", help="HTTP: also serve a client's roots inside this folder (repeatable; default: only inside the served project).")] = None,
) -> None:
    """Speak MCP on stdio (default) or HTTP; index the project in the background and keep it fresh."""
    if ctx.invoked_subcommand is not None:
        return
    from prism.config import Settings
    from prism.serve import mcp as mcp_server
    from prism.serve.mcp_workspace import Workspace

    mcp_server.configure_logging()
    with reporting(False):
        workspace = Workspace(Settings(), [p.resolve() for p in project or ()], watch=watch,
                              sessions=http, allow=allow_root or ())
        if not http:
            mcp_server.serve_stdio(workspace)
            return
        enforced = mcp_server.require_token(host, token)
        if enforced and not token:
            err.print(f"Bearer token for this server (set PRISM_MCP_TOKEN to choose one): {enforced}", highlight=False)
        err.print(f"PRISM MCP server on http://{host}:{port}/mcp serving {', '.join(map(str, workspace.roots()))}",
                  highlight=False)
        mcp_server.serve_http(workspace, host=host, port=port, token=enforced)


@mcp_app.command("install")
def mcp_install(
    scope: Annotated[str, typer.Option("--scope", help="user (every project you open), project (.mcp.json, shared via git) or local.")] = "user",
    write: Annotated[bool, typer.Option("--write", help="Also write the server into PROJECT/.mcp.json (as `prism mcp`, found on PATH).")] = False,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register the PRISM MCP server with Claude Code: print the `claude mcp add` line, or write .mcp.json."""
    from prism.config import Settings
    from prism.engine import find_project_root
    from prism.errors import InputError
    from prism.serve.mcp_install import SHARED_COMMAND, claude_add_line, mcp_json_entry, prism_command, write_mcp_json

    with reporting(json_out):
        if scope not in ("user", "project", "local"):
            raise InputError(f"Unknown --scope {scope!r}.", hint="Use user, project or local.", value=scope)
        # --scope project *is* .mcp.json (what `claude mcp add --scope project` writes): write it
        # with a command teammates can run, and print no add line that would write it again.
        line = None if scope == "project" else claude_add_line(scope, prism_command())  # type: ignore[arg-type]
        written = None
        if write or scope == "project":
            root = project.resolve() if project is not None else find_project_root(Path.cwd(), Settings())
            written = write_mcp_json(root, SHARED_COMMAND)
        if json_out:
            emit_json({"command": line, "mcp_json": str(written) if written else None,
                       "entry": mcp_json_entry(SHARED_COMMAND if written else prism_command())})
            return
        if line is not None:
            out.print(line, highlight=False, markup=False)
            reach = "every project you open" if scope == "user" else "this project, for you only"
            err.print(f"Run the line above once; Claude Code then starts PRISM in {reach} "
                      "and PRISM indexes each one in the background.", highlight=False)
        if written:
            err.print(f"Wrote the prism server into {written} as `prism mcp`: commit it to share it. "
                      "Each teammate needs `prism` on their PATH (e.g. `pipx install` this repository) "
                      "and approves the project server once when Claude Code asks.", highlight=False)


# -- prism context / show / stats ------------------------------------------------------------


@app.command()
def context(
    query: Annotated[str, typer.Argument(help="The task, question or issue text ('-' reads stdin).")],
    budget: Annotated[int, typer.Option("--budget", "-b", min=1, help="Hard limit on the whole output, in tokens.")] = 8000,
    fmt: Annotated[str, typer.Option("--format", "-f", help="markdown, xml (tagged blocks) or json.")] = "markdown",
    expand: Annotated[bool, typer.Option("--expand", help="Also pull in what the chosen code calls and imports, and its callers.")] = False,
    intent: Annotated[str, typer.Option("--intent", help="auto, bugfix, feature, explain, refactor, test, search or general.")] = "auto",
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="Count tokens for: cl100k_base, o200k_base, claude (cl100k + safety margin), ...")] = None,
    line_numbers: Annotated[bool, typer.Option("--line-numbers", help="Number the lines of code shown in full.")] = False,
    scope: Annotated[str, typer.Option("--scope", help="Only chunks in: code, tests, docs (prose, changelogs, translations) or all.")] = "all",
    code_only: Annotated[bool, typer.Option("--code-only", help="Same as --scope code: leave out tests, docs and changelogs.")] = False,
    project: ProjectOpt = None,
    index_dir: IndexDirOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Same as --format json: one JSON document (≤ budget tokens) on stdout.")] = False,
) -> None:
    """Pack the code a task needs into an exact token budget, ready to paste into a prompt."""
    with reporting(json_out):
        from prism.models import SearchFilters
        from prism.pack.packer import check_request

        check_request(budget, fmt)  # --json wins over --format, but a bad --format is still an error
        chosen = chosen_scope(scope, code_only)
        text = read_stdin() if query == "-" else query
        prism = open_project(project, index_dir)
        pack = prism.context(text, budget_tokens=budget, fmt="json" if json_out else fmt, expand=expand,
                             intent=intent, tokenizer=tokenizer, line_numbers=line_numbers,
                             filters=SearchFilters(scope=chosen) if chosen != "all" else None)
        sys.stdout.write(pack.text)
        sys.stdout.flush()
        if not json_out and fmt != "json" and err.is_terminal:
            saved = pack.savings.whole_files_tokens - pack.tokens if pack.savings else 0
            err.print(f"[dim]{pack.tokens:,}/{budget:,} tokens, {len(pack.chunks)} chunks, intent {pack.intent}, "
                      f"{pack.omitted_total} omitted; {max(saved, 0):,} tokens saved vs whole files.[/]",
                      highlight=False)


@app.command(name="map")
def repo_map(
    paths: Annotated[list[str] | None, typer.Argument(help="Folders or files to focus on: they and what they use rank higher.")] = None,
    budget: Annotated[int, typer.Option("--budget", "-b", min=1, help="Hard limit on the map, in tokens.")] = 2000,
    query: Annotated[str | None, typer.Option("--query", help="Focus on the code this question or task finds.")] = None,
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="Count tokens for: cl100k_base, o200k_base, claude (cl100k + safety margin), ...")] = None,
    project: ProjectOpt = None,
    index_dir: IndexDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The file tree with each file's top symbols, ranked by the code graph (PageRank), within the budget."""
    with reporting(json_out):
        prism = open_project(project, index_dir)
        result = prism.map(budget_tokens=budget, query=query, paths=paths or (), tokenizer=tokenizer)
        if json_out:
            emit_json({"project": str(prism.root), **result.to_dict()})
            return
        sys.stdout.write(result.text)
        sys.stdout.flush()
        if err.is_terminal:
            err.print(f"[dim]{result.tokens:,}/{budget:,} tokens, {len(result.files)} of "
                      f"{result.total_files} files.[/]", highlight=False)


@app.command()
def show(
    target: Annotated[str, typer.Argument(help="A handle from `prism context`, a path:start-end range, or a symbol.")],
    project: ProjectOpt = None,
    index_dir: IndexDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print the original code behind a handle, a line range or a symbol."""
    with reporting(json_out):
        prism = open_project(project, index_dir)
        found = prism.show(target)
        if json_out:
            emit_json({"target": target, "results": [f.to_dict() for f in found]})
            return
        for item in found:
            err.print(f"[bold]{item.path}:{item.start_line}-{item.end_line}[/] {item.symbol}", highlight=False)
            sys.stdout.write(item.content.rstrip("\n") + "\n")


@app.command()
def stats(
    project: ProjectOpt = None,
    index_dir: IndexDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Usage of this project's index: context queries, tokens served and tokens saved."""
    with reporting(json_out):
        prism = open_project(project, index_dir)
        data = {"project": str(prism.root), **prism.require_index().usage_summary()}
        if json_out:
            emit_json(data)
            return
        table = Table(show_header=False, box=None)
        for key in ("queries", "tokens_served", "tokens_saved", "mean_ms"):
            value = data[key]
            table.add_row(f"[bold]{key.replace('_', ' ')}[/]", f"{value:,}" if isinstance(value, int) else str(value))
        table.add_row("[bold]by intent[/]", ", ".join(f"{k} {v}" for k, v in dict(data["by_intent"]).items()) or "-")  # type: ignore[call-overload]
        out.print(table)


# -- team server (prism.serve.http) and operations (prism.ops) ---------------------------------
# They live beside what they drive and load only when run or listed (`prism --help`), so that
# `prism search` imports neither the server's commands nor the operations'.
LazyGroup.LAZY.update({
    "serve": ("prism.serve.http.commands:serve", "stats"),
    "audit": ("prism.serve.http.commands:audit", "serve"),
    "usage": ("prism.serve.http.commands:usage", "audit"),
    "restore": ("prism.serve.ops_commands:restore", "usage"),
    "maintain": ("prism.serve.ops_commands:maintain", "restore"),
    "doctor": ("prism.serve.ops_commands:doctor", "maintain"),
    "keys": ("prism.serve.http.commands:keys_app", "mcp"),
    "backup": ("prism.serve.ops_commands:backup_app", "keys"),
})


# -- index job workers (prism.service.jobs) ----------------------------------------------------
@app.command()
def migrate(
    to: Annotated[str, typer.Option("--to", help="Where the index goes: a postgresql:// URL, or `sqlite` (the embedded store under PRISM_HOME).")],
    source: Annotated[str | None, typer.Option("--from", help="With --to sqlite: the PostgreSQL URL to copy from (default: PRISM_DATABASE_URL).")] = None,
    project: ProjectOpt = None, index_dir: IndexDirOpt = None,
    server: Annotated[bool, typer.Option("--server", help="Move the team server in PRISM_HOME instead of one project: its projects (uploaded files and indexes), API keys, JWT deny list, audit log and usage counts. Stop the server first.")] = False,
    redis: Annotated[str | None, typer.Option("--redis", help="With --server: the Redis whose usage meter the counts go to (--to postgresql://…) or come from (--to sqlite); default PRISM_REDIS_URL, none keeps them in PRISM_HOME.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Copy a project's index (or, with --server, a whole team server) between the embedded SQLite store and PostgreSQL, vectors included (nothing is re-embedded); the source is left as it was."""
    from prism.errors import ConfigError, ProjectError

    if server:
        _migrate_server(to, source, redis, json_out)
        return
    from prism.index.indexer import index_lock
    from prism.index.postgres import PostgresStore, redacted
    from prism.index.sqlite import SqliteStore
    from prism.index.store import Store
    from prism.index.transfer import copy_index

    with reporting(json_out):
        prism = open_project(project, index_dir)
        embedded = prism.index_dir / "index.db"
        if to.startswith(("postgresql://", "postgres://")):
            if not embedded.is_file():
                raise ProjectError(f"No embedded index for {prism.root} to migrate.",
                                   hint=f"Run `prism index {prism.root}` without PRISM_DATABASE_URL first.", value=prism.root)
            opened: tuple[Store, Store] = (SqliteStore(embedded), PostgresStore.connect(to, prism.project_id))
            names = (str(embedded), redacted(to))
            after = f"Set PRISM_DATABASE_URL to that URL to use it (the SQLite index in {prism.index_dir} is still there)."
        elif to == "sqlite":
            url = source or (prism.settings.database_url.get_secret_value() if prism.settings.database_url else None)
            if not url:
                raise ConfigError("`prism migrate --to sqlite` needs the PostgreSQL database to copy from.",
                                  hint="Pass --from postgresql://… or set PRISM_DATABASE_URL.")
            opened = (PostgresStore.connect(url, prism.project_id), SqliteStore(embedded))
            names = (redacted(url), str(embedded))
            after = "Unset PRISM_DATABASE_URL to use it (the rows in PostgreSQL are still there)."
        else:
            raise ConfigError(f"--to must be a postgresql:// URL or `sqlite`, not {to.split(':', 1)[0]!r}.",
                              hint="Example: prism migrate --to postgresql://prism:secret@db:5432/prism")
        try:
            with index_lock(prism.index_dir):  # no `prism index` of this project while it moves
                if opened[0].get_meta("chunker_version") is None:
                    raise ProjectError(f"{names[0]} holds no index for {prism.root}.",
                                       hint=f"Run `prism index {prism.root}` first.", value=prism.root)
                moved = copy_index(*opened)
        finally:
            for store in opened:
                store.close()
        data = {"project": str(prism.root), "from": names[0], "to": names[1], "files": moved.files,
                "chunks": moved.chunks, "vectors": moved.vectors, "usage_events": moved.usage_events,
                "feedback_marks": moved.feedback_marks}
        if json_out:
            emit_json(data)
        else:
            err.print(f"Copied {moved.files:,} files, {moved.chunks:,} chunks and {moved.vectors:,} vectors "
                      f"from {names[0]} to {names[1]}. {after}", highlight=False)


def _migrate_server(to: str, source: str | None, redis: str | None, json_out: bool) -> None:
    """`prism migrate --server`: the team server in PRISM_HOME to PostgreSQL, or back."""
    from prism.config import Settings
    from prism.errors import ConfigError
    from prism.index.postgres import redacted
    from prism.ops.meter import MeterBackend, RedisMeterBackend, SqliteMeterBackend
    from prism.serve.http.audit import cli_actor
    from prism.serve.http.server_transfer import Side, copy_server, copy_usage, embedded_side, postgres_side
    from prism.serve.http.settings import ServerSettings

    with reporting(json_out):
        settings = Settings()
        folder = settings.home / "server"
        if redis is None and (configured := ServerSettings().redis_url) is not None:
            redis = configured.get_secret_value()
        if to.startswith(("postgresql://", "postgres://")):
            url, names, after = to, (str(settings.home), redacted(to)), (
                "Set PRISM_DATABASE_URL to that URL (and PRISM_REDIS_URL, PRISM_API_SECRET on every replica) to serve from it.")
            opened: list[Side] = [embedded_side(folder, create=False)]
            opened.append(postgres_side(url, folder, create=True))
        elif to == "sqlite":
            found = source or (settings.database_url.get_secret_value() if settings.database_url else None)
            if not found:
                raise ConfigError("`prism migrate --server --to sqlite` needs the PostgreSQL database to copy from.",
                                  hint="Pass --from postgresql://… or set PRISM_DATABASE_URL.")
            url, names, after = found, (redacted(found), str(settings.home)), (
                "Unset PRISM_DATABASE_URL (and PRISM_REDIS_URL) to serve from it.")
            opened = [postgres_side(url, folder, create=False)]
            opened.append(embedded_side(folder, create=True))
        else:
            raise ConfigError(f"--to must be a postgresql:// URL or `sqlite`, not {to.split(':', 1)[0]!r}.",
                              hint="Example: prism migrate --server --to postgresql://prism:secret@db:5432/prism")
        try:
            moved = copy_server(opened[0], opened[1], cli_actor())
        finally:
            for side in opened:
                side.close()
        if redis:
            meters: list[MeterBackend] = [SqliteMeterBackend(folder / "meter.db", legacy_db=folder / "server.db"), RedisMeterBackend(redis)]
            if to == "sqlite":
                meters.reverse()
            try:
                moved.usage_counts = copy_usage(meters[0], meters[1])
            finally:
                for meter in meters:
                    meter.close()
        warnings = []
        if ServerSettings().api_secret is None and moved.keys:
            from prism.serve.secrets import DEV_SECRET_FILE

            dev_secret = folder / DEV_SECRET_FILE
            warnings.append(
                f"The API keys are HMACs under this home's development secret ({dev_secret}): set "
                "PRISM_API_SECRET to its contents wherever the server runs, or every key is refused."
                if to != "sqlite" and dev_secret.is_file() else
                "PRISM_API_SECRET is not set: serve with the PRISM_API_SECRET the keys were made under, "
                "or every key is refused.")
        data = {"from": names[0], "to": names[1], **moved.to_dict(), "warnings": warnings}
        if json_out:
            emit_json(data)
        else:
            for warning in warnings:
                err.print(f"[yellow]warning:[/] {warning}", highlight=False)
            err.print(f"Copied {len(moved.projects)} projects "
                      f"({sum(p.uploaded_files for p in moved.projects):,} uploaded files, "
                      f"{sum(p.chunks for p in moved.projects):,} chunks, {sum(p.vectors for p in moved.projects):,} "
                      f"vectors), {moved.keys} API keys, {moved.audit_events} audit events and "
                      f"{moved.usage_counts} usage counts from {names[0]} to {names[1]}. {after}", highlight=False)


@app.command()
def worker(
    name: Annotated[str | None, typer.Option("--name", help="This worker's consumer name in Redis, unique per process (default: host:pid:random).")] = None,
    max_jobs: Annotated[int | None, typer.Option("--max-jobs", min=1, help="Exit after finishing this many jobs (default: run until stopped).")] = None,
    visibility_timeout: Annotated[float, typer.Option("--visibility-timeout", min=1.0, help="Seconds without a heartbeat after which another worker takes a job over.")] = 30.0,
    json_out: Annotated[bool, typer.Option("--json", help="On exit, print one JSON object with the jobs this worker finished.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Run index jobs from the Redis queue (PRISM_REDIS_URL) until stopped; SIGTERM or Ctrl-C lets the current job finish."""
    import signal
    import threading

    from prism.errors import ConfigError
    from prism.serve.http.settings import ServerSettings
    from prism.service.jobs import Job, RedisJobQueue
    from prism.service.worker import run_worker, worker_name

    with reporting(json_out):
        url = ServerSettings().redis_url
        if url is None:
            raise ConfigError("`prism worker` needs PRISM_REDIS_URL.", value="PRISM_REDIS_URL",
                              hint="Set PRISM_REDIS_URL=redis://host:6379/0 (without Redis, `prism index` and the server index in-process).")
        queue = RedisJobQueue(url.get_secret_value(), visibility_timeout_s=visibility_timeout)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        name = name or worker_name()
        talk = not json_out and not quiet
        if talk:
            err.print(f"Worker {name} waiting for index jobs (Ctrl-C to stop).", highlight=False)

        def report(job: Job) -> None:
            if talk:
                detail = job.error or ", ".join(f"{k} {v}" for k, v in job.result.items() if isinstance(v, int))
                err.print(f"job {job.id} {job.state} (attempt {job.attempts}): {detail}", highlight=False)

        from prism.config import Settings
        from prism.serve.http.project_jobs import project_handlers
        from prism.serve.http.server_store import open_server_store

        settings = Settings()
        database_url = settings.database_url.get_secret_value() if settings.database_url else None
        opened: list[Any] = []

        def server_store() -> Any:  # the server's projects: PostgreSQL, or this host's PRISM_HOME
            opened.append(open_server_store(settings.home / "server", database_url))
            return opened[-1]

        try:
            finished = run_worker(queue, name=name, stop=stop, max_jobs=max_jobs, handlers=project_handlers(server_store, settings.home / "server"),
                                  heartbeat_s=visibility_timeout / 3, on_job=report)
        finally:
            queue.close()
            for store in opened:
                store.close()
        if json_out:
            emit_json({"worker": name, "jobs": [job.to_dict() for job in finished]})


# -- ask a model (prism.llm) ------------------------------------------------------------------


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question ('-' reads stdin).")],
    budget: Annotated[int, typer.Option("--budget", "-b", min=1, help="Token budget of the packed context sent with it.")] = 8000,
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider:model or auto (default: DEFAULT_MODEL).")] = None,
    intent: Annotated[str, typer.Option("--intent", help="auto, bugfix, feature, explain, refactor, test, search or general.")] = "auto",
    explain: Annotated[bool, typer.Option("--explain", help="Say which model was chosen and why (stderr; in --json under routing).")] = False,
    project: ProjectOpt = None,
    index_dir: IndexDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Answer a question from the packed context with DEFAULT_MODEL, streaming it; citations are checked against the pack."""
    from prism.llm.ask import ask as ask_model
    from prism.llm.settings import load_llm_settings

    with reporting(json_out):
        text = read_stdin() if question == "-" else question
        prism = open_project(project, index_dir)

        def stream(piece: str) -> None:
            sys.stdout.write(piece)
            sys.stdout.flush()

        answer = ask_model(prism, text, settings=load_llm_settings(), budget_tokens=budget, model=model,
                           intent=intent, on_text=None if json_out else stream)
        if json_out:
            emit_json(answer.to_dict())
            return
        sys.stdout.write("\n")
        if explain:
            err.print(answer.decision.explain(), highlight=False)
        for citation in answer.unsupported:
            err.print(f"[yellow]Not in the pack:[/] {citation} (the model cites code it was not shown)", highlight=False)
        cost = ("unknown cost" if answer.cost_usd is None else "free" if answer.cost_usd == 0
                else f"${answer.cost_usd:.4f}")
        err.print(f"[dim]{answer.model}: {answer.prompt_tokens:,} prompt + {answer.completion_tokens:,} completion tokens"
                  f"{' (estimated)' if answer.usage_estimated else ''}, {cost}; {answer.tokens_saved:,} tokens saved "
                  f"vs whole files; {len(answer.citations) - len(answer.unsupported)}/{len(answer.citations)} "
                  "citations in the pack.[/]", highlight=False)
