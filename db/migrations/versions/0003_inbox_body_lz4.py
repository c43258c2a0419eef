"""inbox body lz4

Revision ID: 0003
Revises: 0004
Create Date: 2026-11-28 07:40:00.000000

PostgreSQL compresses a webhook body (16 KB for an order) with lz4 instead of pglz:
its backend spends about half the CPU per insert, for the same size on disk. Only
new rows are compressed this way; nothing is rewritten. A no-op on SQLite, on
PostgreSQL before 14 and on servers built without lz4.

It comes after 0004, not 0002: 0004 (the inventory ledger) was merged first, and a
second child of 0002 would leave two heads. The order between the two does not matter.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0004"
branch_labels = None
depends_on = None


def _lz4_available() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    # The setting exists from PostgreSQL 14; it offers lz4 only when the server was built with it.
    query = sa.text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    return bool(bind.execute(query).scalar())


def upgrade() -> None:
    if _lz4_available():
        op.execute("ALTER TABLE inbox_events ALTER COLUMN body SET COMPRESSION lz4")


def downgrade() -> None:
    if _lz4_available():
        op.execute("ALTER TABLE inbox_events ALTER COLUMN body SET COMPRESSION default")
