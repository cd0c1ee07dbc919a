"""refresh tokens become opaque: the sessions of the JWS ones end

Refresh tokens were JWS until this revision; they are now opaque handles stored by digest
(`issuer.oauth.handles`). The JWS ones are not accepted any more: every live family is
revoked (reason "token_format"), which also ends its access tokens at the issuer's own
endpoints (`sid`), and the old refresh-token rows are deleted. Users log in again once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 12:45:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC there, as UTCDateTime does
    op.get_bind().execute(
        sa.text(
            "UPDATE refresh_families SET revoked_at = :now, revoked_reason = 'token_format' "
            "WHERE revoked_at IS NULL"
        ),
        {"now": now},
    )
    op.execute("DELETE FROM refresh_tokens")


def downgrade() -> None:
    """Nothing to restore: the ended sessions stay ended, and the digests cannot be JWS."""
