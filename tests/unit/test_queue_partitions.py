"""Where a job goes among a queue's merchant partitions (sync/queue.py); the fairness itself
is tested on Redis with a real worker in tests/integration/test_fair_queue.py."""

from __future__ import annotations

import pytest

from settings import load_settings
from sync.queue import (
    partition_index,
    partition_key,
    partition_name,
    partition_names,
    partitioned_by,
    queue_of,
)


def test_a_merchant_s_jobs_share_a_partition_and_merchants_up_to_the_count_each_have_one() -> None:
    assert {partition_index(7, f"job-{n}", 32) for n in range(50)} == {7}
    assert sorted(partition_index(account, "x", 32) for account in range(1, 33)) == list(range(32))
    assert partition_index(33, "x", 32) == partition_index(1, "x", 32)  # beyond the count: shared


def test_a_job_of_no_merchant_goes_by_its_id_stably_and_spread() -> None:
    spots = [partition_index(None, f"periodic-{n}", 8) for n in range(200)]
    assert spots == [partition_index(None, f"periodic-{n}", 8) for n in range(200)]
    assert set(spots) == set(range(8))


def test_one_partition_is_the_plain_queue() -> None:
    assert partition_index(5, "x", 1) == 0 and partition_index(None, "x", 1) == 0
    assert partition_names(["intake", "orders"], 1) == ["intake", "orders"]


def test_partitions_are_named_after_their_queue_partition_by_partition() -> None:
    assert partition_name("orders", 0) == "orders" and partition_name("orders", 3) == "orders.3"
    assert partition_names(["intake", "orders"], 3) == [
        "intake",
        "orders",
        "intake.1",
        "orders.1",
        "intake.2",
        "orders.2",
    ]
    assert {queue_of(name) for name in partition_names(["intake", "orders"], 3)} == {"intake", "orders"}


def test_the_running_job_s_key_is_inherited_in_its_block_only() -> None:
    assert partition_key() is None
    with partitioned_by(4):
        assert partition_key() == 4
        with partitioned_by(None):
            assert partition_key() is None
        assert partition_key() == 4
    assert partition_key() is None


def test_the_partition_count_is_configured_and_bounded() -> None:
    assert load_settings({}, environ={}).queue.partitions == 32
    assert load_settings({"queue": {"partitions": 1}}, environ={}).queue.partitions == 1
    with pytest.raises(Exception, match="partitions"):
        load_settings({"queue": {"partitions": 0}}, environ={})
