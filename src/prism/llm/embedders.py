"""Remote embedders: the index's Embedder Protocol over a provider's embeddings endpoint.

Selected by EMBEDDING_MODEL=`provider:model` (ollama, openai — any OpenAI-compatible server —
or workers-ai); the bundled MiniLM stays the default. Texts go out in batches of
PRISM_EMBED_REQUEST_BATCH, at most PRISM_EMBED_CONCURRENCY requests at once, and come back in
order, L2-normalised (providers do not all normalise). `model_id` is `provider:model@1`, so
the index records which model built its vectors and re-embeds when it changes; the
dimension is learnt from the first answer and every later answer must match it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from prism.errors import ConfigError
from prism.index.embed import Vectors
from prism.llm.errors import ProviderResponseError
from prism.llm.providers import AnthropicProvider, EmbeddingProvider, make_provider
from prism.llm.settings import LLMSettings, load_llm_settings, split_model

MAX_TEXT_CHARS = 8000  # ≈ 2,000 tokens: inside every provider's input limit
EMPTY_TEXT = "(empty)"  # OpenAI-compatible servers refuse an empty string
EMBEDDING_PROVIDERS = ("ollama", "openai", "workers-ai")


class RemoteEmbedder:
    """Embeds through `provider`'s API; thread-safe (httpx's client is)."""

    def __init__(self, provider: EmbeddingProvider, model: str, *, batch_size: int = 32,
                 concurrency: int = 4, dim: int | None = None) -> None:
        self.provider = provider
        self.model = model
        self.model_id = f"{provider.name}:{model}@1"
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._dim = dim
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.embed_documents(["dimension probe"])
        assert self._dim is not None
        return self._dim

    @dim.setter
    def dim(self, value: int) -> None:
        self._dim = value

    def _batch(self, texts: Sequence[str]) -> Vectors:
        sent = [text[:MAX_TEXT_CHARS] if text.strip() else EMPTY_TEXT for text in texts]
        matrix = np.asarray(self.provider.embed(self.model, sent), dtype=np.float32)
        with self._lock:
            if self._dim is None:
                self._dim = int(matrix.shape[1])
        if matrix.shape[1] != self._dim:
            raise ProviderResponseError(
                f"{self.model_id} returned {matrix.shape[1]}-dimensional vectors, not {self._dim}.",
                hint="The server's model changed: re-index (`prism index --force`).", value=self.model_id)
        if not np.isfinite(matrix).all():
            raise ProviderResponseError(f"{self.model_id} returned vectors with NaN or infinite values.",
                                        value=self.model_id)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        zero = norms[:, 0] == 0
        matrix[zero, 0], norms[zero] = 1.0, 1.0  # a null vector becomes one fixed unit vector
        result: Vectors = (matrix / norms).astype(np.float32)
        return result

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [texts[start:start + self.batch_size] for start in range(0, len(texts), self.batch_size)]
        if len(parts) == 1 or self.concurrency == 1:
            return np.vstack([self._batch(part) for part in parts])
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(parts)),
                                thread_name_prefix="prism-embed") as pool:
            return np.vstack(list(pool.map(self._batch, parts)))

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self.embed_documents([text])[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed_documents(texts)


def load_remote_embedder(spec: str, settings: LLMSettings | None = None) -> RemoteEmbedder:
    """The embedder for EMBEDDING_MODEL=`provider:model` (ConfigError for a provider without embeddings)."""
    provider_name, model = split_model(spec)
    if provider_name not in EMBEDDING_PROVIDERS:
        raise ConfigError(f"{provider_name} has no embeddings endpoint PRISM can use.",
                          hint=f"Use one of: {', '.join(EMBEDDING_PROVIDERS)} (or minilm, the bundled model).",
                          value=spec)
    settings = settings or load_llm_settings()
    provider = make_provider(provider_name, settings)
    assert not isinstance(provider, AnthropicProvider)  # excluded above
    return RemoteEmbedder(provider, model, batch_size=settings.embed_request_batch,
                          concurrency=settings.embed_concurrency)
