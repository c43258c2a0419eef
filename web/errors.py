"""The one table from domain errors to HTTP answers.

``sync/``, ``db/`` and ``core/`` raise plain domain errors (``core.errors.NotFound``,
``Conflict``, ``InvalidInput`` and their subclasses), which say what is wrong and carry no
HTTP status. Here alone each kind gets its status code and its body: the JSON API answers
``{"error": "<message>"}`` (``web.edge.error_response``, as every API error), the install
pages the install page titled "Cannot install". A view lets the error rise; the handler
registered for its blueprint (:func:`register`) answers. The console raises none of them.

Errors of the web's own (a bad ``?limit=``, a missing bearer token) are answered where
they are found; outages (the database or Redis down) are ``web.edge``'s 503.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint

from connectors.netguard import UnsafeUrl
from core.errors import Conflict, InvalidInput, NotFound
from sync import stock_admin


@dataclass(frozen=True)
class Answer:
    status: int
    text: str | None = None  # what the body says; None: the error's own message


# The most specific class in an error's MRO decides (a subclass may answer otherwise).
ANSWERS: dict[type[Exception], Answer] = {
    NotFound: Answer(404),
    Conflict: Answer(409),
    InvalidInput: Answer(400),
    # An unknown SKU is "not found" like any other object: its name and ledger location
    # (in the message, for the CLI) stay out of the API's answer.
    stock_admin.UnknownSku: Answer(404, "not found"),
    # A store URL Waybill will not call (malformed, not https, a private address).
    UnsafeUrl: Answer(400),
}


def answer_for(exc: BaseException) -> Answer | None:
    """The answer for ``exc``: the table's row for its most specific class, if any."""
    for cls in type(exc).__mro__:
        found = ANSWERS.get(cls)
        if found is not None:
            return found
    return None


def register(bp: Blueprint, render: Callable[[int, str], Any]) -> None:
    """Answer every error of the table raised by ``bp``'s views with ``render(status, text)``."""

    def handle(exc: Exception) -> Any:
        answer = answer_for(exc)
        assert answer is not None  # registered for the table's classes only
        return render(answer.status, answer.text or str(exc))

    for cls in ANSWERS:
        bp.register_error_handler(cls, handle)
