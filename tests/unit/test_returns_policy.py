"""The returns policy, table by table: each rule true and false, at, before and after its
edge, with the words the customer (or the reviewer) reads.

Every case starts from a request the policy accepts and changes one thing, so a refusal
can only come from the rule under test.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.returns import (
    FINISHED,
    MOVES,
    Ask,
    Condition,
    Decision,
    Evidence,
    EvidenceFacts,
    Flag,
    LineFacts,
    Readiness,
    RefundItem,
    RefundPlan,
    Refusal,
    Resolution,
    ReturnPolicy,
    ReturnState,
    can_move,
    cents,
    check_request,
    evidence_flags,
    exchange_refund,
    refund_plan,
    refund_ready,
)
from settings import MerchantReturns, ReturnsSettings, SettingsError, load_settings

D = Decimal
POLICY = ReturnPolicy(
    window_days=30,
    non_returnable_skus=frozenset({"GIFT-CARD"}),
    non_returnable_tags=frozenset({"hygiene"}),
    final_sale_tags=frozenset({"final-sale"}),
    reasons=("unwanted", "defective", "wrong_item", "other"),
    photo_reasons=frozenset({"defective"}),
    note_reasons=frozenset({"other"}),
    merchant_pays_reasons=frozenset({"defective", "wrong_item"}),
    restocking_fee_pct=D("10"),
    refund_shipping_reasons=frozenset({"wrong_item"}),
    exchange_allowed=True,
    exchange_difference="refund",
)
LINES = {
    "L1": LineFacts("L1", "TEE-M", "Tee, medium", 2, 0, D("20.00")),
    "L2": LineFacts("L2", "SOCK", "Socks", 1, 0, D("5.00"), frozenset({"Hygiene "})),
    "L3": LineFacts("L3", "DRESS", "Dress", 1, 0, D("80.00"), frozenset({"Final-Sale", "summer"})),
    "L4": LineFacts("L4", " GIFT-CARD", "Gift card", 1, 0, D("50.00")),
    "L5": LineFacts("L5", "CAP", "Cap", 3, 2, D("12.00")),
    "L6": LineFacts("L6", None, "Sticker", 1, 0, D("1.00")),
}
DELIVERED = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
FULFILLED = datetime(2026, 10, 25, 9, 0, tzinfo=UTC)
SOON = DELIVERED + timedelta(days=3)
GOOD = Ask("L1", 1, "unwanted")


def check(*asks: Ask, policy: ReturnPolicy = POLICY, now: datetime = SOON, **kw: Any) -> Decision:
    dates = {"delivered_at": DELIVERED, "fulfilled_at": FULFILLED, **kw}
    return check_request(policy, LINES, asks, dates["delivered_at"], dates["fulfilled_at"], now)


def refused(decision: Decision) -> list[tuple[str, str]]:
    return [(r.rule, r.reason) for r in decision.refusals]


def test_a_request_within_policy_is_accepted() -> None:
    decision = check(GOOD)
    assert decision == Decision((), DELIVERED + timedelta(days=30), False)
    assert decision.accepted
    assert decision.to_dict() == {
        "accepted": True,
        "refusals": [],
        "window_ends_at": "2026-11-30T15:00:00+00:00",
        "merchant_pays_label": False,
    }


# ---------------------------------------------------------------------------- the window

END = DELIVERED + timedelta(days=30)
FROM_FULFILMENT = FULFILLED + timedelta(days=30)
WINDOW_CASES = [
    # delivered_at, fulfilled_at, now, window_ends_at, refusal reason
    ("delivery: the last instant", DELIVERED, FULFILLED, END, END, None),
    ("delivery: a second before", DELIVERED, FULFILLED, END - timedelta(seconds=1), END, None),
    (
        "delivery: a second after",
        DELIVERED,
        FULFILLED,
        END + timedelta(seconds=1),
        END,
        "The return window closed on 2026-11-30 (30 days after delivery).",
    ),
    ("delivery counts, not fulfilment", DELIVERED, FULFILLED, FROM_FULFILMENT + timedelta(days=1), END, None),
    ("fulfilment: the last instant", None, FULFILLED, FROM_FULFILMENT, FROM_FULFILMENT, None),
    (
        "fulfilment: a second after",
        None,
        FULFILLED,
        FROM_FULFILMENT + timedelta(seconds=1),
        FROM_FULFILMENT,
        "The return window closed on 2026-11-24 (30 days after fulfilment).",
    ),
    (
        "no date at all",
        None,
        None,
        SOON,
        None,
        "This order has not been sent yet, so it cannot be returned yet.",
    ),
]


@pytest.mark.parametrize(
    ("delivered_at", "fulfilled_at", "now", "ends_at", "reason"),
    [case[1:] for case in WINDOW_CASES],
    ids=[case[0] for case in WINDOW_CASES],
)
def test_the_window(
    delivered_at: datetime | None,
    fulfilled_at: datetime | None,
    now: datetime,
    ends_at: datetime | None,
    reason: str | None,
) -> None:
    decision = check(GOOD, now=now, delivered_at=delivered_at, fulfilled_at=fulfilled_at)
    assert decision.window_ends_at == ends_at
    assert refused(decision) == ([("window", reason)] if reason else [])
    assert decision.accepted is (reason is None)


@pytest.mark.parametrize(("days", "words"), [(1, "1 day"), (0, "0 days"), (2, "2 days")])
def test_the_window_counts_days_in_words(days: int, words: str) -> None:
    policy = replace(POLICY, window_days=days)
    end = DELIVERED + timedelta(days=days)
    assert refused(check(GOOD, policy=policy, now=end)) == []
    late = check(GOOD, policy=policy, now=end + timedelta(microseconds=1))
    assert refused(late) == [
        ("window", f"The return window closed on {end.date()} ({words} after delivery).")
    ]


# ---------------------------------------------------------------------------- the lines

LINE_CASES = [
    (
        "a non-returnable tag, any case",
        Ask("L2", 1, "unwanted"),
        [("non_returnable", '"Socks" cannot be returned.')],
    ),
    (
        "a non-returnable SKU",
        Ask("L4", 1, "unwanted"),
        [("non_returnable", '"Gift card" cannot be returned.')],
    ),
    (
        "a final sale tag",
        Ask("L3", 1, "unwanted"),
        [("final_sale", '"Dress" was a final sale and cannot be returned.')],
    ),
    ("a line without SKU or tags", Ask("L6", 1, "unwanted"), []),
    ("an unknown line", Ask("L9", 1, "unwanted"), [("unknown_line", "This order has no item L9.")]),
    ("all that is left", Ask("L5", 1, "unwanted"), []),
    (
        "more than is left",
        Ask("L5", 2, "unwanted"),
        [("quantity", 'Only 1 of "Cap" can be returned (3 bought, 2 already returned).')],
    ),
    ("all that was bought", Ask("L1", 2, "unwanted"), []),
    (
        "more than was bought",
        Ask("L1", 3, "unwanted"),
        [("quantity", 'Only 2 of "Tee, medium" can be returned (2 bought, 0 already returned).')],
    ),
    (
        "no unit",
        Ask("L1", 0, "unwanted"),
        [("quantity", 'Choose at least one unit of "Tee, medium" to return.')],
    ),
    (
        "fewer than none",
        Ask("L1", -1, "unwanted"),
        [("quantity", 'Choose at least one unit of "Tee, medium" to return.')],
    ),
]


@pytest.mark.parametrize(("ask", "expected"), [c[1:] for c in LINE_CASES], ids=[c[0] for c in LINE_CASES])
def test_the_lines(ask: Ask, expected: list[tuple[str, str]]) -> None:
    assert refused(check(ask)) == expected


def test_quantities_of_one_line_add_up_across_asks() -> None:
    both = check(Ask("L1", 1, "unwanted"), Ask("L1", 1, "defective", photo=True))
    assert refused(both) == []
    three = check(Ask("L1", 1, "unwanted"), Ask("L1", 2, "unwanted"))
    assert refused(three) == [
        ("quantity", 'Only 2 of "Tee, medium" can be returned (2 bought, 0 already returned).')
    ]


def test_a_line_over_returned_already_says_none_is_left() -> None:
    lines = {"L1": replace(LINES["L1"], returned=3)}
    decision = check_request(POLICY, lines, [GOOD], DELIVERED, None, SOON)
    assert refused(decision) == [
        ("quantity", 'Only 0 of "Tee, medium" can be returned (2 bought, 3 already returned).')
    ]


def test_nothing_asked() -> None:
    assert refused(check()) == [("nothing_asked", "Choose at least one item to return.")]


def test_an_unknown_line_does_not_stop_the_other_checks() -> None:
    decision = check(Ask("L9", 1, "unwanted"), Ask("L3", 1, "unwanted"), Ask("L1", 5, "unwanted"))
    assert [r.rule for r in decision.refusals] == ["unknown_line", "final_sale", "quantity"]


def test_every_rule_that_refuses_is_listed() -> None:
    decision = check(Ask("L3", 1, "defective"), Ask("L9", 1, "unwanted"), now=END + timedelta(days=1))
    assert [r.rule for r in decision.refusals] == ["window", "final_sale", "photo_required", "unknown_line"]


# ---------------------------------------------------------------------------- reasons

REASON_CASES = [
    ("a listed reason", Ask("L1", 1, "unwanted"), []),
    (
        "an unlisted reason",
        Ask("L1", 1, "size_too_small"),
        [("unknown_reason", "'size too small' is not a reason this shop takes returns for.")],
    ),
    (
        "photo missing",
        Ask("L1", 1, "defective"),
        [("photo_required", 'Add a photo of "Tee, medium" to return it as defective.')],
    ),
    ("photo given", Ask("L1", 1, "defective", photo=True), []),
    (
        "note missing",
        Ask("L1", 1, "other"),
        [("note_required", 'Tell us more about "Tee, medium" to return it as other.')],
    ),
    (
        "a blank note",
        Ask("L1", 1, "other", note="   "),
        [("note_required", 'Tell us more about "Tee, medium" to return it as other.')],
    ),
    ("note given", Ask("L1", 1, "other", note="too itchy"), []),
]


@pytest.mark.parametrize(("ask", "expected"), [c[1:] for c in REASON_CASES], ids=[c[0] for c in REASON_CASES])
def test_reasons(ask: Ask, expected: list[tuple[str, str]]) -> None:
    assert refused(check(ask)) == expected


def test_an_unlisted_reason_asks_for_neither_photo_nor_note() -> None:
    policy = replace(POLICY, reasons=("unwanted",))
    decision = check(Ask("L1", 1, "defective"), Ask("L1", 1, "other"), policy=policy)
    assert [r.rule for r in decision.refusals] == ["unknown_reason", "unknown_reason"]


@pytest.mark.parametrize(
    ("reasons", "pays"),
    [
        (["unwanted"], False),
        (["defective"], True),
        (["unwanted", "wrong_item"], True),
        (["wrong_item", "unwanted"], True),
        (["other"], False),
    ],
)
def test_who_pays_the_label(reasons: list[str], pays: bool) -> None:
    asks = [Ask("L1", 1, r, note="n", photo=True) for r in reasons]
    assert check(*asks).merchant_pays_label is pays


# ---------------------------------------------------------------------------- exchanges

NO_EXCHANGE = "This shop does not offer exchanges; choose a refund instead."
EXCHANGE_CASES = [
    ("same price", True, Ask("L1", 1, "unwanted", exchange_sku="TEE-L", exchange_price=D("20.00")), []),
    ("price not given", True, Ask("L1", 1, "unwanted", exchange_sku="TEE-L"), []),
    ("cheaper", True, Ask("L1", 1, "unwanted", exchange_sku="TEE-S", exchange_price=D("19.99")), []),
    (
        "dearer",
        True,
        Ask("L1", 1, "unwanted", exchange_sku="TEE-XL", exchange_price=D("20.01")),
        [
            (
                "exchange_dearer",
                'The item chosen in exchange for "Tee, medium" costs more (20.01 instead of 20.00); '
                "choose one at the same price or less.",
            )
        ],
    ),
    (
        "out of stock",
        True,
        Ask("L1", 1, "unwanted", exchange_sku="TEE-L", exchange_in_stock=False),
        [("exchange_out_of_stock", 'The item chosen in exchange for "Tee, medium" is out of stock.')],
    ),
    (
        "not allowed",
        False,
        Ask("L1", 1, "unwanted", exchange_sku="TEE-L", exchange_in_stock=False, exchange_price=D("99")),
        [("exchange_not_allowed", NO_EXCHANGE)],
    ),
    ("a refund where exchanges are not allowed", False, Ask("L1", 1, "unwanted"), []),
]


@pytest.mark.parametrize(
    ("allowed", "ask", "expected"), [c[1:] for c in EXCHANGE_CASES], ids=[c[0] for c in EXCHANGE_CASES]
)
def test_exchanges(allowed: bool, ask: Ask, expected: list[tuple[str, str]]) -> None:
    assert refused(check(ask, policy=replace(POLICY, exchange_allowed=allowed))) == expected


def test_an_exchange_both_dearer_and_out_of_stock_says_both() -> None:
    ask = Ask("L1", 1, "unwanted", exchange_sku="X", exchange_price=D("30"), exchange_in_stock=False)
    assert [r.rule for r in check(ask).refusals] == ["exchange_out_of_stock", "exchange_dearer"]


@pytest.mark.parametrize(
    ("difference", "old", "new", "owed"),
    [
        ("refund", "20.00", "15.50", "4.50"),
        ("refund", "20.00", "20.00", "0.00"),
        ("refund", "20.00", "25.00", "0.00"),
        ("refund", "10.005", "5", "5.01"),
        ("refund", "10.004", "5", "5.00"),
        ("absorb", "20.00", "15.50", "0.00"),
        ("absorb", "20.00", "25.00", "0.00"),
    ],
)
def test_exchange_difference(difference: str, old: str, new: str, owed: str) -> None:
    got = exchange_refund(replace(POLICY, exchange_difference=difference), D(old), D(new))
    assert (str(got), got) == (owed, D(owed))


# ---------------------------------------------------------------------------- refund plans


def plan(
    *items: RefundItem, shipping: str = "7.00", label: str = "6.00", pays: bool = False, **kw: Any
) -> RefundPlan:
    return refund_plan(replace(POLICY, **kw), items, D(shipping), D(label), pays)


def item(
    price: str, qty: int = 1, reason: str = "unwanted", condition: Condition | None = None
) -> RefundItem:
    return RefundItem(D(price), qty, reason, condition)


PLAN_CASES: list[tuple[str, list[RefundItem], dict[str, Any], tuple[str, str, str, str, str]]] = [
    # items, shipping, fee, label, total
    ("customer pays: fee and label", [item("20.00", 2)], {}, ("40.00", "0.00", "4.00", "6.00", "30.00")),
    (
        "merchant pays the label",
        [item("20.00", 2)],
        {"pays": True},
        ("40.00", "0.00", "4.00", "0.00", "36.00"),
    ),
    (
        "merchant's fault: no fee",
        [item("20.00", 2, "defective")],
        {"pays": True},
        ("40.00", "0.00", "0.00", "0.00", "40.00"),
    ),
    (
        "shipping refunded for its reasons",
        [item("20.00", 1, "wrong_item")],
        {"pays": True},
        ("20.00", "7.00", "0.00", "0.00", "27.00"),
    ),
    (
        "fee only on the customer's reasons",
        [item("20.00", 1, "wrong_item"), item("30.00", 1, "unwanted")],
        {"pays": True},
        ("50.00", "7.00", "3.00", "0.00", "54.00"),
    ),
    (
        "missing and wrong units are not refunded",
        [
            item("20.00", 1, "unwanted", Condition.missing),
            item("30.00", 1, "unwanted", Condition.wrong_item),
            item("10.00", 1, "unwanted", Condition.damaged),
            item("5.00", 1, "unwanted", Condition.resellable),
        ],
        {"label": "0"},
        ("15.00", "0.00", "1.50", "0.00", "13.50"),
    ),
    (
        "shipping not refunded when its unit is missing",
        [item("20.00", 1, "wrong_item", Condition.missing), item("5.00", 1, "unwanted")],
        {"pays": True},
        ("5.00", "0.00", "0.50", "0.00", "4.50"),
    ),
    (
        "cents: a half rounds up",
        [item("0.125", 1, "defective")],
        {"pays": True, "shipping": "0.005"},
        ("0.13", "0.00", "0.00", "0.00", "0.13"),
    ),
    (
        "cents: the fee rounds half up",
        [item("0.05")],
        {"label": "0", "restocking_fee_pct": D("15")},
        ("0.05", "0.00", "0.01", "0.00", "0.04"),
    ),
    (
        "cents: below a half rounds down",
        [item("0.03")],
        {"label": "0", "restocking_fee_pct": D("15")},
        ("0.03", "0.00", "0.00", "0.00", "0.03"),
    ),
    (
        "shipping and label to the cent",
        [item("10", 1, "wrong_item")],
        {"shipping": "4.995", "label": "1.005"},
        ("10.00", "5.00", "0.00", "1.01", "13.99"),
    ),
    ("never negative", [item("3.00")], {"label": "9.00"}, ("3.00", "0.00", "0.30", "9.00", "0.00")),
    ("nothing at all", [], {}, ("0.00", "0.00", "0.00", "6.00", "0.00")),
    (
        "exactly zero",
        [item("6.00")],
        {"restocking_fee_pct": D("0")},
        ("6.00", "0.00", "0.00", "6.00", "0.00"),
    ),
    (
        "a cent above zero",
        [item("6.01")],
        {"restocking_fee_pct": D("0")},
        ("6.01", "0.00", "0.00", "6.00", "0.01"),
    ),
]


@pytest.mark.parametrize(
    ("items", "kw", "expected"), [c[1:] for c in PLAN_CASES], ids=[c[0] for c in PLAN_CASES]
)
def test_refund_plans(items: list[RefundItem], kw: dict[str, Any], expected: tuple[str, ...]) -> None:
    got = plan(*items, **kw)
    keys = ("items", "shipping", "fee", "label", "total")
    assert got.to_dict() == dict(zip(keys, expected, strict=True))
    assert got == RefundPlan(*(D(v) for v in expected))


@pytest.mark.parametrize(
    ("items", "shipping", "label", "message"),
    [
        ([item("-1")], "0", "0", "a refund item needs a price and a quantity of 0 or more, not -1 x 1"),
        ([item("1", -1)], "0", "0", "a refund item needs a price and a quantity of 0 or more, not 1 x -1"),
        ([item("1")], "-0.01", "0", r"shipping paid \(-0.01\) and label cost \(0\) cannot be negative"),
        ([item("1")], "0", "-0.01", r"shipping paid \(0\) and label cost \(-0.01\) cannot be negative"),
    ],
)
def test_a_refund_plan_refuses_negative_amounts(
    items: list[RefundItem], shipping: str, label: str, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        refund_plan(POLICY, items, D(shipping), D(label), False)


def test_zero_is_a_valid_amount() -> None:
    assert refund_plan(POLICY, [item("0", 0)], D("0"), D("0"), False).total == D("0.00")


def test_cents() -> None:
    assert [str(cents(D(v))) for v in ("1.005", "1.004", "-1.005", "2")] == ["1.01", "1.00", "-1.01", "2.00"]


# ---------------------------------------------------------------------------- evidence rules

DELIVERY = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
CLEAN = EvidenceFacts(
    shipped_weight_oz=D("10"),
    arrival_weight_oz=D("9"),
    label_created_at=DELIVERY + timedelta(days=1),
    original_delivered_at=DELIVERY,
    customer_orders=4,
    customer_returns=1,
    account_returns_recent=1,
)
LIGHT = "The parcel arrived weighing {} oz, less than 50% of the 10 oz shipped."
EARLY = "The return label was created at {}, before the order was delivered at 2026-11-02T12:00:00+00:00."
EVIDENCE_CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("clean", {}, []),
    ("light: above half", {"arrival_weight_oz": D("5.01")}, []),
    ("light: at half", {"arrival_weight_oz": D("5")}, []),
    ("light: below half", {"arrival_weight_oz": D("4.99")}, [("light_parcel", LIGHT.format("4.99"))]),
    ("light: no arrival weight", {"arrival_weight_oz": None}, []),
    ("light: no shipped weight", {"shipped_weight_oz": None, "arrival_weight_oz": D("0")}, []),
    (
        "early label: a second before delivery",
        {"label_created_at": DELIVERY - timedelta(seconds=1)},
        [("label_before_delivery", EARLY.format("2026-11-02T11:59:59+00:00"))],
    ),
    ("early label: at delivery", {"label_created_at": DELIVERY}, []),
    ("early label: a second after", {"label_created_at": DELIVERY + timedelta(seconds=1)}, []),
    ("early label: no label time", {"label_created_at": None}, []),
    ("early label: never delivered", {"original_delivered_at": None}, []),
    (
        "rate: at the limit",
        {"customer_returns": 2},
        [("high_return_rate", "The customer returned 2 of 4 orders (50%; the limit is 50%).")],
    ),
    (
        "rate: above",
        {"customer_returns": 3},
        [("high_return_rate", "The customer returned 3 of 4 orders (75%; the limit is 50%).")],
    ),
    ("rate: below", {"customer_orders": 5, "customer_returns": 2}, []),
    (
        "rate: at the minimum of orders",
        {"customer_orders": 3, "customer_returns": 2},
        [("high_return_rate", "The customer returned 2 of 3 orders (67%; the limit is 50%).")],
    ),
    ("rate: below the minimum of orders", {"customer_orders": 2, "customer_returns": 2}, []),
    ("serial: below", {"account_returns_recent": 2}, []),
    (
        "serial: at",
        {"account_returns_recent": 3},
        [
            (
                "serial_returner",
                "The customer made 3 returns in 90 days across the account's stores (the limit is 3).",
            )
        ],
    ),
    (
        "serial: above",
        {"account_returns_recent": 4},
        [
            (
                "serial_returner",
                "The customer made 4 returns in 90 days across the account's stores (the limit is 3).",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in EVIDENCE_CASES], ids=[c[0] for c in EVIDENCE_CASES]
)
def test_evidence_rules(change: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    flags = evidence_flags(POLICY, replace(CLEAN, **change))
    assert [(f.rule, f.reason) for f in flags] == expected


def test_shares_are_shown_as_whole_percents_rounded_half_up() -> None:
    policy = replace(POLICY, light_parcel_ratio=D("0.125"), high_return_rate=D("0.345"))
    facts = replace(CLEAN, arrival_weight_oz=D("1"), customer_orders=8, customer_returns=3)
    assert [f.reason for f in evidence_flags(policy, facts)] == [
        "The parcel arrived weighing 1 oz, less than 13% of the 10 oz shipped.",
        "The customer returned 3 of 8 orders (38%; the limit is 35%).",
    ]


def test_every_evidence_rule_at_once_in_order() -> None:
    facts = EvidenceFacts(D("10"), D("1"), DELIVERY - timedelta(days=1), DELIVERY, 3, 3, 5)
    assert [f.rule for f in evidence_flags(POLICY, facts)] == [
        "light_parcel",
        "label_before_delivery",
        "high_return_rate",
        "serial_returner",
    ]


# ---------------------------------------------------------------------------- readiness

FLAG = Flag("light_parcel", "light")
# scanned, delivered, inspected -> the evidence level reached
LEVELS = [(False, False, False), (True, False, False), (True, True, False), (True, True, True)]
READY_CASES = [
    # refund_after, evidence (scanned, delivered, inspected), ready, waits_for
    (Evidence.carrier_scan, (False, False, False), False, "carrier_scan"),
    (Evidence.carrier_scan, (True, False, False), True, None),
    (Evidence.carrier_scan, (False, True, False), True, None),
    (Evidence.delivered, (True, False, False), False, "delivered"),
    (Evidence.delivered, (True, True, False), True, None),
    (Evidence.delivered, (False, True, False), True, None),
    (Evidence.delivered, (False, False, True), True, None),
    (Evidence.inspected, (True, True, False), False, "inspected"),
    (Evidence.inspected, (True, True, True), True, None),
    (Evidence.inspected, (False, False, True), True, None),
]


@pytest.mark.parametrize(("after", "evidence", "ready", "waits_for"), READY_CASES)
def test_refund_waits_for_its_evidence(
    after: Evidence, evidence: tuple[bool, bool, bool], ready: bool, waits_for: str | None
) -> None:
    policy = replace(POLICY, refund_after=after)
    assert refund_ready(policy, (), *evidence, reviewed=False) == Readiness(ready, waits_for, False)
    # a flagged return a person has reviewed waits for the same evidence
    assert refund_ready(policy, (FLAG,), *evidence, reviewed=True) == Readiness(ready, waits_for, False)


@pytest.mark.parametrize("evidence", LEVELS)
@pytest.mark.parametrize("after", list(Evidence))
def test_a_flagged_return_is_held_until_reviewed(after: Evidence, evidence: tuple[bool, bool, bool]) -> None:
    policy = replace(POLICY, refund_after=after, refund_at_first_scan_when_clean=True)
    assert refund_ready(policy, (FLAG,), *evidence, reviewed=False) == Readiness(False, "review", True)


@pytest.mark.parametrize(
    ("flags", "reviewed", "evidence", "expected"),
    [
        ((), False, (True, False, False), Readiness(True, None, False)),
        ((), False, (False, False, False), Readiness(False, "carrier_scan", False)),
        ((FLAG,), True, (True, False, False), Readiness(False, "inspected", False)),
        ((FLAG,), True, (True, True, True), Readiness(True, None, False)),
    ],
)
def test_the_clean_first_scan_option(
    flags: tuple[Flag, ...], reviewed: bool, evidence: tuple[bool, bool, bool], expected: Readiness
) -> None:
    policy = replace(POLICY, refund_after=Evidence.inspected, refund_at_first_scan_when_clean=True)
    assert refund_ready(policy, flags, *evidence, reviewed=reviewed) == expected
    off = replace(policy, refund_at_first_scan_when_clean=False)
    if not flags and evidence == (True, False, False):
        assert refund_ready(off, flags, *evidence, reviewed=reviewed) == Readiness(False, "inspected", False)


# ---------------------------------------------------------------------------- states

S = ReturnState
ALLOWED = {
    (S.requested, S.approved),
    (S.requested, S.refused),
    (S.requested, S.closed),
    (S.refused, S.approved),
    (S.refused, S.closed),
    (S.approved, S.label_sent),
    (S.approved, S.received),
    (S.approved, S.refunded),
    (S.approved, S.exchanged),
    (S.approved, S.closed),
    (S.label_sent, S.in_transit),
    (S.label_sent, S.received),
    (S.label_sent, S.closed),
    (S.in_transit, S.received),
    (S.in_transit, S.refunded),
    (S.in_transit, S.exchanged),
    (S.in_transit, S.closed),
    (S.received, S.inspected),
    (S.received, S.refunded),
    (S.received, S.exchanged),
    (S.received, S.closed),
    (S.inspected, S.refunded),
    (S.inspected, S.exchanged),
    (S.inspected, S.closed),
}


@pytest.mark.parametrize("b", list(S))
@pytest.mark.parametrize("a", list(S))
def test_state_moves(a: ReturnState, b: ReturnState) -> None:
    assert can_move(a, b) is ((a, b) in ALLOWED)
    assert can_move(a.value, b.value) is ((a, b) in ALLOWED)


def test_moves_table_and_finished_states() -> None:
    assert {(a, b) for a, onward in MOVES.items() for b in onward} == ALLOWED
    assert {S.refunded, S.exchanged, S.closed} == FINISHED


@pytest.mark.parametrize(("a", "b"), [("nope", "approved"), ("requested", "nope"), ("", "")])
def test_unknown_states_move_nowhere(a: str, b: str) -> None:
    assert can_move(a, b) is False


def test_the_enums_are_the_stored_words() -> None:
    assert [s.value for s in S] == [
        "requested",
        "approved",
        "refused",
        "label_sent",
        "in_transit",
        "received",
        "inspected",
        "refunded",
        "exchanged",
        "closed",
    ]
    assert [r.value for r in Resolution] == ["refund", "exchange"]
    assert [c.value for c in Condition] == ["resellable", "damaged", "wrong_item", "missing"]
    assert [e.value for e in Evidence] == ["carrier_scan", "delivered", "inspected"]
    assert Refusal("window", "closed").to_dict() == {"rule": "window", "reason": "closed"}
    assert Flag("serial_returner", "x").to_dict() == {"rule": "serial_returner", "reason": "x"}


# ---------------------------------------------------------------------------- settings


def test_the_default_settings_make_the_default_policy() -> None:
    returns = load_settings(environ={}).returns
    assert ReturnPolicy.from_settings(returns.for_merchant("anyone")) == ReturnPolicy()
    assert (returns.label, returns.address, returns.order_status) == ("prepaid", {}, {})
    assert returns.portal_rate_limit == "10 per minute"
    assert returns == ReturnsSettings()  # config.yaml writes out the model's defaults


def test_a_merchant_overrides_some_keys_and_inherits_the_rest() -> None:
    returns = ReturnsSettings(
        window_days=20,
        non_returnable_tags=[" Hygiene "],
        final_sale_tags=["SALE"],
        non_returnable_skus=[" GC "],
        restocking_fee_pct=D("5"),
        merchants={
            "acme": MerchantReturns(
                window_days=14,
                restocking_fee_pct=D("12.5"),
                refund_after="inspected",
                label="none",
                order_status={"refunded": "refunded"},
            )
        },
    )
    acme = ReturnPolicy.from_settings(returns.for_merchant("acme"))
    other = ReturnPolicy.from_settings(returns.for_merchant("other"))
    assert (acme.window_days, acme.restocking_fee_pct, acme.refund_after) == (
        14,
        D("12.5"),
        Evidence.inspected,
    )
    assert (other.window_days, other.restocking_fee_pct, other.refund_after) == (
        20,
        D("5"),
        Evidence.delivered,
    )
    assert acme.non_returnable_tags == frozenset({"hygiene"}) == other.non_returnable_tags
    assert acme.final_sale_tags == frozenset({"sale"})
    assert acme.non_returnable_skus == frozenset({"GC"})
    assert returns.for_merchant("acme").label == "none"
    assert returns.for_merchant("acme").order_status == {"refunded": "refunded"}
    assert returns.for_merchant("other").label == "prepaid"
    assert returns.for_merchant("acme").merchants == {}


@pytest.mark.parametrize(
    ("returns", "words"),
    [
        ({"photo_reasons": ["nope"]}, "photo_reasons names reasons not in reasons: nope"),
        (
            {"reasons": ["unwanted"], "photo_reasons": [], "note_reasons": []},
            "merchant_pays_reasons names reasons not in reasons: defective, not_as_described, wrong_item",
        ),
        ({"order_status": {"shipped": "x"}}, "order_status maps unknown return states: shipped"),
        (
            {"merchants": {"acme": {"refund_shipping_reasons": ["x"]}}},
            "merchants.acme: refund_shipping_reasons",
        ),
        ({"merchants": {"acme": {"window_days": -1}}}, "returns.merchants.acme.window_days"),
        ({"window_days": -1}, "returns.window_days"),
        ({"restocking_fee_pct": "101"}, "returns.restocking_fee_pct"),
        ({"refund_after": "paid"}, "returns.refund_after"),
        ({"exchange_difference": "charge"}, "returns.exchange_difference"),
        ({"portal_rate_limit": "lots"}, 'must read like "10 per minute"'),
        ({"merchants": {"acme": {"portal_rate_limit": "1/second"}}}, "portal_rate_limit"),
    ],
)
def test_bad_returns_settings_are_named(returns: dict[str, Any], words: str) -> None:
    with pytest.raises(SettingsError, match="returns") as caught:
        load_settings({"returns": returns}, environ={})
    assert words in str(caught.value)


@pytest.mark.parametrize("limit", ["10 per minute", "100/hour", "5 per 10 seconds", " 1/day "])
def test_portal_rate_limits(limit: str) -> None:
    assert ReturnsSettings(portal_rate_limit=limit).portal_rate_limit == limit.strip()


def test_every_setting_reaches_the_policy() -> None:
    returns = ReturnsSettings(
        window_days=7,
        non_returnable_skus=[" GC ", "", "  "],
        non_returnable_tags=["Hygiene"],
        final_sale_tags=[" Final "],
        reasons=["a", "b", "c", "d", "e"],
        photo_reasons=["a"],
        note_reasons=["b"],
        merchant_pays_reasons=["c"],
        restocking_fee_pct=D("7.5"),
        refund_shipping_reasons=["d"],
        exchange_allowed=False,
        exchange_difference="absorb",
        refund_after="carrier_scan",
        refund_at_first_scan_when_clean=True,
        light_parcel_ratio=D("0.25"),
        high_return_rate=D("0.75"),
        high_return_rate_min_orders=6,
        serial_returns=8,
        serial_days=45,
    )
    assert ReturnPolicy.from_settings(returns) == ReturnPolicy(
        window_days=7,
        non_returnable_skus=frozenset({"GC"}),
        non_returnable_tags=frozenset({"hygiene"}),
        final_sale_tags=frozenset({"final"}),
        reasons=("a", "b", "c", "d", "e"),
        photo_reasons=frozenset({"a"}),
        note_reasons=frozenset({"b"}),
        merchant_pays_reasons=frozenset({"c"}),
        restocking_fee_pct=D("7.5"),
        refund_shipping_reasons=frozenset({"d"}),
        exchange_allowed=False,
        exchange_difference="absorb",
        refund_after=Evidence.carrier_scan,
        refund_at_first_scan_when_clean=True,
        light_parcel_ratio=D("0.25"),
        high_return_rate=D("0.75"),
        high_return_rate_min_orders=6,
        serial_returns=8,
        serial_days=45,
    )


def test_a_policy_built_by_hand_matches_tags_in_any_case() -> None:
    policy = replace(
        POLICY, non_returnable_tags=frozenset({" HYGIENE"}), final_sale_tags=frozenset({"FINAL-sale"})
    )
    assert [
        r.rule for r in check(Ask("L2", 1, "unwanted"), Ask("L3", 1, "unwanted"), policy=policy).refusals
    ] == [
        "non_returnable",
        "final_sale",
    ]


def test_a_line_without_sku_is_not_caught_by_an_empty_sku() -> None:
    policy = replace(POLICY, non_returnable_skus=frozenset({""}))
    assert refused(check(Ask("L6", 1, "unwanted"), policy=policy)) == []


def test_a_refused_decision_as_stored() -> None:
    decision = check(Ask("L3", 1, "defective", photo=True), now=END + timedelta(days=2))
    assert decision.to_dict() == {
        "accepted": False,
        "refusals": [
            {"rule": "window", "reason": "The return window closed on 2026-11-30 (30 days after delivery)."},
            {"rule": "final_sale", "reason": '"Dress" was a final sale and cannot be returned.'},
        ],
        "window_ends_at": "2026-11-30T15:00:00+00:00",
        "merchant_pays_label": True,
    }
    unsent = check(GOOD, delivered_at=None, fulfilled_at=None).to_dict()
    assert (unsent["accepted"], unsent["window_ends_at"]) == (False, None)


def test_evidence_facts_as_stored() -> None:
    assert CLEAN.to_dict() == {
        "shipped_weight_oz": "10",
        "arrival_weight_oz": "9",
        "label_created_at": "2026-11-03T12:00:00+00:00",
        "original_delivered_at": "2026-11-02T12:00:00+00:00",
        "customer_orders": 4,
        "customer_returns": 1,
        "account_returns_recent": 1,
    }
    assert EvidenceFacts().to_dict() == {
        "shipped_weight_oz": None,
        "arrival_weight_oz": None,
        "label_created_at": None,
        "original_delivered_at": None,
        "customer_orders": 0,
        "customer_returns": 0,
        "account_returns_recent": 0,
    }
