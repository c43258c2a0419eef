"""freeze_boot_heap: start-up objects leave the garbage collector's generations."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sync.runtime import freeze_boot_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process keeps collecting everything


def test_start_up_objects_are_frozen_and_later_ones_are_not(unfrozen: None) -> None:
    booted = [[n] for n in range(1_000)]  # containers alive at start-up
    frozen = freeze_boot_heap()
    assert frozen >= len(booted) and gc.get_freeze_count() > 0
    in_generations = {id(o) for o in gc.get_objects()}
    assert not any(id(x) in in_generations for x in booted)
    later = [[0]]
    assert id(later[0]) in {id(o) for o in gc.get_objects()}


def test_gunicorn_workers_freeze_once_their_app_is_loaded(unfrozen: None) -> None:
    import runpy
    from pathlib import Path

    conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert gc.get_freeze_count() == 0
    conf["post_worker_init"](object())
    assert gc.get_freeze_count() > 0
