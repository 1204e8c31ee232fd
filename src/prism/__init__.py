"""PRISM: index a codebase and give AI assistants the code a task needs, within an exact token budget.

The public API is the `Prism` engine, its `Settings`, and the `PrismError` tree. Attributes
load lazily so that `import prism.<module>` stays cheap (the CLI's cold start depends on it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prism.config import Settings
    from prism.engine import Prism
    from prism.errors import (
        ConfigError,
        IndexCorruptError,
        IndexLockedError,
        InputError,
        ModelError,
        NotFoundError,
        PathError,
        PrismError,
        ProjectError,
    )

__version__ = "0.1.0"

_EXPORTS = {
    "Prism": "prism.engine",
    "Settings": "prism.config",
    "PrismError": "prism.errors",
    "ConfigError": "prism.errors",
    "ProjectError": "prism.errors",
    "IndexLockedError": "prism.errors",
    "IndexCorruptError": "prism.errors",
    "ModelError": "prism.errors",
    "InputError": "prism.errors",
    "PathError": "prism.errors",
    "NotFoundError": "prism.errors",
}

__all__ = [
    "ConfigError", "IndexCorruptError", "IndexLockedError", "InputError", "ModelError", "NotFoundError",
    "PathError", "Prism", "PrismError", "ProjectError", "Settings", "__version__",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'prism' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
