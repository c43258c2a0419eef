"""orders: search text and destination country for the console's orders grid

The grid searches names, e-mails and SKUs and filters by destination; reading them out of
each order's JSON meant parsing every order of the account per page. ``orders.search``
(lower-cased number, e-mails, names, SKUs) and ``orders.ship_country`` are kept from the
order's data on every write (``db.models.order_search``); existing orders are filled here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 17:45:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 1000
MAX_SEARCH = 2000


def _search(number: str | None, email: str | None, data: dict[str, Any] | None) -> tuple[str, str | None]:
    # A copy of db.models.order_search as it was when this migration was written.
    data = data or {}
    parts: list[Any] = [number, email, data.get("email")]
    for key in ("shipping_address", "billing_address"):
        address = data.get(key) or {}
        parts += [address.get("name"), address.get("company")]
    parts += [item.get("sku") for item in data.get("line_items") or [] if isinstance(item, dict)]
    seen: list[str] = []
    for part in parts:
        text = " ".join(str(part).lower().split()) if part else ""
        if text and text not in seen:
            seen.append(text)
    country = str((data.get("shipping_address") or {}).get("country_code") or "").strip().upper()
    return " | ".join(seen)[:MAX_SEARCH], (country[:2] or None)


def upgrade() -> None:
    op.add_column("orders", sa.Column("search", sa.Text(), nullable=True))
    op.add_column("orders", sa.Column("ship_country", sa.String(length=2), nullable=True))
    op.create_index(
        "ix_orders_account_country", "orders", ["account_id", "ship_country", "created_at"], unique=False
    )
    orders = sa.table(
        "orders",
        sa.column("id", sa.BigInteger()),
        sa.column("number", sa.String()),
        sa.column("email", sa.String()),
        sa.column("data", sa.JSON()),
        sa.column("search", sa.Text()),
        sa.column("ship_country", sa.String()),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(orders.c.id, orders.c.number, orders.c.email, orders.c.data)
            .where(orders.c.id > last)
            .order_by(orders.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for order_id, number, email, data in rows:
            search, country = _search(number, email, data)
            bind.execute(
                orders.update().where(orders.c.id == order_id).values(search=search, ship_country=country)
            )
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_orders_account_country", table_name="orders")
    op.drop_column("orders", "ship_country")
    op.drop_column("orders", "search")
