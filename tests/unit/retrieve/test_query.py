"""Tests for prism.retrieve.query: signals extracted from questions and issue texts."""

from __future__ import annotations

from prism.retrieve.query import Frame, dense_helps, looks_like_code, parse_query

TRACE = '''Saving fails with a KeyError.

```python
>>> ds.to_json_dict()
Traceback (most recent call last):
  File "/usr/lib/python3.9/site-packages/pydicom/dataset.py", line 2302, in to_json_dict
    data_element = self[key]
  File "pydicom/dataelem.py", line 88, in value
    raise KeyError(tag)
KeyError: (0008, 0005)
```
See `pydicom.config.settings` and Dataset.to_json_dict.
'''


def test_frames_paths_and_errors_come_from_a_traceback() -> None:
    q = parse_query(TRACE)
    assert q.frames == (
        Frame("/usr/lib/python3.9/site-packages/pydicom/dataset.py", 2302, "to_json_dict"),
        Frame("pydicom/dataelem.py", 88, "value"),
    )
    assert "pydicom/dataelem.py" in q.paths
    assert "KeyError" in q.errors
    assert q.is_long is (len(TRACE) > 400)


def test_identifiers_and_qualified_names() -> None:
    q = parse_query(TRACE)
    assert "to_json_dict" in q.identifiers
    assert "Dataset.to_json_dict" in q.qualified
    assert "pydicom.config.settings" in q.qualified
    assert "value" in q.identifiers  # a frame's function counts even though it is a plain word


def test_plain_prose_yields_no_identifiers() -> None:
    q = parse_query("where are tokens refreshed")
    assert q.identifiers == ()
    assert q.frames == () and q.paths == () and not q.is_long
    assert q.terms == ("where", "are", "tokens", "refreshed")


def test_called_names_and_code_like_words() -> None:
    q = parse_query("calling refresh() twice breaks parseHTTPResponse and rule L031")
    assert {"refresh", "parseHTTPResponse", "L031"} <= set(q.identifiers)
    assert looks_like_code("snake_case") and looks_like_code("__init__")
    assert not looks_like_code("Hello") and not looks_like_code("self")


def test_quoted_strings_and_garbage_never_fail() -> None:
    q = parse_query('error says "Avoid using aliases in join condition"')
    assert q.quoted == ("Avoid using aliases in join condition",)
    parse_query("")  # empty
    parse_query("``` unterminated fence\n" + "x" * 5000)
    parse_query('File "", line 0, in <module>')


def test_short_questions_in_words_are_natural_language() -> None:
    assert parse_query("python check if a variable is iterable").is_natural_language
    assert parse_query("where are access tokens refreshed").is_natural_language
    assert not parse_query("Cart.add_item").is_natural_language
    assert not parse_query("hash_password fails for empty strings").is_natural_language
    assert not parse_query("crash in app/main.py on start").is_natural_language
    assert not parse_query(TRACE).is_natural_language  # long: an issue text, not a question


def test_scoped_and_member_names_read_as_qualified_names() -> None:
    q = parse_query("Add a `Priority` variant to `tokio::io::Interest`; see "
                    "`org.mockito.internal.util.MockUtil#getMockMaker` and field::~field()")
    assert {"tokio.io.Interest", "org.mockito.internal.util.MockUtil.getMockMaker", "field.field"} <= set(q.qualified)
    assert set(q.scoped) == {"tokio.io.Interest", "org.mockito.internal.util.MockUtil.getMockMaker", "field.field"}
    assert "Interest" in q.identifiers and "getMockMaker" in q.identifiers


def test_file_names_and_line_anchors_are_not_qualified_names() -> None:
    q = parse_query("in JsonFactory.java and layer.rs (see https://github.com/o/r/blob/main/src/layer.rs#L32)")
    assert not any(name.endswith((".java", ".rs")) or "L32" in name for name in q.qualified)
    assert "src/layer.rs" in q.paths and "JsonFactory.java" in q.paths


def test_javascript_module_specifiers_read_as_module_names() -> None:
    q = parse_query("```js\nimport get from 'lodash/fp/get';\nconst d = require(\"./utils/date-format\");\n```")
    assert {"lodash.fp.get", "utils.date-format"} <= set(q.scoped)


def test_dense_is_routed_to_questions_and_prose_not_to_issue_texts_naming_code() -> None:
    assert dense_helps(parse_query("how to check if a file exists in python"))
    assert dense_helps(parse_query("where is `parse_args` called"))  # short: dense is cheap and may help
    assert not dense_helps(parse_query(TRACE + TRACE))  # a traceback in an issue text
    issue = ("Calling `Session.merge_headers()` drops the cookies set by the redirect handler. " * 6
             + "I expected merge_headers to keep them; see httpx/_client.py for where they are built.")
    assert not dense_helps(parse_query(issue))  # identifiers, a path, a dotted name
    prose = ("When I log in after my password was reset the page keeps asking me to log in again and "
             "again, even though the reset mail said everything worked and the account is active. ") * 3
    assert parse_query(prose).is_long and dense_helps(parse_query(prose))  # words only: dense reads it
