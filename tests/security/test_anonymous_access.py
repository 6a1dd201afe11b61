"""Every URL refuses an anonymous visitor unless it is on the public list below.

The whole URL configuration is walked (``get_resolver``, recursively: portal, console,
back-office, reports, REST API, Open311), each pattern made a concrete address with the
ids of real objects made here, and asked anonymously with GET and with POST. An address
not in ``PUBLIC`` must refuse — a redirect to a login page, 401, 403, 404 (or 405 for a
method it does not take) — and a POST must change nothing. A new address that answers
anonymously fails ``test_only_listed_urls_answer_anonymously`` by name; an entry that no
longer exists or no longer answers fails ``test_the_public_list_has_no_stale_entries``.
What the public addresses show is checked too: no personal data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from accounts.models import AccessToken, AuditEntry, User
from complaints import services, surveys
from complaints.models import CoHandlingTask, Complaint
from intake import services as intake_services
from intake.submission import Submission
from routing.models import Category, Department
from sla.models import Deadline, ExtensionRequest, Stage
from tests.factories import approved_draft

pytestmark = pytest.mark.django_db

# URL name (namespace:name) → why anyone may open it without logging in.
PUBLIC: dict[str, str] = {
    "healthz": "probed by load balancers; says only whether the service is up",
    "set_language": "the language switch on every page, for visitors too",
    "intake:home": "the citizen portal's front page",
    "intake:submit": "citizens submit complaints without an account",
    "intake:privacy": "the privacy notice, read before submitting",
    "intake:track": "the tracking look-up form (code + secret, rate-limited)",
    "intake:track_private": "the private link: code + secret prove access",
    "intake:survey": "the survey link of a reply: its token is the key",
    "console:login": "the staff login form",
    "admin:login": "the back-office login form",
    "admin:logout": "logging out of the back-office",
    "api:root": "the API's entry point: links to the schema and docs, no data",
    "api:schema": "the OpenAPI schema: the shape of the API, no data",
    "api:docs": "the API documentation page",
    "api:redoc": "the API documentation page (ReDoc)",
    "open311:discovery": "GeoReport v2: public by the standard",
    "open311:services": "GeoReport v2: the public service list",
    "open311:service_definition": "GeoReport v2: a public service definition",
    "open311:requests": "GeoReport v2: public request list (no personal data; POST needs a key)",
    "open311:service_request": "GeoReport v2: one public request (no personal data)",
    "open311:token": "GeoReport v2: a request id for its token",
    "statistics:public": "published statistics: counts only",
}
# Where a visitor is sent to prove who they are: staff log in; a citizen looks their
# matter up with its code and secret (the portal's pages of one matter send them there).
LOGIN_PAGES = ("/console/login/", "/admin/login/", "/track/")


@dataclass(frozen=True)
class Door:
    name: str  # namespace:name, or the route for an unnamed pattern (a catch-all)
    url: str


def patterns(
    resolver: URLResolver, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str | None]]:
    """(route, qualified name) of every pattern, through every include."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from patterns(entry, prefix + str(entry.pattern), inner)
        else:
            assert isinstance(entry, URLPattern)
            name = f"{namespace}{entry.name}" if entry.name else None
            yield prefix + str(entry.pattern), name


@dataclass
class World:
    complaint: Complaint
    secret: str
    values: dict[str, Any]
    overrides: dict[str, dict[str, Any]]


def concrete(route: str, name: str | None, world: World) -> str:
    """The route with its converters and groups filled in."""
    values = {**world.values, **world.overrides.get(name or "", {})}

    def group(match: re.Match[str]) -> str:
        key, body = match[1], match[2]
        if key in values:
            return str(values[key])
        if re.fullmatch(r"[\w|]+", body):  # an alternation of names: the first
            return body.split("|")[0]
        return "x"

    url = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", group, route)
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m[1]]), url)
    url = url.replace("[\\s\\S]*", "no-such-place/").replace("^", "").replace("$", "")
    url = url.replace("\\.", ".")
    assert not re.search(r"[\\()\[\]*+?]", url), (route, url)
    return "/" + url


def doors(world: World) -> list[Door]:
    found = []
    for route, name in patterns(get_resolver()):
        url = concrete(route, name, world)
        match = resolve(url)
        # The address leads where the pattern says (else the filling went wrong).
        if name is not None:
            assert match.view_name == name, (route, url, match.view_name)
        found.append(Door(name or route, url))
    return found


@pytest.fixture
def world(
    dispatcher: User,
    handler: User,
    supervisor: User,
    facilities: Category,
    urban: Department,
    market: Department,
    settings: Any,
    tmp_path: Path,
) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    receipt = intake_services.submit(
        Submission(channel="web", content="路灯坏了", name="张伟", phone="13812345678"),
        actor_label="petitioner",
    )
    assert receipt.secret is not None
    complaint = receipt.complaint
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )
    services.assign(complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher)
    services.accept(complaint_id=complaint.pk, actor=handler)
    attachment = services.add_attachment(
        complaint_id=complaint.pk,
        upload=SimpleUploadedFile("a.txt", b"hello", "text/plain"),
        actor=handler,
    )
    reply = approved_draft(complaint, sent_at=timezone.now())
    _survey, survey_token = surveys.open_survey(complaint, reply)
    now = timezone.now()
    deadline = complaint.deadlines.order_by("pk").first() or Deadline.objects.create(
        complaint=complaint, stage=Stage.CYCLE, basis="business", started_at=now, due_at=now
    )
    extension = ExtensionRequest.objects.create(
        deadline=deadline,
        reason="等待",
        previous_due_at=now,
        requested_due_at=now + timedelta(days=1),
        requested_by=handler,
    )
    task = CoHandlingTask.objects.create(
        complaint=complaint, department=market, task="核查", due_at=now, requested_by=handler
    )
    token, _raw = AccessToken.create_with_token(user=supervisor, name="script")
    published = intake_services.submit(
        Submission(
            channel="open311",
            content="井盖缺失",
            channel_data={"service_code": facilities.code},
        ),
        actor_label="open311",
    ).complaint
    complaint.refresh_from_db()
    return World(
        complaint=complaint,
        secret=receipt.secret,
        values={
            "pk": complaint.pk,
            "reply_pk": reply.pk,
            "action": "note",
            "file_format": "json",
            "code": complaint.tracking_code,
            "secret": receipt.secret,
            "token": survey_token,
            "task_id": task.pk,
            "deadline_id": deadline.pk,
            "delivery_id": 1,
            "fmt": "json",
            "service_code": facilities.code,
            "service_request_id": published.tracking_code,
            "object_id": complaint.pk,
            "id": handler.pk,
            "transition_name": "accept",
            "content_type_id": 1,
            "url": "no-such-page/",
        },
        overrides={
            "console:attachment": {"pk": attachment.pk},
            "api:attachment-download": {"pk": attachment.pk},
            "api:petitioner": {"pk": complaint.petitioner_id},
            "api:token": {"pk": token.pk},
            "console:token_revoke": {"pk": token.pk},
            "console:request_extension": {"pk": deadline.pk},
            "console:decide_extension": {"pk": extension.pk},
            "api:extension-decide": {"pk": extension.pk},
            "open311:token": {"token": published.tracking_code},
        },
    )


def footprint() -> tuple[Any, ...]:
    """Rows of every table and every complaint's version. Sessions aside (a visitor may
    get one), and the audit log: it records attempts, it is not data a visitor changes."""
    counts = tuple(
        model._default_manager.count()
        for model in apps.get_models()
        if model not in (Session, AuditEntry) and model._meta.managed and not model._meta.proxy
    )
    versions = Complaint.objects.aggregate(total=Sum("version"))["total"]
    return (*counts, versions)


def refused(response: Any) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return True
    location = urlsplit(response.get("Location", "")).path
    return response.status_code in (301, 302) and location in LOGIN_PAGES


def answering(world: World) -> dict[str, list[str]]:
    """Each address that answers an anonymous visitor: its name → how it answered."""
    answered: dict[str, list[str]] = {}
    for door in doors(world):
        for method in ("get", "post"):
            before = None if door.name in PUBLIC else footprint()
            response = getattr(Client(), method)(door.url, {})
            if before is not None:
                assert footprint() == before, f"anonymous {method.upper()} {door.url} changed data"
            if not refused(response):
                where = response.get("Location", "")
                answered.setdefault(door.name, []).append(
                    f"{method.upper()} {door.url} → {response.status_code} {where}".strip()
                )
    return answered


def test_only_listed_urls_answer_anonymously(world: World) -> None:
    answered = answering(world)
    unexpected = {name: how for name, how in answered.items() if name not in PUBLIC}
    assert not unexpected, (
        "These addresses answer an anonymous visitor. Protect them, or add them to PUBLIC "
        f"with the reason: {unexpected}"
    )


def test_the_public_list_has_no_stale_entries(world: World) -> None:
    names = {door.name for door in doors(world)}
    gone = sorted(set(PUBLIC) - names)
    assert not gone, f"PUBLIC names addresses that no longer exist: {gone}"
    answered = answering(world)
    closed = sorted(set(PUBLIC) - set(answered))
    assert not closed, f"PUBLIC names addresses that refuse anonymous visitors now: {closed}"


def test_the_walk_covers_every_part_of_the_site(world: World) -> None:
    urls = [door.url for door in doors(world)]
    for prefix in ("/admin/", "/api/v1/", "/open311/v2/", "/reports/", "/console/", "/track/"):
        assert sum(url.startswith(prefix) for url in urls) >= 3, prefix
    assert len(urls) > 150


# --- What the public addresses show -----------------------------------------------------


PERSONAL = ("李明", "13900008888", "liming@example.com", "11010519491231002X", "和平里 9 号")


@pytest.fixture
def open311_complaint(world: World, facilities: Category) -> Complaint:
    receipt = intake_services.submit(
        Submission(
            channel="open311",
            content="幸福路井盖缺失。",
            name=PERSONAL[0],
            phone=PERSONAL[1],
            email=PERSONAL[2],
            id_number=PERSONAL[3],
            address=PERSONAL[4],
            location="幸福路 12 号",
            channel_data={"service_code": facilities.code},
        ),
        actor_label="open311",
    )
    return receipt.complaint


def test_open311_requests_show_no_personal_data(open311_complaint: Complaint) -> None:
    client = Client()
    listing = client.get("/open311/v2/requests.json")
    one = client.get(f"/open311/v2/requests/{open311_complaint.tracking_code}.json")
    xml = client.get(f"/open311/v2/requests/{open311_complaint.tracking_code}.xml")

    assert listing.status_code == one.status_code == xml.status_code == 200
    assert open311_complaint.tracking_code in listing.content.decode()
    for response in (listing, one, xml):
        body = response.content.decode()
        for value in PERSONAL:
            assert value not in body
    # Complaints from other channels are not published at all.
    assert "路灯坏了" not in listing.content.decode()


def test_the_public_pages_show_no_complaint_or_person(world: World) -> None:
    client = Client()
    for url in ("/", "/statistics/", "/api/v1/", "/api/v1/schema/", "/healthz", "/track/"):
        body = client.get(url).content.decode()
        for value in ("张伟", "13812345678", world.complaint.tracking_code, "路灯坏了"):
            assert value not in body, (url, value)
    # A tracked page needs the secret first, even with the right code.
    assert client.get(f"/track/{world.complaint.tracking_code}/").status_code == 302
