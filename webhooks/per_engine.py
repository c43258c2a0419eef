"""One object per database engine, made on first use and dropped with the engine."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Engine

T = TypeVar("T")


class PerEngine(Generic[T]):
    """A table of one ``T`` per engine; the engine is held weakly, so its ``T`` goes with it
    (a ``T`` must hold its engine weakly too, or it keeps it alive)."""

    def __init__(self) -> None:
        self._found: weakref.WeakKeyDictionary[Engine, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, engine: Engine, make: Callable[[], T]) -> T:
        """The engine's ``T``; ``make`` runs once, for the first caller."""
        found = self._found.get(engine)
        if found is not None:
            return found
        with self._lock:
            found = self._found.get(engine)
            if found is None:
                found = self._found[engine] = make()
        return found
