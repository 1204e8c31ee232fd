"""A symbol match weighs by how strongly it names a definition, not only by its place in the
symbol ranking: a plain word that ten types define (`default`) earns a small share of what a
unique code-like name earns."""

from __future__ import annotations

import pytest

from prism.config import Settings
from prism.engine import Prism

DEFAULTS = "".join(
    f"pub struct Mode{i}(u8);\n\nimpl Default for Mode{i} {{\n    fn default() -> Self {{ Mode{i}(0) }}\n}}\n\n"
    for i in range(10))
MAIN = """pub fn list_themes(out: &mut String, names: &[&str], current: &str) {
    // Print every theme name; mark the current theme when the output is a terminal.
    for name in names {
        out.push_str(name);
        if *name == current { out.push_str(" (default)"); }
        out.push('\\n');
    }
}
"""


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Prism:
    root = tmp_path_factory.mktemp("strength")
    (root / "src").mkdir()
    (root / "src" / "modes.rs").write_text(DEFAULTS)
    (root / "src" / "main.rs").write_text(MAIN)
    engine = Prism(root, settings=Settings(home=tmp_path_factory.mktemp("home"), embed=False))
    engine.index()
    return engine


RANK_ONE = 1.5 / 61  # the symbol weight's share at the first place of the ranking


def test_a_weak_name_many_types_define_earns_a_small_share(prism: Prism) -> None:
    hits = prism.search("the theme list marks the current theme name with `(default)` when piped", limit=20)
    weak = [h for h in hits if h.chunk.chunk.qualified_name.endswith(".default")]
    assert len(weak) == 10 and all(0 < h.explain["symbol"] < 0.25 * RANK_ONE for h in weak)


def test_a_unique_code_like_name_keeps_its_full_share(prism: Prism) -> None:
    hits = prism.search("`list_themes` marks the current theme with `(default)` when piped", limit=20)
    assert hits[0].chunk.chunk.qualified_name == "list_themes"
    assert hits[0].explain["symbol"] > 0.9 * RANK_ONE
