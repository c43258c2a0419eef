"""What a reader raises: :class:`MappingError`, and :func:`shown` for the value it quotes."""

from __future__ import annotations

from core.errors import Permanent

MAX_SHOWN = 40


def shown(value: object) -> str:
    """A payload value as an error message may quote it: short, and never an e-mail address.

    Mapping errors reach dead letters and timelines; the payload itself stays in the inbox.
    """
    text = repr(value)
    if "@" in text:
        return f"<{type(value).__name__} of {len(str(value))} characters>"
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 3]}..."


class MappingError(Permanent):
    """A platform payload lacks a field Waybill needs, or carries it in an impossible form.

    Permanent: the same payload will fail the same way on every retry.
    """
