"""Configuration that every request reads and administrators rarely change, held in memory.

Intake reads the SLA policies (with their versions, targets, escalation steps and
calendars), the categories and departments above a complaint, and the webhook
subscriptions, for every complaint it takes in: a dozen queries that return the same rows
each time. A :class:`Snapshot` builds such a set once per process and keeps it while its
generation token (``ops.models.Generation``) is unchanged — one indexed read per use.

Saving or deleting any watched model writes a new random token in the same transaction.
So a change is seen by every process at its next use, a change that is rolled back is
never kept (the token rolls back too, and a random token cannot come back by chance),
and nothing depends on a shared cache being up. Writes that skip model signals
(``QuerySet.update``, raw SQL, data migrations) are covered by ``max_age``: a snapshot is
rebuilt at least that often.

Objects in a snapshot are shared by every request of the process: read them, never
change them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save

T = TypeVar("T")


def bump(name: str) -> None:
    """Give ``name`` a new generation token (in the current transaction, if any)."""
    from ops.models import Generation

    Generation.objects.update_or_create(name=name, defaults={"token": secrets.token_hex(16)})


def current(name: str) -> str:
    table = connection.ops.quote_name("ops_generation")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token FROM {table} WHERE name = %s", [name])  # noqa: S608
        row = cursor.fetchone()
    return row[0] if row else ""


class Snapshot(Generic[T]):
    """``build()``'s result, rebuilt when one of ``models`` changes (or after ``max_age``)."""

    def __init__(
        self,
        name: str,
        build: Callable[[], T],
        *,
        models: Iterable[type[Model]] = (),
        through: Iterable[type[Model]] = (),
        max_age: float = 300.0,
    ) -> None:
        self.name = name
        self.build = build
        self.max_age = max_age
        self._held: tuple[str, float, T] | None = None
        self._lock = threading.Lock()
        self._signals = [
            *((signal, model) for model in models for signal in (post_save, post_delete)),
            *((m2m_changed, model) for model in through),
        ]
        for signal, model in self._signals:
            signal.connect(self._changed, sender=model, weak=False, dispatch_uid=self._uid)

    @property
    def _uid(self) -> str:
        return f"ops.snapshot:{self.name}:{id(self)}"

    def disconnect(self) -> None:
        for signal, model in self._signals:
            signal.disconnect(sender=model, dispatch_uid=self._uid)

    def _changed(self, sender: Any, **kwargs: Any) -> None:
        self._held = None
        bump(self.name)

    def get(self) -> T:
        token = current(self.name)
        held = self._held
        if held is not None and held[0] == token and time.monotonic() - held[1] < self.max_age:
            return held[2]
        with self._lock:
            value = self.build()
            self._held = (token, time.monotonic(), value)
        return value

    def clear(self) -> None:
        self._held = None
