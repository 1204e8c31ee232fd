"""Several uvicorn workers, each on its own SO_REUSEPORT socket, so that the kernel spreads connections.

uvicorn's own `--workers` shares one listening socket: the worker that wakes first accepts every
pending connection (asyncio accepts in a loop), and keep-alive clients then stay with it. Measured
on `prism serve --workers 2`: eight clients' connections all landed on one worker, which did all
the work while the other idled. With one socket per worker, bound with SO_REUSEPORT, Linux hashes
each new connection to one of them. Elsewhere (no SO_REUSEPORT balancing) `run` uses uvicorn's own.

The supervisor restarts a worker that dies, stops everything on SIGINT/SIGTERM, and gives up (exit
status 3, as uvicorn) when a worker dies before it ever served — a broken configuration would fail again.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import time
from typing import Any

log = logging.getLogger("prism.http")
APP = "prism.serve.http.app:app_from_env"


def balanced_sockets_supported() -> bool:
    """Linux load-balances SO_REUSEPORT sockets; macOS and BSD accept the option but do not."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind_reuseport(host: str, port: int) -> socket.socket:
    """A listening TCP socket that other sockets may bind to the same address (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(sock: socket.socket, options: dict[str, Any], ready: Any) -> None:  # in the child process
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(APP, factory=True, **options))

    def report_started() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            ready.set()

    threading.Thread(target=report_started, daemon=True).start()
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)  # as uvicorn: the app failed to start


class Supervisor:
    """Starts one worker per socket, restarts the ones that die, and stops them all on a signal."""

    def __init__(self, sockets: list[socket.socket], options: dict[str, Any]) -> None:
        self._sockets = sockets
        self._options = options
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[Any] = []
        self._ready: list[Any] = []  # one Event per slot, set once its worker serves
        self._stop = False

    def _start(self, slot: int) -> Any:
        ready = self._context.Event()
        process = self._context.Process(target=_worker, args=(self._sockets[slot], self._options, ready),
                                        name=f"prism-worker-{slot}")
        process.start()
        if slot < len(self._ready):
            self._ready[slot] = ready
        else:
            self._ready.append(ready)
        return process

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: setattr(self, "_stop", True))
        self._processes = [self._start(slot) for slot in range(len(self._sockets))]
        log.info("started %d workers (pids %s), one SO_REUSEPORT socket each",
                 len(self._processes), [p.pid for p in self._processes])
        status = 0
        while not self._stop:
            time.sleep(0.2)
            for slot, process in enumerate(self._processes):
                if process.is_alive() or self._stop:
                    continue
                if not self._ready[slot].is_set():
                    log.error("worker %s failed while starting (exit %s): stopping", process.pid, process.exitcode)
                    self._stop, status = True, 3
                    break
                log.warning("worker %s exited (%s): starting another", process.pid, process.exitcode)
                self._processes[slot] = self._start(slot)
        self._shutdown()
        return status

    def _shutdown(self, grace_s: float = 30.0) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + grace_s
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sock in self._sockets:
            sock.close()


def serve_workers(host: str, port: int, workers: int, options: dict[str, Any]) -> int:
    """Bind `workers` SO_REUSEPORT sockets to host:port and supervise one uvicorn worker on each."""
    first = bind_reuseport(host, port)
    port = first.getsockname()[1]  # port 0: every socket takes the one the first was given
    sockets = [first, *(bind_reuseport(host, port) for _ in range(workers - 1))]
    return Supervisor(sockets, options).run()
