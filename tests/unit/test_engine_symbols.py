"""Prism.find_symbol: definitions plus callers and importers from the refs graph, as frozen records."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from prism.config import Settings
from prism.engine import Prism
from prism.errors import InputError
from prism.index.symbols import SymbolRefs, name_forms


@pytest.fixture()
def prism(tmp_path: Path) -> Prism:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "core.py").write_text(
        "class Engine:\n    def start(self):\n        return 1\n\n\n"
        "def helper():\n    return Engine().start()\n")
    (repo / "pkg" / "app.py").write_text(
        "from pkg.core import helper\n\n\ndef main():\n    return helper()\n")
    engine = Prism(repo, settings=Settings(home=tmp_path / "home", embedder="hashing", threads=1))
    engine.index(embed=False)
    return engine


def test_definition_callers_and_importers(prism: Prism) -> None:
    refs = prism.find_symbol("helper")
    assert isinstance(refs, SymbolRefs)
    assert [(c.chunk.path, c.chunk.qualified_name) for c in refs.definitions] == [("pkg/core.py", "helper")]
    assert any(c.chunk.path == "pkg/app.py" and c.chunk.qualified_name == "main" for c in refs.callers)
    assert any(c.chunk.path == "pkg/app.py" for c in refs.importers)
    assert not {c.id for c in refs.definitions} & {c.id for c in refs.callers}
    with pytest.raises(dataclasses.FrozenInstanceError):
        refs.name = "other"  # type: ignore[misc]


def test_qualified_name_narrows_and_references_are_optional(prism: Prism) -> None:
    refs = prism.find_symbol("Engine.start", references=False)
    assert [c.chunk.qualified_name for c in refs.definitions] == ["Engine.start"]
    assert refs.callers == () and refs.importers == ()


def test_limit_and_unknown_and_empty(prism: Prism) -> None:
    assert prism.find_symbol("no_such_symbol").definitions == ()
    assert len(prism.find_symbol("helper", limit=1).callers) <= 1
    with pytest.raises(InputError, match="empty"):
        prism.find_symbol("  ")
    with pytest.raises(InputError, match="limit"):
        prism.find_symbol("helper", limit=0)


def test_name_forms() -> None:
    assert name_forms("pkg.Class.method") == ["pkg.Class.method", "method", "Class.method"]
    assert name_forms("Class::method") == ["Class::method", "method", "Class.method"]
    assert name_forms("plain") == ["plain"]
