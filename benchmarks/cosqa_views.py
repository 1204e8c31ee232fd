"""CoSQA dev, dense alone, offline: which text of a function embeds best (no index change).

Reads the chunks and stored vectors of the CoSQA eval index (build it first with
cosqa_eval.py), embeds each chunk again as a variant of `document_text`, and scores dense-only
MRR (top 100 files) with plain cosines and with the hubness correction (retrieve/hubness.py),
on all queries and on the odd / even rows. `summary` embeds a second text per chunk (split
name + docstring head) and takes the max of the two cosines (the summary's scaled by 0.9).

    PRISM_EVAL_CACHE=... PYTHONPATH=src .venv/bin/python benchmarks/cosqa_views.py [VIEW ...]
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata

from prism.engine import Prism
from prism.index import embed
from prism.index.indexer import text_hash
from prism.models import Chunk
from prism.retrieve.hubness import HUB_SHARE, neighbourhood

_DEF = re.compile(r"\s*(async\s+)?(def|class|@)")


def _without_path(chunk: Chunk, text: str) -> str:
    return text[len(chunk.path) + 1:] if text.startswith(chunk.path + "\n") else text


def _without_name(chunk: Chunk, text: str) -> str:
    """`text` less its qualified-name line when the code as written (which says it) follows."""
    name, _, rest = text.partition("\n")
    return rest if chunk.qualified_name and name == chunk.qualified_name and _DEF.match(rest) else text


def _summary(chunk: Chunk) -> str:
    words = " ".join(embed.split_identifier((chunk.qualified_name or "").split(".")[-1]))
    doc = embed._squash(chunk.docstring or "")[: embed.MAX_DOCSTRING_CHARS]
    return f"{words}. {doc}" if doc else ""


VIEWS: dict[str, Callable[[Chunk], str]] = {
    "nopath": lambda c: _without_path(c, embed.document_text(c)),
    "codeonly": lambda c: _without_name(c, _without_path(c, embed.document_text(c))),
}


def mrr(scores: np.ndarray, files: list[str], queries: list[dict[str, Any]]) -> str:
    """MRR (top 100 distinct files) overall and on the odd / even rows, in percent."""
    rr = []
    for row, q in enumerate(queries):
        seen: dict[str, None] = {}
        rank = 0
        for j in np.argsort(-scores[row]):
            seen.setdefault(files[j])
            if files[j] in q["gold_ids"]:
                rank = len(seen)
                break
            if len(seen) >= 100:
                break
        rr.append(1 / rank if rank else 0.0)
    a = np.array(rr)
    return f"{100 * a.mean():.2f} ({100 * a[0::2].mean():.2f}/{100 * a[1::2].mean():.2f})"


def main() -> None:
    root = evaldata.cache_dir() / "cosqa"
    prism = Prism(root, settings=evaldata.eval_settings(), index_dir=evaldata.cache_dir() / "indexes" / "cosqa")
    chunks = [stored.chunk for stored in prism.store.iter_chunks()]
    files = [Path(c.path).stem for c in chunks]
    stored = {h: v for batch in prism.store.export_embeddings(embed.MiniLMEmbedder.model_id) for h, v in batch}
    _, queries = evaldata.load_cosqa()
    model = embed.MiniLMEmbedder()
    q = model.embed_queries([row["query"] for row in queries])
    zero = np.zeros(model.dim, np.float32)
    current = np.stack([stored.get(text_hash(embed.document_text(c)), zero) for c in chunks])

    def report(name: str, d: np.ndarray, texts: list[str], extra: np.ndarray | None = None) -> None:
        cos = q @ d.T
        if extra is not None:
            cos = np.maximum(cos, 0.9 * (q @ extra.T))
        tokens = sum(len(e.ids) for e in model._tokenizer.encode_batch([t for t in texts if t]))
        hub = cos - HUB_SHARE * neighbourhood(d)[None, :]
        print(f"| {name} | {mrr(cos, files, queries)} | {mrr(hub, files, queries)} | {tokens} |", flush=True)

    print("| view | dense MRR (odd/even) | + hubness | model tokens |\n|---|---:|---:|---:|")
    report("current (EMBED_VIEW 4)", current, [embed.document_text(c) for c in chunks])
    for name in sys.argv[1:] or [*VIEWS, "summary"]:
        started = time.perf_counter()
        if name == "summary":
            texts = [_summary(c) for c in chunks]
            have = [i for i, t in enumerate(texts) if t]
            extra = np.zeros_like(current)
            extra[have] = model.embed_documents([texts[i] for i in have])
            report("summary (max with 0.9 × its cosine)", current, texts, extra)
        else:
            texts = [VIEWS[name](c) for c in chunks]
            report(name, model.embed_documents(texts), texts)
        print(f"<!-- {name}: {time.perf_counter() - started:.0f} s -->", file=sys.stderr)


if __name__ == "__main__":
    main()
