"""An error in the caller's own format, for the answers written outside any view.

Middleware and Django's error handlers answer before (or instead of) a view: a body too
large (413), thousands of fields (400), the database gone (503). Each caller reads its
errors in one format, so these answers use it too: the API's error body
(``api.errors.body``), Open311's error document (``intake.open311.formats``), and for
people a page or a line of text in their language.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse


def error_response(
    request: HttpRequest, status: int, code: str, message: str, *, page: str | None = None
) -> HttpResponse:
    """``message`` with ``status`` as the API, Open311 or a browser reads it; ``page`` is
    the HTML for people (plain text of ``message`` without it)."""
    if request.path.startswith("/api/"):
        from api.errors import body

        return JsonResponse(
            body(code, message), status=status, json_dumps_params={"ensure_ascii": False}
        )
    if request.path.startswith("/open311/"):
        from intake.open311 import formats

        fmt = "xml" if request.path.endswith(".xml") else "json"
        return formats.error_response(fmt, status, [message])
    if page is not None:
        return HttpResponse(page, status=status)
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response
