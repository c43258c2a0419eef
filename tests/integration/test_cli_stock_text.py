"""The `stock` commands' text output, as an operator reads it, on a real database (both backends)."""

from __future__ import annotations

from typing import Any

from tests.integration.test_stock_admin import seed


def invoke(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def test_stock_show_tells_the_level_each_channel_and_every_movement(app: Any, rt: Any) -> None:
    _, store_id = seed(rt, **{"TEE-BLK-M": 10})
    adjusted = invoke(app, "stock", "adjust", "TEE-BLK-M", "-2", "--note", "two damaged in the bin")
    assert (adjusted.exit_code, adjusted.output) == (0, "TEE-BLK-M: on hand 8, reserved 0, available 8\n")
    shown = invoke(app, "stock", "show", "TEE-BLK-M").output.splitlines()
    assert shown[0] == "TEE-BLK-M at default: on hand 8, reserved 0, available 8"
    assert (
        shown[1] == f"  store {store_id} shopify acme.myshopify.com: publishes 8, channel shows 10"
    )  # not told yet
    assert shown[2].startswith("  forecast: TEE-BLK-M ") and "cover no sales" in shown[2]
    newest, oldest = (line.split() for line in shown[3:])  # newest first
    assert newest[1:7] == ["manual_adjustment", "on", "hand", "-2", "->", "8"]
    assert newest[-6:] == ["operator:cli", "two", "damaged", "in", "the", "bin"]
    assert (
        oldest[1:7] == ["initial_import", "on", "hand", "+10", "->", "10"]
        and oldest[-1] == f"store:{store_id}"
    )


def test_a_threshold_at_or_above_available_flags_low_stock_and_none_clears_it(app: Any, rt: Any) -> None:
    seed(rt, **{"TEE-BLK-M": 8})
    refused = invoke(app, "stock", "threshold", "TEE-BLK-M", "a few")
    assert refused.exit_code == 1 and "the threshold must be a whole number or none" in refused.output
    assert "LOW STOCK" not in invoke(app, "stock", "show", "TEE-BLK-M").output.splitlines()[0]

    assert invoke(app, "stock", "threshold", "TEE-BLK-M", "8").output == "TEE-BLK-M: low-stock threshold 8\n"
    assert invoke(app, "stock", "show", "TEE-BLK-M").output.splitlines()[0].endswith("available 8  LOW STOCK")

    cleared = invoke(app, "stock", "threshold", "TEE-BLK-M", "None")
    assert cleared.output == "TEE-BLK-M: low-stock threshold none\n"
    assert "LOW STOCK" not in invoke(app, "stock", "show", "TEE-BLK-M").output.splitlines()[0]


def test_adjusting_a_sku_the_ledger_does_not_hold_needs_new(app: Any, rt: Any) -> None:
    seed(rt, **{"TEE-BLK-M": 8})
    refused = invoke(app, "stock", "adjust", "MUG-WHT", "5", "--note", "found a box")
    assert refused.exit_code != 0 and "MUG-WHT" in refused.output
    assert "no SKU 'MUG-WHT' in the ledger" in invoke(app, "stock", "show", "MUG-WHT").output
    created = invoke(app, "stock", "adjust", "MUG-WHT", "5", "--note", "found a box", "--new")
    assert created.output == "MUG-WHT: on hand 5, reserved 0, available 5\n"
