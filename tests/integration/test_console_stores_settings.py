"""The console's stores, failed-jobs and settings pages: scoping, roles, validation and the
audit entry, and the merchant's saved settings changing what the flows decide."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from db.accounts import get_or_create_account
from db.models import AccountSettings, DeadLetter, Platform, Role, Store, StoreState, TimelineEntry
from db.users import create_user
from sync.account_settings import SettingsRefused, save_part, settings_for
from tests.conftest import drain

PASSWORD = "correct horse battery"


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def user(rt: Any, account: str, role: Role) -> tuple[int, str]:
    with rt.session() as s:
        acct = get_or_create_account(s, account)
        email = f"{role.value}@{account.lower().replace(' ', '-')}.example.com"
        create_user(s, acct, email, PASSWORD, role)
        return acct.id, email


def signed_in(client: Any, email: str) -> str:
    """Signs the test client in; returns a CSRF token of its session."""
    token = csrf_in(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    return csrf_in(client.get("/").get_data(as_text=True))


def add_store(rt: Any, account_id: int, domain: str) -> int:
    with rt.session() as s:
        store = Store(
            account_id=account_id, platform=Platform.shopify, domain=domain, state=StoreState.active
        )
        s.add(store)
        s.flush()
        return store.id


@pytest.fixture
def owner(rt: Any, client: Any) -> dict[str, Any]:
    account_id, email = user(rt, "North", Role.owner)
    return {"account_id": account_id, "csrf": signed_in(client, email)}


# --------------------------------------------------------------------------- settings page


@pytest.mark.parametrize("role", [Role.staff, Role.packer])
def test_only_the_owner_opens_settings(rt: Any, client: Any, role: Role) -> None:
    _, email = user(rt, "North", role)
    token = signed_in(client, email)
    assert client.get("/app/settings").status_code == 403
    answer = client.post("/app/settings/risk", data={"csrf_token": token, "approve_below": "10"})
    assert answer.status_code == 403
    with rt.session() as s:
        assert s.scalars(select(AccountSettings)).all() == []


def test_a_bad_value_is_named_and_nothing_is_saved(rt: Any, client: Any, owner: dict[str, Any]) -> None:
    page = client.get("/app/settings")
    assert page.status_code == 200
    weights = dict(rt.settings.risk.weights)
    form = {"csrf_token": owner["csrf"], "approve_below": "20", "reject_at": "80", "high_value": "lots"}
    form.update({f"weights.{k}": str(v) for k, v in weights.items()})
    form["weights.velocity"] = "-"
    answer = client.post("/app/settings/risk", data=form)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="err-high_value"' in html and 'id="err-weights-velocity"' in html
    assert "Nothing was saved" in html
    with rt.session() as s:
        assert s.get(AccountSettings, owner["account_id"]) is None
        assert s.scalars(select(TimelineEntry).where(TimelineEntry.subject == "settings")).all() == []
    assert settings_for(rt, owner["account_id"]).risk.approve_below == rt.settings.risk.approve_below


def test_a_good_save_is_kept_with_an_audit_entry(rt: Any, client: Any, owner: dict[str, Any]) -> None:
    form = {"csrf_token": owner["csrf"], "approve_below": "12", "reject_at": "70", "high_value": "250.50"}
    form.update({f"weights.{k}": str(v) for k, v in rt.settings.risk.weights.items()})
    form["weights.velocity"] = "45"
    answer = client.post("/app/settings/risk", data=form)
    assert answer.status_code == 303
    mine = settings_for(rt, owner["account_id"])
    assert (mine.risk.approve_below, mine.risk.reject_at) == (12, 70)
    assert mine.risk.high_value == Decimal("250.50") and mine.risk.weights["velocity"] == 45
    with rt.session() as s:
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.subject == "settings")).one()
        assert entry.account_id == owner["account_id"] and entry.action == "settings.changed"
        assert entry.data["section"] == "risk"
        assert entry.data["before"]["approve_below"] == rt.settings.risk.approve_below
        assert entry.data["after"]["approve_below"] == 12
        assert entry.actor and "owner@north" in entry.actor
    html = client.get("/app/settings").get_data(as_text=True)
    assert "Risk weights</strong> by" in html and "approve_below" in html


def test_one_accounts_settings_do_not_reach_another(rt: Any) -> None:
    with rt.session() as s:
        north, south = get_or_create_account(s, "North").id, get_or_create_account(s, "South").id
    save_part(rt, north, "returns", {"window_days": 5}, "test")
    assert settings_for(rt, north).returns.window_days == 5
    assert settings_for(rt, south).returns.window_days == rt.settings.returns.window_days


def test_an_invalid_box_changes_nothing(rt: Any) -> None:
    with rt.session() as s:
        north = get_or_create_account(s, "North").id
    save_part(
        rt,
        north,
        "boxes",
        {"boxes": [{"name": "S", "length_cm": 20, "width_cm": 15, "height_cm": 10, "max_weight_g": 5000}]},
        "t",
    )
    with pytest.raises(SettingsRefused) as refused:
        save_part(
            rt,
            north,
            "boxes",
            {"boxes": [{"name": "S", "length_cm": 0, "width_cm": 15, "height_cm": 10, "max_weight_g": 5000}]},
            "t",
        )
    assert "boxes.0.length_cm" in refused.value.errors
    assert [b.length_cm for b in settings_for(rt, north).shipping.boxes] == [Decimal("20")]


# --------------------------------------------------------------------------- stores page


def test_stores_page_shows_only_the_accounts_stores(rt: Any, client: Any, owner: dict[str, Any]) -> None:
    mine = add_store(rt, owner["account_id"], "mine.myshopify.com")
    with rt.session() as s:
        other = get_or_create_account(s, "South").id
    theirs = add_store(rt, other, "theirs.myshopify.com")
    html = client.get("/app/stores").get_data(as_text=True)
    assert "mine.myshopify.com" in html and "theirs.myshopify.com" not in html
    assert "Connect a sandbox" not in html  # not sandbox mode
    assert client.get(f"/app/stores/{theirs}/card").status_code == 404
    refused = client.post(f"/app/stores/{theirs}/reconcile", data={"csrf_token": owner["csrf"]})
    assert refused.status_code == 404
    assert (
        client.post(
            "/app/stores/sandbox", data={"csrf_token": owner["csrf"], "platform": "shopify"}
        ).status_code
        == 404
    )
    asked = client.post(f"/app/stores/{mine}/catalog", data={"csrf_token": owner["csrf"]})
    assert asked.status_code == 303
    with rt.session() as s:
        store = s.get(Store, mine)
        assert store is not None and store.settings["catalog_progress"]["step"] in (
            "queued",
            "reading",
            "failed",
        )
        assert s.get(Store, theirs).settings.get("catalog_progress") is None  # type: ignore[union-attr]


def test_reconcile_now_needs_the_csrf_token(rt: Any, client: Any, owner: dict[str, Any]) -> None:
    mine = add_store(rt, owner["account_id"], "mine.myshopify.com")
    assert client.post(f"/app/stores/{mine}/reconcile").status_code == 400
    with rt.session() as s:
        assert "reconcile_requested_at" not in (s.get(Store, mine).settings or {})  # type: ignore[union-attr]


# --------------------------------------------------------------------------- failed jobs


def test_failed_jobs_are_scoped_and_retried(rt: Any, client: Any, owner: dict[str, Any]) -> None:
    with rt.session() as s:
        other = get_or_create_account(s, "South").id
        mine = DeadLetter(
            account_id=owner["account_id"],
            job_id="noop-mine",
            name="noop",
            queue="intake",
            kwargs={},
            error="Boom: mine",
            attempts=6,
        )
        theirs = DeadLetter(
            account_id=other,
            job_id="noop-theirs",
            name="noop",
            queue="intake",
            kwargs={},
            error="Boom: theirs",
            attempts=6,
        )
        s.add_all([mine, theirs])
        s.flush()
        mine_id, theirs_id = mine.id, theirs.id
    html = client.get("/app/jobs").get_data(as_text=True)
    assert "Boom: mine" in html and "Boom: theirs" not in html
    assert client.post(f"/app/jobs/{theirs_id}/retry", data={"csrf_token": owner["csrf"]}).status_code == 404
    assert client.post(f"/app/jobs/{mine_id}/retry", data={"csrf_token": owner["csrf"]}).status_code == 303
    drain(rt)
    with rt.session() as s:
        assert s.get(DeadLetter, mine_id).state == "retried"  # type: ignore[union-attr]
        assert s.get(DeadLetter, theirs_id).state == "dead"  # type: ignore[union-attr]
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.subject == f"job:{mine_id}")).one()
        assert entry.action == "job.retried"
    assert "Boom: mine" not in client.get("/app/jobs").get_data(as_text=True)


def test_a_packer_cannot_open_stores_or_jobs(rt: Any, client: Any) -> None:
    _, email = user(rt, "North", Role.packer)
    signed_in(client, email)
    assert client.get("/app/stores").status_code == 403
    assert client.get("/app/jobs").status_code == 403


def test_a_dead_letter_names_the_account_its_job_worked_for(rt: Any) -> None:
    from sync.jobs import account_of

    with rt.session() as s:
        north = get_or_create_account(s, "North").id
    store_id = add_store(rt, north, "north.myshopify.com")
    with rt.session() as s:
        assert account_of(s, {"store_id": store_id}) == north
        assert account_of(s, {"account_id": north}) == north
        assert account_of(s, {"store_id": store_id + 100}) is None  # gone: shown to nobody
        assert account_of(s, {}) is None  # a job of the whole service
