"""Rate choice: the cheapest carrier service that meets the service level the buyer paid for.

Pure. The buyer's shipping method maps to a service level (``shipping.method_map``, else
the default level); the level says the most days delivery may take. Every rate is
considered and recorded with the reason it is eligible or not (carrier denied, not on the
allow list, too slow, no delivery promise when one is needed); the winner is the cheapest
eligible rate, ties going to the faster one, then carrier and service name. The other
eligible rates, in the same order, are the fallbacks when buying fails. Rates are compared
only within the currency of the cheapest eligible rate: an amount in another currency is
not comparable without a conversion Waybill does not make.

With ``on_time_min`` set (``shipping.on_time_min``), the winner is instead the cheapest
eligible rate whose carrier and service delivered on time at least that often on this
route class, over at least ``on_time_min_samples`` deliveries with an estimate
(``core.transit.choose_on_time``); until one qualifies, the rule above chooses, and the
reason says which rule did. Other qualifying rates are the first fallbacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.orders import ShippingMethod
from core.shipping import Considered, Rate, RateChoice
from core.transit import CarrierStats, RouteClass, RouteKey, choose_on_time, key_of, on_time_verdict, percent


@dataclass(frozen=True)
class RatePolicy:
    level: str
    max_days: int | None
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    on_time_min: Decimal | None = None  # None: cheapest wins; 0..1: cheapest that is on time this often
    on_time_min_samples: int = 20
    route: RouteClass | None = None  # the parcel's route class: needed with on_time_min
    stats: Mapping[RouteKey, CarrierStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.on_time_min is None:
            return
        if not Decimal(0) <= self.on_time_min <= Decimal(1):
            raise ValueError(f"on_time_min must be between 0 and 1, got {self.on_time_min}")
        if self.on_time_min_samples < 1:
            raise ValueError(f"on_time_min_samples must be at least 1, got {self.on_time_min_samples}")
        if self.route is None:
            raise ValueError("an on-time rate policy needs the parcel's route class")


def service_level_for(method: ShippingMethod | None, method_map: Mapping[str, str], default: str) -> str:
    """The service level for the buyer's method: by its code, then its title, else ``default``."""
    if method is None:
        return default
    table = {k.strip().lower(): v for k, v in method_map.items()}
    for key in (method.code, method.title):
        name = (key or "").strip().lower()
        found = table.get(name) if name else None  # a blank code or title maps to nothing
        if found:
            return found
    return default


def _lower(names: frozenset[str]) -> frozenset[str]:
    return frozenset(n.strip().lower() for n in names)


def _judge(rate: Rate, policy: RatePolicy, allow: frozenset[str], deny: frozenset[str]) -> str | None:
    """Why ``rate`` is not eligible, or None when it is."""
    carrier = rate.carrier.strip().lower()
    if carrier in deny:
        return f"carrier {rate.carrier} is denied"
    if allow and carrier not in allow:
        return f"carrier {rate.carrier} is not on the allow list"
    if policy.max_days is not None:
        if rate.delivery_days is None:
            return f"no delivery promise; {policy.level} needs {policy.max_days} day(s) or fewer"
        if rate.delivery_days > policy.max_days:
            return f"too slow: {rate.delivery_days} days > {policy.max_days}"
    return None


def _rank(rate: Rate) -> tuple[Decimal, int, str, str]:
    days = rate.delivery_days if rate.delivery_days is not None else 10_000
    return rate.price.amount, days, rate.carrier.lower(), rate.service.lower()


def _label(rate: Rate) -> str:
    return f"{rate.carrier} {rate.service} {rate.price.amount} {rate.price.currency}"


def _on_time(eligible: list[Rate], policy: RatePolicy, reason: str) -> tuple[list[Rate], dict[int, str], str]:
    """Eligible rates in the on-time rule's order (winner, other qualifying, the rest), misses, reason."""
    if policy.on_time_min is None or policy.route is None:
        return eligible, {}, reason
    route, least, samples = policy.route, policy.on_time_min, policy.on_time_min_samples
    misses: dict[int, str] = {}
    for r in eligible:
        miss = on_time_verdict(policy.stats.get(key_of(r, route)), route, least, samples)
        if miss is not None:
            misses[id(r)] = miss
    chosen, why = choose_on_time(eligible, policy.stats, route, least, samples, (eligible[0], reason))
    assert chosen is not None
    rest = [r for r in eligible if r is not chosen]
    ordered = [chosen, *sorted(rest, key=lambda r: id(r) in misses)]  # stable: rank order kept within each
    return ordered, misses, why


def choose_rate(rates: Sequence[Rate], policy: RatePolicy) -> RateChoice:
    """Consider every rate, pick the cheapest eligible one; nothing eligible gives ``chosen=None``."""
    allow, deny = _lower(policy.allow), _lower(policy.deny)
    within = f"delivering within {policy.max_days} day(s)" if policy.max_days is not None else "at any speed"
    if not rates:
        return RateChoice(None, (), (), "no rates returned for this parcel")
    verdicts = {id(r): _judge(r, policy, allow, deny) for r in rates}
    eligible = sorted((r for r in rates if verdicts[id(r)] is None), key=_rank)
    if eligible:
        currency = eligible[0].price.currency
        for r in eligible:
            if r.price.currency != currency:
                verdicts[id(r)] = f"priced in {r.price.currency}, not comparable with {currency}"
        eligible = [r for r in eligible if r.price.currency == currency]
    if not eligible:
        considered = tuple(Considered(r, False, str(verdicts[id(r)])) for r in sorted(rates, key=_rank))
        return RateChoice(
            None, (), considered, f"none of {len(rates)} rate(s) is eligible for {policy.level} ({within})"
        )
    cheapest = (
        f"cheapest of {len(eligible)} eligible rate(s) {within} ({policy.level}): {_label(eligible[0])}"
    )
    ordered, misses, reason = _on_time(eligible, policy, cheapest)
    winner = ordered[0]
    if policy.on_time_min is not None and id(winner) not in misses:
        chosen = f"chosen: cheapest on time at least {percent(policy.on_time_min)} on {policy.route} routes"
    else:
        chosen = f"chosen: cheapest {within} ({policy.level})"
    considered = tuple(
        _considered(r, verdicts[id(r)], winner, misses.get(id(r)), chosen) for r in sorted(rates, key=_rank)
    )
    return RateChoice(winner, tuple(ordered[1:]), considered, reason)


def _considered(rate: Rate, verdict: str | None, winner: Rate, miss: str | None, chosen: str) -> Considered:
    """How one rate was seen: not eligible and why, the winner, or how it compares with the winner."""
    if verdict is not None:
        return Considered(rate, False, verdict)
    if rate is winner:
        return Considered(rate, True, chosen)
    gap = rate.price.amount - winner.price.amount
    if gap < 0:  # only the on-time rule passes over a cheaper rate, and always for a reason
        return Considered(rate, True, f"eligible, {-gap} {rate.price.currency} cheaper but {miss}")
    tail = f"; {miss}" if miss is not None else ""
    return Considered(rate, True, f"eligible, {gap} {rate.price.currency} more{tail}")


def insurance_for(value: Decimal, insure_above: Decimal | None) -> Decimal | None:
    """The amount to insure: the contents' value when above the threshold, else None."""
    if insure_above is None or value <= insure_above:
        return None
    return value
