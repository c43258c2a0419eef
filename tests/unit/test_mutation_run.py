"""The equivalent-mutant list's bookkeeping in tests/mutation_run.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutation_run import load_equivalent, unused_entries

LISTED = {
    "core.rates:choose_rate:aaaaaaaaaa": "reason",
    "core.rates:_rank:bbbbbbbbbb": "reason",
    "core.risk:_facts:cccccccccc": "reason",
    "db.effects:run:dddddddddd": "reason",
}


def test_entries_of_the_modules_run_that_no_survivor_matched_are_reported_in_list_order() -> None:
    used = {"core.rates:_rank:bbbbbbbbbb"}
    assert unused_entries(LISTED, used, {"core.rates", "core.risk"}) == [
        "core.rates:choose_rate:aaaaaaaaaa",
        "core.risk:_facts:cccccccccc",
    ]


def test_entries_of_modules_not_run_are_not_reported() -> None:
    assert unused_entries(LISTED, set(), {"db.effects"}) == ["db.effects:run:dddddddddd"]
    assert unused_entries(LISTED, set(), set()) == []
    assert unused_entries(LISTED, set(LISTED), {"core.rates", "core.risk", "db.effects"}) == []


def test_every_entry_needs_a_reason(tmp_path: Path) -> None:
    listed = tmp_path / "equivalent.txt"
    listed.write_text("# comment\n\ncore.money:add:0123456789  adding zero\n")
    assert load_equivalent(listed) == {"core.money:add:0123456789": "adding zero"}
    listed.write_text("core.money:add:0123456789\n")
    with pytest.raises(SystemExit, match="has no reason"):
        load_equivalent(listed)
