"""The EasyPost adapter against the EasyPost simulator served on loopback, faults included.

Counts (labels bought, refunds, trackers) are read at the simulator, never from our side.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
import responses

from connectors.easypost.client import EasyPost
from connectors.errors import AuthError, NotFound, Rejected
from core.addresses import Address
from core.errors import Permanent, Retryable
from core.money import Money
from core.rates import RatePolicy
from core.shipping import Parcel, Rate
from sandbox.easypost import DEFAULT_TEST_KEY, EasyPostSimulator
from sandbox.harness import FakeClock, Faults, RunningServer, serve

SHIP_FROM = {
    "name": "Waybill Demo Warehouse",
    "street1": "417 Montgomery Street",
    "city": "San Francisco",
    "state": "CA",
    "zip": "94104",
    "country": "US",
    "phone": "4155551234",
}
REDONDO = Address(
    name="Elizabeth Swan",
    line1="179 N Harbor Dr",
    city="Redondo Beach",
    province_code="CA",
    postal_code="90277",
    country_code="US",
)
LONDON = Address(
    name="Will Turner", line1="10 Downing St", city="London", postal_code="SW1A 2AA", country_code="GB"
)
BOX = Parcel("small", Decimal("20"), Decimal("15"), Decimal("10"), 1200)


class Line:
    """A customs line as core.parcels.CustomsLine carries it (totals per line)."""

    def __init__(self, sku: str, quantity: int, value: str, weight_g: int) -> None:
        self.description = f"Canvas tote {sku}"
        self.sku = sku
        self.quantity = quantity
        self.value = Decimal(value)
        self.weight_g = weight_g
        self.origin_country = "US"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[EasyPostSimulator, RunningServer]]:
    sim = EasyPostSimulator(clock=FakeClock())
    with serve(sim) as running:
        yield sim, running


@pytest.fixture
def sim(server: tuple[EasyPostSimulator, RunningServer]) -> EasyPostSimulator:
    simulator = server[0]
    simulator.reset()
    simulator.faults = Faults()
    return simulator


@pytest.fixture
def easypost(server: tuple[EasyPostSimulator, RunningServer], sim: EasyPostSimulator) -> EasyPost:
    return EasyPost(DEFAULT_TEST_KEY, base_url=server[1].url, timeout_s=5)


def _shipment(easypost: EasyPost, reference: str = "label:7:1") -> tuple[str, list[Rate]]:
    return easypost.create_shipment(REDONDO, SHIP_FROM, BOX, None, reference)


# -- addresses


def test_deliverable_address_verifies(easypost: EasyPost) -> None:
    check = easypost.verify_address(REDONDO)
    assert (check.deliverable, check.messages, check.suggestion) == (True, (), None)


def test_city_not_matching_the_zip_is_undeliverable_with_the_carriers_correction(easypost: EasyPost) -> None:
    wrong_city = Address(
        name="Jo",
        line1="417 Montgomery St",
        city="Oakland",
        province_code="CA",
        postal_code="94104",
        country_code="US",
    )
    check = easypost.verify_address(wrong_city)
    assert check.deliverable is False
    assert check.messages == ("City does not match ZIP code",)
    assert check.suggestion == {
        "name": "Jo",
        "line1": "417 Montgomery St",
        "city": "SAN FRANCISCO",
        "province_code": "CA",
        "postal_code": "94104",
        "country_code": "US",
    }


def test_street_without_house_number_is_undeliverable_without_suggestion(easypost: EasyPost) -> None:
    check = easypost.verify_address(
        Address(
            line1="Harbor Drive",
            city="Redondo Beach",
            province_code="CA",
            postal_code="90277",
            country_code="US",
        )
    )
    assert check.deliverable is False
    assert check.messages == ("Address not found", "House number is missing")
    assert check.suggestion is None


# -- shipments and rates


def test_create_shipment_returns_rates_as_exact_money(easypost: EasyPost, sim: EasyPostSimulator) -> None:
    shipment_id, rates = _shipment(easypost)
    assert shipment_id.startswith("shp_")
    stored = sim.state["shipments"][shipment_id]
    assert stored["reference"] == "label:7:1"
    # 20 x 15 x 10 cm and 1,200 g, in inches and ounces rounded up to a tenth.
    assert (stored["parcel"]["length"], stored["parcel"]["width"], stored["parcel"]["height"]) == (
        7.9,
        6.0,
        4.0,
    )
    assert stored["parcel"]["weight"] == 42.4
    expected = {(r["id"], r["carrier"], r["service"], r["rate"], r["delivery_days"]) for r in stored["rates"]}
    got = {(r.rate_id, r.carrier, r.service, str(r.price.amount), r.delivery_days) for r in rates}
    assert got == expected and len(rates) == 9
    assert all(isinstance(r.price, Money) and r.price.currency == "USD" for r in rates)


def test_international_shipment_sends_customs_and_gets_rates(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    lines = [Line("TOTE-RED", 2, "40.00", 900), Line("MUG", 1, "12.50", 300)]
    shipment_id, rates = easypost.create_shipment(LONDON, SHIP_FROM, BOX, lines, "label:8:1")
    customs = sim.state["shipments"][shipment_id]["customs_info"]
    assert (customs["customs_certify"], customs["customs_signer"], customs["contents_type"]) == (
        True,
        "Shipping Manager",
        "merchandise",
    )
    items = [(i["code"], i["quantity"], i["value"], i["origin_country"]) for i in customs["customs_items"]]
    assert items == [("TOTE-RED", 2, "40.00", "US"), ("MUG", 1, "12.50", "US")]
    assert rates and all(r.delivery_days is not None for r in rates)


def test_international_shipment_without_customs_has_no_rates_and_says_why(easypost: EasyPost) -> None:
    shipment_id, rates = easypost.create_shipment(LONDON, SHIP_FROM, BOX, None, "label:9:1")
    assert rates == []
    state = easypost.retrieve_shipment(shipment_id)
    assert state.messages[0] == "USPS: Customs information is required for international shipments."


def test_buy_returns_the_label_and_retrieve_shows_it(easypost: EasyPost, sim: EasyPostSimulator) -> None:
    shipment_id, rates = _shipment(easypost)
    cheapest = min(rates, key=lambda r: r.price.amount)
    label = easypost.buy(shipment_id, cheapest.rate_id, insurance=Decimal("150.00"))
    [bought] = sim.labels_for(shipment_id)
    assert (label.tracking_code, label.label_url) == (bought["tracking_code"], bought["label_url"])
    assert (label.carrier, label.service, label.price) == (cheapest.carrier, cheapest.service, cheapest.price)
    assert label.tracker_id is not None and label.tracking_url is not None
    assert sim.state["shipments"][shipment_id]["insurance"] == "150.00"
    state = easypost.retrieve_shipment(shipment_id)
    assert state.label == label and state.refund_status is None


def test_buying_again_returns_the_same_label_and_buys_nothing(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    shipment_id, rates = _shipment(easypost)
    first = easypost.buy(shipment_id, rates[0].rate_id)
    again = easypost.buy(shipment_id, rates[1].rate_id)
    assert again == first
    assert sim.label_purchases == 1


def test_lost_buy_response_is_retryable_and_retrieve_shows_the_label(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    shipment_id, rates = _shipment(easypost)
    sim.faults = Faults(lost_response_rate=1.0, hang_s=0, lost_response_ops=("shipment.buy",))
    with pytest.raises(Retryable):
        easypost.buy(shipment_id, rates[0].rate_id)
    sim.faults = Faults()
    label = easypost.retrieve_shipment(shipment_id).label
    assert label is not None and label.tracking_code == sim.labels_for(shipment_id)[0]["tracking_code"]
    assert sim.label_purchases == 1


def test_find_by_reference_recovers_a_shipment_whose_create_answer_was_lost(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    _shipment(easypost, "label:1:1")
    sim.faults = Faults(lost_response_rate=1.0, hang_s=0, lost_response_ops=("shipment.create",))
    with pytest.raises(Retryable):
        _shipment(easypost, "label:2:1")
    sim.faults = Faults()
    found = easypost.find_by_reference("label:2:1")
    assert found is not None and found.reference == "label:2:1"
    assert found.id in sim.state["shipments"] and len(found.rates) == 9
    assert easypost.find_by_reference("label:3:1") is None


def test_find_by_reference_prefers_the_bought_shipment_across_pages(
    server: tuple[EasyPostSimulator, RunningServer], sim: EasyPostSimulator
) -> None:
    easypost = EasyPost(DEFAULT_TEST_KEY, base_url=server[1].url + "/v2", timeout_s=5)
    bought_id, rates = _shipment(easypost, "label:5:1")
    easypost.buy(bought_id, rates[0].rate_id)
    for n in range(105):  # pushes the bought one to the second page (100 a page)
        _shipment(easypost, "label:5:1" if n == 50 else f"other:{n}")
    found = easypost.find_by_reference("label:5:1")
    assert found is not None and found.id == bought_id and found.label is not None
    assert sim.calls["shipment.list"] == 2


def test_refund_submits_once_and_a_second_request_reports_the_status(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    shipment_id, rates = _shipment(easypost)
    easypost.buy(shipment_id, rates[0].rate_id)
    sim.refund_delay_s = 60  # decided before the carrier's first scan (an hour in): the void goes through
    assert easypost.refund(shipment_id) == "submitted"
    assert easypost.refund(shipment_id) == "submitted"
    assert [r["shipment_id"] for r in sim.refunds] == [shipment_id]
    sim.advance(60)
    assert easypost.retrieve_shipment(shipment_id).refund_status == "refunded"


def test_refund_of_an_unbought_shipment_is_permanent(easypost: EasyPost) -> None:
    shipment_id, _ = _shipment(easypost)
    with pytest.raises(Rejected, match=r"SHIPMENT\.REFUND\.UNAVAILABLE"):
        easypost.refund(shipment_id)


def test_create_tracker_returns_the_existing_tracker_of_a_label(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    shipment_id, rates = _shipment(easypost)
    label = easypost.buy(shipment_id, rates[0].rate_id)
    tracker_id, url = easypost.create_tracker(label.tracking_code, label.carrier)
    assert (tracker_id, url) == (label.tracker_id, label.tracking_url)
    assert len(sim.trackers) == 1


# -- failures


@pytest.mark.parametrize("status", [500, 503, 504, 429])
def test_transient_statuses_are_retryable(easypost: EasyPost, sim: EasyPostSimulator, status: int) -> None:
    shipment_id, _ = _shipment(easypost)
    sim.fail_next(status, op="shipment.retrieve")
    with pytest.raises(Retryable, match=f"HTTP {status}"):
        easypost.retrieve_shipment(shipment_id)
    assert easypost.retrieve_shipment(shipment_id).id == shipment_id


def test_throttling_is_retryable_with_the_wait_easypost_asked_for(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    sim.faults = Faults(throttle_rate=1.0, retry_after_s=7)
    with pytest.raises(Retryable) as caught:
        _shipment(easypost)
    assert caught.value.wait_s == 7
    assert sim.state["shipments"] == {}


def test_injected_5xx_on_buy_buys_nothing_and_is_retryable(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    shipment_id, rates = _shipment(easypost)
    sim.faults = Faults(error_rate=1.0)
    with pytest.raises(Retryable):
        easypost.buy(shipment_id, rates[0].rate_id)
    sim.faults = Faults()
    assert sim.label_purchases == 0
    assert easypost.retrieve_shipment(shipment_id).label is None


def test_unknown_shipment_is_not_found(easypost: EasyPost) -> None:
    with pytest.raises(NotFound):
        easypost.retrieve_shipment("shp_0000")


def test_rate_of_another_shipment_is_rejected(easypost: EasyPost) -> None:
    _, rates = _shipment(easypost)
    second = _shipment(easypost, "label:7:2")[0]
    with pytest.raises(Rejected, match=r"SHIPMENT\.POSTAGE\.FAILURE"):
        easypost.buy(second, rates[0].rate_id)


def test_inactive_key_is_an_auth_error(
    server: tuple[EasyPostSimulator, RunningServer], sim: EasyPostSimulator
) -> None:
    with pytest.raises(AuthError, match=r"APIKEY\.INACTIVE"):
        EasyPost("EZTK-not-a-key", base_url=server[1].url, timeout_s=5).retrieve_shipment("shp_1")


def test_refused_connection_is_retryable() -> None:
    with pytest.raises(Retryable, match="connection failed"):
        EasyPost(DEFAULT_TEST_KEY, base_url="http://127.0.0.1:9", timeout_s=1).retrieve_shipment("shp_1")


@responses.activate
def test_timeout_is_retryable() -> None:
    responses.get("https://api.easypost.com/v2/shipments/shp_1", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(Retryable, match="timed out"):
        EasyPost(DEFAULT_TEST_KEY).retrieve_shipment("shp_1")


@responses.activate
def test_a_2xx_that_is_not_json_is_retryable_and_payment_refusal_is_permanent() -> None:
    responses.get("https://api.easypost.com/v2/shipments/shp_1", body="<html>maintenance</html>", status=200)
    responses.post(
        "https://api.easypost.com/v2/shipments/shp_1/buy",
        json={"error": {"code": "PAYMENT.REQUIRED", "message": "Insufficient funds.", "errors": []}},
        status=402,
    )
    client = EasyPost(DEFAULT_TEST_KEY)
    with pytest.raises(Retryable, match="not JSON"):
        client.retrieve_shipment("shp_1")
    with pytest.raises(Permanent, match=r"PAYMENT\.REQUIRED$") as caught:
        client.buy("shp_1", "rate_1")
    assert "Insufficient" not in str(caught.value)


# -- return labels

CHEAPEST = RatePolicy("ground", None)


def test_a_return_label_is_an_is_return_shipment_between_the_original_addresses(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    label = easypost.buy_return_label(REDONDO, SHIP_FROM, BOX, CHEAPEST, "retlabel:7")
    shipment = sim.state["shipments"][label.shipment_id]
    assert shipment["is_return"] is True and shipment["reference"] == "retlabel:7"
    # As EasyPost documents returns: the original shipment's addresses, switched by EasyPost.
    assert (shipment["to_address"]["city"].lower(), shipment["from_address"]["city"].lower()) == (
        "redondo beach",
        "san francisco",
    )
    cheapest = min(shipment["rates"], key=lambda r: Decimal(r["rate"]))
    assert label.extra["rate_id"] == cheapest["id"] and label.extra["is_return"] is True
    assert label.price == Money(Decimal(cheapest["rate"]), "USD")
    assert label.tracker_id is not None and sim.label_purchases == 1


def test_a_return_label_whose_buy_answer_was_lost_is_found_and_not_bought_again(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    sim.faults = Faults(lost_response_rate=1.0, hang_s=0, lost_response_ops=("shipment.buy",))
    with pytest.raises(Retryable):
        easypost.buy_return_label(REDONDO, SHIP_FROM, BOX, CHEAPEST, "retlabel:8")
    sim.faults = Faults()
    found = easypost.find_return_label("retlabel:8", CHEAPEST)
    assert found is not None and sim.label_purchases == 1
    assert found.tracking_code == sim.labels_for(found.shipment_id)[0]["tracking_code"]
    assert easypost.find_return_label("retlabel:9", CHEAPEST) is None


def test_a_return_shipment_created_but_not_bought_is_bought_by_its_find(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    sim.fail_next(503, op="shipment.buy")
    with pytest.raises(Retryable):
        easypost.buy_return_label(REDONDO, SHIP_FROM, BOX, CHEAPEST, "retlabel:10")
    assert sim.label_purchases == 0
    found = easypost.find_return_label("retlabel:10", CHEAPEST)
    assert found is not None and sim.label_purchases == 1
    assert sim.state["shipments"][found.shipment_id]["is_return"] is True


def test_a_return_label_with_no_eligible_rate_is_permanent_and_buys_nothing(
    easypost: EasyPost, sim: EasyPostSimulator
) -> None:
    with pytest.raises(Permanent, match="no rate to buy"):
        easypost.buy_return_label(
            REDONDO, SHIP_FROM, BOX, RatePolicy("ground", None, allow=frozenset({"DHL"})), "r:1"
        )
    assert sim.label_purchases == 0
