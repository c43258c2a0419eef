"""Many rows through one statement, without SQLAlchemy's per-row parameter work.

``Session.execute(stmt, [params...])`` builds each row's parameters through the compiled
statement's general machinery (cache-key matching, escaping, a dict per row): for the stock
push's 10,000-row updates and deletes that cost more than the database did. Here the
statement is compiled once per dialect, each column's bind processor is looked up once,
and the rows go to the driver's ``executemany`` through the session's own connection and
transaction (engine events still fire).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import Compiled


@dataclass(frozen=True)
class _Prepared:
    sql: str
    names: tuple[str, ...]  # parameter names in the order the driver takes them
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool


class Many:
    """One statement with named ``bindparam``s, run for many rows of those names."""

    def __init__(self, stmt: Executable) -> None:
        self._stmt = stmt
        self._prepared: dict[str, _Prepared] = {}  # by dialect name; a race compiles twice, harmlessly

    def _prepare(self, dialect: Dialect) -> _Prepared:
        found = self._prepared.get(dialect.name)
        if found is not None:
            return found
        compiled: Compiled = self._stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
        binds = compiled.binds  # type: ignore[attr-defined]
        positional = bool(compiled.positional)  # type: ignore[attr-defined]
        names = tuple(compiled.positiontup) if positional else tuple(binds)  # type: ignore[attr-defined]
        processors = tuple(binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
        prepared = self._prepared[dialect.name] = _Prepared(compiled.string, names, processors, positional)
        return prepared

    def run(self, s: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute for every row (each a mapping of bind name -> value) in the session's transaction."""
        if not rows:
            return
        conn = s.connection()
        p = self._prepare(conn.dialect)
        pairs = tuple(zip(p.names, p.processors, strict=True))
        if p.positional:
            params: list[Any] = [tuple(row[n] if f is None else f(row[n]) for n, f in pairs) for row in rows]
        else:
            params = [{n: (row[n] if f is None else f(row[n])) for n, f in pairs} for row in rows]
        conn.exec_driver_sql(p.sql, params)
