"""The key states' one transition table, publication rule, and the store verb that obeys it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from issuer.keyring.kek import load_kek
from issuer.keyring.lifecycle import ensure_initial_keys
from issuer.keyring.states import BORN_AS, TRANSITIONS, IllegalTransition, KeyState
from issuer.settings import Settings
from issuer.store import signing_keys
from issuer.store.database import Database

NOW = datetime(2026, 12, 1, tzinfo=UTC)
NEXT, ACTIVE, RETIRED, REVOKED = KeyState


def test_the_table_allows_only_forward_moves_and_revocation_from_anywhere_live() -> None:
    allowed = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert allowed == {
        (NEXT, ACTIVE),
        (NEXT, REVOKED),
        (ACTIVE, RETIRED),
        (ACTIVE, REVOKED),
        (RETIRED, REVOKED),
    }
    assert set(TRANSITIONS) == set(KeyState)
    assert not REVOKED.can_become(NEXT) and not RETIRED.can_become(ACTIVE)
    assert BORN_AS == {NEXT, ACTIVE}


def test_published_while_usable_and_retired_keys_until_unpublish_after() -> None:
    later = NOW + timedelta(hours=1)
    assert NEXT.is_published(unpublish_after=None, now=NOW)
    assert ACTIVE.is_published(unpublish_after=None, now=NOW)
    assert RETIRED.is_published(unpublish_after=later, now=NOW)
    assert RETIRED.is_published(unpublish_after=None, now=NOW)
    assert not RETIRED.is_published(unpublish_after=later, now=later)
    assert not REVOKED.is_published(unpublish_after=None, now=NOW)
    assert [state for state in KeyState if state.verifies] == [ACTIVE, RETIRED]


async def test_the_store_refuses_a_move_the_table_does_not_allow(
    database: Database, settings: Settings
) -> None:
    await ensure_initial_keys(database, settings=settings, kek=load_kek(settings), now=NOW)
    async with database.session() as session:
        active = await signing_keys.in_state(session, "RS256", ACTIVE)
        assert active is not None
        with pytest.raises(IllegalTransition, match="a key that is active cannot become next"):
            await signing_keys.set_state(session, active.kid, expected=ACTIVE, state=NEXT)
        # An allowed move whose expected state is stale changes nothing.
        assert not await signing_keys.set_state(
            session, active.kid, expected=RETIRED, state=REVOKED
        )
        assert (await signing_keys.by_kid(session, active.kid)).state == "active"  # type: ignore[union-attr]
