"""Open311 GeoReport v2 at /open311/v2/: the spec's resources, in XML and in JSON."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from pytest_django import Settings

from complaints.models import Complaint, Event, Petitioner
from intake.models import ChannelClient
from intake.open311 import formats, views
from routing.models import Category, Department
from tests.factories import ComplaintFactory, PetitionerFactory, complaint_in

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"
FORMATS = ["xml", "json"]
S = Complaint.Status
# The lists of the spec's documents, and what their items are called in XML.
LISTS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
}
SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
W3C_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


# --- Reading the answers ------------------------------------------------------------------


def _from_xml(element: ET.Element) -> Any:
    if element.tag in LISTS:
        assert all(child.tag == LISTS[element.tag] for child in element)
        return [_from_xml(child) for child in element]
    if len(element):
        return {child.tag: _from_xml(child) for child in element}
    return element.text or ""


def _plain(value: Any) -> Any:
    """A JSON value as XML writes it, so both formats compare alike."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parsed(response: Response, fmt: str) -> Any:
    """The document as plain data, whatever its format; checks the format's headers."""
    if fmt == "xml":
        assert response["Content-Type"] == "text/xml; charset=utf-8"
        assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
        root = ET.fromstring(response.content)  # noqa: S314 - our own answer
        return _from_xml(root)
    assert response["Content-Type"].startswith("application/json")
    return _plain(json.loads(response.content.decode("utf-8")))


def xml_root(response: Response) -> ET.Element:
    return ET.fromstring(response.content)  # noqa: S314 - our own answer


def assert_error(response: Response, fmt: str, status: int) -> list[str]:
    """The spec's error document with ``status``; returns the descriptions."""
    assert response.status_code == status, response.content
    errors = parsed(response, fmt)
    if fmt == "xml":
        assert xml_root(response).tag == "errors"
    else:
        assert all(isinstance(e["code"], int) for e in json.loads(response.content))
    assert errors
    assert all(set(error) == {"code", "description"} for error in errors)
    assert all(error["code"] == str(status) and error["description"] for error in errors)
    return [error["description"] for error in errors]


# --- Fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def api_key(db: None) -> str:
    _client, raw = ChannelClient.create_with_token(name="citizen-app", channel="open311")
    return raw


def post(client: Client, fmt: str, data: dict[str, str], **headers: str) -> Response:
    """A POST as the spec sends it: form-encoded UTF-8."""
    return client.post(
        f"{BASE}/requests.{fmt}",
        urlencode(data),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
        headers=headers,
    )


def full_request(api_key: str, **overrides: str) -> dict[str, str]:
    data = {
        "api_key": api_key,
        "service_code": "facilities",
        "lat": "39.904211",
        "long": "116.407395",
        "address_string": "东城区幸福路88号",
        "email": "zhangwei@example.com",
        "device_id": "device-42",
        "account_id": "acct-7",
        "first_name": "伟",
        "last_name": "张",
        "phone": "138 1234 5678",
        "description": "小区门口的路灯坏了两周，晚上很危险。",
        "media_url": "https://photos.example.com/lamp.jpg",
        "attribute[POLE]": "A-17",
    }
    return data | overrides


def open311_complaint(**fields: Any) -> Complaint:
    """A complaint as an Open311 client's request makes it."""
    values: dict[str, Any] = {
        "channel": Complaint.Channel.OPEN311,
        "channel_data": {
            "service_code": "facilities",
            "address_id": "addr-1",
            "media_url": "https://photos.example.com/1.jpg",
            "device_id": "device-1",
            "account_id": "acct-1",
            "client": "citizen-app",
            "attributes": {},
        },
        "location": "幸福路88号",
        "latitude": Decimal("39.904211"),
        "longitude": Decimal("116.407395"),
    }
    status = fields.pop("status", S.RECEIVED)
    return complaint_in(status, **(values | fields))


def ids(response: Response, fmt: str) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["service_request_id"] for r in parsed(response, fmt)]


# --- Discovery and services ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_this_endpoint_and_its_formats(client: Client, fmt: str) -> None:
    response = client.get(f"{BASE}/discovery.{fmt}")
    assert response.status_code == 200
    document = parsed(response, fmt)
    assert list(document) == ["changeset", "contact", "key_service", "endpoints"]
    assert all(document[name] for name in ["changeset", "contact", "key_service"])
    [endpoint] = document["endpoints"]
    assert endpoint == {
        "specification": "http://wiki.open311.org/GeoReport_v2",
        "url": "http://testserver/open311/v2",
        "changeset": document["changeset"],
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }


def test_discovery_takes_contact_and_changeset_from_settings(
    client: Client, settings: Settings
) -> None:
    settings.OPEN311_CONTACT = "open311@city.example"
    settings.OPEN311_CHANGESET = "2027-01-01T00:00:00Z"
    document = json.loads(client.get(f"{BASE}/discovery.json").content)
    assert document["contact"] == "open311@city.example"
    assert document["changeset"] == document["endpoints"][0]["changeset"] == "2027-01-01T00:00:00Z"


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_the_active_categories_with_the_specs_fields(
    client: Client, fmt: str, facilities: Category, urban: Department
) -> None:
    facilities.description = "路灯、井盖、健身器材等公共设施损坏。"
    facilities.save()
    Category.objects.create(code="noise", name_zh="噪声扰民", name_en="Noise")
    Category.objects.create(code="retired", name_zh="旧分类", name_en="Old", is_active=False)
    response = client.get(f"{BASE}/services.{fmt}")
    assert response.status_code == 200
    services = parsed(response, fmt)
    if fmt == "xml":
        for element in xml_root(response):
            assert [child.tag for child in element] == SERVICE_FIELDS
    else:
        assert all(list(s) == SERVICE_FIELDS for s in json.loads(response.content))
    assert services == [
        {
            "service_code": "facilities",
            "service_name": "设施设备",
            "description": "路灯、井盖、健身器材等公共设施损坏。",
            "metadata": "false",
            "type": "realtime",
            "keywords": "设施设备, Facilities",
            "group": "城市管理局",
        },
        {
            "service_code": "noise",
            "service_name": "噪声扰民",
            "description": "",
            "metadata": "false",
            "type": "realtime",
            "keywords": "噪声扰民, Noise",
            "group": "",
        },
    ]


def test_services_json_uses_json_types(client: Client, facilities: Category) -> None:
    [service] = json.loads(client.get(f"{BASE}/services.json").content)
    assert service["metadata"] is False


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_named_in_the_requests_language(
    client: Client, fmt: str, facilities: Category
) -> None:
    english = parsed(client.get(f"{BASE}/services.{fmt}", headers={"accept-language": "en"}), fmt)
    chinese = parsed(client.get(f"{BASE}/services.{fmt}"), fmt)
    assert english[0]["service_name"] == "Facilities"
    assert english[0]["group"] == "Urban Management Bureau"
    assert chinese[0]["service_name"] == "设施设备"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_service_definition_has_no_attributes(
    client: Client, fmt: str, facilities: Category
) -> None:
    response = client.get(f"{BASE}/services/facilities.{fmt}")
    assert response.status_code == 200
    assert parsed(response, fmt) == {"service_code": "facilities", "attributes": []}
    if fmt == "xml":
        assert xml_root(response).tag == "service_definition"
    else:
        assert json.loads(response.content)["attributes"] == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", ["no-such-service", "retired"])
def test_an_unknown_or_retired_service_definition_is_not_found(
    client: Client, fmt: str, code: str
) -> None:
    Category.objects.create(code="retired", name_zh="旧分类", name_en="Old", is_active=False)
    [description] = assert_error(client.get(f"{BASE}/services/{code}.{fmt}"), fmt, 404)
    assert code in description


# --- POST requests ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_posted_request_becomes_one_open311_complaint(
    client: Client, fmt: str, api_key: str, facilities: Category
) -> None:
    data = full_request(api_key, **{"attribute[SIDE][]": "north"})
    data_with_two = urlencode(data) + "&attribute%5BSIDE%5D%5B%5D=east"
    response = client.post(
        f"{BASE}/requests.{fmt}", data_with_two, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200, response.content
    complaint = Complaint.objects.get()
    assert parsed(response, fmt) == [
        {
            "service_request_id": complaint.tracking_code,
            "service_notice": "",
            "account_id": "acct-7",
        }
    ]
    assert complaint.channel == Complaint.Channel.OPEN311
    assert complaint.kind == Complaint.Kind.COMPLAINT
    assert complaint.title == "设施设备"
    assert complaint.content == "小区门口的路灯坏了两周，晚上很危险。"
    assert complaint.location == "东城区幸福路88号"
    assert (complaint.latitude, complaint.longitude) == (
        Decimal("39.904211"),
        Decimal("116.407395"),
    )
    assert complaint.petitioner is not None
    assert complaint.petitioner.name == "张伟"  # family name first, as Chinese names are written
    assert complaint.petitioner.phone == "13812345678"
    assert complaint.petitioner.email == "zhangwei@example.com"
    assert complaint.channel_data == {
        "service_code": "facilities",
        "device_id": "device-42",
        "account_id": "acct-7",
        "address_id": "",
        "media_url": "https://photos.example.com/lamp.jpg",
        "attributes": {"POLE": "A-17", "SIDE": ["north", "east"]},
        "client": "citizen-app",
    }
    received = complaint.events.get(kind="complaint.received")
    assert received.actor_label == "channel:citizen-app"
    assert ChannelClient.objects.get().last_used_at is not None


def test_the_xml_answer_to_a_post_is_the_specs_document(
    client: Client, api_key: str, facilities: Category
) -> None:
    response = post(client, "xml", full_request(api_key, account_id=""))
    root = xml_root(response)
    assert root.tag == "service_requests"
    [request] = root
    assert request.tag == "request"
    assert [child.tag for child in request] == [
        "service_request_id",
        "service_notice",
        "account_id",
    ]
    assert request.findtext("service_request_id") == Complaint.objects.get().tracking_code


def test_an_account_id_not_sent_is_null_in_json(
    client: Client, api_key: str, facilities: Category
) -> None:
    response = post(client, "json", full_request(api_key, account_id=""))
    assert json.loads(response.content)[0]["account_id"] is None


def test_a_latin_name_is_given_name_first(
    client: Client, api_key: str, facilities: Category
) -> None:
    post(client, "json", full_request(api_key, first_name="John", last_name="Smith"))
    assert Petitioner.objects.get().name == "John Smith"


@pytest.mark.parametrize(
    "location",
    [
        {"lat": "39.9", "long": "116.4"},
        {"address_string": "幸福路88号"},
        {"address_id": "BJ-000123"},
    ],
)
def test_any_one_kind_of_location_is_enough(
    client: Client, api_key: str, facilities: Category, location: dict[str, str]
) -> None:
    data = full_request(api_key, lat="", long="", address_string="") | location
    response = post(client, "json", data)
    assert response.status_code == 200, response.content
    complaint = Complaint.objects.get()
    assert complaint.channel_data["address_id"] == location.get("address_id", "")


def test_multipart_is_accepted_with_media_files(
    client: Client, api_key: str, facilities: Category, settings: Settings, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    png = SimpleUploadedFile("lamp.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "image/png")
    response = client.post(f"{BASE}/requests.json", full_request(api_key) | {"media": png})
    assert response.status_code == 200, response.content
    assert [a.original_name for a in Complaint.objects.get().attachments.all()] == ["lamp.png"]


def test_a_refused_media_file_is_a_400(
    client: Client, api_key: str, facilities: Category, settings: Settings, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = SimpleUploadedFile("lamp.png", b"<html><script>alert(1)</script></html>", "image/png")
    response = client.post(f"{BASE}/requests.xml", full_request(api_key) | {"media": page})
    assert_error(response, "xml", 400)
    assert not Complaint.objects.exists()


def test_posting_needs_no_csrf_token(api_key: str, facilities: Category) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert post(strict, "json", full_request(api_key)).status_code == 200


WITHOUT = object()
BAD_REQUESTS: list[tuple[str, dict[str, Any], int]] = [
    ("no api_key", {"api_key": WITHOUT}, 403),
    ("wrong api_key", {"api_key": "stc_not-a-token"}, 403),
    ("api_key with a line break", {"api_key": "stc_x\r\ny"}, 403),
    ("no service_code", {"service_code": WITHOUT}, 400),
    ("unknown service_code", {"service_code": "no-such-service"}, 404),
    ("no location", {"lat": WITHOUT, "long": WITHOUT, "address_string": WITHOUT}, 400),
    ("lat without long", {"long": WITHOUT, "address_string": WITHOUT}, 400),
    ("lat is not a number", {"lat": "north"}, 400),
    ("lat is NaN", {"lat": "NaN"}, 400),
    ("lat is huge", {"lat": "1e400"}, 400),
    ("lat is a long number", {"lat": "9" * 5000}, 400),
    ("lat is out of range", {"lat": "90.5"}, 400),
    ("long is out of range", {"long": "-180.000001"}, 400),
    ("line break in first_name", {"first_name": "伟\r\nBcc: x@example.com"}, 400),
    ("line break in address_string", {"address_string": "幸福路\n88号"}, 400),
    ("line break in device_id", {"device_id": "a\nb"}, 400),
    ("line break in an attribute code", {"attribute[A\nB]": "x"}, 400),
    ("NUL in the description", {"description": "路灯\x00坏了"}, 400),
    ("a too long description", {"description": "坏" * 4001}, 400),
    ("a too long address", {"address_string": "路" * 301}, 400),
    ("an invalid e-mail address", {"email": "not an address"}, 400),
    ("an invalid phone number", {"phone": "call me maybe"}, 400),
    ("a media_url that is not http", {"media_url": "javascript:alert(1)"}, 400),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("changes", "status"),
    [(changes, status) for _name, changes, status in BAD_REQUESTS],
    ids=[name for name, _changes, _status in BAD_REQUESTS],
)
def test_a_bad_request_is_refused_in_the_specs_format_and_nothing_is_stored(
    client: Client,
    fmt: str,
    api_key: str,
    facilities: Category,
    changes: dict[str, Any],
    status: int,
) -> None:
    data = full_request(api_key)
    for name, value in changes.items():
        if value is WITHOUT:
            del data[name]
        else:
            data[name] = value
    assert_error(post(client, fmt, data), fmt, status)
    assert not Complaint.objects.exists()
    assert not Petitioner.objects.exists()
    assert not Event.objects.exists()


def test_a_retired_service_cannot_be_requested(
    client: Client, api_key: str, facilities: Category
) -> None:
    facilities.is_active = False
    facilities.save()
    assert_error(post(client, "json", full_request(api_key)), "json", 404)


def test_a_revoked_api_key_is_refused(client: Client, api_key: str, facilities: Category) -> None:
    ChannelClient.objects.get().revoke()
    assert_error(post(client, "xml", full_request(api_key)), "xml", 403)


def test_a_key_without_the_intake_scope_cannot_create_requests(
    client: Client, facilities: Category
) -> None:
    reader, raw = ChannelClient.create_with_token(name="reader", scopes=["read_own"])
    assert_error(post(client, "json", full_request(raw)), "json", 403)
    assert not Complaint.objects.exists()
    reader.refresh_from_db()
    assert reader.last_used_at is None


def test_using_a_key_is_noted_with_the_address(
    client: Client, api_key: str, facilities: Category
) -> None:
    client.post(
        f"{BASE}/requests.json",
        urlencode(full_request(api_key)),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
        REMOTE_ADDR="198.51.100.7",
    )
    used = ChannelClient.objects.get()
    assert used.last_used_at is not None
    assert used.last_used_ip == "198.51.100.7"


def test_every_problem_of_a_request_is_reported_at_once(
    client: Client, api_key: str, facilities: Category
) -> None:
    data = full_request(api_key, lat="north", first_name="a\nb", media_url="ftp://x")
    descriptions = assert_error(post(client, "json", data), "json", 400)
    assert [d.split(":")[0] for d in descriptions] == ["lat", "first_name", "media_url"]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_errors_are_written_in_the_requests_language(
    client: Client, api_key: str, facilities: Category, language: str
) -> None:
    response = post(
        client, "json", full_request(api_key, email="not an address"), accept_language=language
    )
    [description] = assert_error(response, "json", 400)
    with translation.override(language):
        assert description == "email: " + _("Enter a valid e-mail address.")


def test_an_unreadable_body_is_a_400_not_a_crash(
    client: Client, api_key: str, facilities: Category
) -> None:
    response = client.post(
        f"{BASE}/requests.xml",
        b"--broken\r\nContent-Disposition: form-data\r\n\r\n",
        content_type="multipart/form-data",  # no boundary
    )
    assert_error(response, "xml", 400)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_json_body_is_refused_as_unreadable(
    client: Client, fmt: str, api_key: str, facilities: Category
) -> None:
    response = client.post(
        f"{BASE}/requests.{fmt}", full_request(api_key), content_type="application/json"
    )
    assert_error(response, fmt, 400)
    assert not Complaint.objects.exists()


def test_too_many_fields_are_a_400_not_a_crash(
    client: Client, api_key: str, facilities: Category
) -> None:
    many = "&".join(f"attribute[A{n}]=x" for n in range(1100))
    body = urlencode(full_request(api_key)) + "&" + many
    response = client.post(
        f"{BASE}/requests.json", body, content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, "json", 400)
    assert not Complaint.objects.exists()


def test_a_body_that_is_not_utf8_does_not_crash(
    client: Client, api_key: str, facilities: Category
) -> None:
    body = urlencode(full_request(api_key)).encode() + b"&description=%FF%FE%C0"
    response = client.post(
        f"{BASE}/requests.json", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200


# --- GET requests -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_request_shows_the_specs_fields(
    client: Client, fmt: str, facilities: Category, urban: Department
) -> None:
    complaint = open311_complaint(status=S.IN_PROGRESS, department=urban)
    response = client.get(f"{BASE}/requests/{complaint.tracking_code}.{fmt}")
    assert response.status_code == 200
    [request] = parsed(response, fmt)
    assert list(request) == REQUEST_FIELDS
    if fmt == "xml":
        assert [element.tag for element in xml_root(response)] == ["request"]
    assert request | {"requested_datetime": "", "updated_datetime": ""} == {
        "service_request_id": complaint.tracking_code,
        "status": "open",
        "status_notes": str(formats.STATUS_NOTES[S.IN_PROGRESS]),
        "service_name": "设施设备",
        "service_code": "facilities",
        "description": complaint.content,
        "agency_responsible": "城市管理局",
        "service_notice": "",
        "requested_datetime": "",
        "updated_datetime": "",
        "expected_datetime": "",
        "address": "幸福路88号",
        "address_id": "addr-1",
        "zipcode": "",
        "lat": "39.904211",
        "long": "116.407395",
        "media_url": "https://photos.example.com/1.jpg",
    }
    assert W3C_DATETIME.match(request["requested_datetime"])
    assert W3C_DATETIME.match(request["updated_datetime"])


def test_json_requests_use_json_numbers_and_nulls(client: Client, facilities: Category) -> None:
    complaint = open311_complaint(latitude=None, longitude=None)
    [request] = json.loads(client.get(f"{BASE}/requests/{complaint.tracking_code}.json").content)
    assert (request["lat"], request["long"], request["expected_datetime"]) == (None, None, None)
    located = open311_complaint()
    [request] = json.loads(client.get(f"{BASE}/requests/{located.tracking_code}.json").content)
    assert (request["lat"], request["long"]) == (39.904211, 116.407395)


def test_datetimes_carry_the_servers_offset(client: Client, facilities: Category) -> None:
    when = timezone.now().replace(microsecond=0) - timedelta(days=1)
    complaint = open311_complaint(received_at=when)
    [request] = json.loads(client.get(f"{BASE}/requests/{complaint.tracking_code}.json").content)
    assert request["requested_datetime"] == timezone.localtime(when).isoformat()
    assert request["requested_datetime"].endswith("+08:00")  # Asia/Shanghai


def test_a_closed_requests_updated_datetime_is_when_it_closed(
    client: Client, facilities: Category
) -> None:
    closed_at = timezone.now().replace(microsecond=0) - timedelta(days=3)
    complaint = open311_complaint(status=S.CLOSED, closed_at=closed_at)
    [request] = json.loads(client.get(f"{BASE}/requests/{complaint.tracking_code}.json").content)
    assert request["updated_datetime"] == timezone.localtime(closed_at).isoformat()


def test_a_request_id_is_found_however_it_is_typed(client: Client, facilities: Category) -> None:
    complaint = open311_complaint()
    typed = complaint.tracking_code.lower().replace("-", "")
    assert ids(client.get(f"{BASE}/requests/{typed}.json"), "json") == [complaint.tracking_code]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_request_or_one_from_another_channel_is_not_found(
    client: Client, fmt: str
) -> None:
    web = complaint_in(S.RECEIVED, channel=Complaint.Channel.WEB)
    for request_id in ["TS-2026-00000000", "nonsense", web.tracking_code]:
        assert_error(client.get(f"{BASE}/requests/{request_id}.{fmt}"), fmt, 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_list_holds_only_open311_requests_newest_first(
    client: Client, fmt: str, facilities: Category
) -> None:
    now = timezone.now()
    older = open311_complaint(received_at=now - timedelta(days=2))
    newer = open311_complaint(received_at=now - timedelta(hours=1))
    for channel in Complaint.Channel.values:
        if channel != Complaint.Channel.OPEN311:
            ComplaintFactory(channel=channel, received_at=now - timedelta(hours=2))
    assert ids(client.get(f"{BASE}/requests.{fmt}"), fmt) == [
        newer.tracking_code,
        older.tracking_code,
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_request_ids_override_every_other_filter(
    client: Client, fmt: str, facilities: Category
) -> None:
    old = timezone.now() - timedelta(days=400)
    first = open311_complaint(status=S.CLOSED, received_at=old)
    second = open311_complaint(received_at=old - timedelta(days=1))
    open311_complaint()
    web = complaint_in(S.RECEIVED, channel=Complaint.Channel.WEB)
    query = urlencode(
        {
            "service_request_id": ",".join(c.tracking_code for c in [first, second, web]),
            "status": "open",
            "service_code": "other",
        }
    )
    assert ids(client.get(f"{BASE}/requests.{fmt}?{query}"), fmt) == [
        first.tracking_code,
        second.tracking_code,
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_list_is_filtered_by_status(client: Client, fmt: str, facilities: Category) -> None:
    now = timezone.now()
    waiting = open311_complaint(status=S.NEEDS_INFO, received_at=now - timedelta(hours=1))
    replied = open311_complaint(status=S.REPLIED, received_at=now - timedelta(hours=2))
    rejected = open311_complaint(status=S.REJECTED, received_at=now - timedelta(hours=3))
    url = f"{BASE}/requests.{fmt}"
    assert ids(client.get(url, {"status": "open"}), fmt) == [waiting.tracking_code]
    assert ids(client.get(url, {"status": "closed"}), fmt) == [
        replied.tracking_code,
        rejected.tracking_code,
    ]
    assert len(ids(client.get(url, {"status": "open,closed"}), fmt)) == 3
    assert len(ids(client.get(url, {"status": ["open", "closed"]}), fmt)) == 3
    assert_error(client.get(url, {"status": "pending"}), fmt, 400)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_list_is_filtered_by_service_code(
    client: Client, fmt: str, facilities: Category
) -> None:
    Category.objects.create(code="noise", name_zh="噪声扰民", name_en="Noise")
    lamp = open311_complaint()
    noise = open311_complaint(channel_data={"service_code": "noise"})
    open311_complaint(channel_data={"service_code": "roads"})
    url = f"{BASE}/requests.{fmt}"
    assert ids(client.get(url, {"service_code": "noise"}), fmt) == [noise.tracking_code]
    assert set(ids(client.get(url, {"service_code": "facilities,noise"}), fmt)) == {
        lamp.tracking_code,
        noise.tracking_code,
    }
    [shown] = parsed(client.get(url, {"service_code": "noise"}), fmt)
    assert shown["service_name"] == "噪声扰民"


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_list_is_filtered_by_date(client: Client, fmt: str, facilities: Category) -> None:
    zone = timezone.get_current_timezone()
    march = open311_complaint(received_at=datetime(2026, 3, 15, 12, 0, tzinfo=zone))
    april = open311_complaint(received_at=datetime(2026, 4, 2, 9, 30, tzinfo=zone))
    url = f"{BASE}/requests.{fmt}"

    def found(**dates: str) -> list[str]:
        return ids(client.get(url, dates), fmt)

    assert found(start_date="2026-03-01T00:00:00Z", end_date="2026-03-31T00:00:00Z") == [
        march.tracking_code
    ]
    assert found(start_date="2026-04-02T01:30:00Z", end_date="2026-04-30T00:00:00+08:00") == [
        april.tracking_code  # 09:30 in Shanghai is 01:30 UTC: the bound includes it
    ]
    assert found(start_date="2026-04-02T01:30:01Z", end_date="2026-04-30T00:00:00Z") == []
    assert found(start_date="2026-03-15", end_date="2026-04-02") == [
        april.tracking_code,
        march.tracking_code,
    ]
    assert found(start_date="2026-03") == [april.tracking_code, march.tracking_code]
    assert found(end_date="2026-03-31T23:59:59+08:00") == [march.tracking_code]


def test_by_default_the_list_covers_the_last_90_days(client: Client, facilities: Category) -> None:
    recent = open311_complaint(received_at=timezone.now() - timedelta(days=89))
    open311_complaint(received_at=timezone.now() - timedelta(days=91))
    assert ids(client.get(f"{BASE}/requests.json"), "json") == [recent.tracking_code]


def test_the_list_holds_at_most_the_limit(
    client: Client, facilities: Category, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "MAX_RESULTS", 2)
    now = timezone.now()
    made = [open311_complaint(received_at=now - timedelta(minutes=m)) for m in range(3)]
    assert ids(client.get(f"{BASE}/requests.xml"), "xml") == [c.tracking_code for c in made[:2]]


def test_too_many_request_ids_are_a_400(
    client: Client, facilities: Category, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "MAX_RESULTS", 2)
    codes = ",".join(open311_complaint().tracking_code for _n in range(3))
    assert_error(client.get(f"{BASE}/requests.json", {"service_request_id": codes}), "json", 400)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "dates",
    [
        {"start_date": "yesterday"},
        {"start_date": "2026-13-01"},
        {"start_date": "2026-02-30T00:00:00Z"},
        {"start_date": "2026-01-01T00:00:00"},  # a time needs its zone
        {"start_date": "2026-01-01T25:00:00Z"},
        {"start_date": "2026-01-01T00:00:00+24:00"},
        {"end_date": "0001-01-01T00:00:00+01:00"},
        {"end_date": "9999-12-31T23:59:59-12:00"},
        {"end_date": "2026-01-01T00:00:00Z and later"},
        {"end_date": "2026-01-01T00:00:00Z\n2026"},
        {"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"},
        {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},  # > 90 days
    ],
)
def test_invalid_dates_are_a_400(client: Client, fmt: str, dates: dict[str, str]) -> None:
    assert_error(client.get(f"{BASE}/requests.{fmt}", dates), fmt, 400)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_list_and_a_request_never_show_personal_data(
    client: Client, fmt: str, api_key: str, facilities: Category
) -> None:
    data = full_request(
        api_key,
        first_name="Wei",
        last_name="Zhangsecret",
        phone="13987654321",
        email="private.person@example.com",
        account_id="acct-private-99",
        device_id="device-private-77",
    )
    assert post(client, "json", data).status_code == 200
    code = Complaint.objects.get().tracking_code
    answers = [
        client.get(f"{BASE}/requests.{fmt}"),
        client.get(f"{BASE}/requests/{code}.{fmt}"),
        client.get(f"{BASE}/requests.{fmt}", {"service_request_id": code}),
    ]
    for response in answers:
        assert response.status_code == 200
        text = response.content.decode("utf-8")
        assert code in text
        for private in [
            "Zhangsecret",
            "13987654321",
            "private.person",
            "acct-private-99",
            "device-private-77",
            "citizen-app",
        ]:
            assert private not in text


def test_a_web_complaints_petitioner_never_appears(client: Client, facilities: Category) -> None:
    ComplaintFactory(
        channel=Complaint.Channel.WEB,
        petitioner=PetitionerFactory(name="李秘密", phone="13700000001"),
        content="不该公开的内容",
    )
    text = client.get(f"{BASE}/requests.xml").content.decode("utf-8")
    for private in ["李秘密", "13700000001", "不该公开的内容"]:
        assert private not in text


EXPECTED_STATUS: dict[str, str] = {
    S.RECEIVED: "open",
    S.NEEDS_INFO: "open",
    S.CLASSIFIED: "open",
    S.ASSIGNED: "open",
    S.IN_PROGRESS: "open",
    S.REOPENED: "open",
    S.REPLIED: "closed",
    S.CLOSED: "closed",
    S.ARCHIVED: "closed",
    S.REJECTED: "closed",
    S.MERGED: "closed",
    S.WITHDRAWN: "closed",
}


def test_every_state_has_a_status_and_a_note() -> None:
    assert set(EXPECTED_STATUS) == set(S.values) == set(formats.STATUS)
    assert set(formats.STATUS_NOTES) == set(S.values)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("state", list(S.values))
def test_each_state_is_shown_as_open_or_closed_with_a_public_note(
    client: Client, fmt: str, state: str, facilities: Category
) -> None:
    complaint = open311_complaint(status=state)
    [request] = parsed(client.get(f"{BASE}/requests/{complaint.tracking_code}.{fmt}"), fmt)
    assert request["status"] == EXPECTED_STATUS[state]
    assert request["status_notes"] == str(formats.STATUS_NOTES[state])
    by_status = client.get(f"{BASE}/requests.{fmt}", {"status": EXPECTED_STATUS[state]})
    assert ids(by_status, fmt) == [complaint.tracking_code]


def test_status_notes_are_in_the_requests_language(client: Client, facilities: Category) -> None:
    complaint = open311_complaint(status=S.WITHDRAWN)
    url = f"{BASE}/requests/{complaint.tracking_code}.json"
    for language in ["en", "zh-hans"]:
        [request] = json.loads(client.get(url, headers={"accept-language": language}).content)
        with translation.override(language):
            assert request["status_notes"] == str(formats.STATUS_NOTES[S.WITHDRAWN])


# --- Tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_token_is_the_request_id(client: Client, fmt: str, facilities: Category) -> None:
    complaint = open311_complaint()
    response = client.get(f"{BASE}/tokens/{complaint.tracking_code}.{fmt}")
    assert response.status_code == 200
    assert parsed(response, fmt) == [
        {"service_request_id": complaint.tracking_code, "token": complaint.tracking_code}
    ]
    if fmt == "xml":
        assert [e.tag for e in xml_root(response)] == ["request"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_token_is_not_found(client: Client, fmt: str) -> None:
    web = complaint_in(S.RECEIVED, channel=Complaint.Channel.WEB)
    for unknown in ["TS-2026-00000000", web.tracking_code]:
        assert_error(client.get(f"{BASE}/tokens/{unknown}.{fmt}"), fmt, 404)


# --- Text is data -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_chinese_description_round_trips(
    client: Client, fmt: str, api_key: str, facilities: Category
) -> None:
    description = "小区门口的路灯坏了两周，晚上很危险。\n请尽快修理！——张女士"
    response = post(client, fmt, full_request(api_key, description=description))
    [created] = parsed(response, fmt)
    shown = client.get(f"{BASE}/requests/{created['service_request_id']}.{fmt}")
    assert "路灯".encode() in shown.content  # UTF-8, not escaped
    [request] = parsed(shown, fmt)
    assert request["description"] == description
    assert request["service_name"] == "设施设备"


SCRIPT = "<script>alert(\"x\")</script> & </description><x/> ]]> 'quoted'"


@pytest.mark.parametrize("fmt", FORMATS)
def test_script_in_a_description_is_returned_as_data(
    client: Client, fmt: str, api_key: str, facilities: Category
) -> None:
    post(client, fmt, full_request(api_key, description=SCRIPT))
    code = Complaint.objects.get().tracking_code
    for response in [
        client.get(f"{BASE}/requests/{code}.{fmt}"),
        client.get(f"{BASE}/requests.{fmt}"),
    ]:
        [request] = parsed(response, fmt)  # well-formed
        assert request["description"] == SCRIPT
        if fmt == "xml":
            assert b"<script>" not in response.content
            assert b"&lt;script&gt;" in response.content
        else:
            assert json.loads(response.content)[0]["description"] == SCRIPT


def test_control_characters_in_stored_text_do_not_break_the_xml(
    client: Client, facilities: Category
) -> None:
    complaint = open311_complaint(content="坏了\x01\x0b两周\ufffe", location="路\x08口")
    [request] = parsed(client.get(f"{BASE}/requests/{complaint.tracking_code}.xml"), "xml")
    assert request["description"] == "坏了\ufffd\ufffd两周\ufffd"
    assert request["address"] == "路\ufffd口"


@pytest.mark.parametrize("fmt", FORMATS)
def test_user_input_quoted_in_an_error_is_escaped(client: Client, fmt: str) -> None:
    [description] = assert_error(client.get(f"{BASE}/services/<b>&amp;.{fmt}"), fmt, 404)
    assert "<b>&amp;" in description


# --- Jurisdiction, formats, methods -------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_jurisdiction_id_is_optional_but_must_be_ours(
    client: Client, fmt: str, api_key: str, facilities: Category, settings: Settings
) -> None:
    settings.OPEN311_JURISDICTION_ID = "sutong.example"
    assert client.get(f"{BASE}/services.{fmt}").status_code == 200
    ours = client.get(f"{BASE}/services.{fmt}", {"jurisdiction_id": "sutong.example"})
    assert ours.status_code == 200
    for path in ["services", "requests", "discovery", "services/facilities"]:
        other = client.get(f"{BASE}/{path}.{fmt}", {"jurisdiction_id": "city.example"})
        assert_error(other, fmt, 404)
    data = full_request(api_key, jurisdiction_id="city.example")
    assert_error(post(client, fmt, data), fmt, 404)
    assert not Complaint.objects.exists()
    accepted = post(client, fmt, full_request(api_key, jurisdiction_id="sutong.example"))
    assert accepted.status_code == 200


def test_without_a_configured_jurisdiction_any_id_is_accepted(
    client: Client, facilities: Category
) -> None:
    response = client.get(f"{BASE}/services.json", {"jurisdiction_id": "city.example"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["services.html", "requests.csv", "discovery.yaml"])
def test_an_unknown_format_is_not_found(client: Client, path: str) -> None:
    assert_error(client.get(f"{BASE}/{path}"), "xml", 404)


@pytest.mark.parametrize("path", ["services", "nothing.json", "requests/", "services/a/b.xml"])
def test_an_unknown_resource_is_not_found_in_the_specs_format(client: Client, path: str) -> None:
    fmt = "json" if path.endswith(".json") else "xml"
    assert_error(client.get(f"{BASE}/{path}"), fmt, 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_wrong_method_is_a_405(client: Client, fmt: str, facilities: Category) -> None:
    response = client.post(f"{BASE}/services.{fmt}", {"service_code": "facilities"})
    assert_error(response, fmt, 405)
    assert response["Allow"] == "GET, HEAD"
    response = client.delete(f"{BASE}/requests.{fmt}")
    assert_error(response, fmt, 405)
    assert response["Allow"] == "GET, POST, HEAD"
    assert_error(client.put(f"{BASE}/requests/TS-2026-00000000.{fmt}"), fmt, 405)


def test_head_is_answered_like_get(client: Client, facilities: Category) -> None:
    response = client.head(f"{BASE}/services.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"
