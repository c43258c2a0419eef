"""The returns portal's order form: the order's lines as the customer sees them, and what a
submitted form asks for (``core.returns.Ask``), checked before anything is written.

Fields are numbered by the line's place in the order (``qty-0``, ``reason-0``, ``note-0``,
``photo-0``, ``exchange-0``), never by a platform id from the browser. ``resolution`` is
``refund`` or ``exchange`` (then every chosen line names a variant of the same product);
``key`` is the form's own random key, so a form sent twice asks once.

Photos are JPEG, PNG or WebP files (recognised by their first bytes, at most
``MAX_PHOTO_BYTES``), kept under ``<var_dir>/returns/photos/`` by a random name that the
return item records (``ReturnItem.photo_url``: ``photos/<name>``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.returns import Ask
from db.models import CatalogLink, Order, Return, ReturnItem

if TYPE_CHECKING:
    from werkzeug.datastructures import FileStorage

    from core.returns import ReturnPolicy
    from sync.runtime import Runtime

MAX_NOTE = 1000  # characters
MAX_PHOTO_BYTES = 1_500_000  # under the app's request size limit
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
NOT_COUNTED = ("refused", "closed")  # returns whose units may be asked again
PHOTO_KINDS = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"RIFF", "webp"))


@dataclass(frozen=True)
class FormLine:
    index: int
    line_id: str
    sku: str | None
    title: str
    bought: int
    returned: int
    unit_price: Decimal
    currency: str
    variants: tuple[tuple[str, str], ...]  # (sku, title) of the same product, for an exchange

    @property
    def remaining(self) -> int:
        return max(self.bought - self.returned, 0)


def reason_words(reason: str) -> str:
    return reason.replace("_", " ").capitalize()


def _returned(s: Session, order_id: int) -> dict[str, int]:
    rows = s.execute(
        select(ReturnItem.line_id, func.sum(ReturnItem.quantity))
        .join(Return, Return.id == ReturnItem.return_id)
        .where(Return.order_id == order_id, Return.state.not_in(NOT_COUNTED))
        .group_by(ReturnItem.line_id)
    ).all()
    return {str(line_id): int(total or 0) for line_id, total in rows}


def _variants(s: Session, store_id: int, product_id: Any, own_sku: str | None) -> tuple[tuple[str, str], ...]:
    if product_id is None or not str(product_id).isdigit():
        return ()
    links = s.scalars(
        select(CatalogLink)
        .where(CatalogLink.store_id == store_id, CatalogLink.product_id == int(str(product_id)))
        .order_by(CatalogLink.sku)
    ).all()
    return tuple((link.sku, link.title or link.sku) for link in links if link.sku != own_sku)


def form_lines(s: Session, order: Order) -> list[FormLine]:
    """The order's lines with what was bought and what other returns already take back."""
    returned = _returned(s, order.id)
    lines = []
    for index, item in enumerate((order.data or {}).get("line_items") or []):
        price = item.get("unit_price") or {}
        lines.append(
            FormLine(
                index=index,
                line_id=str(item["line_id"]),
                sku=item.get("sku"),
                title=str(item.get("title") or item.get("sku") or "Item"),
                bought=int(item.get("quantity") or 0),
                returned=returned.get(str(item["line_id"]), 0),
                unit_price=Decimal(str(price.get("amount", "0"))),
                currency=str(price.get("currency", "")),
                variants=_variants(s, order.store_id, item.get("product_id"), item.get("sku")),
            )
        )
    return lines


def _quantity(text: str, line: FormLine) -> int | str:
    text = (text or "0").strip()
    if not text.isascii() or not text.isdigit() or int(text) > line.bought:
        return f"{line.title}: choose how many to return (0 to {line.remaining})."
    return int(text)


def _ask(
    form: Mapping[str, str], photo: bool, line: FormLine, policy: ReturnPolicy, exchange: bool
) -> Ask | str:
    """What the customer asks for this line, or what is wrong with the form."""
    quantity = _quantity(form.get(f"qty-{line.index}", "0"), line)
    if isinstance(quantity, str) or quantity == 0:
        return quantity if isinstance(quantity, str) else ""
    reason = form.get(f"reason-{line.index}", "")
    if reason not in policy.reasons:
        return f"{line.title}: choose a reason."
    note = form.get(f"note-{line.index}", "").strip()
    if len(note) > MAX_NOTE:
        return f"{line.title}: the note is longer than {MAX_NOTE} characters."
    swap = form.get(f"exchange-{line.index}", "") if exchange else ""
    if exchange and swap not in {sku for sku, _ in line.variants}:
        return f"{line.title}: choose the variant you want instead."
    return Ask(
        line_id=line.line_id,
        quantity=quantity,
        reason=reason,
        note=note,
        photo=photo,
        exchange_sku=swap or None,
    )


def read_asks(
    form: Mapping[str, str],
    files: Mapping[str, FileStorage],
    lines: Sequence[FormLine],
    policy: ReturnPolicy,
) -> tuple[list[Ask], str, str, list[str]]:
    """(asks, resolution, form key, problems) from the submitted form; problems empty when it can be asked."""
    key = form.get("key", "")
    problems: list[str] = []
    if not KEY_RE.match(key):
        key = secrets.token_urlsafe(16)
        problems.append("The form was incomplete. Please fill it in again.")
    resolution = form.get("resolution", "refund")
    if resolution not in ("refund", "exchange") or (resolution == "exchange" and not policy.exchange_allowed):
        problems.append("Choose a refund" + (" or an exchange." if policy.exchange_allowed else "."))
        resolution = "refund"
    asks: list[Ask] = []
    for line in lines:
        got = _ask(form, _photo_given(files, line.index), line, policy, resolution == "exchange")
        if isinstance(got, str):
            problems += [got] if got else []
        else:
            asks.append(got)
    if not asks and not problems:
        problems.append("Choose at least one item to return.")
    return asks, resolution, key, problems


def _photo_kind(head: bytes) -> str | None:
    for magic, ext in PHOTO_KINDS:
        if head.startswith(magic) and (ext != "webp" or head[8:12] == b"WEBP"):
            return ext
    return None


def save_photos(
    rt: Runtime, files: Mapping[str, FileStorage], lines: Sequence[FormLine], asks: Sequence[Ask]
) -> dict[str, str] | str:
    """Keep each asked line's photo; {line id: "photos/<name>"}, or what is wrong with one."""
    by_line = {line.line_id: line for line in lines}
    kept: dict[str, tuple[bytes, str]] = {}
    for ask in asks:
        upload = files.get(f"photo-{by_line[ask.line_id].index}")
        if upload is None or not upload.filename:
            continue
        data = upload.stream.read(MAX_PHOTO_BYTES + 1)
        kind = _photo_kind(data[:16])
        if kind is None or len(data) > MAX_PHOTO_BYTES:
            return f"{by_line[ask.line_id].title}: the photo must be a JPEG, PNG or WebP image under 1.5 MB."
        kept[ask.line_id] = (data, kind)
    folder = Path(rt.settings.var_dir) / "returns" / "photos"
    saved: dict[str, str] = {}
    for line_id, (data, kind) in kept.items():
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{secrets.token_hex(16)}.{kind}"
        (folder / name).write_bytes(data)
        saved[line_id] = f"photos/{name}"
    return saved


def _photo_given(files: Mapping[str, FileStorage], index: int) -> bool:
    upload = files.get(f"photo-{index}")
    return upload is not None and bool(upload.filename)


def forget_photos(rt: Runtime, photos: Mapping[str, str]) -> None:
    """Delete photos kept for a request that was not made."""
    folder = Path(rt.settings.var_dir) / "returns"
    for name in photos.values():
        (folder / name).unlink(missing_ok=True)


def with_photos(asks: Sequence[Ask], photos: Mapping[str, str]) -> list[dict[str, Any]]:
    """The asks as the flow takes them (``sync.returns.requests.asked``), each with its kept photo."""
    return [
        {
            "line_id": a.line_id,
            "quantity": a.quantity,
            "reason": a.reason,
            "note": a.note,
            "photo_url": photos.get(a.line_id),
            "exchange_sku": a.exchange_sku,
        }
        for a in asks
    ]
