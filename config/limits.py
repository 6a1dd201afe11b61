"""Limits on what one request may bring, enforced before the body is read.

Django caps bodies it reads into memory (``DATA_UPLOAD_MAX_MEMORY_SIZE``) but streams
multipart files to disk without limit; a 10 GB upload would fill the disk before any
form saw it. ``RequestSizeLimit`` answers 413 from the declared Content-Length, before a
byte of the body is read; Django never reads past that length (and reads nothing of a
body that declares none), so the declaration is the bound.

``bad_request`` is the 400 page (``handler400``): thousands of form fields or files, or a
malformed body, get a message in the visitor's language and the caller's format
(``ops.answers``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from ops.answers import error_response


def _too_large(request: HttpRequest, limit_bytes: int, status: int = 413) -> HttpResponse:
    limit = limit_bytes / 1024 / 1024
    return error_response(
        request,
        status,
        "request_too_large",
        _("The request is too large: at most %(limit)s MB may be sent at once.")
        % {"limit": f"{limit:g}"},
    )


class RequestSizeLimit:
    """413 for a body declared larger than ``REQUEST_MAX_BYTES``, before reading it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads no body of an unreadable length
        if declared > settings.REQUEST_MAX_BYTES:
            response = _too_large(request, settings.REQUEST_MAX_BYTES)
            # The unread body stays on the connection: close it rather than parse it.
            response["Connection"] = "close"
            return response
        return self.get_response(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from ops import unavailable

    if unavailable.session_lost_with_database(exception):
        return unavailable.unavailable_response(request)
    if isinstance(exception, TooManyFilesSent):
        message = _("Too many files in one request: at most %(count)d.") % {
            "count": settings.DATA_UPLOAD_MAX_NUMBER_FILES
        }
        return error_response(request, 400, "too_many_files", message)
    if isinstance(exception, TooManyFieldsSent):
        message = _("Too many fields in one request: at most %(count)d.") % {
            "count": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        }
        return error_response(request, 400, "too_many_fields", message)
    if isinstance(exception, RequestDataTooBig):
        # Fields (not files) beyond DATA_UPLOAD_MAX_MEMORY_SIZE, e.g. base64 in JSON.
        # Django's own answer to it is a 400; kept, with the reason said.
        return _too_large(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE, status=400)
    return error_response(request, 400, "bad_request", _("The request could not be understood."))
