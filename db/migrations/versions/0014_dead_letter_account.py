"""dead letters name the account their job worked for; a store's newest inbound event

The console's failed-jobs page shows a merchant only their own jobs: ``dead_letters``
gets ``account_id`` (from the job's store, order, event, shipment or return), filled for
the rows already there. The stores page reads each store's last webhook:
``inbox_events`` gets an index on (store_id, received_at).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 17:40:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

OWNED_BY = {
    "store_id": "stores",
    "order_id": "orders",
    "event_id": "inbox_events",
    "shipment_id": "shipments",
    "return_id": "returns",
}


def upgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_dead_letters_account_id_accounts"),
            "accounts",
            ["account_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_dead_letters_account_state", ["account_id", "state", "failed_at"], unique=False
        )
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_store_received", ["store_id", "received_at"], unique=False)
    bind = op.get_bind()
    for row_id, raw in bind.execute(sa.text("SELECT id, kwargs FROM dead_letters")).all():
        kwargs = json.loads(raw) if isinstance(raw, str) else (raw or {})
        account = kwargs.get("account_id") if isinstance(kwargs.get("account_id"), int) else None
        for arg, table in OWNED_BY.items():
            if account is None and isinstance(kwargs.get(arg), int):
                account = bind.execute(
                    sa.text(f"SELECT account_id FROM {table} WHERE id = :id"),  # noqa: S608 (fixed names)
                    {"id": kwargs[arg]},
                ).scalar()
                break
        if account is not None:
            bind.execute(
                sa.text("UPDATE dead_letters SET account_id = :a WHERE id = :id"), {"a": account, "id": row_id}
            )


def downgrade() -> None:
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_store_received")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_dead_letters_account_state")
        batch_op.drop_constraint(batch_op.f("fk_dead_letters_account_id_accounts"), type_="foreignkey")
        batch_op.drop_column("account_id")
