"""Repeat petitioners (重复信访人): one person, many complaints in a short time.

"One person" is the rule of ``complaints.selectors.same_petitioner``: the same petitioner
record, or a shared phone number, e-mail address or ID number (normalised at intake). A
chain counts too — a phone shared by the first and second complaint and an e-mail shared
by the second and third make them one person. People with ``HOTSPOT_REPEAT_MIN`` (3) or
more complaints received in the last ``HOTSPOT_REPEAT_DAYS`` (30) days are listed, most
complaints first.

Personal data leaves this module masked (``complaints.privacy``), for every reader: the
console shows it unmasked only on a complaint's page, after a reveal with a reason. A
petitioner who asked to stay anonymous on any of the complaints is "Anonymous".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone

from complaints.models import OPEN_STATES, Complaint
from complaints.privacy import mask_email, mask_id_number, mask_name, mask_phone
from reporting.hotspots.groups import Groups


@dataclass(frozen=True)
class ComplaintRef:
    """Enough of a complaint to list and link it."""

    pk: int
    tracking_code: str
    title: str
    received_at: datetime
    status: str

    @property
    def status_label(self) -> str:
        return str(Complaint.Status(self.status).label)


@dataclass(frozen=True)
class RepeatPetitioner:
    name: str
    phone: str
    email: str
    id_number: str
    count: int
    open_count: int
    first: datetime
    last: datetime
    # The newest first, at most five.
    complaints: tuple[ComplaintRef, ...]

    @property
    def more(self) -> int:
        """How many are not listed."""
        return self.count - len(self.complaints)


class _Row(NamedTuple):
    pk: int
    tracking_code: str
    title: str
    received_at: datetime
    status: str
    is_anonymous: bool
    petitioner_id: int
    name: str
    phone: str
    email: str
    id_number: str


_COLUMNS = (
    "id",
    "tracking_code",
    "title",
    "received_at",
    "status",
    "is_anonymous",
    "petitioner_id",
    "petitioner__name",
    "petitioner__phone",
    "petitioner__email",
    "petitioner__id_number",
)


def repeat_petitioners(
    *, department_id: int | None = None, now: datetime | None = None, limit: int = 100
) -> list[RepeatPetitioner]:
    """People with at least ``HOTSPOT_REPEAT_MIN`` complaints in ``HOTSPOT_REPEAT_DAYS``.

    ``department_id``: only that department's complaints count.
    """
    now = now or timezone.now()
    days = settings.HOTSPOT_REPEAT_DAYS
    minimum = settings.HOTSPOT_REPEAT_MIN
    complaints = Complaint.objects.filter(
        received_at__gte=now - timedelta(days=days),
        received_at__lt=now,
        petitioner__isnull=False,
        anonymised_at__isnull=True,
    )
    if department_id is not None:
        complaints = complaints.filter(department_id=department_id)
    rows = [
        _Row(*values)
        for values in complaints.order_by("-received_at", "-id").values_list(*_COLUMNS)
    ]
    people = Groups(row.pk for row in rows)
    first_with: dict[tuple[str, str], int] = {}
    for row in rows:
        for identity in (
            ("record", str(row.petitioner_id)),
            ("phone", row.phone),
            ("email", row.email),
            ("id", row.id_number),
        ):
            if not identity[1]:
                continue
            if identity in first_with:
                people.join(row.pk, first_with[identity])
            else:
                first_with[identity] = row.pk
    by_pk = {row.pk: row for row in rows}
    found = [
        _person([by_pk[pk] for pk in group]) for group in people.groups() if len(group) >= minimum
    ]
    found.sort(key=lambda person: (-person.count, -person.last.timestamp()))
    return found[:limit]


def _person(rows: list[_Row]) -> RepeatPetitioner:
    """One person's complaints (newest first) as a masked summary."""
    anonymous = any(row.is_anonymous for row in rows)

    def first_of(field: str) -> str:
        return next((value for row in rows if (value := getattr(row, field))), "")

    return RepeatPetitioner(
        name=mask_name(first_of("name")) if anonymous else first_of("name"),
        phone=mask_phone(first_of("phone")),
        email=mask_email(first_of("email")),
        id_number="" if anonymous else mask_id_number(first_of("id_number")),
        count=len(rows),
        open_count=sum(1 for row in rows if row.status in OPEN_STATES),
        first=rows[-1].received_at,
        last=rows[0].received_at,
        complaints=tuple(
            ComplaintRef(row.pk, row.tracking_code, row.title, row.received_at, row.status)
            for row in rows[:5]
        ),
    )
