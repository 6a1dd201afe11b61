"""Reading a new service request (POST requests): every field checked, all problems at once."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.lockout import client_ip
from complaints.files import Upload
from intake.models import ChannelClient
from intake.open311.params import Open311Error, form_of, param, shown

# Lengths the spec or the storage allows.
DESCRIPTION_MAX = 4000
ADDRESS_MAX = 300
MEDIA_URL_MAX = 2000
MAX_ATTRIBUTES = 100

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
PARAMETERS = {
    "title": "service_code",
    "content": "description",
    "name": "first_name/last_name",
    "location": "address_string",
    "latitude": "lat",
    "longitude": "long",
    "attachments": "media",
}


class Fields:
    """The parameters of a POST, each checked as read; problems collect in ``problems``."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.problems: list[str] = []

    def line(self, name: str, max_length: int = 255) -> str:
        return self._checked(name, param(self.request, name), max_length, multiline=False)

    def text(self, name: str, max_length: int) -> str:
        return self._checked(name, param(self.request, name), max_length, multiline=True)

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
        form = form_of(self.request)
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
                    % {"parameter": shown(key)}
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


def full_name(first: str, last: str) -> str:
    if first and last and _HAN_NAME.fullmatch(first + last):
        return last + first
    return " ".join(part for part in (first, last) if part)


def client_of(request: HttpRequest) -> ChannelClient:
    raw = param(request, "api_key")
    client = None
    if raw and len(raw) <= 255 and not _CONTROL.search(raw):
        client = ChannelClient.authenticate(raw)
    # Creating a request is intake: the same scope as POST /api/v1/intake/.
    if client is None or not client.has_scope(ChannelClient.Scope.INTAKE):
        raise Open311Error(403, _("api_key was not provided or is not valid."))
    client.note_use(client_ip(request))
    return client
