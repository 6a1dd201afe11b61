"""Reading an Open311 request: its parameters and the spec's error answer."""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _


class Open311Error(Exception):
    """Answer with the spec's error document: ``status`` and one error per description."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__(*descriptions)
        self.status = status
        self.descriptions = list(descriptions)


def shown(value: str, limit: int = 60) -> str:
    """What the client sent, shortened for quoting in an error."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def form_of(request: HttpRequest) -> QueryDict:
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


def _no_nul(name: str, value: str) -> str:
    # No text column takes a NUL character, and PostgreSQL refuses it in a query (a 500).
    if "\x00" in value:
        raise Open311Error(400, _("%(name)s: remove the NUL character.") % {"name": name})
    return value


def param(request: HttpRequest, name: str) -> str:
    """One parameter; "optional" per the spec: empty is the same as not sent at all."""
    value = form_of(request).get(name, "") or request.GET.get(name, "")
    return _no_nul(name, value).strip()


def csv_param(request: HttpRequest, name: str) -> list[str]:
    """A comma-separated parameter that may also be repeated."""
    values = [_no_nul(name, value) for value in request.GET.getlist(name)]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
