"""What a new user trips over in the first hour (issue 16): status that tells the truth, skipped
files with reasons, remembered filters, progress off a terminal, clear errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prism import Prism
from prism.serve.cli import app, explain_shares, progress_lines

runner = CliRunner()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "calc.py").write_text(
        "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n    return a + b\n\n\n"
        "class Calculator:\n    def total(self, xs):\n        return sum(xs)\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text(
        "from src.calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    (root / "locale").mkdir()
    (root / "locale" / "django.po").write_text('msgid "hello"\nmsgstr "bonjour"\n')
    (root / "locale" / "fr.po").write_text('msgid "bye"\nmsgstr "au revoir"\n')
    (root / "src" / "broken.py").write_bytes(b"x = 1\n\0y = 2\n")
    return root


def invoke(*args: str, ok: bool = True) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> dict[str, object]:
    _, stdout, _ = invoke(*args, "--json")
    data = json.loads(stdout)
    assert isinstance(data, dict)
    return data


def test_status_says_what_is_true_after_no_embed(repo: Path) -> None:
    invoke("index", str(repo), "--no-embed")
    status = run_json("status", "--project", str(repo))
    assert status["vectors"] == "off" and status["options"] == {"include": [], "exclude": [], "embed": False}
    languages = status["languages"]
    assert isinstance(languages, dict) and sum(languages.values()) == status["files"] == 4
    assert languages["other"] == 2 and status["other_extensions"] == {".po": 2}
    _, text, _ = invoke("status", "--project", str(repo))
    assert "None" not in text and "waiting" not in text
    assert "vectors not computed (--no-embed" in text and "other 2" in text and ".po 2" in text
    # the choice is the user's: searching does not warn about the vectors they chose not to compute
    _, out, err = invoke("search", "Calculator total", "--project", str(repo))
    assert "Calculator.total" in out and "vector" not in err.lower()
    assert "warnings" not in run_json("search", "add numbers", "--project", str(repo))


def test_status_with_vectors_names_the_model(repo: Path) -> None:
    invoke("index", str(repo))
    status = run_json("status", "--project", str(repo))
    assert status["vectors"] == "on" and status["pending_embeddings"] == 0
    _, text, _ = invoke("status", "--project", str(repo))
    assert f"{status['embedding_model']} (" in text and "every chunk embedded" in text


def test_last_indexed_is_set_after_indexing_an_empty_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    invoke("index", str(empty))
    status = run_json("status", "--project", str(empty))
    assert status["files"] == 0 and isinstance(status["last_indexed"], float)
    _, text, _ = invoke("status", "--project", str(empty))
    assert "never" not in text


def test_skipped_files_are_listed_with_reasons(repo: Path) -> None:
    data = run_json("index", str(repo))
    assert data["skipped"] == {"binary": 1}
    assert data["skipped_files"] == [{"path": "src/broken.py", "reason": "binary",
                                      "detail": data["skipped_files"][0]["detail"]}]  # type: ignore[index]
    detail = str(data["skipped_files"][0]["detail"])  # type: ignore[index]
    assert "NUL byte at offset 6" in detail and "python" in detail
    assert any("src/broken.py" in str(w) and "binary" in str(w) for w in data["warnings"])  # type: ignore[attr-defined]
    _, _, err = invoke("index", str(repo), "--force")
    assert "Skipped 1 files (binary 1)" in err and "prism status --skipped" in err
    _, listed, _ = invoke("status", "--project", str(repo), "--skipped")
    assert "src/broken.py" in listed and "binary" in listed and "NUL byte" in listed
    status = run_json("status", "--project", str(repo))
    assert status["skipped"] == {"binary": 1} and status["skipped_files"] == data["skipped_files"]


def test_include_and_exclude_are_remembered_until_reset(repo: Path) -> None:
    first = run_json("index", str(repo), "--exclude", "tests/", "--no-embed")
    assert first["files_indexed"] == 3
    again = run_json("index", str(repo))  # no flags: the same files, not the whole tree
    assert again["files_indexed"] == 0 and again["files_deleted"] == 0 and again["files_unchanged"] == 3
    status = run_json("status", "--project", str(repo))
    assert status["options"] == {"include": [], "exclude": ["tests/"], "embed": False}
    assert status["changed_on_disk"] == {"added": 0, "modified": 0, "deleted": 0}  # tests/ is not "added"
    _, text, _ = invoke("status", "--project", str(repo))
    assert "--exclude tests/" in text and "--reset-filters" in text
    reset = run_json("index", str(repo), "--reset-filters")
    assert reset["files_indexed"] == 1
    assert run_json("status", "--project", str(repo))["options"] == {"include": [], "exclude": [], "embed": False}
    assert run_json("index", str(repo), "--embed")["embedded"] > 0  # type: ignore[operator]
    assert run_json("status", "--project", str(repo))["vectors"] == "on"


def test_progress_lines_come_every_interval_and_at_the_end() -> None:
    lines: list[str] = []
    now = [0.0]
    update = progress_lines(lines.append, interval_s=5.0, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] = done * 0.2  # 20 s in all
        update("embed", done, 100)
    assert lines[0].startswith("Embedding chunks: 1/100 (1%)")
    assert lines[-1].startswith("Embedding chunks: 100/100 (100%), 20s")
    assert 4 <= len(lines) <= 6  # the first, one every 5 s, the last


def test_progress_is_printed_when_stderr_is_not_a_terminal(repo: Path, prism_home: Path) -> None:
    env = {**os.environ, "PRISM_HOME": str(prism_home), "PRISM_EMBEDDER": "hashing"}
    proc = subprocess.run([sys.executable, "-m", "prism", "index", str(repo)], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Indexing files: 4/4 (100%)" in proc.stderr and "Embedding chunks:" in proc.stderr
    quiet = subprocess.run([sys.executable, "-m", "prism", "index", str(repo), "--force", "--quiet"],
                           env=env, capture_output=True, text=True, check=False)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_index_of_a_file_says_it_is_a_file(repo: Path) -> None:
    code, _, err = invoke("index", str(repo / "src" / "calc.py"), ok=False)
    assert code == 1 and "is a file" in err and "--include 'calc.py'" in err


@pytest.mark.parametrize("target", ["src/calc.py:5-1", "src/calc.py:0-0", "src/calc.py:-1-2", "src/calc.py:0"])
def test_show_rejects_ranges_that_do_not_run_forwards_from_line_one(repo: Path, target: str) -> None:
    invoke("index", str(repo), "--no-embed")
    code, out, err = invoke("show", target, "--project", str(repo), ok=False)
    assert code == 2 and out == "" and "is not a line range" in err and "src/calc.py:10-40" in err


def test_unknown_language_is_an_error_listing_the_known_ones(repo: Path) -> None:
    invoke("index", str(repo), "--no-embed")
    code, _, err = invoke("search", "add", "--lang", "cobol", "--project", str(repo), ok=False)
    assert code == 2 and "Unknown --lang 'cobol'" in err and "python" in err and "typescript" in err
    assert invoke("search", "add", "--lang", "python", "--project", str(repo))[0] == 0


def test_explain_gives_shares_that_add_up_and_files_show_the_symbol(repo: Path) -> None:
    invoke("index", str(repo))
    _, out, _ = invoke("search", "Calculator total", "--explain", "--project", str(repo))
    shares = [line for line in out.splitlines() if "shares of the score:" in line]
    assert shares
    for line in shares:
        values = [int(part.rsplit(" ", 1)[1].rstrip("%")) for part in line.split(":", 1)[1].split(",")]
        assert abs(sum(values) - 100) <= len(values)  # each rounded to a whole percent
    assert explain_shares({"lexical": 0.03, "dense": 0.01}) == "shares of the score: lexical 75%, dense 25%"
    _, out, _ = invoke("search", "Calculator total", "--files", "--project", str(repo))
    assert "src/calc.py" in out and "Calculator.total" in out


def test_version_and_debug_in_help() -> None:
    from prism import __version__

    _, out, _ = invoke("--version")
    assert out.strip() == f"prism {__version__}"
    _, out, _ = invoke("--help")
    assert "--debug" in out and "--version" in out


def test_serve_and_mcp_http_default_to_different_ports() -> None:
    import typer.main

    root = typer.main.get_command(app)
    commands = root.commands  # type: ignore[attr-defined]
    serve_port = next(p.default for p in commands["serve"].params if p.name == "port")
    mcp_port = next(p.default for p in commands["mcp"].params if p.name == "port")
    assert serve_port != mcp_port
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert f"--port {mcp_port}" in readme and str(serve_port) in readme


def test_search_response_reads_as_its_hits(repo: Path) -> None:
    with Prism(repo) as prism:
        prism.index(embed=False)
        hits = prism.search("where are numbers added?", limit=5)
        assert len(hits) == len(hits.hits) > 0
        assert list(hits) == list(hits.hits) and hits[0] is hits.hits[0] and hits[:2] == hits.hits[:2]
        assert any(hit.chunk.chunk.qualified_name == "add" for hit in hits)


def test_markdown_omitted_section_lists_real_handles(repo: Path) -> None:
    """Whenever a pack leaves chunks out, its Omitted section lists handles that `prism show` opens
    (a Markdown pack is smaller than the JSON one, so at a large budget it may omit nothing)."""
    import shutil

    shutil.copytree(Path(__file__).parents[2] / "src" / "prism" / "pack", repo / "pack")
    invoke("index", str(repo), "--no-embed")
    question = "how is the token budget enforced when chunks are packed and degraded"
    with Prism(repo) as prism:
        for budget in (300, 2000, 8000):
            for fmt in ("markdown", "xml", "json"):
                pack = prism.context(question, budget_tokens=budget, fmt=fmt)
                assert pack.tokens <= budget
                has_section = "## Omitted" in pack.text if fmt == "markdown" else "omitted" in pack.text
                assert has_section == (pack.omitted_total > 0) or fmt != "markdown"
                if pack.omitted_total:
                    assert pack.omitted, (budget, fmt)  # at least one real handle, within the budget
                    for item in pack.omitted:
                        assert f"#{item.handle}" in pack.text or f'"{item.handle}"' in pack.text
                    if fmt == "markdown":
                        more = pack.omitted_total - len(pack.omitted)
                        assert (f"- … and {more} more" in pack.text) == (more > 0)
    _, md, _ = invoke("context", question, "--budget", "2000", "--project", str(repo))
    section = md.split("## Omitted (fetch with `prism show HANDLE`)\n", 1)[1]
    handle = section.split(" #", 1)[1].split(" ", 1)[0]
    _, shown, _ = invoke("show", handle, "--project", str(repo))
    assert shown.strip()


def test_readme_python_snippet_runs(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(snippet.replace("path/to/repo", str(repo)), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "src/calc.py:" in printed and "tokens:" in printed
