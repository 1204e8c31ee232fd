"""The `--json` shapes docs/cli.md documents, read back for tests: `documented()` parses the tables,
`check()` compares a real document with one (tests/e2e/test_json_shapes.py, tests/e2e/test_ask.py)."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).parents[1] / "docs" / "cli.md"
TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "number": (int, float), "string": (str,), "bool": (bool,), "array": (list,),
    "object": (dict,), "null": (type(None),),
}


def documented() -> dict[str, dict[str, tuple[str, bool]]]:
    """Section title → field path → (type, may be absent), read from docs/cli.md."""
    text = DOCS.read_text(encoding="utf-8").split("## JSON output", 1)[1]
    shapes: dict[str, dict[str, tuple[str, bool]]] = {}
    current: dict[str, tuple[str, bool]] = {}
    for line in text.splitlines():
        title = re.match(r"### (?:`prism (.+) --json`|(Errors))$", line)
        if title:
            current = shapes.setdefault(title.group(1) or "error", {})
            continue
        row = re.match(r"\| `([^`]+)` \| ([^|]+) \|", line)
        if row:
            kind = row.group(2).strip()
            current[row.group(1)] = (kind.rstrip("?"), kind.endswith("?"))
    return shapes


def check(doc: dict[str, object], shape: dict[str, tuple[str, bool]]) -> None:
    assert next(iter(doc)) == "schema_version" and doc["schema_version"] == 1
    actual: dict[str, object] = {}
    for key, value in doc.items():
        actual[key] = value
        nested = [f for f in shape if f.startswith((f"{key}.", f"{key}[]."))]
        if nested and isinstance(value, dict):
            actual.update({f"{key}.{k}": v for k, v in value.items()})
        if nested and isinstance(value, list):
            assert value, f"{key} is empty: the test cannot check its items"
            actual.update({f"{key}[].{k}": v for item in value for k, v in item.items()})
    required = {f for f, (_, optional) in shape.items() if not optional}
    assert required <= set(actual), f"documented but missing: {sorted(required - set(actual))}"
    assert set(actual) <= set(shape), f"undocumented: {sorted(set(actual) - set(shape))}"
    for field, value in actual.items():
        kinds = tuple(t for name in shape[field][0].split(" or ") for t in TYPES[name])
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        assert ok, f"{field}: {value!r} is not {shape[field][0]}"
