"""Tests for prism.retrieve.exact: paths, modules and stems named in a query."""

from __future__ import annotations

from prism.retrieve.exact import match_paths
from prism.retrieve.query import parse_query

PATHS = ["src/pkg/rules/L031.py", "src/pkg/rules/L039.py", "src/pkg/core/helpers.py",
         "pvlib/iam.py", "pvlib/tools.py", "tests/test_iam.py", "src/pkg/__init__.py"]


def test_written_path_suffix_matches_the_indexed_file() -> None:
    scores = match_paths(parse_query('File "/site-packages/pkg/core/helpers.py", line 3'), PATHS)
    assert scores == {"src/pkg/core/helpers.py": 1.0}


def test_dotted_module_names_map_to_files() -> None:
    scores = match_paths(parse_query("calling pvlib.iam.physical returns nan"), PATHS)
    assert scores["pvlib/iam.py"] == 0.9
    assert "tests/test_iam.py" not in scores


def test_code_like_stem_names_a_file() -> None:
    scores = match_paths(parse_query("rule L031 fires wrongly"), PATHS)
    assert set(scores) == {"src/pkg/rules/L031.py"}


def test_generic_names_do_not_match() -> None:
    assert match_paths(parse_query("the __init__ of the package"), PATHS) == {}


def test_plain_words_are_looked_up_as_names_only_when_capitalised_or_alone() -> None:
    from prism.retrieve.exact import _plain_names

    assert _plain_names(parse_query("Limits")) == ["Limits"]
    assert _plain_names(parse_query("send")) == ["send"]
    assert _plain_names(parse_query("how is Limits compared")) == ["Limits.compared", "Limits"]
    assert _plain_names(parse_query("Calculator total")) == ["Calculator.total", "Calculator"]
    # A question in lower-case words keeps its dense-led routing even if one names a function.
    assert _plain_names(parse_query("normalize to 1 in python")) == []
    assert _plain_names(parse_query("python is not not none")) == []
