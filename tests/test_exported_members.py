"""The public API is exactly what `prism.__all__` says, and every name resolves."""

from __future__ import annotations

import prism


def test_all_names_resolve() -> None:
    for name in prism.__all__:
        assert getattr(prism, name) is not None


def test_public_api_is_stable() -> None:
    assert set(prism.__all__) == {
        "Prism", "Settings", "PrismError", "ConfigError", "ProjectError", "IndexLockedError",
        "IndexCorruptError", "ModelError", "InputError", "PathError", "NotFoundError", "__version__",
    }


def test_errors_form_one_tree() -> None:
    for name in prism.__all__:
        value = getattr(prism, name)
        if isinstance(value, type) and name.endswith("Error"):
            assert issubclass(value, prism.PrismError)
