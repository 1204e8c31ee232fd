"""`light_settings` and `prism.config.Settings` are one table: same fields, same defaults, and for every
environment the light reader answers, the values pydantic gives; where it cannot be sure it answers None."""

from __future__ import annotations

import os
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from prism.config import Settings
from prism.settings_view import LightSettings, SettingsView, light_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PRISM_") or name.upper() == "EMBEDDING_MODEL":
            monkeypatch.delenv(name)


def as_dict(settings: SettingsView) -> dict[str, object]:
    values = {name: getattr(settings, name) for name in Settings.model_fields}
    url = values["database_url"]
    values["database_url"] = None if url is None else url.get_secret_value()  # type: ignore[attr-defined]
    return values


def pydantic_says(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict[str, object] | None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        return as_dict(Settings())
    except ValidationError:
        return None


def test_the_same_fields_and_defaults() -> None:
    assert list(LightSettings.__dataclass_fields__) == list(Settings.model_fields)
    view_members = {n for n in vars(SettingsView) if not n.startswith("_")}
    assert view_members == set(Settings.model_fields)
    assert as_dict(LightSettings()) == as_dict(Settings())
    read = light_settings({})
    assert read is not None and as_dict(read) == as_dict(Settings())


def test_the_choices_are_the_settings_choices() -> None:
    for name in ("fusion", "ann_dtype"):
        hints = typing.get_type_hints(LightSettings)
        assert typing.get_args(hints[name]) == typing.get_args(Settings.model_fields[name].annotation), name


@pytest.mark.parametrize("env", [
    {"PRISM_HOME": "/tmp/prism-light-home"},
    {"prism_home": "/tmp/prism-light-home", "PRISM_EMBED": "false"},
    *({"PRISM_EMBED": word} for word in ("0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes")),
    {"PRISM_SHARED_EMBEDDING_CACHE": "no"},
    {"PRISM_EMBEDDER": "hashing"},
    {"PRISM_EMBEDDING_MODEL": "ollama:nomic-embed-text"},
    {"EMBEDDING_MODEL": "hashing", "PRISM_EMBEDDING_MODEL": "minilm"},
    {"EMBEDDING_MODEL": "hashing", "PRISM_EMBEDDER": "minilm", "PRISM_EMBEDDING_MODEL": "auto"},
    {"PRISM_TOKENIZER": "o200k_base", "PRISM_FUSION": "learned", "PRISM_ANN_DTYPE": "i8"},
    {"PRISM_DATABASE_URL": "  "},
    {"PRISM_NOT_A_SETTING": "x", "PRISM_HOME": "/tmp/h"},
])
def test_what_it_reads_it_reads_as_pydantic_does(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    read = light_settings(env)
    assert read is not None, env
    assert as_dict(read) == pydantic_says(monkeypatch, env)


@pytest.mark.parametrize("env", [
    {"PRISM_DATABASE_URL": "postgresql://u:p@localhost/db"},
    {"PRISM_CACHE_TTL_S": "0"},
    {"PRISM_MAX_FILE_BYTES": "2048"},
    {"PRISM_EMBED": "maybe"},  # invalid: pydantic's error must be the one the user sees
    {"PRISM_EMBED": " true"},
    {"PRISM_FUSION": "rrf"},
    {"PRISM_ANN_DTYPE": "F16"},
    {"PRISM_HOME": ""},
    {"PRISM_HOME": "/a", "prism_home": "/b"},
])
def test_anything_else_is_left_to_pydantic(env: dict[str, str]) -> None:
    assert light_settings(env) is None


def test_a_light_read_folder_names_the_same_index(tmp_path: Path) -> None:
    from prism.config import index_dir_for

    read = light_settings({"PRISM_HOME": str(tmp_path)})
    assert read is not None
    assert index_dir_for(tmp_path / "proj", read) == index_dir_for(tmp_path / "proj", Settings(home=tmp_path))
