"""Reports may read from a replica of the database (``REPORTS_DATABASE_URL``).

Reports and exports read a lot and write almost nothing, so a streaming replica can carry
them and leave the primary to the people working on complaints. Only code inside
``reads_from_replica()`` reads there — the /reports/ pages and the building of exports —
and a replica lags its primary by a few seconds, which a report can afford and a form
that has just saved something cannot. Without the setting there is no ``replica`` alias
and everything reads from the primary as before.

Writes always go to the primary. So do reads inside a transaction opened within the
block (a service that locks a row with ``select_for_update`` before writing): a replica
refuses locks, and a decision must be taken on current data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

REPLICA = "replica"

# How deep the primary's transactions were nested when the block began; None outside.
_depth: ContextVar[int | None] = ContextVar("reports_replica_depth", default=None)

P = ParamSpec("P")
R = TypeVar("R")


def configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def reads_from_replica() -> Iterator[None]:
    """Reads in this block go to the replica, when one is configured."""
    token = _depth.set(len(connections[DEFAULT_DB_ALIAS].atomic_blocks))
    try:
        yield
    finally:
        _depth.reset(token)


def replica_reads(view: Callable[P, R]) -> Callable[P, R]:
    """A view whose reads go to the replica (see ``reads_from_replica``)."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with reads_from_replica():
            return view(*args, **kwargs)

    return wrapper


class ReportsRouter:
    """``DATABASE_ROUTERS``: the replica for reads in ``reads_from_replica()``, else None."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        depth = _depth.get()
        if depth is None or not configured():
            return None
        # A transaction begun inside the block reads what it is about to change: primary.
        if len(connections[DEFAULT_DB_ALIAS].atomic_blocks) > depth:
            return DEFAULT_DB_ALIAS
        return REPLICA

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        # Never the replica, even for a row that was read from it.
        return DEFAULT_DB_ALIAS if configured() else None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # Both hold the same data: a row read from the replica may point at one from the
        # primary (an export's event at the complaint it logs).
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        # The replica follows the primary's schema by replication, never by migrate.
        return False if db == REPLICA else None
