"""Settings: one table of name, type, default and help, read from PRISM_* environment variables.

Every setting is documented by its Field description; `prism config` (and docs/settings.md)
are generated from this table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from prism.settings_view import index_dir_for as index_dir_for
from prism.settings_view import project_slug as project_slug


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRISM_", extra="ignore", frozen=True, populate_by_name=True)

    home: Path = Field(
        default_factory=lambda: Path.home() / ".prism",
        description="Folder that holds every project's index (one sub-folder per project).",
    )
    max_file_bytes: int = Field(
        1024 * 1024, ge=1, description="Files larger than this are skipped by the walker."
    )
    max_chunk_tokens: int = Field(
        1500, ge=64, description="Chunks above this many tokens are split at statement boundaries."
    )
    window_lines: int = Field(60, ge=5, description="Line window size for files without a grammar.")
    window_overlap: int = Field(10, ge=0, description="Lines shared by consecutive windows.")
    embedder: str = Field(
        "minilm", validation_alias=AliasChoices("PRISM_EMBEDDER", "PRISM_EMBEDDING_MODEL", "EMBEDDING_MODEL"),
        description="Embedding model: minilm (bundled MiniLM-L6 int8, also `auto`), hashing (no model), or a "
                    "remote `provider:model` (ollama, openai, workers-ai: e.g. ollama:nomic-embed-text). Also "
                    "read from PRISM_EMBEDDING_MODEL and EMBEDDING_MODEL.",
    )
    embed: bool = Field(True, description="Compute dense vectors (set false for lexical-only indexes).")
    shared_embedding_cache: bool = Field(
        True, description="Reuse vectors across projects (worktrees, checkouts) via PRISM_HOME/embeddings.db, "
                          "or with PRISM_DATABASE_URL a table there that every host shares."
    )
    embed_batch: int = Field(32, ge=1, description="Chunks per embedding batch.")
    ann_threshold: int = Field(
        200_000, ge=0, description="Embedded store: from this many vectors on, dense search goes through an "
                                   "approximate HNSW index (usearch) beside the SQLite file, rebuilt in the "
                                   "background after index runs; below it (or 0) every search is exact.",
    )
    ann_dtype: Literal["f16", "i8"] = Field(
        "f16", description="How the approximate index stores vectors: f16 (more accurate) or i8 (half the size).",
    )
    cache_ttl_s: float = Field(
        60.0, ge=0, le=86_400, description="Seconds a finished search, context pack or map is served from the "
                                            "cache (a re-index invalidates it at once; this bounds edits on disk "
                                            "not yet indexed). 0 caches no results."
    )
    threads: int = Field(0, ge=0, description="Threads for the embedding model (0: all cores).")
    fusion: Literal["hand-set", "learned", "auto"] = Field(
        "hand-set", description="How search combines its signals: hand-set (weighted reciprocal ranks, the first "
                                "result scores 1), learned (the logistic model fitted on the dev data, "
                                "retrieve/fusion_weights.json: scores are probabilities, comparable across queries) "
                                "or auto (learned for long issue texts, hand-set for short questions).",
    )
    tokenizer: str = Field(
        "cl100k_base", description="Tokenizer that counts budget tokens: cl100k_base or o200k_base."
    )
    database_url: SecretStr | None = Field(
        None, description="PostgreSQL (with pgvector) for every project's index and the team server's keys, "
                          "projects and audit log (`postgresql://user:password@host:5432/db`), shared by every "
                          "replica; unset: embedded SQLite under PRISM_HOME. `prism migrate` moves an index "
                          "between the two.",
    )

    pg_hnsw_m: int = Field(
        32, ge=2, le=100, description="PostgreSQL: HNSW graph links per node (pgvector's m). More: better recall, "
                                      "a longer build and a larger index. A changed value rebuilds the index "
                                      "beside the old one after the next index run.",
    )
    pg_hnsw_ef_construction: int = Field(
        128, ge=4, le=1000, description="PostgreSQL: HNSW candidates per insert while building (pgvector's "
                                       "ef_construction); at least twice pg_hnsw_m. A changed value rebuilds "
                                       "the index, as pg_hnsw_m.",
    )
    pg_hnsw_ef_search: int = Field(
        1000, ge=1, le=1000, description="PostgreSQL: HNSW candidates per query (hnsw.ef_search; pgvector's "
                                         "most is 1000). More: better recall, slower searches.",
    )
    pg_build_memory: str = Field(
        "2GB", pattern=r"^[0-9]+ ?(kB|MB|GB|TB)$",
        description="PostgreSQL: maintenance_work_mem of the session that builds an HNSW index (the graph "
                    "must fit, else pgvector builds on disk, many times slower): about 3 GB per million "
                    "384-dimension vectors at m 32, every project's rows together.",
    )
    pg_build_workers: int | None = Field(
        None, ge=0, le=64, description="PostgreSQL: max_parallel_maintenance_workers of that session (pgvector "
                                       "builds HNSW in parallel); unset: the server's setting.",
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


def split_commas(value: object) -> object:
    """A list setting from the environment: `a, b` or a JSON list; anything else is left to pydantic."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            return json.loads(stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value
