"""Pack test fixtures; the sample chunks and hits live in pack_samples.py, importable by name.

Tests import them as `from pack_samples import ...`: pytest runs with --import-mode=importlib
(no test folder on sys.path), so this folder is put on sys.path here, once, before the test
modules are imported; mypy finds the module beside the tests the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from prism.pack.tokens import Tokenizer, get_tokenizer

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def tokenizer() -> Tokenizer:
    return get_tokenizer("cl100k_base")
