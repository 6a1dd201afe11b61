"""What the Open311 GeoReport v2 endpoint says, and how it says it in XML and JSON.

Each answer is a ``Document``: the name of its XML root element and a body of plain
values. The JSON form is the body itself; the XML form follows the spec's mapping between
the two (its "Spark convention"): a list becomes an element per item, named after the list
(``services`` → ``service``, ``service_requests`` → ``request``, …), true and false are
written as words, and a value that is absent is an empty element (``null`` in JSON).

XML is built with ElementTree, so every text is escaped; characters that XML 1.0 cannot
carry at all (most control characters) are replaced, so a document is always well formed.
Both forms are UTF-8, as the spec requires.

This module also decides what a complaint shows of itself: the public fields of the spec
and nothing else — never the petitioner, the reply or internal notes.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeAlias

from django.http import HttpResponse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from complaints.models import Complaint
from routing.models import Category

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CONTENT_TYPES = {
    "xml": "text/xml; charset=utf-8",
    "json": "application/json; charset=utf-8",
}

Value: TypeAlias = "str | int | bool | Decimal | list[Value] | dict[str, Value] | None"

# What each list's items are called in XML.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}

# --- Statuses -----------------------------------------------------------------------------

OPEN = "open"
CLOSED = "closed"
S = Complaint.Status
# GeoReport knows two states: "open" (reported, not yet resolved) and "closed" (resolved,
# or otherwise finished: answered, refused, merged, withdrawn).
STATUS: dict[str, str] = {
    S.RECEIVED: OPEN,
    S.NEEDS_INFO: OPEN,
    S.CLASSIFIED: OPEN,
    S.ASSIGNED: OPEN,
    S.IN_PROGRESS: OPEN,
    S.REOPENED: OPEN,
    S.REPLIED: CLOSED,
    S.CLOSED: CLOSED,
    S.ARCHIVED: CLOSED,
    S.REJECTED: CLOSED,
    S.MERGED: CLOSED,
    S.WITHDRAWN: CLOSED,
}

# A short public note per state; never the reply, the reasons given or internal notes.
STATUS_NOTES: dict[str, Promise] = {
    S.RECEIVED: _("Received; it will be reviewed shortly."),
    S.NEEDS_INFO: _("Waiting for more details from the person who reported it."),
    S.CLASSIFIED: _("Reviewed; being passed to the responsible department."),
    S.ASSIGNED: _("Passed to the responsible department."),
    S.IN_PROGRESS: _("The responsible department is working on it."),
    S.REOPENED: _("Reopened for further handling."),
    S.REPLIED: _("Handled; the person who reported it has received a reply."),
    S.CLOSED: _("Handled and closed."),
    S.ARCHIVED: _("Handled, closed and archived."),
    S.REJECTED: _("Not taken up by this service."),
    S.MERGED: _("Merged with another report of the same problem."),
    S.WITHDRAWN: _("Withdrawn by the person who reported it."),
}


def open311_status(status: str) -> str:
    """``open`` or ``closed`` for a complaint's state (a state added later counts as open)."""
    return STATUS.get(status, OPEN)


def states_with(open311_statuses: Iterable[str]) -> list[str]:
    """The complaint states that GeoReport reports as any of ``open311_statuses``."""
    wanted = set(open311_statuses)
    return [state for state, shown in STATUS.items() if shown in wanted]


def w3c_datetime(value: datetime | None) -> str | None:
    """``2010-04-14T06:37:38+08:00``: the W3C profile of ISO 8601, in local time, with offset."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


# --- Documents ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """One answer: ``root`` names the XML root element; ``body`` is the JSON value."""

    root: str
    body: list[Value] | dict[str, Value]


def discovery(*, url: str, changeset: str, contact: str, key_service: str) -> Document:
    return Document(
        "discovery",
        {
            "changeset": changeset,
            "contact": contact,
            "key_service": key_service,
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": url,
                    "changeset": changeset,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


def services(categories: Iterable[Category]) -> Document:
    """The service list: every category offered, named in the active language."""
    return Document("services", [_service(category) for category in categories])


def _service(category: Category) -> Value:
    department = category.default_department
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        # No service has extra fields, so clients need not ask for a definition.
        "metadata": False,
        # The service_request_id is returned at once.
        "type": "realtime",
        # Both names, so a client can find the service in either language.
        "keywords": ", ".join(dict.fromkeys(n for n in (category.name_zh, category.name_en) if n)),
        "group": department.name if department is not None else "",
    }


def service_definition(service_code: str) -> Document:
    """A service's definition; no service asks for extra attributes (yet)."""
    return Document("service_definition", {"service_code": service_code, "attributes": []})


def created(service_request_id: str, account_id: str) -> Document:
    """The answer to POST requests: the new request's id, at once (no token)."""
    return Document(
        "service_requests",
        [
            {
                "service_request_id": service_request_id,
                "service_notice": "",
                "account_id": account_id or None,
            }
        ],
    )


def service_requests(complaints: Iterable[Complaint], service_names: Mapping[str, str]) -> Document:
    """Requests as GeoReport shows them; ``service_names`` maps service_code → name."""
    return Document("service_requests", [_service_request(c, service_names) for c in complaints])


def _service_request(complaint: Complaint, service_names: Mapping[str, str]) -> Value:
    data = complaint.channel_data if isinstance(complaint.channel_data, dict) else {}
    service_code = _text(data.get("service_code"))
    status = open311_status(complaint.status)
    if status == CLOSED:
        # "For requests with status=closed, this will be the date the request was closed."
        updated = complaint.closed_at or complaint.replied_at or complaint.updated_at
    else:
        updated = complaint.updated_at
    note = STATUS_NOTES.get(complaint.status)
    department = complaint.department
    return {
        "service_request_id": complaint.tracking_code,
        "status": status,
        "status_notes": str(note) if note is not None else "",
        "service_name": service_names.get(service_code, ""),
        "service_code": service_code,
        "description": complaint.content,
        "agency_responsible": department.name if department is not None else "",
        "service_notice": "",
        "requested_datetime": w3c_datetime(complaint.received_at),
        "updated_datetime": w3c_datetime(updated),
        "expected_datetime": None,
        "address": complaint.location,
        "address_id": _text(data.get("address_id")),
        "zipcode": "",
        "lat": complaint.latitude,
        "long": complaint.longitude,
        "media_url": _text(data.get("media_url")),
    }


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def token(service_request_id: str) -> Document:
    """GET tokens/{token}: requests are made at once, so the token is the request's id."""
    return Document(
        "service_requests",
        [{"service_request_id": service_request_id, "token": service_request_id}],
    )


def errors(status: int, descriptions: Sequence[str | Promise]) -> Document:
    """The spec's error list; each error carries the HTTP status as its code."""
    return Document("errors", [{"code": status, "description": str(text)} for text in descriptions])


# --- Rendering ----------------------------------------------------------------------------


def render(document: Document, fmt: str, *, status: int = 200) -> HttpResponse:
    """The document as an HTTP response in ``fmt`` (``xml`` or ``json``)."""
    content = to_xml(document) if fmt == "xml" else to_json(document)
    return HttpResponse(content, status=status, content_type=CONTENT_TYPES[fmt])


def error_response(fmt: str, status: int, descriptions: Sequence[str | Promise]) -> HttpResponse:
    return render(errors(status, descriptions), fmt, status=status)


def to_json(document: Document) -> bytes:
    text = json.dumps(document.body, ensure_ascii=False, default=_json_default)
    # A lone surrogate (only from bad stored data) must not make the answer fail.
    return text.encode("utf-8", errors="replace")


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_xml(document: Document) -> bytes:
    root = ET.Element(document.root)
    _fill(root, document.body)
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")


def _fill(element: ET.Element, value: Value) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _fill(ET.SubElement(element, name), item)
    elif isinstance(value, list):
        item_name = ITEM_NAMES[element.tag]
        for item in value:
            _fill(ET.SubElement(element, item_name), item)
    else:
        element.text = _xml_text(value)


# What XML 1.0 allows in a document; anything else cannot even be escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: str | int | bool | Decimal | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return _NOT_XML.sub("\ufffd", str(value))
