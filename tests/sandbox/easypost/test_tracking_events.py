"""Tracker events as deliveries: lost updates, dropped, duplicated and reordered ones, retrieval
afterwards, the control routes, and a week of 500 trackers."""

from __future__ import annotations

import collections
import json
import math
from datetime import datetime
from typing import Any

import easypost
import requests

from sandbox.easypost import EasyPostSimulator
from sandbox.easypost.scenarios import SCENARIOS
from sandbox.easypost.simulator import EasyPostFaults
from sandbox.harness import FakeClock, RunningServer

HOUR = 3600
DAY = 24 * HOUR
START = 1_800_000_000.0
SECRET = "sécret"


def stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def ticks(scans: list[dict[str, Any]], step_s: float) -> int:
    """How many clock steps of ``step_s`` (from START) brought at least one of these scans."""
    return len({math.ceil((stamp(s["datetime"]) - START) / step_s) for s in scans})


def received_events(receiver: Any) -> list[dict[str, Any]]:
    """Every delivered body, checked against the signature as Waybill checks it."""
    return [easypost.validate_webhook(d["body"], d["headers"], SECRET) for d in receiver.received]


def updates(receiver: Any) -> list[dict[str, Any]]:
    return [e for e in received_events(receiver) if e["description"] == "tracker.updated"]


def test_lost_updates_are_never_sent_but_a_retrieve_sees_every_scan(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, receiver: Any
) -> None:
    client.webhook.create(url=receiver.url)
    tracker = client.tracker.create(tracking_code="9400111111111111111111", carrier="USPS")
    sim.script_tracker(tracker.id, "lost_events", lose=0.5)

    sim.advance(8 * DAY, step_s=HOUR)

    report = sim.tracker_report(tracker.id)
    sent = updates(receiver)
    assert report["suppressed"] > 0 and len(sent) > 0
    # One update per hourly tick that brought scans, minus the lost ones.
    assert len(sent) + report["suppressed"] == ticks(report["scans"], HOUR)
    assert len(sim.events_sent("tracker.updated")) == len(sent)
    refreshed = client.tracker.retrieve(tracker.id)
    assert [(d.datetime, d.status) for d in refreshed.tracking_details] == [
        (s["datetime"], s["status"]) for s in report["scans"]
    ]
    assert refreshed.status == "delivered"
    listed = client.tracker.all(tracking_code="9400111111111111111111", carrier="USPS")["trackers"]
    assert [t.id for t in listed] == [tracker.id]
    assert listed[0].tracking_details[-1].status == "delivered"
    assert client.tracker.all(tracking_code="9400111111111111111111", carrier="UPS")["trackers"] == []


def test_dropped_tracker_events_are_never_delivered_nor_retried(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, receiver: Any
) -> None:
    sim.faults = EasyPostFaults(tracker_drop_rate=1.0)
    client.webhook.create(url=receiver.url)
    tracker = client.tracker.create(tracking_code="9400122222222222222222")

    sim.advance(8 * DAY, step_s=2 * HOUR)

    assert [e["description"] for e in received_events(receiver)] == ["tracker.created"]
    report = sim.tracker_report(tracker.id)
    dropped = [e for e in report["events"] if e["description"] == "tracker.updated"]
    assert dropped and all(e["dropped"] and e["copies"] == 0 for e in dropped)
    assert report["status"] == "delivered" and sim.events.pending_retries() == []
    assert sim.tracking_report()["totals"]["dropped"] == len(dropped)


def test_duplicated_tracker_events_arrive_two_or_three_times_with_one_id(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, receiver: Any
) -> None:
    sim.faults = EasyPostFaults(seed=3, tracker_duplicate_rate=1.0)
    client.webhook.create(url=receiver.url)
    tracker = client.tracker.create(tracking_code="9400133333333333333333")

    sim.advance(8 * DAY, step_s=2 * HOUR)

    copies = collections.Counter(e["id"] for e in updates(receiver))
    report = sim.tracker_report(tracker.id)
    expected = {e["id"]: e["copies"] for e in report["events"] if e["description"] == "tracker.updated"}
    assert dict(copies) == expected
    assert set(copies.values()) == {2, 3}
    bodies: dict[str, set[bytes]] = collections.defaultdict(set)
    for delivery in receiver.received:
        bodies[json.loads(delivery["body"])["id"]].add(delivery["body"])
    assert all(len(same) == 1 for same in bodies.values())  # the copies are the same bytes


def test_reordered_tracker_events_arrive_shuffled_and_all_of_them(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, receiver: Any
) -> None:
    sim.faults = EasyPostFaults(seed=5, tracker_reorder_window_s=12 * HOUR)
    client.webhook.create(url=receiver.url)
    for code in ("9400144444444444444441", "9400144444444444444442", "9400144444444444444443"):
        client.tracker.create(tracking_code=code)

    sim.advance(10 * DAY, step_s=HOUR)

    received = updates(receiver)
    arrived = [e["id"] for e in received]
    created = [e["id"] for e in sim.events_sent("tracker.updated")]
    assert sorted(arrived) == sorted(created)
    assert arrived != created
    # Per tracker too: a later update (more scans) can arrive before an earlier one.
    by_tracker: dict[str, list[int]] = collections.defaultdict(list)
    for event in received:
        by_tracker[event["result"]["id"]].append(len(event["result"]["tracking_details"]))
    assert any(seen != sorted(seen) for seen in by_tracker.values())


def test_tracker_faults_replay_with_the_same_seed() -> None:
    def outcome(seed: int) -> list[tuple[bool, int]]:
        faults = EasyPostFaults(seed=seed, tracker_drop_rate=0.3, tracker_duplicate_rate=0.3)
        sim = EasyPostSimulator(clock=FakeClock(), faults=faults, seed=1)
        for i in range(5):
            sim.tracking.create(sim.clock.now(), "test", f"94001555555555555555{i:02d}", None)
        sim.advance(8 * DAY, step_s=4 * HOUR)  # no webhook: the decisions are still made and kept
        reports = sim.tracking_report()["trackers"].values()
        return [(e["dropped"], e["copies"]) for r in reports for e in r["events"]]

    first = outcome(11)
    assert first == outcome(11)
    assert first != outcome(12)
    assert {dropped for dropped, _ in first} == {True, False} and {c for _, c in first} >= {0, 1, 2}


def test_faults_and_scripts_through_the_control_routes(
    sim: EasyPostSimulator, server: RunningServer, client: easypost.EasyPostClient
) -> None:
    base = server.url + "/_sandbox"
    faults = requests.post(
        base + "/faults", json={"tracker_drop_rate": 0.05, "webhook_reorder": True}, timeout=5
    )
    assert faults.json()["tracker_drop_rate"] == 0.05 and isinstance(sim.faults, EasyPostFaults)
    tracker = client.tracker.create(tracking_code="9400166666666666666666")

    bad = requests.post(
        base + "/easypost/script_tracker",
        json={
            "scripts": [{"tracker": tracker.id, "scenario": "failure"}, {"tracker": "x", "scenario": "nope"}]
        },
        timeout=5,
    )
    assert (bad.status_code, bad.json()["error"]) == (
        400,
        f"unknown scenario 'nope'; known: {sorted(SCENARIOS)}",
    )
    assert sim.tracker_report(tracker.id)["scenario"] == "normal"  # nothing scripted
    good = requests.post(
        base + "/easypost/script_tracker",
        json={"tracker": tracker.id, "scenario": "stalled", "stall_after": 2, "stall_for_s": None},
        timeout=5,
    )
    assert good.json() == {"ok": True, "scripted": 1}
    advanced = requests.post(
        base + "/easypost/advance", json={"seconds": 10 * DAY, "step_s": 6 * HOUR}, timeout=5
    )
    assert advanced.json()["now"] == sim.clock.now()

    report = requests.get(base + "/easypost/tracking", timeout=5).json()
    mine = report["trackers"][tracker.id]
    assert (mine["scenario"], mine["status"], mine["pending"]) == ("stalled", "in_transit", 0)
    assert [s["status"] for s in mine["scans"]] == ["pre_transit", "in_transit", "in_transit"]
    assert report["totals"]["trackers"] == 1
    assert requests.post(base + "/easypost/advance", json={"seconds": -1}, timeout=5).status_code == 400
    sim.reset()
    assert isinstance(sim.faults, EasyPostFaults) and sim.faults.tracker_drop_rate == 0


def test_a_week_of_500_trackers_in_quarter_hours(sim: EasyPostSimulator) -> None:
    scripts = {0: ("stalled", {}), 1: ("failure", {}), 2: ("return_to_sender", {}), 3: ("lost_events", {})}
    for i in range(500):
        tracker, _ = sim.tracking.create(sim.clock.now(), "test", f"9400{i:018d}", None)
        scenario, params = scripts.get(i % 20, ("normal", {}))
        sim.script_tracker(tracker["id"], scenario, **params)

    sim.advance(7 * DAY, step_s=15 * 60)

    report = sim.tracking_report()
    by_scenario: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for entry in report["trackers"].values():
        by_scenario[entry["scenario"]][entry["status"]] += 1
    assert by_scenario["normal"] == {"delivered": 400}
    assert by_scenario["lost_events"] == {"delivered": 25}
    assert by_scenario["stalled"] == {"in_transit": 25}
    assert by_scenario["failure"] == {"failure": 25}
    assert by_scenario["return_to_sender"] == {"return_to_sender": 25}
    for entry in report["trackers"].values():
        # One update per quarter-hour tick in which the tracker had a scan (unless lost).
        sent = [e for e in entry["events"] if e["description"] == "tracker.updated"]
        assert len(sent) + entry["suppressed"] == ticks(entry["scans"], 15 * 60)
        assert (entry["suppressed"] > 0) is (entry["scenario"] == "lost_events")
    assert report["totals"]["updates"] == len(sim.events_sent("tracker.updated"))
    assert sim.tracking.next_scan_at() is None  # every plan played out within the week


def test_a_scenario_mix_scripts_new_trackers_by_share_and_replays() -> None:
    def scenarios(seed: int) -> collections.Counter[str]:
        sim = EasyPostSimulator(clock=FakeClock(), seed=seed)
        sim.script_mix(
            {"stalled": {"share": 0.10, "stall_after": 2}, "failure": 0.05, "return_to_sender": 0.03}
        )
        sim.script_tracker("9400000000000000000000007", "delayed")  # a script by code wins over the mix
        for i in range(1000):
            sim.tracking.create(sim.clock.now(), "test", f"94000000000000000000{i:05d}", None)
        plans = sim.tracking.plans.values()
        assert {p.params.get("stall_after") for p in plans if p.scenario == "stalled"} == {2}
        return collections.Counter(p.scenario for p in plans)

    counted = scenarios(3)
    assert counted == scenarios(3)
    assert counted["delayed"] == 1
    assert 70 <= counted["stalled"] <= 130 and 30 <= counted["failure"] <= 70
    assert 12 <= counted["return_to_sender"] <= 50
    assert counted["normal"] == 1000 - sum(v for k, v in counted.items() if k != "normal")


def test_a_bad_mix_is_refused_and_the_mix_in_force_stays(
    sim: EasyPostSimulator, server: RunningServer
) -> None:
    route = server.url + "/_sandbox/easypost/scenario_mix"
    requests.post(route, json={"mix": {"failure": 0.05}}, timeout=5)

    too_much = requests.post(route, json={"mix": {"failure": 0.7, "stalled": 0.5}}, timeout=5)
    unknown = requests.post(route, json={"mix": {"lost": 0.1}}, timeout=5)
    bad_param = requests.post(route, json={"mix": {"stalled": {"share": 0.1, "stall_for": 5}}}, timeout=5)

    assert [r.status_code for r in (too_much, unknown, bad_param)] == [400, 400, 400]
    assert too_much.json()["error"] == "the shares add up to 1.2, more than 1"
    assert requests.get(route, timeout=5).json() == {"mix": {"failure": {"share": 0.05}}}


def test_stalled_after_zero_is_a_label_never_picked_up(sim: EasyPostSimulator) -> None:
    tracker, _ = sim.tracking.create(sim.clock.now(), "test", "9400177777777777777770", None)
    sim.script_tracker(tracker["id"], "stalled", stall_after=0)

    sim.advance(10 * DAY, step_s=HOUR)

    assert [s["status"] for s in sim.tracker_report(tracker["id"])["scans"]] == ["pre_transit"]
