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

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from complaints import tracking
from complaints.errors import GuardFailed
from complaints.models import Complaint
from intake.open311 import formats
from intake.open311.dates import period
from intake.open311.fields import (
    ADDRESS_MAX,
    DESCRIPTION_MAX,
    PARAMETERS,
    Fields,
    client_of,
    full_name,
)
from intake.open311.params import Open311Error, csv_param, param, shown
from intake.services import InvalidSubmission, submit
from intake.submission import Submission
from routing.models import Category

# At most this many requests per answer.
MAX_RESULTS = 1000
# When the service list last changed in a way clients must notice; OPEN311_CHANGESET
# overrides it (categories carry no modification time to derive it from).
DEFAULT_CHANGESET = "2026-11-22T00:00:00+08:00"

View = Callable[..., HttpResponse]


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


def _check_jurisdiction(request: HttpRequest) -> None:
    # One jurisdiction is served; jurisdiction_id is optional, but a wrong one is refused.
    expected = getattr(settings, "OPEN311_JURISDICTION_ID", "") or ""
    given = param(request, "jurisdiction_id")
    if expected and given and given != expected:
        raise Open311Error(404, _("jurisdiction_id “%(id)s” was not found.") % {"id": shown(given)})


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
            404, _("service_code “%(code)s” was not found.") % {"code": shown(service_code)}
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
            _("Service request “%(id)s” was not found.") % {"id": shown(service_request_id)},
        )
    return _render_requests([complaint], fmt)


@endpoint("GET")
def token(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    # Requests are created at once, so the only tokens are their service_request_ids.
    complaint = _open311_complaint(token)
    if complaint is None:
        raise Open311Error(404, _("Token “%(token)s” was not found.") % {"token": shown(token)})
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


def _search(request: HttpRequest, fmt: str) -> HttpResponse:
    found = Complaint.objects.filter(channel=Complaint.Channel.OPEN311)
    ids = csv_param(request, "service_request_id")
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
        service_codes = csv_param(request, "service_code")
        if service_codes:
            found = found.filter(channel_data__service_code__in=service_codes)
        statuses = {s.lower() for s in csv_param(request, "status")}
        if statuses - {formats.OPEN, formats.CLOSED}:
            raise Open311Error(400, _("status: use open, closed, or both separated by a comma."))
        if statuses:
            found = found.filter(status__in=formats.states_with(statuses))
        start, end = period(request)
        found = found.filter(received_at__gte=start, received_at__lte=end)
    newest_first = found.select_related("department").order_by("-received_at", "-id")
    return _render_requests(list(newest_first[:MAX_RESULTS]), fmt)


# --- POST requests: a new service request -------------------------------------------------


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    client = client_of(request)
    fields = Fields(request)
    service_code = fields.line("service_code", 100)
    category = None
    if service_code:
        category = _active_category(service_code)
    elif not fields.problems:
        fields.problems.append(_("service_code: choose a service from services.xml."))
    lat, long = fields.degrees("lat", 90), fields.degrees("long", 180)
    address_string = fields.line("address_string", ADDRESS_MAX)
    address_id = fields.line("address_id")
    sent = {name: bool(param(request, name)) for name in ("lat", "long")}
    if sent["lat"] != sent["long"]:
        fields.problems.append(_("Send lat and long together."))
    elif not (sent["lat"] or param(request, "address_string") or param(request, "address_id")):
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
        name=full_name(first_name, last_name),
        phone=phone,
        email=email,
        location=address_string,
        latitude=lat,
        longitude=long,
        language=translation.get_language() if "HTTP_ACCEPT_LANGUAGE" in request.META else "",
        uploads=uploads,
        channel_data=channel_data,
        client=client,
    )
    try:
        receipt = submit(submission, actor_label=f"channel:{client.name}")
    except InvalidSubmission as error:
        raise Open311Error(
            400,
            *(
                f"{PARAMETERS.get(field, field)}: {message}"
                for field, messages in error.errors.items()
                for message in messages
            ),
        ) from error
    except GuardFailed as error:  # UploadRejected, and any other rule of the service
        raise Open311Error(400, str(error)) from error
    return formats.render(formats.created(receipt.complaint.tracking_code, account_id), fmt)
