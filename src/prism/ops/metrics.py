"""Prometheus metrics for the whole server, not the one worker that answers the scrape.

Counted series (requests and latency by route and status, search and context latency, the
meter's work: tokens served and saved, cache hits and misses, rate-limit and quota refusals)
are prometheus-client counters and histograms. Under `prism serve --workers N` the server
points PROMETHEUS_MULTIPROC_DIR at PRISM_HOME/server/metrics (emptied at start, see
`prepare_multiprocess_dir`) before the workers start, every worker writes its values there, and
a scrape sums them all (`MultiProcessCollector`). Indexing throughput (files, chunks and tokens
written, and each run's duration) is counted the same way, from `index_events` (every index run
in the process: upload requests and the in-process job thread; `prism worker` processes are
not this server's and are not counted). Read at scrape time from shared state, so the
same in any worker: index sizes and freshness per project, today's quota use, and the job
backlog (queued and running index jobs: the Redis queue every worker shares, or this
process's own queue with one worker).
Cache hit ratio in PromQL: `sum(rate(prism_work_total{metric="cache_hits"}[5m])) /
sum(rate(prism_work_total{metric=~"cache_hits|cache_misses"}[5m]))`.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from prism.ops.index_events import listen
from prism.ops.meter import RequestRecord

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
INDEX_BUCKETS = (0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600)  # an index run: an upload's sync to a full build
OPERATIONS = {"searches": "search", "context_packs": "context"}  # tally metric → prism_operation_seconds label


def prepare_multiprocess_dir(home: Path) -> Path:
    """Empty PRISM_HOME/server/metrics and point PROMETHEUS_MULTIPROC_DIR at it, for the workers to inherit."""
    folder = home / "server" / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


@dataclass(frozen=True)
class IndexInfo:
    project: str
    chunks: int
    files: int
    last_indexed: float | None


class StateCollector(Collector):
    """Gauges read at scrape time: index sizes and freshness, today's quota use."""

    def __init__(self, indexes: Callable[[], Iterable[IndexInfo]],
                 quotas: Callable[[], Iterable[dict[str, object]]],
                 jobs: Callable[[], dict[str, int]] | None = None) -> None:
        self._indexes = indexes
        self._quotas = quotas
        self._jobs = jobs

    def collect(self) -> Iterator[Metric]:
        chunks = GaugeMetricFamily("prism_index_chunks", "Chunks in a project's index", labels=["project"])
        files = GaugeMetricFamily("prism_index_files", "Files in a project's index", labels=["project"])
        age = GaugeMetricFamily("prism_index_age_seconds", "Seconds since a project was last indexed",
                                labels=["project"])
        now = time.time()
        for info in self._indexes():
            chunks.add_metric([info.project], info.chunks)
            files.add_metric([info.project], info.files)
            if info.last_indexed:
                age.add_metric([info.project], max(0.0, now - info.last_indexed))
        used = GaugeMetricFamily("prism_quota_used", "Today's use of a quota", labels=["resource", "per", "subject"])
        limit = GaugeMetricFamily("prism_quota_limit", "A quota's daily limit", labels=["resource", "per", "subject"])
        for row in self._quotas():
            labels = [str(row["resource"]), str(row["per"]), str(row["subject"])]
            used.add_metric(labels, float(str(row["used"])))
            limit.add_metric(labels, float(str(row["limit"])))
        yield from (chunks, files, age, used, limit)
        if self._jobs is not None:
            jobs = GaugeMetricFamily("prism_index_jobs", "Index jobs waiting for a worker (queued) or running",
                                     labels=["state"])
            for state, n in sorted(self._jobs().items()):
                jobs.add_metric([state], n)
            yield jobs


class ServerMetrics:
    def __init__(self, state: StateCollector | None = None) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self._own = CollectorRegistry()
        self.requests = Counter("prism_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self._own)
        self.latency = Histogram("prism_http_request_seconds", "HTTP request latency", ["route", "status"],
                                 registry=self._own, buckets=BUCKETS)
        self.operations = Histogram("prism_operation_seconds", "Latency of successful searches and context packs",
                                    ["operation"], registry=self._own, buckets=BUCKETS)
        self.work = Counter("prism_work", "Metered work: tokens served and saved, cache hits and misses, "
                            "embeddings, refusals (see the meter's METRICS)", ["metric"], registry=self._own)
        self.indexed_files = Counter("prism_indexed_files", "Files (re)chunked and written by index runs",
                                     registry=self._own)
        self.indexed_chunks = Counter("prism_indexed_chunks", "Chunks written by index runs", registry=self._own)
        self.indexed_tokens = Counter("prism_indexed_tokens", "Tokens in the chunks written by index runs",
                                      registry=self._own)
        self.index_seconds = Histogram("prism_index_duration_seconds", "Duration of each index run (sync and "
                                       "embedding)", registry=self._own, buckets=INDEX_BUCKETS)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._work: dict[str, Counter] = {}
        self._state = state
        if state is not None and not self.multiprocess:
            self._own.register(state)
        listen(self)

    def observe_index(self, files: int, chunks: int, tokens: int, seconds: float) -> None:
        self.indexed_files.inc(files)
        self.indexed_chunks.inc(chunks)
        self.indexed_tokens.inc(tokens)
        self.index_seconds.observe(seconds)

    def observe(self, record: RequestRecord) -> None:
        series = (record.method, record.route, record.status)
        children = self._children.get(series)
        if children is None:  # `labels()` costs more than the rest of this method: look each series up once
            status = str(record.status)
            children = self._children[series] = (self.requests.labels(record.method, record.route, status),
                                                  self.latency.labels(record.route, status))
        children[0].inc()
        children[1].observe(record.seconds)
        for metric, n in record.tally.items():
            if metric != "requests" and n:
                work = self._work.get(metric)
                if work is None:
                    work = self._work[metric] = self.work.labels(metric)
                work.inc(n)
            if metric in OPERATIONS and record.status < 400:
                self.operations.labels(OPERATIONS[metric]).observe(record.seconds)

    def render(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self._own)
        registry = CollectorRegistry()  # one per scrape: the workers' files, summed
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        if self._state is not None:
            registry.register(self._state)
        return generate_latest(registry)
