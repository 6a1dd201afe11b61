"""Model invariants: the audit trail is append-only; codes are readable and unguessable."""

from __future__ import annotations

import re

import pytest
from django.db import DatabaseError, connection, transaction

from complaints import tracking
from complaints.models import Complaint, Event
from tests.factories import complaint_in

pytestmark = pytest.mark.django_db


def make_event() -> Event:
    return Event.objects.create(complaint=complaint_in(Complaint.Status.RECEIVED), kind="x.y")


def test_an_event_cannot_be_changed() -> None:
    event = make_event()
    event.kind = "edited"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        Event.objects.filter(pk=event.pk).update(kind="edited")


def test_an_event_cannot_be_deleted() -> None:
    event = make_event()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        Event.objects.all().delete()


def test_the_database_refuses_to_rewrite_history() -> None:
    event = make_event()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE complaints_event SET kind = 'forged' WHERE id = %s", [event.pk])
    assert Event.objects.get(pk=event.pk).kind == "x.y"


@pytest.mark.postgres
def test_postgres_refuses_to_delete_history() -> None:
    event = make_event()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM complaints_event WHERE id = %s", [event.pk])
    assert Event.objects.filter(pk=event.pk).exists()


def test_tracking_codes_look_right() -> None:
    code = tracking.new_tracking_code()
    assert re.fullmatch(r"TS-\d{4}-[0-9A-HJKMNP-TV-Z]{8}", code)


def test_tracking_codes_are_random_not_sequential() -> None:
    codes = [tracking.new_tracking_code() for _ in range(200)]
    assert len(set(codes)) == 200
    suffixes = sorted(c[-8:] for c in codes)
    assert suffixes != [c[-8:] for c in codes]  # not generated in order


@pytest.mark.parametrize(
    "typed", ["ts-2026-7kq3m9xa", "TS 2026 7KQ3 M9XA", "TS2026-7KQ3M9XA", " TS-2026-7KQ3M9XA "]
)
def test_typed_codes_are_normalised(typed: str) -> None:
    assert tracking.normalize_tracking_code(typed) == "TS-2026-7KQ3M9XA"


def test_confusable_letters_are_read_as_digits() -> None:
    assert tracking.normalize_tracking_code("TS-2026-OIL00000") == "TS-2026-01100000"


@pytest.mark.parametrize(
    "typed", ["", "TS-2026", "TS-26-7KQ3M9XA", "XX-2026-7KQ3M9XA", "TS-2026-7KQ3M9XU"]
)
def test_garbage_is_not_a_code(typed: str) -> None:
    assert tracking.normalize_tracking_code(typed) is None


def test_secrets_match_however_they_are_typed() -> None:
    secret = tracking.new_secret()
    stored = tracking.hash_secret(secret)
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", secret)
    assert tracking.secret_matches(secret.lower().replace("-", " "), stored)
    assert not tracking.secret_matches("0000-0000-0000", stored)
    assert not tracking.secret_matches(secret, "")
