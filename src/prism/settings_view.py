"""What the engine reads of its settings, and a pydantic-free read of them for a fast `prism search`.

`prism.config.Settings` (pydantic-settings) is the table of every setting; importing it costs a
plain CLI search about a third of its start-up. `light_settings()` reads the common environments
(the folder, embedder, tokenizer, fusion and on/off settings, in the forms pydantic would accept)
into `LightSettings` with the same defaults, and answers None for anything else (a number, an
unusual spelling, PRISM_DATABASE_URL), so that pydantic parses and validates exactly as before.
tests/unit/test_settings_view.py holds the two to one table.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

ENV_PREFIX = "prism_"
# Settings.embedder reads the first of these that is set (lower case, as pydantic-settings compares names).
EMBEDDER_NAMES = ("prism_embedder", "prism_embedding_model", "embedding_model")
TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})


class SecretText(Protocol):
    def get_secret_value(self) -> str: ...


class SettingsView(Protocol):
    """The settings an engine reads: `prism.config.Settings`, or `LightSettings` for a CLI search."""

    @property
    def home(self) -> Path: ...
    @property
    def max_file_bytes(self) -> int: ...
    @property
    def max_chunk_tokens(self) -> int: ...
    @property
    def window_lines(self) -> int: ...
    @property
    def window_overlap(self) -> int: ...
    @property
    def embedder(self) -> str: ...
    @property
    def embed(self) -> bool: ...
    @property
    def shared_embedding_cache(self) -> bool: ...
    @property
    def embed_batch(self) -> int: ...
    @property
    def ann_threshold(self) -> int: ...
    @property
    def ann_dtype(self) -> Literal["f16", "i8"]: ...
    @property
    def cache_ttl_s(self) -> float: ...
    @property
    def threads(self) -> int: ...
    @property
    def fusion(self) -> Literal["hand-set", "learned", "auto"]: ...
    @property
    def tokenizer(self) -> str: ...
    @property
    def database_url(self) -> SecretText | None: ...
    @property
    def pg_hnsw_m(self) -> int: ...
    @property
    def pg_hnsw_ef_construction(self) -> int: ...
    @property
    def pg_hnsw_ef_search(self) -> int: ...
    @property
    def pg_build_memory(self) -> str: ...
    @property
    def pg_build_workers(self) -> int | None: ...


@dataclass(frozen=True)
class LightSettings:
    """`Settings`' defaults (a test compares every one), with PRISM_HOME and PRISM_EMBED applied."""

    home: Path = field(default_factory=lambda: Path.home() / ".prism")
    max_file_bytes: int = 1024 * 1024
    max_chunk_tokens: int = 1500
    window_lines: int = 60
    window_overlap: int = 10
    embedder: str = "minilm"
    embed: bool = True
    shared_embedding_cache: bool = True
    embed_batch: int = 32
    ann_threshold: int = 200_000
    ann_dtype: Literal["f16", "i8"] = "f16"
    cache_ttl_s: float = 60.0
    threads: int = 0
    fusion: Literal["hand-set", "learned", "auto"] = "hand-set"
    tokenizer: str = "cl100k_base"
    database_url: SecretText | None = None
    pg_hnsw_m: int = 32
    pg_hnsw_ef_construction: int = 128
    pg_hnsw_ef_search: int = 1000
    pg_build_memory: str = "2GB"
    pg_build_workers: int | None = None


def _path(raw: str) -> Path | None:
    return Path(raw) if raw.strip() == raw and raw else None


def _bool(raw: str) -> bool | None:
    return True if raw in TRUE_WORDS else False if raw in FALSE_WORDS else None


def _text(raw: str) -> str:
    return raw


def _choice(*choices: str) -> Callable[[str], str | None]:
    return lambda raw: raw if raw in choices else None


# The settings read here, each as pydantic reads it; for any other one set in the environment pydantic decides.
READERS: dict[str, Callable[[str], object]] = {
    "home": _path, "embed": _bool, "shared_embedding_cache": _bool, "embedder": _text, "tokenizer": _text,
    "fusion": _choice("hand-set", "learned", "auto"), "ann_dtype": _choice("f16", "i8"),
}


def light_settings(environ: Mapping[str, str] | None = None) -> LightSettings | None:
    """The settings this environment gives, without pydantic; None when only `Settings()` can say."""
    env = os.environ if environ is None else environ
    fields = set(LightSettings.__dataclass_fields__)
    found: dict[str, str] = {}  # lower-cased variable -> value, as pydantic-settings compares names
    for key, raw in env.items():
        name = key.lower()
        if (name.startswith(ENV_PREFIX) and name[len(ENV_PREFIX):] in fields) or name in EMBEDDER_NAMES:
            if name in found:
                return None  # set twice, in different cases
            found[name] = raw
    embedder = next((found.pop(name) for name in EMBEDDER_NAMES if name in found), None)
    for name in EMBEDDER_NAMES:  # the first name set wins; the others are not read
        found.pop(name, None)
    if found.get("prism_database_url", "x").strip() == "":
        del found["prism_database_url"]  # Settings' validator makes a blank URL unset
    if embedder is not None:
        found["prism_embedder"] = embedder
    values: dict[str, object] = {}
    for name, raw in found.items():
        setting = name[len(ENV_PREFIX):]
        reader = READERS.get(setting)
        value = reader(raw) if reader is not None else None
        if value is None:  # a setting not read here, or not in a form read here
            return None
        values[setting] = value
    return LightSettings(**values)  # type: ignore[arg-type]


def project_slug(root: Path) -> str:
    """A stable, readable folder name for a project root: name + hash of its absolute path."""
    resolved = str(root.resolve())
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", root.resolve().name or "root")[:40]
    return f"{name}-{digest}"


def index_dir_for(root: Path, settings: SettingsView) -> Path:
    """Where the index of the project at `root` lives (outside the working tree)."""
    return settings.home / "projects" / project_slug(root)
