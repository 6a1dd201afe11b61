"""Every view, export or change of personal data is on record: who, what, when.

A complaint's own acts are events on its timeline; everything else is an ``AuditEntry``
(``accounts.audit``). Neither ever holds the personal value itself, nor a secret.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AccessToken, AuditEntry, User
from complaints.models import Complaint
from intake import services as intake_services
from intake.submission import Submission
from tests.factories import PetitionerFactory, complaint_in

pytestmark = pytest.mark.django_db

PHONE, EMAIL, ID_NUMBER = "13812345678", "zhangwei@example.com", "110101199003071234"
RAW_VALUES = (PHONE, "zhangwei@", ID_NUMBER, "幸福路88号3栋")


@pytest.fixture(autouse=True)
def _fresh_limits(settings: Any) -> None:
    cache.clear()
    settings.API_RATE_STAFF = 0


@pytest.fixture
def complaint(urban: Any) -> Complaint:
    person = PetitionerFactory(id_number=ID_NUMBER, address="幸福路88号3栋2单元501")
    return complaint_in("in_progress", department=urban, petitioner=person)


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def assert_no_personal_values() -> None:
    """Nothing in the audit log or on any timeline's audit events holds a raw value."""
    for entry in AuditEntry.objects.all():
        text = json.dumps([entry.target, entry.detail], ensure_ascii=False)
        for value in RAW_VALUES:
            assert value not in text, (entry.action, text)


def console(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


# --- Files -----------------------------------------------------------------------------


def test_each_attachment_download_is_an_audit_entry(urban: Any, handler: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import AccessToken
    from complaints import services as complaint_services
    from complaints.models import Attachment

    submitted = complaint_services.submit_complaint(
        title="身份证复印件",
        content="附上身份证复印件。",
        channel="web",
        petitioner=complaint_services.PetitionerDetails(name="王芳", phone="13900001111"),
        attachments=[SimpleUploadedFile("id.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)],
    ).complaint
    Complaint.objects.filter(pk=submitted.pk).update(department=urban, assignee=handler)
    attachment = Attachment.objects.get(complaint=submitted)

    answer = console(handler).get(reverse("console:attachment", args=[attachment.pk]))
    assert answer.status_code == 200
    token, raw = AccessToken.create_with_token(user=handler, name="script")
    api = APIClient(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.get(f"/api/v1/attachments/{attachment.pk}/download/").status_code == 200

    downloads = entries("attachment.downloaded")
    assert [(e.actor, e.target, e.detail.get("complaint")) for e in downloads] == [
        (handler, f"attachment:{attachment.pk}", submitted.pk),
        (handler, f"attachment:{attachment.pk}", submitted.pk),
    ]
    assert downloads[1].detail["token"] == f"accesstoken:{token.pk}"


# --- Look-ups by personal data ----------------------------------------------------------


def test_an_api_lookup_by_phone_is_an_audit_entry_with_the_token_not_the_number(
    complaint: Complaint, handler: User
) -> None:
    token, raw = AccessToken.create_with_token(user=handler, name="script", scope="read")
    api = APIClient(HTTP_AUTHORIZATION=f"Token {raw}")

    response = api.get("/api/v1/petitioners/", {"q": PHONE})

    assert response.status_code == 200
    [entry] = entries("personal_data.searched")
    assert entry.actor == handler
    assert entry.detail == {"field": "phone", "via": "api", "token": f"accesstoken:{token.pk}"}
    assert entry.at is not None
    assert_no_personal_values()


def test_a_console_lookup_of_a_callers_earlier_complaints_is_an_audit_entry(
    complaint: Complaint, clerk: User
) -> None:
    response = console(clerk).get(reverse("console:register"), {"phone": PHONE})

    assert response.status_code == 200
    [entry] = entries("personal_data.searched")
    assert (entry.actor, entry.detail) == (clerk, {"field": "phone", "via": "console"})
    assert_no_personal_values()


# --- Unmasked views, copies and changes on the complaint's timeline ----------------------


def test_a_reveal_and_a_data_copy_are_events_that_name_the_actor(
    complaint: Complaint, handler: User, admin_user: User
) -> None:
    response = console(handler).post(
        reverse("console:reveal", args=[complaint.pk]), {"reason": "Call back"}
    )
    assert response.status_code == 200
    viewed = complaint.events.get(kind="personal_data.viewed")
    assert viewed.actor == handler
    assert set(viewed.payload["fields"]) >= {"phone", "email", "id_number", "address"}

    from complaints import rights

    rights.export_data(complaint.petitioner, actor=admin_user, file_format="json")  # type: ignore[arg-type]
    exported = complaint.events.get(kind="personal_data.exported")
    assert exported.actor == admin_user
    for event in complaint.events.all():
        for value in RAW_VALUES:
            assert value not in json.dumps(event.payload, ensure_ascii=False)


def test_an_intake_that_completes_an_earlier_petitioner_is_an_event_naming_the_fields(
    db: None,
) -> None:
    first = intake_services.submit(Submission(channel="web", content="路灯坏了", phone=PHONE))
    second = intake_services.submit(
        Submission(channel="email", content="还没修", phone=PHONE, email=EMAIL)
    )

    assert first.complaint.petitioner_id == second.complaint.petitioner_id
    event = second.complaint.events.get(kind="petitioner.updated")
    assert event.payload == {
        "petitioner_id": second.complaint.petitioner_id,
        "fields": ["email"],
    }
    assert not first.complaint.events.filter(kind="petitioner.updated").exists()


# --- Exports, tokens, logins ------------------------------------------------------------


def test_an_export_handed_out_is_an_audit_entry(complaint: Complaint, supervisor: User) -> None:
    response = console(supervisor).post(
        reverse("reporting:exports"), {"export": "complaints", "format": "csv", "query": ""}
    )

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    [entry] = entries("export.downloaded")
    assert entry.actor == supervisor
    assert entry.detail["kind"] == "complaints"
    assert entry.detail["personal_data"] is False
    assert entry.target.startswith("export:")


def test_making_and_revoking_a_token_are_audit_entries_without_the_token(
    handler: User, admin_user: User
) -> None:
    from accounts import tokens

    token, raw = tokens.issue(user=handler, name="nightly", scope="read", expires_at=None)
    tokens.revoke(token, by=admin_user)

    [made] = entries("token.created")
    [revoked] = entries("token.revoked")
    assert (made.actor, made.target) == (handler, "user:handler")
    assert (revoked.actor, revoked.target) == (admin_user, "user:handler")
    assert made.detail["token"] == revoked.detail["token"] == f"accesstoken:{token.pk}"
    for entry in (made, revoked):
        assert raw not in json.dumps([entry.target, entry.detail])


def test_logins_failures_lockouts_and_logouts_are_audit_entries(
    handler: User, settings: Any
) -> None:
    settings.LOGIN_MAX_FAILURES = 2
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    login = reverse("console:login")

    client.post(login, {"username": "handler", "password": "pw"})
    client.post(reverse("console:logout"))
    client.post(login, {"username": "handler", "password": "wrong-1"})
    client.post(login, {"username": "handler", "password": "wrong-2"})
    client.post(login, {"username": "hunter2-typed-as-name", "password": "x"})

    assert [(e.actor, e.target) for e in entries("login.succeeded")] == [(handler, "user:handler")]
    assert [(e.actor, e.target) for e in entries("logout")] == [(handler, "user:handler")]
    failed = [e.target for e in entries("login.failed")]
    assert failed == ["user:handler", "user:handler", "user:(unknown)"]
    [locked] = entries("login.locked")
    assert (locked.target, locked.detail["locked_by"]) == ("user:handler", "username")
    assert locked.ip == "127.0.0.1"  # the address, in its column like every entry's
    assert not AuditEntry.objects.filter(detail__icontains="wrong-").exists()
    assert "hunter2" not in json.dumps(list(AuditEntry.objects.values("target", "detail")))


# --- The back-office --------------------------------------------------------------------


def test_back_office_views_and_changes_of_petitioners_are_audit_entries(
    complaint: Complaint, admin_user: User
) -> None:
    client = console(admin_user)
    person = complaint.petitioner
    assert person is not None
    page = reverse("admin:complaints_petitioner_change", args=[person.pk])

    assert client.get(reverse("admin:complaints_petitioner_changelist")).status_code == 200
    assert client.get(page).status_code == 200
    form = {
        "name": person.name,
        "type": person.type,
        "organisation": "",
        "phone": "13900000000",
        "email": person.email,
        "id_number": person.id_number,
        "address": person.address,
        "language": "",
    }
    assert client.post(page, form).status_code == 302
    assert (
        client.get(reverse("admin:complaints_complaint_change", args=[complaint.pk])).status_code
        == 200
    )

    target = f"complaints.petitioner:{person.pk}"
    [listed] = entries("admin.listed")
    assert listed.detail["fields"] == ["organisation", "phone", "email", "id_number", "address"]
    viewed = entries("admin.viewed")
    assert [(e.actor, e.target) for e in viewed] == [
        (admin_user, target),
        (admin_user, f"complaints.complaint:{complaint.pk}"),
    ]
    assert viewed[0].detail["fields"] == [
        "name",
        "organisation",
        "phone",
        "email",
        "id_number",
        "address",
    ]
    [changed] = entries("admin.changed")
    assert (changed.actor, changed.target, changed.detail) == (
        admin_user,
        target,
        {"fields": ["phone"]},
    )
    assert "13900000000" not in json.dumps(changed.detail)
    assert_no_personal_values()


# --- Reading the log ----------------------------------------------------------------------


def test_auditors_and_supervisors_read_the_audit_log_others_do_not(
    auditor: User, supervisor: User, handler: User, admin_user: User
) -> None:
    from accounts import audit

    audit.record("login.failed", actor=None, target="user:(unknown)")
    audit.record("export.downloaded", actor=handler, target="export:1")
    url = reverse("console:audit_log")

    assert console(handler).get(url).status_code == 403
    for reader in (auditor, supervisor, admin_user):
        page = console(reader).get(url)
        assert page.status_code == 200
        assert "export.downloaded" in page.content.decode()
    by_user = console(auditor).get(url, {"user": "handler"}).content.decode()
    assert "export:1" in by_user
    assert "user:(unknown)" not in by_user
    by_action = console(auditor).get(url, {"action": "login."}).content.decode()
    assert "user:(unknown)" in by_action
    assert "export:1" not in by_action
    tomorrow = console(auditor).get(url, {"since": "2999-01-01"}).content.decode()
    assert "export:1" not in tomorrow


def test_a_bad_date_range_is_explained(auditor: User) -> None:
    response = console(auditor).get(
        reverse("console:audit_log"), {"since": "2026-02-02", "until": "2026-02-01"}
    )
    assert response.status_code == 400
    assert "The end date comes before the start date." in response.content.decode()


def test_the_audit_log_cannot_be_changed_in_the_back_office(admin_user: User) -> None:
    from accounts import audit

    entry = audit.record("logout", actor=admin_user)
    client = console(admin_user)
    change = reverse("admin:accounts_auditentry_change", args=[entry.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"action": "nothing"}).status_code == 403
    delete = reverse("admin:accounts_auditentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).action == "logout"


def test_back_office_views_searches_and_changes_of_staff_accounts_are_audit_entries(
    admin_user: User, handler: User
) -> None:
    handler.date_joined = handler.date_joined.replace(microsecond=0)  # as the form sends it
    handler.save(update_fields=["date_joined"])
    client = console(admin_user)
    page = reverse("admin:accounts_user_change", args=[handler.pk])
    changelist = reverse("admin:accounts_user_changelist")

    assert client.get(changelist).status_code == 200  # names and roles only: no entry
    assert client.get(changelist, {"q": "13812345678"}).status_code == 200
    assert client.get(page).status_code == 200
    form = client.get(page).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in {"groups", "user_permissions", "last_login"}
    }
    joined = timezone.localtime(handler.date_joined)  # the form shows local time
    data.update(
        phone="13912345678",
        # The page sends a callable default's initial value alongside, to compare with.
        **{
            f"{prefix}date_joined_{n}": joined.strftime(fmt)
            for prefix in ("", "initial-")
            for n, fmt in enumerate(("%Y-%m-%d", "%H:%M:%S"))
        },
        department=handler.department_id,
        groups=[g.pk for g in handler.groups.all()],
    )
    data.pop("date_joined", None)
    saved = client.post(page, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    password = reverse("admin:auth_user_password_change", args=[handler.pk])
    moved = client.post(password, {"password1": "a-new-Passw0rd!", "password2": "a-new-Passw0rd!"})
    assert moved.status_code == 302

    target = f"accounts.user:{handler.pk}"
    [listed] = entries("admin.listed")
    assert listed.detail == {"fields": ["email", "phone"], "searched": True}
    assert [(e.actor, e.target, e.detail["fields"]) for e in entries("admin.viewed")] == [
        (admin_user, target, ["email", "phone"]),
        (admin_user, target, ["email", "phone"]),
    ]
    assert [(e.target, e.detail) for e in entries("admin.changed")] == [
        (target, {"fields": ["phone"]}),
        (target, {"fields": ["password"]}),
    ]
    everything = json.dumps([e.detail for e in AuditEntry.objects.all()])
    assert "13912345678" not in everything
    assert "13812345678" not in everything
    assert "a-new-Passw0rd!" not in everything
