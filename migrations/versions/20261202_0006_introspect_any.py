"""clients.introspect_any: a client that may introspect access tokens of any audience

RFC 7662 §4: introspection answers `active: true` only to a client the token was meant for
(its audience or its own client); a gateway that fronts several services is registered with
this flag. Existing clients get false: they keep introspecting their own audiences' tokens.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, not batch mode: rebuilding `clients` on SQLite would cascade-delete
# every refresh family (see 0002). SQLite adds a NOT NULL column with a constant default.


def upgrade() -> None:
    op.add_column(
        "clients",
        sa.Column("introspect_any", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("clients", "introspect_any")
