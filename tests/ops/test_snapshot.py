"""ops.snapshot: configuration held in memory, never used after it changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from ops import snapshot
from ops.models import Generation
from routing.models import Department

pytestmark = pytest.mark.django_db


class Counted:
    def __init__(self) -> None:
        self.builds = 0

    def __call__(self) -> set[str]:
        self.builds += 1
        return set(Department.objects.values_list("code", flat=True))


@pytest.fixture
def departments() -> Iterator[tuple[snapshot.Snapshot[set[str]], Counted]]:
    build = Counted()
    held = snapshot.Snapshot("test.departments", build, models=[Department])
    yield held, build
    held.disconnect()


def test_it_is_built_once_while_nothing_changes(departments: Any) -> None:
    held, build = departments
    Department.objects.create(code="water", name_zh="水务局", name_en="Water")

    assert held.get() == {"water"}
    assert held.get() == {"water"}
    assert build.builds == 1


def test_a_saved_or_deleted_row_is_seen_at_the_next_use(departments: Any) -> None:
    held, build = departments
    assert held.get() == set()

    water = Department.objects.create(code="water", name_zh="水务局", name_en="Water")
    assert held.get() == {"water"}
    water.delete()
    assert held.get() == set()
    assert build.builds == 3


def test_a_change_made_by_another_process_is_seen(departments: Any) -> None:
    held, _ = departments
    held.get()
    # Another process's save writes a new token; this process's copy knows nothing of it.
    Department.objects.bulk_create([Department(code="water", name_zh="水务局", name_en="W")])
    assert held.get() == set()  # bulk_create sends no signal: still the held copy
    Generation.objects.update_or_create(
        name="test.departments", defaults={"token": "from-elsewhere"}
    )

    assert held.get() == {"water"}


def test_a_rolled_back_change_leaves_no_stale_copy(departments: Any) -> None:
    held, _ = departments
    held.get()

    seen_inside = set()

    def change_then_fail() -> None:
        with transaction.atomic():
            Department.objects.create(code="water", name_zh="水务局", name_en="Water")
            seen_inside.update(held.get())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()

    assert seen_inside == {"water"}  # seen inside its own transaction…
    assert held.get() == set()  # …and gone with it


def test_writes_that_send_no_signal_are_caught_up_after_max_age(
    departments: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    held, _ = departments
    held.get()
    Department.objects.bulk_create([Department(code="water", name_zh="水务局", name_en="W")])
    now = snapshot.time.monotonic()
    monkeypatch.setattr(snapshot.time, "monotonic", lambda: now + held.max_age + 1)

    assert held.get() == {"water"}
