"""Order verification and fraud rules: facts with weights, a score, and a decision.

Pure: :func:`assess` takes the order and what the caller counted about it
(:class:`RiskInput`) and returns a :class:`RiskVerdict` whose facts say exactly why.
Each rule adds its weight (``RiskRules.weights``, from ``risk.weights`` in config.yaml)
when it fires. ``score < approve_below``: approve; ``score >= reject_at``: reject; in
between: hold for a person. An undeliverable or missing address is never approved, and a
trusted customer is never held or rejected by the other rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from core.orders import Order
from core.shipping import AddressCheck

Decision = Literal["approve", "hold", "reject"]

# Well-known throwaway mailbox providers; config adds more (risk.disposable_domains).
BUILTIN_DISPOSABLE = frozenset(
    {
        "10minutemail.com",
        "20minutemail.com",
        "33mail.com",
        "anonbox.net",
        "burnermail.io",
        "discard.email",
        "dispostable.com",
        "emailondeck.com",
        "fakeinbox.com",
        "getairmail.com",
        "getnada.com",
        "guerrillamail.com",
        "guerrillamail.net",
        "maildrop.cc",
        "mailinator.com",
        "mailnesia.com",
        "mintemail.com",
        "mohmal.com",
        "mytemp.email",
        "sharklasers.com",
        "spam4.me",
        "spamgourmet.com",
        "temp-mail.org",
        "tempail.com",
        "tempmail.com",
        "tempmailo.com",
        "throwawaymail.com",
        "trashmail.com",
        "yopmail.com",
        "moakt.com",
    }
)

# Rules that stop an order whatever the score: it cannot be shipped as it is.
BLOCKING = frozenset({"address_undeliverable", "missing_address"})


@dataclass(frozen=True)
class RiskRules:
    approve_below: int
    reject_at: int
    high_value: Decimal
    high_risk_countries: frozenset[str]
    disposable_domains: frozenset[str]
    velocity_max_orders: int
    expedited_codes: tuple[str, ...]
    weights: Mapping[str, int]

    @classmethod
    def from_settings(cls, risk: Any) -> RiskRules:
        """From ``settings.RiskSettings`` (or anything with the same attributes)."""
        return cls(
            approve_below=int(risk.approve_below),
            reject_at=int(risk.reject_at),
            high_value=Decimal(str(risk.high_value)),
            high_risk_countries=frozenset(c.strip().upper() for c in risk.high_risk_countries),
            disposable_domains=BUILTIN_DISPOSABLE | {d.strip().lower() for d in risk.disposable_domains},
            velocity_max_orders=int(risk.velocity_max_orders),
            expedited_codes=tuple(c.strip().lower() for c in risk.expedited_codes),
            weights=dict(risk.weights),
        )


@dataclass(frozen=True)
class RiskInput:
    """The order and what the caller counted about it (other orders only, never this one)."""

    order: Order
    prior_orders: int = 0  # this customer's earlier orders with the merchant (0: new customer)
    recent_by_email: int = 0  # other orders inside the velocity window with the same e-mail
    recent_by_address: int = 0  # ... the same shipping address
    recent_by_ip: int = 0  # ... the same browser IP
    platform_risk: str | None = None  # the platform's own verdict: HIGH, MEDIUM, LOW, NONE
    address_check: AddressCheck | None = None
    trusted: bool = False  # on the merchant's allowlist


@dataclass(frozen=True)
class Fact:
    rule: str
    weight: int
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "weight": self.weight, "detail": self.detail}


@dataclass(frozen=True)
class RiskVerdict:
    score: int
    decision: Decision
    facts: tuple[Fact, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "decision": self.decision,
            "facts": [f.to_dict() for f in self.facts],
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskVerdict:
        decision: Decision = data["decision"]
        facts = tuple(Fact(f["rule"], int(f["weight"]), f["detail"]) for f in data.get("facts", ()))
        return cls(int(data["score"]), decision, facts, str(data.get("reason", "")))


def _norm(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower().rstrip(".") or None


def is_disposable(email: str | None, domains: frozenset[str]) -> str | None:
    """The listed domain the address belongs to (itself or a parent domain), else None."""
    domain = email_domain(email)
    if domain is None:
        return None
    parts = domain.split(".")
    for i in range(len(parts) - 1):
        candidate = ".".join(parts[i:])
        if candidate in domains:
            return candidate
    return None


def _needs_shipping(order: Order) -> bool:
    return any(line.requires_shipping for line in order.line_items)


def _is_expedited(order: Order, codes: tuple[str, ...]) -> str | None:
    method = order.shipping_method
    if method is None:
        return None
    text = f"{method.code or ''} {method.title or ''}".lower().replace("-", "_")
    spaced = text.replace("_", " ")
    for code in codes:
        if code and (code in text or code.replace("_", " ") in spaced):
            return method.title or method.code or code
    return None


Found = list[tuple[str, str]]  # (rule, detail) of each rule that fired


def _facts(inp: RiskInput, rules: RiskRules) -> list[Fact]:
    found = [
        *_value_facts(inp, rules),
        *_address_facts(inp.order, rules),
        *_velocity_facts(inp, rules),
        *_email_facts(inp.order, rules),
        *_platform_facts(inp),
        *_address_check_facts(inp),
    ]
    facts = [Fact(rule, int(rules.weights.get(rule, 0)), detail) for rule, detail in found]
    facts.sort(key=lambda f: (-f.weight, f.rule))
    return facts


def _value_facts(inp: RiskInput, rules: RiskRules) -> Found:
    """A high total, and a new customer's high-value order shipped expedited."""
    order = inp.order
    found: Found = []
    total = order.total.amount
    high_value = total >= rules.high_value
    if high_value:
        found.append(
            ("high_value", f"total {total} {order.total.currency} is at or above {rules.high_value}")
        )
    expedited = _is_expedited(order, rules.expedited_codes)
    if inp.prior_orders == 0 and expedited and high_value:
        detail = f"first order, expedited shipping ({expedited}), high value"
        found.append(("new_customer_expedited_high_value", detail))
    return found


def _address_facts(order: Order, rules: RiskRules) -> Found:
    """A missing shipping address, billing and shipping that differ, a high-risk destination."""
    found: Found = []
    ship, bill = order.shipping_address, order.billing_address
    if _needs_shipping(order) and (ship is None or ship.is_empty()):
        found.append(("missing_address", "the order needs shipping but has no shipping address"))
    ship_country = (ship.country_code or "").upper() if ship else ""
    bill_country = (bill.country_code or "").upper() if bill else ""
    if ship_country and bill_country and ship_country != bill_country:
        found.append(("country_mismatch", f"billed in {bill_country}, shipped to {ship_country}"))
    elif ship and bill and ship_country and ship_country == bill_country:
        same_postal = _norm(ship.postal_code) == _norm(bill.postal_code)
        same_line = _norm(ship.line1) == _norm(bill.line1)
        if (ship.postal_code and bill.postal_code and not same_postal) or (
            ship.line1 and bill.line1 and not same_line
        ):
            found.append(("address_mismatch", "billing and shipping addresses differ"))
    if ship_country and ship_country in rules.high_risk_countries:
        found.append(("high_risk_destination", f"ships to {ship_country}, a high-risk destination"))
    return found


def _velocity_facts(inp: RiskInput, rules: RiskRules) -> Found:
    limit = rules.velocity_max_orders
    counts = {"e-mail": inp.recent_by_email, "address": inp.recent_by_address, "IP": inp.recent_by_ip}
    over = [f"{n + 1} orders from one {what}" for what, n in counts.items() if n + 1 > limit]
    if over:
        return [("velocity", "; ".join(over) + f" in the window (more than {limit})")]
    return []


def _email_facts(order: Order, rules: RiskRules) -> Found:
    disposable = is_disposable(order.email, rules.disposable_domains)
    if disposable:
        return [("disposable_email", f"e-mail at {disposable}, a throwaway mailbox provider")]
    return []


def _platform_facts(inp: RiskInput) -> Found:
    level = (inp.platform_risk or "").upper()
    if level == "HIGH":
        return [("platform_risk_high", "the storefront rates this order high risk")]
    if level == "MEDIUM":
        return [("platform_risk_medium", "the storefront rates this order medium risk")]
    return []


def _address_check_facts(inp: RiskInput) -> Found:
    check = inp.address_check
    if check is None or check.deliverable:
        return []
    detail = "the carrier cannot deliver to this address"
    if check.messages:
        detail += ": " + "; ".join(check.messages)
    if check.suggestion:
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(check.suggestion.items()) if v)
        detail += f" (suggested: {shown})"
    return [("address_undeliverable", detail)]


def assess(inp: RiskInput, rules: RiskRules) -> RiskVerdict:
    """Score the order and decide: approve, hold for review, or reject."""
    facts = _facts(inp, rules)
    score = sum(f.weight for f in facts)
    blocking = [f for f in facts if f.rule in BLOCKING]
    decision: Decision
    if inp.trusted:
        facts.append(Fact("trusted_customer", 0, "on the merchant's list of trusted customers"))
        decision = "hold" if blocking else "approve"
    elif score >= rules.reject_at:
        decision = "reject"
    elif score >= rules.approve_below or blocking:
        decision = "hold"
    else:
        decision = "approve"
    return RiskVerdict(score, decision, tuple(facts), _reason(score, decision, facts, blocking, inp.trusted))


def _reason(score: int, decision: Decision, facts: list[Fact], blocking: list[Fact], trusted: bool) -> str:
    fired = [f for f in facts if f.rule != "trusted_customer"]
    if decision == "approve":
        if trusted and fired:
            return f"approved: trusted customer (score {score} from {', '.join(f.rule for f in fired)})"
        if not fired:
            return "approved: no rule fired"
        return f"approved: score {score} ({', '.join(f.rule for f in fired)})"
    main = blocking or fired
    named = "; ".join(f.detail for f in main[:3])
    verb = "held for review" if decision == "hold" else "rejected"
    return f"{verb}: score {score}: {named}"
