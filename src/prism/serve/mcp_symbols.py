"""Symbol lookup for the MCP `find_symbol` tool: definitions, callers and importers from the refs graph."""

from __future__ import annotations

from dataclasses import dataclass

from prism.engine import Prism
from prism.models import StoredChunk

MAX_PER_KIND = 50


@dataclass(frozen=True)
class SymbolResult:
    """Where a name is defined and which chunks call or import it (each list ≤ MAX_PER_KIND)."""

    definitions: tuple[StoredChunk, ...]
    callers: tuple[StoredChunk, ...]
    importers: tuple[StoredChunk, ...]


def _names(name: str) -> list[str]:
    """'pkg.Class.method' → ['pkg.Class.method', 'method', 'Class.method']: the forms refs may hold."""
    parts = [p for p in name.replace("::", ".").split(".") if p]
    forms = [name]
    if len(parts) > 1:
        forms += [parts[-1], ".".join(parts[-2:])]
    return list(dict.fromkeys(forms))


def _matches_qualified(chunk: StoredChunk, name: str) -> bool:
    q = chunk.chunk.qualified_name
    return q == name or q.endswith("." + name) or name.endswith("." + q)


def lookup_symbol(prism: Prism, name: str, references: bool = True) -> SymbolResult:
    """Definitions of `name` (a qualified name narrows them) plus, optionally, callers and importers."""
    store = prism.require_index()
    forms = _names(name.strip())
    ids = sorted({cid for cid, _ in store.find_refs(forms, "defines")})
    defs = store.get_chunks(ids[:MAX_PER_KIND * 4])
    if "." in name:
        narrowed = [c for c in defs if _matches_qualified(c, name)]
        defs = narrowed or defs
    # Classes first, then functions/methods, then the rest; stable by path and line.
    rank = {"class": 0, "function": 1, "method": 1}
    defs.sort(key=lambda c: (rank.get(c.chunk.kind, 2), c.chunk.path, c.chunk.start_line))
    defs = defs[:MAX_PER_KIND]
    if not references:
        return SymbolResult(tuple(defs), (), ())
    own = {c.id for c in defs}
    short = forms[1:2] or forms[:1]
    callers = _chunks(prism, short, "calls", own)
    importers = _chunks(prism, [*forms, *short], "imports", own)
    return SymbolResult(tuple(defs), tuple(callers), tuple(importers))


def _chunks(prism: Prism, names: list[str], kind: str, exclude: set[int]) -> list[StoredChunk]:
    ids = sorted({cid for cid, _ in prism.store.find_refs(names, kind)} - exclude)
    found = prism.store.get_chunks(ids[:MAX_PER_KIND])
    found.sort(key=lambda c: (c.chunk.path, c.chunk.start_line))
    return found
