"""Indexing benchmark: cold index throughput, peak RSS, and re-index cost after a neighbouring commit.

    .venv/bin/python benchmarks/index_speed.py --repo pylint-dev/astroid [--no-embed] [--record]

The repository is exported from a bare mirror (fetched with the search tool's `fetch`, laid out
as MIRRORS/OWNER+NAME/repo) into a scratch folder outside this checkout; the PRISM checkout
itself can be measured with `--path .`. Each run uses a fresh PRISM_HOME, so nothing is cached.
Reports: files/s and chunks/s of the lexical phase (time until searchable), chunks/s of the
embedding phase, peak RSS, and the time to re-index after moving the tree to the parent
commit, as a ratio to the cold index.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evaldata import machine  # benchmarks/ is on sys.path when run as a script

from prism.config import Settings
from prism.engine import Prism

RESULTS = Path(__file__).parent / "results" / "index_speed.md"


def export(mirror: Path, commit: str, dest: Path) -> None:
    """Replace dest's contents with the tree of `commit` (like a checkout, without .git)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(mirror), "archive", commit], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", help="OWNER/NAME of a fetched mirror")
    parser.add_argument("--path", type=Path, help="index this folder instead (e.g. the PRISM checkout)")
    parser.add_argument("--commit", default="HEAD", help="commit to index (default HEAD)")
    parser.add_argument("--mirrors", type=Path, default=Path(os.environ.get("PRISM_EVAL_MIRRORS", "/work/.mirror")))
    parser.add_argument("--no-embed", action="store_true", help="lexical phase only")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--record", action="store_true", help=f"append the result to {RESULTS}")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="prism-bench-"))
    home = scratch / "home"
    settings = Settings(home=home, embedder=args.embedder, shared_embedding_cache=False)
    mirror: Path | None = None
    if args.path is not None:
        root = args.path.resolve()
        label = f"{root.name} (working tree)"
    else:
        mirror = args.mirrors / args.repo.replace("/", "+") / "repo"
        commit = subprocess.run(["git", "-C", str(mirror), "rev-parse", args.commit], capture_output=True,
                                text=True, check=True).stdout.strip()
        root = scratch / "tree"
        export(mirror, commit, root)
        label = f"{args.repo}@{commit[:10]}"

    prism = Prism(root, settings=settings)
    t0 = time.perf_counter()
    report = prism.index(embed=False)
    searchable_s = time.perf_counter() - t0
    stats = prism.store.stats()
    embed_s = 0.0
    embedded = 0
    if not args.no_embed:
        t1 = time.perf_counter()
        embedded = prism.embed()
        embed_s = time.perf_counter() - t1
    cold_s = searchable_s + embed_s

    result: dict[str, object] = {
        "repository": label, "files": stats["files"], "chunks": stats["chunks"], "tokens": stats["tokens"],
        "searchable_s": round(searchable_s, 2),
        "files_per_s": round(report.files_indexed / searchable_s, 1),
        "chunks_per_s_lexical": round(report.chunks_written / searchable_s, 1),
        "embed_s": round(embed_s, 2), "embedded": embedded,
        "chunks_per_s_embed": round(embedded / embed_s, 1) if embed_s else None,
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }

    if mirror is not None:
        # Re-index after checking out the neighbouring (parent) commit.
        parent = subprocess.run(["git", "-C", str(mirror), "rev-parse", f"{commit}~1"], capture_output=True,
                                text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(mirror), "diff", "--name-status", "--no-renames", commit, parent],
                                 capture_output=True, text=True, check=True).stdout.splitlines()
        for line in changed:
            status, path = line.split("\t", 1)
            target = root / path
            if status == "D":
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                blob = subprocess.run(["git", "-C", str(mirror), "show", f"{parent}:{path}"],
                                      capture_output=True, check=True).stdout
                target.write_bytes(blob)
        # git checkout rewrites only changed files; touch everything anyway to model the worst case.
        now = time.time()
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                os.utime(os.path.join(dirpath, name), (now, now), follow_symlinks=False)
        t2 = time.perf_counter()
        re_report = prism.index(embed=not args.no_embed)
        reindex_s = time.perf_counter() - t2
        result.update({
            "neighbour_commit_files_changed": len(changed),
            "reindex_files_indexed": re_report.files_indexed,
            "reindex_s": round(reindex_s, 2),
            "reindex_ratio_to_cold": round(reindex_s / cold_s, 4),
        })
    prism.close()
    shutil.rmtree(scratch, ignore_errors=True)

    result["machine"] = f"{machine()}, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    result["date"] = time.strftime("%Y-%m-%d")
    result["embedder"] = "none" if args.no_embed else args.embedder
    print(json.dumps(result, indent=2))
    if args.record:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(f"\n### {result['date']} — {label} — embedder {result['embedder']}\n\n")
            fh.write(f"Machine: {result['machine']}\n\n")
            fh.write("Command: `.venv/bin/python benchmarks/index_speed.py "
                     + " ".join(a for a in sys.argv[1:] if a != "--record") + " --record`\n\n")
            fh.write("| metric | value |\n|---|---|\n")
            for key, value in result.items():
                if key not in ("machine", "date"):
                    fh.write(f"| {key} | {value} |\n")


if __name__ == "__main__":
    main()
