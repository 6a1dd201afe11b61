"""Application logs hold no secrets and no full personal data (ops.logfilter).

Real flows run with every logger at DEBUG: a portal submission with phone, e-mail and ID
number, a failing login, API calls with tokens, the private tracking link, a 404 and a
403 whose paths carry the secret, a data request, an e-mail intake, notification
deliveries that fail with the recipient in the error, and an exception inside a view.
Neither the records pytest captures nor the text the configured handler writes contains
any of the raw values — while the records themselves are there, masked.
"""

from __future__ import annotations

import io
import logging
import runpy
import smtplib
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AccessToken, User
from complaints.models import Complaint
from intake.email.ingest import ingest
from intake.models import ChannelClient
from notifications import sms
from notifications.delivery import deliver_due
from notifications.services import Recipient
from ops.logfilter import HIDDEN, RedactFilter, redact
from tests.notifications.helpers import EMAIL as BY_EMAIL
from tests.notifications.helpers import SMS as BY_SMS
from tests.notifications.helpers import store

pytestmark = pytest.mark.django_db

PHONE, EMAIL, ID_NUMBER = "13812345678", "zhangwei@example.com", "110101199003071234"
PASSWORD = "hunter2-Secret!"
ROOT = Path(__file__).resolve().parents[2]


class RefusingMailBackend(BaseEmailBackend):
    """An SMTP server that refuses the recipient, naming them in its error (as they do)."""

    def send_messages(self, messages: Any) -> int:
        to = messages[0].to[0]
        raise smtplib.SMTPRecipientsRefused({to: (550, f"5.1.1 <{to}>: user unknown".encode())})


class RefusingSmsBackend(sms.BaseSmsBackend):
    def send(self, phone: str, text: str) -> None:
        raise sms.SmsError(f"gateway refused {phone}: number not in service")


@pytest.fixture
def handler_output() -> Iterator[io.StringIO]:
    """What the configured console handler writes, captured from the real handler."""
    [configured] = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactFilter) for f in h.filters)
    ]
    assert isinstance(configured, logging.StreamHandler)
    buffer = io.StringIO()
    previous = configured.setStream(buffer)
    try:
        yield buffer
    finally:
        configured.setStream(previous)


@pytest.fixture(autouse=True)
def _settings(settings: Any, tmp_path: Path) -> None:
    cache.clear()
    settings.MEDIA_ROOT = tmp_path
    settings.API_RATE_STAFF = settings.API_RATE_CLIENT = settings.API_RATE_ANONYMOUS = 0
    settings.NOTIFY_MAX_ATTEMPTS = 6


def drive_every_flow(handler: User, monkeypatch: Any, settings: Any) -> tuple[str, dict[str, str]]:
    """Run the flows; the portal complaint's tracking code, and the secrets, by name."""
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    form = {
        "kind": "complaint",
        "petitioner_type": "individual",
        "name": "张伟",
        "phone": PHONE,
        "email": EMAIL,
        "id_number": ID_NUMBER,
        "address": "幸福路88号3栋2单元501",
        "title": "路灯坏了",
        "content": f"幸福路88号门口的路灯坏了两周。请打 {PHONE} 或写信到 {EMAIL}。",
        "privacy_consent": "on",
    }
    page = browser.post("/submit/", form, follow=True).content.decode()
    complaint = Complaint.objects.get()
    code = complaint.tracking_code
    secret = page.split(f"/track/{code}/", 1)[1].split("/", 1)[0]

    # A failing login, with the password in the form.
    Client().post(reverse("console:login"), {"username": "handler", "password": PASSWORD})

    # API calls with a personal token and a channel client's token.
    _token, staff_raw = AccessToken.create_with_token(user=handler, name="t", scope="read")
    staff_api = APIClient(HTTP_AUTHORIZATION=f"Token {staff_raw}")
    staff_api.get("/api/v1/complaints/")
    staff_api.get("/api/v1/petitioners/", {"q": PHONE})
    staff_api.get("/api/v1/complaints/999999/")  # 404
    _client, client_raw = ChannelClient.create_with_token(name="wechat", scopes=["submit"])
    APIClient(HTTP_AUTHORIZATION=f"Token {client_raw}").get(
        f"/api/v1/complaints/?token={client_raw}"
    )
    APIClient(HTTP_AUTHORIZATION="Token stp_" + "x" * 43).get("/api/v1/complaints/")  # 401

    # The private link: a wrong secret (404), a POST without CSRF (403), the right one.
    Client().get(f"/track/{code}/{secret}x/")
    Client(enforce_csrf_checks=True).post(f"/track/{code}/{secret}/", {"email": EMAIL})
    petitioner = Client(HTTP_ACCEPT_LANGUAGE="en")
    petitioner.get(f"/track/{code}/{secret}/", follow=True)

    # A data request on the tracking page: the copy, then an erasure request.
    petitioner.get(reverse("intake:data_download", args=[code, "json"]))
    petitioner.post(
        reverse("intake:data_erase", args=[code]),
        {"note": f"My ID number is {ID_NUMBER}", "confirm": "on"},
    )

    # An e-mail intake from the same person.
    message = EmailMessage()
    message["From"] = f"张伟 <{EMAIL}>"
    message["To"] = "xinfang@example.gov.cn"
    message["Subject"] = f"路灯 {PHONE}"
    message["Message-ID"] = "<m1@example.com>"
    message.set_content(f"还是没修。身份证 {ID_NUMBER}")
    ingest(message.as_bytes())

    # Notifications to the petitioner that fail with the address or number in the error.
    settings.EMAIL_BACKEND = f"{__name__}.RefusingMailBackend"
    settings.SMS_BACKEND = f"{__name__}.RefusingSmsBackend"
    store([Recipient(name="张伟", email=EMAIL, phone=PHONE)], (BY_EMAIL, BY_SMS), url="")
    deliver_due()

    # An exception inside a view, whose message names the petitioner.
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"could not store the submission of {PHONE} <{EMAIL}> {ID_NUMBER}")

    monkeypatch.setattr("intake.views.services.submit", broken)
    crashing = Client(raise_request_exception=False)
    assert crashing.post("/submit/", {**form, "title": "again"}).status_code == 500
    return code, {"secret": secret, "staff_token": staff_raw, "client_token": client_raw}


def test_no_secret_or_personal_value_reaches_any_log(
    caplog: pytest.LogCaptureFixture,
    handler_output: io.StringIO,
    handler: User,
    monkeypatch: Any,
    settings: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("django", "django.request", "django.security", "intake", "notifications"):
        caplog.set_level(logging.DEBUG, logger=name)

    code, secrets = drive_every_flow(handler, monkeypatch, settings)

    captured = "\n".join(
        [record.getMessage() for record in caplog.records]
        + [record.exc_text or "" for record in caplog.records]
        + [caplog.text, handler_output.getvalue()]
    )
    forbidden = [PHONE, "zhangwei@", ID_NUMBER, PASSWORD, *secrets.values()]
    for value in forbidden:
        assert value not in captured, value
    # The records are there, masked: the flows were logged, not silenced.
    assert f"Not Found: /track/{code}/{HIDDEN}/" in captured
    assert "Internal Server Error: /submit/" in captured
    assert "138****5678" in captured
    assert "z******@example.com" in captured
    assert "110101********1234" in captured
    assert "Forbidden (CSRF" in captured


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (
            "Not Found: /track/TS-2026-7KQ3M9XA/Ab3dEf9hIj/",
            f"Not Found: /track/TS-2026-7KQ3M9XA/{HIDDEN}/",
        ),
        (
            "GET /track/TS-2026-7KQ3M9XA/data/copy.json",
            "GET /track/TS-2026-7KQ3M9XA/data/copy.json",
        ),
        ("GET /survey/Zm9vYmFyYmF6cXV4/", f"GET /survey/{HIDDEN}/"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9", f"Authorization: Bearer {HIDDEN}"),
        ("token stc_" + "a" * 43, f"token stc_{HIDDEN}"),
        ("webhook secret whsec_" + "b" * 40, f"webhook secret whsec_{HIDDEN}"),
        ("username=li&password=p%40ss&next=/", f"username=li&password={HIDDEN}&next=/"),
        (
            "<QueryDict: {'new_password1': ['x y']}>",
            f"<QueryDict: {{'new_password1': ['{HIDDEN}']}}>",
        ),
        ("call +86 138 1234 5678 or 8613912345678", "call +86 138 **** 5678 or *********5678"),
        ("0086-138-1234-5678", "0086-138-****-5678"),
        ("at 2026-11-23 13:45:12, pid 1381234567890", "at 2026-11-23 13:45:12, pid 1381234567890"),
        ("ID 11010119900307123X.", "ID 110101********123X."),
        ("order 20260101123456789012 ok", "order 20260101123456789012 ok"),
        ("first_name changed", "first_name changed"),
    ],
)
def test_the_filter_masks_what_it_must_and_leaves_the_rest(raw: str, shown: str) -> None:
    assert redact(raw) == shown
    assert redact(shown) == shown  # masking twice changes nothing


def test_gunicorns_access_log_masks_the_private_link_and_tokens(tmp_path: Path) -> None:
    from gunicorn.config import Config

    conf = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("logger_class", conf["logger_class"])
    log = cfg.logger_class(cfg)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/track/TS-2026-7KQ3M9XA/Ab3dEf9hIj/?token=stp_{'c' * 43}&email={EMAIL}",
        "PATH_INFO": "/track/TS-2026-7KQ3M9XA/Ab3dEf9hIj/",
        "QUERY_STRING": f"token=stp_{'c' * 43}&email={EMAIL}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": "https://sutong.example/track/TS-2026-7KQ3M9XA/Ab3dEf9hIj/",
        "HTTP_USER_AGENT": "test",
    }
    response = SimpleNamespace(status="302 Found", sent=0, headers=[])
    request = SimpleNamespace(headers=[("AUTHORIZATION", f"Token stp_{'c' * 43}")])
    cfg.set("access_log_format", '%(h)s "%(r)s" %(s)s "%(f)s" %(U)s %(q)s %({authorization}i)s')
    log.access(response, request, environ, timedelta(milliseconds=3))
    for handler in log.access_log.handlers:
        handler.flush()

    line = (tmp_path / "access.log").read_text()
    assert "/track/TS-2026-7KQ3M9XA/" in line
    assert '" 302 "' in line
    for value in ("Ab3dEf9hIj", "c" * 20, "zhangwei@"):
        assert value not in line, line
