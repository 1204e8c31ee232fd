"""Two hosts (engines on their own PRISM_HOME) on one PostgreSQL embed a chunk text once between them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from prism.config import Settings
from prism.engine import Prism
from prism.index.embed import HashingEmbedder

FILES = {"tokens.py": "def refresh_token(session):\n    '''Refresh the access token.'''\n    return session.token\n",
         "billing.py": "def charge(amount):\n    return amount * 2\n\n\nclass Invoice:\n    total = 0\n"}

CHUNKS = 3  # two functions and a class


class Counting(HashingEmbedder):
    """The hashing model under a model id of the test's own, counting the texts it is asked to embed."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.texts: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.texts.extend(texts)
        return super().embed_documents(texts)


def checkout(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, text in FILES.items():
        (folder / name).write_text(text)
    return folder


def index_on_two_hosts(tmp_path: Path, postgres_url: str, *, shared: bool) -> list[list[str]]:
    """Host A indexes a checkout, then host B another checkout of the same code (another project);
    the texts each host's model embedded while indexing."""
    model = f"hashing-test-{uuid.uuid4().hex}"  # this test's rows only, in the session's database
    embedded: list[list[str]] = []
    for host in ("a", "b"):
        settings = Settings(home=tmp_path / host / "home", embedder="hashing", database_url=postgres_url,
                            shared_embedding_cache=shared)
        embedder = Counting(model)
        with Prism(checkout(tmp_path / host / "repo"), settings=settings, embedder=embedder) as engine:
            report = engine.index()
            embedded.append(list(embedder.texts))
            assert report.embedded == CHUNKS and engine.store.count_pending_embeddings(model) == 0
            assert engine.search("refresh the access token").hits[0].chunk.chunk.name == "refresh_token"
        assert not (settings.home / "embeddings.db").exists()  # no per-host cache beside the database
    return embedded


def test_the_second_host_embeds_nothing_the_first_embedded(tmp_path: Path, postgres_url: str) -> None:
    a, b = index_on_two_hosts(tmp_path, postgres_url, shared=True)
    assert len(a) == CHUNKS
    assert b == []  # every vector came from the database's cache


def test_without_the_cache_each_host_embeds_again(tmp_path: Path, postgres_url: str) -> None:
    """The control: the projects are distinct, so only the cache saved host B its model runs."""
    a, b = index_on_two_hosts(tmp_path, postgres_url, shared=False)
    assert len(a) == len(b) == CHUNKS
