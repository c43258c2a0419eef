"""Rate choice: the cheapest carrier service that meets the service level the buyer paid for.

Pure. The buyer's shipping method maps to a service level (``shipping.method_map``, else
the default level); the level says the most days delivery may take. Every rate is
considered and recorded with the reason it is eligible or not (carrier denied, not on the
allow list, too slow, no delivery promise when one is needed); the winner is the cheapest
eligible rate, ties going to the faster one, then carrier and service name. The other
eligible rates, in the same order, are the fallbacks when buying fails. Rates are compared
only within the currency of the cheapest eligible rate: an amount in another currency is
not comparable without a conversion Waybill does not make.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.orders import ShippingMethod
from core.shipping import Considered, Rate, RateChoice


@dataclass(frozen=True)
class RatePolicy:
    level: str
    max_days: int | None
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()


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
    considered: list[Considered] = []
    winner = eligible[0] if eligible else None
    for r in sorted(rates, key=_rank):
        why = verdicts[id(r)]
        if why is not None:
            considered.append(Considered(r, False, why))
        elif r is winner:
            considered.append(Considered(r, True, f"chosen: cheapest {within} ({policy.level})"))
        else:
            gap = r.price.amount - winner.price.amount if winner else Decimal("0")
            considered.append(Considered(r, True, f"eligible, {gap} {r.price.currency} more"))
    if winner is None:
        return RateChoice(
            None,
            (),
            tuple(considered),
            f"none of {len(rates)} rate(s) is eligible for {policy.level} ({within})",
        )
    reason = f"cheapest of {len(eligible)} eligible rate(s) {within} ({policy.level}): {_label(winner)}"
    return RateChoice(winner, tuple(eligible[1:]), tuple(considered), reason)


def insurance_for(value: Decimal, insure_above: Decimal | None) -> Decimal | None:
    """The amount to insure: the contents' value when above the threshold, else None."""
    if insure_above is None or value <= insure_above:
        return None
    return value
