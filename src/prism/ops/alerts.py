"""Alerts: POST a JSON body to PRISM_ALERT_WEBHOOK from a background thread, retried with backoff.

`send` only queues (it never blocks or fails the request that crossed a threshold); the thread
tries each alert `attempts` times, waiting `backoff_s`, 2×, 4×… between tries, then logs it as lost.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger("prism.alerts")
QUEUE_SIZE = 1000


class AlertSender:
    def __init__(self, url: str, *, attempts: int = 5, backoff_s: float = 1.0, timeout_s: float = 5.0) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(QUEUE_SIZE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def send(self, payload: dict[str, Any]) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="prism-alerts", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            log.error("alert dropped (queue full): %s", payload.get("message", ""))

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            self._deliver(payload)

    def _deliver(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        for attempt in range(self.attempts):
            request = urllib.request.Request(self.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    if 200 <= response.status < 300:
                        return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.warning("alert webhook attempt %d failed: %s", attempt + 1, type(exc).__name__)
            if attempt + 1 < self.attempts and self._stop.wait(self.backoff_s * 2 ** attempt):
                break
        log.error("alert not delivered after %d attempts: %s", self.attempts, payload.get("message", ""))

    def close(self, timeout_s: float = 2.0) -> None:
        """Deliver what is queued (for up to `timeout_s`), then stop."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout_s)
        self._stop.set()
