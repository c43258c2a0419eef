"""Addresses through the official client: create, retrieve, verify and the failure rules."""

from __future__ import annotations

import easypost
import pytest

from sandbox.easypost.samples import REDONDO, SF


def test_create_and_verify_normalises_the_address(client: easypost.EasyPostClient) -> None:
    address = client.address.create_and_verify(**SF)

    assert address.id.startswith("adr_") and len(address.id) == 36
    assert (address.name, address.street1, address.street2) == ("JACK SPARROW", "388 TOWNSEND ST APT 20", "")
    assert (address.city, address.state, address.zip) == ("SAN FRANCISCO", "CA", "94107-8762")
    assert address.residential is True
    delivery = address.verifications.delivery
    assert delivery.success is True and delivery.errors == []
    assert delivery.details.to_dict() == {
        "latitude": 37.77551,
        "longitude": -122.39697,
        "time_zone": "America/Los_Angeles",
    }


def test_create_and_verify_failure_raises_address_verify_failure(client: easypost.EasyPostClient) -> None:
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.address.create_and_verify(street1="invalid", city="Nowhere", state="CA", zip="94107")

    assert caught.value.http_status == 422
    assert caught.value.code == "ADDRESS.VERIFY.FAILURE"
    assert caught.value.message == "Unable to verify address."
    assert [e["code"] for e in caught.value.errors] == ["E.ADDRESS.NOT_FOUND", "E.HOUSE_NUMBER.MISSING"]


@pytest.mark.parametrize(
    "change",
    [{"street1": "12 UNDELIVERABLE WAY"}, {"zip": "00001"}, {"state": "ZZ"}, {"zip": "9410"}],
    ids=["undeliverable-street", "unknown-zip", "unknown-state", "short-zip"],
)
def test_rules_that_make_verification_fail(client: easypost.EasyPostClient, change: dict[str, str]) -> None:
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.address.create_and_verify(**{**SF, **change})

    assert caught.value.errors == [
        {
            "code": "E.ADDRESS.NOT_FOUND",
            "field": "address",
            "message": "Address not found",
            "suggestion": None,
        }
    ]


def test_wrong_city_for_a_known_zip_suggests_the_right_one(client: easypost.EasyPostClient) -> None:
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.address.create_and_verify(**{**REDONDO, "city": "Torrance"})

    assert caught.value.errors == [
        {
            "code": "E.ADDRESS.INVALID",
            "field": "city",
            "message": "City does not match ZIP code",
            "suggestion": "REDONDO BEACH",
        }
    ]


def test_create_with_verify_keeps_a_failing_address_with_its_verifications(
    client: easypost.EasyPostClient,
) -> None:
    address = client.address.create(verify=True, **{**SF, "zip": "00001"})

    assert address.street1 == "388 Townsend St"  # not normalised: it did not verify
    assert address.verifications.delivery.success is False
    assert address.verifications.delivery.errors[0].code == "E.ADDRESS.NOT_FOUND"
    assert client.address.retrieve(address.id).id == address.id


def test_create_with_verify_strict_fails_with_422(client: easypost.EasyPostClient) -> None:
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.address.create(verify_strict=True, **{**SF, "street1": "UNDELIVERABLE"})

    assert caught.value.code == "ADDRESS.VERIFY.FAILURE"


def test_plain_create_does_not_verify_and_retrieve_returns_it(client: easypost.EasyPostClient) -> None:
    created = client.address.create(**SF)

    fetched = client.address.retrieve(created.id)
    assert fetched.to_dict() == created.to_dict()
    assert fetched.verifications.to_dict() == {}
    assert fetched.street1 == "388 Townsend St"


def test_verify_an_existing_address_returns_a_new_verified_address(client: easypost.EasyPostClient) -> None:
    created = client.address.create(**REDONDO)

    verified = client.address.verify(created.id)

    assert verified.id != created.id
    assert verified.street1 == "179 N HARBOR DR"
    assert verified.residential is True
    assert verified.verifications.zip4.success is True


def test_non_us_addresses_verify(client: easypost.EasyPostClient) -> None:
    address = client.address.create_and_verify(
        name="Ana", street1="Calle Mayor 1", city="Madrid", zip="28013", country="es"
    )

    assert (address.country, address.zip, address.city) == ("ES", "28013", "MADRID")
