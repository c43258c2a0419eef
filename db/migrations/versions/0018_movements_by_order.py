"""stock ledger: stock_movements indexed by order (an order's movements are read whole each
time one of its versions is applied)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 13:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_stock_movements_order_id", "stock_movements", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_stock_movements_order_id", table_name="stock_movements")
