"""Write-back: what Waybill tells the storefront about an order (see the package docstring)."""

from __future__ import annotations

from typing import Protocol


class WriteVerbs(Protocol):
    """Risk verdict, cancel and is-cancelled, fulfilment with tracking, completion, tracking
    events, returns and refunds; each written once through the effects ledger by the flow."""
