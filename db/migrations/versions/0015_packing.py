"""packing bench: units scanned so far per order, fetched label files and when they were printed

``pack_progress`` keeps the scan-to-pack count on the server (a reload or a second tablet sees
it); ``label_files`` caches each purchased label's file for batch printing, with who printed
it last and when.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 17:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pack_progress",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.Column("updated_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_pack_progress_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_pack_progress_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_pack_progress")),
    )
    op.create_index(op.f("ix_pack_progress_account_id"), "pack_progress", ["account_id"], unique=False)
    op.create_table(
        "label_files",
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("printed_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("printed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_label_files_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_label_files_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_label_files")),
    )
    op.create_index(op.f("ix_label_files_account_id"), "label_files", ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_label_files_account_id"), table_name="label_files")
    op.drop_table("label_files")
    op.drop_index(op.f("ix_pack_progress_account_id"), table_name="pack_progress")
    op.drop_table("pack_progress")
