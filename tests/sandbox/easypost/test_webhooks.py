"""Webhooks: CRUD through the client, signed Event deliveries, retries on the simulator clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from typing import Any

import easypost
import pytest

from sandbox.easypost import EasyPostSimulator

SECRET = "sécret"
HOUR = 3600


def expected_signature(secret: str, body: bytes) -> str:
    """EasyPost's algorithm, written out here independently of the simulator."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def test_webhook_create_list_update_delete(client: easypost.EasyPostClient) -> None:
    hook = client.webhook.create(
        url="https://example.com/hooks", custom_headers=[{"name": "X-A", "value": "1"}]
    )

    assert (hook.object, hook.mode, hook.disabled_at) == ("Webhook", "test", None)
    assert [h.id for h in client.webhook.all()["webhooks"]] == [hook.id]
    updated = client.webhook.update(hook.id, custom_headers=[{"name": "X-B", "value": "2"}])
    assert updated.custom_headers[0].to_dict() == {"name": "X-B", "value": "2"}
    assert client.webhook.retrieve(hook.id).url == "https://example.com/hooks"
    client.webhook.delete(hook.id)
    assert client.webhook.all()["webhooks"] == []
    with pytest.raises(easypost.errors.NotFoundError):
        client.webhook.retrieve(hook.id)


def test_delivery_is_signed_with_the_nfkd_secret(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, receiver: Any
) -> None:
    client.webhook.create(url=receiver.url)
    tracker = client.tracker.create(tracking_code="EZ2000000002")

    sim.webhooks.flush()

    [delivery] = receiver.received
    body, headers = delivery["body"], delivery["headers"]
    assert headers["X-Hmac-Signature"] == expected_signature(SECRET, body)
    # The composed and decomposed spellings of the secret sign alike: NFKD first.
    assert headers["X-Hmac-Signature"] == expected_signature(unicodedata.normalize("NFD", SECRET), body)
    assert headers["X-Hmac-Signature"] != expected_signature("secret", body)
    event = easypost.validate_webhook(body, headers, SECRET)
    assert (event["object"], event["description"], event["mode"]) == ("Event", "tracker.created", "test")
    assert event["id"].startswith("evt_") and event["result"]["id"] == tracker.id
    assert (event["status"], event["pending_urls"], event["completed_urls"]) == (
        "pending",
        [receiver.url],
        [],
    )


def test_validate_webhook_rejects_a_wrong_secret(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, receiver: Any
) -> None:
    client.webhook.create(url=receiver.url)
    client.tracker.create(tracking_code="EZ1000000001")
    sim.webhooks.flush()

    [delivery] = receiver.received
    with pytest.raises(easypost.errors.SignatureVerificationError):
        easypost.validate_webhook(delivery["body"], delivery["headers"], "not-the-secret")


def test_webhook_secret_and_custom_headers_per_webhook(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, receiver: Any
) -> None:
    client.webhook.create(
        url=receiver.url,
        webhook_secret="\uff53\uff45\uff43\uff52\uff45\uff54",
        custom_headers=[{"name": "X-Shop", "value": "7"}],
    )
    client.tracker.create(tracking_code="EZ1000000001")
    sim.webhooks.flush()

    [delivery] = receiver.received
    # Full-width letters normalise (NFKD) to plain ASCII "secret".
    assert delivery["headers"]["X-Hmac-Signature"] == expected_signature("secret", delivery["body"])
    assert delivery["headers"]["X-Shop"] == "7"


def test_tracker_updates_carry_previous_attributes(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, receiver: Any
) -> None:
    client.webhook.create(url=receiver.url)
    tracker = client.tracker.create(tracking_code="9400166666666666666666")

    sim.advance(HOUR)  # the label scan
    sim.advance(9 * HOUR)  # the pickup comes 2 to 8 hours after the label

    events = [json.loads(d["body"]) for d in receiver.received]
    assert [e["description"] for e in events] == ["tracker.created", "tracker.updated", "tracker.updated"]
    assert [e["result"]["status"] for e in events] == ["unknown", "pre_transit", "in_transit"]
    # As EasyPost's recorded tracker.updated: the attribute that was there before, status only.
    assert [e["previous_attributes"] for e in events] == [
        {},
        {"status": "unknown"},
        {"status": "pre_transit"},
    ]
    assert [len(e["result"]["tracking_details"]) for e in events] == [0, 1, 2]
    assert {e["result"]["id"] for e in events} == {tracker.id}


def test_failed_deliveries_are_retried_with_backoff_until_accepted(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, receiver: Any
) -> None:
    client.webhook.create(url=receiver.url)
    receiver.statuses = [500, 503, 500]
    client.tracker.create(tracking_code="EZ4000000004")

    sim.webhooks.flush()  # attempt 1 fails
    sim.advance(59)
    assert len(receiver.received) == 1
    sim.advance(1)  # +60 s: attempt 2 fails
    sim.advance(300)  # +5 min: attempt 3 fails
    sim.advance(899)
    assert len(receiver.received) == 3
    sim.advance(1)  # +15 min: attempt 4 succeeds

    event_ids = [json.loads(d["body"])["id"] for d in receiver.received]
    assert len(event_ids) == 4 and len(set(event_ids)) == 1  # the same event, re-sent
    [event] = sim.events_sent("tracker.created")
    assert (event["status"], event["completed_urls"], event["pending_urls"]) == (
        "completed",
        [receiver.url],
        [],
    )
    assert [(a["attempt"], a["status"]) for a in sim.events.attempts] == [
        (1, 500),
        (2, 503),
        (3, 500),
        (4, 200),
    ]
    assert sim.events.pending_retries() == []


def test_retries_stop_after_the_schedule(client: easypost.EasyPostClient, receiver: Any, clock: Any) -> None:
    sim = EasyPostSimulator(api_keys=["EZTKk"], webhook_secret=SECRET, clock=clock, retry_schedule=(10, 20))
    sim.events.create_webhook("test", {"url": receiver.url})
    receiver.statuses = [500] * 10
    sim.events.emit("test", "tracker.updated", {"id": "trk_1", "object": "Tracker"})

    sim.webhooks.flush()
    sim.advance(10)
    sim.advance(20)
    sim.advance(3600)

    assert len(receiver.received) == 3
    assert sim.events_sent()[0]["status"] == "failed"


def test_events_only_reach_webhooks_of_their_mode(
    client: easypost.EasyPostClient,
    prod_client: easypost.EasyPostClient,
    sim: EasyPostSimulator,
    receiver: Any,
) -> None:
    prod_client.webhook.create(url=receiver.url)
    client.tracker.create(tracking_code="EZ1000000001")  # a test-mode event
    sim.webhooks.flush()

    assert receiver.received == []
    assert client.webhook.all()["webhooks"] == []


def test_events_are_listed_and_retrievable(client: easypost.EasyPostClient) -> None:
    client.tracker.create(tracking_code="EZ1000000001")

    listed = client.event.all()["events"]
    event = client.event.retrieve(listed[0].id)

    assert [e.description for e in listed] == ["tracker.created"]
    assert (event.id, event.object, event.previous_attributes.to_dict()) == (listed[0].id, "Event", {})
