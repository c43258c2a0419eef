"""Periodic jobs are named schedules (config.yaml ``schedules``): each entry names a job, its
interval and its queue; a name that is no job stops start-up; the scheduler enqueues each
on its own queue, once; and a sweep does only its own work (nothing appends to another)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from db.models import Order as OrderRow
from db.models import utcnow
from settings import DEFAULT_CONFIG, Schedule, SettingsError, load_settings
from sync.jobs import JOBS, safe_job_id
from sync.runtime import build_runtime
from sync.schedule import Scheduler, check_schedules, schedulable
from tests.integration.test_verdict_jobs import held_order, merchant

SWEEPS = {"sweep_stock", "settle_overdue", "resume_shipping", "resume_verification"}


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(Path(DEFAULT_CONFIG).read_text())["schedules"]
    return data


def test_the_shipped_schedules_name_jobs_with_an_interval_and_a_queue(rt: Any) -> None:
    raw = shipped()
    assert SWEEPS | {"sweep_inbox", "reconcile_all", "inventory_audit_all", "catalog_all"} <= set(raw)
    for name, entry in raw.items():
        assert set(entry) == {"every_s", "queue"}, name  # both said, none left to a default
        assert entry["queue"] in rt.settings.queue.names, name
        assert JOBS[name].queue == entry["queue"], name  # where the job would run unscheduled too
    check_schedules(load_settings())  # every name is a job that takes no arguments
    assert set(raw) <= set(schedulable())
    assert "verify_order" not in schedulable()  # needs an order id


def test_a_number_alone_is_the_interval_on_the_jobs_own_queue(rt: Any) -> None:
    settings = load_settings({"schedules": {"sweep_inbox": 5, "settle_overdue": {"queue": "reconcile"}}})
    assert settings.schedules["sweep_inbox"] == Schedule(every_s=5, queue=None)
    assert settings.schedules["settle_overdue"] == Schedule(every_s=10, queue="reconcile")  # merged


@pytest.mark.parametrize(
    ("schedules", "said"),
    [
        ({"sweep_stock": {"every_s": 10, "queue": "stock"}}, "sweep_stock: queue 'stock' is not one of"),
        ({"sweep_stock": 0}, "setting 'schedules.sweep_stock.every_s': Input should be greater than 0"),
        ({"sweep_stock": {"every": 10}}, "schedules.sweep_stock.every"),
    ],
)
def test_a_bad_schedule_is_refused_with_its_name(schedules: dict[str, Any], said: str) -> None:
    with pytest.raises(SettingsError, match="invalid configuration") as refused:
        load_settings({"schedules": schedules})
    assert said in str(refused.value)


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("sweep_stocks", "setting 'schedules.sweep_stocks': no job is named 'sweep_stocks' (jobs that can"),
        ("verify_order", "setting 'schedules.verify_order': the job needs order_id, which a schedule"),
    ],
)
def test_a_schedule_naming_no_job_stops_start_up(config: dict[str, Any], name: str, said: str) -> None:
    settings = load_settings({**config, "schedules": {name: 10}})
    with pytest.raises(SettingsError) as refused:
        build_runtime(settings).close()
    assert said in str(refused.value)


def test_a_misspelt_schedule_is_told_the_names_it_could_be(config: dict[str, Any]) -> None:
    with pytest.raises(SettingsError) as refused:
        build_runtime(load_settings({**config, "schedules": {"resume_shiping": 10}})).close()
    listed = str(refused.value).split("jobs that can be scheduled: ", 1)[1]
    assert "resume_shipping" in listed.split(", ") and "verify_order" not in listed


def test_the_scheduler_enqueues_each_job_on_its_schedules_queue_once(rt: Any) -> None:
    scheduler = Scheduler(rt)
    scheduler.schedules = {
        "settle_overdue": Schedule(every_s=60, queue="reconcile"),
        "sweep_stock": Schedule(every_s=60),
    }
    before = rt.queue.depth()
    assert scheduler.tick(now=1000.0) == ["settle_overdue", "sweep_stock"]
    after = rt.queue.depth()
    assert after["reconcile"] == before["reconcile"] + 1  # the schedule's queue
    assert after["inventory"] == before["inventory"] + 1  # the job's own
    assert rt.queue.is_live("periodic-settle_overdue") and rt.queue.is_live("periodic-sweep_stock")
    assert scheduler.tick(now=1060.0) == ["settle_overdue", "sweep_stock"]  # due again, still queued:
    assert rt.queue.depth() == after  # not doubled


def test_each_sweep_does_its_own_work_only(rt: Any) -> None:
    """The stock sweep used to restart verification (and shipping) too, as steps other
    modules appended to it at import time; now each is a schedule of its own."""
    account_id, store_id, _ = merchant(rt, "alpha")
    stalled = held_order(rt, account_id, store_id, "1001")
    with rt.session() as s:
        row = s.get(OrderRow, stalled)
        assert row is not None
        row.stage, row.risk, row.hold_reason = "received", None, None
        row.updated_at = utcnow() - timedelta(minutes=5)
    verify = safe_job_id("verify", stalled)
    for name in SWEEPS - {"resume_verification"}:
        JOBS[name].fn(rt)
        assert not rt.queue.is_live(verify), name
    assert JOBS["resume_verification"].fn(rt) == 1
    assert rt.queue.is_live(verify)
