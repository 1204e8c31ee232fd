"""Cold aider repo map vs cold `prism index --no-embed` vs `ctags -R` on one tree, interleaved.

    flock /tmp/prism-bench.lock .venv/bin/python benchmarks/aider_repomap.py TREE \
        --aider-python /tmp/aider/venv/bin/python --prism-src /work/main/src [--rounds 2]

aider lives in its own virtual environment (never a PRISM dependency): its Python runs a small
driver that builds `aider.repomap.RepoMap` with a model's token counter and calls `get_repo_map`
with every file of the tree as "other files" and no chat files (what aider does on a repository's
first message). Nothing calls a model and nothing goes on the network: the model object is only a
tokenizer, and aider's and litellm's price maps are litellm's bundled copy (seeded into aider's
cache under a private HOME, which aider would otherwise try to download). aider's tag cache
(`.aider.tags.cache.v*` in the tree's root) is deleted before each run, so each map is cold.
PRISM indexes its own copy of the tree with a fresh PRISM_HOME each run. Wall and CPU seconds
(user + sys of the process and its descendants) come from `index_cold_ab.measure`.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from evaldata import load_average
from index_cold_ab import measure

# Runs under aider's interpreter; prints the map's size so a silent failure cannot pass as fast.
DRIVER = r"""
import json, os, sys
from aider.io import InputOutput
from aider.models import Model
from aider.repomap import RepoMap

root = os.path.abspath(sys.argv[1])
files = []
for top, dirs, names in os.walk(root):
    dirs[:] = [d for d in dirs if d != ".git"]
    files.extend(os.path.join(top, n) for n in names if not n.startswith(".aider.tags.cache"))
io = InputOutput(pretty=False, yes=True, fancy_input=False)
model = Model(sys.argv[2])
repo_map = RepoMap(root=root, main_model=model, io=io, verbose=False)
text = repo_map.get_repo_map(chat_files=[], other_files=files) or ""
print(json.dumps({"files": len(files), "map_chars": len(text), "map_tokens": model.token_count(text)}))
"""


def clear_aider_cache(tree: Path) -> None:
    """Delete aider's tag caches in the tree's root (a diskcache directory per version)."""
    for cache in tree.glob(".aider.tags.cache.v*"):
        shutil.rmtree(cache, ignore_errors=True)


def seed_price_map(aider_python: Path, home: Path) -> None:
    """Put litellm's bundled price map where aider looks before downloading one."""
    bundled = next((aider_python.parent.parent / "lib").glob(
        "python3*/site-packages/litellm/model_prices_and_context_window_backup.json"))
    caches = home / ".aider" / "caches"
    caches.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundled, caches / "model_prices_and_context_window.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path)
    parser.add_argument("--aider-python", type=Path, required=True, help="python of aider's own venv")
    parser.add_argument("--prism-src", type=Path, required=True, help="PYTHONPATH of PRISM (e.g. main's src)")
    parser.add_argument("--model", default="gpt-4o", help="model whose tokenizer aider counts with")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    # Subreaper: a pool's forkserver outlives `prism index`; its CPU counts once reaped here.
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    work = Path(tempfile.mkdtemp(prefix="aider-bench-"))
    aider_tree, prism_tree = work / "aider" / args.tree.name, work / "prism" / args.tree.name
    shutil.copytree(args.tree, aider_tree, symlinks=True)
    shutil.copytree(args.tree, prism_tree, symlinks=True)
    driver = work / "driver.py"
    driver.write_text(DRIVER)
    seed_price_map(args.aider_python, work)
    # No network, no key: litellm's bundled price map, aider's analytics and update checks off.
    aider_env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "AIDER_ANALYTICS": "false",
                 "AIDER_CHECK_UPDATE": "false", "OPENAI_API_KEY": "", "HOME": str(work)}
    aider_env.pop("PYTHONPATH", None)
    prism = [sys.executable, "-m", "prism", "index", str(prism_tree), "--no-embed"]
    runs: dict[str, list[dict[str, float]]] = {"aider": [], "prism": [], "ctags": []}
    maps: list[object] = []
    loads = [load_average()]
    for _ in range(args.rounds):
        clear_aider_cache(aider_tree)
        out = work / "aider.json"
        wall, cpu = measure([str(args.aider_python), str(driver), str(aider_tree), args.model], aider_env, out)
        runs["aider"].append({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)})
        lines = out.read_text().splitlines()  # aider's own notes (warnings) come before the JSON line
        maps.append({**json.loads(lines[-1]), "notes": lines[:-1][:5], "note_lines": len(lines) - 1})
        home = Path(tempfile.mkdtemp(prefix="prism-home-", dir=work))
        env = {**os.environ, "PYTHONPATH": str(args.prism_src.resolve()), "PRISM_HOME": str(home)}
        wall, cpu = measure(prism, env)
        runs["prism"].append({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)})
        shutil.rmtree(home, ignore_errors=True)
        tags = work / "tags"
        wall, cpu = measure(["ctags", "-R", "-f", str(tags), str(prism_tree)], dict(os.environ))
        runs["ctags"].append({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)})
        tags.unlink(missing_ok=True)
        loads.append(load_average())
    print(json.dumps({"loads": loads, "aider_map": maps, **runs}, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
