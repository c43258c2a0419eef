"""The drills' checker: every order placed, counted AT THE PLATFORMS (never in Waybill's database).

For each order placed (``drills.world.Placed``) and what the simulators hold afterwards
(``World.observe()``):

- ``orders``: the order reached its final state (Shopify: fulfilled; WooCommerce: completed)
  with one tracking number per parcel written back. Lost: an order that did not.
- ``fulfilments``: at most one Shopify fulfilment per parcel (an order of two parcels is
  fulfilled parcel by parcel, each with its tracking number; WooCommerce's completion is a
  status: it cannot happen twice). Duplicate: a fulfilment beyond the parcels.
- ``labels``: per parcel exactly one label bought at EasyPost. Lost: parcels without one;
  duplicates: a second label on a shipment, or labelled shipments beyond the parcels.
- ``tracking``: every tracking number written back belongs to a label bought and is written
  once, on one order. Duplicates: a number written twice; numbers of no label count too.
- ``refunds``: as many as the drill expects per order (``refunds``, default 0); more are duplicates.
- ``stock``: every channel's final level per SKU equals the starting stock less everything the
  merchant sold on both channels. Lower: a double decrement (duplicate); higher: a stock write
  lost.

:func:`check` returns a :class:`Report`; ``Report.line()`` is ``lost=<n> duplicates=<n>`` and
the per-kind detail (a drill may note kinds of its own: ``receivers``, ``dead_letters``);
:meth:`Report.raise_if_failed` raises :class:`DrillFailed`.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from drills._platforms import STOCK
from drills.world import Placed

KINDS = ("orders", "fulfilments", "labels", "tracking", "refunds", "stock")


class DrillFailed(AssertionError):
    """A drill found an order lost or a side effect done twice."""


@dataclass
class Report:
    lost: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    duplicates: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    problems: list[str] = field(default_factory=list)

    @property
    def total_lost(self) -> int:
        return sum(self.lost.values())

    @property
    def total_duplicates(self) -> int:
        return sum(self.duplicates.values())

    @property
    def ok(self) -> bool:
        return self.total_lost == 0 and self.total_duplicates == 0

    def line(self) -> str:
        """``lost=<n> duplicates=<n>`` then each kind that is not zero (``lost_labels=1``)."""
        detail = [f"lost_{k}={n}" for k, n in self.lost.items() if n]
        detail += [f"dup_{k}={n}" for k, n in self.duplicates.items() if n]
        return " ".join([f"lost={self.total_lost}", f"duplicates={self.total_duplicates}", *detail])

    def raise_if_failed(self, drill: str) -> None:
        if not self.ok:
            raise DrillFailed(f"{drill}: {self.line()}: " + "; ".join(self.problems[:10]))

    def note(self, kind: str, lost: int = 0, duplicates: int = 0, why: str = "") -> None:
        self.lost[kind] = self.lost.get(kind, 0) + max(0, lost)
        self.duplicates[kind] = self.duplicates.get(kind, 0) + max(0, duplicates)
        if (lost > 0 or duplicates > 0) and why:
            self.problems.append(why)


def _order(observed: dict[str, Any], p: Placed) -> dict[str, Any] | None:
    orders = observed[p.platform][p.merchant]["orders"]
    found: dict[str, Any] | None = orders.get(p.order_id, orders.get(str(p.order_id)))
    return found


def _finished(order: dict[str, Any] | None, parcels: int) -> bool:
    return order is not None and order["fulfilments"] >= 1 and len(set(order["tracking"])) >= parcels


def unfinished(placed: Iterable[Placed], observed: dict[str, Any]) -> list[Placed]:
    """The orders of ``placed`` not yet in their final state at the platforms."""
    return [p for p in placed if not _finished(_order(observed, p), p.parcels)]


def check(placed: list[Placed], observed: dict[str, Any], refunds: int = 0, stock: int = STOCK) -> Report:
    """Every order of ``placed`` against what the platforms hold (``observed``)."""
    report = Report()
    labels = {sid: (n, code) for sid, (n, code) in observed["labels"].items()}
    codes = {code for n, code in labels.values() if n and code}
    written: collections.Counter[str] = collections.Counter()
    for p in placed:
        order = _order(observed, p)
        where = f"{p.platform} merchant {p.merchant} order {p.order_id}"
        if not _finished(order, p.parcels):
            report.note("orders", lost=1, why=f"{where} not finished: {order}")
        if order is None:
            continue
        extra = order["fulfilments"] - p.parcels  # Waybill may fulfil parcel by parcel
        report.note("fulfilments", duplicates=extra, why=f"{where}: {order['fulfilments']} fulfilments")
        written.update(order["tracking"])
        distinct = len(set(order["tracking"]))
        report.note("tracking", duplicates=distinct - p.parcels, why=f"{where}: {distinct} tracking numbers")
        report.note(
            "refunds", duplicates=order["refunds"] - refunds, why=f"{where}: {order['refunds']} refunds"
        )
    parcels = sum(p.parcels for p in placed)
    labelled = sum(1 for n, _ in labels.values() if n >= 1)
    again = sum(n - 1 for n, _ in labels.values() if n > 1)
    report.note("labels", lost=parcels - labelled, why=f"{labelled} shipments labelled for {parcels} parcels")
    report.note("labels", duplicates=again + labelled - parcels, why=f"{again} labels bought again")
    twice = sum(n - 1 for n in written.values() if n > 1)
    report.note("tracking", duplicates=twice, why=f"{twice} tracking numbers written more than once")
    foreign = [c for c in written if c not in codes]
    report.note("tracking", duplicates=len(foreign), why=f"tracking numbers of no label: {foreign[:3]}")
    _check_stock(report, placed, observed, stock)
    return report


def expected_levels(placed: Iterable[Placed], merchants: int, stock: int = STOCK) -> list[dict[str, int]]:
    """Per merchant, per SKU: the stock left once everything placed on either channel is sold."""
    sold: list[collections.Counter[str]] = [collections.Counter() for _ in range(merchants)]
    for p in placed:
        for sku, qty in p.lines:
            sold[p.merchant][sku] += qty
    return [{sku: stock - n for sku, n in counts.items()} for counts in sold]


def _check_stock(report: Report, placed: list[Placed], observed: dict[str, Any], stock: int) -> None:
    merchants = len(observed["shopify"])
    for m, expected in enumerate(expected_levels(placed, merchants, stock)):
        for platform in ("shopify", "woocommerce"):
            levels = observed[platform][m]["levels"]
            for sku, want in expected.items():
                have = levels.get(sku)
                if have is None or have == want:
                    continue
                where = f"{platform} merchant {m} {sku}: level {have}, expected {want}"
                report.note("stock", lost=have - want, duplicates=want - have, why=where)
