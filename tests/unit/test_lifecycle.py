"""The order life cycle (core/lifecycle.py): the stages, the table of moves, and the docs
and API that list them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import Permanent
from core.lifecycle import (
    FINAL,
    INITIAL,
    NAMES,
    OPEN,
    SHIPPABLE,
    SHIPPED,
    TRANSITIONS,
    UNVERIFIED,
    IllegalTransition,
    Stage,
    allowed,
    check,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pipeline.md"
EDGES = [(frm, to) for frm, tos in TRANSITIONS.items() for to in tos]
S = Stage


def test_the_stages_are_the_ones_the_orders_table_holds() -> None:
    assert NAMES == (
        "received",
        "verifying",
        "approved",
        "on_hold",
        "rejected",
        "ready_to_ship",
        "packed",
        "label_purchased",
        "partially_fulfilled",
        "fulfilled",
        "delivered",
        "cancelled",
    )
    assert set(TRANSITIONS) == set(Stage)
    assert all(len(s.value) <= 32 for s in Stage)  # orders.stage is String(32)


@pytest.mark.parametrize(("frm", "to"), EDGES, ids=[f"{a}->{b}" for a, b in EDGES])
def test_every_edge_of_the_table_is_allowed_with_a_reason(frm: Stage, to: Stage) -> None:
    assert allowed(frm, to)
    assert allowed(frm.value, to.value)  # the column holds plain text
    assert check(frm.value, to.value) is to
    assert TRANSITIONS[frm][to].strip()


ILLEGAL = [
    (S.RECEIVED, S.READY_TO_SHIP),  # never shipped unverified
    (S.RECEIVED, S.APPROVED),
    (S.VERIFYING, S.READY_TO_SHIP),  # approved first
    (S.ON_HOLD, S.PACKED),
    (S.REJECTED, S.ON_HOLD),  # rejected is final: an oversold update must not reopen it
    (S.REJECTED, S.CANCELLED),  # the storefront's cancellation keeps it rejected
    (S.REJECTED, S.APPROVED),
    (S.CANCELLED, S.RECEIVED),
    (S.CANCELLED, S.ON_HOLD),
    (S.FULFILLED, S.ON_HOLD),
    (S.FULFILLED, S.PARTIALLY_FULFILLED),
    (S.DELIVERED, S.FULFILLED),  # a delivered order stays delivered
    (S.DELIVERED, S.ON_HOLD),
    (S.PARTIALLY_FULFILLED, S.DELIVERED),  # every parcel is written back first
    (S.LABEL_PURCHASED, S.DELIVERED),
    (S.PARTIALLY_FULFILLED, S.LABEL_PURCHASED),
    (S.LABEL_PURCHASED, S.PACKED),
    (S.PACKED, S.READY_TO_SHIP),
    (S.READY_TO_SHIP, S.LABEL_PURCHASED),  # packed first
    (S.APPROVED, S.APPROVED),
    (S.VERIFYING, S.VERIFYING),
]


@pytest.mark.parametrize(("frm", "to"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_a_move_not_in_the_table_is_refused(frm: Stage, to: Stage) -> None:
    assert not allowed(frm, to)
    with pytest.raises(IllegalTransition) as refused:
        check(frm.value, to.value)
    assert (refused.value.frm, refused.value.to) == (frm, to)
    assert str(refused.value) == f"an order cannot move from {frm} to {to}"
    assert isinstance(refused.value, Permanent)  # a job that tries it is not retried


@pytest.mark.parametrize("name", ["", "awaiting_pack_scan", "missing", "Received", "shipped"])
def test_a_name_that_is_no_stage_is_refused_either_way(name: str) -> None:
    assert not allowed(name, S.ON_HOLD)
    assert not allowed(S.RECEIVED, name)
    with pytest.raises(IllegalTransition):
        check(S.RECEIVED, name)


@given(st.sampled_from(list(Stage)), st.sampled_from(list(Stage)))
def test_allowed_is_exactly_the_table(frm: Stage, to: Stage) -> None:
    assert allowed(frm, to) == (to in TRANSITIONS[frm])
    if allowed(frm, to):
        assert check(frm, to) is to
    else:
        with pytest.raises(IllegalTransition):
            check(frm, to)


@given(st.text(max_size=24), st.sampled_from(list(Stage)))
def test_any_other_text_is_never_a_stage_to_move_from_or_to(text: str, stage: Stage) -> None:
    if text in NAMES:
        return
    assert not allowed(text, stage) and not allowed(stage, text)


def test_the_groups() -> None:
    assert set(FINAL) == {S.REJECTED, S.CANCELLED}
    assert set(INITIAL) == {S.RECEIVED, S.CANCELLED}
    assert set(UNVERIFIED) == {S.RECEIVED, S.VERIFYING}
    assert set(SHIPPABLE) == {S.READY_TO_SHIP, S.PACKED, S.LABEL_PURCHASED}
    assert set(SHIPPED) == {S.LABEL_PURCHASED, S.PARTIALLY_FULFILLED, S.FULFILLED, S.DELIVERED}
    assert set(OPEN) == set(Stage) - FINAL - {S.FULFILLED, S.DELIVERED}
    # Every open stage can be cancelled by the storefront and held by the stock ledger.
    assert all(allowed(s, S.CANCELLED) and allowed(s, S.ON_HOLD) for s in OPEN)


def test_every_stage_is_reached_from_a_new_order() -> None:
    seen, todo = set(INITIAL), list(INITIAL)
    while todo:
        for to in TRANSITIONS[todo.pop()]:
            if to not in seen:
                seen.add(to)
                todo.append(to)
    assert seen == set(Stage)


def _section(title: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    end = text.find("\n#", start + len(title) + 2)
    return text[start : end if end != -1 else len(text)]


def test_the_docs_list_every_stage_once() -> None:
    rows = [line for line in _section("## Stages").splitlines() if line.startswith("| `")]
    named = [re.findall(r"`([a-z_]+)`", row.split("|")[1]) for row in rows]
    assert [n for names in named for n in names] == list(NAMES)


def test_the_docs_table_of_moves_is_the_lifecycle_table() -> None:
    rows = [line for line in _section("### Moves").splitlines() if line.startswith("| `")]
    documented = []
    for row in rows:
        frm, to, why = (cell.strip() for cell in row.strip("|").split("|"))
        documented.append((frm.strip("`"), to.strip("`"), why))
    assert documented == [(frm.value, to.value, TRANSITIONS[frm][to]) for frm, to in EDGES]
