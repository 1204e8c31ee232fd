"""Scope: what a credential may do — actions × projects × expiry — and when one credential covers another.

Every route needs one action (`search`, `keys.manage`, …). The three roles are presets of
actions, so keys made before actions existed keep exactly their rights. A credential may
create, rotate, revoke or edit only a credential it covers: no action it lacks, no project
outside its own, no lifetime beyond its own expiry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from prism.errors import InputError
from prism.serve.http.settings import ROLES, Role

Action = Literal["projects.read", "search", "context", "code.read", "index.write", "projects.manage",
                 "keys.manage", "usage.read", "metrics.read", "audit.read", "ask"]
ACTIONS: tuple[Action, ...] = get_args(Action)
ALL_PROJECTS = "*"
# Spends model budget. Only the admin preset holds it; keys stored before it existed keep their
# stored actions (migration 2), so an old key has it only if it is given by name.
SPENDING: frozenset[Action] = frozenset({"ask"})
# Every action but the spending ones: what a full admin holds (the last-admin rule, token revocation).
ADMINISTRATION: frozenset[Action] = frozenset(ACTIONS) - SPENDING

_READ: frozenset[Action] = frozenset({"projects.read", "search", "context", "code.read"})
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    "reader": _READ,
    "writer": _READ | {"index.write"},
    "admin": frozenset(ACTIONS),
}


def parse_actions(values: Iterable[str]) -> frozenset[Action]:
    """Action names (commas allowed) → a set, or InputError naming the unknown ones."""
    names = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(names - set(ACTIONS))
    if unknown:
        raise InputError(f"Unknown action(s): {', '.join(unknown)}.", hint=f"Use {', '.join(ACTIONS)}.",
                         value=unknown[0])
    if not names:
        raise InputError("A key needs at least one action.", hint=f"Use {', '.join(ACTIONS)}, or a --role.")
    return frozenset(names)  # type: ignore[arg-type]  # checked against ACTIONS above


def role_for(actions: Iterable[str]) -> Role:
    """The smallest role whose preset holds these actions (it picks the rate bucket)."""
    wanted = set(actions)
    return next(role for role in ROLES if wanted <= ROLE_ACTIONS[role])


def sorted_actions(actions: Iterable[str]) -> list[str]:
    """Actions in the order of ACTIONS, for output that reads the same every time."""
    given = set(actions)
    return [action for action in ACTIONS if action in given]


@dataclass(frozen=True)
class Scope:
    """The rights of one credential."""

    actions: frozenset[str]
    projects: tuple[str, ...]  # ("*",) means every project, present and future
    expires_at: float | None  # None: never

    @property
    def unscoped(self) -> bool:
        return ALL_PROJECTS in self.projects

    @property
    def full_admin(self) -> bool:
        """Every administrative action on every project: what the last such key may not give away.

        `ask` spends money rather than administers, so an admin key made before it existed still counts.
        """
        return self.unscoped and self.actions >= ADMINISTRATION

    def allows_project(self, project: str) -> bool:
        return self.unscoped or project in self.projects

    def shortfall(self, other: Scope) -> str | None:
        """Why this credential does not cover `other` (None when it does)."""
        missing = sorted_actions(other.actions - self.actions)
        if missing:
            return f"it lacks the action(s) {', '.join(missing)}"
        if not self.unscoped:
            outside = [p for p in other.projects if p not in self.projects]
            if outside:
                return f"it has no access to project(s) {', '.join(outside)}"
        if self.expires_at is not None and (other.expires_at is None or other.expires_at > self.expires_at):
            return "the other credential would outlive it (set an expiry no later than its own)"
        return None
