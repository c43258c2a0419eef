"""Failure classes that carry the retry decision.

Connectors translate every outside failure into one of these; jobs and the
effects ledger act on the class, never on status codes or messages.
"""

from __future__ import annotations


class WaybillError(Exception):
    """Base of Waybill's own errors."""


class Retryable(WaybillError):
    """Transient: try again later (429, 5xx, timeouts, throttling, a busy lock).

    ``wait_s`` is the wait the outside system asked for, when it said one.
    """

    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s


class Throttled(Retryable):
    """The outside system asked to slow down (HTTP 429, Shopify's THROTTLED): nothing failed
    and nothing was done there. A job waits as asked without spending one of its retries,
    within ``queue.throttle_budget_s`` (then a throttle counts as any transient failure)."""


class NotAttempted(Retryable):
    """Given up before reaching the outside system: nothing happened there.

    Raised inside an effects-ledger action (say, a prepared call that an earlier call's
    failure cancelled), it releases the claim instead of leaving its outcome unknown.
    """


class ServiceDown(WaybillError):
    """A backing service of Waybill's own (the database, Redis) cannot be reached.

    Not a ``Retryable``: nothing outside failed and no attempt is spent on it; the job
    waits for the service (``queue.outage`` in config.yaml). ``service`` names it.
    """

    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service


class Permanent(WaybillError):
    """Will fail the same way every time (validation, auth, not found): do not retry."""


class Refusal(WaybillError):
    """A request refused for what it asks, not for a failure: the caller can change it.

    Plain domain errors: they carry no HTTP status (``web/errors.py`` alone maps each kind
    to one) and, raised in a job, are retried like any other error (they are not
    ``Permanent``). The message says what is wrong, for a person to read.
    """


class NotFound(Refusal):
    """No such thing for the caller (another account's is not found either).

    Not ``connectors.errors.NotFound``, which is an outside system's 404."""


class Conflict(Refusal):
    """The thing exists but its state does not allow this now (already decided, not held...)."""


class InvalidInput(Refusal):
    """The input itself is refused: missing, malformed, out of range."""


class OrderNotFound(NotFound):
    """No such order in the caller's account (review, shipping, packing: one error for all)."""
