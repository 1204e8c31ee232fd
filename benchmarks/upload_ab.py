"""Interleaved A/B: seconds of an upload + index request on PostgreSQL (PRISM_DATABASE_URL), two source trees.

Each run is a fresh database and PRISM_HOME, an in-process app (TestClient): one request uploads
every .py file under FILES (default /work/main/src/prism, the same files for both sides) and
indexes them without vectors (`cold`); the same request again (`unchanged`); one file changed
(`one_changed`). Starts one pgserver (tests/services.py) in a temp folder.
Usage: upload_ab.py [--a /work/main/src] [--b src] [--rounds 3] [--files /work/main/src/prism]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
PHASES = ("cold", "unchanged", "one_changed")


def inner(files_root: Path, database: str, home: Path) -> dict[str, float]:
    """One side's run, in its own process (PYTHONPATH picks the tree)."""
    from fastapi.testclient import TestClient

    from prism.config import Settings
    from prism.serve.http.app import create_app
    from prism.serve.http.settings import ServerSettings

    files = [{"path": p.relative_to(files_root).as_posix(), "content": p.read_text(encoding="utf-8")}
             for p in sorted(files_root.rglob("*.py"))]
    app = create_app(ServerSettings(api_secret="upload-bench-" + os.urandom(16).hex()),
                     Settings(home=home, embedder="hashing", database_url=database), load_model=False)
    seconds: dict[str, float] = {}
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {app.state.prism.keys.create('a', 'admin')[1]}"}
        assert client.post("/api/v1/projects", json={"name": "bench"}, headers=headers).status_code == 201
        bodies = {"cold": files, "unchanged": files,
                  "one_changed": [{**files[0], "content": files[0]["content"] + "\n# changed\n"}, *files[1:]]}
        for phase in PHASES:
            start = time.perf_counter()
            answer = client.post("/api/v1/projects/bench/index", json={"files": bodies[phase], "embed": False},
                                 headers=headers)
            seconds[phase] = time.perf_counter() - start
            assert answer.status_code == 200, answer.text
    seconds["files"] = len(files)
    seconds["bytes"] = sum(len(f["content"].encode()) for f in files)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", default="/work/main/src")
    parser.add_argument("--b", default="src")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", default="/work/main/src/prism")
    parser.add_argument("--inner", nargs=2, metavar=("DATABASE", "HOME"))
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(inner(Path(args.files), args.inner[0], Path(args.inner[1]))))
        return
    import psycopg

    from services import postgres_server  # type: ignore[import-not-found]

    trees = {"a": str(Path(args.a).resolve()), "b": str(Path(args.b).resolve())}
    runs: dict[str, list[dict[str, float]]] = {"a": [], "b": []}
    with tempfile.TemporaryDirectory() as tmp, postgres_server(Path(tmp)) as url:
        n = 0
        for rnd in range(1, args.rounds + 1):
            for name, src in trees.items():
                n += 1
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE u{n}".encode())
                database = url.replace("/postgres?", f"/u{n}?")
                out = subprocess.run([sys.executable, __file__, "--files", args.files, "--inner", database,
                                      tempfile.mkdtemp(dir=tmp)], env=dict(os.environ, PYTHONPATH=src),
                                     capture_output=True, text=True)
                if out.returncode:
                    sys.exit(out.stdout[-2000:] + out.stderr[-2000:])
                result = json.loads(out.stdout.strip().splitlines()[-1])
                runs[name].append(result)
                print(f"round {rnd} {name} ({src}) {int(result['files'])} files {int(result['bytes'])} bytes "
                      + " ".join(f"{phase} {result[phase]:.2f} s" for phase in PHASES), flush=True)
    for phase in PHASES:
        a = sorted(r[phase] for r in runs["a"])[len(runs["a"]) // 2]
        b = sorted(r[phase] for r in runs["b"])[len(runs["b"]) // 2]
        print(f"median {phase}: a {a:.2f} s, b {b:.2f} s, b/a {b / a:.2f}")


if __name__ == "__main__":
    main()
