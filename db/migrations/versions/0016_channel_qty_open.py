"""stock ledger: catalog_links.channel_qty_open, the units of sales made in the second of the
level we know, whose counting in that level is not known (the channel shows between
``channel_qty`` and ``channel_qty + channel_qty_open``)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_links") as batch:
        batch.add_column(sa.Column("channel_qty_open", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("catalog_links") as batch:
        batch.drop_column("channel_qty_open")
