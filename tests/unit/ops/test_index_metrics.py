"""Indexing throughput and backlog in the metrics: every index run in the process is counted, and in
multiprocess mode (`prism serve --workers N`) a scrape sums what each worker process counted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from prism.config import Settings
from prism.engine import Prism
from prism.ops.metrics import ServerMetrics, StateCollector

WORKER = """
from prism.ops.metrics import ServerMetrics
metrics = ServerMetrics()
metrics.observe_index({files}, {chunks}, {tokens}, {seconds})
"""
SCRAPE = """
import sys
from prism.ops.metrics import ServerMetrics, StateCollector
state = StateCollector(lambda: [], lambda: [], lambda: {"queued": 3, "running": 1})
sys.stdout.write(ServerMetrics(state).render().decode())
"""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_an_index_run_is_counted_by_the_metrics_of_its_process(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.py").write_text("def refresh_token(user):\n    return user.token\n")
    (root / "b.py").write_text("class Session:\n    def login(self):\n        return 1\n")
    metrics = ServerMetrics(StateCollector(lambda: [], lambda: [], lambda: {"queued": 2, "running": 0}))
    with Prism(root, settings=Settings(home=tmp_path / "home", embedder="hashing")) as prism:
        report = prism.index()
        prism.index()  # nothing changed: a run that wrote nothing, still timed
    found = samples(metrics.render().decode())
    assert found[("prism_indexed_files_total", ())] == report.files_indexed == 2
    assert found[("prism_indexed_chunks_total", ())] == report.chunks_written > 0
    assert found[("prism_indexed_tokens_total", ())] == report.tokens_written > 0
    assert found[("prism_index_duration_seconds_count", ())] == 2
    assert found[("prism_index_jobs", (("state", "queued"),))] == 2


def test_in_multiprocess_mode_a_scrape_sums_every_worker(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    runs = [(3, 10, 400, 0.2), (1, 4, 100, 2.0)]
    for files, chunks, tokens, seconds in runs:  # two worker processes, each counting its own index run
        subprocess.run([sys.executable, "-c", WORKER.format(files=files, chunks=chunks, tokens=tokens,
                                                            seconds=seconds)], env=env, check=True, timeout=120)
    scrape = subprocess.run([sys.executable, "-c", SCRAPE], env=env, check=True, timeout=120, capture_output=True,
                            text=True)
    found = samples(scrape.stdout)
    assert found[("prism_indexed_files_total", ())] == 4
    assert found[("prism_indexed_chunks_total", ())] == 14
    assert found[("prism_indexed_tokens_total", ())] == 500
    assert found[("prism_index_duration_seconds_count", ())] == 2
    assert found[("prism_index_duration_seconds_bucket", (("le", "1.0"),))] == 1
    assert found[("prism_index_jobs", (("state", "running"),))] == 1
