"""Walk a project tree and yield the source files worth indexing, in sorted order.

Rules, in the order they apply to each entry:

* directories that are never source (VCS metadata, dependency folders, virtualenvs, build
  output, tool caches) are pruned before they are read; ``vendor`` is pruned only when it is
  Go- or PHP-style vendoring (a ``modules.txt``/``autoload.php`` inside, or a ``go.mod``/
  ``composer.json`` beside it);
* ``.gitignore`` and ``.prismignore`` files apply to their own directory and everything below,
  with git's exact semantics (ignore.py: deeper files win, ``!negation`` re-includes, nothing
  inside an ignored folder comes back); the repository's ``info/exclude`` and the global git
  excludes file apply too; ``WalkOptions.exclude`` is applied on top of all of them and
  ``include``, when given, keeps only the files it matches;
* files that by name hold credentials (``.env`` and its variants other than the committed
  templates, SSH private keys, ``.netrc``, ``.pgpass``, ``.npmrc``, ``.pypirc``, key stores) are
  skipped as ``secret``, even where no ignore file lists them — an uploaded tree often carries no
  ``.gitignore`` — unless ``include`` globs are given;
* lockfiles, minified bundles and source maps are skipped as ``generated``; tables, notebooks,
  logs and vector art as ``data`` (unless ``include`` globs are given); files over
  ``max_file_bytes`` as ``too_large``; files with a known binary extension or a NUL byte in their
  first 8 KiB as ``binary``; files that cannot be opened as ``unreadable``;
* symlinks are followed only when they resolve inside the root, and a directory is never entered
  twice on one path (``symlink_loop``); links that lead outside are ``outside_root``.

Ignored files (by an ignore file, a default directory or ``include``/``exclude``) are silent;
every other skip is reported through ``on_skip`` so that an index can explain itself.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from pathspec import GitIgnoreSpec

from prism.errors import PathError
from prism.ingest.ignore import IgnoreRules, base_rules
from prism.ingest.languages import detect_language
from prism.models import SourceFile

SNIFF_BYTES = 8192
NUL = b"\0"

SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", "_darcs", ".jj",
        "node_modules", "bower_components", ".pnpm-store", ".yarn",
        ".venv", "venv", ".virtualenv", "__pypackages__",
        "dist", "build", "__pycache__", ".eggs",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".tox", ".nox",
        ".idea", ".vscode", ".vs",
        "target", ".next", ".nuxt", ".svelte-kit", ".gradle", ".terraform", ".cache",
        ".parcel-cache", ".turbo", "htmlcov", ".prism",
    }
)  # fmt: skip

LOCKFILES = frozenset(
    {
        "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb",
        "bun.lock", "Cargo.lock", "poetry.lock", "Pipfile.lock", "pdm.lock", "uv.lock",
        "composer.lock", "Gemfile.lock", "go.sum", "flake.lock", "mix.lock", "Podfile.lock",
        "packages.lock.json", "gradle.lockfile", "pubspec.lock", "Package.resolved",
    }
)  # fmt: skip

GENERATED_SUFFIXES = (
    ".min.js",
    ".min.mjs",
    ".min.css",
    "-min.js",
    ".bundle.js",
    ".js.map",
    ".css.map",
)

BINARY_EXTENSIONS = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".icns", ".webp", ".tif", ".tiff", ".psd",
        ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt",
        ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".tar", ".jar", ".war",
        ".whl", ".egg", ".deb", ".rpm", ".dmg", ".iso", ".apk",
        ".exe", ".dll", ".so", ".dylib", ".a", ".o", ".obj", ".lib", ".class", ".pyc", ".pyo",
        ".pyd", ".wasm", ".bin", ".dat", ".db", ".sqlite", ".sqlite3", ".pkl", ".pickle", ".npy",
        ".npz", ".parquet", ".onnx", ".pt", ".pth", ".h5", ".ckpt", ".safetensors",
        ".woff", ".woff2", ".ttf", ".otf", ".eot",
        ".mp3", ".mp4", ".wav", ".flac", ".ogg", ".avi", ".mov", ".mkv", ".webm",
    }
)  # fmt: skip

# Text, but data rather than code or docs: tables, notebooks with outputs, logs, vector art.
# They would crowd search results and cost embedding time; `--include` brings them back.
DATA_EXTENSIONS = frozenset(
    {
        ".csv", ".tsv", ".psv", ".jsonl", ".ndjson", ".ipynb", ".log", ".svg", ".epw", ".geojson",
        ".srt", ".vtt", ".pem", ".crt", ".key",
    }
)  # fmt: skip

IGNORE_FILES = (".gitignore", ".prismignore")

# Files that by name hold credentials: never served or indexed unless `include` asks for them.
SECRET_NAMES = frozenset(
    {
        ".env", ".envrc", ".netrc", "_netrc", ".pgpass", ".npmrc", ".pypirc", ".git-credentials",
        ".htpasswd", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "credentials.json",
        "service-account.json", "secrets.toml",
    }
)  # fmt: skip
SECRET_EXTENSIONS = frozenset({".p12", ".pfx", ".jks", ".keystore", ".kdbx", ".gpg", ".asc"})
# `.env.example` and friends are committed on purpose: names and placeholders, not values.
ENV_TEMPLATES = frozenset({"example", "sample", "template", "dist", "defaults", "schema"})


@dataclass(frozen=True)
class WalkOptions:
    max_file_bytes: int = 1024 * 1024
    include: tuple[str, ...] = ()  # gitignore-style globs; if non-empty, only matching files
    exclude: tuple[str, ...] = ()  # extra gitignore-style globs to skip
    only: str | None = None  # walk just the directories leading to this one file (see ingest.read)


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str  # "too_large", "binary", "data", "secret", "unreadable", "symlink_loop", "outside_root", "generated"
    detail: str = ""  # what tripped the rule, in words: "a NUL byte at offset 12", "2,400,000 bytes"


def is_binary(data: bytes) -> bool:
    """True when the first 8 KiB hold a NUL byte (git's heuristic; UTF-16 counts as binary)."""
    return b"\0" in data[:SNIFF_BYTES]


def is_generated(name: str) -> bool:
    """Lockfiles, minified bundles and source maps: text, but not code anybody reads."""
    lower = name.lower()
    return name in LOCKFILES or lower.endswith(GENERATED_SUFFIXES) or lower.endswith(".map")


def is_secret(name: str) -> bool:
    """Whether a file's name says it holds credentials (`.env.local`, `id_rsa`, `app.p12`)."""
    lower = name.lower()
    if lower in SECRET_NAMES or os.path.splitext(lower)[1] in SECRET_EXTENSIONS:
        return True
    if lower.startswith(".env."):
        return lower.rsplit(".", 1)[-1] not in ENV_TEMPLATES
    return lower.startswith(("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")) and not lower.endswith(".pub")


def _is_vendoring(names: set[str], child: str, entries: dict[str, os.DirEntry[str]]) -> bool:
    if "go.mod" in names or "composer.json" in names:
        return True
    try:
        inner = set(os.listdir(entries[child].path))
    except OSError:
        return False
    return "modules.txt" in inner or "autoload.php" in inner


def walk(
    root: Path,
    options: WalkOptions = WalkOptions(),
    on_skip: Callable[[Skipped], None] | None = None,
) -> Iterator[SourceFile]:
    """Yield the indexable files under ``root`` as SourceFile records, sorted by path."""
    root_real = os.path.realpath(root)
    exclude = GitIgnoreSpec.from_lines(options.exclude) if options.exclude else None
    include = GitIgnoreSpec.from_lines(options.include) if options.include else None

    def skip(rel: str, reason: str, detail: str = "") -> None:
        if on_skip is not None:
            on_skip(Skipped(rel, reason, detail))

    rules = base_rules(Path(root_real), IGNORE_FILES)
    yield from _walk_dir(root_real, "", rules, (root_real,), options, exclude, include, skip)


def _inside(root_real: str, target: str) -> bool:
    return target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep)


def _admits(root_real: str, rel: str, options: WalkOptions) -> bool:
    """Whether the walk would yield the link-free path `rel` (its folders are walked, nothing else)."""
    only = replace(options, only=Path(rel).as_posix())
    return next(walk(Path(root_real), only), None) is not None


def _walk_dir(
    dir_path: str,
    prefix: str,
    rules: IgnoreRules,
    ancestors: tuple[str, ...],
    options: WalkOptions,
    exclude: GitIgnoreSpec | None,
    include: GitIgnoreSpec | None,
    skip: Callable[..., None],
) -> Iterator[SourceFile]:
    root_real = ancestors[0]
    try:
        with os.scandir(dir_path) as it:
            entries = {entry.name: entry for entry in it}
    except OSError:
        skip(prefix.rstrip("/") or ".", "unreadable")
        return
    names = set(entries)
    if prefix and "pyvenv.cfg" in names:  # a virtualenv, whatever its name
        return
    present = tuple(n for n in IGNORE_FILES if n in names)
    if present:
        rules = rules.with_files(Path(dir_path), prefix, present)

    # Sort so that the output is globally sorted: a directory "a" sorts as "a/".
    keyed: list[tuple[str, os.DirEntry[str], bool]] = []
    for name, entry in entries.items():
        try:
            is_dir = entry.is_dir()  # follows symlinks
        except OSError:
            is_dir = False
        keyed.append((name + "/" if is_dir else name, entry, is_dir))
    keyed.sort(key=lambda item: item[0])

    for key, entry, is_dir in keyed:
        rel = prefix + entry.name
        if options.only is not None and not (options.only.startswith(rel + "/") if is_dir else options.only == rel):
            continue
        if is_dir:
            if entry.name in SKIP_DIRS or (entry.name == "vendor" and _is_vendoring(names, entry.name, entries)):
                continue
            if rules.ignored(rel, is_dir=True) or (exclude is not None and exclude.match_file(prefix + key)):
                continue
            real = entry.path
            if entry.is_symlink():
                real = os.path.realpath(entry.path)
                if not _inside(root_real, real):
                    skip(rel, "outside_root")
                    continue
                if SKIP_DIRS.intersection(Path(os.path.relpath(real, root_real)).parts):
                    continue  # a link must not launder a folder never indexed (`stuff -> .git`)
            else:
                real = os.path.join(ancestors[-1], entry.name)
            if real in ancestors:
                skip(rel, "symlink_loop")
                continue
            yield from _walk_dir(entry.path, rel + "/", rules, (*ancestors, real), options, exclude, include, skip)
            continue
        source = _check_file(entry, rel, rules, root_real, options, exclude, include, skip)
        if source is not None:
            yield source


def _check_file(
    entry: os.DirEntry[str],
    rel: str,
    rules: IgnoreRules,
    root_real: str,
    options: WalkOptions,
    exclude: GitIgnoreSpec | None,
    include: GitIgnoreSpec | None,
    skip: Callable[..., None],
) -> SourceFile | None:
    name = entry.name
    if name in IGNORE_FILES or rules.ignored(rel):
        return None
    if exclude is not None and exclude.match_file(rel):
        return None
    if include is not None and not include.match_file(rel):
        return None
    if entry.is_symlink():
        target = os.path.realpath(entry.path)
        if not os.path.exists(target):
            skip(rel, "unreadable")  # dangling link, or a link loop the OS refused to resolve
            return None
        if not _inside(root_real, target):
            skip(rel, "outside_root")
            return None
        if not _admits(root_real, os.path.relpath(target, root_real), options):
            return None  # a link must not launder a file the rules ignore (`alias.py -> .env`)
    try:
        st = entry.stat()
    except OSError:
        skip(rel, "unreadable")
        return None
    if not stat.S_ISREG(st.st_mode):
        return None  # sockets, fifos, devices
    if is_generated(name):
        skip(rel, "generated")
        return None
    if is_secret(name) and not options.include:
        skip(rel, "secret", "its name marks it as holding credentials (--include brings it back)")
        return None
    extension = os.path.splitext(name)[1].lower()
    if extension in BINARY_EXTENSIONS:
        skip(rel, "binary", f"a binary file extension ({extension})")
        return None
    if extension in DATA_EXTENSIONS and not options.include:
        skip(rel, "data")
        return None
    if st.st_size > options.max_file_bytes:
        skip(rel, "too_large", f"{st.st_size:,} bytes, over the {options.max_file_bytes:,}-byte limit"
                               " (PRISM_MAX_FILE_BYTES)")
        return None
    try:
        with open(entry.path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        skip(rel, "unreadable")
        return None
    language = detect_language(rel, head)
    if is_binary(head):
        where = f"a NUL byte at offset {head.index(NUL):,}"
        if language is not None:  # a source file: most likely one stray byte, worth saying so
            where += f" of this {language} file (remove it, or convert the file to UTF-8, to index it)"
        skip(rel, "binary", where)
        return None
    return SourceFile(path=rel, size=st.st_size, mtime=st.st_mtime, language=language)


def resolve_inside(root: Path, path: str) -> Path:
    """The absolute path of ``path`` (relative to ``root``); PathError if it escapes the root."""
    if not path or "\0" in path:
        raise PathError(
            f"Invalid path {path!r}.",
            hint="Pass a non-empty path relative to the project root.",
            value=path,
        )
    if path.startswith(("/", "\\")) or os.path.isabs(path) or (len(path) > 1 and path[1] == ":"):
        raise PathError(
            f"Path {path!r} is absolute.",
            hint="Pass a path relative to the project root, e.g. 'src/app.py'.",
            value=path,
        )
    root_real = os.path.realpath(root)
    full = os.path.realpath(os.path.join(root_real, path))
    if not _inside(root_real, full):
        raise PathError(
            f"Path {path!r} resolves outside the project root {root}.",
            hint="Only files inside the project can be read; check for '..' or symlinks.",
            value=path,
        )
    return Path(full)


def read_source(root: Path, path: str) -> tuple[bytes, str]:
    """The raw bytes of a project file (hash these) and its text (UTF-8, errors replaced, no BOM).

    Raises PathError for paths that escape the root; OSError (e.g. FileNotFoundError) when the
    file vanished or cannot be read since it was walked.
    """
    data = resolve_inside(root, path).read_bytes()
    return data, decode_source(data)


def decode_source(data: bytes) -> str:
    """A file's text: UTF-8 with errors replaced, without a byte-order mark."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    return body.decode("utf-8", errors="replace")
