"""The console's packing bench over HTTP: the pick list, scan-to-pack counted on the server,
batch label printing and marking labels printed. Tenant walls (another merchant's order is
not found), the packer's role, CSRF, and a mismatch that changes nothing. Label files are
fetched from where the label points; that outside edge is mocked with ``responses``."""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

import pytest
import requests
import responses
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from db.models import LabelFile, PackProgress, Role, Shipment, TimelineEntry
from tests.e2e.console import Person, person
from tests.integration.test_shipping_api import BINS, add_order, canonical, merchant

LABELS = "https://labels.example.com/files/postage_label/20260302"


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["shipping"] = {"bins": BINS}
    return config


@pytest.fixture
def shop(rt: Any) -> dict[str, Any]:
    """``north`` with two ready orders and a held one, ``south`` with one ready order."""
    north, north_store, _ = merchant(rt, "north")
    south, south_store, _ = merchant(rt, "south")
    ids = {
        "a": add_order(
            rt, north, north_store, "1001", canonical("1001", [("MUG-12OZ", 2), ("TEE-BLK-M", 1)])
        ),
        "b": add_order(rt, north, north_store, "1002", canonical("1002", [("CAP-RED", 1)])),
        "held": add_order(
            rt, north, north_store, "1003", canonical("1003", [("CAP-RED", 1)]), stage="on_hold"
        ),
        "south": add_order(rt, south, south_store, "2001", canonical("2001", [("CAP-RED", 5)])),
    }
    return {"account": north, "store": north_store, "south": south, "south_store": south_store, "ids": ids}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert found is not None
    return found.group(1)


def signed_in(client: Any, who: Person) -> str:
    """Signs ``client`` in as ``who``; returns the CSRF token of its session."""
    login = client.get("/login")
    done = client.post(
        "/login",
        data={"email": who.email, "password": who.password, "csrf_token": csrf_of(login.get_data(True))},
    )
    assert done.status_code == 302, done.get_data(True)
    return csrf_of(client.get("/app/pick").get_data(True))


@pytest.fixture
def packer(rt: Any, client: Any, shop: dict[str, Any]) -> str:
    return signed_in(client, person(rt, Role.packer, account_id=shop["account"]))


def scan(client: Any, token: str, order_id: int, code: str, htmx: bool = True) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/app/pack/{order_id}/scan", data={"code": code, "csrf_token": token}, headers=headers
    )


def progress(rt: Any, order_id: int) -> dict[str, Any] | None:
    with rt.session() as s:
        row = s.get(PackProgress, order_id)
        return dict(row.counts) if row is not None else None


def actions(rt: Any, order_id: int) -> list[str]:
    with rt.session() as s:
        return list(
            s.scalars(
                select(TimelineEntry.action)
                .where(TimelineEntry.subject == f"order:{order_id}")
                .order_by(TimelineEntry.id)
            )
        )


# --- pick list -----------------------------------------------------------------------------------


def test_the_pick_list_walks_the_bins_for_the_ready_orders_of_the_account_only(
    client: Any, shop: dict[str, Any], packer: str
) -> None:
    page = client.get("/app/pick")
    assert page.status_code == 200
    html = page.get_data(True)
    # A2 before A10 before B1 (natural order), as the API's pick list walks them
    skus = re.findall(r"<td><code>([A-Z0-9-]+)</code></td>", html)
    assert skus == ["TEE-BLK-M", "MUG-12OZ", "CAP-RED"]
    assert "#1001" in html and "#1002" in html and f"WB-{shop['ids']['a']}" in html
    assert "#1003" not in html  # held
    assert "#2001" not in html and "5</strong>" not in html  # another merchant's order
    assert "4 unit(s) to pick" in html
    small = client.get("/app/pick?size=1").get_data(True)
    assert "1 of 2 order(s)" in small and "#1002" not in small


def test_signed_out_people_are_sent_to_sign_in(client: Any, shop: dict[str, Any]) -> None:
    for path in ("/app/pick", "/app/pack", f"/app/pack/{shop['ids']['a']}", "/app/labels"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], path


# --- scan-to-pack --------------------------------------------------------------------------------


def test_a_scanned_order_number_or_pick_slip_code_opens_the_order(
    client: Any, shop: dict[str, Any], packer: str
) -> None:
    a = shop["ids"]["a"]
    for code in ("1001", "#1001", f"WB-{a}", f"wb-{a}"):
        answer = client.get("/app/pack", query_string={"code": code})
        assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/app/pack/{a}"), code
    for code in ("2001", f"WB-{shop['ids']['south']}", "9999"):  # another merchant's, or none
        answer = client.get("/app/pack", query_string={"code": code})
        assert answer.status_code == 404 and "No order" in answer.get_data(True), code


def test_scans_are_counted_on_the_server_and_a_mismatch_counts_nothing(
    rt: Any, client: Any, shop: dict[str, Any], packer: str
) -> None:
    a = shop["ids"]["a"]
    first = scan(client, packer, a, "MUG-12OZ")
    assert first.status_code == 200
    assert 'data-outcome="match"' in first.get_data(True) and "MUG-12OZ: 1 of 2" in first.get_data(True)
    assert progress(rt, a) == {"MUG-12OZ": 1}
    before = actions(rt, a)

    wrong = scan(client, packer, a, "CAP-RED")
    assert 'data-outcome="mismatch"' in wrong.get_data(True)
    assert "CAP-RED is not in order #1001" in wrong.get_data(True)
    assert scan(client, packer, a, "TEE-BLK-M").status_code == 200
    too_many = scan(client, packer, a, "TEE-BLK-M", htmx=False)  # a form post without htmx: 422
    assert too_many.status_code == 422 and "too many" in too_many.get_data(True)
    assert progress(rt, a) == {"MUG-12OZ": 1, "TEE-BLK-M": 1}
    assert actions(rt, a) == before  # nothing recorded, nothing packed

    # A reload (or a second tablet) shows the same count.
    page = client.get(f"/app/pack/{a}").get_data(True)
    row = r'data-sku="MUG-12OZ">\s*<td><code>MUG-12OZ</code></td><td>[^<]*</td>\s*'
    assert re.search(row + r'<td class="num" data-count>1<', page)
    assert "<span data-scanned>2</span> of <span data-units>3</span>" in page


def test_the_last_unit_records_the_pack_as_the_api_does_and_the_label_panel_appears(
    rt: Any, client: Any, shop: dict[str, Any], packer: str
) -> None:
    a = shop["ids"]["a"]
    for code in ("MUG-12OZ", "TEE-BLK-M"):
        assert 'data-outcome="match"' in scan(client, packer, a, code).get_data(True)
    assert "pack.verified" not in actions(rt, a)
    last = scan(client, packer, a, " MUG-12OZ ").get_data(True)
    assert 'data-outcome="match"' in last and "Buying the label" in last
    assert f'hx-get="/app/pack/{a}/label"' in last
    with rt.session() as s:
        entry = s.scalar(
            select(TimelineEntry).where(
                TimelineEntry.subject == f"order:{a}", TimelineEntry.action == "pack.verified"
            )
        )
        assert entry is not None and entry.actor.startswith("user:packer-")
        assert entry.reason == "contents verified: 3 unit(s) of 2 SKU(s)"
    assert progress(rt, a) is None  # the count is done with
    # Until the label job runs the order is still ready_to_ship; another scan is refused.
    again = scan(client, packer, a, "MUG-12OZ").get_data(True)
    assert 'data-outcome="mismatch"' in again and "packed already" in again
    assert progress(rt, a) is None and actions(rt, a).count("pack.verified") == 1
    assert "Buying the label" in client.get(f"/app/pack/{a}").get_data(True)


def test_restart_clears_the_count_and_notes_it(
    rt: Any, client: Any, shop: dict[str, Any], packer: str
) -> None:
    a = shop["ids"]["a"]
    scan(client, packer, a, "MUG-12OZ")
    done = client.post(f"/app/pack/{a}/restart", data={"csrf_token": packer})
    assert done.status_code == 302 and progress(rt, a) is None
    assert actions(rt, a)[-1] == "pack.restarted"


def test_a_held_order_cannot_be_scanned(rt: Any, client: Any, shop: dict[str, Any], packer: str) -> None:
    held = shop["ids"]["held"]
    answer = scan(client, packer, held, "CAP-RED", htmx=False)
    assert answer.status_code == 422 and "not ready to pack" in answer.get_data(True)
    assert progress(rt, held) is None


def test_another_merchants_order_is_not_found_and_nothing_changes(
    rt: Any, client: Any, shop: dict[str, Any], packer: str
) -> None:
    south = shop["ids"]["south"]
    assert client.get(f"/app/pack/{south}").status_code == 404
    assert scan(client, packer, south, "CAP-RED").status_code == 404
    assert client.post(f"/app/pack/{south}/restart", data={"csrf_token": packer}).status_code == 404
    assert client.get(f"/app/pack/{south}/label").status_code == 404
    assert client.get(f"/app/labels/print?order={south}").status_code == 404
    assert client.get("/app/pack/99999999").status_code == 404
    assert progress(rt, south) is None and actions(rt, south) == []


def test_a_scan_without_the_csrf_token_is_refused(
    rt: Any, client: Any, shop: dict[str, Any], packer: str
) -> None:
    a = shop["ids"]["a"]
    answer = client.post(f"/app/pack/{a}/scan", data={"code": "MUG-12OZ"})
    assert answer.status_code == 400 and progress(rt, a) is None


# --- labels --------------------------------------------------------------------------------------


def png_label(colour: tuple[int, int, int]) -> bytes:
    out = BytesIO()
    Image.new("RGB", (1200, 1800), colour).save(out, format="PNG")
    return out.getvalue()


def pdf_label(colour: tuple[int, int, int]) -> bytes:
    out = BytesIO()
    Image.new("RGB", (1200, 1800), colour).save(out, format="PDF", resolution=300)
    return out.getvalue()


def bought(rt: Any, account_id: int, store_id: int, order_id: int, name: str, package: int = 1) -> int:
    with rt.session() as s:
        row = Shipment(
            account_id=account_id,
            store_id=store_id,
            order_id=order_id,
            package=package,
            state="purchased",
            easypost_id=f"shp_{name}",
            tracking_code=f"9400{order_id}{package}",
            label={
                "shipment_id": f"shp_{name}",
                "tracking_code": f"9400{order_id}{package}",
                "carrier": "USPS",
                "service": "Priority",
                "label_url": f"{LABELS}/{name}",
            },
        )
        s.add(row)
        s.flush()
        return int(row.id)


def colours(document: bytes) -> list[str]:
    reader = PdfReader(BytesIO(document))
    found = []
    for page in reader.pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (288, 432)
        img = page.images[0].image.convert("RGB")
        r, g, _ = img.getpixel((img.width // 2, img.height // 2))  # type: ignore[misc]
        found.append("red" if r > 150 else "green" if g > 120 else "blue")
    return found


@responses.activate
def test_a_batch_prints_as_one_pdf_in_pick_list_order_and_files_are_fetched_once(
    rt: Any, client: Any, shop: dict[str, Any], packer: str
) -> None:
    north, store, ids = shop["account"], shop["store"], shop["ids"]
    # #1002 (CAP-RED, bin B1) was packed first; #1001 holds TEE-BLK-M (bin A2): it is picked first.
    b = bought(rt, north, store, ids["b"], "b1.png")
    a1 = bought(rt, north, store, ids["a"], "a1.pdf")
    a2 = bought(rt, north, store, ids["a"], "a2.png", package=2)
    responses.get(f"{LABELS}/b1.png", body=png_label((0, 0, 200)), content_type="image/png")
    responses.get(f"{LABELS}/a1.pdf", body=pdf_label((200, 0, 0)), content_type="application/pdf")
    responses.get(f"{LABELS}/a2.png", body=png_label((0, 160, 0)), content_type="image/png")

    answer = client.get(f"/app/labels/print?order={ids['b']}&order={ids['a']}")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"].startswith("inline")
    assert colours(answer.data) == ["red", "green", "blue"]  # #1001 parcel 1, parcel 2, then #1002
    assert len(responses.calls) == 3

    # The labels page's form: selected labels, downloaded; the kept files are used (no fetch).
    chosen = client.post("/app/labels/print", data={"shipment": [str(b), str(a2)], "csrf_token": packer})
    assert chosen.status_code == 200 and chosen.headers["Content-Disposition"].startswith("attachment")
    assert colours(chosen.data) == ["green", "blue"]
    assert len(responses.calls) == 3
    with rt.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(LabelFile).where(LabelFile.printed_at.is_(None))) == 3
        )
    assert a1 != a2


@responses.activate
def test_marking_labels_printed_moves_them_to_printed_with_a_timeline_entry(
    rt: Any, client: Any, shop: dict[str, Any], packer: str
) -> None:
    north, store, ids = shop["account"], shop["store"], shop["ids"]
    b = bought(rt, north, store, ids["b"], "b1.png")
    to_print = client.get("/app/labels").get_data(True)
    assert "#1002" in to_print and "not yet" in to_print
    done = client.post("/app/labels/printed", data={"shipment": str(b), "csrf_token": packer})
    assert done.status_code == 302
    assert "label.printed" in actions(rt, ids["b"])
    assert "#1002" not in client.get("/app/labels").get_data(True)
    printed = client.get("/app/labels?show=printed").get_data(True)
    assert "#1002" in printed and "Reprint" in printed
    # A reprint still fetches and prints the file.
    responses.get(f"{LABELS}/b1.png", body=png_label((0, 0, 200)), content_type="image/png")
    again = client.get(f"/app/labels/print?shipment={b}")
    assert again.status_code == 200 and colours(again.data) == ["blue"]


@responses.activate
def test_a_label_file_that_cannot_be_fetched_is_a_clear_error(
    rt: Any, client: Any, shop: dict[str, Any], packer: str
) -> None:
    north, store, ids = shop["account"], shop["store"], shop["ids"]
    bought(rt, north, store, ids["b"], "gone.png")
    responses.get(f"{LABELS}/gone.png", status=404)
    answer = client.get(f"/app/labels/print?order={ids['b']}")
    assert answer.status_code == 502 and "HTTP 404" in answer.get_data(True)
    down = bought(rt, north, store, ids["a"], "down.png", package=2)
    responses.get(f"{LABELS}/down.png", body=requests.ConnectionError("refused"))
    answer = client.get(f"/app/labels/print?shipment={down}")
    assert answer.status_code == 502 and "ConnectionError" in answer.get_data(True)
    assert "try again" in answer.get_data(True)
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(LabelFile)) == 0  # nothing kept
    zpl = bought(rt, north, store, ids["a"], "a.zpl")
    responses.get(f"{LABELS}/a.zpl", body=b"^XA^FDx^FS^XZ")
    answer = client.get(f"/app/labels/print?shipment={zpl}")
    assert answer.status_code == 502 and "application/zpl" in answer.get_data(True)


def test_labels_of_another_merchant_or_bad_ids_are_refused(
    rt: Any, client: Any, shop: dict[str, Any], packer: str
) -> None:
    south_label = bought(rt, shop["south"], shop["south_store"], shop["ids"]["south"], "s.png")
    assert client.get(f"/app/labels/print?shipment={south_label}").status_code == 404
    assert (
        client.post(
            "/app/labels/printed", data={"shipment": str(south_label), "csrf_token": packer}
        ).status_code
        == 404
    )
    assert client.get("/app/labels/print?order=abc").status_code == 400
    nothing = client.get(f"/app/labels/print?order={shop['ids']['b']}")  # no label bought yet
    assert nothing.status_code == 409 and "has a label to print yet" in nothing.get_data(True)
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(LabelFile)) == 0


@responses.activate
def test_two_prints_of_a_new_label_at_once_keep_one_file(
    rt: Any, client: Any, shop: dict[str, Any], packer: str
) -> None:
    if rt.engine.dialect.name == "sqlite":
        pytest.skip(
            "SQLite transactions begin IMMEDIATE (one writer at a time): two prints cannot interleave"
        )
    north, store, ids = shop["account"], shop["store"], shop["ids"]
    sid = bought(rt, north, store, ids["b"], "b1.png")
    body = png_label((0, 0, 200))
    responses.get(f"{LABELS}/b1.png", body=body, content_type="image/png")
    raced: list[int] = []

    def other_print_keeps_it_first(session: Session, *_: Any) -> None:
        # The moment this print is about to keep the file, another print of the same label
        # (the pack page's frame and a click, say) has fetched it and keeps it first.
        if raced or not any(isinstance(o, LabelFile) for o in session.new):
            return
        raced.append(1)
        with rt.session() as s:
            s.add(
                LabelFile(
                    shipment_id=sid,
                    account_id=north,
                    url=f"{LABELS}/b1.png",
                    content_type="image/png",
                    content=body,
                )
            )

    event.listen(Session, "before_flush", other_print_keeps_it_first)
    try:
        answer = client.get(f"/app/labels/print?shipment={sid}")
    finally:
        event.remove(Session, "before_flush", other_print_keeps_it_first)
    assert raced == [1]
    assert answer.status_code == 200 and colours(answer.data) == ["blue"]
    with rt.session() as s:
        (kept,) = s.scalars(select(LabelFile))
        assert kept.shipment_id == sid and kept.content == body
