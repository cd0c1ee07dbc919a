"""change notifications: Postgres announces key-ring and client changes with NOTIFY

Triggers on `signing_keys` and `clients` send `pg_notify('issuer_changes', …)` from the
transaction that makes the change, so every writer (the admin API, the CLI, the scheduler,
an operator's own SQL) is heard, and only once the change is committed. Payloads: `keys`,
or `client <client_id>`. Each issuer process LISTENs (`issuer.store.changes`) and reloads
its key ring or forgets the cached client at once; polling stays as the fallback. SQLite
has no NOTIFY: nothing to do there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 19:15:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "issuer_changes"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Identical notifications of one transaction are delivered once: a rotation that
    # changes three rows announces `keys` once.
    op.execute(
        f"""
        CREATE FUNCTION issuer_announce_keys() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', 'keys');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION issuer_announce_client() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM pg_notify('{CHANNEL}', 'client ' || OLD.client_id);
            ELSE
                PERFORM pg_notify('{CHANNEL}', 'client ' || NEW.client_id);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER issuer_signing_keys_changed AFTER INSERT OR UPDATE OR DELETE "
        "ON signing_keys FOR EACH STATEMENT EXECUTE FUNCTION issuer_announce_keys()"
    )
    op.execute(
        "CREATE TRIGGER issuer_clients_changed AFTER INSERT OR UPDATE OR DELETE "
        "ON clients FOR EACH ROW EXECUTE FUNCTION issuer_announce_client()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS issuer_clients_changed ON clients")
    op.execute("DROP TRIGGER IF EXISTS issuer_signing_keys_changed ON signing_keys")
    op.execute("DROP FUNCTION IF EXISTS issuer_announce_client()")
    op.execute("DROP FUNCTION IF EXISTS issuer_announce_keys()")
