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


def test_javascript_frames_name_their_function_innermost_last() -> None:
    # A JavaScript stack prints the failing frame first: it comes out last, as in Python.
    assert find_frames("    at render (src/app/view.tsx:3:9)\n    at async load (lib/io.js:10:2)") == (
        Frame("lib/io.js", 10, "load"), Frame("src/app/view.tsx", 3, "render"))


def test_go_goroutine_dump_names_functions_innermost_last() -> None:
    text = ("panic: Group id 'G' is not defined\n\ngoroutine 1 [running]:\n"
            "github.com/spf13/cobra.(*Command).AddCommand(0xd024e0, {0xc00024fd08, 0x1, 0x1?})\n"
            "\t/home/u/go/pkg/mod/github.com/spf13/cobra@v1.6.0/command.go:1223 +0x2d4\n"
            "app/cmd.init.func1.2()\n\t/home/u/app/cmd/sub.go:47 +0x54\n"
            "main.main()\n\t/home/u/app/main.go:5 +0x10\n")
    assert find_frames(text) == (
        Frame("/home/u/app/main.go", 5, "main"), Frame("/home/u/app/cmd/sub.go", 47, "init"),
        Frame("/home/u/go/pkg/mod/github.com/spf13/cobra@v1.6.0/command.go", 1223, "AddCommand"))


def test_gdb_and_sanitizer_backtraces_innermost_last() -> None:
    gdb = ("#0  0x00005555555551a9 in parse_value (p=0x0) at src/parse.c:51\n"
           "#1  0x0000555555555200 in ns::Reader::read () at src/read.cc:12\n#2  main () at src/main.c:30\n")
    assert find_frames(gdb) == (Frame("src/main.c", 30, "main"), Frame("src/read.cc", 12, "read"),
                                Frame("src/parse.c", 51, "parse_value"))
    asan = ("==1==ERROR: AddressSanitizer: heap-buffer-overflow\n"
            "    #0 0x563f3b5a7aa9 in Vector_compact /home/c/htop/Vector.c:295:7\n"
            "    #1 0x563f3b57816a in ProcessList_scan /home/c/htop/ProcessList.c:500:4\n")
    assert find_frames(asan) == (Frame("/home/c/htop/ProcessList.c", 500, "ProcessList_scan"),
                                 Frame("/home/c/htop/Vector.c", 295, "Vector_compact"))


def test_rust_backtrace_names_functions_innermost_last() -> None:
    text = ("stack backtrace:\n   0: rust_begin_unwind\n             at /rustc/abc/library/std/src/panicking.rs:645:5\n"
            "   1: bat::printer::InteractivePrinter::print_line::{{closure}}\n             at ./src/printer.rs:412:9\n"
            "   2: bat::main\n             at ./src/bin/bat/main.rs:30:5\n")
    assert find_frames(text) == (
        Frame("./src/bin/bat/main.rs", 30, "main"), Frame("./src/printer.rs", 412, "print_line"),
        Frame("/rustc/abc/library/std/src/panicking.rs", 645, "rust_begin_unwind"))


def test_separate_traces_are_each_turned_round_in_place() -> None:
    text = ("first:\n    at a (x/a.js:1:1)\n    at b (x/b.js:2:1)\nthen in prose src/c.ts:3 and\n"
            "    at d (x/d.js:4:1)\n    at e (x/e.js:5:1)\n")
    assert [f.path for f in find_frames(text)] == ["x/b.js", "x/a.js", "src/c.ts", "x/e.js", "x/d.js"]


def test_prose_numbers_and_versions_are_not_locations() -> None:
    assert find_frames("bat 0.15.4 on Linux 5.8.9, see issue #3073 at 10:30") == ()


def test_repository_links_name_files_and_anchored_lines() -> None:
    text = ("see https://github.com/tokio-rs/tracing/blob/master/tracing-subscriber/src/filter/"
            "layer_filters.rs#L379 and https://github.com/o/r/blob/v1.2/src/lib.rs")
    assert linked_paths(text) == ["tracing-subscriber/src/filter/layer_filters.rs", "src/lib.rs"]
    assert find_frames(text) == (Frame("tracing-subscriber/src/filter/layer_filters.rs", 379, ""),)
