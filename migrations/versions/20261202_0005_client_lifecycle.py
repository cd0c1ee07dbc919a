"""client lifecycle: the previous secret of a rotation, accepted until an expiry

`issuer clients rotate-secret --overlap S` (and the admin API) keep the old secret's
digest for S seconds so that a client's instances can switch over. Both columns are
nullable: existing clients have no previous secret. Plain ADD/DROP COLUMN on both databases
(SQLite ≥ 3.35): a batch rebuild of `clients` would cascade-delete every refresh family.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "clients", sa.Column("previous_secret_digest", sa.LargeBinary(length=32), nullable=True)
    )
    op.add_column(
        "clients",
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("clients", "previous_secret_expires_at")
    op.drop_column("clients", "previous_secret_digest")
