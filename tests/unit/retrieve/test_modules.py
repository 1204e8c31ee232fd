"""Tests for prism.retrieve.modules: qualified and type names to files, in each language's layout."""

from __future__ import annotations

from prism.retrieve.modules import MODULE_WEIGHT, STEM_WEIGHT, by_module_name, match_qualified, match_stem, module_key

PATHS = [
    "jib-core/src/main/java/com/google/jib/registry/RegistryAuthenticator.java",
    "jib-core/src/test/java/com/google/jib/registry/RegistryAuthenticatorTest.java",
    "src/main/java/org/mockito/internal/util/MockUtil.java",
    "tokio/src/io/interest.rs", "tokio/src/io/mod.rs", "tokio/src/io/async_fd.rs",
    "include/simdjson/generic/ondemand/field.h", "include/simdjson/generic/ondemand/field-inl.h",
    "src/components/date-picker.tsx", "pvlib/iam.py", "pkg/utils.py",
]
TABLE = by_module_name(PATHS)
GENERIC = frozenset({"utils", "mod"})


def test_module_keys_drop_source_folders_and_folder_files() -> None:
    assert module_key("tokio/src/io/mod.rs") == ("tokio", "io")
    assert module_key("jib-core/src/main/java/com/google/jib/registry/RegistryAuthenticator.java") == (
        "jibcore", "com", "google", "jib", "registry", "registryauthenticator")
    assert module_key("include/simdjson/generic/ondemand/field-inl.h")[-1] == "field"


def test_java_package_and_class_name_the_file() -> None:
    scores = match_qualified("com.google.jib.registry.RegistryAuthenticator.fromAuthenticationMethod", TABLE, GENERIC)
    assert scores == {"jib-core/src/main/java/com/google/jib/registry/RegistryAuthenticator.java": MODULE_WEIGHT}


def test_rust_scoped_type_names_its_snake_case_file() -> None:
    assert match_qualified("tokio.io.Interest", TABLE, GENERIC) == {"tokio/src/io/interest.rs": MODULE_WEIGHT}
    assert match_stem("AsyncFd", TABLE, GENERIC) == {"tokio/src/io/async_fd.rs": STEM_WEIGHT}


def test_cpp_namespace_path_names_header_and_its_inline_file() -> None:
    scores = match_qualified("simdjson.ondemand.field", TABLE, GENERIC)
    assert set(scores) == {"include/simdjson/generic/ondemand/field.h",
                           "include/simdjson/generic/ondemand/field-inl.h"}


def test_a_class_owner_names_its_file_but_a_lower_case_variable_does_not() -> None:
    assert match_qualified("MockUtil.getMockMaker", TABLE, GENERIC) == {
        "src/main/java/org/mockito/internal/util/MockUtil.java": STEM_WEIGHT}
    assert match_qualified("field.key", TABLE, GENERIC) == {}  # `field.key` in prose: a variable
    assert set(match_qualified("field.key", TABLE, GENERIC, scoped=True)) == {  # `field::key`
        "include/simdjson/generic/ondemand/field.h", "include/simdjson/generic/ondemand/field-inl.h"}


def test_kebab_case_files_and_generic_stems() -> None:
    assert match_stem("DatePicker", TABLE, GENERIC) == {"src/components/date-picker.tsx": STEM_WEIGHT}
    assert match_stem("utils", TABLE, GENERIC) == {}


def test_only_code_files_are_named_by_a_type() -> None:
    table = by_module_name(["docs/styles/github.css", "docs/github.md", "src/github.rs"])
    assert match_stem("GitHub", table, GENERIC) == {"src/github.rs": STEM_WEIGHT}


def test_a_lower_case_word_never_names_a_file_named_like_a_class() -> None:
    table = by_module_name(["src/main/java/org/x/matchers/NotNull.java", "src/null_check.rs", "pkg/notnull.py"])
    assert match_stem("notNull", table, GENERIC) == {"pkg/notnull.py": STEM_WEIGHT}  # a method, in Java
    assert set(match_stem("NotNull", table, GENERIC)) == {"src/main/java/org/x/matchers/NotNull.java",
                                                         "pkg/notnull.py"}
    assert match_stem("null_check", table, GENERIC) == {"src/null_check.rs": STEM_WEIGHT}


def test_a_header_and_its_implementation_are_companions() -> None:
    from prism.retrieve.modules import companions

    found = companions(["include/acme/ondemand/field.h", "include/acme/ondemand/field-inl.h",
                        "include/acme/dom/element.h", "include/acme/inline/element.h", "tools/element.cpp",
                        "include/acme/parser.h", "src/acme/parser.cpp", "src/other/field.cpp"])
    assert found == {
        "include/acme/ondemand/field.h": ["include/acme/ondemand/field-inl.h"],
        "include/acme/ondemand/field-inl.h": ["include/acme/ondemand/field.h"],
        "include/acme/dom/element.h": ["include/acme/inline/element.h"],
        "include/acme/inline/element.h": ["include/acme/dom/element.h"],
        "include/acme/parser.h": ["src/acme/parser.cpp"], "src/acme/parser.cpp": ["include/acme/parser.h"]}
