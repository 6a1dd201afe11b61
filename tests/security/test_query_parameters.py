"""Hostile query parameters on every list and search door: never a 500, never a filter or
an order on a field the caller may not choose.

The matrix is built here: every endpoint × every hostile value, in every parameter that
endpoint reads, and every ORM-style look-up name (``petitioner__phone``, ``_connector``…).
A parameter a door does not know is ignored (the same results as without it); a known one
with a bad value is ignored by the console's filter forms or answered 400 naming it by the
API. What changes is checked, not just the status: for the look-up names the rows listed,
and their order, must be those of the same request without the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.models import AccessToken, User
from complaints.models import Complaint
from intake.models import ChannelClient, ClientSubmission
from reporting import rollups
from routing.models import Category, Department
from tests.factories import PetitionerFactory, complaint_in

# Already percent-encoded, sent as they are: a NUL byte, invalid and truncated UTF-8.
RAW_VALUES = ["%00", "a%00b", "%FF%FE%FD", "%E4%B8", "%C0%AF", "%", "%%32%35"]
# Encoded before sending: SQL and LIKE metacharacters, numbers of odd shapes, long text.
VALUES = [
    "'",
    '"',
    ";",
    "--",
    "%",
    "_",
    "\\",
    "' OR '1'='1",
    "1; DROP TABLE complaints_complaint; --",
    "%_%",
    "²",  # str.isdigit() says yes, int() says no
    "１２",  # full-width digits
    "9" * 40,
    "-1",
    "0",
    "1e400",
    "null",
    "true",
    "[]",
    "{}",
    "a" * 10_000,
    "路灯' OR 1=1 --",
    "\u202e\u200b",
]
# Look-up names a form or serializer must never pass on to the ORM.
LOOKUPS = [
    ("_connector", "OR"),
    ("_negated", "true"),
    ("petitioner__phone", "13800000001"),
    ("petitioner__id_number__startswith", "1"),
    ("petitioner__name__icontains", "甲"),
    ("status__in", "closed"),
    ("assignee__password__startswith", "md5"),
    ("assignee__username", "nobody"),
    ("department__code", "nowhere"),
    ("pk__in", "0"),
    ("id__gt", "999999"),
    ("ordering", "petitioner__phone"),
    ("ordering", "-petitioner__phone"),
    ("ordering", "assignee__password"),
    ("order_by", "petitioner__phone"),
    ("sort", "-petitioner__phone"),
    ("o", "petitioner__phone"),
]


def _html_ids(response: Any) -> list[str]:
    return re.findall(r"/console/(?:complaints|inbox)/(\d+)/", response.content.decode())


def _api_ids(response: Any) -> list[Any]:
    return [row.get("id", row.get("code")) for row in response.json()["results"]]


def _list_ids(response: Any) -> list[Any]:
    return [row.get("id", row.get("code")) for row in response.json()]


def _figures(response: Any) -> Any:
    return response.json()["figures"]


def _open311_ids(response: Any) -> list[str]:
    return [row["service_request_id"] for row in response.json()]


@dataclass(frozen=True)
class Door:
    name: str
    path: str
    who: str  # supervisor, dispatcher, token, client, anonymous
    params: tuple[str, ...]  # the parameters it reads
    rows: Callable[[Any], Any] | None = None  # what it lists, to compare
    base: dict[str, str] = field(default_factory=dict)  # parameters it needs


DOORS = [
    Door(
        "console queue",
        "/console/queue/",
        "supervisor",
        (
            "q",
            "text",
            "status",
            "category",
            "priority",
            "channel",
            "department",
            "received_from",
            "received_to",
            "overdue",
            "supervision",
            "sort",
            "after",
        ),
        _html_ids,
        {"q": "all"},
    ),
    Door(
        "console search",
        "/console/queue/",
        "supervisor",
        ("text",),
        _html_ids,
        {"q": "all", "text": "路灯"},
    ),
    Door("console inbox", "/console/inbox/", "dispatcher", ("page",), _html_ids),
    Door("console deadlines", "/console/deadlines/", "supervisor", ("page",)),
    Door("console notifications", "/console/notifications/", "supervisor", ("page",)),
    Door("console data requests", "/console/data-requests/", "supervisor", ("page",)),
    Door("console tokens", "/console/tokens/", "supervisor", ()),
    Door(
        "reports",
        "/reports/",
        "supervisor",
        ("period", "start", "end", "department", "category", "channel", "kind", "petitioner_type"),
        None,
        {"period": "this_month"},
    ),
    Door("hotspots", "/reports/hotspots/", "supervisor", ("window", "page")),
    Door("exports", "/reports/exports/", "supervisor", ("query",)),
    Door("scheduled reports", "/reports/scheduled/", "supervisor", ("kind", "page")),
    Door("audits", "/reports/audits/", "supervisor", ("month", "mine", "page")),
    Door("public statistics", "/statistics/", "anonymous", ("period",)),
    Door("tracking page", "/track/", "anonymous", ("code",)),
    Door(
        "api complaints",
        "/api/v1/complaints/",
        "token",
        (
            "queue",
            "text",
            "status",
            "category",
            "priority",
            "channel",
            "department",
            "received_from",
            "received_to",
            "overdue",
            "ordering",
            "cursor",
        ),
        _api_ids,
    ),
    Door(
        "api complaints inbox",
        "/api/v1/complaints/",
        "token",
        ("text", "status"),
        _api_ids,
        {"queue": "all"},
    ),
    Door(
        "api petitioners",
        "/api/v1/petitioners/",
        "token",
        ("q", "by", "cursor"),
        _api_ids,
        {"q": "张伟"},
    ),
    Door(
        "api kpis",
        "/api/v1/kpis/",
        "token",
        ("from", "to", "department", "category", "channel", "kind", "petitioner_type"),
        _figures,
    ),
    Door("api categories", "/api/v1/categories/", "token", ("include_inactive",), _list_ids),
    Door("api departments", "/api/v1/departments/", "token", ("include_inactive",), _list_ids),
    Door("api tokens", "/api/v1/tokens/", "session", ("cursor",)),
    Door(
        "api submissions",
        "/api/v1/submissions/",
        "client",
        ("status", "tracking_code", "cursor"),
        _api_ids,
    ),
    Door("api webhooks", "/api/v1/webhooks/", "client", ("cursor",)),
    Door(
        "open311 requests",
        "/open311/v2/requests.json",
        "anonymous",
        (
            "service_request_id",
            "service_code",
            "status",
            "start_date",
            "end_date",
            "jurisdiction_id",
        ),
        _open311_ids,
    ),
    Door("open311 services", "/open311/v2/services.json", "anonymous", ("jurisdiction_id",)),
]


@pytest.fixture(autouse=True)
def _unlimited(settings: Any) -> None:
    """No rate limits: a matrix of hundreds of calls is not an attack on the limits, which
    are proven elsewhere (tests/api/test_auth.py, tests/intake)."""
    settings.API_RATE_CLIENT = settings.API_RATE_STAFF = settings.API_RATE_ANONYMOUS = 0
    cache.clear()


@pytest.fixture
def world(
    supervisor: User, dispatcher: User, handler: User, facilities: Category, market: Department
) -> dict[str, Client]:
    """Two complaints per channel in reach of everyone asking, whose look-up fields differ:
    a filter on the petitioner's phone, the status or the assignee would drop a row, and
    an order by the phone would reverse them."""
    now = timezone.now()
    Category.objects.create(code="other", name_zh="其他", name_en="Other")
    client, raw_client = ChannelClient.create_with_token(
        name="crm", scopes=list(ChannelClient.Scope.values)
    )
    for channel in (Complaint.Channel.WEB, Complaint.Channel.OPEN311):
        for minutes, phone in ((2, "13800000001"), (1, "13900000002")):
            complaint = complaint_in(
                Complaint.Status.RECEIVED,
                channel=channel,
                received_at=now - timedelta(minutes=minutes),
                petitioner=PetitionerFactory(phone=phone, id_number=f"11010119900101{phone[-4:]}"),
                category=facilities,
                department=handler.department,
            )
            ClientSubmission.objects.create(client=client, complaint=complaint)
    rollups.rebuild()  # the key figures read the daily rollups
    _, raw_staff = AccessToken.create_with_token(user=supervisor, name="matrix")
    clients = {
        "anonymous": Client(),
        "token": Client(HTTP_AUTHORIZATION=f"Token {raw_staff}"),
        "client": Client(HTTP_AUTHORIZATION=f"Token {raw_client}"),
    }
    for name, user in (("supervisor", supervisor), ("dispatcher", dispatcher)):
        clients[name] = Client()
        clients[name].force_login(user)
    clients["session"] = clients["supervisor"]
    return clients


def _query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='[]%')}={v}" for k, v in pairs)


def _call(clients: dict[str, Client], door: Door, extra: list[tuple[str, str]]) -> Any:
    pairs = [*((k, quote(v)) for k, v in door.base.items() if k not in dict(extra)), *extra]
    path = door.path + ("?" + _query(pairs) if pairs else "")
    return clients[door.who].get(path, HTTP_ACCEPT_LANGUAGE="en")


def _hostile(door: Door) -> list[list[tuple[str, str]]]:
    """Every hostile value in all the parameters of ``door`` at once (forms and serializers
    check every field, so one request tries them all), then each parameter on its own with
    the values that break parsers and in odd shapes."""
    names = (*door.params, *door.base)
    cases = [[(name, quote(value)) for name in names] for value in VALUES]
    cases += [[(name, value) for name in names] for value in RAW_VALUES]
    for name in names:
        cases += [
            [(name, "%00")],
            [(name, "%FF%FE")],
            [(name, quote("²"))],
            [(name, quote("9" * 40))],
            [(f"{name}[]", "received")],
            [(f"{name}[0]", "x"), (f"{name}[1]", "y")],
            [(name, "received"), (name, "closed"), (name, "'")],
            [(name, "")],
        ]
    cases.append([("%FF%FE", "x")])  # an undecodable name
    cases.append([("a", "b")] * 300)  # many repeats
    return cases


def _failures(door: Door, clients: dict[str, Client]) -> list[str]:
    baseline = _call(clients, door, [])
    assert baseline.status_code == 200, f"{door.name}: {baseline.status_code}"
    expected = door.rows(baseline) if door.rows else None
    found: list[str] = []
    for extra in _hostile(door):
        response = _call(clients, door, extra)
        if response.status_code >= 500:
            found.append(f"{door.name} {extra[:3]!r}: {response.status_code}")
    for name, value in LOOKUPS:
        response = _call(clients, door, [(name, quote(value))])
        if response.status_code == 400 and door.path.startswith("/api/"):
            fields = {error["field"] for error in response.json()["errors"]}
            if name not in fields:
                found.append(f"{door.name} {name}: 400 without naming it ({fields})")
        elif response.status_code != 200:
            found.append(f"{door.name} {name}={value}: {response.status_code}")
        elif door.rows and door.rows(response) != expected:
            found.append(f"{door.name} {name}={value}: listed {door.rows(response)} != {expected}")
    return found


@pytest.mark.parametrize("door", DOORS, ids=[door.name for door in DOORS])
def test_hostile_parameters_are_ignored_or_refused_never_a_server_error(
    door: Door, world: dict[str, Client]
) -> None:
    assert _failures(door, world) == []


def test_the_matrix_lists_rows_so_that_a_lookup_would_show(world: dict[str, Client]) -> None:
    """The comparison means something: each listing door shows more than one row."""
    for door in DOORS:
        if door.rows is None:
            continue
        rows = door.rows(_call(world, door, []))
        if door.name in ("api kpis",):
            assert rows["volume"] >= 2, door.name
        else:
            assert len(rows) >= 2, (door.name, rows)


def test_ordering_by_a_hidden_field_is_refused_by_name(world: dict[str, Client]) -> None:
    for value in ("petitioner__phone", "-petitioner__phone", "assignee__password", "id"):
        response = world["token"].get(
            f"/api/v1/complaints/?ordering={value}", HTTP_ACCEPT_LANGUAGE="en"
        )
        assert response.status_code == 400, value
        assert [e["field"] for e in response.json()["errors"]] == ["ordering"]


def test_a_nul_byte_in_a_search_is_a_clear_400_in_the_api(world: dict[str, Client]) -> None:
    response = world["token"].get("/api/v1/complaints/?text=a%00b", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "text"
    assert "null" in error["message"].lower()


def test_like_wildcards_are_searched_literally(world: dict[str, Client]) -> None:
    """``%`` and ``_`` in a search are characters, not wildcards that match everything."""
    for text in ("%", "_", "%%", "__"):
        response = world["token"].get(f"/api/v1/complaints/?text={quote(text)}")
        assert response.status_code == 200
        assert response.json()["results"] == [], text


def test_the_console_ignores_a_status_it_does_not_know(world: dict[str, Client]) -> None:
    everything = _html_ids(world["supervisor"].get("/console/queue/?q=all"))
    forged = world["supervisor"].get("/console/queue/?q=all&status=x%27%20OR%201%3D1")
    assert forged.status_code == 200
    assert _html_ids(forged) == everything
