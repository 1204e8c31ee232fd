"""schemathesis hooks for test_http_fuzz (loaded by the CLI through SCHEMATHESIS_HOOKS).

The run authenticates with one admin key; a fuzzer that revokes or rotates that key locks
itself out and tests nothing after. Every other key, including those the run creates, is fair game.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

NOT_A_KEY = "000000000000"


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Point revoke/rotate of the caller's own key at a key that does not exist (404)."""
    own = os.environ.get("PRISM_FUZZ_KEY_ID")
    if own and (case.path_parameters or {}).get("key_id") == own:
        case.path_parameters = {**case.path_parameters, "key_id": NOT_A_KEY}
