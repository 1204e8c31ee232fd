"""Contract suite for the Embedder Protocol, run against every implementation.

The remote embedders run against a loopback server speaking each provider's wire format
(tests/fakes/llm_server.py, which serves hashing vectors scaled off unit length).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from prism.index.embed import Embedder, HashingEmbedder, load_embedder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fakes"))
from llm_server import fake_providers, settings_for

from prism.llm.embedders import load_remote_embedder

TEXTS = [
    "def sort_items(xs): return sorted(xs)",
    "class HttpClient:\n    def get(self, url): ...",
    "",
    "parse the configuration file and return a Settings object",
    "日本語のテキスト 🎉 naïve café",
    "x" * 3000,
]


@pytest.fixture(params=["hashing", "minilm", "ollama:fake", "openai:fake", "workers-ai:@cf/fake"], scope="module")
def embedder(request: pytest.FixtureRequest) -> Iterator[Embedder]:
    name: str = request.param
    if ":" in name:
        with fake_providers() as fake:
            yield load_remote_embedder(name, settings_for(fake, embed_request_batch=2))
        return
    yield HashingEmbedder() if name == "hashing" else load_embedder(name, threads=2)


def _assert_unit_rows(matrix: np.ndarray, dim: int) -> None:
    assert matrix.dtype == np.float32
    assert matrix.shape[-1] == dim
    assert np.isfinite(matrix).all()
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=-1), 1.0, atol=1e-5)


def test_identity(embedder: Embedder) -> None:
    assert isinstance(embedder.model_id, str) and "@" in embedder.model_id
    assert embedder.dim > 0


def test_documents_shape_dtype_norm(embedder: Embedder) -> None:
    matrix = embedder.embed_documents(TEXTS)
    assert matrix.shape == (len(TEXTS), embedder.dim)
    _assert_unit_rows(matrix, embedder.dim)


def test_no_documents(embedder: Embedder) -> None:
    matrix = embedder.embed_documents([])
    assert matrix.shape == (0, embedder.dim)
    assert matrix.dtype == np.float32


def test_query_shape_dtype_norm(embedder: Embedder) -> None:
    vector = embedder.embed_query("how do I sort a list")
    assert vector.shape == (embedder.dim,)
    _assert_unit_rows(vector, embedder.dim)


def test_empty_string_gives_a_finite_unit_vector(embedder: Embedder) -> None:
    _assert_unit_rows(embedder.embed_query(""), embedder.dim)
    _assert_unit_rows(embedder.embed_documents([""]), embedder.dim)


def test_deterministic(embedder: Embedder) -> None:
    first = embedder.embed_documents(TEXTS)
    second = embedder.embed_documents(TEXTS)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(embedder.embed_query(TEXTS[3]), embedder.embed_query(TEXTS[3]))


def test_batch_equals_single(embedder: Embedder) -> None:
    batch = embedder.embed_documents(TEXTS)
    for row, text in enumerate(TEXTS):
        single = embedder.embed_documents([text])[0]
        np.testing.assert_allclose(batch[row], single, atol=1e-5)


def test_order_of_batch_does_not_matter(embedder: Embedder) -> None:
    forward = embedder.embed_documents(TEXTS)
    backward = embedder.embed_documents(TEXTS[::-1])[::-1]
    np.testing.assert_allclose(forward, backward, atol=1e-5)


def test_short_query_equals_document(embedder: Embedder) -> None:
    text = "open a socket to the host"
    np.testing.assert_allclose(embedder.embed_query(text), embedder.embed_documents([text])[0], atol=1e-5)


def test_long_query_works(embedder: Embedder) -> None:
    trace = "\n".join(
        f'  File "/app/pkg/module_{i}.py", line {i}, in handle_request_{i}\n'
        f"    result = dispatcher.dispatch(request_{i})"
        for i in range(200)
    )
    query = "Crash in fetch_user when the session is empty.\n" + trace
    vector = embedder.embed_query(query)
    assert vector.shape == (embedder.dim,)
    _assert_unit_rows(vector, embedder.dim)
    # The query still points at what its text is about.
    related, unrelated = embedder.embed_documents(
        [
            "def dispatch(self, request): return self.handle_request(request)",
            "def render_pdf_page(canvas, page_number): draw glyphs and fonts",
        ]
    )
    assert float(vector @ related) > float(vector @ unrelated)


def test_similar_beats_dissimilar(embedder: Embedder) -> None:
    query = embedder.embed_query("how to sort a list")
    similar, dissimilar = embedder.embed_documents(
        [
            "def sort_items(xs): return sorted(xs)",
            "def open_socket(host): return socket.create_connection((host, 80))",
        ]
    )
    assert float(query @ similar) > float(query @ dissimilar)
