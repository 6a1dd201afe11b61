"""Writes that try to set what the caller may not: status, ids, codes, the assignee, the
department, deadlines, the channel, the time of receipt, the timeline.

The API refuses any field a body does not take with 400 ``unknown_field`` naming it
(``api.serializers.check``; the schema says ``additionalProperties: false``), so neither
a misspelt field nor a forbidden one is dropped in silence; and a refused request changes
nothing: not the complaint, not its deadlines, not its timeline (``complaints.Event``).
The console's forms read only their own fields: extra ones are ignored, which is proven
by comparing with the same form sent clean.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client

from accounts.models import AccessToken, User
from complaints.models import Complaint, Event
from intake.models import ChannelClient, ClientSubmission, IdempotencyRecord
from notifications.models import WebhookSubscription
from routing.models import Category, Department
from tests.factories import complaint_in

T0 = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Beijing

# Each extra field with a value that would matter if it were taken.
EXTRAS: dict[str, Any] = {
    "status": "closed",
    "id": 424242,
    "pk": 424242,
    "tracking_code": "TS-2026-AAAAAAAA",
    "secret_hash": "0" * 64,
    "assignee": "market_handler",
    "assignee_id": 1,
    "department": "market_regulation",
    "department_id": 1,
    "due_at": "2099-01-01T00:00:00Z",
    "deadlines": [{"stage": "reply", "due_at": "2099-01-01T00:00:00Z"}],
    "created_by": 1,
    "received_at": "2020-01-01T00:00:00Z",
    "events": [{"kind": "complaint.closed"}],
    "version": 99,
    "is_sensitive": True,
    "overdue_since": None,
    "supervision": "red",
}
# Fields that some bodies take; elsewhere extra.
INTAKE_EXTRAS = {**EXTRAS, "priority": "critical", "channel": "hotline"}
del INTAKE_EXTRAS["version"]


# Told apart by design: two complaints never share these.
UNIQUE = ("id", "tracking_code", "secret_hash", "petitioner_id", "external_ref")


def snapshot(pk: int) -> dict[str, Any]:
    """What a write could change: the complaint's own fields, its deadlines, its timeline."""
    complaint = Complaint.objects.get(pk=pk)
    petitioner = complaint.petitioner
    assert petitioner is not None
    own = {
        f.attname: getattr(complaint, f.attname)
        for f in Complaint._meta.concrete_fields
        if f.attname not in UNIQUE
    }
    return {
        "complaint": own,
        "petitioner": {
            f.attname: getattr(petitioner, f.attname)
            for f in petitioner._meta.concrete_fields
            if f.attname != "id"
        },
        "deadlines": sorted(
            (d.stage, d.state, d.due_at, d.warn_at) for d in complaint.deadlines.all()
        ),
        "events": [
            (e.kind, e.actor_id, e.actor_label, e.from_state, e.to_state, e.payload)
            for e in Event.objects.filter(complaint=complaint).order_by("id")
        ],
    }


def fields_of(response: Any) -> set[str]:
    body = response.json()
    assert body["code"] == "invalid", body
    return {error["field"] for error in body["errors"] if error["code"] == "unknown_field"}


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(T0, tick=False) as clock:
        yield clock


# --- Channel intake ---------------------------------------------------------------------

INTAKE = "/api/v1/intake/"
BODY: dict[str, Any] = {
    "kind": "complaint",
    "title": "井盖丢失",
    "content": "人民路口的井盖丢了。",
    "petitioner": {"name": "王芳", "phone": "13987654321"},
}


@pytest.fixture
def channel(db: None, market_handler: User) -> Client:
    _, raw = ChannelClient.create_with_token(
        name="wechat", channel="wechat", scopes=list(ChannelClient.Scope.values)
    )
    return Client(HTTP_AUTHORIZATION=f"Token {raw}", HTTP_ACCEPT_LANGUAGE="en")


def submit(client: Client, body: dict[str, Any], key: str) -> Any:
    return client.post(
        INTAKE, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.parametrize("name", INTAKE_EXTRAS)
def test_intake_refuses_a_field_the_channel_may_not_set_by_name(channel: Client, name: str) -> None:
    response = submit(channel, {**BODY, name: INTAKE_EXTRAS[name]}, key=f"k-{name}")
    assert response.status_code == 400
    assert fields_of(response) == {name}
    assert name in response.json()["errors"][0]["message"]
    assert not Complaint.objects.exists()
    assert not Event.objects.exists()
    assert not IdempotencyRecord.objects.exists()  # the key is free for the corrected call


def test_intake_refuses_every_extra_field_at_once_and_a_nested_id(channel: Client) -> None:
    body = {**BODY, **INTAKE_EXTRAS, "petitioner": {**BODY["petitioner"], "id": 1, "pk": 2}}
    body["attachments"] = [{"name": "a.png", "content_base64": "iVBO", "path": "/etc/passwd"}]
    response = submit(channel, body, key="all")
    assert response.status_code == 400
    assert fields_of(response) == {
        *INTAKE_EXTRAS,
        "petitioner.id",
        "petitioner.pk",
        "attachments.0.path",
    }
    assert not Complaint.objects.exists()


def test_intake_in_multipart_refuses_extra_and_nested_fields_too(channel: Client) -> None:
    response = channel.post(
        INTAKE,
        {
            "content": "井盖丢失",
            "petitioner.name": "王芳",
            "petitioner.id": "1",
            "status": "closed",
            "department": "market_regulation",
        },
        HTTP_IDEMPOTENCY_KEY="multipart",
    )
    assert response.status_code == 400
    assert fields_of(response) == {"petitioner.id", "status", "department"}
    assert not Complaint.objects.exists()


def test_a_refused_intake_then_the_clean_one_is_exactly_a_clean_submission(
    channel: Client, frozen: Any
) -> None:
    assert submit(channel, {**BODY, "status": "closed"}, key="same").status_code == 400
    first = submit(channel, BODY, key="same")
    assert first.status_code == 201
    second = submit(channel, BODY, key="other")  # a clean one, never refused
    assert second.status_code == 201
    assert snapshot(first.json()["id"]) == snapshot(second.json()["id"])
    complaint = Complaint.objects.get(pk=first.json()["id"])
    assert complaint.status == "received"
    assert complaint.channel == "wechat"
    assert complaint.received_at == T0


# --- Staff: registration, actions, notes, replies, files --------------------------------


@pytest.fixture
def staff(handler: User) -> Client:
    _, raw = AccessToken.create_with_token(user=handler, name="script", scope="write")
    return Client(HTTP_AUTHORIZATION=f"Token {raw}", HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def assigned(handler: User, facilities: Category, market: Department) -> Complaint:
    return complaint_in(
        "assigned", department=handler.department, assignee=handler, category=facilities
    )


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


# (method, address under the complaint, a clean body, the extra names it does take)
WRITES = [
    ("post", "accept/", {}, {"version"}),
    ("post", "notes/", {"body": "已联系现场。"}, set()),
    ("post", "plan/", {"plan": "明天修复。"}, set()),
    ("put", "reply-draft/", {"body": "已修复。"}, {"version"}),
    ("post", "personal-data/", {"reason": "回电"}, set()),
    ("post", "send-back/", {"reason": "不属于本部门"}, {"version"}),
]


def write(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(("method", "suffix", "body", "takes"), WRITES, ids=[w[1] for w in WRITES])
def test_a_staff_write_with_extra_fields_is_refused_and_changes_nothing(
    staff: Client, assigned: Complaint, method: str, suffix: str, body: Any, takes: set[str]
) -> None:
    if suffix == "reply-draft/":  # drafted while handling
        Complaint.objects.filter(pk=assigned.pk).update(status="in_progress")
    before = snapshot(assigned.pk)
    extras = {k: v for k, v in EXTRAS.items() if k not in takes}
    url = f"/api/v1/complaints/{assigned.pk}/{suffix}"
    response = write(staff, method, url, {**body, **extras})
    assert response.status_code == 400, response.content
    assert fields_of(response) == set(extras)
    assert snapshot(assigned.pk) == before
    # The refusal is about the extra fields, not the write: sent clean, it is taken.
    assert write(staff, method, url, body).status_code in (200, 201)
    assert snapshot(assigned.pk) != before


def test_a_complaint_cannot_be_put_or_patched(staff: Client, assigned: Complaint) -> None:
    before = snapshot(assigned.pk)
    for method in ("put", "patch"):
        response = getattr(staff, method)(
            f"/api/v1/complaints/{assigned.pk}/",
            json.dumps({"status": "closed", "assignee": None}),
            content_type="application/json",
        )
        assert response.status_code == 405
    assert snapshot(assigned.pk) == before


def test_staff_registration_refuses_fields_staff_may_not_set(clerk: User) -> None:
    _, raw = AccessToken.create_with_token(user=clerk, name="hotline", scope="write")
    client = Client(HTTP_AUTHORIZATION=f"Token {raw}")
    body = {
        "channel": "hotline",
        "content": "人民路的路灯不亮。",
        "petitioner": {"name": "李雷", "phone": "13900001111", "id": 7},
        "status": "assigned",
        "department": "market_regulation",
        "priority": "critical",
    }
    response = post(client, "/api/v1/complaints/", body)
    assert response.status_code == 400
    assert fields_of(response) == {"status", "department", "priority", "petitioner.id"}
    assert not Complaint.objects.exists()


def test_a_file_upload_with_extra_fields_is_refused(staff: Client, assigned: Complaint) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = snapshot(assigned.pk)
    png = SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "image/png")
    response = staff.post(
        f"/api/v1/complaints/{assigned.pk}/attachments/",
        {"file": png, "complaint": "1", "uploaded_by": "1", "scan_status": "clean"},
    )
    assert response.status_code == 400
    assert fields_of(response) == {"complaint", "uploaded_by", "scan_status"}
    assert snapshot(assigned.pk) == before
    assert not assigned.attachments.exists()


# --- Channel: acting for the petitioner, webhooks; tokens --------------------------------


def test_a_channel_acting_for_the_petitioner_cannot_set_more(
    channel: Client, handler: User
) -> None:
    client = ChannelClient.objects.get(name="wechat")
    complaint = complaint_in("received", department=handler.department)
    ClientSubmission.objects.create(client=client, complaint=complaint)
    before = snapshot(complaint.pk)
    for suffix, body in (("supplement/", {"text": "补充"}), ("withdraw/", {"reason": "已解决"})):
        response = post(channel, f"/api/v1/submissions/{complaint.pk}/{suffix}", {**body, **EXTRAS})
        assert response.status_code == 400
        assert fields_of(response) == set(EXTRAS)
    assert snapshot(complaint.pk) == before


def test_a_webhook_cannot_be_moved_to_another_client_or_given_a_secret(
    channel: Client, settings: Any, market: Department
) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    other, _ = ChannelClient.create_with_token(name="other")
    body = {"name": "CRM", "url": "https://127.0.0.1/h", "events": ["complaint.created"]}
    extras = {"client": other.pk, "secret": "s" * 32, "department": market.code, "id": 9}
    made = post(channel, "/api/v1/webhooks/", {**body, **extras})
    assert made.status_code == 400
    assert fields_of(made) == set(extras)
    assert not WebhookSubscription.objects.exists()

    made = post(channel, "/api/v1/webhooks/", body)
    assert made.status_code == 201
    hook = WebhookSubscription.objects.get()
    patched = channel.patch(
        f"/api/v1/webhooks/{hook.pk}/",
        json.dumps({"name": "CRM 2", **extras}),
        content_type="application/json",
    )
    assert patched.status_code == 400
    assert fields_of(patched) == set(extras)
    hook.refresh_from_db()
    wechat = ChannelClient.objects.get(name="wechat")
    assert (hook.name, hook.client_id, hook.department_id) == ("CRM", wechat.pk, None)


def test_a_token_cannot_be_made_for_someone_else_or_with_a_chosen_secret(
    handler: User, supervisor: User
) -> None:
    session = Client(HTTP_ACCEPT_LANGUAGE="en")
    session.force_login(handler)
    extras = {"user": supervisor.pk, "token_hash": "0" * 64, "is_active": True, "id": 5}
    response = post(session, "/api/v1/tokens/", {"name": "x", **extras})
    assert response.status_code == 400
    assert fields_of(response) == set(extras)
    assert not AccessToken.objects.exists()


# --- The console's forms ----------------------------------------------------------------

CONSOLE_EXTRAS = {
    "status": "closed",
    "assignee": "",
    "department": "",
    "priority": "critical",
    "due_at": "2099-01-01 00:00",
    "tracking_code": "TS-2026-AAAAAAAA",
    "received_at": "2020-01-01 00:00",
    "channel": "letter",
}


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("accept", {}),
        ("send_back", {"reason": "不属于本部门"}),
        ("note", {"body": "已联系现场。"}),
    ],
)
def test_extra_fields_in_a_console_form_change_nothing_more(
    handler: User, facilities: Category, frozen: Any, action: str, form: dict[str, str]
) -> None:
    clean, forged = (
        complaint_in(
            "assigned",
            department=handler.department,
            assignee=handler,
            category=facilities,
            title="路灯损坏",
        )
        for _ in range(2)
    )
    console = Client()
    console.force_login(handler)
    form = {f"{action}-{name}": value for name, value in form.items()}
    # Plain, and with the form's prefix, as if they were fields of it.
    extras = {**CONSOLE_EXTRAS, **{f"{action}-{k}": v for k, v in CONSOLE_EXTRAS.items()}}
    for complaint, extra in ((clean, {}), (forged, extras)):
        url = f"/console/complaints/{complaint.pk}/do/{action}/"
        response = console.post(url, {**form, **extra, "version": complaint.version})
        assert response.status_code == 302, (action, response.status_code)
    assert snapshot(forged.pk) == snapshot(clean.pk)
    assert snapshot(clean.pk)["events"], "the action was taken"


def test_extra_fields_in_the_console_registration_change_nothing_more(
    clerk: User, frozen: Any
) -> None:
    form = {
        "channel": "hotline",
        "kind": "complaint",
        "petitioner_type": "individual",
        "name": "刘强",
        "phone": "186 0000 1111",
        "title": "噪音扰民",
        "content": "工地夜间施工。",
    }
    console = Client()
    console.force_login(clerk)
    assert console.post("/console/register/", form).status_code == 302
    # The clerk does give the channel and the time of receipt (of a letter, a call).
    forged = {**form, **CONSOLE_EXTRAS, "version": "7", "id": "1"}
    forged.update(channel="hotline", received_at="")
    assert console.post("/console/register/", forged).status_code == 302
    first, second = Complaint.objects.order_by("pk")
    assert snapshot(second.pk) == snapshot(first.pk)
    assert second.status == "received"
    assert second.priority == "normal"
