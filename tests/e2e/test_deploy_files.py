"""The files under deploy/ hold up: systemd units verify (where systemd-analyze exists) and their
ExecStart commands run; the Containerfile copies real paths and starts a server; the Caddyfile
forwards to the unit's address; the alert rules parse, link to runbooks that exist, and name only
series that /metrics serves (or that the usual exporters do)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.test_production_docs import DOCS, DocEnvironment, doc_env, readme_quotas  # noqa: F401

from prism.config import Settings
from prism.serve.http.app import create_app
from prism.serve.http.settings import ServerSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service")) + sorted((DEPLOY / "systemd").glob("*.timer"))
INSTALLED = "/opt/prism/bin/prism"
# Series the rules read from elsewhere: Prometheus (`up`) and the usual exporters.
EXTERNAL = {"up": "prometheus", "probe_success": "blackbox_exporter", "node_filesystem_avail_bytes": "node_exporter",
            "node_filesystem_size_bytes": "node_exporter", "redis_up": "redis_exporter", "pg_up": "postgres_exporter"}
PROMQL_WORDS = {"sum", "rate", "increase", "by", "and", "or", "unless", "histogram_quantile", "avg_over_time",
                "le", "without", "on", "ignoring"}


def exec_starts(unit: Path) -> list[str]:
    return [line.partition("=")[2] for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    prism = Path(sys.executable).parent / "prism"  # the units name the installed path; verify checks it exists
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED, str(prism)))
    names = [str(tmp_path / u.name) for u in UNITS] + [str(tmp_path / "prism-maintain@daily.service")]
    done = subprocess.run([analyze, "verify", "--man=no", *names], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, check=False)
    # verify exits 0 even for unknown keys or bad values: what it prints is the verdict.
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr


def test_every_timer_starts_a_unit_that_exists() -> None:
    services = {u.name for u in UNITS if u.suffix == ".service"}
    for timer in (u for u in UNITS if u.suffix == ".timer"):
        target = re.search(r"^Unit=(\S+)", timer.read_text(), flags=re.M)
        name = target.group(1) if target else timer.name.replace(".timer", ".service")
        template = re.sub(r"@[^.]+\.service$", "@.service", name)
        assert name in services or template in services, f"{timer.name} starts {name}"
        schedule = name.split("@")[1].split(".")[0] if "@" in name else None
        assert schedule in (None, "daily", "weekly", "monthly")


def test_every_exec_start_runs(doc_env: DocEnvironment) -> None:  # noqa: F811
    ran = 0
    for unit in UNITS:
        for command in exec_starts(unit):
            assert command.startswith(INSTALLED + " "), f"{unit.name}: {command}"
            for schedule in ("daily", "weekly", "monthly") if "%i" in command else (None,):
                line = command.replace(INSTALLED, "prism").replace("%i", schedule or "")
                doc_env.run(line)
                ran += 1
    assert ran == 5 and doc_env.served == ["serve --host 127.0.0.1 --port " + doc_env.served[0].split()[-3]
                                           + " --workers 4"]


def containerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/Containerfile, continuation lines joined."""
    text = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    return [(m.group(1), m.group(2).strip()) for m in re.finditer(r"^([A-Z]+)\s+(.*)$", text, flags=re.M)]


def test_the_containerfile_copies_real_paths_installs_the_package_and_serves(
        doc_env: DocEnvironment) -> None:  # noqa: F811
    instructions = containerfile()
    copies = [shlex.split(args) for op, args in instructions if op == "COPY"]
    sources = [src for words in copies if not words[0].startswith("--from") for src in words[:-1]]
    assert sources and all((ROOT / src).exists() for src in sources), sources
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "README.md" in sources and project["readme"] == "README.md"  # pip install . reads it
    runs = " ".join(args for op, args in instructions if op == "RUN")
    extras = re.findall(r"'\.\[(\w+)\]'", runs)
    assert extras and all(e in project["optional-dependencies"] for e in extras)
    assert dict(instructions)["USER"] == "prism"  # never root
    entry, cmd = (json.loads(dict(instructions)[op]) for op in ("ENTRYPOINT", "CMD"))
    assert entry == ["prism"] and cmd[0] == "serve"
    assert dict(instructions)["EXPOSE"] == cmd[cmd.index("--port") + 1]
    assert "/health" in dict(instructions)["HEALTHCHECK"]
    # The build command in the file's header and in the deployment doc, from the repository root.
    build = "podman build -f deploy/Containerfile -t prism ."
    assert build in (DEPLOY / "Containerfile").read_text()
    assert build in (ROOT / "docs" / "production" / "deployment.md").read_text()
    doc_env.run(shlex.join(["prism", *cmd]))  # what the image runs starts a server here
    assert doc_env.served


def test_the_caddyfile_forwards_to_the_units_address_with_tls_and_the_body_limit() -> None:
    caddy = (DEPLOY / "Caddyfile").read_text()
    serve = shlex.split(exec_starts(DEPLOY / "systemd" / "prism.service")[0])
    address = f"{serve[serve.index('--host') + 1]}:{serve[serve.index('--port') + 1]}"
    assert re.search(rf"^\s*reverse_proxy {re.escape(address)}\b", caddy, flags=re.M)
    site = next(line for line in caddy.splitlines() if line.strip() and not line.startswith("#"))
    assert re.match(r"^[a-z0-9.-]+\.[a-z]+ \{$", site), site  # a host name: Caddy gets its certificate
    limit = re.search(r"max_size (\d+)MiB", caddy)
    assert limit and int(limit.group(1)) * 2**20 == ServerSettings.model_fields["max_request_bytes"].default


def scraped_names(prism_home: Path) -> set[str]:
    """Every family and sample name /metrics serves after traffic, an index job and quotas."""
    settings = ServerSettings(api_secret="deploy-secret-" + "d" * 40, environment="development",  # type: ignore[call-arg]
                              quotas=readme_quotas())
    app = create_app(settings, Settings(home=prism_home, embedder="hashing"), load_model=False)
    token = app.state.prism.keys.create("admin", "admin")[1]
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        client.post("/api/v1/projects", json={"name": "demo"}, headers=auth)
        client.post("/api/v1/projects/demo/index", headers=auth,
                    json={"files": [{"path": "a.py", "content": "def refresh_token(user):\n    return 1\n"}]})
        client.post("/api/v1/projects/demo/jobs", json={}, headers=auth)
        client.post("/api/v1/projects/demo/search", json={"query": "refresh token"}, headers=auth)
        client.post("/api/v1/projects/demo/context", json={"query": "refresh token", "budget_tokens": 300},
                    headers=auth)
        text = client.get("/metrics", headers=auth).text
    families = list(text_string_to_metric_families(text))
    return {f.name for f in families} | {s.name for f in families for s in f.samples}


def test_the_alert_rules_parse_link_to_runbooks_and_name_only_served_series(prism_home: Path) -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "prism-alerts.yml").read_text())["groups"][0]["rules"]
    operations = (ROOT / "docs" / "production" / "operations.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", operations, flags=re.M)}
    served = scraped_names(prism_home)
    header = (DEPLOY / "prometheus" / "prism-alerts.yml").read_text().split("groups:")[0]
    names = set()
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"} and rule["alert"].startswith("Prism")
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/production/operations.md" and anchor in anchors, rule["alert"]
        expr = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', " ", rule["expr"])  # selectors, strings, ranges
        for name in re.findall(r"\b[a-z_][a-z0-9_]*\b", expr):
            if name not in PROMQL_WORDS:
                names.add(name)
    prism_names = {n for n in names if n.startswith("prism_")}
    assert prism_names <= served, prism_names - served
    for name in names - prism_names:
        assert name in EXTERNAL and EXTERNAL[name] in header.lower(), name
    assert {"prism_index_jobs", "prism_index_duration_seconds_count", "prism_quota_used"} <= prism_names


def test_every_series_the_docs_name_is_served(prism_home: Path) -> None:
    served = scraped_names(prism_home)
    docs = [*DOCS, ROOT / "docs" / "metering.md"]
    named = {n for doc in docs for n in re.findall(r"\bprism_[a-z_]+[a-z]\b", doc.read_text())}
    tables = {"prism_schema", "prism_meta", "prism_files", "prism_chunks", "prism_refs", "prism_terms",
              "prism_counts", "prism_embeddings", "prism_usage", "prism_feedback",
              "prism_embedding_cache"}  # PostgreSQL tables, not series
    missing = {n for n in named - tables if n not in served and not n.startswith("prism_backup")}
    assert not missing, missing


def test_the_settings_file_example_sources_into_settings_prism_accepts() -> None:
    """The env file as a shell (and systemd) reads it: the quotas stay whole JSON, production is asked for."""
    from prism.ops.quotas import parse_quotas

    example = DEPLOY / "systemd" / "prism.env.example"
    shown = subprocess.run(["bash", "-c", f'set -a; . "{example}"; set +a; printf "%s\\n%s" "$PRISM_ENVIRONMENT" '
                                          '"$PRISM_QUOTAS"'], capture_output=True, text=True, check=True, timeout=30)
    environment, quotas = shown.stdout.split("\n", 1)
    assert environment == "production" and parse_quotas(quotas)[0].limit == 10000
    assert "EnvironmentFile=/etc/prism/prism.env" in (DEPLOY / "systemd" / "prism.service").read_text()
