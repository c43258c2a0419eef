"""bench.pipeline --rounds: medians over alternating rounds, and a double label in any round."""

from __future__ import annotations

from bench.pipeline import compared


def _half(cpu: int, sandbox: int, double: int = 0) -> dict[str, str]:
    return {
        "orders_per_min_1": "500",
        "cpu_ms_per_order": str(cpu),
        "double_labels": str(double),
        "sandbox_cpu_ms_per_order": str(sandbox),
    }


def test_one_round_is_the_pair_itself() -> None:
    line = compared([(_half(80, 20), _half(60, 20))])
    assert line == (
        "orders_per_min_1=500 cpu_ms_per_order=60 double_labels=0 sandbox_cpu_ms_per_order=20 "
        "baseline_cpu_ms_per_order=80 cpu_ratio=0.75 sandbox_ratio=1.00"
    )


def test_rounds_report_medians_and_the_median_ratio() -> None:
    pairs = [
        (_half(100, 25), _half(70, 24)),  # a slow minute: both halves slow
        (_half(80, 20), _half(64, 20)),
        (_half(70, 19), _half(63, 19, double=1)),  # an outlier ratio, and a double label
    ]
    fields = dict(part.split("=") for part in compared(pairs).split())
    assert fields["cpu_ms_per_order"] == "64"  # median of 70, 64, 63
    assert fields["baseline_cpu_ms_per_order"] == "80"  # median of 100, 80, 70
    assert fields["cpu_ratio"] == "0.80"  # median of 0.70, 0.80, 0.90
    assert fields["double_labels"] == "1"  # any round's, not the median
    assert fields["rounds"] == "3"
