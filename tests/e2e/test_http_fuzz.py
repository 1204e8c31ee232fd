"""Property-based fuzzing of the published OpenAPI document (schemathesis): no 5xx, no schema violations.

Bounded for CI: a fixed number of examples per operation, derandomised (same cases every
run). Two runs: per operation in-process (positive and negative data), and the schemathesis CLI
as the security probe ran it — every check, the stateful phase on, an admin key — against a
real `prism serve`, which must still accept that key at the end (the run cannot lock itself out).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.e2e.conftest import admin_key, serve

from prism.config import Settings
from prism.serve.http.app import OPENAPI_URL, create_app
from prism.serve.http.settings import ServerSettings

MAX_EXAMPLES = 10
CLI_EXAMPLES = 5  # per operation and phase: ~700 requests, ~30 s on 2 busy cores
CODE = "def refresh_token(user):\n    return user.token + 1\n\n\nclass Session:\n    def login(self):\n        pass\n"


def not_a_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    assert response.status_code < 500, f"{case.method} {case.formatted_path} → {response.status_code}"
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


@pytest.fixture
def fuzz_target(prism_home: Path) -> tuple[Any, dict[str, str]]:
    server = ServerSettings(api_secret="fuzz-api-Zx8Qm2Lp5vTn7wRb4yHc6kJd9sFg3e",
                            jwt_secret="fuzz-jwt-pA7dK2mN9qR4sT6vW8xY3zB5cE7gH1", rate_admin="1000000/1",
                            rate_address="1000000/1", max_request_bytes=256 * 1024)
    app = create_app(server, Settings(home=prism_home, embedder="hashing"), load_model=False)
    state = app.state.prism
    token = state.keys.create("fuzz", "admin")[1]
    state.projects.create("demo")
    state.projects.upload("demo", [("src/app.py", CODE)], [])
    state.projects.index("demo")
    state.readiness.checks["model"] = "ok"
    return app, {"Authorization": f"Bearer {token}"}


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_openapi_fuzz(fuzz_target: tuple[Any, dict[str, str]], mode: GenerationMode) -> None:
    app, headers = fuzz_target
    schema = schemathesis.openapi.from_asgi(OPENAPI_URL, app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 15
    failures: list[str] = []
    for operation in operations:
        if operation.method.upper() == "DELETE":
            continue  # deleting the fixture's project or keys mid-run would only shrink coverage
        if operation.path.endswith("/ask"):
            continue  # calls a model provider: tests/e2e/test_http_ask.py drives it against a loopback one
        strategy = operation.as_strategy(generation_mode=mode)

        @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # no parameters to break (e.g. GET /health)
        except Exception as exc:  # collect every operation's failure, report all at once
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
def test_schemathesis_all_checks_and_the_stateful_phase_with_an_admin_key(prism_home: Path, tmp_path: Path) -> None:
    """`st run --checks all --phases …,stateful`: 0 × 5xx, 0 schema violations, the key still works after."""
    key = admin_key(prism_home)
    key_id = key.split("_")[1]
    headers = {"Authorization": f"Bearer {key}"}
    log = tmp_path / "server.log"
    with serve(prism_home, log, PRISM_RATE_ADDRESS="1000000/1") as (client, _):
        assert client.post("/api/v1/projects", json={"name": "demo"}, headers=headers).status_code == 201
        body = {"files": [{"path": "src/app.py", "content": CODE}]}
        assert client.post("/api/v1/projects/demo/index", json=body, headers=headers).status_code == 200
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
               "PRISM_FUZZ_KEY_ID": key_id}
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{client.base_url}{OPENAPI_URL}", "--checks", "all",
             "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(CLI_EXAMPLES),
             "--generation-deterministic", "--workers", "1", "--exclude-path-regex", "/ask$",  # calls a model
             "--header", f"Authorization: Bearer {key}",
             "--request-timeout", "30"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)  # its .schemathesis/ goes there
        seconds = time.monotonic() - started
        assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
        assert client.get("/api/v1/keys", headers=headers).status_code == 200  # not locked out
    statuses = [_access_status(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert not [s for s in statuses if s is not None and s >= 500], "the server answered 5xx"
    assert sum(1 for s in statuses if s is not None and 200 <= s < 300) > 100  # it got past authentication
    assert seconds < 120, f"the fuzz run took {seconds:.0f} s"


def _access_status(line: str) -> int | None:
    """The status of one access-log line (`METHOD route STATUS 1.2ms`), if it is one."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    parts = str(record.get("msg", "")).split() if record.get("logger") == "prism.http.access" else []
    return int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else None
