"""The public returns portal through the Flask test client: finding an order (number plus
e-mail or postcode, forgiving case and spaces), the same answer for an unknown order and a
wrong e-mail or postcode, the rate limit's 429, signed tokens, CSRF, the item form (checked
before anything is written), a request landing once through the returns flow, and the
return's page with its refusal or its label.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import Order, Return, ReturnItem, TimelineEntry
from sync.returns.links import order_for, order_token, return_for, return_token
from sync.tracking.links import token_for
from tests.integration.returns_shops import north_and_south
from tests.integration.test_shipping_api import canonical
from tests.integration.test_tracking_desk import T0

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["returns"] = {"portal_rate_limit": "100 per minute"}
    config["tracking"] = {"merchants": {"north": {"name": "North Wind Outfitters"}}}
    return config


@pytest.fixture
def shop(rt: Any) -> dict[str, Any]:
    """``north`` with order #1001 (two mugs, one tee) delivered two days ago; ``south`` with its own #1001."""
    other = canonical("1001", [("CAP-RED", 1)])
    other["email"] = "zed@example.com"
    other["shipping_address"]["postal_code"] = "90210"
    other["billing_address"]["postal_code"] = "90210"
    return north_and_south(rt, south_number="1001", south_data=other, ship_south=False)


def csrf(client: Any, path: str = "/returns") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found is not None
    return found.group(1)


def look_up(client: Any, number: str, contact: str, token: str | None = None) -> Any:
    return client.post(
        "/returns", data={"number": number, "contact": contact, "csrf_token": token or csrf(client)}
    )


def order_page(client: Any, shop: dict[str, Any]) -> tuple[str, str]:
    """(the order page's address, its HTML) after a lookup by e-mail."""
    resp = look_up(client, "#1001", "ada@example.com")
    assert resp.status_code == 303
    path = resp.headers["Location"]
    return path, client.get(path).get_data(as_text=True)


def form_fields(html: str) -> dict[str, str]:
    return {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "key": re.search(r'name="key" value="([^"]+)"', html).group(1),  # type: ignore[union-attr]
    }


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def count_returns(rt: Any) -> int:
    with rt.session() as s:
        return int(s.scalar(select(func.count(Return.id))) or 0)


@pytest.mark.parametrize(
    ("number", "contact"),
    [
        ("#1001", "ada@example.com"),
        ("1001", "  ADA@Example.COM "),
        (" # 1001 ", "11201"),
        ("1001", " 112 01 "),
    ],
)
def test_an_order_is_found_by_number_and_e_mail_or_postcode(
    rt: Any, client: Any, shop: dict[str, Any], number: str, contact: str
) -> None:
    resp = look_up(client, number, contact)
    assert resp.status_code == 303
    token = resp.headers["Location"].rsplit("/", 1)[1]
    assert order_for(rt, token) == shop["order"]  # north's #1001, not south's


def test_the_other_merchants_order_of_the_same_number_is_found_by_its_own_contact(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    resp = look_up(client, "1001", "90210")
    assert resp.status_code == 303
    assert order_for(rt, resp.headers["Location"].rsplit("/", 1)[1]) == shop["south_order"]


def test_a_wrong_e_mail_or_postcode_answers_exactly_like_an_unknown_order(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    answers = [
        look_up(client, "9999", "ada@example.com"),  # no such order
        look_up(client, "1001", "eve@example.com"),  # the order, a wrong e-mail
        look_up(client, "1001", "10001"),  # the order, a wrong postcode
        look_up(client, "1001", "zed@example.com "),  # another merchant's order's e-mail... of #1001: found
    ]
    assert answers[3].status_code == 303  # (the control: the same form does find an order)
    first = answers[0]
    assert first.status_code == 404
    assert "Order not found" in first.get_data(as_text=True)
    for other in answers[1:3]:
        assert other.status_code == first.status_code
        assert other.get_data() == first.get_data()  # byte for byte
        assert other.headers.get("Content-Type") == first.headers.get("Content-Type")
    assert b"1001" not in first.get_data() and b"ada" not in first.get_data()


def test_an_erased_order_is_not_found(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    unknown = look_up(client, "9999", "ada@example.com")
    with rt.session() as s:
        s.get(Order, shop["order"]).redacted_at = T0  # type: ignore[union-attr]
    erased = look_up(client, "1001", "ada@example.com")
    assert (erased.status_code, erased.get_data()) == (unknown.status_code, unknown.get_data())


def test_the_tracking_page_links_here_with_the_order_number_filled_in(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    tracking = client.get(f"/t/{token_for(rt, shop['parcel'])}").get_data(as_text=True)
    link = re.search(r'href="([^"]+)">Start a return', tracking)
    assert link is not None
    html = client.get(link.group(1)).get_data(as_text=True)
    assert 'name="number" value="#1001"' in html
    assert 'name="contact"' in html and "ada@example.com" not in html  # the customer still proves it
    assert 'name="number" value=""' in client.get("/returns?token=forged").get_data(as_text=True)


def test_a_lookup_without_the_csrf_token_is_refused(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    resp = client.post("/returns", data={"number": "1001", "contact": "ada@example.com"})
    assert resp.status_code == 400
    assert "Location" not in resp.headers


def test_tokens_are_signed_typed_and_expire(rt: Any, shop: dict[str, Any]) -> None:
    token = order_token(rt, shop["order"])
    assert order_for(rt, token) == shop["order"]
    assert return_for(rt, token) is None  # an order's token is not a return's
    assert order_for(rt, return_token(rt, shop["order"])) is None
    assert order_for(rt, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    assert order_for(rt, token, max_age_s=-1) is None  # expired
    assert order_for(rt, "x" * 400) is None


def test_pages_of_a_bad_token_are_the_plain_404(client: Any, shop: dict[str, Any]) -> None:
    for path in ("/returns/o/nope", "/returns/r/nope", "/returns/o/" + "a" * 500):
        resp = client.get(path)
        assert resp.status_code == 404 and "Page not found" in resp.get_data(as_text=True)


def test_the_order_page_lists_what_can_be_returned(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    path, html = order_page(client, shop)
    assert "North Wind Outfitters" in html and "Return items from order #1001" in html
    assert "Mug-12Oz" in html and "Tee-Blk-M" in html and "Bought 2" in html
    assert '<option value="defective">Defective (photo needed)</option>' in html
    assert "ada@example.com" not in html and "Analytical" not in html  # no personal data
    resp = client.get(path)
    assert resp.headers["Referrer-Policy"] == "same-origin" and resp.headers["Cache-Control"] == "no-store"
    assert "form-action 'self'" in resp.headers["Content-Security-Policy"]


def test_a_request_lands_once_and_shows_its_state(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    path, html = order_page(client, shop)
    form = {**form_fields(html), "resolution": "refund", "qty-0": "1", "reason-0": "unwanted", "qty-1": "0"}
    resp = client.post(path, data=form)
    assert resp.status_code == 303
    again = client.post(path, data=form)  # the same form sent twice: the same return's page
    # (the signed token carries its time, so the two addresses may differ by a second)
    first, second = (r.headers["Location"].rsplit("/", 1)[-1] for r in (resp, again))
    assert return_for(rt, first) is not None and return_for(rt, first) == return_for(rt, second)
    assert count_returns(rt) == 1
    with rt.session() as s:
        ret = s.scalars(select(Return)).one()
        items = s.scalars(select(ReturnItem)).all()
        assert (ret.source, ret.state, ret.order_id, ret.key) == (
            "portal",
            "approved",
            shop["order"],
            ret.key,
        )
        assert ret.key.startswith("portal:")
        assert [(i.line_id, i.quantity, i.reason) for i in items] == [("0", 1, "unwanted")]
        actions = s.scalars(
            select(TimelineEntry.action).where(TimelineEntry.subject == f"order:{ret.order_id}")
        )
        assert {"return.requested", "return.approved"} <= set(actions)
    status = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Approved. Your return label is on its way." in status and "1 &times;</span> Mug-12Oz" in status
    # The page now counts the unit as in a return: one mug left to return.
    html = client.get(path).get_data(as_text=True)
    assert "Bought 2, 1 already in a return" in html and "Return 1</a>" in html


def test_a_refused_request_shows_the_rule_in_words(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    rt.now = lambda: T0 + timedelta(days=60)  # past the 30-day window
    path, html = order_page(client, shop)
    form = {**form_fields(html), "qty-0": "2", "reason-0": "unwanted"}
    resp = client.post(path, data=form)
    assert resp.status_code == 303
    status = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "We cannot accept this return." in status
    with rt.session() as s:
        ret = s.scalars(select(Return)).one()
        reasons = [r["reason"] for r in ret.decision["refusals"]]
    assert ret.state == "refused" and reasons
    assert all(reason in status for reason in reasons)
    assert "Print your return label" not in status


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"qty-0": "0", "qty-1": "0"}, "Choose at least one item to return."),
        ({"qty-0": "3", "reason-0": "unwanted"}, "Mug-12Oz: choose how many to return (0 to 2)."),
        ({"qty-0": "-1", "reason-0": "unwanted"}, "Mug-12Oz: choose how many to return (0 to 2)."),
        ({"qty-0": "1", "reason-0": "bored"}, "Mug-12Oz: choose a reason."),
        ({"qty-0": "1", "reason-0": "other", "note-0": "x" * 1001}, "longer than 1000 characters"),
        ({"qty-0": "1", "reason-0": "unwanted", "resolution": "swap"}, "Choose a refund or an exchange."),
        ({"qty-0": "1", "reason-0": "unwanted", "resolution": "exchange"}, "choose the variant you want"),
        ({"qty-0": "1", "reason-0": "unwanted", "key": "short"}, "The form was incomplete."),
    ],
)
def test_a_bad_form_is_answered_with_the_problem_and_writes_nothing(
    rt: Any, client: Any, shop: dict[str, Any], fields: dict[str, str], problem: str
) -> None:
    path, html = order_page(client, shop)
    resp = client.post(path, data={**form_fields(html), **fields})
    assert resp.status_code == 400
    assert problem in resp.get_data(as_text=True)
    assert count_returns(rt) == 0


def test_a_photo_must_be_an_image_and_is_kept_with_the_item(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    path, html = order_page(client, shop)
    fields = {**form_fields(html), "qty-0": "1", "reason-0": "defective"}
    bad = client.post(path, data={**fields, "photo-0": (BytesIO(b"<script>"), "x.png")})
    assert bad.status_code == 400 and "must be a JPEG, PNG or WebP image" in bad.get_data(as_text=True)
    assert count_returns(rt) == 0
    good = client.post(path, data={**fields, "photo-0": (BytesIO(PNG), "mug.png")})
    assert good.status_code == 303
    with rt.session() as s:
        ret = s.scalars(select(Return)).one()
        item = s.scalars(select(ReturnItem)).one()
    assert ret.state == "approved"  # the defective reason's photo was given
    assert item.photo_url is not None and item.photo_url.startswith("photos/")
    assert (rt.settings.var_dir / "returns" / item.photo_url).read_bytes() == PNG


def test_a_defective_item_without_a_photo_is_refused_by_policy(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    path, html = order_page(client, shop)
    resp = client.post(path, data={**form_fields(html), "qty-0": "1", "reason-0": "defective"})
    with rt.session() as s:
        ret = s.scalars(select(Return)).one()
    assert ret.state == "refused"
    assert [r["rule"] for r in ret.decision["refusals"]] == ["photo_required"]
    assert "We cannot accept this return." in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_the_label_link_shows_once_bought(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    path, html = order_page(client, shop)
    resp = client.post(path, data={**form_fields(html), "qty-1": "1", "reason-1": "unwanted"})
    with rt.session() as s:
        ret = s.scalars(select(Return)).one()
        ret.state = "label_sent"
        ret.label = {"label_url": "https://labels.example.com/r1.png", "tracking_code": "9400RET"}
        ret.tracking_code = "9400RET"
    status = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'href="https://labels.example.com/r1.png"' in status and "9400RET" in status
    with rt.session() as s:
        s.scalars(select(Return)).one().label = {"label_url": "javascript:alert(1)"}
    assert "javascript:" not in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_the_products_other_variants_are_offered_for_an_exchange(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    from db.models import CatalogLink, Store

    with rt.session() as s:
        store = s.scalars(select(Store).where(Store.account_id == shop["account"])).one()
        for sku, variant in (("TEE-BLK-M", 21), ("TEE-BLK-L", 22)):
            s.add(
                CatalogLink(
                    account_id=shop["account"],
                    store_id=store.id,
                    sku=sku,
                    product_id=10,
                    variant_id=variant,
                    title=f"Tee {sku[-1]}",
                )
            )
    _, html = order_page(client, shop)
    tee = html[html.index('id="line-1"') :].split("</fieldset>")[0]
    assert '<option value="TEE-BLK-L">Tee L</option>' in tee
    assert '<option value="TEE-BLK-M">' not in tee  # not the one bought


def test_the_lookup_is_rate_limited_per_client(app: Any, rt: Any, shop: dict[str, Any]) -> None:
    rt.settings.returns.portal_rate_limit = "3 per minute"
    client = app.test_client()
    token = csrf(client)
    answers = [look_up(client, "1001", f"guess{n}@example.com", token).status_code for n in range(3)]
    assert answers == [404, 404, 404]
    limited = look_up(client, "1001", "ada@example.com", token)  # even the right e-mail, now
    assert limited.status_code == 429
    assert "Too many attempts" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) > 0
    assert client.get("/returns").status_code == 200  # the form itself is not limited
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert look_up(elsewhere, "1001", "ada@example.com").status_code == 303


def test_the_count_is_kept_in_redis_in_production_and_in_memory_embedded(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    from limits.storage import MemoryStorage, RedisStorage

    from web.returns_portal import limiter

    assert look_up(client, "1001", "guess@example.com").status_code == 404
    if rt.settings.redis_url:  # production mode: every worker process shares the count
        from redis import Redis

        assert isinstance(limiter.storage, RedisStorage)
        assert Redis.from_url(rt.settings.redis_url).keys("*waybill-returns*returns-lookup*")
    else:
        assert isinstance(limiter.storage, MemoryStorage)


def test_the_customer_cancels_until_the_parcel_moves(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    path, html = order_page(client, shop)
    made = client.post(path, data={**form_fields(html), "qty-0": "1", "reason-0": "unwanted"})
    status_path = made.headers["Location"]
    page = client.get(status_path).get_data(as_text=True)
    assert 'id="cancel"' in page
    token = csrf_in(page)
    assert client.post(f"{status_path}/cancel").status_code == 400  # no CSRF token: refused
    with rt.session() as s:
        assert s.scalars(select(Return)).one().state == "approved"
    done = client.post(f"{status_path}/cancel", data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"] == status_path
    after = client.get(status_path).get_data(as_text=True)
    assert "This return is closed." in after and 'id="cancel"' not in after
    with rt.session() as s:
        ret = s.scalars(select(Return)).one()
        actions = list(s.scalars(select(TimelineEntry.reason).where(TimelineEntry.action == "return.closed")))
    assert ret.state == "closed" and any("cancelled by the customer" in (a or "") for a in actions)
    # The mug can be asked for again: a closed return holds no units.
    assert "Bought 2</p>" in client.get(path).get_data(as_text=True)


def test_a_return_on_its_way_back_cannot_be_cancelled(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    path, html = order_page(client, shop)
    made = client.post(path, data={**form_fields(html), "qty-0": "1", "reason-0": "unwanted"})
    status_path = made.headers["Location"]
    token = csrf_in(client.get(status_path).get_data(as_text=True))
    with rt.session() as s:
        ret = s.scalars(select(Return)).one()
        ret.state, ret.first_scan_at = "in_transit", T0 + timedelta(days=5)
    assert 'id="cancel"' not in client.get(status_path).get_data(as_text=True)
    refused = client.post(f"{status_path}/cancel", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "This return can no longer be cancelled." in refused.get_data(as_text=True)
    with rt.session() as s:
        assert s.scalars(select(Return)).one().state == "in_transit"
    assert client.post("/returns/r/forged/cancel", data={"csrf_token": token}).status_code == 404


def test_without_a_prepaid_label_the_page_says_where_to_send_the_parcel(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    rt.settings.returns.merchants = {}
    rt.settings.returns.label = "none"
    rt.settings.returns.address = {
        "name": "North Wind Returns",
        "street1": "1 Dock Rd",
        "city": "Portland",
        "state": "ME",
        "zip": "04101",
        "country": "US",
        "phone": "555-0100",
    }
    path, html = order_page(client, shop)
    made = client.post(path, data={**form_fields(html), "qty-0": "1", "reason-0": "unwanted"})
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "Approved. Please send the items back to the address below." in page
    assert "North Wind Returns<br>1 Dock Rd<br>Portland<br>ME<br>04101<br>US<br>" in page
    assert "555-0100" not in page and "label is on its way" not in page
    assert "Return 1</a>: Approved. Please send the items back" in client.get(path).get_data(as_text=True)
