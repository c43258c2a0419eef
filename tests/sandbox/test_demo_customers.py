"""The demo's customers: distinct, complete and deliverable; review cases fail for their one reason."""

from __future__ import annotations

from typing import Any

from sandbox.demo_orders import REVIEW_CASES, Customer, make_customer, review_customer
from sandbox.easypost.addresses import verification_errors

SAMPLE = 2000


def easypost_fields(c: Customer) -> dict[str, Any]:
    return {"street1": c.street, "city": c.city, "state": c.state, "zip": c.zip, "country": c.country}


def test_every_customer_is_distinct_in_name_email_phone_and_street() -> None:
    customers = [make_customer(n) for n in range(SAMPLE)]
    assert len({c.email for c in customers}) == SAMPLE
    assert len({c.phone for c in customers}) == SAMPLE
    assert len({(c.street, c.zip) for c in customers}) == SAMPLE
    assert len({(c.first_name, c.last_name) for c in customers[:900]}) == 900


def test_every_customer_address_is_complete_and_verifies() -> None:
    for n in range(SAMPLE):
        c = make_customer(n)
        assert all([c.first_name, c.last_name, c.street, c.city, c.state, c.zip, c.phone]), c
        assert verification_errors(easypost_fields(c)) == [], c


def test_review_cases_fail_verification_only_where_meant() -> None:
    codes = {
        case: [e["code"] for e in verification_errors(easypost_fields(review_customer(case, 5)))]
        for case in REVIEW_CASES
    }
    assert codes == {
        "address_correction": ["E.ADDRESS.INVALID"],
        "high_value_express": [],
        "missing_house_number": ["E.ADDRESS.NOT_FOUND", "E.HOUSE_NUMBER.MISSING"],
        "disposable_high_value": [],
    }
    assert review_customer("disposable_high_value", 5).email.endswith("@mailinator.com")
