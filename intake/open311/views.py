"""Open311 GeoReport v2 at ``/open311/v2/``: the service list, and service requests in and out.

Every resource answers in XML or JSON by its extension (``services.xml``,
``requests.json``); an unknown extension or resource is a 404, a wrong method a 405, and
every error uses the spec's error document with the HTTP status as its code. Messages
are in the language the client asks for (``Accept-Language``; Simplified Chinese by
default).

Creating a request (``POST requests.xml``) needs an ``api_key``: the token of a channel
client (``python manage.py create_channel_client NAME``). The request becomes one
complaint through ``intake.services.submit`` like every other channel's; the service_code
the client chose is kept with the channel's data (classification stays with the
dispatchers and routing), and the complaint's tracking code is the service_request_id.
Files sent as multipart parts named ``media`` are accepted as attachments, a common
extension of the spec; they are checked like every other channel's files.

What is published
-----------------
``GET requests`` is public and needs no key, so it lists only complaints that came in
through Open311 — their senders used a protocol whose requests are public by design.
Complaints from every other channel (portal, hotline, letters, e-mail, …) never appear:
a petition system holds personal and sensitive matters. Of an Open311 complaint only the
spec's public fields are shown: the description the client sent, the place, the service,
the responsible department and a short note on its state. The petitioner's name, phone,
e-mail and account, the reply and every internal note stay private.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import wraps

from django.conf import settings
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.core.validators import URLValidator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from complaints import tracking
from complaints.errors import GuardFailed
from complaints.models import Complaint
from intake.models import ChannelClient
from intake.open311 import formats
from intake.services import InvalidSubmission, submit
from intake.submission import Submission, Upload
from routing.models import Category

# At most this many requests per answer, and by default those of the last 90 days.
MAX_RESULTS = 1000
MAX_SPAN = timedelta(days=90)
# When the service list last changed in a way clients must notice; OPEN311_CHANGESET
# overrides it (categories carry no modification time to derive it from).
DEFAULT_CHANGESET = "2026-11-22T00:00:00+08:00"

# Lengths the spec or the storage allows.
DESCRIPTION_MAX = 4000
ADDRESS_MAX = 300
MEDIA_URL_MAX = 2000
MAX_ATTRIBUTES = 100

View = Callable[..., HttpResponse]


class Open311Error(Exception):
    """Answer with the spec's error document: ``status`` and one error per description."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__(*descriptions)
        self.status = status
        self.descriptions = list(descriptions)


def _shown(value: str, limit: int = 60) -> str:
    """What the client sent, shortened for quoting in an error."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


# --- Every resource -----------------------------------------------------------------------


def endpoint(*methods: str) -> Callable[[View], View]:
    """A resource answering ``methods`` in the format its extension names.

    CSRF-exempt: this is a machine API; the only write needs an api_key and no cookie
    grants anything here.
    """
    allowed = [*methods, "HEAD"] if "GET" in methods else list(methods)

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, fmt: str, **kwargs: str) -> HttpResponse:
            fmt = fmt.lower()
            if fmt not in formats.CONTENT_TYPES:
                return formats.error_response(
                    "xml",
                    404,
                    [_("Unknown format “%(format)s”: use .xml or .json.") % {"format": fmt}],
                )
            if request.method not in allowed:
                response = formats.error_response(
                    fmt,
                    405,
                    [_("Use %(methods)s for this resource.") % {"methods": ", ".join(methods)}],
                )
                response["Allow"] = ", ".join(allowed)
                return response
            try:
                _check_jurisdiction(request)
                return view(request, fmt, **kwargs)
            except Open311Error as error:
                return formats.error_response(fmt, error.status, error.descriptions)

        return csrf_exempt(wrapper)

    return decorate


@csrf_exempt
def not_found(request: HttpRequest) -> HttpResponse:
    """Anything else below /open311/v2/: the spec's 404, in JSON if that was asked for."""
    fmt = "json" if request.path.lower().endswith(".json") else "xml"
    return formats.error_response(
        fmt, 404, [_("There is no such resource here; see discovery.xml for what there is.")]
    )


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _form(request: HttpRequest) -> QueryDict:
    """The parameters: the query string, or for POST the form-encoded or multipart body."""
    if request.method != "POST":
        return request.GET
    unreadable = Open311Error(
        400,
        _(
            "The request body could not be read: send it as "
            "application/x-www-form-urlencoded (UTF-8) or multipart/form-data."
        ),
    )
    has_body = request.META.get("CONTENT_LENGTH", "") not in ("", "0")
    if has_body and request.content_type not in _FORM_TYPES:
        raise unreadable  # JSON, XML, …: not what the spec sends
    try:
        return request.POST
    except (SuspiciousOperation, MultiPartParserError) as error:
        raise unreadable from error


def _param(request: HttpRequest, name: str) -> str:
    """One parameter; "optional" per the spec: empty is the same as not sent at all."""
    value = _form(request).get(name, "") or request.GET.get(name, "")
    return value.strip()


def _check_jurisdiction(request: HttpRequest) -> None:
    # One jurisdiction is served; jurisdiction_id is optional, but a wrong one is refused.
    expected = getattr(settings, "OPEN311_JURISDICTION_ID", "") or ""
    given = _param(request, "jurisdiction_id")
    if expected and given and given != expected:
        raise Open311Error(
            404, _("jurisdiction_id “%(id)s” was not found.") % {"id": _shown(given)}
        )


# --- Discovery and services ---------------------------------------------------------------


@endpoint("GET")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    base = reverse("open311:discovery", kwargs={"fmt": fmt}).rsplit("/", 1)[0]
    document = formats.discovery(
        url=request.build_absolute_uri(base),
        changeset=getattr(settings, "OPEN311_CHANGESET", "") or DEFAULT_CHANGESET,
        contact=getattr(settings, "OPEN311_CONTACT", "")
        or _("Ask the administrators of this service for help with this API."),
        key_service=getattr(settings, "OPEN311_KEY_SERVICE", "")
        or _("API keys are issued on request by the administrators of this service."),
    )
    return formats.render(document, fmt)


@endpoint("GET")
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    categories = Category.objects.filter(is_active=True).select_related("default_department")
    return formats.render(formats.services(categories.order_by("code")), fmt)


@endpoint("GET")
def service_definition(request: HttpRequest, fmt: str, service_code: str) -> HttpResponse:
    category = _active_category(service_code)
    return formats.render(formats.service_definition(category.code), fmt)


def _active_category(service_code: str) -> Category:
    category = Category.objects.filter(code=service_code, is_active=True).first()
    if category is None:
        raise Open311Error(
            404, _("service_code “%(code)s” was not found.") % {"code": _shown(service_code)}
        )
    return category


# --- Service requests ---------------------------------------------------------------------


@endpoint("GET", "POST")
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _create(request, fmt)
    return _search(request, fmt)


@endpoint("GET")
def service_request(request: HttpRequest, fmt: str, service_request_id: str) -> HttpResponse:
    complaint = _open311_complaint(service_request_id)
    if complaint is None:
        raise Open311Error(
            404,
            _("Service request “%(id)s” was not found.") % {"id": _shown(service_request_id)},
        )
    return _render_requests([complaint], fmt)


@endpoint("GET")
def token(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    # Requests are created at once, so the only tokens are their service_request_ids.
    complaint = _open311_complaint(token)
    if complaint is None:
        raise Open311Error(404, _("Token “%(token)s” was not found.") % {"token": _shown(token)})
    return formats.render(formats.token(complaint.tracking_code), fmt)


def _open311_complaint(raw_id: str) -> Complaint | None:
    code = tracking.normalize_tracking_code(raw_id)
    if code is None:
        return None
    return (
        Complaint.objects.filter(channel=Complaint.Channel.OPEN311, tracking_code=code)
        .select_related("department")
        .first()
    )


def _render_requests(complaints: list[Complaint], fmt: str) -> HttpResponse:
    codes = {
        c.channel_data.get("service_code") for c in complaints if isinstance(c.channel_data, dict)
    }
    names = {
        category.code: category.name
        for category in Category.objects.filter(code__in=[c for c in codes if c])
    }
    return formats.render(formats.service_requests(complaints, names), fmt)


# --- GET requests: the search -------------------------------------------------------------


def _csv(request: HttpRequest, name: str) -> list[str]:
    """A comma-separated parameter that may also be repeated."""
    values = request.GET.getlist(name)
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _search(request: HttpRequest, fmt: str) -> HttpResponse:
    found = Complaint.objects.filter(channel=Complaint.Channel.OPEN311)
    ids = _csv(request, "service_request_id")
    if ids:
        # "This overrides all other arguments."
        if len(ids) > MAX_RESULTS:
            raise Open311Error(
                400,
                _("service_request_id: ask for at most %(count)d requests at once.")
                % {"count": MAX_RESULTS},
            )
        codes = {tracking.normalize_tracking_code(i) for i in ids}
        found = found.filter(tracking_code__in=[c for c in codes if c])
    else:
        service_codes = _csv(request, "service_code")
        if service_codes:
            found = found.filter(channel_data__service_code__in=service_codes)
        statuses = {s.lower() for s in _csv(request, "status")}
        if statuses - {formats.OPEN, formats.CLOSED}:
            raise Open311Error(400, _("status: use open, closed, or both separated by a comma."))
        if statuses:
            found = found.filter(status__in=formats.states_with(statuses))
        start, end = _period(request)
        found = found.filter(received_at__gte=start, received_at__lte=end)
    newest_first = found.select_related("department").order_by("-received_at", "-id")
    return _render_requests(list(newest_first[:MAX_RESULTS]), fmt)


# The W3C profile of ISO 8601: YYYY, YYYY-MM, YYYY-MM-DD, or a date and time with a zone.
_W3C = re.compile(
    r"^(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    r"(?:T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>Z|[+-][0-9]{2}:[0-9]{2}))?)?)?$"
)


def _w3c_period(parameter: str, raw: str) -> tuple[datetime, datetime]:
    """The first and the last instant that a W3C date or datetime denotes.

    A datetime is one instant and must carry its zone; a date (or month, or year) is the
    whole of it in the server's time zone.
    """
    match = _W3C.fullmatch(raw)
    try:
        if match is None or not 1900 <= int(match["year"]) <= 9000:
            raise ValueError(raw)
        year, month, day = int(match["year"]), int(match["month"] or 1), int(match["day"] or 1)
        if match["hour"] is not None:
            fraction = (match["fraction"] or "").ljust(6, "0")[:6]
            moment = datetime(
                year,
                month,
                day,
                int(match["hour"]),
                int(match["minute"]),
                int(match["second"] or 0),
                int(fraction),
                tzinfo=_zone(match["zone"]),
            )
            return moment, moment
        first = datetime(year, month, day)  # noqa: DTZ001 - made aware below
        if match["day"] is not None:
            following = first + timedelta(days=1)
        elif match["month"] is not None:
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            following = first.replace(year=year + 1)
        zone = timezone.get_current_timezone()
        return (
            timezone.make_aware(first, zone),
            timezone.make_aware(following, zone) - timedelta(microseconds=1),
        )
    except ValueError as error:
        raise Open311Error(
            400,
            _(
                "%(parameter)s: use a W3C date and time with its time zone, "
                "e.g. 2010-01-01T00:00:00Z."
            )
            % {"parameter": parameter},
        ) from error


def _zone(text: str) -> dt_timezone:
    if text == "Z":
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if minutes >= 60:
        raise ValueError(text)
    offset = timedelta(hours=hours, minutes=minutes)
    return dt_timezone(-offset if text[0] == "-" else offset)  # ValueError from 24:00 on


def _period(request: HttpRequest) -> tuple[datetime, datetime]:
    """start_date..end_date; 90 days at most, the most recent 90 days by default."""
    start_raw, end_raw = _param(request, "start_date"), _param(request, "end_date")
    start = _w3c_period("start_date", start_raw)[0] if start_raw else None
    end = _w3c_period("end_date", end_raw)[1] if end_raw else None
    if start is None and end is None:
        end = timezone.now()
    if start is None:
        assert end is not None
        return end - MAX_SPAN, end
    if end is None:
        return start, start + MAX_SPAN
    if end < start:
        raise Open311Error(400, _("end_date is before start_date."))
    if end - start > MAX_SPAN:
        raise Open311Error(
            400,
            _("start_date and end_date may not be more than %(days)d days apart.")
            % {"days": MAX_SPAN.days},
        )
    return start, end


# --- POST requests: a new service request -------------------------------------------------


# One-line values may hold no control characters at all; a text may hold line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DEGREES = re.compile(r"^[+-]?(?:[0-9]{1,3}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})$")
_MICRODEGREE = Decimal("0.000001")
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]*)\](\[\])?$")
# A name written in Chinese characters is family name first, without a space.
_HAN_NAME = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff·]+$")
_HTTP_URL = URLValidator(schemes=["http", "https"])

# Which parameter a problem found by intake.services is about.
_PARAMETERS = {
    "title": "service_code",
    "content": "description",
    "name": "first_name/last_name",
    "location": "address_string",
    "latitude": "lat",
    "longitude": "long",
    "attachments": "media",
}


class _Fields:
    """The parameters of a POST, each checked as read; problems collect in ``problems``."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.problems: list[str] = []

    def line(self, name: str, max_length: int = 255) -> str:
        return self._checked(name, _param(self.request, name), max_length, multiline=False)

    def text(self, name: str, max_length: int) -> str:
        return self._checked(name, _param(self.request, name), max_length, multiline=True)

    def _checked(self, parameter: str, value: str, max_length: int, *, multiline: bool) -> str:
        if (_CONTROL_IN_TEXT if multiline else _CONTROL).search(value):
            self.problems.append(
                (
                    _("%(parameter)s: control characters are not allowed.")
                    if multiline
                    else _("%(parameter)s: line breaks and control characters are not allowed.")
                )
                % {"parameter": parameter}
            )
            return ""
        if len(value) > max_length:
            self.problems.append(
                _("%(parameter)s: at most %(count)d characters are allowed.")
                % {"parameter": parameter, "count": max_length}
            )
            return ""
        return value

    def degrees(self, name: str, bound: int) -> Decimal | None:
        """A WGS84 coordinate, rounded to the micro-degree (about 10 cm) that is stored."""
        raw = self.line(name, 40)
        if not raw:
            return None
        if not _DEGREES.fullmatch(raw):
            self.problems.append(
                _("%(parameter)s: send a decimal number of degrees (WGS84), e.g. 39.9042.")
                % {"parameter": name}
            )
            return None
        value = Decimal(raw).quantize(_MICRODEGREE, rounding=ROUND_HALF_UP)
        if not -bound <= value <= bound:
            self.problems.append(
                _("%(parameter)s: must be between -%(bound)d and %(bound)d.")
                % {"parameter": name, "bound": bound}
            )
            return None
        return value

    def url(self, name: str) -> str:
        value = self.line(name, MEDIA_URL_MAX)
        if value:
            try:
                _HTTP_URL(value)
            except ValidationError:
                self.problems.append(
                    _("%(parameter)s: send an http or https URL.") % {"parameter": name}
                )
                return ""
        return value

    def attributes(self) -> dict[str, str | list[str]]:
        """``attribute[CODE]=value``, and ``attribute[CODE][]=value`` for several values."""
        form = _form(self.request)
        found: dict[str, list[str]] = {}
        several: set[str] = set()
        for key in form:
            match = _ATTRIBUTE.fullmatch(key)
            if match is None:
                continue
            code, brackets = match.groups()
            if not code or len(code) > 100 or _CONTROL.search(code):
                self.problems.append(
                    _("%(parameter)s: this is not a valid attribute code.")
                    % {"parameter": _shown(key)}
                )
                continue
            values = [
                self._checked(f"attribute[{code}]", value.strip(), 4000, multiline=True)
                for value in form.getlist(key)
            ]
            found.setdefault(code, []).extend(values)
            if brackets or len(values) > 1:
                several.add(code)
        if len(found) > MAX_ATTRIBUTES:
            self.problems.append(
                _("Send at most %(count)d attributes.") % {"count": MAX_ATTRIBUTES}
            )
            return {}
        return {code: values if code in several else values[0] for code, values in found.items()}

    def uploads(self, name: str) -> tuple[Upload, ...]:
        files = self.request.FILES.getlist(name)
        if len(files) > settings.ATTACHMENT_MAX_COUNT:
            self.problems.append(
                _("%(parameter)s: attach at most %(count)d files.")
                % {"parameter": name, "count": settings.ATTACHMENT_MAX_COUNT}
            )
            return ()
        # One byte over the limit is enough for the check to refuse a file that is too big.
        limit = settings.ATTACHMENT_MAX_BYTES + 1
        return tuple(
            Upload(
                name=file.name or "", content_type=file.content_type or "", data=file.read(limit)
            )
            for file in files
        )


def _full_name(first: str, last: str) -> str:
    if first and last and _HAN_NAME.fullmatch(first + last):
        return last + first
    return " ".join(part for part in (first, last) if part)


def _client(request: HttpRequest) -> ChannelClient:
    raw = _param(request, "api_key")
    client = None
    if raw and len(raw) <= 255 and not _CONTROL.search(raw):
        client = ChannelClient.authenticate(raw)
    if client is None:
        raise Open311Error(403, _("api_key was not provided or is not valid."))
    # Noted at most once a minute, not on every request.
    now = timezone.now()
    if client.last_used_at is None or now - client.last_used_at > timedelta(minutes=1):
        ChannelClient.objects.filter(pk=client.pk).update(last_used_at=now)
    return client


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    client = _client(request)
    fields = _Fields(request)
    service_code = fields.line("service_code", 100)
    category = None
    if service_code:
        category = _active_category(service_code)
    elif not fields.problems:
        fields.problems.append(_("service_code: choose a service from services.xml."))
    lat, long = fields.degrees("lat", 90), fields.degrees("long", 180)
    address_string = fields.line("address_string", ADDRESS_MAX)
    address_id = fields.line("address_id")
    sent = {name: bool(_param(request, name)) for name in ("lat", "long")}
    if sent["lat"] != sent["long"]:
        fields.problems.append(_("Send lat and long together."))
    elif not (sent["lat"] or _param(request, "address_string") or _param(request, "address_id")):
        fields.problems.append(_("Send the location: lat and long, address_string or address_id."))
    first_name, last_name = fields.line("first_name", 100), fields.line("last_name", 100)
    phone, email = fields.line("phone", 40), fields.line("email", 254)
    description = fields.text("description", DESCRIPTION_MAX)
    account_id = fields.line("account_id")
    channel_data = {
        "service_code": service_code,
        "device_id": fields.line("device_id"),
        "account_id": account_id,
        "address_id": address_id,
        "media_url": fields.url("media_url"),
        "attributes": fields.attributes(),
        "client": client.name,
    }
    uploads = fields.uploads("media")
    if fields.problems:
        raise Open311Error(400, *fields.problems)
    assert category is not None
    with translation.override(settings.LANGUAGE_CODE):
        title = category.name  # staff read the title in the site's language
    submission = Submission(
        channel=Complaint.Channel.OPEN311,
        kind=Complaint.Kind.COMPLAINT,
        title=title,
        content=description,
        name=_full_name(first_name, last_name),
        phone=phone,
        email=email,
        location=address_string,
        latitude=lat,
        longitude=long,
        language=translation.get_language() if "HTTP_ACCEPT_LANGUAGE" in request.META else "",
        uploads=uploads,
        channel_data=channel_data,
    )
    try:
        receipt = submit(submission, actor_label=f"channel:{client.name}")
    except InvalidSubmission as error:
        raise Open311Error(
            400,
            *(
                f"{_PARAMETERS.get(field, field)}: {message}"
                for field, messages in error.errors.items()
                for message in messages
            ),
        ) from error
    except GuardFailed as error:  # UploadRejected, and any other rule of the service
        raise Open311Error(400, str(error)) from error
    return formats.render(formats.created(receipt.complaint.tracking_code, account_id), fmt)
