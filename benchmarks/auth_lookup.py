"""What authenticating one request costs: `KeyStore.verify` on the embedded server store (SQLite) and on
PostgreSQL, A/B interleaved in one process.

Every request reads its key's row (no per-process cache, so a revoke is refused at once on
every replica); this measures that read plus the HMAC: wall and process CPU per verify, median
of rounds, and the ratio PostgreSQL / SQLite. The PostgreSQL server is the test suite's pgserver
(PostgreSQL 16 on a Unix socket on this host) unless --database-url names another; a network
hop adds its round trip to the PostgreSQL figure.

    .venv/bin/python benchmarks/auth_lookup.py [--rounds 8] [--verifies 500] [--database-url URL]
        [--out benchmarks/results/auth_lookup.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from evaldata import load_average, machine

from prism.serve.http.keys import KeyStore
from prism.serve.http.server_store import open_server_store
from prism.serve.secrets import SecretBox


def per_verify(keys: KeyStore, secret: str, n: int) -> tuple[float, float]:
    """(wall µs, CPU µs) per verify over `n` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        keys.verify(secret)
    return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--verifies", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    box = SecretBox("bench-secret-" + "b" * 30)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = args.database_url
        if url is None:
            from services import postgres_server, scratch_database

            (folder / "pg").mkdir()
            url = stack.enter_context(scratch_database(stack.enter_context(postgres_server(folder / "pg"))))
        stores = {"sqlite": open_server_store(folder / "server"), "postgresql": open_server_store(folder, url)}
        for store in stores.values():
            stack.callback(store.close)
        arms = {}
        for name, store in stores.items():
            keys = KeyStore(store, box)
            for n in range(200):  # a table with some keys in it
                keys.create(f"other-{n}", "reader")
            arms[name] = (keys, keys.create("bench", "reader")[1])
            per_verify(*arms[name], 50)  # warm: connections, pages, last-use write
        rounds: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in arms}
        for _ in range(args.rounds):
            for name, (keys, secret) in arms.items():  # interleaved A/B
                wall, cpu = per_verify(keys, secret, args.verifies)
                rounds[name]["wall"].append(round(wall, 1))
                rounds[name]["cpu"].append(round(cpu, 1))
    medians = {name: {k: statistics.median(v) for k, v in r.items()} for name, r in rounds.items()}
    ratio = {k: medians["postgresql"][k] / medians["sqlite"][k] for k in ("wall", "cpu")}
    lines = [
        f"# Auth lookup per request ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)", "",
        f"- Machine: {machine()}; load average at the end (1/5/15 min): {load_average()}",
        f"- Command: `.venv/bin/python benchmarks/auth_lookup.py --rounds {args.rounds} --verifies {args.verifies}`",
        "- `KeyStore.verify` (one statement: the key's row and hash, then one HMAC) on 201 keys; "
        "PostgreSQL 16 (pgserver) on a local Unix socket, pool of 4.", "",
        "| server store | wall µs/verify (median of rounds) | CPU µs/verify |", "|---|---:|---:|",
        *(f"| {name} | {m['wall']:.0f} | {m['cpu']:.0f} |" for name, m in medians.items()),
        f"| ratio PostgreSQL / SQLite | {ratio['wall']:.2f}× | {ratio['cpu']:.2f}× |", "",
        f"Rounds (µs): {json.dumps(rounds)}", "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
