"""Batch label printing: the purchased labels of orders, in the order of their pick list,
merged into one 4x6 PDF (:mod:`core.label_sheets`), and marking them printed.

Label files live where the label points (EasyPost's ``label_url``). Each is fetched once,
with short timeouts and a deadline for the whole batch, and kept (``LabelFile``): a reprint
or a later batch reads the kept copy and calls nobody. A file that cannot be fetched in time
makes the batch fail with a clear reason, and what was fetched is kept for the next try.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import requests
import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.easypost.label_files import fetch_label_file
from core.errors import OrderNotFound, Permanent, Retryable
from core.label_sheets import LabelFileError, kind_of, merge_labels
from db.models import LabelFile, Shipment, utcnow
from db.models import Order as OrderRow
from db.timeline import record
from sync.shipping.common import ShippingError, ShippingInputError
from sync.shipping.packing import pick_list_for

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.labels")

PRINTABLE = ("purchased", "fulfilled")  # a label bought and not voided
DEADLINE_S = 20.0  # every file of one batch (one file: connectors.easypost.label_files)
MAX_LABELS = 500


class LabelFetchError(ShippingError):
    """A label file that could not be fetched (now) or is not printable."""


def batch(
    rt: Runtime, account_id: int, order_ids: Sequence[int] = (), shipment_ids: Sequence[int] = ()
) -> list[int]:
    """The printable shipments of ``order_ids`` and ``shipment_ids`` (the account's only; another's
    is not found), in the order of the orders' pick list, then by parcel."""
    if not order_ids and not shipment_ids:
        raise ShippingInputError("choose orders or labels to print")
    with rt.session() as s:
        chosen: list[tuple[int, int, int]] = []  # (order, package, shipment)
        if shipment_ids:
            rows = list(
                s.execute(
                    select(Shipment.id, Shipment.order_id, Shipment.package, Shipment.state).where(
                        Shipment.id.in_(set(shipment_ids)), Shipment.account_id == account_id
                    )
                )
            )
            if len(rows) < len(set(shipment_ids)):
                raise OrderNotFound("label not found")
            for sid, oid, package, state in rows:
                if state not in PRINTABLE:
                    raise ShippingError(f"shipment {sid} has no label to print ({state})")
                chosen.append((oid, package, sid))
        if order_ids:
            found = set(
                s.scalars(
                    select(OrderRow.id).where(
                        OrderRow.id.in_(set(order_ids)), OrderRow.account_id == account_id
                    )
                )
            )
            if len(found) < len(set(order_ids)):
                raise OrderNotFound("order not found")
            chosen += list(
                s.execute(
                    select(Shipment.order_id, Shipment.package, Shipment.id).where(
                        Shipment.order_id.in_(found), Shipment.state.in_(PRINTABLE)
                    )
                )
            )
    orders = list(dict.fromkeys(oid for oid, _, _ in chosen))
    if not orders:
        raise ShippingError("none of these orders has a label to print yet")
    if len(orders) > MAX_LABELS:
        raise ShippingInputError(f"at most {MAX_LABELS} orders in one batch")
    rank: dict[int, int] = {}
    for line in pick_list_for(rt, account_id, orders):
        for o in line["orders"]:
            rank.setdefault(o["id"], len(rank))
    unique = {sid: (rank.get(oid, len(rank)), oid, package) for oid, package, sid in chosen}
    return sorted(unique, key=lambda sid: unique[sid])


def document(rt: Runtime, account_id: int, shipment_ids: Sequence[int]) -> bytes:
    """One PDF of the shipments' labels in the order given, one 4x6 page each."""
    files = files_for(rt, account_id, shipment_ids)
    try:
        return merge_labels([files[sid] for sid in shipment_ids])
    except LabelFileError as exc:
        raise LabelFetchError(str(exc)) from exc


def files_for(rt: Runtime, account_id: int, shipment_ids: Sequence[int]) -> dict[int, bytes]:
    """Each shipment's label file: the kept copy, or fetched now (bounded) and kept."""
    with rt.session() as s:
        labels = {
            sid: str((label or {}).get("label_url") or "")
            for sid, label in s.execute(
                select(Shipment.id, Shipment.label).where(
                    Shipment.id.in_(list(shipment_ids)), Shipment.account_id == account_id
                )
            )
        }
        kept = {
            f.shipment_id: f
            for f in s.scalars(select(LabelFile).where(LabelFile.shipment_id.in_(list(shipment_ids))))
        }
        files = {sid: f.content for sid, f in kept.items() if f.content and f.url == labels.get(sid)}
    started = time.monotonic()
    with requests.Session() as http:
        for sid in shipment_ids:
            if sid in files:
                continue
            url = labels.get(sid, "")
            if time.monotonic() - started > DEADLINE_S:
                raise LabelFetchError("label files are slow to arrive; print again to fetch the rest")
            content = _fetch(http, sid, url)
            files[sid] = content
            _keep(rt, account_id, sid, url, content)
    return files


def _fetch(http: requests.Session, shipment_id: int, url: str) -> bytes:
    try:
        content = fetch_label_file(url, http)
    except (Retryable, Permanent) as exc:
        log.warning("labels.fetch_failed", shipment_id=shipment_id, error=str(exc)[:200])
        again = "; try again" if isinstance(exc, Retryable) else ""
        raise LabelFetchError(
            f"label file of shipment {shipment_id} could not be fetched ({exc}){again}"
        ) from exc
    kind = kind_of(content)
    if kind != "application/pdf" and not kind.startswith("image/"):
        raise LabelFetchError(f"label of shipment {shipment_id} is {kind}, not a PDF or an image")
    return content


def _keep(rt: Runtime, account_id: int, shipment_id: int, url: str, content: bytes) -> None:
    """Keep the fetched file. Two prints of the same new label at once both fetch it; the second
    to keep it finds the first's row (a unique violation) and updates it instead."""
    for attempt in (1, 2):
        try:
            with rt.session() as s:
                row = s.get(LabelFile, shipment_id, with_for_update=True)
                if row is None:
                    row = LabelFile(shipment_id=shipment_id, account_id=account_id)
                    s.add(row)
                elif row.url != url:  # a new label: not printed yet
                    row.printed_at, row.printed_by = None, None
                row.url, row.content, row.content_type, row.fetched_at = (
                    url,
                    content,
                    kind_of(content),
                    utcnow(),
                )
            return
        except IntegrityError:
            if attempt == 2:
                raise


def mark_printed(rt: Runtime, account_id: int, shipment_ids: Sequence[int], actor: str) -> int:
    """Note the shipments' labels as printed (by ``actor``, now), on each order's timeline."""
    if not shipment_ids:
        raise ShippingInputError("choose the labels that were printed")
    try:
        return _mark_printed(rt, account_id, shipment_ids, actor.strip()[:200])
    except IntegrityError:  # a print kept one of these files meanwhile: once more, over its row
        return _mark_printed(rt, account_id, shipment_ids, actor.strip()[:200])


def _mark_printed(rt: Runtime, account_id: int, shipment_ids: Sequence[int], who: str) -> int:
    with rt.session() as s:
        rows = list(
            s.execute(
                select(Shipment, LabelFile)
                .outerjoin(LabelFile, LabelFile.shipment_id == Shipment.id)
                .where(Shipment.id.in_(set(shipment_ids)), Shipment.account_id == account_id)
            )
        )
        if len(rows) < len(set(shipment_ids)):
            raise OrderNotFound("label not found")
        for sh, _ in rows:
            if sh.state not in PRINTABLE:
                raise ShippingError(f"shipment {sh.id} has no label to print ({sh.state})")
        now = utcnow()
        for sh, kept in rows:
            if kept is None:
                kept = LabelFile(
                    shipment_id=sh.id,
                    account_id=account_id,
                    url=str((sh.label or {}).get("label_url") or ""),
                    content_type="",
                    content=b"",
                )
                s.add(kept)
            kept.printed_at, kept.printed_by = now, who
            data: dict[str, Any] = {"shipment_id": sh.id, "tracking_code": sh.tracking_code}
            record(
                s, account_id, f"order:{sh.order_id}", who[:64], "label.printed", f"parcel {sh.package}", data
            )
    return len(rows)
