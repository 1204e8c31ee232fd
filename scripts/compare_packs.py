"""Compare the pack stage's output between two checkouts, byte for byte, on this repository's own source.

    # once: index a snapshot of HEAD (src, tests, docs, benchmarks, scripts) and capture hits
    .venv/bin/python scripts/compare_packs.py capture /tmp/packs/hits.pkl
    # each checkout packs the same hits (budgets, formats, line numbers, two tokenizers)
    PYTHONPATH=OLD_CHECKOUT/src .venv/bin/python scripts/compare_packs.py pack /tmp/packs/hits.pkl /tmp/packs/old.pkl
    .venv/bin/python scripts/compare_packs.py pack /tmp/packs/hits.pkl /tmp/packs/new.pkl
    .venv/bin/python scripts/compare_packs.py compare /tmp/packs/old.pkl /tmp/packs/new.pkl

Packs run in one process in a fixed order, so the memos evolve the same way in both
checkouts (outside JSON a block counted before is priced exactly, so memo state is input).
Every chunk of tests/fixtures is also rendered at every level.
"""

from __future__ import annotations

import argparse
import pickle
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["how does the pack stage degrade chunks", "fix the crash when the tokenizer is missing",
           "where is the HTTP server rate limiter", "add a new output format", "rename Chunk to Unit",
           "write tests for the lexical retriever", "why does search return windows", "json output savings block",
           "tree-sitter queries for comments", "explain the greedy selection under a budget"]
TEMPLATES = ["fix the bug in {}", "how does {} work", "where is {} defined", "add an option to {}",
             "write tests for {}", "refactor {}", "{} raises an error when the budget is small", "explain {} and {}"]


def capture(out: Path, extra: int = 70) -> None:
    from prism.config import Settings
    from prism.engine import Prism
    from prism.ingest.chunk import chunk_file
    from prism.ingest.languages import detect_language
    from prism.models import Chunk
    from prism.pack.intent import profile_for
    from prism.pack.packer import resolve_intent
    from prism.pack.tokens import get_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "repo"
        snapshot.mkdir()
        subprocess.run(f"git -C {ROOT} archive HEAD src tests docs benchmarks scripts | tar -x -C {snapshot}",
                       shell=True, check=True)
        with Prism(snapshot, settings=Settings(home=Path(tmp) / "home")) as prism_:
            prism_.index(embed=False)
            names = sorted({name for path in snapshot.rglob("*.py")
                            for name in re.findall(r"def (\w+)", path.read_text(errors="replace"))})
            rng = random.Random(3)
            queries = list(QUERIES)
            for _ in range(extra):
                template = rng.choice(TEMPLATES)
                queries.append(template.format(*rng.sample(names, template.count("{}"))))
            hits = [(query, prism_.search(query, limit=min(profile_for(resolve_intent(query, None)).candidates,
                                                            100)).hits) for query in queries]
    tokenizer = get_tokenizer()
    fixtures: list[Chunk] = []
    for path in sorted((ROOT / "tests" / "fixtures").rglob("*")):
        if path.is_file():
            relative = str(path.relative_to(ROOT))
            fixtures.extend(chunk_file(relative, path.read_text(errors="replace"), detect_language(relative),
                                       count_tokens=tokenizer.count).chunks)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pickle.dumps({"hits": hits, "fixtures": fixtures}))
    print(f"{len(hits)} queries, {len(fixtures)} fixture chunks → {out}")


def pack(hits_file: Path, out: Path) -> None:
    from prism.models import LEVELS
    from prism.pack.degrade import render
    from prism.pack.packer import build_pack
    from prism.pack.tokens import get_tokenizer

    data = pickle.loads(hits_file.read_bytes())
    packs: dict[tuple[object, ...], object] = {}
    for name in ("cl100k_base", "claude"):
        tokenizer = get_tokenizer(name)
        for query, hits in data["hits"]:
            for budget in (300, 1000, 2000, 8000, 32000):
                for fmt in ("markdown", "xml", "json"):
                    for line_numbers in (False, True):
                        if name == "claude" and (line_numbers or budget not in (2000, 8000)):
                            continue
                        made = build_pack(query, hits, budget_tokens=budget, tokenizer=tokenizer, fmt=fmt,
                                          line_numbers=line_numbers)
                        packs[(name, query, budget, fmt, line_numbers)] = (
                            made.text, made.tokens, made.chunks, made.omitted, made.omitted_total, made.intent)
    for chunk in data["fixtures"]:
        packs[("render", chunk.path, chunk.start_line, chunk.end_line)] = tuple(render(chunk, lv) for lv in LEVELS)
    out.write_bytes(pickle.dumps(packs))
    print(f"{len(packs)} outputs → {out}")


def compare(old: Path, new: Path) -> int:
    before, after = pickle.loads(old.read_bytes()), pickle.loads(new.read_bytes())
    differ = [key for key in before if before[key] != after.get(key)]
    print(f"{len(before)} outputs, {len(differ)} differ" + "".join(f"\n  {key}" for key in differ[:20]))
    return 1 if differ or before.keys() != after.keys() else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("action", choices=["capture", "pack", "compare"])
    ap.add_argument("paths", nargs="+", type=Path)
    args = ap.parse_args()
    if args.action == "capture":
        capture(args.paths[0])
    elif args.action == "pack":
        pack(args.paths[0], args.paths[1])
    else:
        sys.exit(compare(args.paths[0], args.paths[1]))


if __name__ == "__main__":
    main()
