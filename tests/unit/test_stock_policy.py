"""What an order takes from stock (``sync.inventory.order_quantities``) and what a channel's
stock report does to a catalog link (``sync.inventory.observe``).

Only lines with a SKU and a positive quantity are counted, per SKU however it is padded.
A report (webhook, audit, reconcile) only says "settle this link soon": it is ignored when
it is older than the level we last read or wrote, or repeats it; otherwise the newest
report is kept and the moment the first one arrived starts the settle's clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.orders import LineItem
from db.models import CatalogLink, utcnow
from sync.inventory import edit_delta, observe, order_quantities, same_second
from tests.unit.test_risk import BASE, usd

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)


def line(sku: str | None, quantity: int) -> LineItem:
    return LineItem("1", sku, "10", "20", "Tote", quantity, usd("20"), 200, True)


def test_an_order_takes_its_units_per_sku() -> None:
    lines = (line("TOTE", 2), line(" TOTE ", 3), line("MUG", 1), line("CAP", 0), line("HAT", -1))
    order = replace(BASE, line_items=(*lines, line(None, 4), line("  ", 5), line("", 6)))
    assert order_quantities(order) == {"TOTE": 5, "MUG": 1}  # no SKU, or nothing ordered: untracked
    assert order_quantities(replace(BASE, line_items=(line(None, 2),))) == {}


def link(qty: int | None = 10, at: datetime | None = T0) -> CatalogLink:
    """A link whose last known channel level is ``qty`` at ``at``, with nothing pending."""
    return CatalogLink(sku="TOTE", product_id=1, channel_qty=qty, channel_qty_at=at)


def pending(item: CatalogLink) -> tuple[int | None, datetime | None, datetime | None]:
    return item.observed_qty, item.observed_at, item.observed_received_at


def test_a_new_level_after_the_known_one_is_noted_and_due() -> None:
    item = link()
    assert observe(item, 7, T0 + timedelta(seconds=1), now=NOW) is True
    assert pending(item) == (7, T0 + timedelta(seconds=1), NOW)


def test_a_report_older_than_the_known_level_is_ignored_whatever_it_says() -> None:
    item = link()
    assert observe(item, 7, T0 - timedelta(seconds=1), now=NOW) is False
    assert pending(item) == (None, None, None)


def test_the_echo_of_the_known_level_is_ignored_but_another_level_in_the_same_second_is_not() -> None:
    echo = link()
    assert observe(echo, 10, T0, now=NOW) is False
    assert pending(echo) == (None, None, None)
    same_second = link()
    assert observe(same_second, 9, T0, now=NOW) is True
    assert pending(same_second) == (9, T0, NOW)


def test_a_later_report_of_the_known_level_is_nothing_new() -> None:
    item = link()
    assert observe(item, 10, T0 + timedelta(hours=1), now=NOW) is False
    assert pending(item) == (None, None, None)


def test_a_link_never_read_takes_any_report_but_the_level_it_already_has() -> None:
    fresh = link(qty=None, at=None)
    assert observe(fresh, 0, T0, now=NOW) is True
    assert pending(fresh) == (0, T0, NOW)
    known = link(qty=4, at=None)
    assert observe(known, 4, T0, now=NOW) is False
    assert observe(known, 5, T0, now=NOW) is True


def test_while_a_settle_is_pending_the_newest_report_wins_and_the_clock_keeps_its_start() -> None:
    item = link()
    first = T0 + timedelta(seconds=10)
    assert observe(item, 7, first, now=NOW) is True
    # back at the known level: still due (the settle reads the channel), and it is the newest
    assert observe(item, 10, first + timedelta(seconds=5), now=NOW + timedelta(seconds=30)) is True
    assert pending(item) == (10, first + timedelta(seconds=5), NOW)
    # a late report, older than the newest one, is due but does not replace it
    assert observe(item, 3, first, now=NOW + timedelta(seconds=60)) is True
    assert pending(item) == (10, first + timedelta(seconds=5), NOW)
    # one from the very same second as the newest replaces it
    assert observe(item, 6, first + timedelta(seconds=5), now=NOW + timedelta(seconds=90)) is True
    assert pending(item) == (6, first + timedelta(seconds=5), NOW)


def test_the_clock_starts_now_when_no_time_is_given() -> None:
    item = link()
    before = utcnow()
    assert observe(item, 7, T0 + timedelta(seconds=1)) is True
    received = item.observed_received_at
    assert received is not None and before <= received <= utcnow()


def test_a_level_inside_the_range_of_open_sales_is_no_edit_and_one_outside_it_an_edit_in_whole() -> None:
    # 10 known, 3 units sold in the level's second may be counted in it already: 7 to 10.
    assert [edit_delta(level, 7, 3) for level in (7, 8, 10)] == [0, 0, 0]
    assert (edit_delta(30, 7, 3), edit_delta(5, 7, 3)) == (23, -2)
    assert (edit_delta(8, 7), edit_delta(6, 7), edit_delta(7, 7)) == (1, -1, 0)  # nothing open


def test_platform_times_in_one_second_are_one_second() -> None:
    at = datetime(2026, 3, 1, 11, 0, 5, tzinfo=UTC)
    assert same_second(at, at.replace(microsecond=999_999))
    assert not same_second(at, at + timedelta(seconds=1))
