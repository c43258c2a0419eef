"""Issue 19 acceptance: returns across both storefronts, from the customer's request to the refund.

Orders on a Shopify shop and a WooCommerce store are placed, shipped and delivered (the
EasyPost simulator's clock moves their trackers; Waybill's clock, ``rt.now``, is the
carrier's). Then customers return them through the doors a real customer or merchant uses:

- the returns portal, over HTTP against the running app (look-up by order number and
  e-mail or postcode, then the signed page's form: item, quantity, reason, exchange);
- the storefront: a Shopify customer's return request (``returns/request`` from the
  simulator) and a refund a WooCommerce merchant makes in the admin (``order.updated``).

The mix (per 20 returns): 12 refunds, 5 exchanges, 2 outside policy (one past the window,
one of a non-returnable product), 1 flagged by an evidence rule (its parcel arrives far
lighter than it left). EasyPost answers 5xx and loses answers while return labels are
bought; one worker is killed (SIGKILL, a real process) by the storefront right after it
made a refund, before the answer reaches it.

Counted at the simulators, not from Waybill's records:

- every accepted return has exactly one return label (EasyPost ``is_return`` shipments
  bought) and exactly one refund (Shopify refunds, WooCommerce order refunds) or one
  exchange shipment (an outbound label to the customer beyond the original one);
- refused returns have no label and no refund; a Shopify request refused is declined on
  Shopify with the refusing rule in its note; a portal refusal shows its rule to the customer;
- no refund is made before its evidence: when each refund reached the storefront, the
  return parcel's tracker at EasyPost said delivered and the inspection had been posted;
- held returns have no refund until a person approves them, then exactly one;
- restocked units appear on every channel: each channel's stock level is the one worked
  out here from the units sold, shipped in exchange and returned resellable.

``make returns-drill`` runs it with 200 returns (``WAYBILL_RETURNS_DRILL``); ``make test``
runs 20: the drill's whole mix once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from db.models import DeadLetter, Effect, EffectState, Order, Store
from sandbox.easypost import EasyPostSimulator
from sandbox.harness import FakeClock, Faults, RunningServer, serve
from sandbox.woocommerce import WooCommerceSimulator
from tests.conftest import drain
from tests.e2e.conftest import (
    EP_KEY,
    EP_WEBHOOK_SECRET,
    HTTP_TIMEOUT_S,
    SHOP,
    ShopifySandbox,
    install_shopify,
    install_woocommerce,
    new_token,
    sign_in,
    stores,
)
from tests.e2e.test_pipeline_acceptance import shopify_in_real_time

ROOT = Path(__file__).resolve().parents[2]
RETURNS = int(os.environ.get("WAYBILL_RETURNS_DRILL", "20"))
MERCHANT = "North Wind Trading"
TEE_M, TEE_L, GIFT = "TEE-M", "TEE-L", "GIFT-BOX"  # a tee in two sizes (same price), a gift box (final)
PRICE = Decimal("19.00")
GRAMS = 400
STOCK = 1000
DAY = 86400.0
STEP_S = 6 * 3600.0
CARRIER_LEAD_S = 75 * DAY  # more than the drill's carrier days (35 + three journeys of up to ~10)
FAST_RETRY = {"max": 15, "base_s": 0.01, "factor": 1.5, "max_s": 0.2, "jitter": 0.1}
LEASE_S = 2.0
KILL_SCRIPT = """
import json, sys
from settings import load_settings
from sync.runtime import build_runtime
from sync.returns.refunds import refund_return

rt = build_runtime(load_settings(json.loads(sys.argv[1])))
print(refund_return(rt, int(sys.argv[2])), flush=True)
"""
# What a refusal says to the customer or the storefront: the rule's name or the policy's words.
RULE_WORDS = {"window": "return window", "non_returnable": "cannot be returned"}
REFUND_OPS = {"returnProcess", "refundCreate", "refunds.create"}  # storefront ops that make refunds


# --- the drill's plan ------------------------------------------------------------------------


@dataclass
class Case:
    """One return of the drill: its order, the door it comes through and what must happen."""

    n: int
    platform: str  # shopify | woocommerce
    kind: str  # refund | exchange | refused | held
    door: str  # portal | storefront
    rule: str | None = None  # the refusing rule, for refused ones
    condition: str = "resellable"
    order_id: int = 0  # the storefront's order id
    order_name: str = ""  # what the customer types in the portal
    email: str = ""
    postcode: str = ""
    street: str = ""  # unique per order: finds its parcels at EasyPost
    waybill_order_id: int = 0
    return_id: int | None = None


def plan(n: int) -> Case:
    """12 refunds, 5 exchanges, 2 refused and 1 held in each 20; both stores take every kind."""
    p = n % 20
    platform = "shopify" if (n + n // 20) % 2 == 0 else "woocommerce"
    if p < 12:
        case = Case(n, platform, "refund", "storefront" if p < 4 else "portal")
        case.condition = "damaged" if p == 5 else "resellable"
        return case
    if p < 17:
        return Case(n, platform, "exchange", "portal")
    if p == 17:
        return Case(n, platform, "refused", "portal", rule="window")
    if p == 18:
        door = "storefront" if platform == "shopify" else "portal"
        return Case(n, platform, "refused", door, rule="non_returnable")
    return Case(n, platform, "held", "portal", condition="resellable")


def sku_of(case: Case) -> str:
    return GIFT if case.rule == "non_returnable" else TEE_M


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def carrier_server() -> Iterator[RunningServer]:
    """An EasyPost simulator of this module's own, on a fake clock that only the test moves.

    It starts :data:`CARRIER_LEAD_S` in the past, so the drill's carrier days end before the
    wall clock: the times Waybill stamps itself (label bought, inspected) then come after the
    carrier's (delivered), as they do in production."""
    start = time.time() - CARRIER_LEAD_S
    sim = EasyPostSimulator(
        api_keys=[EP_KEY], webhook_secret=EP_WEBHOOK_SECRET, clock=FakeClock(start), seed=19
    )
    server = serve(sim)
    yield server
    server.stop()


@pytest.fixture
def config(config: dict[str, Any], carrier_server: RunningServer) -> dict[str, Any]:
    config["risk"] = {"verify_addresses": False, "approve_below": 1000, "reject_at": 1001}
    config["inventory"] = {"settle_s": 0}
    config["easypost"] = {**config["easypost"], "base_url": carrier_server.url}
    config["effects"] = {"lease_s": LEASE_S}
    config["queue"] = {"retry": FAST_RETRY}
    config["shipping"] = {
        "ship_from": {
            "name": "North Wind Trading",
            "street1": "1 Warehouse Way",
            "city": "Oakland",
            "state": "CA",
            "zip": "94607",
            "country": "US",
            "phone": "5105550100",
        }
    }
    config["returns"] = {
        "window_days": 30,
        "non_returnable_skus": [GIFT],
        "exchange_allowed": True,
        "exchange_difference": "refund",
        "refund_after": "inspected",
        "label": "prepaid",
        "portal_rate_limit": "10000 per minute",  # every customer of the drill comes from 127.0.0.1
    }
    return config


@pytest.fixture
def carrier(carrier_server: RunningServer, public_url: str) -> EasyPostSimulator:
    sim: EasyPostSimulator = carrier_server.app
    sim.reset()
    sim.events.create_webhook("test", {"url": f"{public_url}/webhooks/easypost"})
    return sim


@dataclass
class World:
    rt: Any
    shopify: ShopifySandbox
    woo: WooCommerceSimulator
    carrier: EasyPostSimulator
    public_url: str
    token: str
    stores: dict[str, Store]
    cases: list[Case] = field(default_factory=list)
    inspected: set[int] = field(default_factory=set)  # case numbers whose inspection was posted
    reviewed: set[int] = field(default_factory=set)  # held cases a person approved
    refunds_seen: dict[str, dict[str, Any]] = field(default_factory=dict)  # refund ref -> evidence then
    faults: Counter[str] = field(default_factory=Counter)  # EasyPost's injected 5xx and lost answers

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.request(
            method, f"{self.public_url}/api/v1{path}", headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs
        )

    def flush(self) -> None:
        for _ in range(30):
            sent = len(self.shopify.deliver_due()) + len(self.woo.deliver_webhooks())
            drain(self.rt, timeout_s=300)
            if not sent:
                return
        raise AssertionError("the storefronts kept sending webhooks")

    def advance(self, seconds: float, step_s: float = STEP_S) -> None:
        """The carrier's clock moves in steps; Waybill hears each step's Events and its jobs run."""
        moved = 0.0
        while moved < seconds:
            step = min(step_s, seconds - moved)
            self.carrier.advance(step)
            moved += step
            self.flush()

    def until_home(self, most_s: float = 30 * DAY) -> None:
        """The carrier's clock moves until every parcel's journey is over (all scans made)."""
        moved = 0.0
        while moved < most_s:
            with self.carrier._lock:
                if self.carrier.tracking.next_scan_at() is None:
                    return
            self.advance(STEP_S)
            moved += STEP_S
        raise AssertionError(f"parcels still travelling after {most_s / DAY:.0f} carrier days")


@pytest.fixture
def world(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    carrier: EasyPostSimulator,
    browser: requests.Session,
    public_url: str,
) -> World:
    """Both stores installed, the catalog imported, every SKU counted at :data:`STOCK` on the ledger."""
    rt.now = lambda: datetime.fromtimestamp(carrier.clock.now(), UTC)
    shopify.add_product(
        SHOP,
        "Tee",
        [
            {"sku": TEE_M, "price": str(PRICE), "available": STOCK, "grams": GRAMS, "title": "M"},
            {"sku": TEE_L, "price": str(PRICE), "available": STOCK, "grams": GRAMS, "title": "L"},
        ],
    )
    shopify.add_product(
        SHOP, "Gift box", [{"sku": GIFT, "price": "30.00", "available": STOCK, "grams": GRAMS}]
    )
    tee = woo.add_product("Tee", type="variable")
    for sku, size in ((TEE_M, "M"), (TEE_L, "L")):
        woo.add_variation(tee, sku, price=str(PRICE), stock=STOCK, weight=str(GRAMS / 1000), size=size)
    woo.add_product("Gift box", sku=GIFT, price="30.00", stock=STOCK, weight=str(GRAMS / 1000))
    sign_in(browser, public_url, rt, MERCHANT)
    assert install_shopify(browser, public_url).status_code == 200
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    shop_store, woo_store = stores(rt)
    token, _ = new_token(rt, MERCHANT)
    w = World(rt, shopify, woo, carrier, public_url, token, {"shopify": shop_store, "woocommerce": woo_store})
    from sync import catalog

    for store in (shop_store, woo_store):
        catalog.import_catalog(rt, store_id=store.id)
    w.flush()
    for sku in (TEE_M, TEE_L, GIFT):
        counted = w.api("POST", f"/inventory/{sku}/counts", json={"on_hand": STOCK, "note": "drill start"})
        assert counted.status_code in (200, 201), counted.text
    w.flush()
    return w


# --- orders, shipped and delivered -----------------------------------------------------------


def place(w: World, case: Case) -> None:
    case.street = f"{100 + case.n} Market Street"
    case.email = f"c{case.n}@example.com"
    case.postcode = f"{10000 + case.n}"
    lines = [(sku_of(case), 2)]
    if case.platform == "shopify":
        address = {"name": f"Buyer {case.n}", "address1": case.street, "city": "New York"}
        address |= {"provinceCode": "NY", "zip": case.postcode, "countryCode": "US"}
        order = w.shopify.place_order(SHOP, lines, email=case.email, shipping_address=address)
        case.order_id, case.order_name = int(order.id), str(order.name)
        return
    ship = {"first_name": "Buyer", "last_name": str(case.n), "address_1": case.street, "city": "New York"}
    ship |= {"state": "NY", "postcode": case.postcode, "country": "US"}
    billing = {**ship, "email": case.email}
    case.order_id = int(w.woo.place_order(lines, billing=billing, shipping=ship))
    case.order_name = str(case.order_id)


def deliver_orders(w: World, cases: list[Case]) -> None:
    """Place, ship (labels, fulfilments written back) and deliver the orders of ``cases``."""
    for case in cases:
        place(w, case)
    w.flush()
    w.until_home()
    with w.rt.session() as s:
        found = {(o.store_id, o.platform_order_id): o for o in s.scalars(select(Order))}
    for case in cases:
        order = found[(w.stores[case.platform].id, str(case.order_id))]
        case.waybill_order_id = order.id
        assert order.stage == "delivered", (case, order.stage, order.hold_reason)


# --- the doors -------------------------------------------------------------------------------


class Forms(HTMLParser):
    """The forms of a page: action, method, and their fields (inputs, selects with options)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._select: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get"), "fields": []})
        elif not self.forms:
            return
        elif tag in ("input", "textarea"):
            self.forms[-1]["fields"].append({"tag": tag, **a})
        elif tag == "select":
            self._select = {"tag": "select", "name": a.get("name", ""), "options": []}
            self.forms[-1]["fields"].append(self._select)
        elif tag == "option" and self._select is not None:
            self._select["options"].append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def forms_of(page: requests.Response) -> list[dict[str, Any]]:
    parser = Forms()
    parser.feed(page.text)
    return parser.forms


def fill(form: dict[str, Any], choose: Callable[[dict[str, Any]], str | None]) -> dict[str, str]:
    """The form's hidden and default values, with ``choose(field)`` deciding the others."""
    data: dict[str, str] = {}
    for f in form["fields"]:
        name = f.get("name")
        if not name:
            continue
        picked = choose(f)
        if picked is not None:
            data[name] = picked
        elif f.get("type") in ("hidden",) or (f.get("type") in ("text", "number", None) and f.get("value")):
            data[name] = f.get("value", "")
    return data


def portal_request(w: World, case: Case) -> requests.Response:
    """The customer opens the portal, finds the order and asks for one unit back."""
    with requests.Session() as customer:
        start = customer.get(f"{w.public_url}/returns", timeout=HTTP_TIMEOUT_S)
        assert start.status_code == 200, start.text
        by_postcode = case.n % 3 == 0

        def lookup(f: dict[str, Any]) -> str | None:
            name = f.get("name", "").lower()
            if name == "number":
                return case.order_name
            if name == "contact":  # the e-mail address or the postcode, the customer's choice
                return case.postcode if by_postcode else case.email
            return None

        (form,) = [f for f in forms_of(start) if f["method"].lower() == "post"][:1]
        found = customer.post(
            f"{w.public_url}{form['action'] or '/returns'}", data=fill(form, lookup), timeout=HTTP_TIMEOUT_S
        )
        assert found.status_code == 200, (case, found.status_code, found.text[:2000])
        asked = [f for f in forms_of(found) if f["method"].lower() == "post"]
        assert asked, (case, found.text[:2000])
        answer = customer.post(
            requests.compat.urljoin(found.url, asked[0]["action"] or found.url),
            data=fill(asked[0], lambda f: ask_field(case, f)),
            timeout=HTTP_TIMEOUT_S,
        )
        return answer


def ask_field(case: Case, f: dict[str, Any]) -> str | None:
    """The item form: one unit of the order's only line, a reason, the size swap for exchanges."""
    name = f.get("name", "").lower()
    if "qty" in name or "quantity" in name:
        return "1"
    if "reason" in name and f.get("options"):
        options = [o for o in f["options"] if o]
        wanted = "size_too_small" if case.kind == "exchange" else "unwanted"
        return wanted if wanted in options else options[0]
    if "exchange" in name and f.get("options"):
        if case.kind != "exchange":
            return ""
        swaps = [o for o in f["options"] if TEE_L in o]
        assert swaps, f"the portal offers no {TEE_L} in {f}"
        return swaps[0]
    if "resolution" in name:
        return "exchange" if case.kind == "exchange" else "refund"
    if "note" in name:
        return "Drill return"
    return None


def storefront_request(w: World, case: Case) -> None:
    """Shopify: the customer asks in the shop (returns/request). WooCommerce: the merchant
    refunds one unit in the admin with "restock refunded items" ticked (WooCommerce's
    default): the store's level rises, and Waybill must carry that to every channel."""
    if case.platform == "shopify":
        shop = w.shopify.shops[SHOP]
        (line,) = [li for f in shop.fulfillments.values() if f.order_id == case.order_id for li in f.lines]
        w.shopify.request_return(SHOP, case.order_id, [(line.id, 1)], reason="UNWANTED")
        return
    from sandbox.woocommerce.refunds import create_refund

    with w.woo.lock:
        order = w.woo.store.order(case.order_id)
        (item,) = order["line_items"]
        line = {"id": item["id"], "quantity": 1, "refund_total": str(PRICE)}
        create_refund(
            w.woo.store,
            order,
            {
                "amount": str(PRICE),
                "reason": "Customer returned it at the counter",
                "line_items": [line],
                "api_refund": False,  # money handed back at the counter
                "api_restock": True,
            },
        )  # raises order.updated, as the admin's refund does


# --- counting at the simulators --------------------------------------------------------------


def house(street: Any) -> str:
    """The house number of a drill customer's street, however the carrier rewrote the street
    (verification upper-cases and abbreviates it: ``104 MARKET ST``); "" for other addresses."""
    found = re.match(r"\s*(\d+)\s+market\b", str(street or ""), re.IGNORECASE)
    return found.group(1) if found else ""


def at_easypost(w: World) -> tuple[Counter[str], Counter[str], dict[str, dict[str, Any]]]:
    """Per customer (house number): return labels bought, outbound labels bought, and the
    tracker of the return parcel (its status). A return shipment names the customer on one
    side; which side EasyPost shows is its business, so both are searched."""
    returns: Counter[str] = Counter()
    outbound: Counter[str] = Counter()
    trackers: dict[str, dict[str, Any]] = {}
    with w.carrier._lock:
        for label in w.carrier.shipping.labels:
            shipment = w.carrier.shipping.shipments[label["shipment_id"]]
            sides = (shipment["to_address"].get("street1"), shipment["from_address"].get("street1"))
            customer = next((h for h in map(house, sides) if h), "?")
            if shipment["is_return"]:
                returns[customer] += 1
                tracker = w.carrier.tracking.trackers.get(
                    w.carrier.tracking.find(label["tracking_code"]) or ""
                )
                trackers[customer] = {"status": (tracker or {}).get("status")}
            else:
                outbound[customer] += 1
    return returns, outbound, trackers


def refunds_at_storefronts(w: World) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Every refund each storefront holds, by (platform, order id), oldest first."""
    found: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with w.shopify._lock:
        for r in w.shopify.shops[SHOP].refunds.values():
            found.setdefault(("shopify", r.order_id), []).append({"id": f"s{r.id}", "amount": r.amount})
    with w.woo.lock:
        for r in w.woo.store.refunds.values():
            found.setdefault(("woocommerce", r["order_id"]), []).append(
                {"id": f"w{r['id']}", "amount": r["amount"], "reason": r["reason"]}
            )
    return found


def watch_refunds(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the moment each refund reaches a storefront (before its answer leaves), note what the
    carrier and the inspection said then: the evidence the refund had."""
    by_key = {(c.platform, c.order_id): c for c in w.cases}

    def note_new() -> None:
        returns_tracked = at_easypost(w)[2]
        for (platform, order_id), refunds in refunds_at_storefronts(w).items():
            case = by_key.get((platform, order_id))
            for r in refunds:
                if r["id"] in w.refunds_seen or case is None:
                    continue
                w.refunds_seen[r["id"]] = {
                    "n": case.n,
                    "parcel": (returns_tracked.get(house(case.street)) or {}).get("status"),
                    "inspected": case.n in w.inspected,
                    "reviewed": case.n in w.reviewed,
                }

    for sim in (w.shopify, w.woo):
        real = sim.lose_response

        def watched(op: str, real: Callable[[str], bool] = real) -> bool:
            if op in REFUND_OPS:
                note_new()
            return bool(real(op))

        monkeypatch.setattr(sim, "lose_response", watched)


def stock_at_channels(w: World, sku: str) -> dict[str, int]:
    shop = w.shopify.shops[SHOP]
    with w.shopify._lock:
        variant = shop.variant_by_sku(sku)
        assert variant is not None
        level = shop.levels[(variant.inventory_item_id, min(shop.locations))]
    with w.woo.lock:
        product = w.woo.store.find_by_sku(sku)
        assert product is not None
    return {"shopify": int(level.available), "woocommerce": int(product["stock_quantity"])}


# --- the worker killed mid-refund ------------------------------------------------------------


def kill_during_refund(w: World, config: dict[str, Any], case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refund ``case`` in a worker process that the storefront kills once the refund is made."""
    assert case.return_id is not None
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, json.dumps(config, default=str), str(case.return_id)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sim: Any = w.shopify if case.platform == "shopify" else w.woo
    real = sim.lose_response

    def kill_the_refunder(op: str) -> bool:
        if op in REFUND_OPS and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # the refund exists; the worker never hears of it
            proc.wait(timeout=10)
        return bool(real(op))

    monkeypatch.setattr(sim, "lose_response", kill_the_refunder)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        monkeypatch.setattr(sim, "lose_response", real)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, out, err[-3000:])


# --- the drill -------------------------------------------------------------------------------


def return_rows(w: World) -> dict[int, Any]:
    """Waybill's return of each order, with its item (to drive the merchant's API, not to
    check); each drill order has one return, so a second one (a storefront's echo of
    Waybill's own write taken for a new return) fails here."""
    from db.models import Return, ReturnItem

    with w.rt.session() as s:
        rows = list(s.scalars(select(Return).order_by(Return.id)))
        items = {i.return_id: i for i in s.scalars(select(ReturnItem))}
        s.expunge_all()
    twice = Counter(r.order_id for r in rows)
    extra = [(r.id, r.order_id, r.source, r.state, r.key) for r in rows if twice[r.order_id] > 1]
    assert extra == [], f"orders with more than one return: {extra}"
    return {row.order_id: (row, items.get(row.id)) for row in rows}


def count_faults(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Count the faults EasyPost injects (so the drill proves it met some)."""
    inject, lose = w.carrier._inject_faults, w.carrier.lose_response

    def injected() -> Any:
        answer = inject()
        if answer is not None:
            w.faults[f"http_{answer.status_code}"] += 1
        return answer

    def lost(op: str) -> bool:
        if lose(op):
            w.faults[f"lost_{op}"] += 1
            return True
        return False

    monkeypatch.setattr(w.carrier, "_inject_faults", injected)
    monkeypatch.setattr(w.carrier, "lose_response", lost)


def request_returns(w: World) -> dict[int, requests.Response]:
    """Every case's request through its door; EasyPost fails and loses answers meanwhile."""
    w.carrier.faults = Faults(
        seed=19, error_rate=0.10, lost_response_rate=0.10, lost_response_ops=("shipment.buy",), hang_s=0.01
    )
    answers: dict[int, requests.Response] = {}
    for case in w.cases:
        if case.door == "portal":
            answers[case.n] = portal_request(w, case)
            assert answers[case.n].status_code in (200, 201, 303), (case, answers[case.n].text[:2000])
        else:
            storefront_request(w, case)
    w.flush()
    w.carrier.faults = Faults()
    rows = return_rows(w)
    for case in w.cases:
        found = rows.get(case.waybill_order_id)
        assert found is not None, f"no return recorded for {case}"
        case.return_id = found[0].id
    return answers


def inspect(w: World, case: Case, rows: dict[int, Any]) -> None:
    """The warehouse weighs the parcel and grades the unit (POST .../receive)."""
    row, item = rows[case.waybill_order_id]
    shipped_oz = Decimal(GRAMS) / Decimal("28.349523125")
    weight = shipped_oz / 10 if case.kind == "held" else shipped_oz
    w.inspected.add(case.n)
    answer = w.api(
        "POST",
        f"/returns/{row.id}/receive",
        json={
            "conditions": {str(item.id): case.condition},
            "weight_oz": str(weight.quantize(Decimal("0.1"))),
        },
    )
    assert answer.status_code == 200, (case, answer.text, row.decision, row.source)


def test_returns_across_both_stores_refund_once_on_evidence_through_faults_and_a_killed_worker(
    rt: Any,
    config: dict[str, Any],
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert RETURNS % 20 == 0, "the drill's mix is laid out per 20 returns"
    w = world
    w.cases = [plan(n) for n in range(RETURNS)]
    with shopify_in_real_time(w.shopify):
        late = [c for c in w.cases if c.rule == "window"]
        deliver_orders(w, late)
        w.advance(35 * DAY, step_s=5 * DAY)  # the window of these closes; the others are bought afterwards
        deliver_orders(w, [c for c in w.cases if c.rule != "window"])
        watch_refunds(w, monkeypatch)
        count_faults(w, monkeypatch)
        answers = request_returns(w)
        assert w.faults["http_503"] > 0 and w.faults["lost_shipment.buy"] > 0, w.faults
        w.until_home()  # the return parcels travel back to the warehouse
        run_inspections(w, config, monkeypatch)
        check_at_simulators(w, answers, reviewed=False)
        for case in [c for c in w.cases if c.kind == "held"]:
            w.reviewed.add(case.n)
            approved = w.api(
                "POST",
                f"/returns/{case.return_id}/approve",
                json={"reason": "weighed again: fine", "actor": "sam"},
            )
            assert approved.status_code == 200, approved.text
        w.flush()
        check_at_simulators(w, answers, reviewed=True)
        return_rows(w)  # still one return per order: no write of ours came back as a new one
    with rt.session() as s:
        dead = [(d.name, d.kwargs, d.error[-600:]) for d in s.scalars(select(DeadLetter))]
    assert dead == []
    kinds = Counter(f"{c.kind}/{c.door}/{c.platform}" for c in w.cases)
    print(
        f"\nreturns drill: returns={RETURNS} {dict(sorted(kinds.items()))} "
        f"label_buys={w.carrier.calls['shipment.buy']} faults={dict(w.faults)} "
        f"refunds_at_storefronts={sum(len(v) for v in refunds_at_storefronts(w).values())}"
    )


def run_inspections(w: World, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every parcel that came back is received; one refund's worker is killed mid-refund."""
    rows = return_rows(w)
    returned = [
        c
        for c in w.cases
        if c.kind != "refused" and not (c.door == "storefront" and c.platform == "woocommerce")
    ]
    victim = next(
        c for c in returned if c.kind == "refund" and c.door == "portal" and c.platform == "shopify"
    )
    for case in returned:
        inspect(w, case, rows)
    kill_during_refund(w, config, victim, monkeypatch)
    with w.rt.session() as s:
        (claimed,) = s.scalars(select(Effect).where(Effect.key == f"refund:{victim.return_id}"))
        assert claimed.state is EffectState.in_progress
    w.flush()
    with w.rt.session() as s:
        taken_over = s.scalar(select(Effect).where(Effect.key == f"refund:{victim.return_id}"))
        assert taken_over is not None and taken_over.state is EffectState.done and taken_over.attempts >= 2


def check_at_simulators(w: World, answers: dict[int, requests.Response], reviewed: bool) -> None:
    returns, outbound, _ = at_easypost(w)
    refunds = refunds_at_storefronts(w)
    problems: list[str] = []
    for case in w.cases:
        mine = refunds.get((case.platform, case.order_id), [])
        labels, shipped = returns[house(case.street)], outbound[house(case.street)]
        admin_refund = case.door == "storefront" and case.platform == "woocommerce"
        want_label = 0 if case.kind == "refused" or admin_refund else 1
        want_refunds = {"refund": 1, "exchange": 0, "refused": 0, "held": 1 if reviewed else 0}[case.kind]
        want_shipped = 2 if case.kind == "exchange" else 1
        if labels != want_label:
            problems.append(
                f"{case.n} {case.kind} via {case.door}: {labels} return labels, want {want_label}"
            )
        if len(mine) != want_refunds:
            problems.append(
                f"{case.n} {case.kind} on {case.platform}: {len(mine)} refunds, want {want_refunds}"
            )
        if shipped != want_shipped:
            problems.append(f"{case.n} {case.kind}: {shipped} outbound labels, want {want_shipped}")
        for r in mine:
            if not Decimal(0) < Decimal(str(r["amount"])) <= 2 * PRICE:
                problems.append(f"{case.n}: refund {r['amount']} outside (0, {2 * PRICE}]")
            seen = w.refunds_seen.get(r["id"])
            if admin_refund:
                continue
            if seen is None or seen["parcel"] != "delivered" or not seen["inspected"]:
                problems.append(f"{case.n}: refund {r['id']} made on evidence {seen}")
            if case.kind == "held" and not (seen or {}).get("reviewed"):
                problems.append(f"{case.n}: held return refunded before review")
        if case.kind == "refused":
            problems += refusal_problems(w, case, answers.get(case.n))
    problems += stock_problems(w)
    assert problems == [], "\n".join(problems[:40])


def refusal_problems(w: World, case: Case, answer: requests.Response | None) -> list[str]:
    """A refused request carries its rule: Shopify's decline note, or the portal's answer."""
    assert case.rule is not None
    if case.door == "storefront":
        shop = w.shopify.shops[SHOP]
        (ret,) = [r for r in shop.returns.values() if r.order_id == case.order_id]
        note = json.dumps(ret.decline or {}).lower()
        if ret.status != "DECLINED" or not (case.rule in note or RULE_WORDS[case.rule] in note):
            return [f"{case.n}: Shopify return {ret.status} {note}, want DECLINED with {case.rule}"]
        return []
    shown = answer.text if answer is not None else ""
    if not re.search(rf"{case.rule}|{RULE_WORDS[case.rule]}", shown, re.IGNORECASE):
        return [f"{case.n}: the portal's refusal does not say the rule {case.rule}"]
    return []


def stock_problems(w: World) -> list[str]:
    """Each channel's level is the ledger's worked out here: the count, less the units sold
    and shipped in exchange, plus the units returned resellable and those the WooCommerce
    admin restocked with its refund (one store's edit, on every channel)."""
    sold = Counter[str]()
    for case in w.cases:
        sold[sku_of(case)] += 2
        if case.kind == "exchange":
            sold[TEE_L] += 1
    back = Counter[str]()
    for case in w.cases:
        if case.kind in ("refund", "exchange", "held") and case.condition == "resellable":
            back[sku_of(case)] += 1
    problems = []
    for sku in (TEE_M, TEE_L, GIFT):
        want = STOCK - sold[sku] + back[sku]
        levels = stock_at_channels(w, sku)
        if any(v != want for v in levels.values()):
            problems.append(f"{sku}: channels show {levels}, want {want} on each")
    return problems
