"""Return shipments (``is_return: true``): shaped like EasyPost's recorded return, and tracked
from the buyer back to the sender on the tracking plan of outbound parcels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import easypost
import pytest

from sandbox.easypost import EasyPostSimulator
from sandbox.easypost.samples import NEW_YORK, PARCEL, REDONDO, SF, pick_rate
from tests.conformance.conftest import reference_path

DAY = 24 * 3600


def _return(client: easypost.EasyPostClient, to: dict[str, Any] = REDONDO) -> Any:
    # As EasyPost documents returns: the original shipment's addresses, and is_return.
    return client.shipment.create(
        to_address=to, from_address=SF, parcel=PARCEL, is_return=True, reference="r-1"
    )


def test_a_return_shipment_keeps_the_addresses_it_was_given_and_says_it_is_a_return(
    client: easypost.EasyPostClient,
) -> None:
    shipment = _return(client)
    assert shipment.is_return is True
    assert (shipment.to_address.city, shipment.from_address.city) == ("Redondo Beach", "San Francisco")
    # EasyPost's recorded return: buyer_address is the to_address, return_address the from_address.
    assert (shipment.buyer_address.city, shipment.return_address.city) == ("Redondo Beach", "San Francisco")
    assert len(shipment.rates) > 0


def test_a_return_shipment_has_the_keys_of_easyposts_recorded_return(client: easypost.EasyPostClient) -> None:
    folder = reference_path()
    if not folder.is_dir():
        pytest.skip(f"no platform reference at {folder}")
    recorded = json.loads(Path(folder / "easypost/responses/returns-create.json").read_text())
    ours = _return(client).to_dict()
    assert sorted(set(recorded) - set(ours)) == []
    assert (recorded["is_return"], ours["is_return"]) == (True, True)


@pytest.mark.parametrize("to", [REDONDO, NEW_YORK])
def test_a_return_parcel_moves_from_the_buyer_to_the_sender(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, to: dict[str, Any]
) -> None:
    shipment = _return(client, to)
    bought = client.shipment.buy(shipment.id, rate=pick_rate(shipment, "USPS", "Priority"))
    assert bought.tracker.is_return is True
    sim.advance(15 * DAY, step_s=3600)
    tracker = client.tracker.retrieve(bought.tracker.id)
    assert tracker.status == "delivered"
    places = [d.tracking_location.city for d in tracker.tracking_details if d.tracking_location.city]
    assert places[0].lower() == to["city"].lower()  # first scan where the buyer drops it off
    assert places[-1].lower() == SF["city"].lower()  # delivered back at the sender's
