"""Which files get dense vectors: code and docs do; changelogs, licences, translations, generated,
vendored, test and test-data files do not (they stay lexically searchable)."""

from __future__ import annotations

import pytest

from prism.index.vector_scope import wants_vector


@pytest.mark.parametrize("path", [
    "src/app/users.py", "README.md", "docs/guide/install.rst", "pyproject.toml",
    "src/history.py", "app/changes.py", "src/license.py",  # code named like boilerplate
    "src/testing_utils.py", "src/latest.py", "config/settings.yaml", ".github/workflows/ci.yml", "Makefile",
    "web/src/components/Button.tsx", "pkg/server/handler.go",
])
def test_code_and_docs_get_vectors(path: str) -> None:
    assert wants_vector(path)


@pytest.mark.parametrize("path", [
    "CHANGELOG.md", "ChangeLog", "HISTORY.rst", "docs/changes.rst", "LICENSE", "NOTICE.txt", "AUTHORS.rst",
    "changelog.d/123.bugfix.md", "doc/whatsnew/2.0.rst", "newsfragments/42.feature",
    "django/conf/locale/fr/LC_MESSAGES/django.po", "app/i18n/en.json", "messages.pot",
    "api/service_pb2.py", "proto/api.pb.go",
    "vendor/github.com/pkg/errors/errors.go", "third_party/zlib/inflate.c",
    "test/fixtures/dialects/ansi/select.yml", "tests/fixtures/query.sql", "tests/testdata/case.json",
    "src/__snapshots__/button.test.js.snap", "data/prices.json",
    "tests/test_users.py", "src/pkg/test_parse.py", "conftest.py", "pkg/server/handler_test.go",
    "web/src/Button.test.tsx", "src/test/java/app/UserTest.java", "spec/models/user_spec.rb",
])
def test_files_no_search_wants_as_vectors_get_none(path: str) -> None:
    assert not wants_vector(path)
