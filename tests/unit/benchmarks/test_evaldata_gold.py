"""Gold functions for the multi-language eval: a patch's changed old lines mapped onto PRISM chunks."""

from __future__ import annotations

import sys
from pathlib import Path

from prism.ingest.chunk import chunk_file

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import evaldata

SOURCE = """\
struct Pool {
    size: usize,
}

impl Pool {
    fn new(size: usize) -> Pool {
        Pool { size }
    }

    fn grow(&mut self) {
        self.size += 1;
    }
}

fn helper() -> u32 {
    1
}
"""

# Replaces line 11 (inside Pool.grow) and inserts after line 16 (inside helper); a second file is
# created by the patch, so it has nothing at base and is left out.
PATCH = """\
diff --git a/src/pool.rs b/src/pool.rs
index 1111111..2222222 100644
--- a/src/pool.rs
+++ b/src/pool.rs
@@ -10,3 +10,3 @@ impl Pool {
     fn grow(&mut self) {
-        self.size += 1;
+        self.size += 2;
     }
@@ -15,3 +15,4 @@ fn helper() -> u32 {
 fn helper() -> u32 {
     1
+    + 0
 }
diff --git a/src/new.rs b/src/new.rs
new file mode 100644
--- /dev/null
+++ b/src/new.rs
@@ -0,0 +1 @@
+--- not a header
"""


def test_changed_old_lines_counts_replacements_and_insertions() -> None:
    assert evaldata.changed_old_lines(PATCH) == {"src/pool.rs": {11, 16}}


def test_gold_chunks_are_the_innermost_chunks_holding_a_changed_line() -> None:
    parsed = chunk_file("src/pool.rs", SOURCE, "rust", count_tokens=lambda t: len(t.split()))
    spans = [(c.qualified_name, c.start_line, c.end_line) for c in parsed.chunks]
    gold = evaldata.gold_chunks(evaldata.changed_old_lines(PATCH)["src/pool.rs"], spans)
    assert gold == ["Pool.grow", "helper"]


def test_gold_chunks_ignore_lines_outside_every_chunk() -> None:
    assert evaldata.gold_chunks({1, 99}, [("f", 5, 9)]) == []


def test_gold_chunks_name_a_shared_name_once() -> None:
    spans = [("operator[]", 1, 3), ("operator[]", 5, 7), ("g", 9, 9)]
    assert evaldata.gold_chunks({2, 6, 9}, spans) == ["operator[]", "g"]
