"""place_of: the one classifier behind --scope/--code-only (code, tests, docs)."""

from __future__ import annotations

import pytest

from prism.errors import InputError
from prism.ingest.paths import check_scope, in_scope, place_of
from prism.pack.select import is_test_path


@pytest.mark.parametrize("path", [
    "tests/test_app.py", "test_app.py", "pkg/app_test.py", "server/handler_test.go", "src/app.spec.ts",
    "web/button.test.tsx", "src/__tests__/button.js", "conftest.py", "spec/models/user_spec.rb",
    "src/test/java/com/acme/OrderTest.java", "tests/fixtures/README.md", "pkg/testdata/input.json",
    "src/uv_pipe_test.c", "base/strings_unittest.cc", "lib/path_test.ts",
])
def test_test_files_and_folders_are_tests(path: str) -> None:
    assert place_of(path) == "tests"
    assert is_test_path(path)  # the packer's test pull uses the same classifier


@pytest.mark.parametrize("path", [
    "README.md", "CHANGELOG.md", "CHANGES.rst", "HISTORY.txt", "NEWS", "docs/conf.py", "doc/guide.rst",
    "locale/fr/LC_MESSAGES/django.po", "messages.pot", "notes.adoc",
])
def test_prose_changelogs_and_translations_are_docs(path: str) -> None:
    assert place_of(path) == "docs"


@pytest.mark.parametrize("path", [
    "src/app.py", "latest.java", "contest.py", "protester.go", "src/newsletter.py", "CMakeLists.txt",
    "examples/demo.py", "src/tools.py", "src/contest.c", "lib/latest.ts", "src/attest.js",
])
def test_the_rest_is_code(path: str) -> None:
    assert place_of(path) == "code"


def test_a_section_chunk_is_docs_wherever_it_lives() -> None:
    assert place_of("src/notes.txt", "section") == "docs"
    assert in_scope("src/app.py", "function", "code") and not in_scope("CHANGELOG.md", "section", "code")
    assert in_scope("CHANGELOG.md", "section", "all")


def test_an_unknown_scope_is_an_input_error_naming_the_choices() -> None:
    assert check_scope("docs") == "docs"
    with pytest.raises(InputError, match="all, code, tests, docs"):
        check_scope("source")


def test_the_ranking_prior_uses_the_same_test_classifier() -> None:
    from prism.ingest.paths import in_secondary_place

    assert in_secondary_place("web/button.spec.ts") and in_secondary_place("server/handler_test.go")
    assert in_secondary_place("examples/demo.py") and in_secondary_place("benchmarks/run.py")
    assert not in_secondary_place("src/app.py") and not in_secondary_place("README.md")
    assert in_secondary_place("vendor/github.com/x/y.go") and in_secondary_place("src/_vendor/six.py")
    assert in_secondary_place("api/service_pb2.py") and in_secondary_place("static/app.min.js")
    assert not in_secondary_place("src/vendors.py") and not in_secondary_place("src/generator.py")
    # Go generator output: mockgen doubles, go:generate's .gen.go, Kubernetes' deepcopy files.
    assert in_secondary_place("core/stores/redis/redis_mock.go") and in_secondary_place("mocks/mock_store.go")
    assert in_secondary_place("api/types.gen.go") and in_secondary_place("apis/v1/zz_generated.deepcopy.go")
    assert not in_secondary_place("pkg/mock_server.py") and not in_secondary_place("internal/mockery.go")


def test_benchmarks_examples_test_crates_and_amalgamated_copies_are_secondary() -> None:
    from prism.ingest.paths import in_secondary_place, place_of

    assert in_secondary_place("tokio/benches/rt.rs") and in_secondary_place("benchmark/bench_dom.cpp")
    assert in_secondary_place("example/main.go") and in_secondary_place("samples/app.ts")
    assert in_secondary_place("single_include/nlohmann/json.hpp") and in_secondary_place("singleheader/simdjson.h")
    assert in_secondary_place("dependencies/jsoncpp/jsoncpp.cpp") and in_secondary_place("third-party/x/y.c")
    assert place_of("jib-gradle-plugin/src/integration-test/java/Helper.java") == "tests"
    assert place_of("web/e2e/login.ts") == "tests" and place_of("src/__mocks__/api.js") == "tests"
    assert place_of("test_suite/no_std/src/main.rs") == "tests" and place_of("tokio-test/src/io.rs") == "tests"
    assert place_of("tokio/src/io/interest.rs") == "code" and place_of("src/latest/contest.rs") == "code"
    assert not in_secondary_place("include/nlohmann/json.hpp") and not in_secondary_place("src/bench_util.rs")


def test_a_translation_folder_named_like_a_word_stays_docs() -> None:
    from prism.ingest.paths import place_of

    assert place_of("django/conf/locale/it/LC_MESSAGES/django.po") == "docs"
