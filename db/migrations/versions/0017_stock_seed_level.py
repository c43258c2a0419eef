"""stock ledger: stock_items.seeded_store_id, seeded_level_at and seeded_out, the channel level
that seeded an item's on hand (the store it was read from, the platform's time of that level, and
the units open orders had out of it), so an order in flight at the import counts once

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stock_items") as batch:
        batch.add_column(sa.Column("seeded_store_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("seeded_level_at", db.models.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("seeded_out", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_stock_items_seeded_store_id_stores"),
            "stores",
            ["seeded_store_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("stock_items") as batch:
        batch.drop_constraint(op.f("fk_stock_items_seeded_store_id_stores"), type_="foreignkey")
        batch.drop_column("seeded_out")
        batch.drop_column("seeded_level_at")
        batch.drop_column("seeded_store_id")
