"""Scope: roles are presets of actions, and one credential covers another only within its own rights."""

from __future__ import annotations

import pytest

from prism.errors import InputError
from prism.serve.http.scopes import ACTIONS, ROLE_ACTIONS, Scope, parse_actions, role_for

EVERYTHING = frozenset(ACTIONS)


def test_roles_are_nested_presets_and_the_smallest_preset_names_a_set() -> None:
    assert ROLE_ACTIONS["reader"] < ROLE_ACTIONS["writer"] < ROLE_ACTIONS["admin"] == EVERYTHING
    assert role_for({"search"}) == "reader"
    assert role_for({"search", "index.write"}) == "writer"
    assert role_for({"metrics.read"}) == "admin"


def test_parse_actions_accepts_commas_and_refuses_unknown_or_none() -> None:
    assert parse_actions(["search,context", "code.read"]) == {"search", "context", "code.read"}
    with pytest.raises(InputError, match="admin"):
        parse_actions(["search", "admin"])
    with pytest.raises(InputError, match="at least one"):
        parse_actions([" , "])


@pytest.mark.parametrize(("holder", "target", "reason"), [
    (Scope(ROLE_ACTIONS["writer"], ("*",), None), Scope(EVERYTHING, ("*",), None), "keys.manage"),
    (Scope(EVERYTHING, ("up",), None), Scope(EVERYTHING, ("*",), None), "project"),
    (Scope(EVERYTHING, ("up",), None), Scope(EVERYTHING, ("up", "down"), None), "down"),
    (Scope(EVERYTHING, ("*",), 2000.0), Scope(EVERYTHING, ("*",), None), "outlive"),
    (Scope(EVERYTHING, ("*",), 2000.0), Scope(EVERYTHING, ("*",), 2001.0), "outlive"),
])
def test_a_credential_never_covers_more_than_itself(holder: Scope, target: Scope, reason: str) -> None:
    shortfall = holder.shortfall(target)
    assert shortfall is not None and reason in shortfall


def test_a_credential_covers_itself_and_anything_within() -> None:
    admin = Scope(EVERYTHING, ("*",), None)
    scoped = Scope(EVERYTHING, ("up",), 2000.0)
    assert admin.shortfall(admin) is None
    assert admin.shortfall(scoped) is None
    assert scoped.shortfall(Scope(frozenset({"search"}), ("up",), 1999.0)) is None
    assert admin.full_admin and not scoped.full_admin
    assert not Scope(ROLE_ACTIONS["writer"], ("*",), None).full_admin


def test_an_admin_key_stored_before_ask_is_still_an_admin_but_cannot_grant_ask() -> None:
    old_admin = Scope(EVERYTHING - {"ask"}, ("*",), None)  # what migration 2 stored for role admin
    assert old_admin.full_admin  # the last-admin rule still protects it
    assert old_admin.shortfall(Scope(frozenset({"search", "ask"}), ("*",), None)) == "it lacks the action(s) ask"
    assert "ask" in ROLE_ACTIONS["admin"] and "ask" not in ROLE_ACTIONS["writer"]
    assert role_for({"search", "ask"}) == "admin"  # the rate bucket of the smallest preset holding it
