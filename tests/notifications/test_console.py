"""The console's notification list, the nav badge, and marking notifications read."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from notifications.models import Notification
from notifications.services import notify
from tests.notifications.helpers import IN_APP

pytestmark = pytest.mark.django_db


def tell(user: User, n: int, url: str = "") -> Notification:
    notify(
        [user],
        kind="sla.warning",
        compose=lambda r: (f"Deadline near: SZ-{n}", f"Reply to SZ-{n} within two hours."),
        key=f"sla.warning:{n}",
        channels=[IN_APP],
        url=url,
    )
    return Notification.objects.get(dedupe_key__startswith=f"sla.warning:{n}:")


@pytest.fixture
def client(staff: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff)
    return client


def test_the_list_needs_a_login(db: None) -> None:
    response = Client().get("/console/notifications/")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")


def test_the_list_shows_my_notifications_newest_first_unread_highlighted(
    client: Client, staff: User
) -> None:
    first = tell(staff, 1)
    tell(staff, 2)
    tell(User.objects.create_user(username="li"), 3)
    Notification.objects.filter(pk=first.pk).update(read_at=first.created_at)

    page = client.get("/console/notifications/").content.decode()

    assert page.index("SZ-2") < page.index("SZ-1")
    assert "SZ-3" not in page
    assert page.count('class="unread"') == 1
    assert page.count('class="read"') == 1
    assert "Reply to SZ-2 within two hours." in page
    assert "Mark all read" in page


def test_the_list_is_paginated(client: Client, staff: User) -> None:
    for n in range(30):
        tell(staff, n)
    first = client.get("/console/notifications/").content.decode()
    second = client.get("/console/notifications/?page=2").content.decode()
    assert ("SZ-29<" in first, "SZ-5<" in first, "SZ-4<" in first) == (True, True, False)
    assert ("SZ-4<" in second, "SZ-0<" in second, "SZ-29<" in second) == (True, True, False)
    assert "Page 1 of 2" in first


def test_the_nav_shows_the_unread_count(client: Client, staff: User) -> None:
    tell(staff, 1)
    tell(staff, 2)
    page = client.get("/console/").content.decode()
    assert 'href="/console/notifications/"' in page
    assert '<span class="badge" title="Unread">2</span>' in page

    client.post("/console/notifications/read-all/")
    assert 'class="badge"' not in client.get("/console/").content.decode()


def test_opening_a_notification_marks_it_read_and_follows_its_link(
    client: Client, staff: User
) -> None:
    notification = tell(staff, 1, url="/console/register/")

    response = client.post(f"/console/notifications/{notification.pk}/read/")

    assert response.status_code == 302
    assert response["Location"] == "/console/register/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_a_link_to_another_site_is_not_followed(client: Client, staff: User) -> None:
    notification = tell(staff, 1, url="https://evil.example.com/")
    response = client.post(f"/console/notifications/{notification.pk}/read/")
    assert response["Location"] == "/console/notifications/"


def test_marking_read_needs_a_post(client: Client, staff: User) -> None:
    notification = tell(staff, 1)
    assert client.get(f"/console/notifications/{notification.pk}/read/").status_code == 405
    notification.refresh_from_db()
    assert notification.read_at is None


def test_someone_elses_notification_is_not_found(client: Client) -> None:
    theirs = tell(User.objects.create_user(username="li"), 1)

    response = client.post(f"/console/notifications/{theirs.pk}/read/")

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(client: Client, staff: User) -> None:
    tell(staff, 1)
    tell(staff, 2)
    other = tell(User.objects.create_user(username="li"), 3)

    response = client.post("/console/notifications/read-all/", follow=True)

    assert "2 notifications marked read." in response.content.decode()
    assert not Notification.objects.filter(user=staff, read_at__isnull=True).exists()
    other.refresh_from_db()
    assert other.read_at is None
