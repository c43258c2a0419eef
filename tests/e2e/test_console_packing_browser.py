"""Pick, pack and print in a real browser, with orders that went through the real pipeline
(Shopify simulator -> receivers -> inbox -> jobs) and labels bought from the EasyPost simulator.

- scan-to-pack as a barcode scanner does it (the code typed into the focused input, then
  Enter): a mismatch shows red and counts nothing, matches show green and count, the last unit
  records the pack and the page shows the label once the label job has bought it;
- a batch of labels printed as one PDF (one 4x6 page per label) downloaded from the labels
  page, and marked printed.
"""

from __future__ import annotations

import time
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from db.models import LabelFile, Order, PackProgress, Role, Shipment, Store, TimelineEntry
from sandbox.easypost import EasyPostSimulator
from sync.shipping import label_files, record_pack_scan
from tests.conftest import drain
from tests.e2e.conftest import SHOP, ShopifySandbox, install_shopify, stores
from tests.e2e.conftest import sign_in as sign_in_browser
from tests.e2e.console import Person, axe_violations, person, screenshot, sign_in

MERCHANT = "Bench Supply Co"


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    # Every order is approved; orders wait at ready_to_ship for their pack scan.
    config["risk"] = {"verify_addresses": False, "approve_below": 1000, "reject_at": 1001}
    config["inventory"] = {"settle_s": 0}
    config["shipping"] = {"verify_packing": True, "bins": {"TEE-BLK-M": "A2", "MUG-12OZ": "A10"}}
    return config


@pytest.fixture
def shop(
    rt: Any, shopify: ShopifySandbox, easypost: EasyPostSimulator, browser: requests.Session, public_url: str
) -> Store:
    sign_in_browser(browser, public_url, rt, MERCHANT)
    assert install_shopify(browser, public_url).status_code == 200
    (store,) = stores(rt)
    settle(shopify, rt)
    return store


def settle(shopify: ShopifySandbox, rt: Any) -> None:
    for _ in range(10):
        sent = len(shopify.deliver_due())
        drain(rt)
        if not sent:
            return
    raise AssertionError("the storefront kept sending webhooks")


def ready_order(
    rt: Any, shopify: ShopifySandbox, store: Store, lines: list[tuple[str, int]]
) -> tuple[int, str]:
    """An order placed on the shop, taken in by the pipeline and waiting for its pack scan."""
    placed = shopify.place_order(SHOP, lines, email="ada@example.com")
    row = None
    for _ in range(50):  # the receiver hands the webhook to the queue as its answer goes out
        settle(shopify, rt)
        with rt.session() as s:
            row = s.scalar(
                select(Order).where(Order.store_id == store.id, Order.platform_order_id == str(placed.id))
            )
            if row is not None and row.stage == "ready_to_ship":
                return int(row.id), str(row.number)
        time.sleep(0.1)
    raise AssertionError(f"order {placed.id} is not ready to pack: {row.stage if row else 'not taken in'}")


def packer_of(rt: Any, store: Store) -> Person:
    return person(rt, Role.packer, account_id=store.account_id)


def scan(page: Any, code: str) -> None:
    """What a USB scanner does: types the code into the focused input and presses Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_scan_to_pack_with_a_mismatch_and_matches_then_the_label(
    rt: Any,
    app: Any,
    page: Any,
    public_url: str,
    shopify: ShopifySandbox,
    easypost: EasyPostSimulator,
    shop: Store,
) -> None:
    order_id, number = ready_order(rt, shopify, shop, [("MUG-12OZ", 2), ("TEE-BLK-M", 1)])
    sign_in(page, public_url, packer_of(rt, shop), then="/app/pick")

    # The pick list: bin A2 before A10, and the order it covers.
    assert page.locator("h1").inner_text() == "Pick list"
    assert page.locator("table.pick-list tbody td code").all_inner_texts() == ["TEE-BLK-M", "MUG-12OZ"]
    assert f"WB-{order_id}" in page.inner_text("main")
    assert axe_violations(page) == []
    screenshot(page, "pick")

    page.goto(f"{public_url}/app/pack")
    assert page.evaluate("document.activeElement.id") == "scan"
    with page.expect_navigation():
        scan(page, number)
    assert page.url.endswith(f"/app/pack/{order_id}")
    assert page.evaluate("document.activeElement.id") == "scan"
    count = page.locator("[data-scanned]")

    scan(page, "SOFA-3P")  # not in this order
    status = page.locator(".scan-status.bad")
    status.wait_for()
    assert "Mismatch" in status.inner_text() and "SOFA-3P is not in order" in status.inner_text()
    assert count.inner_text() == "0"
    expect(page.locator("#scan-announce")).to_contain_text("Mismatch: SOFA-3P is not in order")
    colour = page.evaluate("getComputedStyle(document.querySelector('.scan-status')).backgroundColor")
    assert colour == "rgb(255, 235, 233)"  # red
    assert page.evaluate("document.activeElement.id") == "scan"
    with rt.session() as s:
        assert s.get(PackProgress, order_id) is None  # the mismatch counted nothing

    scan(page, "MUG-12OZ")
    page.locator(".scan-status.ok").wait_for()
    assert count.inner_text() == "1"
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.scan-status')).backgroundColor")
        == "rgb(218, 251, 225)"
    )
    scan(page, "TEE-BLK-M")
    expect(count).to_have_text("2")
    scan(page, "TEE-BLK-M")  # one too many
    page.locator(".scan-status.bad").wait_for()
    assert "too many" in page.inner_text(".scan-status") and count.inner_text() == "2"
    assert axe_violations(page) == []

    scan(page, "MUG-12OZ")  # the last unit: the pack is recorded, the label job is queued
    page.get_by_text("Buying the label").wait_for()
    assert count.inner_text() == "3"
    with rt.session() as s:
        verified = s.scalar(
            select(TimelineEntry).where(
                TimelineEntry.subject == f"order:{order_id}", TimelineEntry.action == "pack.verified"
            )
        )
        assert verified is not None and verified.actor.startswith("user:packer-")

    drain(rt)  # the worker buys the label from EasyPost
    assert easypost.label_purchases == 1
    frame = page.locator("iframe.label-frame")
    frame.wait_for()
    assert frame.get_attribute("src") == f"/app/labels/print?order={order_id}"
    pdf = page.request.get(f"{public_url}/app/labels/print?order={order_id}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert len(PdfReader(BytesIO(pdf.body())).pages) == 1
    assert page.evaluate("document.activeElement.id") == "scan"
    assert axe_violations(page) == []
    screenshot(page, "pack")
    assert page.console_errors == []


def test_print_a_batch_of_labels_as_one_pdf_and_mark_them_printed(
    rt: Any,
    app: Any,
    page: Any,
    public_url: str,
    shopify: ShopifySandbox,
    easypost: EasyPostSimulator,
    shop: Store,
    tmp_path: Path,
) -> None:
    first, _ = ready_order(rt, shopify, shop, [("MUG-12OZ", 1)])
    second, _ = ready_order(rt, shopify, shop, [("TEE-BLK-M", 1)])
    for oid, sku in ((first, "MUG-12OZ"), (second, "TEE-BLK-M")):
        assert record_pack_scan(rt, shop.account_id, oid, [sku], "sam")["ok"] is True
    settle(shopify, rt)
    with rt.session() as s:
        bought = list(s.scalars(select(Shipment).where(Shipment.account_id == shop.account_id)))
        assert sorted(sh.order_id for sh in bought) == [first, second]
        assert all(str((sh.label or {})["label_url"]).endswith(".png") for sh in bought)  # EasyPost's default

    sign_in(page, public_url, packer_of(rt, shop), then="/app/labels")
    assert page.locator("h1").inner_text() == "Labels"
    assert page.locator("table.labels tbody tr").count() == 2
    assert axe_violations(page) == []
    screenshot(page, "labels")

    page.check("#select-all")
    assert page.locator('input[name="shipment"]:checked').count() == 2
    with page.expect_download() as download:
        page.get_by_role("button", name="Print selected (one PDF)").click()
    saved = tmp_path / "labels.pdf"
    download.value.save_as(saved)
    reader = PdfReader(str(saved))
    assert len(reader.pages) == 2
    assert {(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages} == {(288.0, 432.0)}

    # The orders grid's link: the same labels, in pick list order (TEE-BLK-M in A2 first).
    by_order = page.request.get(f"{public_url}/app/labels/print?order={first}&order={second}")
    assert by_order.status == 200 and len(PdfReader(BytesIO(by_order.body())).pages) == 2
    with rt.session() as s:
        kept = {f.shipment_id for f in s.scalars(select(LabelFile))}
        parcel_of = {sh.order_id: sh.id for sh in s.scalars(select(Shipment))}
    assert kept == set(parcel_of.values())  # each file fetched once and kept
    assert label_files.batch(rt, shop.account_id, [first, second]) == [parcel_of[second], parcel_of[first]]
    assert easypost.label_purchases == 2

    with page.expect_navigation():
        page.get_by_role("button", name="Mark selected printed").click()
    assert "2 label(s) marked printed" in page.inner_text(".flashes")
    assert page.locator("table.labels").count() == 0
    page.get_by_role("link", name="Printed").click()
    assert page.locator("table.labels tbody tr").count() == 2
    assert page.get_by_role("link", name="Reprint").count() == 2
    assert axe_violations(page) == []
    with rt.session() as s:
        printed = list(
            s.scalars(select(TimelineEntry.subject).where(TimelineEntry.action == "label.printed"))
        )
    assert sorted(printed) == sorted([f"order:{first}", f"order:{second}"])
    assert page.console_errors == []
