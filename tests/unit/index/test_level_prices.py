"""Degradation levels priced at index time: the stored counts are the rendered levels' counts for
every language fixture, an index from before pricing still packs (pricing on the fly) and is priced
on its next sync, and so is one priced by another tokenizer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from prism.config import Settings
from prism.engine import Prism
from prism.index.parse_pool import ParseJob, ParseOptions, parse_file
from prism.ingest.languages import detect_language
from prism.models import PRICED_LEVELS, LevelTokens, SourceFile
from prism.pack import degrade
from prism.pack.tokens import get_tokenizer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "languages"
SAMPLES = sorted(p for p in FIXTURES.glob("*/*") if p.is_file())


def parse(path: Path, tokenizer: str) -> list[LevelTokens | None]:
    source = SourceFile(path.name, path.stat().st_size, path.stat().st_mtime, detect_language(path.name))
    parsed = parse_file(ParseOptions(path.parent, tokenizer, 1500, 60, 10), ParseJob(source, True, None))
    assert parsed.item is not None and parsed.item.chunks
    counter = get_tokenizer(tokenizer)
    for chunk in parsed.item.chunks:
        on_the_fly = tuple(counter.count(degrade.render(chunk, level)) for level in PRICED_LEVELS)
        assert chunk.level_tokens == LevelTokens(counter.name, on_the_fly), (chunk.qualified_name, chunk.kind)
    return [chunk.level_tokens for chunk in parsed.item.chunks]


def test_every_language_fixture_is_sampled() -> None:
    assert {p.parent.name for p in SAMPLES} >= {"python", "go", "rust", "typescript", "markdown", "text"}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.parent.name)
def test_stored_level_tokens_are_the_counts_of_the_rendered_levels(path: Path) -> None:
    levels = parse(path, "cl100k_base")
    if path.parent.name == "python":  # and they differ by level where the code has bodies to elide
        assert any(lv is not None and lv.counts[0] > lv.counts[2] > lv.counts[3] for lv in levels)


@pytest.mark.parametrize("tokenizer", ["o200k_base", "claude"])
def test_levels_are_priced_by_the_settings_tokenizer(tokenizer: str) -> None:
    parse(FIXTURES / "python" / next(p.name for p in SAMPLES if p.parent.name == "python"), tokenizer)


def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    for name in ("python", "go", "rust", "typescript"):
        sample = next(p for p in SAMPLES if p.parent.name == name)
        (root / "app" / sample.name).write_text(sample.read_text(encoding="utf-8"), encoding="utf-8")
    return root


def unprice(prism: Prism) -> None:
    """Make the index look as an older PRISM left it: no level prices, no meta."""
    conn = sqlite3.connect(prism.index_dir / "index.db")
    conn.execute("UPDATE chunks SET level_tokens = NULL")
    conn.execute("DELETE FROM meta WHERE key = 'levels_tokenizer'")
    conn.commit()
    conn.close()


def test_an_index_from_before_pricing_packs_the_same_and_is_priced_on_its_next_sync(tmp_path: Path) -> None:
    root = project(tmp_path)
    settings = Settings(home=tmp_path / "home", embedder="hashing")
    query = "parse the config and return the result"
    with Prism(root, settings=settings) as prism:
        prism.index(embed=False)
        priced = [prism.context(query, budget_tokens=b, record_usage=False) for b in (300, 900, 4000)]
        unprice(prism)
    with Prism(root, settings=settings) as prism:  # a new engine: nothing memoised from the index above
        assert all(sc.chunk.level_tokens is None for sc in prism.store.iter_chunks())
        for pack, budget in zip(priced, (300, 900, 4000), strict=True):
            again = prism.context(query, budget_tokens=budget, record_usage=False)
            assert again.tokens <= budget and again.tokens == get_tokenizer("cl100k_base").count(again.text)
            assert [(c.path, c.symbol, c.level) for c in again.chunks] == \
                   [(c.path, c.symbol, c.level) for c in pack.chunks]
        report = prism.index(embed=False)
        assert report.files_indexed == 4
        assert all(sc.chunk.level_tokens is not None for sc in prism.store.iter_chunks())
        assert prism.index(embed=False).files_indexed == 0


def test_another_tokenizer_prices_the_index_again(tmp_path: Path) -> None:
    root = project(tmp_path)
    home = tmp_path / "home"
    with Prism(root, settings=Settings(home=home, embedder="hashing")) as prism:
        prism.index(embed=False)
    with Prism(root, settings=Settings(home=home, embedder="hashing", tokenizer="o200k_base")) as prism:
        assert prism.index(embed=False).files_indexed == 4
        assert {sc.chunk.level_tokens.tokenizer for sc in prism.store.iter_chunks()
                if sc.chunk.level_tokens is not None} == {"o200k_base"}
        assert prism.index(embed=False).files_indexed == 0
