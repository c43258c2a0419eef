"""Scripted outcomes: each turns a tracker's normal plan into the scans it will really get.

A scenario is ``(normal scans, already applied, params, rng, route) -> scans``. The scans
before ``applied`` are never changed (they were reported already), so a tracker scripted
after it started moving diverges from now on. Statuses and details are EasyPost's words:

- ``normal``: the plan as generated (see :mod:`sandbox.easypost.transit`).
- ``stalled``: no scan after the ``stall_after``-th in-transit scan (default 1, the
  pickup; 0: after the label, never picked up) for ``stall_for_s`` seconds, then the
  rest of the plan that much later; ``stall_for_s`` null (the default) stops it for good.
- ``failure``: out for delivery, then failure / delivery_exception instead of delivered.
- ``return_to_sender``: out for delivery, in_transit / attempted_delivery, next morning
  return_to_sender / return at the destination, a return scan at a hub, and
  return_to_sender / return "Delivered to sender" at the origin two days after the attempt.
- ``available_for_pickup``: attempted delivery, then available_for_pickup /
  arrived_at_pickup_location the next morning; with ``picked_up_after_s`` the customer
  collects it that long afterwards (delivered / arrived_at_destination).
- ``attempted_delivery``: attempted delivery, out for delivery again the next morning,
  delivered that day (after the estimate).
- ``delayed``: after the ``delay_after``-th in-transit scan (default 2) an in_transit scan
  with ``detail`` (default weather_delay), then the rest ``delay_s`` later (default two
  days; always at least one whole day, so delivery comes after the estimate).
- ``lost_events``: moves normally, but the webhooks of a share ``lose`` (default 0.5) of
  its updates are never sent (any scenario accepts ``lose``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from .transit import DAY, HOUR, Route, Scan, estimate

Params = dict[str, Any]
Transform = Callable[[list[Scan], int, Params, random.Random, Route], list[Scan]]


def _in_transit(scans: list[Scan]) -> list[int]:
    return [i for i, s in enumerate(scans) if s.status == "in_transit"]


def _out_index(scans: list[Scan]) -> int:
    return next(i for i, s in enumerate(scans) if s.kind == "out")


def _after_nth_in_transit(scans: list[Scan], nth: int, applied: int) -> int:
    """The index just after the ``nth`` in-transit scan (the last one if fewer; 0: just before the
    first, so the parcel is never picked up), not before ``applied``."""
    moving = _in_transit(scans)
    if not moving:
        return max(1, applied)
    index = moving[0] if nth <= 0 else moving[min(nth, len(moving)) - 1] + 1
    return max(index, applied)


def normal(scans: list[Scan], applied: int, params: Params, rng: random.Random, route: Route) -> list[Scan]:
    return scans


def stalled(scans: list[Scan], applied: int, params: Params, rng: random.Random, route: Route) -> list[Scan]:
    cut = _after_nth_in_transit(scans, int(params.get("stall_after", 1)), applied)
    pause = params.get("stall_for_s")
    if pause is None:
        return scans[:cut]
    return scans[:cut] + [s.shifted(float(pause)) for s in scans[cut:]]


def _until_out(scans: list[Scan], applied: int) -> tuple[list[Scan], Scan]:
    """The scans up to out for delivery, and the attempt/outcome moment (the planned delivery)."""
    out = max(_out_index(scans), applied - 1)
    return scans[: out + 1], scans[-1]


def _attempt(at: float, route: Route) -> Scan:
    return Scan(at, "in_transit", "attempted_delivery", "attempt", route.destination)


def failure(scans: list[Scan], applied: int, params: Params, rng: random.Random, route: Route) -> list[Scan]:
    head, last = _until_out(scans, applied)
    return [*head, Scan(last.at, "failure", "delivery_exception", "exception", route.destination)]


def return_to_sender(
    scans: list[Scan], applied: int, params: Params, rng: random.Random, route: Route
) -> list[Scan]:
    head, last = _until_out(scans, applied)
    hub = next((s.place for s in reversed(head) if s.kind in ("arrived", "departed")), route.origin)
    return [
        *head,
        _attempt(last.at, route),
        Scan(last.at + rng.uniform(14, 20) * HOUR, "return_to_sender", "return", "return", route.destination),
        Scan(last.at + rng.uniform(26, 34) * HOUR, "return_to_sender", "return", "returning", hub),
        Scan(last.at + 2 * DAY, "return_to_sender", "return", "returned", route.origin),
    ]


def available_for_pickup(
    scans: list[Scan], applied: int, params: Params, rng: random.Random, route: Route
) -> list[Scan]:
    head, last = _until_out(scans, applied)
    ready_at = last.at + rng.uniform(14, 20) * HOUR
    tail = [
        _attempt(last.at, route),
        Scan(ready_at, "available_for_pickup", "arrived_at_pickup_location", "ready", route.destination),
    ]
    if params.get("picked_up_after_s") is not None:
        collected = ready_at + float(params["picked_up_after_s"])
        tail.append(Scan(collected, "delivered", "arrived_at_destination", "collected", route.destination))
    return head + tail


def attempted_delivery(
    scans: list[Scan], applied: int, params: Params, rng: random.Random, route: Route
) -> list[Scan]:
    head, last = _until_out(scans, applied)
    out_again = head[-1].shifted(DAY)
    return [*head, _attempt(last.at, route), out_again, last.shifted(DAY)]


def delayed(scans: list[Scan], applied: int, params: Params, rng: random.Random, route: Route) -> list[Scan]:
    cut = min(_after_nth_in_transit(scans, int(params.get("delay_after", 2)), applied), _out_index(scans))
    cut = max(cut, applied, 1)
    if cut >= len(scans):
        return scans  # nothing left to delay
    before, after = scans[cut - 1], scans[cut]
    detail = str(params.get("detail") or "weather_delay")
    delay = Scan((before.at + after.at) / 2, "in_transit", detail, "delay", before.place)
    late_by = estimate(route.created, route.days) - scans[-1].at
    days = max(1, math.ceil(float(params.get("delay_s", 2 * DAY)) / DAY), math.ceil(late_by / DAY))
    return [*scans[:cut], delay, *(s.shifted(days * DAY) for s in scans[cut:])]


SCENARIOS: dict[str, tuple[Transform, frozenset[str]]] = {
    "normal": (normal, frozenset()),
    "stalled": (stalled, frozenset({"stall_after", "stall_for_s"})),
    "failure": (failure, frozenset()),
    "return_to_sender": (return_to_sender, frozenset()),
    "available_for_pickup": (available_for_pickup, frozenset({"picked_up_after_s"})),
    "attempted_delivery": (attempted_delivery, frozenset()),
    "delayed": (delayed, frozenset({"delay_after", "delay_s", "detail"})),
    "lost_events": (normal, frozenset()),
}
COMMON_PARAMS = frozenset({"lose"})
NUMERIC_PARAMS = frozenset(
    {"stall_after", "stall_for_s", "picked_up_after_s", "delay_after", "delay_s", "lose"}
)


def check(scenario: str, params: Params) -> Params:
    """The params, validated: a clear ``ValueError`` for an unknown scenario, param or value."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}")
    allowed = SCENARIOS[scenario][1] | COMMON_PARAMS
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"scenario {scenario!r} takes no {', '.join(unknown)}; it takes {sorted(allowed)}")
    for name in NUMERIC_PARAMS & set(params):
        value = params[name]
        if value is None and name in ("stall_for_s", "picked_up_after_s"):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a number >= 0, not {value!r}")
    if "lose" in params and params["lose"] > 1:
        raise ValueError(f"lose must be a share between 0 and 1, not {params['lose']!r}")
    if scenario == "lost_events" and "lose" not in params:
        return {**params, "lose": 0.5}
    return dict(params)


def check_mix(mix: dict[str, Any]) -> dict[str, tuple[float, Params]]:
    """A scenario mix ``{scenario: {"share": 0.1, **params}}`` (or ``{scenario: 0.1}``), validated.

    Shares are in [0, 1] and add up to at most 1; what is left is ``normal``.
    """
    checked: dict[str, tuple[float, Params]] = {}
    for scenario, spec in mix.items():
        params = dict(spec) if isinstance(spec, dict) else {"share": spec}
        share = params.pop("share", None)
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ValueError(f"the share of {scenario!r} must be a number between 0 and 1, not {share!r}")
        checked[scenario] = (float(share), check(str(scenario), params))
    total = sum(share for share, _ in checked.values())
    if total > 1 + 1e-9:
        raise ValueError(f"the shares add up to {total:g}, more than 1")
    return checked


def pick(mix: dict[str, tuple[float, Params]], draw: float) -> tuple[str, Params]:
    """The scenario a draw in [0, 1) falls on (``normal`` past the listed shares)."""
    edge = 0.0
    for scenario, (share, params) in mix.items():
        edge += share
        if draw < edge:
            return scenario, params
    return "normal", {}


def apply(
    scenario: str, scans: list[Scan], applied: int, params: Params, rng: random.Random, route: Route
) -> list[Scan]:
    """The scans a tracker following ``scenario`` gets (the first ``applied`` unchanged)."""
    transform = SCENARIOS[scenario][0]
    return [*scans[:applied], *transform(scans, applied, params, rng, route)[applied:]]
