"""Catalog and stock: the stock verbs of a storefront (see the package docstring).

A flow names a listing the way a catalog link does (product, variant, stock item and
location ids, whichever the platform uses) and gets canonical answers: a
:class:`Catalog`, :class:`Level` and :class:`Changed` levels, :class:`StockEvent` s, and
per write a :class:`WriteResult` (``written`` / ``observed`` / ``refused``).

Writing is driven by the flow through a :class:`StockWriter`: the flow plans the writes,
claims each call in the effects ledger under its own key, pipelines the calls (the
writer says how many may be out at once) and commits the results; the writer knows the
platform's batches, requests and answers.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from core.catalog import CatalogEntry
from core.inventory import StockTaken
from core.orders import Order


@dataclass(frozen=True)
class Listed:
    """One tracked listing, as a catalog link names it on its channel (``key`` is the caller's)."""

    key: Hashable
    product_id: int
    variant_id: int | None
    inventory_item_id: int | None
    location_id: int | None


@dataclass(frozen=True)
class Changed:
    """A listing's level as the channel shows it, with the channel's time of that level."""

    key: Hashable
    quantity: int
    at: datetime


def oldest_first(changes: Iterable[Changed]) -> list[Changed]:
    return sorted(changes, key=lambda c: c.at)


@dataclass(frozen=True)
class Level:
    """A level read from a channel, with the channel's time."""

    qty: int
    at: datetime


@dataclass(frozen=True)
class Catalog:
    """A store's catalog as read, and the location its levels are from (None: the store has one)."""

    entries: list[CatalogEntry]
    location_id: int | None = None


@dataclass(frozen=True)
class StockEvent:
    """A level a platform event reports for one listing.

    The listing is named by its stock item at a location (``inventory_item_id`` and
    ``location_id`` set) or else by its product and variant (``variant_id`` None for a
    product without variants).
    """

    quantity: int
    at: datetime
    product_id: int | None = None
    variant_id: int | None = None
    inventory_item_id: int | None = None
    location_id: int | None = None

    @property
    def by_item(self) -> bool:
        return self.inventory_item_id is not None


class StockWrite(NamedTuple):
    """One level to write on one channel: the catalog link and mark it answers, and the listing.

    A tuple of plain values, so the garbage collector stops tracking it (and the result
    tuples holding it): a full push keeps 10,000 of them alive.
    """

    link_id: int
    sku: str
    marked_at: datetime
    target: int
    current: int | None  # what we believe the channel shows (compare-and-set)
    product_id: int
    variant_id: int | None
    inventory_item_id: int | None
    location_id: int | None

    def content(self) -> list[Any]:
        """What makes this write this write (for the effects-ledger key)."""
        return [
            self.sku,
            self.product_id,
            self.variant_id,
            self.inventory_item_id,
            self.location_id,
            self.target,
            self.current,
            self.marked_at.isoformat(),
        ]


class WriteOutcome(enum.Enum):
    WRITTEN = "written"  # the channel now shows ``quantity``
    OBSERVED = "observed"  # the channel showed something else (``quantity``): not written
    REFUSED = "refused"  # the channel refused it (``reason``)


class WriteResult(NamedTuple):
    """What became of one write. ``checked``: written by a compare-and-set that passed, so the
    channel showed ``write.current`` when it took it."""

    write: StockWrite
    outcome: WriteOutcome
    quantity: int | None = None
    at: datetime | None = None
    reason: str = ""
    checked: bool = False


@dataclass(frozen=True)
class StockCall:
    """One write call, prepared: its writes, what the effects ledger records of the request and
    what makes the call this call (hashed into the flow's idempotency key)."""

    writes: tuple[StockWrite, ...]
    request: Mapping[str, Any]
    content: list[Any]
    body: Any = None  # the platform's request, for ``send``


Slot = Callable[[], AbstractContextManager[None]]


class StockWriter(Protocol):
    """The platform side of a stock push (see the module docstring)."""

    @property
    def page(self) -> int | None:
        """Marks the flow plans before the first call goes out (None: the whole round, when
        calls group writes from anywhere in it)."""
        ...

    @property
    def in_flight(self) -> int:
        """Calls at the platform at once."""
        ...

    @property
    def ahead(self) -> int:
        """Further calls prepared and claimed while those are out."""
        ...

    def accepts(self, write: StockWrite) -> bool:
        """Whether the listing names all the platform needs to write it."""
        ...

    def before(self, writes: Iterator[StockWrite]) -> tuple[list[WriteResult], Iterator[StockWrite]]:
        """Levels read before writing where the platform has no compare-and-set: the writes the
        channel shows something else for (``observed``), and the writes left to send."""
        ...

    def prepare(self, writes: Iterator[StockWrite]) -> Iterator[StockCall]:
        """The calls that write ``writes``, each at most the platform's batch."""
        ...

    def send(self, call: StockCall, idempotency_key: str, slot: Slot) -> dict[str, Any]:
        """Send ``call`` (inside ``slot()``): what the effects ledger keeps of the answer."""
        ...

    def results(
        self, call: StockCall, answer: Mapping[str, Any], slot: Slot
    ) -> tuple[list[WriteResult], list[StockWrite]]:
        """Each write's outcome from ``answer`` (reads made inside ``slot()``), and the writes to
        send again in a new call (refused with the others, not for themselves)."""
        ...


class StockVerbs(Protocol):
    """The catalog, stock levels read and written (written / observed / refused), and the
    stock a platform event reports."""

    def catalog(self, location_hint: Any = None) -> Catalog:
        """The store's whole catalog; ``location_hint`` names the location to read levels at."""
        ...

    def read_levels(self, listed: Sequence[Listed]) -> dict[Hashable, Level]:
        """What the channel shows now per listing (by key); listings it no longer has are left out."""
        ...

    def levels_changed_since(self, since: datetime, listed: Sequence[Listed]) -> list[Changed]:
        """The levels of ``listed`` that changed on the channel after ``since`` (oldest first)."""
        ...

    def stock_writer(self) -> StockWriter: ...

    @staticmethod
    def stock_event(body: Mapping[str, Any]) -> StockEvent | None:
        """The level a stock event's payload reports (None: it reports no managed level).
        No I/O, no credentials: also one of the ``EventReader``'s verbs."""
        ...

    def stock_taken(self, payload: Mapping[str, Any], order: Order) -> StockTaken:
        """When the channel took the order's units off its own level (from the order payload)."""
        ...
