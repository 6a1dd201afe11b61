"""The citizen tracking look-up (/track/): nothing to learn from a wrong guess, and guessing
is slow, stopped early and reported.

* A wrong code, a right code with a wrong secret and a missing secret answer byte for
  byte the same (apart from the CSRF token), by the form and by the private link.
* Codes and secrets are random symbols, not counters.
* Per visitor and per code the look-up is refused with 429, a translated message and
  Retry-After; the visitor is the client's address as ``accounts.lockout.client_ip``
  sees it (behind a proxy too).
* A run of failures from one address, or on one code, writes one audit entry
  ``tracking.enumeration_suspected`` and tells the supervisors once per window.
* An unreachable cache does not break the look-up.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEntry, User
from complaints import tracking
from complaints.models import Complaint
from intake import lookup, services
from intake.submission import Submission
from notifications.models import Notification
from tests.factories import ComplaintFactory

pytestmark = pytest.mark.django_db

CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
NONCE = re.compile(r"nonce-[A-Za-z0-9_\-+/=]+")
NONCE_ATTRIBUTE = re.compile(rb'nonce="[^"]*"')
WRONG_SECRET = "AAAA-BBBB-CCCC"
ALARM = "tracking.enumeration_suspected"


@pytest.fixture(autouse=True)
def _fresh_counters(settings: Any, tmp_path: Path) -> None:
    """Counters of this test only. The embedded default's file cache is one directory
    shared by every test process on the machine (and their ``cache.clear()``); Redis
    (``REDIS_URL``) is a database of this run's own."""
    default = settings.CACHES["default"]
    if default["BACKEND"].endswith("FileBasedCache"):
        settings.CACHES = {**settings.CACHES, "default": {**default, "LOCATION": str(tmp_path)}}
    cache.clear()


def submitted() -> tuple[Complaint, str]:
    receipt = services.submit(Submission(channel="web", content="路灯坏了", phone="13800000000"))
    assert receipt.secret is not None
    return receipt.complaint, receipt.secret


def visitor(address: str = "203.0.113.7", **extra: Any) -> Client:
    return Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en", **extra)


def answer(response: Any) -> tuple[int, dict[str, str], list[str], bytes]:
    """Everything a visitor receives, with what is random in every answer blanked: the
    CSRF token, and the Content-Security-Policy nonce (in its header and in the page)."""
    headers = {name: NONCE.sub("nonce-", value) for name, value in response.headers.items()}
    body = CSRF_INPUT.sub(b'name="csrfmiddlewaretoken" value=""', response.content)
    return (
        response.status_code,
        headers,
        sorted(response.cookies),  # names only: the CSRF cookie's value is random too
        NONCE_ATTRIBUTE.sub(b'nonce=""', body),
    )


def post_form(code: str, secret: str) -> Any:
    return visitor().post("/track/", {"code": code, "secret": secret})


# --- Identical answers --------------------------------------------------------------------


@pytest.mark.parametrize("secret", [WRONG_SECRET, ""], ids=["wrong secret", "missing secret"])
def test_the_form_answers_a_known_code_as_it_answers_an_unknown_one(secret: str) -> None:
    # One code string, asked about before and after a complaint gets it: only its
    # existence differs, and the answers do not.
    code = tracking.new_tracking_code()
    unknown = post_form(code, secret)
    ComplaintFactory(tracking_code=code)
    known = post_form(code, secret)

    assert unknown.status_code in (400, 404)
    assert answer(known) == answer(unknown)


def test_a_wrong_secret_answers_as_a_wrong_code() -> None:
    complaint, _ = submitted()
    other = tracking.new_tracking_code()
    known = post_form(complaint.tracking_code, WRONG_SECRET)
    unknown = post_form(other, WRONG_SECRET)

    assert known.status_code == unknown.status_code == 404
    known_body = answer(known)[3].replace(complaint.tracking_code.encode(), b"CODE")
    assert known_body == answer(unknown)[3].replace(other.encode(), b"CODE")
    assert answer(known)[:3] == answer(unknown)[:3]


def test_the_private_link_answers_a_known_code_as_it_answers_an_unknown_one() -> None:
    code = tracking.new_tracking_code()
    unknown = visitor().get(f"/track/{code}/{WRONG_SECRET}/")
    unknown_without_secret = visitor().get(f"/track/{code}/")
    ComplaintFactory(tracking_code=code)
    known = visitor().get(f"/track/{code}/{WRONG_SECRET}/")
    known_without_secret = visitor().get(f"/track/{code}/")

    assert unknown.status_code == 404
    assert answer(known) == answer(unknown)
    # Without a secret the link leads to the form, whether the code exists or not.
    assert unknown_without_secret.status_code == 302
    assert unknown_without_secret["Location"] == f"/track/?code={code}"
    assert answer(known_without_secret) == answer(unknown_without_secret)


def test_the_right_code_and_secret_still_open_the_matter() -> None:
    complaint, secret = submitted()
    response = visitor().post("/track/", {"code": complaint.tracking_code, "secret": secret})
    assert response.status_code == 302
    assert response["Location"] == f"/track/{complaint.tracking_code}/"


# --- Codes are not guessable --------------------------------------------------------------

CODE_FORMAT = re.compile(r"^TS-\d{4}-[0-9A-HJKMNP-TV-Z]{8}$")


def test_tracking_codes_are_random_symbols_not_a_counter() -> None:
    codes = [tracking.new_tracking_code() for _ in range(4000)]

    assert all(CODE_FORMAT.match(code) for code in codes)
    assert len(set(codes)) == len(codes)
    # 8 symbols of a 32-symbol alphabet: 40 bits; the secret 12 symbols: 60 bits.
    assert tracking.CODE_LENGTH * math.log2(len(tracking.CROCKFORD)) >= 40
    assert len(set(tracking.CROCKFORD)) == 32
    assert tracking.SECRET_LENGTH * math.log2(len(tracking.CROCKFORD)) >= 60

    def value(code: str) -> int:
        number = 0
        for symbol in code[-8:]:
            number = number * 32 + tracking.CROCKFORD.index(symbol)
        return number

    # Neighbours in time are not neighbours in value (a counter would differ by 1).
    values = [value(code) for code in codes]
    assert min(abs(a - b) for a, b in itertools.pairwise(values)) > 1000
    # Every position uses the whole alphabet evenly (chi-square, 31 degrees of freedom:
    # 100 is far beyond any random sample; a counter or a skewed generator fails it).
    expected = len(codes) / 32
    for position in range(-8, 0):
        seen = Counter(code[position] for code in codes)
        assert set(seen) == set(tracking.CROCKFORD)
        chi_square = sum((seen[s] - expected) ** 2 / expected for s in tracking.CROCKFORD)
        assert chi_square < 100, (position, chi_square)


def test_complaints_get_random_codes_and_only_a_hash_of_their_secret() -> None:
    first, first_secret = submitted()
    second, second_secret = submitted()

    for complaint, secret in ((first, first_secret), (second, second_secret)):
        assert CODE_FORMAT.match(complaint.tracking_code)
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){2}", secret)
        assert complaint.secret_hash == tracking.hash_secret(secret)
        assert secret.replace("-", "") not in complaint.secret_hash
    assert sum(a != b for a, b in zip(first.tracking_code, second.tracking_code, strict=True)) >= 3


# --- Limits -------------------------------------------------------------------------------


def test_a_visitor_is_refused_with_429_after_the_limit_in_their_language() -> None:
    complaint, secret = submitted()
    browser = visitor()
    answers = [
        browser.post("/track/", {"code": tracking.new_tracking_code(), "secret": WRONG_SECRET})
        for _ in range(lookup.LOOKUPS_PER_VISITOR)
    ]
    assert {a.status_code for a in answers} == {404}

    # Even the right secret is refused until the window passes.
    refused = browser.post("/track/", {"code": complaint.tracking_code, "secret": secret})
    assert refused.status_code == 429
    assert "Too many attempts. Please wait a while and try again." in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= lookup.VISITOR_WINDOW
    by_link = browser.get(f"/track/{complaint.tracking_code}/{secret}/")
    assert by_link.status_code == 429
    assert "Too many attempts" in by_link.content.decode()

    chinese = Client(REMOTE_ADDR="203.0.113.7").post(
        "/track/", {"code": complaint.tracking_code, "secret": secret}
    )
    assert chinese.status_code == 429
    assert "尝试次数过多，请稍候再试。" in chinese.content.decode()


def test_a_codes_secret_cannot_be_guessed_from_many_addresses() -> None:
    complaint, secret = submitted()
    for n in range(lookup.FAILURES_PER_CODE):
        guess = f"AAAA-BBBB-CC{n:02d}"
        response = visitor(f"198.51.100.{n}").get(f"/track/{complaint.tracking_code}/{guess}/")
        assert response.status_code == 404

    for address in ("198.51.100.200", "198.51.100.201"):
        refused = visitor(address).get(f"/track/{complaint.tracking_code}/{secret}/")
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= lookup.CODE_WINDOW
    # Other codes are not affected.
    other, other_secret = submitted()
    assert (
        visitor("198.51.100.202").get(f"/track/{other.tracking_code}/{other_secret}/").status_code
        == 302
    )


def test_behind_a_proxy_the_limit_counts_the_client_not_the_proxy(settings: Any) -> None:
    settings.LOGIN_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    complaint, secret = submitted()

    def through_proxy(client_address: str) -> Client:
        # The client may send any X-Forwarded-For; our proxy appends the real address.
        return visitor("10.0.0.1", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {client_address}")

    guesser = through_proxy("192.0.2.10")
    for _ in range(lookup.LOOKUPS_PER_VISITOR):
        guesser.post("/track/", {"code": tracking.new_tracking_code(), "secret": WRONG_SECRET})
    assert guesser.post("/track/", {"code": "TS-2026-00000000", "secret": "x"}).status_code == 429

    # Another citizen behind the same proxy is not locked out with the guesser.
    neighbour = through_proxy("192.0.2.11")
    response = neighbour.post("/track/", {"code": complaint.tracking_code, "secret": secret})
    assert response.status_code == 302


def test_without_a_trusted_proxy_header_a_forged_one_does_not_reset_the_limit() -> None:
    for n in range(lookup.LOOKUPS_PER_VISITOR):
        visitor(HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").post(
            "/track/", {"code": tracking.new_tracking_code(), "secret": WRONG_SECRET}
        )
    forged = visitor(HTTP_X_FORWARDED_FOR="192.0.2.99").post(
        "/track/", {"code": tracking.new_tracking_code(), "secret": WRONG_SECRET}
    )
    assert forged.status_code == 429


# --- Enumeration: stopped early, and one alarm ------------------------------------------


def sequential_codes(count: int, year: int = 2026) -> list[str]:
    codes = []
    for number in range(count):
        symbols = ""
        for _ in range(tracking.CODE_LENGTH):
            number, rest = divmod(number, 32)
            symbols = tracking.CROCKFORD[rest] + symbols
        codes.append(f"TS-{year}-{symbols}")
    return codes


def test_thousands_of_sequential_codes_are_stopped_early_and_raise_one_alarm(
    supervisor: User, settings: Any
) -> None:
    settings.TRACKING_ALERT_CHANNELS = ["in_app", "email"]
    supervisor.email = "duban@example.com"
    supervisor.save(update_fields=["email"])
    # Mid-window of every counter (the 10-minute limit, the hourly alarm), so a slow run
    # cannot straddle the alarm's hour and raise it again for the next.
    start = timezone.now().replace(minute=25, second=0, microsecond=0) + timedelta(hours=1)
    with time_machine.travel(start, tick=True):
        enumerate_codes(settings)


def enumerate_codes(settings: Any) -> None:
    victim, victim_secret = submitted()
    codes = sequential_codes(3000)
    codes[1000] = victim.tracking_code  # a real code in the run: refused like the rest
    address = "198.51.100.66"

    # The first hundred through the portal, as a script would send them.
    browser = visitor(address)
    statuses: Counter[int] = Counter()
    for code in codes[:100]:
        statuses[browser.post("/track/", {"code": code, "secret": WRONG_SECRET}).status_code] += 1
    assert statuses == {404: lookup.LOOKUPS_PER_VISITOR, 429: 100 - lookup.LOOKUPS_PER_VISITOR}
    # The thousands after them straight into the look-up the view calls (the HTTP
    # round trip adds time, not behaviour): every one refused before any query.
    factory = RequestFactory(REMOTE_ADDR=address)
    with CaptureQueriesContext(connection) as queries:
        outcomes = {
            type(lookup.look_up(factory.post("/track/"), code, WRONG_SECRET)).__name__
            for code in codes[100:]
        }
    assert outcomes == {"Limited"}
    assert not [q for q in queries if "complaints_complaint" in q["sql"]]
    # Even the right secret of the real code in the run.
    refused = browser.post("/track/", {"code": victim.tracking_code, "secret": victim_secret})
    assert refused.status_code == 429

    alarm = AuditEntry.objects.get(action=ALARM)  # one, for the whole run
    assert alarm.target == f"address:{address}"
    assert alarm.ip == address
    assert alarm.actor is None
    assert alarm.detail == {
        "failures": settings.TRACKING_ALERT_FAILURES,
        "window_minutes": settings.TRACKING_ALERT_WINDOW_MINUTES,
    }
    told = Notification.objects.filter(kind=ALARM)
    assert sorted(told.values_list("user__username", "channel")) == [
        ("supervisor", "email"),
        ("supervisor", "in_app"),
    ]
    message = told.get(channel="in_app")
    assert address in message.body
    assert victim.tracking_code not in message.body


def test_guessing_one_codes_secret_from_many_addresses_raises_one_alarm(
    supervisor: User, settings: Any
) -> None:
    settings.TRACKING_ALERT_FAILURES = 30
    complaint, _ = submitted()
    for n in range(80):
        visitor(f"10.1.{n // 250}.{n % 250}").get(
            f"/track/{complaint.tracking_code}/AAAA-BBBB-{n:04d}/"
        )

    alarm = AuditEntry.objects.get(action=ALARM)
    assert alarm.target == f"tracking_code:{complaint.tracking_code}"
    assert Notification.objects.filter(kind=ALARM, user=supervisor).count() == 1


def test_a_person_who_mistypes_raises_no_alarm(supervisor: User) -> None:
    complaint, secret = submitted()
    browser = visitor()
    mistyped_code = complaint.tracking_code[:-1] + (
        "0" if complaint.tracking_code[-1] != "0" else "1"
    )
    browser.post("/track/", {"code": mistyped_code, "secret": secret})
    browser.post("/track/", {"code": complaint.tracking_code, "secret": WRONG_SECRET})
    assert (
        browser.post("/track/", {"code": complaint.tracking_code, "secret": secret}).status_code
        == 302
    )
    assert not AuditEntry.objects.filter(action=ALARM).exists()
    assert not Notification.objects.filter(kind=ALARM).exists()


def test_a_new_window_does_not_hand_a_script_its_limit_again() -> None:
    # A fixed window would: the limit in the window's last seconds, again in the next
    # window's first. The limit slides: the previous window's attempts still weigh.
    boundary = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    guesser = visitor("198.51.100.70")
    with time_machine.travel(boundary - timedelta(seconds=5), tick=False) as clock:
        for _ in range(lookup.LOOKUPS_PER_VISITOR):
            guesser.post("/track/", {"code": tracking.new_tracking_code(), "secret": "x"})
        clock.shift(timedelta(seconds=10))  # the next window has begun
        assert (
            guesser.post("/track/", {"code": tracking.new_tracking_code(), "secret": "x"})
        ).status_code == 429
        # Once the whole window has passed since, the visitor may look again.
        clock.shift(timedelta(seconds=lookup.VISITOR_WINDOW))
        again = guesser.post("/track/", {"code": tracking.new_tracking_code(), "secret": "x"})
        assert again.status_code == 404


def test_the_alarm_goes_again_in_a_new_window_only(supervisor: User, settings: Any) -> None:
    settings.TRACKING_ALERT_FAILURES = 25
    start = timezone.now().replace(minute=0, second=1, microsecond=0) + timedelta(hours=1)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(60):
            visitor().post("/track/", {"code": tracking.new_tracking_code(), "secret": "x"})
        assert AuditEntry.objects.filter(action=ALARM).count() == 1
        clock.shift(timedelta(minutes=settings.TRACKING_ALERT_WINDOW_MINUTES))
        for _ in range(60):
            visitor().post("/track/", {"code": tracking.new_tracking_code(), "secret": "x"})
    assert AuditEntry.objects.filter(action=ALARM).count() == 2
    assert Notification.objects.filter(kind=ALARM, user=supervisor).count() == 2


# --- The cache is down ------------------------------------------------------------------


def test_an_unreachable_cache_does_not_break_the_look_up(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    complaint, secret = submitted()
    # Nothing listens on port 1: every cache call fails at once.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with caplog.at_level(logging.WARNING, logger="intake.ratelimit"):
        wrong = visitor().post("/track/", {"code": complaint.tracking_code, "secret": WRONG_SECRET})
        right = visitor().post("/track/", {"code": complaint.tracking_code, "secret": secret})
        link = visitor().get(f"/track/{complaint.tracking_code}/{secret}/")

    assert wrong.status_code == 404
    assert right.status_code == 302
    assert link.status_code == 302
    assert any("cache is unreachable" in record.getMessage() for record in caplog.records)
