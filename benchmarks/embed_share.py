"""What a full index would embed, by top folder: texts, WordPiece tokens, padded token slots.

    PYTHONPATH=src .venv/bin/python benchmarks/embed_share.py TREE

Indexes TREE lexically in a fresh PRISM_HOME, then reads the texts still waiting for a MiniLM
vector (`pending_embeddings`: those `vector_scope` gives one) and counts their model tokens as the
embedder truncates them. "Slots" is what the model computes: batches of 8 after the length sort
(`MiniLMEmbedder._embed_ids`) inside windows of PENDING_WINDOW × embed_batch pending texts
(`Indexer.embed_pending`), each batch padded to its longest text; the share of tokens per folder
is where the embedding CPU goes (transformer cost per text grows with its length). No model is
loaded.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import Counter
from pathlib import Path

from prism.engine import Prism
from prism.index.embed import MAX_MODEL_TOKENS, MiniLMEmbedder, _load_wordpiece, document_text
from prism.index.indexer import PENDING_WINDOW

MINILM_BATCH = 8  # MiniLMEmbedder's default batch_size


def padded_slots(lengths: list[int], window: int, batch: int) -> int:
    """Token slots the model computes for texts of these lengths, in pending order."""
    slots = 0
    for start in range(0, len(lengths), window):
        ordered = sorted(lengths[start:start + window])
        slots += sum(max(ordered[i:i + batch]) * len(ordered[i:i + batch]) for i in range(0, len(ordered), batch))
    return slots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path)
    args = parser.parse_args()
    os.environ["PRISM_HOME"] = tempfile.mkdtemp(prefix="prism-embed-share-")
    prism = Prism(args.tree)
    report = prism.index(embed=False)
    pending = prism.store.pending_embeddings(MiniLMEmbedder.model_id, 2**62)
    chunks = {sc.id: sc.chunk for sc in prism.store.get_chunks([cid for _, cid in pending])}
    found = [chunks[cid] for _, cid in pending if cid in chunks]
    encoded = _load_wordpiece(MAX_MODEL_TOKENS).encode_batch([document_text(c) for c in found])
    lengths = [len(e.ids) for e in encoded]
    texts: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    for chunk, length in zip(found, lengths, strict=True):
        top = chunk.path.split("/", 1)[0] if "/" in chunk.path else "(root files)"
        texts[top] += 1
        tokens[top] += length
    total = sum(lengths)
    slots = padded_slots(lengths, prism.settings.embed_batch * PENDING_WINDOW, MINILM_BATCH)
    prism.close()
    print(f"{report.chunks_written:,} chunks, {report.tokens_written:,} tokens indexed; "
          f"{len(found):,} texts to embed, {total:,} model tokens, {slots:,} padded slots "
          f"({(slots - total) / max(total, 1):.1%} padding)")
    print("| top folder | texts | model tokens | share |\n|---|---:|---:|---:|")
    for top, count in tokens.most_common():
        print(f"| {top} | {texts[top]:,} | {count:,} | {count / max(total, 1):.0%} |")


if __name__ == "__main__":
    main()
