"""The drills' checker (drills/check.py) on hand-made platform states: it must see every kind
of loss and duplicate, and nothing in a clean state."""

from __future__ import annotations

import copy
from typing import Any

from drills.check import check, unfinished
from drills.world import Placed

STOCK = 100
PLACED = [
    Placed(0, "shopify", 11, 1, (("BOOK", 2),)),
    Placed(0, "woocommerce", 21, 2, (("CRATE", 2),)),
]


def clean() -> dict[str, Any]:
    """What the platforms hold when everything went right: one label per parcel, its number
    written back once, both channels at stock less all sold (4 units between them)."""
    levels = {"BOOK": STOCK - 2, "CRATE": STOCK - 2}
    return {
        "shopify": [{"orders": {11: {"fulfilments": 1, "tracking": ["T1"], "refunds": 0}}, "levels": levels}],
        "woocommerce": [
            {
                "orders": {21: {"fulfilments": 1, "tracking": ["T2", "T3"], "refunds": 0}},
                "levels": dict(levels),
            }
        ],
        "labels": {"shp_1": [1, "T1"], "shp_2": [1, "T2"], "shp_3": [1, "T3"]},
        "webhooks": {},
    }


def test_a_clean_state_passes() -> None:
    report = check(PLACED, clean(), stock=STOCK)
    assert report.ok, report.line()
    assert report.line() == "lost=0 duplicates=0"
    assert unfinished(PLACED, clean()) == []


def test_a_second_label_for_a_parcel_is_a_duplicate() -> None:
    state = clean()
    state["labels"]["shp_2"][0] = 2
    report = check(PLACED, state, stock=STOCK)
    assert (report.total_lost, report.duplicates["labels"]) == (0, 1)


def test_a_second_shipment_labelled_is_a_duplicate_and_a_missing_label_a_loss() -> None:
    more = clean()
    more["labels"]["shp_4"] = [1, "T4"]
    assert check(PLACED, more, stock=STOCK).duplicates["labels"] == 1
    fewer = clean()
    del fewer["labels"]["shp_3"]
    report = check(PLACED, fewer, stock=STOCK)
    assert report.lost["labels"] == 1
    assert report.duplicates["tracking"] == 1  # T3 written back, yet no label carries it


def test_an_order_not_done_is_lost() -> None:
    state = clean()
    state["woocommerce"][0]["orders"][21] = {"fulfilments": 0, "tracking": [], "refunds": 0}
    report = check(PLACED, state, stock=STOCK)
    assert report.lost["orders"] == 1
    assert unfinished(PLACED, state) == [PLACED[1]]
    missing = copy.deepcopy(clean())
    del missing["shopify"][0]["orders"][11]
    assert check(PLACED, missing, stock=STOCK).lost["orders"] == 1


def test_tracking_written_twice_and_fulfilments_beyond_the_parcels_are_duplicates() -> None:
    state = clean()
    state["shopify"][0]["orders"][11] = {"fulfilments": 2, "tracking": ["T1", "T1"], "refunds": 0}
    report = check(PLACED, state, stock=STOCK)
    assert report.duplicates["fulfilments"] == 1
    assert report.duplicates["tracking"] == 1


def test_an_unexpected_refund_is_a_duplicate_unless_the_drill_expects_one() -> None:
    state = clean()
    for platform in ("shopify", "woocommerce"):
        for order in state[platform][0]["orders"].values():
            order["refunds"] = 1
    assert check(PLACED, state, stock=STOCK).duplicates["refunds"] == 2
    assert check(PLACED, state, refunds=1, stock=STOCK).ok


def test_a_double_decrement_is_a_duplicate_and_a_missed_stock_write_a_loss() -> None:
    lower = clean()
    lower["woocommerce"][0]["levels"]["BOOK"] -= 2
    report = check(PLACED, lower, stock=STOCK)
    assert report.duplicates["stock"] == 2 and "woocommerce merchant 0 BOOK" in report.problems[0]
    higher = clean()
    higher["shopify"][0]["levels"]["CRATE"] += 2
    assert check(PLACED, higher, stock=STOCK).lost["stock"] == 2
