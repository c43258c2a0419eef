"""Shipments through the official client: rates, buy, refund, insure, rerate, lists, refunds."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import easypost
import pytest
from PIL import Image
from pypdf import PdfReader

from sandbox.easypost import EasyPostSimulator
from sandbox.easypost.samples import CUSTOMS_INFO, LONDON, PARCEL, REDONDO, SF, pick_rate
from sandbox.harness import FakeClock


def test_create_returns_rates_from_three_carriers(shipment: Any) -> None:
    assert shipment.id.startswith("shp_")
    assert (shipment.status, shipment.tracking_code, shipment.postage_label) == ("unknown", None, None)
    assert shipment.reference == "order-1" and shipment.is_return is False
    assert shipment.usps_zone == 2
    assert {(r.carrier, r.service) for r in shipment.rates} == {
        ("USPS", "GroundAdvantage"), ("USPS", "Priority"), ("USPS", "Express"),
        ("UPS", "Ground"), ("UPS", "2ndDayAir"), ("UPS", "NextDayAir"),
        ("FedEx", "FEDEX_GROUND"), ("FedEx", "FEDEX_2_DAY"), ("FedEx", "STANDARD_OVERNIGHT"),
    }  # fmt: skip
    ground = pick_rate(shipment, "USPS", "GroundAdvantage")
    assert (ground.rate, ground.list_rate, ground.retail_rate, ground.currency) == (
        "5.73",
        "6.30",
        "7.45",
        "USD",
    )
    assert (ground.delivery_days, ground.est_delivery_days, ground.delivery_date_guaranteed) == (3, 3, False)
    assert ground.shipment_id == shipment.id and ground.carrier_account_id.startswith("ca_")


def test_lowest_rate_and_retrieve(client: easypost.EasyPostClient, shipment: Any) -> None:
    assert shipment.lowest_rate().service == "GroundAdvantage"
    assert client.shipment.retrieve(shipment.id).to_dict() == shipment.to_dict()


def test_buy_sets_label_tracking_code_selected_rate_tracker_and_fees(
    client: easypost.EasyPostClient, shipment: Any, sim: EasyPostSimulator
) -> None:
    rate = pick_rate(shipment, "UPS", "Ground")

    bought = client.shipment.buy(shipment.id, rate=rate)

    assert bought.selected_rate.id == rate.id
    assert (bought.to_address.street1, bought.to_address.verifications.delivery.success) == (
        "179 N HARBOR DR",
        True,
    )
    assert bought.tracking_code.startswith("1Z999AA1") and len(bought.tracking_code) == 18
    assert bought.postage_label.label_url.endswith(".png")
    assert bought.tracker.tracking_code == bought.tracking_code
    assert (bought.tracker.status, bought.tracker.shipment_id, bought.tracker.carrier) == (
        "unknown",
        shipment.id,
        "UPS",
    )
    assert [(f.type, f.amount) for f in bought.fees] == [("LabelFee", "0.00000"), ("PostageFee", "10.16000")]
    assert sim.label_purchases == 1
    assert [label["tracking_code"] for label in sim.labels_for(shipment.id)] == [bought.tracking_code]
    assert [e["description"] for e in sim.events_sent()] == ["tracker.created"]


def test_label_url_serves_an_image(client: easypost.EasyPostClient, shipment: Any) -> None:
    import requests

    bought = client.shipment.buy(shipment.id, rate=shipment.lowest_rate())

    response = requests.get(bought.postage_label.label_url, timeout=5)
    assert (response.status_code, response.headers["Content-Type"]) == (200, "image/png")
    assert response.content.startswith(b"\x89PNG")
    # a real 4x6 label at 300 dpi, as EasyPost's default PNG labels are
    with Image.open(BytesIO(response.content)) as img:
        assert img.size == (1200, 1800)
    assert bought.postage_label.label_file_type == "image/png" and bought.postage_label.label_pdf_url is None


@pytest.mark.parametrize(
    ("label_format", "content_type", "magic"),
    [("PDF", "application/pdf", b"%PDF-"), ("ZPL", "application/zpl", b"^XA")],
)
def test_label_format_asks_for_a_pdf_or_zpl_label_file(
    client: easypost.EasyPostClient, label_format: str, content_type: str, magic: bytes
) -> None:
    import requests

    shipment = client.shipment.create(
        to_address=REDONDO, from_address=SF, parcel=PARCEL, options={"label_format": label_format}
    )
    bought = client.shipment.buy(shipment.id, rate=shipment.lowest_rate())
    label = bought.postage_label
    assert label.label_url.endswith("." + label_format.lower()) and label.label_file_type == content_type
    assert getattr(label, f"label_{label_format.lower()}_url") == label.label_url
    response = requests.get(label.label_url, timeout=5)
    assert (response.status_code, response.headers["Content-Type"]) == (200, content_type)
    assert response.content.startswith(magic)
    if label_format == "PDF":
        (page,) = PdfReader(BytesIO(response.content)).pages
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (288, 432)


def test_a_label_file_that_was_never_bought_is_not_found(server: Any) -> None:
    import requests

    response = requests.get(f"{server.url}/files/postage_label/20260101/nothing.png", timeout=5)
    assert response.status_code == 404


def test_buying_twice_fails_with_postage_exists(
    client: easypost.EasyPostClient, shipment: Any, sim: EasyPostSimulator
) -> None:
    first = client.shipment.buy(shipment.id, rate=shipment.lowest_rate())

    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.shipment.buy(shipment.id, rate=shipment.lowest_rate())

    assert (caught.value.http_status, caught.value.code) == (422, "SHIPMENT.POSTAGE.EXISTS")
    assert sim.label_purchases == 1
    assert client.shipment.retrieve(shipment.id).tracking_code == first.tracking_code


def test_buy_with_unknown_rate_fails(client: easypost.EasyPostClient, shipment: Any) -> None:
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.shipment.buy(shipment.id, rate={"id": "rate_0000"})

    assert caught.value.code == "SHIPMENT.POSTAGE.FAILURE"


def test_buy_with_insurance_adds_the_fee(client: easypost.EasyPostClient, shipment: Any) -> None:
    bought = client.shipment.buy(shipment.id, rate=shipment.lowest_rate(), insurance="249.99")

    assert bought.insurance == "249.99"
    assert [(f.type, f.amount) for f in bought.fees][-1] == ("InsuranceFee", "2.49990")


def test_insure_after_buy(client: easypost.EasyPostClient, shipment: Any) -> None:
    client.shipment.buy(shipment.id, rate=shipment.lowest_rate())

    insured = client.shipment.insure(shipment.id, amount="100")

    assert insured.insurance == "100.00"
    assert [(f.type, f.amount) for f in insured.fees][-1] == ("InsuranceFee", "1.00000")


def test_insure_before_buy_fails(client: easypost.EasyPostClient, shipment: Any) -> None:
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.shipment.insure(shipment.id, amount="100")

    assert caught.value.code == "SHIPMENT.INSURANCE.FAILURE"


def test_refund_is_submitted_then_refunded_when_the_label_was_not_used(
    client: easypost.EasyPostClient, shipment: Any, sim: EasyPostSimulator
) -> None:
    sim.refund_delay_s = 2 * 3600
    client.shipment.buy(shipment.id, rate=shipment.lowest_rate())

    assert client.shipment.refund(shipment.id).refund_status == "submitted"
    with pytest.raises(easypost.errors.InvalidRequestError):
        client.shipment.refund(shipment.id)
    sim.advance(3600)
    assert sim.refunds[0]["status"] == "submitted"
    sim.advance(3600)  # the carrier has only the pre-transit record: the void goes through

    refreshed = client.shipment.retrieve(shipment.id)
    assert refreshed.refund_status == "refunded"
    assert [(f.type, f.refunded) for f in refreshed.fees] == [("LabelFee", False), ("PostageFee", True)]
    assert [e["result"]["status"] for e in sim.events_sent("refund.successful")] == ["refunded"]


def test_refund_of_a_scanned_label_is_rejected(
    client: easypost.EasyPostClient, shipment: Any, sim: EasyPostSimulator
) -> None:
    client.shipment.buy(shipment.id, rate=shipment.lowest_rate())
    sim.advance(20 * 3600)  # in transit by now
    client.shipment.refund(shipment.id)

    sim.advance(24 * 3600)

    assert client.shipment.retrieve(shipment.id).refund_status == "rejected"
    assert sim.events_sent("refund.successful") == []


def test_refund_of_an_unbought_shipment_fails(client: easypost.EasyPostClient, shipment: Any) -> None:
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.shipment.refund(shipment.id)

    assert caught.value.code == "SHIPMENT.REFUND.UNAVAILABLE"


def test_refunds_by_tracking_codes(client: easypost.EasyPostClient, shipment: Any) -> None:
    bought = client.shipment.buy(shipment.id, rate=shipment.lowest_rate())

    refunds = client.refund.create(
        carrier="USPS", tracking_codes=[bought.tracking_code, "9400000000000000000000"]
    )

    assert [(r.tracking_code, r.status, r.shipment_id) for r in refunds] == [
        (bought.tracking_code, "submitted", shipment.id),
        ("9400000000000000000000", "not_applicable", None),
    ]
    assert client.shipment.retrieve(shipment.id).refund_status == "submitted"
    assert [r.id for r in client.refund.all()["refunds"]] == [refunds[0].id]
    assert client.refund.retrieve(refunds[0].id).status == "submitted"


def test_rerate_returns_fresh_rates_with_the_same_prices(
    client: easypost.EasyPostClient, shipment: Any
) -> None:
    rates = client.shipment.regenerate_rates(shipment.id)["rates"]

    assert {r.id for r in rates}.isdisjoint({r.id for r in shipment.rates})
    assert [(r.service, r.rate) for r in rates] == [(r.service, r.rate) for r in shipment.rates]
    assert client.rate.retrieve(rates[0].id).service == rates[0].service


def test_one_call_buy_with_carrier_and_service(
    client: easypost.EasyPostClient, sim: EasyPostSimulator
) -> None:
    bought = client.shipment.create(
        to_address=REDONDO, from_address=SF, parcel=PARCEL, carrier="FedEx", service="FEDEX_2_DAY"
    )

    assert (bought.selected_rate.carrier, bought.selected_rate.service) == ("FedEx", "FEDEX_2_DAY")
    assert bought.postage_label is not None and sim.label_purchases == 1


def test_return_shipment_and_objects_by_id(client: easypost.EasyPostClient) -> None:
    to_address = client.address.create(**SF)
    parcel = client.parcel.create(**PARCEL)

    returned = client.shipment.create(
        to_address=to_address, from_address=REDONDO, parcel=parcel, is_return=True
    )

    assert returned.is_return is True
    assert (returned.to_address.id, returned.parcel.id) == (to_address.id, parcel.id)
    assert client.parcel.retrieve(parcel.id).weight == 15.4


def test_international_rates_need_customs_info(client: easypost.EasyPostClient) -> None:
    without = client.shipment.create(to_address=LONDON, from_address=SF, parcel=PARCEL)
    with_customs = client.shipment.create(
        to_address=LONDON, from_address=SF, parcel=PARCEL, customs_info=CUSTOMS_INFO
    )

    assert without.rates == [] and [m.type for m in without.messages] == ["rate_error"] * 3
    assert with_customs.usps_zone == 9
    assert pick_rate(with_customs, "USPS", "PriorityMailInternational").rate == "49.36"
    assert with_customs.customs_info.customs_items[0].value == "23.25"


def test_missing_shipment_fields_fail_like_easypost(client: easypost.EasyPostClient) -> None:
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.shipment.create(to_address=REDONDO, from_address=SF)

    assert caught.value.code == "PARAMETER.REQUIRED"
    assert caught.value.errors == [{"field": "shipment.parcel", "message": "cannot be blank"}]


def test_list_paginates_newest_first_with_before_id(client: easypost.EasyPostClient) -> None:
    created = [
        client.shipment.create(to_address=REDONDO, from_address=SF, parcel=PARCEL).id for _ in range(5)
    ]

    first = client.shipment.all(page_size=2)
    second = client.shipment.get_next_page(first, page_size=2)
    third = client.shipment.get_next_page(second, page_size=2)

    pages = [[s.id for s in page["shipments"]] for page in (first, second, third)]
    assert pages == [created[4:2:-1], created[2:0:-1], created[0:1]]
    assert (first["has_more"], second["has_more"], third["has_more"]) == (True, True, False)


def test_list_filters_purchased(client: easypost.EasyPostClient, shipment: Any) -> None:
    other = client.shipment.create(to_address=REDONDO, from_address=SF, parcel=PARCEL)
    client.shipment.buy(shipment.id, rate=shipment.lowest_rate())

    assert [s.id for s in client.shipment.all(purchased=True)["shipments"]] == [shipment.id]
    assert [s.id for s in client.shipment.all(purchased=False)["shipments"]] == [other.id]


def test_prices_are_deterministic_across_simulators(clock: FakeClock) -> None:
    def prices(sim: EasyPostSimulator) -> list[tuple[str, str, str]]:
        from sandbox.easypost.routes import create_shipment
        from sandbox.easypost.simulator import Call

        body = {"shipment": {"to_address": REDONDO, "from_address": SF, "parcel": PARCEL}}
        _, shipment = create_shipment(sim, Call("test", body, {}))
        return [(r["carrier"], r["service"], r["rate"]) for r in shipment["rates"]]

    assert prices(EasyPostSimulator(clock=clock, seed=1)) == prices(
        EasyPostSimulator(clock=FakeClock(), seed=2)
    )


def test_labels_are_counted_by_their_shipments_reference(
    client: easypost.EasyPostClient, shipment: Any, sim: EasyPostSimulator
) -> None:
    second = client.shipment.create(to_address=REDONDO, from_address=SF, parcel=PARCEL, reference="order-1")
    other = client.shipment.create(to_address=REDONDO, from_address=SF, parcel=PARCEL, reference="order-2")
    for created in (shipment, second, other):
        client.shipment.buy(created.id, rate=created.lowest_rate())
    # Two shipments of one parcel, each bought: the parcel has two labels.
    assert sim.labels_per_reference() == {"order-1": 2, "order-2": 1}
    assert sim.snapshot()["labels_per_reference"] == {"order-1": 2, "order-2": 1}
