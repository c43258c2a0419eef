"""catalog links keep the channel's weight and dimensions

Revision ID: 0007_weights
Revises: 0006
Create Date: 2026-12-06 04:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_weights"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grams", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("length_cm", sa.Numeric(precision=10, scale=2), nullable=True))
        batch_op.add_column(sa.Column("width_cm", sa.Numeric(precision=10, scale=2), nullable=True))
        batch_op.add_column(sa.Column("height_cm", sa.Numeric(precision=10, scale=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalog_links", schema=None) as batch_op:
        batch_op.drop_column("height_cm")
        batch_op.drop_column("width_cm")
        batch_op.drop_column("length_cm")
        batch_op.drop_column("grams")
