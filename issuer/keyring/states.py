"""A signing key's states and the one table of moves between them (a written state machine).

    next ──▶ active ──▶ retired ──▶ (deleted once past unpublish_after)
      │         │          │
      └─────────┴──────────┴──▶ revoked   (compromise: never published, never decrypted)

A key is born `next` (pre-published, not signing) or, for an alg's very first key or a
replacement for a revoked active key, `active`. Every state change goes through
`issuer.store.signing_keys.set_state`, which refuses a move this table does not allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

__all__ = ["BORN_AS", "TRANSITIONS", "IllegalTransition", "KeyState"]


class KeyState(StrEnum):
    NEXT = "next"
    """In the JWKS ahead of use, so that caches know it before it signs."""
    ACTIVE = "active"
    """Signs (one per alg) and verifies."""
    RETIRED = "retired"
    """Verifies and stays published until every token it signed has expired."""
    REVOKED = "revoked"
    """Compromised: out of the JWKS at once, verifies nothing."""

    def is_published(self, *, unpublish_after: datetime | None, now: datetime) -> bool:
        """Whether a key in this state belongs in the JWKS at `now`."""
        if self is KeyState.RETIRED:
            return unpublish_after is None or now < unpublish_after
        return self in (KeyState.NEXT, KeyState.ACTIVE)

    @property
    def verifies(self) -> bool:
        """Whether our own tokens signed by a key in this state are still accepted."""
        return self in (KeyState.ACTIVE, KeyState.RETIRED)

    def can_become(self, target: KeyState) -> bool:
        return target in TRANSITIONS[self]


TRANSITIONS: Mapping[KeyState, frozenset[KeyState]] = {
    KeyState.NEXT: frozenset({KeyState.ACTIVE, KeyState.REVOKED}),
    KeyState.ACTIVE: frozenset({KeyState.RETIRED, KeyState.REVOKED}),
    KeyState.RETIRED: frozenset({KeyState.REVOKED}),
    KeyState.REVOKED: frozenset(),
}

BORN_AS = frozenset({KeyState.NEXT, KeyState.ACTIVE})


class IllegalTransition(ValueError):
    """A move the table does not allow: a bug in the caller, never an operator's mistake."""

    def __init__(self, current: KeyState, target: KeyState) -> None:
        super().__init__(f"a key that is {current} cannot become {target}")
        self.current = current
        self.target = target
