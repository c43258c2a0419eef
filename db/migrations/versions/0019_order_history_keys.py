"""orders: when placed, shipping address key and buyer IP, for the risk rules' history

The rules count a new order's earlier orders and the orders placed inside the velocity
window from the same e-mail, address or IP. Reading them out of each order's JSON meant
parsing up to 5,000 orders of the account per order verified, in Python. ``orders.placed_at``,
``orders.ship_key`` and ``orders.browser_ip`` are kept from the order's data on every write
(``db.models.order_history_keys``) and counted by index; existing orders are filled here.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BATCH = 1000
MAX_KEY = 300
MAX_IP = 64


def _keys(data: dict[str, Any] | None) -> tuple[datetime | None, str | None, str | None]:
    # A copy of db.models.order_history_keys as it was when this migration was written.
    data = data or {}
    try:
        placed: datetime | None = datetime.fromisoformat(str(data["created_at"]))
    except (KeyError, TypeError, ValueError):
        placed = None
    if placed is not None:
        placed = placed.astimezone(UTC) if placed.tzinfo is not None else None
    address = data.get("shipping_address") or {}
    key = None
    if address.get("line1"):
        parts = (address.get("country_code"), address.get("postal_code"), address.get("line1"))
        key = "|".join(" ".join(str(p or "").upper().replace(",", " ").split()) for p in parts)[:MAX_KEY]
    ip = str(data.get("browser_ip") or "").strip()[:MAX_IP]
    return placed, key, (ip or None)


def upgrade() -> None:
    op.add_column("orders", sa.Column("placed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("ship_key", sa.String(length=MAX_KEY), nullable=True))
    op.add_column("orders", sa.Column("browser_ip", sa.String(length=MAX_IP), nullable=True))
    op.create_index("ix_orders_account_email_placed", "orders", ["account_id", "email", "placed_at"])
    op.create_index("ix_orders_account_ship_key_placed", "orders", ["account_id", "ship_key", "placed_at"])
    op.create_index("ix_orders_account_ip_placed", "orders", ["account_id", "browser_ip", "placed_at"])
    orders = sa.table(
        "orders",
        sa.column("id", sa.BigInteger()),
        sa.column("data", sa.JSON()),
        sa.column("placed_at", sa.DateTime(timezone=True)),
        sa.column("ship_key", sa.String()),
        sa.column("browser_ip", sa.String()),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(orders.c.id, orders.c.data).where(orders.c.id > last).order_by(orders.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        for order_id, data in rows:
            placed, key, ip = _keys(data)
            bind.execute(
                orders.update().where(orders.c.id == order_id).values(placed_at=placed, ship_key=key, browser_ip=ip)
            )
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_orders_account_ip_placed", table_name="orders")
    op.drop_index("ix_orders_account_ship_key_placed", table_name="orders")
    op.drop_index("ix_orders_account_email_placed", table_name="orders")
    op.drop_column("orders", "browser_ip")
    op.drop_column("orders", "ship_key")
    op.drop_column("orders", "placed_at")
