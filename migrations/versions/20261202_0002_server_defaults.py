"""server defaults for the refresh columns that hand-written INSERTs may skip

The refresh tables are written by Core statements rendered to SQL text (the one-round-trip
login and rotation on Postgres), which bypass the models' Python-side defaults: the NOT NULL
columns that have such a default get the same default in the database.

SQLite cannot alter a default, so batch mode rebuilds the table; dropping the old
refresh_families would cascade-delete every refresh token (foreign keys are on, and cannot
be switched off inside the migration's transaction), so the tokens are kept aside and put
back.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each is a NOT NULL Text column with the Python-side default "".
COLUMNS = {"refresh_families": ("scope", "audience"), "refresh_tokens": ("scope",)}

KEEP_TOKENS = """
CREATE TEMPORARY TABLE kept_refresh_tokens AS
SELECT jti, family_id, scope, issued_at, expires_at, used_at, successor_jti FROM refresh_tokens
"""
RESTORE_TOKENS = """
INSERT INTO refresh_tokens (jti, family_id, scope, issued_at, expires_at, used_at, successor_jti)
SELECT jti, family_id, scope, issued_at, expires_at, used_at, successor_jti
FROM kept_refresh_tokens
"""


def _set_defaults(default: str | None) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(KEEP_TOKENS)
    for table, columns in COLUMNS.items():  # the families first: their rebuild empties tokens
        with op.batch_alter_table(table) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column, existing_type=sa.Text(), existing_nullable=False, server_default=default
                )
    if sqlite:
        op.execute("DELETE FROM refresh_tokens")  # none are left; this makes it certain
        op.execute(RESTORE_TOKENS)
        op.execute("DROP TABLE kept_refresh_tokens")


def upgrade() -> None:
    _set_defaults("")


def downgrade() -> None:
    _set_defaults(None)
