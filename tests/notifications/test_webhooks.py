"""Outbound webhooks: which events go out, what they carry, where they may go, how they
are signed and sent, and how the back-office shows them.

No test here looks up a real host name: ``install_fake_dns`` answers for the example
names, and IP addresses resolve as themselves. Deliveries that really go out go to an
HTTP server in a thread on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.test import Client
from django.utils import timezone

from accounts.models import User
from complaints import services
from complaints.models import Complaint, Event
from notifications import webhooks
from notifications.delivery import deliver_due
from notifications.models import Notification, WebhookSubscription
from notifications.services import kick
from routing.models import Category, Department
from tests.factories import approved_draft, complaint_in

pytestmark = pytest.mark.django_db

Status = Notification.Status
S = Complaint.Status
ALL_EVENTS = [
    "complaint.created",
    "complaint.status_changed",
    "complaint.replied",
    "complaint.closed",
]
PUBLIC = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


# --- Fixtures ---------------------------------------------------------------------------


def install_fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names resolve by the returned table (change it to rebind); addresses as themselves."""
    table = {
        "hooks.example.com": [PUBLIC],
        "v6.example.com": [PUBLIC_V6],
        "internal.example.com": ["10.0.0.7"],
        "mixed.example.com": [PUBLIC, "192.168.0.3"],
        "localhost": ["127.0.0.1", "::1"],
    }
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in table:
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    socket.IPPROTO_TCP,
                    "",
                    (address, port, 0, 0) if ":" in address else (address, port),
                )
                for address in table[name]
            ]
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    return install_fake_dns(monkeypatch)


@pytest.fixture(autouse=True)
def _webhook_settings(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOWED_HOSTS = []
    settings.WEBHOOK_TIMEOUT = 5


def subscribe(
    url: str = "https://hooks.example.com/sutong",
    events: list[str] | None = None,
    **fields: Any,
) -> WebhookSubscription:
    subscription = WebhookSubscription(
        name=fields.pop("name", "CRM"), url=url, events=events or ALL_EVENTS, **fields
    )
    subscription.issue_secret()
    subscription.full_clean()
    subscription.save()
    return subscription


def submit(**overrides: Any) -> Complaint:
    fields: dict[str, Any] = {
        "title": "路灯损坏",
        "content": "幸福路88号门口的路灯坏了。",
        "channel": Complaint.Channel.WEB,
        "petitioner": services.PetitionerDetails(
            name="张伟",
            phone="13812345678",
            email="zhangwei@example.com",
            id_number="110101199003071234",
            address="幸福路88号3单元",
        ),
    }
    return services.submit_complaint(**(fields | overrides)).complaint


def deliveries() -> QuerySet[Notification]:
    """Webhook rows of the outbox (services send petitioners their e-mail beside them)."""
    return Notification.objects.filter(channel=Notification.Channel.WEBHOOK)


def sent(kind: str | None = None) -> list[dict[str, Any]]:
    """The payloads stored for delivery (of one type), oldest first."""
    rows = deliveries().order_by("pk")
    if kind:
        rows = rows.filter(kind=kind)
    return [json.loads(row.body) for row in rows]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1: what it received, and the statuses it will answer."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    location: str = ""
    delay: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        receiver = self.receiver
        receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
        time.sleep(receiver.delay)
        status = receiver.answers.pop(0) if receiver.answers else 200
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", receiver.location)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(f"answered {status}\n{'x' * 2000}".encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def http_receiver(
    tls: ssl.SSLContext | None = None, path: str = "/hooks/sutong?from=test"
) -> Iterator[Receiver]:
    receiver = Receiver(url="")
    handler: type[_Handler] = type("Handler", (_Handler,), {"receiver": receiver})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    with http_receiver() as found:
        yield found


@pytest.fixture
def frozen(time_machine: Any) -> Any:
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


# --- Which events become which webhook events --------------------------------------------


def test_a_new_complaint_is_sent_as_complaint_created() -> None:
    subscription = subscribe()

    complaint = submit()

    row = deliveries().get()
    assert (row.channel, row.webhook, row.address) == ("webhook", subscription, subscription.url)
    assert (row.kind, row.subject) == (
        "complaint.created",
        f"complaint.created {complaint.tracking_code}",
    )
    assert (row.status, row.complaint) == (Status.PENDING, complaint)
    assert row.next_attempt_at is not None
    event = complaint.events.get()
    assert row.dedupe_key == f"webhook:{subscription.pk}:{event.pk}:complaint.created"
    complaint.refresh_from_db()
    assert json.loads(row.body) == {
        "id": f"evt_{event.pk}_created",
        "type": "complaint.created",
        "created_at": webhooks._iso(event.created_at),
        "complaint": {
            "id": complaint.pk,
            "tracking_code": complaint.tracking_code,
            "status": "received",
            "kind": "complaint",
            "priority": "normal",
            "category": None,
            "department": None,
            "channel": "web",
            "received_at": webhooks._iso(complaint.received_at),
            "updated_at": webhooks._iso(complaint.updated_at),
        },
    }
    # Compact, sorted and UTF-8: the bytes that are signed.
    assert row.body == webhooks.encode(json.loads(row.body))
    assert ", " not in row.body


def test_a_transition_is_sent_as_status_changed_with_the_previous_status(
    dispatcher: User, facilities: Category
) -> None:
    complaint = complaint_in(S.RECEIVED)
    subscribe(events=["complaint.status_changed"])

    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="urgent", actor=dispatcher
    )

    [payload] = sent()
    assert payload["type"] == "complaint.status_changed"
    assert {
        key: payload["complaint"][key]
        for key in ("status", "previous_status", "priority", "category", "department")
    } == {
        "status": "classified",
        "previous_status": "received",
        "priority": "urgent",
        "category": "facilities",
        "department": "urban_management",
    }


def test_a_sent_reply_is_sent_with_its_text(handler: User, urban: Department) -> None:
    complaint = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler, priority="urgent")
    approved_draft(complaint, body="路灯已于今日修复。")
    subscribe()

    services.send_reply(complaint_id=complaint.pk, actor=handler)

    assert [p["type"] for p in sent()] == ["complaint.status_changed", "complaint.replied"]
    [replied] = sent("complaint.replied")
    complaint.refresh_from_db()
    assert replied["reply"] == {
        "body": "路灯已于今日修复。",
        "sent_at": webhooks._iso(complaint.replied_at),
    }
    assert replied["complaint"]["status"] == "replied"
    assert "previous_status" not in replied["complaint"]
    assert "reply" not in sent("complaint.status_changed")[0]


def test_closing_is_sent_as_closed_and_as_a_status_change(handler: User, urban: Department) -> None:
    complaint = complaint_in(S.REPLIED, department=urban, assignee=handler)
    subscribe(events=["complaint.closed"], name="closed only")
    subscribe(events=["complaint.status_changed", "complaint.closed"], name="both")

    services.close(complaint_id=complaint.pk, actor=handler)

    rows = deliveries().order_by("pk")
    assert sorted((r.webhook.name, r.kind) for r in rows) == [  # type: ignore[union-attr]
        ("both", "complaint.closed"),
        ("both", "complaint.status_changed"),
        ("closed only", "complaint.closed"),
    ]
    # One event of one type has one id, whichever subscription gets it.
    ids = {(p["type"], p["id"]) for p in sent()}
    assert len(ids) == 2
    closed = sent("complaint.closed")[0]
    assert closed["complaint"]["status"] == "closed"


def test_events_that_change_nothing_visible_are_not_sent(handler: User, urban: Department) -> None:
    complaint = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
    subscribe()

    services.add_note(complaint_id=complaint.pk, body="已联系物业", actor=handler)
    services.draft_reply(complaint_id=complaint.pk, body="草稿", actor=handler)

    assert not deliveries().exists()


def test_a_subscription_hears_only_the_events_it_chose(dispatcher: User) -> None:
    subscribe(events=["complaint.replied"])

    complaint = submit()
    services.reject(complaint_id=complaint.pk, reason="广告", actor=dispatcher)

    assert not deliveries().exists()


def test_inactive_subscriptions_hear_nothing() -> None:
    subscribe(is_active=False)
    submit()
    assert not deliveries().exists()


def test_a_department_subscription_hears_only_its_department(
    dispatcher: User, facilities: Category, market: Department
) -> None:
    urban_hook = subscribe(department=facilities.default_department, name="urban")
    subscribe(department=market, name="market")
    complaint = complaint_in(S.RECEIVED)

    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )

    assert [row.webhook for row in deliveries().all()] == [urban_hook]


def test_a_client_subscription_hears_only_the_complaints_that_client_submitted() -> None:
    from intake.models import ChannelClient, ClientSubmission

    wechat, _ = ChannelClient.create_with_token(name="WeChat", scopes=["webhooks"])
    app, _ = ChannelClient.create_with_token(name="App", scopes=["webhooks"])
    wechat_hook = subscribe(client=wechat, name="wechat")
    subscribe(client=app, name="app")
    everything = subscribe(name="everything")

    def by_wechat(complaint: Complaint) -> None:
        ClientSubmission.objects.create(client=wechat, complaint=complaint)

    theirs = submit(channel=Complaint.Channel.WECHAT, on_created=by_wechat)
    portal = submit()  # on the portal: no client's own

    assert {(row.complaint, row.webhook) for row in deliveries().all()} == {
        (theirs, wechat_hook),
        (theirs, everything),
        (portal, everything),
    }


def test_a_revoked_client_or_one_without_the_scope_hears_nothing_more() -> None:
    from intake.models import ChannelClient, ClientSubmission

    revoked, _ = ChannelClient.create_with_token(name="Old app", scopes=["webhooks"])
    unscoped, _ = ChannelClient.create_with_token(name="Hotline", scopes=["webhooks"])
    subscribe(client=revoked, name="revoked")
    subscribe(client=unscoped, name="unscoped")
    revoked.revoke()
    unscoped.scopes = ["intake"]
    unscoped.save()

    for client in (revoked, unscoped):
        submit(
            on_created=lambda complaint, client=client: ClientSubmission.objects.create(
                client=client, complaint=complaint
            )
        )

    assert not deliveries().exists()


def test_no_personal_data_is_ever_sent(
    dispatcher: User, handler: User, facilities: Category, urban: Department
) -> None:
    subscribe()
    complaint = submit()
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )
    services.assign(complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher)

    bodies = " ".join(deliveries().values_list("body", flat=True))
    assert len(sent()) == 3
    for personal in (
        "张伟",
        "13812345678",
        "zhangwei@example.com",
        "110101199003071234",
        "幸福路88号",
        "handler",  # nor who works on it
        complaint.title,
    ):
        assert personal not in bodies


def test_the_listener_running_again_stores_nothing_twice() -> None:
    subscribe()
    complaint = submit()
    event = complaint.events.get()

    again = webhooks.on_event(Complaint, complaint=complaint, event=event)

    assert again == 0
    assert deliveries().count() == 1


def test_deliveries_are_stored_with_the_change_or_not_at_all(
    dispatcher: User, facilities: Category, django_capture_on_commit_callbacks: Any
) -> None:
    complaint = complaint_in(S.RECEIVED)
    subscribe()

    stored_inside: list[int] = []

    def classify_then_fail() -> None:
        with transaction.atomic():
            services.classify(
                complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
            )
            stored_inside.append(deliveries().count())
            raise RuntimeError("the service failed after the event")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        classify_then_fail()

    assert stored_inside == [1]
    assert not deliveries().exists()  # gone with the change
    assert not Event.objects.exists()
    assert callbacks == []


def test_a_delivery_task_is_queued_after_commit(
    dispatcher: User, facilities: Category, django_capture_on_commit_callbacks: Any
) -> None:
    complaint = complaint_in(S.RECEIVED)
    subscribe()

    with django_capture_on_commit_callbacks() as callbacks:
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
        )

    assert kick in callbacks


# --- Where webhooks may go --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://127.0.0.1/hook", "internal"),
        ("https://127.8.8.8/hook", "internal"),
        ("https://10.1.2.3/hook", "internal"),
        ("https://172.16.5.4/hook", "internal"),
        ("https://192.168.1.10/hook", "internal"),
        ("https://169.254.169.254/latest/meta-data/", "internal"),
        ("https://100.64.0.1/hook", "internal"),
        ("https://0.0.0.0/hook", "internal"),
        ("https://224.0.0.251/hook", "internal"),
        ("https://240.0.0.1/hook", "internal"),
        ("https://[::1]/hook", "internal"),
        ("https://[::ffff:127.0.0.1]/hook", "internal"),
        ("https://[::ffff:10.0.0.1]/hook", "internal"),
        ("https://[fe80::1]/hook", "internal"),
        ("https://[fd00::1]/hook", "internal"),
        ("https://[2002:a00:1::]/hook", "internal"),  # 6to4 around 10.0.0.1
        ("https://[64:ff9b::a00:1]/hook", "internal"),  # NAT64 around 10.0.0.1
        ("https://localhost/hook", "internal"),
        ("https://api.localhost/hook", "internal"),
        ("https://internal.example.com/hook", "internal"),
        ("https://mixed.example.com/hook", "internal"),  # every address must be public
        ("http://hooks.example.com/hook", "scheme"),
        ("https://user:secret@hooks.example.com/hook", "credentials"),
        ("https://nowhere.example.net/hook", "dns"),
        ("ftp://hooks.example.com/hook", "invalid"),
        ("hooks.example.com/hook", "invalid"),
        ("https:///hook", "invalid"),
    ],
)
def test_webhooks_may_not_go_to(url: str, code: str) -> None:
    with pytest.raises(ValidationError) as refused:
        webhooks.validate_webhook_url(url)
    assert refused.value.code == code


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/sutong",
        "https://hooks.example.com:8443/sutong?source=sutong",
        "https://v6.example.com/sutong",
        f"https://{PUBLIC}/sutong",
        f"https://[{PUBLIC_V6}]/sutong",
    ],
)
def test_webhooks_may_go_to_public_https_addresses(url: str) -> None:
    webhooks.validate_webhook_url(url)


def test_http_is_allowed_when_configured(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_HTTP = True
    webhooks.validate_webhook_url("http://hooks.example.com/sutong")
    with pytest.raises(ValidationError):
        webhooks.validate_webhook_url("http://10.0.0.1/sutong")


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["127.0.0.1"], "https://127.0.0.1:8080/hook"),
        ("127.0.0.1, 10.0.0.0/8", "https://internal.example.com/hook"),
        (["10.0.0.0/8"], "https://10.200.3.4/hook"),
        (["Internal.Example.com"], "https://internal.example.com/hook"),
        (["localhost"], "https://localhost/hook"),
        (["::1"], "https://[::1]/hook"),
    ],
)
def test_an_administrator_may_allow_internal_targets(
    settings: Any, allowed: list[str] | str, url: str
) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = allowed
    webhooks.validate_webhook_url(url)


def test_allowing_one_internal_host_allows_no_other(settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["10.0.0.7"]
    with pytest.raises(ValidationError):
        webhooks.validate_webhook_url("https://10.0.0.8/hook")
    with pytest.raises(ValidationError):
        webhooks.validate_webhook_url("https://127.0.0.1/hook")


def test_a_subscription_is_checked_when_saved() -> None:
    subscription = WebhookSubscription(
        name="x", url="https://192.168.1.1/hook", events=["complaint.sent"]
    )
    with pytest.raises(ValidationError) as refused:
        subscription.full_clean()
    assert set(refused.value.message_dict) == {"url", "events"}

    subscription.events = []
    with pytest.raises(ValidationError) as refused:
        subscription.full_clean()
    assert "events" in refused.value.message_dict


def test_a_new_secret_is_long_random_and_hinted() -> None:
    subscription = subscribe()
    assert subscription.secret.startswith("whsec_")
    assert len(subscription.secret) > 40
    assert subscription.secret_hint == subscription.secret[:10] + "…"
    old = subscription.secret
    new = webhooks.rotate_secret(subscription)
    subscription.refresh_from_db()
    assert new.startswith("whsec_")
    assert subscription.secret == new != old


# --- Signatures -------------------------------------------------------------------------


def test_a_signature_verifies_with_the_secret_and_the_exact_body() -> None:
    body = webhooks.encode({"type": "complaint.created", "note": "路灯"}).encode()
    now = int(time.time())
    header = webhooks.signature("whsec_abc", body, now)

    assert header.startswith(f"t={now},v1=")
    assert webhooks.verify_signature("whsec_abc", header, body)
    assert not webhooks.verify_signature("whsec_abc", header, body + b" ")
    assert not webhooks.verify_signature("whsec_abc", header, body.replace(b"created", b"closed"))
    assert not webhooks.verify_signature("whsec_other", header, body)


def test_a_signature_is_good_for_five_minutes_either_way() -> None:
    body = b'{"id":"evt_1_created"}'
    header = webhooks.signature("whsec_abc", body, 1_800_000_000)

    assert webhooks.verify_signature("whsec_abc", header, body, now=1_800_000_000 + 299)
    assert webhooks.verify_signature("whsec_abc", header, body, now=1_800_000_000 - 299)
    assert not webhooks.verify_signature("whsec_abc", header, body, now=1_800_000_000 + 301)
    assert not webhooks.verify_signature(
        "whsec_abc", header, body, tolerance=60, now=1_800_000_000 + 61
    )


@pytest.mark.parametrize(
    "header", ["", "v1=abc", "t=abc,v1=def", "t=1800000000", "t=1800000000,v0=abc", "garbage"]
)
def test_a_malformed_signature_never_verifies(header: str) -> None:
    assert not webhooks.verify_signature("whsec_abc", header, b"{}", now=1_800_000_000)


def test_any_of_several_signatures_may_match() -> None:
    body = b"{}"
    good = webhooks.signature("whsec_abc", body, 1_800_000_000)
    header = f"t=1800000000,v1={'0' * 64},{good.split(',')[1]}"
    assert webhooks.verify_signature("whsec_abc", header, body, now=1_800_000_000)


# --- Sending ----------------------------------------------------------------------------


def test_a_delivery_reaches_a_real_server_signed(receiver: Receiver) -> None:
    subscription = subscribe(url=receiver.url)
    complaint = submit()
    row = deliveries().get()

    report = deliver_due()

    assert report.sent == 1
    [request] = receiver.requests
    assert request.path == "/hooks/sutong?from=test"
    assert request.body == row.body.encode()
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "Sutong-Webhooks/1.0"
    assert headers["Sutong-Event"] == "complaint.created"
    assert headers["Sutong-Delivery"] == str(row.pk)
    assert headers["Host"] == receiver.url.split("/")[2]
    assert webhooks.verify_signature(subscription.secret, headers["Sutong-Signature"], request.body)
    assert json.loads(request.body)["complaint"]["tracking_code"] == complaint.tracking_code
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_status, row.last_error) == (
        Status.SENT,
        1,
        200,
        "",
    )


def test_a_refused_delivery_is_retried_with_backoff_then_sent(
    receiver: Receiver, frozen: Any
) -> None:
    subscription = subscribe(url=receiver.url)
    submit()
    receiver.answers = [500, 200]

    assert deliver_due().retrying == 1
    row = deliveries().get()
    assert (row.status, row.attempts, row.response_status) == (Status.PENDING, 1, 500)
    assert row.last_error.startswith("WebhookError: HTTP 500 Internal Server Error: answered 500")
    assert len(row.last_error) < 600  # an excerpt of the answer, not all of it
    assert row.next_attempt_at == timezone.now() + timedelta(seconds=30)

    frozen.shift(31)
    assert deliver_due().sent == 1

    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_status) == (Status.SENT, 2, 200)
    first, second = receiver.requests
    assert first.body == second.body  # the same bytes…
    # …signed anew for each attempt.
    assert first.headers["Sutong-Signature"] != second.headers["Sutong-Signature"]
    for request in receiver.requests:
        assert webhooks.verify_signature(
            subscription.secret, request.headers["Sutong-Signature"], request.body
        )


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    subscribe(url=receiver.url)
    submit()
    receiver.answers = [302]
    receiver.location = "http://169.254.169.254/latest/meta-data/"

    assert deliver_due().retrying == 1

    assert len(receiver.requests) == 1
    row = deliveries().get()
    assert row.response_status == 302
    assert "redirects are not followed" in row.last_error


def test_a_receiver_that_does_not_answer_in_time_is_retried(
    receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_TIMEOUT = 1
    receiver.delay = 1.5
    subscribe(url=receiver.url)
    submit()

    assert deliver_due().retrying == 1

    row = deliveries().get()
    assert row.response_status is None
    assert "timed out" in row.last_error


def test_an_internal_address_is_refused_at_send_time_too(receiver: Receiver, settings: Any) -> None:
    subscribe(url=receiver.url)
    submit()
    settings.WEBHOOK_ALLOWED_HOSTS = []  # the administrator took the permission back

    assert deliver_due().retrying == 1

    assert receiver.requests == []
    row = deliveries().get()
    assert row.last_error.startswith("WebhookError: ")
    assert "127.0.0.1" in row.last_error


def test_a_name_that_now_resolves_inward_is_not_connected_to(
    dns: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(url="https://hooks.example.com/sutong")
    submit()
    dns["hooks.example.com"] = ["10.0.0.5"]  # DNS rebinding after the check at saving
    connections: list[Any] = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connections.append(a))

    assert deliver_due().retrying == 1

    assert connections == []
    row = deliveries().get()
    assert (row.status, row.attempts, row.response_status) == (Status.PENDING, 1, None)
    assert row.last_error.startswith("WebhookError: ")
    assert "10.0.0.5" in row.last_error


def test_the_connection_goes_to_the_address_that_was_checked(
    dns: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(url="https://hooks.example.com/sutong")
    submit()
    connections: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> Any:
        connections.append(address)
        dns["hooks.example.com"] = ["127.0.0.1"]  # too late: the address is chosen
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(socket, "create_connection", refuse)

    deliver_due()

    assert connections == [(PUBLIC, 443)]
    assert "ConnectionRefusedError" in deliveries().get().last_error


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=hooks.example.com",
            "-addext", "subjectAltName=DNS:hooks.example.com",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_checks_the_certificate_of_the_host_name_on_the_pinned_address(
    certificate: tuple[Path, Path],
    dns: dict[str, list[str]],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert, key = certificate
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test's own certificate
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com", "other.example.com"]
    with http_receiver(tls=tls) as server:
        port = server.url.split(":")[2].split("/")[0]
        dns["hooks.example.com"] = ["127.0.0.1"]
        dns["other.example.com"] = ["127.0.0.1"]
        good = subscribe(url=f"https://hooks.example.com:{port}/hooks", name="good")
        webhooks.ping(good)
        assert deliver_due().sent == 1
        [request] = server.requests
        assert request.headers["Host"] == f"hooks.example.com:{port}"
        assert webhooks.verify_signature(
            good.secret, request.headers["Sutong-Signature"], request.body
        )

        # The same server under a name its certificate does not carry: refused.
        wrong = subscribe(url=f"https://other.example.com:{port}/hooks", name="wrong")
        webhooks.ping(wrong)
        assert deliver_due().retrying == 1
        assert len(server.requests) == 1
        assert "CERTIFICATE_VERIFY_FAILED" in wrong.deliveries.get().last_error


# --- Use cases --------------------------------------------------------------------------


def test_a_ping_carries_the_subscription_not_a_complaint(receiver: Receiver) -> None:
    subscription = subscribe(url=receiver.url)

    row = webhooks.ping(subscription)
    deliver_due()

    assert (row.kind, row.complaint) == ("webhook.ping", None)
    [request] = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "webhook.ping"
    assert body["id"].startswith("ping_")
    assert body["webhook"] == {"id": subscription.pk, "name": "CRM", "events": ALL_EVENTS}
    assert request.headers["Sutong-Event"] == "webhook.ping"


def test_a_redelivery_sends_the_same_payload_as_a_new_delivery(receiver: Receiver) -> None:
    subscribe(url=receiver.url)
    submit()
    deliver_due()
    first = deliveries().get()

    again = webhooks.redeliver(first)
    deliver_due()

    assert again.pk != first.pk
    assert (again.kind, again.body, again.complaint_id) == (
        first.kind,
        first.body,
        first.complaint_id,
    )
    assert [r.body for r in receiver.requests] == [first.body.encode()] * 2
    assert receiver.requests[1].headers["Sutong-Delivery"] == str(again.pk)


def test_a_moved_receiver_gets_the_retries(receiver: Receiver, settings: Any) -> None:
    subscription = subscribe(url="https://hooks.example.com/old")
    submit()
    subscription.url = receiver.url
    subscription.save()

    deliver_due()

    row = deliveries().get()
    assert (row.status, row.address) == (Status.SENT, receiver.url)


def test_deactivating_fails_what_was_waiting() -> None:
    subscription = subscribe()
    submit()

    assert webhooks.deactivate(subscription) == 1

    row = deliveries().get()
    assert row.status == Status.FAILED
    assert "deactivated" in row.last_error
    submit()
    assert deliveries().count() == 1


# --- Back-office ------------------------------------------------------------------------


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin_user)
    return client


def test_the_back_office_lists_subscriptions_with_their_last_delivery(
    admin_client: Client,
) -> None:
    subscription = subscribe()
    submit()
    deliveries().update(status=Status.SENT, response_status=204)

    page = admin_client.get("/admin/notifications/webhooksubscription/")

    text = page.content.decode()
    assert page.status_code == 200
    assert subscription.url in text
    assert "complaint.created, complaint.status_changed" in text
    assert "sent (204)" in text
    assert subscription.secret not in text


def test_a_new_subscription_shows_its_secret_once(admin_client: Client, admin_user: User) -> None:
    response = admin_client.post(
        "/admin/notifications/webhooksubscription/add/",
        {
            "name": "Hotline system",
            "url": "https://hooks.example.com/hotline",
            "events": ["complaint.created", "complaint.closed"],
            "is_active": "on",
        },
        follow=True,
    )

    subscription = WebhookSubscription.objects.get()
    assert subscription.events == ["complaint.created", "complaint.closed"]
    assert subscription.created_by == admin_user
    assert subscription.secret in response.content.decode()
    change = admin_client.get(f"/admin/notifications/webhooksubscription/{subscription.pk}/change/")
    text = change.content.decode()
    assert subscription.secret not in text
    assert subscription.secret_hint in text


def test_the_back_office_refuses_an_internal_url(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/notifications/webhooksubscription/add/",
        {"name": "Metadata", "url": "https://169.254.169.254/", "events": ["complaint.created"]},
    )
    assert response.status_code == 200
    assert "is an internal address" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_a_subscription_page_shows_its_recent_deliveries(admin_client: Client) -> None:
    subscription = subscribe()
    submit()
    deliveries().update(
        status=Status.FAILED, response_status=503, last_error="WebhookError: HTTP 503"
    )

    page = admin_client.get(f"/admin/notifications/webhooksubscription/{subscription.pk}/change/")

    text = page.content.decode()
    assert page.status_code == 200
    assert "complaint.created" in text
    assert "WebhookError: HTTP 503" in text
    assert f"?webhook__id__exact={subscription.pk}" in text
    listing = admin_client.get(
        f"/admin/notifications/notification/?webhook__id__exact={subscription.pk}"
    )
    listed = listing.content.decode()
    assert listing.status_code == 200
    assert subscription.url in listed
    assert ">503<" in listed
    assert "1 notification" in listed


def test_the_ping_action_queues_a_ping(admin_client: Client) -> None:
    subscription = subscribe()

    response = admin_client.post(
        "/admin/notifications/webhooksubscription/",
        {"action": "send_ping", "_selected_action": [subscription.pk]},
        follow=True,
    )

    assert "A ping is on its way to 1 webhook." in response.content.decode()
    assert subscription.deliveries.get().kind == "webhook.ping"


def test_rotating_the_secret_shows_the_new_one_once(admin_client: Client) -> None:
    subscription = subscribe()
    old = subscription.secret

    response = admin_client.post(
        "/admin/notifications/webhooksubscription/",
        {"action": "rotate_secret", "_selected_action": [subscription.pk]},
        follow=True,
    )

    subscription.refresh_from_db()
    assert subscription.secret != old
    assert subscription.secret in response.content.decode()


def test_the_deactivate_action(admin_client: Client) -> None:
    subscription = subscribe()
    submit()

    response = admin_client.post(
        "/admin/notifications/webhooksubscription/",
        {"action": "deactivate", "_selected_action": [subscription.pk]},
        follow=True,
    )

    assert "1 webhook deactivated." in response.content.decode()
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert subscription.deliveries.get().status == Status.FAILED


def test_a_subscription_is_deleted_with_its_deliveries(admin_client: Client) -> None:
    subscription = subscribe()
    submit()

    confirm = admin_client.get(
        f"/admin/notifications/webhooksubscription/{subscription.pk}/delete/"
    )
    assert confirm.status_code == 200
    assert "Are you sure" in confirm.content.decode()
    admin_client.post(
        f"/admin/notifications/webhooksubscription/{subscription.pk}/delete/", {"post": "yes"}
    )

    assert not WebhookSubscription.objects.exists()
    assert not deliveries().exists()


def test_a_failed_webhook_delivery_is_retried_from_the_outbox(
    admin_client: Client, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    subscribe(url=receiver.url)
    submit()
    row = deliveries().get()
    deliveries().filter(pk=row.pk).update(
        status=Status.FAILED, attempts=6, response_status=500, last_error="WebhookError: HTTP 500"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/notifications/notification/",
            {"action": "retry_now", "_selected_action": [row.pk]},
            follow=True,
        )

    assert "1 notification will be sent again." in response.content.decode()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_status) == (Status.SENT, 1, 200)
    assert len(receiver.requests) == 1
