"""Symbol lookup on the refs graph: where a name is defined, and which chunks call or import it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from prism.index.store import ChunkReader, CodeGraph
from prism.models import StoredChunk

DEFAULT_LIMIT = 50


class SymbolStore(ChunkReader, CodeGraph, Protocol):
    """The store reads symbol lookup needs."""


_KIND_RANK = {"class": 0, "function": 1, "method": 1}  # classes first, then functions/methods


@dataclass(frozen=True)
class SymbolRefs:
    """Definitions of a name plus the chunks that call or import it (each tuple ≤ the limit)."""

    name: str
    definitions: tuple[StoredChunk, ...]
    callers: tuple[StoredChunk, ...] = ()
    importers: tuple[StoredChunk, ...] = ()


def name_forms(name: str) -> list[str]:
    """'pkg.Class.method' → ['pkg.Class.method', 'method', 'Class.method']: the forms refs may hold."""
    parts = [p for p in name.replace("::", ".").split(".") if p]
    forms = [name]
    if len(parts) > 1:
        forms += [parts[-1], ".".join(parts[-2:])]
    return list(dict.fromkeys(forms))


def _matches_qualified(chunk: StoredChunk, name: str) -> bool:
    q = chunk.chunk.qualified_name
    return q == name or q.endswith("." + name) or name.endswith("." + q)


def find_symbol(store: SymbolStore, name: str, *, limit: int = DEFAULT_LIMIT,
                references: bool = True) -> SymbolRefs:
    """Definitions of `name` (a qualified name narrows them) and, optionally, callers and importers."""
    name = name.strip()
    forms = name_forms(name)
    ids = sorted({cid for cid, _ in store.find_refs(forms, "defines")})
    defs = store.get_chunks(ids[:limit * 4])
    if "." in name:
        defs = [c for c in defs if _matches_qualified(c, name)] or defs
    defs.sort(key=lambda c: (_KIND_RANK.get(c.chunk.kind, 2), c.chunk.path, c.chunk.start_line))
    defs = defs[:limit]
    if not references:
        return SymbolRefs(name, tuple(defs))
    own = {c.id for c in defs}
    short = forms[1:2] or forms[:1]
    callers = _referrers(store, short, "calls", own, limit)
    imported_as = [f for c in defs for f in _import_names(c)]
    importers = _referrers(store, [*forms, *short, *imported_as], "imports", own, limit)
    return SymbolRefs(name, tuple(defs), callers, importers)


def _import_names(chunk: StoredChunk) -> list[str]:
    """How an import names a definition: 'src/pkg/core.py' + 'helper' → 'pkg.core.helper' (and with src.)."""
    module = chunk.chunk.path.rsplit(".", 1)[0].replace("/", ".").removesuffix(".__init__")
    modules = [module, module.removeprefix("src.")] if module.startswith("src.") else [module]
    top = chunk.chunk.qualified_name.split(".")[0]
    return [f"{m}.{top}" for m in modules if top]


def _referrers(store: SymbolStore, names: list[str], kind: str, exclude: set[int],
               limit: int) -> tuple[StoredChunk, ...]:
    ids = sorted({cid for cid, _ in store.find_refs(names, kind)} - exclude)
    found = store.get_chunks(ids[:limit])
    found.sort(key=lambda c: (c.chunk.path, c.chunk.start_line))
    return tuple(found)
