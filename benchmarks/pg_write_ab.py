"""Interleaved A/B: chunks/s of a cold `prism index --no-embed` into PostgreSQL, two source trees.

Starts one pgserver (tests/services.py) in a temp folder; each run gets a fresh database and
PRISM_HOME. Usage: pg_write_ab.py PROJECT [--a /work/main/src] [--b src] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from services import postgres_server  # type: ignore[import-not-found]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project")
    parser.add_argument("--a", default="/work/main/src")
    parser.add_argument("--b", default="src")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    trees = {"a": str(Path(args.a).resolve()), "b": str(Path(args.b).resolve())}
    with tempfile.TemporaryDirectory() as tmp, postgres_server(Path(tmp)) as url:
        n = 0
        for rnd in range(1, args.rounds + 1):
            for name, src in trees.items():
                n += 1
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE b{n}".encode())
                dburl = url.replace("/postgres?", f"/b{n}?")
                env = dict(os.environ, PYTHONPATH=src, PRISM_DATABASE_URL=dburl,
                           PRISM_HOME=tempfile.mkdtemp(dir=tmp))
                start = time.perf_counter()
                out = subprocess.run([sys.executable, "-m", "prism", "index", "--project", args.project,
                                      "--no-embed", "--json", "-q"], env=env, capture_output=True, text=True)
                seconds = time.perf_counter() - start
                if out.returncode:
                    sys.exit(out.stdout[-2000:] + out.stderr[-2000:])
                with psycopg.connect(dburl) as conn:
                    row = conn.execute("SELECT COUNT(*) FROM prism_chunks").fetchone()
                chunks = int(row[0]) if row else 0
                print(f"round {rnd} {name} ({src}) {chunks} chunks {seconds:6.2f} s"
                      f" {chunks / seconds:7.1f} chunks/s", flush=True)


if __name__ == "__main__":
    main()
