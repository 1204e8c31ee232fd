"""The README's first command, run from a fresh `git clone` of this repository, with the real
embedding model.

Two liberties keep it within ~2 minutes on 2 cores, offline:
* the install step (`python3 -m venv .venv && .venv/bin/pip install -e .`, minutes with a cold
  pip cache, and it needs the package index) is replaced by its effect: a fresh `.venv` whose
  `prism` runs the clone's committed code, with the dependencies of the current virtualenv;
* the clone is a sparse checkout (README, pyproject, `src/prism/index/` without its model files), so `prism index .`
  embeds a few hundred chunks rather than the whole repository (about 3 minutes on 2 cores).
The rest of the command is the README's own text, run by bash in the clone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPARSE = ["/README.md", "/pyproject.toml", "/src/prism/index/", "!/src/prism/index/models/"]


def readme_first_command() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("python3 -m venv .venv"))
    return [part.strip() for part in line.split("&&")]


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def fake_install(clone: Path, code_dir: Path) -> Path:
    """What `pip install -e .` leaves: .venv/bin/prism running the clone's code."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(clone / ".venv")], check=True)
    python = clone / ".venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The clone's code first; the current virtualenv supplies the dependencies.
    Path(site, "prism_clone.pth").write_text(f"{code_dir}\n{sysconfig.get_paths()['purelib']}\n")
    script = clone / ".venv" / "bin" / "prism"
    script.write_text(f"#!{python}\nimport sys\nfrom prism.serve.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return python


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_readme_first_command_from_a_fresh_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = readme_first_command()
    assert parts[0] == "python3 -m venv .venv" and parts[1].startswith(".venv/bin/pip install -e .")
    clone = tmp_path / "clone"
    git("clone", "--quiet", "--no-checkout", str(ROOT), str(clone))
    git("sparse-checkout", "set", "--no-cone", *SPARSE, cwd=clone)
    git("checkout", "--quiet", cwd=clone)
    # The clone's committed code, as an install would copy it (the sparse tree lacks most of it).
    archive = tmp_path / "src.tar"
    git("archive", "--output", str(archive), "HEAD", "src", cwd=clone)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "installed", filter="data")
    python = fake_install(clone, tmp_path / "installed" / "src")
    where = subprocess.run([str(python), "-c", "import prism; print(prism.__file__)"],
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(tmp_path / "installed"))

    env = {k: v for k, v in os.environ.items() if not k.startswith("PRISM_")}
    env["PRISM_HOME"] = str(tmp_path / "home")  # the README's default embedder: the bundled MiniLM
    env["COLUMNS"] = "200"  # status lines unwrapped
    done = subprocess.run(["bash", "-c", " && ".join(parts[2:])], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Indexed" in done.stderr and " 0 embedded" not in done.stderr
    assert "minilm" in done.stdout and "every chunk embedded" in done.stdout, done.stdout[:2000]  # status
    assert "# Context" in done.stdout and "src/prism/index/indexer.py" in done.stdout
