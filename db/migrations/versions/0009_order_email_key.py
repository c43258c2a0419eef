"""orders.email holds the address as Waybill matches it: trimmed and lower-cased

The order's own data keeps the address as the customer typed it; the column is what
history (an earlier order of the same customer) and privacy requests look up, through its
index. Downgrade leaves the addresses as they are (the typed case is in the order's data).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 09:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE orders SET email = lower(trim(email)) WHERE email IS NOT NULL")


def downgrade() -> None:
    pass
