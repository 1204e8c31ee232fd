"""Small projects written from a dict of files and indexed lexically (no vectors), for ranking tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from prism.config import Settings
from prism.engine import Prism


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def lexical_prism(root: Path, home: Path, files: Mapping[str, str]) -> Prism:
    """A Prism over `files` written under `root`, indexed without vectors, its index under `home`."""
    write_files(root, files)
    engine = Prism(root, settings=Settings(home=home, embed=False))
    engine.index()
    return engine
