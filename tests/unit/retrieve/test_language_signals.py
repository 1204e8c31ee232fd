"""Language-aware file signals on a small Java + Rust + C++ project: a JVM stack trace, a Rust
scoped name, a C++ header and an amalgamated copy each rank the file a user means first."""

from __future__ import annotations

import pytest

from prism.engine import Prism
from repos import lexical_prism

FILLER = "\n".join(f"    // registry request {i}: fetch the manifest, retry the request" for i in range(30))

FILES = {
    "core/src/main/java/com/acme/registry/RegistryClient.java":
        "package com.acme.registry;\n\npublic class RegistryClient {\n"
        "    public String fetch(String url) {\n        return parse(url);\n    }\n\n"
        "    String parse(String body) {\n        return body.trim();\n    }\n}\n",
    "core/src/main/java/com/acme/registry/RegistryRequest.java":
        "package com.acme.registry;\n\n/** A registry request: fetch, retry. */\npublic class RegistryRequest {\n"
        "    public void send() {\n" + FILLER + "\n    }\n}\n",
    # Same class name, another package, more of the words: only the trace's package tells them apart.
    "legacy/src/main/java/com/acme/old/RegistryClient.java":
        "package com.acme.old;\n\n/** The old registry client: fetch a manifest, retry the request. */\n"
        "public class RegistryClient {\n    public String fetch(String url) {\n" + FILLER + "\n        return url;\n"
        "    }\n\n    String parse(String body) {\n        return body;\n    }\n}\n",
    "core/src/test/java/com/acme/registry/RegistryClientTest.java":
        "package com.acme.registry;\n\npublic class RegistryClientTest {\n"
        "    public void fetchFails() {\n" + FILLER + "\n    }\n}\n",
    "tokio/src/io/interest.rs": "/// Readiness a task waits for.\npub struct Interest(u8);\n\nimpl Interest {\n"
        "    pub const READABLE: Interest = Interest(1);\n}\n",
    "tokio/src/io/ready.rs": "/// Readiness events seen on a resource: readable, writable, priority events.\n"
        "pub struct Ready(u8);\n\nimpl Ready {\n    pub fn is_priority(&self) -> bool { self.0 & 4 != 0 }\n}\n",
    "tokio-util/src/poll/interest.rs":
        "/// Interest in priority events: wait on priority events, a variant per event.\n"
        "pub struct Interest { priority: bool }\n\nimpl Interest {\n    pub fn priority() -> Interest "
        "{ Interest { priority: true } }\n}\n",
    "tokio/benches/interest.rs": "// priority variant events, waiting on priority events, readiness variant\n"
        "fn bench_priority_variant_events() { let _ = \"priority variant events\"; }\n",
    "include/lib/field.h": "#pragma once\n#include <string_view>\n\nnamespace lib {\nclass field {\npublic:\n"
        "  std::string_view key() const noexcept;\n  int value() const;\n};\n}  // namespace lib\n",
    "single_include/lib/field.h": "#pragma once\n#include <string_view>\n\nnamespace lib {\nclass field {\npublic:\n"
        "  std::string_view key() const noexcept;\n  std::string_view unescaped_key() const;\n"
        "  std::string_view raw_key() const;\n};\n}  // namespace lib\n",
}

JAVA_TRACE = """NPE when the registry answers with an empty body

Fetching a manifest from my registry fails with the request below, every time I retry the request:

```
java.lang.NullPointerException
\tat com.acme.registry.RegistryClient.parse(RegistryClient.java:9)
\tat com.acme.registry.RegistryClient.fetch(RegistryClient.java:5)
\tat com.acme.app.Main.main(Main.java:3)
```
The registry request is fine with curl; fetch, retry and the same request work for other registries.
"""


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Prism:
    return lexical_prism(tmp_path_factory.mktemp("languages"), tmp_path_factory.mktemp("home"), FILES)


def _files(prism: Prism, query: str) -> list[str]:
    return [h.chunk.chunk.path for h in prism.search(query, limit=10, files=True)]


def test_a_java_stack_trace_ranks_its_file_first(prism: Prism) -> None:
    assert _files(prism, JAVA_TRACE)[0] == "core/src/main/java/com/acme/registry/RegistryClient.java"


def test_a_rust_scoped_name_ranks_its_file_above_a_bench_full_of_the_words(prism: Prism) -> None:
    files = _files(prism, "Add a `Priority` variant to `tokio::io::Interest` to wait on priority events")
    assert files[0] == "tokio/src/io/interest.rs"
    assert files.index("tokio/benches/interest.rs") > files.index("tokio/src/io/ready.rs")


def test_a_cpp_header_is_parsed_as_cpp(prism: Prism) -> None:
    chunks = prism.store.chunks_in_file("include/lib/field.h")
    assert {c.chunk.language for c in chunks} == {"cpp"}
    assert any(c.chunk.qualified_name == "field" for c in chunks)


def test_the_original_header_ranks_above_its_amalgamated_copy(prism: Prism) -> None:
    files = _files(prism, "field::key() should return an unescaped std::string_view, like raw_key")
    assert files.index("include/lib/field.h") < files.index("single_include/lib/field.h")
