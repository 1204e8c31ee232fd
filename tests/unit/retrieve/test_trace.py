"""Tests for prism.retrieve.trace: stack frames and file:line locations of every language."""

from __future__ import annotations

from prism.retrieve.trace import Frame, find_frames, linked_paths

JAVA = """Caused by: java.lang.NullPointerException
\tat com.fasterxml.jackson.core.JsonFactory.createParser(JsonFactory.java:889)
\tat com.google.jib.json.JsonTemplateMapper.readJson (JsonTemplateMapper.java:118)
\tat com.google.jib.registry.RegistryEndpointCaller$Inner.call(RegistryEndpointCaller.java:194)
"""


def test_jvm_frames_become_package_paths_innermost_last() -> None:
    frames = find_frames(JAVA)
    assert frames == (
        Frame("com/google/jib/registry/RegistryEndpointCaller.java", 194, "call"),
        Frame("com/google/jib/json/JsonTemplateMapper.java", 118, "readJson"),
        Frame("com/fasterxml/jackson/core/JsonFactory.java", 889, "createParser"),
    )


def test_python_traceback_frames_keep_their_function() -> None:
    assert find_frames('  File "/site/pvlib/iam.py", line 92, in physical\n') == (
        Frame("/site/pvlib/iam.py", 92, "physical"),)


def test_rust_panic_go_trace_and_compiler_error_locations() -> None:
    text = ("thread 'main' panicked at src/vec.rs:12:5:\n"
            "\t/home/u/go/src/app/server/handler.go:88 +0x1d\n"
            "tools/libs/json.h:862:17: error: static assertion failed\n"
            "C:\\work\\app\\main.cpp(3,14): error C2166: l-value specifies const object\n")
    assert find_frames(text) == (Frame("src/vec.rs", 12, ""), Frame("/home/u/go/src/app/server/handler.go", 88, ""),
                                 Frame("tools/libs/json.h", 862, ""), Frame("C:/work/app/main.cpp", 3, ""))


def test_javascript_frames_name_their_function() -> None:
    assert find_frames("    at render (src/app/view.tsx:3:9)\n    at async load (lib/io.js:10:2)") == (
        Frame("src/app/view.tsx", 3, "render"), Frame("lib/io.js", 10, "load"))


def test_prose_numbers_and_versions_are_not_locations() -> None:
    assert find_frames("bat 0.15.4 on Linux 5.8.9, see issue #3073 at 10:30") == ()


def test_repository_links_name_files_and_anchored_lines() -> None:
    text = ("see https://github.com/tokio-rs/tracing/blob/master/tracing-subscriber/src/filter/"
            "layer_filters.rs#L379 and https://github.com/o/r/blob/v1.2/src/lib.rs")
    assert linked_paths(text) == ["tracing-subscriber/src/filter/layer_filters.rs", "src/lib.rs"]
    assert find_frames(text) == (Frame("tracing-subscriber/src/filter/layer_filters.rs", 379, ""),)
